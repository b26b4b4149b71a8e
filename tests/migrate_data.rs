//! Issue 20, drill 5: a Depot that started on the embedded SQLite default moves to PostgreSQL
//! with `depot migrate-data`, and the PostgreSQL instance answers as the SQLite one did: the
//! same records with the same ids, the admin's password, a keyed request replayed instead of
//! applied again, balances equal to the ledger, new ids after the copied ones.

#[path = "common/binary.rs"]
#[allow(dead_code)] // each drill uses part of it
mod binary;
#[path = "common/scratch_db.rs"]
#[allow(dead_code)]
mod scratch_db;

use binary::{Depot, create, login, post, run, warehouse_bin_item};
use scratch_db::ScratchDb;
use serde_json::{Value, json};

async fn get(client: &reqwest::Client, base: &str, token: &str, path: &str) -> Value {
    let response = client
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "GET {path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

async fn keyed(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    key: &str,
    body: &Value,
) -> (bool, Value) {
    let response = client
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "POST {path}: {}",
        response.status()
    );
    let replayed = response.headers().contains_key("idempotent-replayed");
    (replayed, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_moves_to_postgres() {
    let sqlite = ScratchDb::sqlite();
    let work = std::env::temp_dir().join(format!("depot-migrate-data-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let client = reqwest::Client::new();

    // A working SQLite Depot: stock received, a deal reserved, a keyed receipt, scans.
    let depot = Depot::start(&sqlite.url, &work, &[]);
    depot.ready(&client).await;
    let base = depot.base.clone();
    let token = login(&client, &base).await;
    let (warehouse, bin, item) = warehouse_bin_item(
        &client,
        &base,
        &token,
        "MV",
        json!({"code": "YOG", "name": "Yoghurt", "tracking": "batch",
        "gtins": [{"gtin": "09506000134352", "quantity": 1}]}),
    )
    .await;
    let receipt = json!({"warehouse_id": warehouse, "location_id": bin,
        "lines": [{"item_id": item, "quantity": 40, "batch": "B1", "expiry": "2031-01-31"}]});
    let (_, first) = keyed(&client, &base, &token, "/v1/receipts", "move-1", &receipt).await;
    let customer = create(
        &client,
        &base,
        &token,
        "/v1/customers",
        json!({"legal_name": "Mover GmbH"}),
    )
    .await;
    let deal = create(
        &client,
        &base,
        &token,
        "/v1/deals",
        json!({"customer_id": customer, "title": "Move",
        "lines": [{"item_id": item, "quantity": 15}]}),
    )
    .await;
    post(
        &client,
        &base,
        &token,
        &format!("/v1/deals/{deal}/reserve"),
        json!({"warehouse_id": warehouse}),
    )
    .await;
    post(
        &client,
        &base,
        &token,
        "/v1/scans",
        json!({"data": "]C10109506000134352\u{1d}10B1"}),
    )
    .await;
    let paths = [
        format!("/v1/items/{item}"),
        format!("/v1/receipts/{}", first["id"]),
        format!("/v1/deals/{deal}/fulfilment"),
        format!("/v1/stock?item_id={item}"),
        format!("/v1/stock/ledger?item_id={item}"),
    ];
    let mut before = Vec::new();
    for p in &paths {
        before.push(get(&client, &base, &token, p).await);
    }
    let (_, answer) = depot.terminate();
    assert!(answer, "the SQLite instance stops cleanly");

    // The move.
    let postgres = ScratchDb::postgres().await;
    let (ok, out) = run(
        &sqlite.url,
        &["migrate-data", "--from", &sqlite.url, "--to", &postgres.url],
    );
    assert!(ok, "migrate-data: {out}");
    assert!(out.contains("stock_movements: "), "{out}");
    assert!(out.contains("counts match"), "{out}");
    println!("{out}");
    // Once moved, the target is in use: a second run is refused and changes nothing.
    let (ok, out) = run(
        &sqlite.url,
        &["migrate-data", "--from", &sqlite.url, "--to", &postgres.url],
    );
    assert!(!ok && out.contains("never used"), "{out}");
    let (ok, out) = run(&postgres.url, &["check"]);
    assert!(ok, "depot check on the copy: {out}");

    // PostgreSQL answers as SQLite did.
    let moved = Depot::start(&postgres.url, &work, &[]);
    moved.ready(&client).await;
    let base = moved.base.clone();
    let token = login(&client, &base).await;
    for (p, was) in paths.iter().zip(&before) {
        assert_eq!(&get(&client, &base, &token, p).await, was, "GET {p}");
    }
    // The keyed receipt is replayed, not applied again.
    let (replayed, again) = keyed(&client, &base, &token, "/v1/receipts", "move-1", &receipt).await;
    assert!(replayed, "the idempotency record came along");
    assert_eq!(again, first);
    // New records continue after the copied ids.
    let (replayed, next) = keyed(&client, &base, &token, "/v1/receipts", "move-2", &receipt).await;
    assert!(!replayed);
    assert!(
        next["id"].as_i64().unwrap() > first["id"].as_i64().unwrap(),
        "{next}"
    );
    let item2 = create(
        &client,
        &base,
        &token,
        "/v1/items",
        json!({"code": "NEW", "name": "New"}),
    )
    .await;
    assert!(item2 > item);
    let (ok, out) = run(&postgres.url, &["check"]);
    assert!(ok, "depot check after new writes: {out}");
    drop(moved);
    let _ = std::fs::remove_dir_all(&work);
}
