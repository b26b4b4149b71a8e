//! Stock ledger timings on SQLite (plain timing, no harness):
//!
//! 1. single-movement `ledger::post` transactions per second, against a raw
//!    `begin; update ...; commit` loop on the same write pool in the same run;
//! 2. a FEFO plan for an item with 10,000 batches over 1,000 locations: the pure function and
//!    `ledger::plan` with its query;
//! 3. a balance read by item + warehouse with 1,000,000 ledger rows.
//!
//! Run: `cargo bench --bench stock` (does nothing unless argv contains `--bench`, so
//! `cargo test --all-targets` stays fast).

use std::time::{Duration, Instant};

use depot::db::{Backend, Db};
use depot::stock::fefo;
use depot::stock::ledger::{self, BalanceFilter, MovementType, NewMovement};
use serde_json::json;
use time::macros::date;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run());
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn run() {
    let dir = std::env::temp_dir().join(format!("depot_bench_stock_{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let url = format!("sqlite://{}", dir.join("depot.db").display());
    let db = Db::connect(&url).await.expect("open");
    db.migrate().await.expect("migrate");
    posting(&db).await;
    fefo_plan(&db).await;
    balance_read(&db).await;
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

async fn posting(db: &Db) {
    let user = depot::auth::users::create(
        db,
        serde_json::from_value(
            json!({"username": "bench", "password": "bench-password-1", "role": "warehouse"}),
        )
        .expect("user"),
    )
    .await
    .expect("user")
    .id;
    let wh = depot::catalog::warehouses::create(
        db,
        serde_json::from_value(json!({"code": "BENCH", "name": "Bench"})).expect("wh"),
    )
    .await
    .expect("wh")
    .id;
    let mut locations = Vec::new();
    for i in 0..10 {
        locations.push(
            depot::catalog::warehouses::create_location(
                db,
                wh,
                serde_json::from_value(json!({"code": format!("P{i}")})).expect("loc"),
            )
            .await
            .expect("loc")
            .id,
        );
    }
    let item = depot::catalog::items::create(
        db,
        serde_json::from_value(json!({"code": "BENCH-1", "name": "Bench item"})).expect("item"),
    )
    .await
    .expect("item")
    .id;
    let n = 5_000;
    let movement = |i: usize| NewMovement {
        item_id: item,
        batch_id: None,
        warehouse_id: wh,
        // An adjustment takes back one of what the receipt before it put there.
        location_id: locations[(i - i % 3 / 2) % locations.len()],
        // Mostly receipts, every third an adjustment taking one back (the conditional update).
        quantity: if i % 3 == 2 { -1 } else { 2 },
        kind: if i % 3 == 2 {
            MovementType::Adjustment
        } else {
            MovementType::Receipt
        },
        user_id: Some(user),
        device_id: None,
        document_type: None,
        document_id: None,
        deal_id: None,
        note: None,
        reservation_id: None,
    };
    for i in 0..200 {
        ledger::post(db, vec![movement(i)]).await.expect("warm up");
    }
    let start = Instant::now();
    for i in 0..n {
        ledger::post(db, vec![movement(i)]).await.expect("post");
    }
    let posted = start.elapsed();
    let Backend::Sqlite { write, .. } = db.backend() else {
        return;
    };
    let start = Instant::now();
    for i in 0..n {
        let mut tx = write.begin().await.expect("begin");
        sqlx::query("update stock_balances set on_hand = on_hand + 1 where item_id = $1 and location_id = $2")
            .bind(item)
            .bind(locations[i % locations.len()])
            .execute(&mut *tx)
            .await
            .expect("update");
        tx.commit().await.expect("commit");
    }
    let raw = start.elapsed();
    let post_rate = n as f64 / posted.as_secs_f64();
    let raw_rate = n as f64 / raw.as_secs_f64();
    println!(
        "post (1 movement/tx):      {post_rate:>9.0} tx/s  ({:.1} us/tx)",
        posted.as_micros() as f64 / n as f64
    );
    println!(
        "raw begin/update/commit:   {raw_rate:>9.0} tx/s  ({:.1} us/tx)  post/raw = {:.2}",
        raw.as_micros() as f64 / n as f64,
        post_rate / raw_rate
    );
    // Bring the balances back in line with the ledger (the raw loop bypassed it).
    sqlx::query(
        "update stock_balances set on_hand = (select sum(quantity) from stock_movements m
             where m.item_id = stock_balances.item_id and m.location_id = stock_balances.location_id)
         where item_id = $1",
    )
    .bind(item)
    .execute(write)
    .await
    .expect("reset");
    let mismatches = ledger::consistency(db).await.expect("consistency");
    assert!(mismatches.is_empty(), "{mismatches:?}");
}

/// Seeds rows with multi-row literal inserts, `per` rows per statement, in one transaction.
async fn seed(db: &Db, head: &str, rows: impl Iterator<Item = String>, per: usize) {
    let Backend::Sqlite { write, .. } = db.backend() else {
        return;
    };
    let mut tx = write.begin().await.expect("begin");
    let mut chunk = Vec::with_capacity(per);
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        chunk.clear();
        chunk.extend(rows.by_ref().take(per));
        sqlx::query(&format!("{head} values {}", chunk.join(",")))
            .execute(&mut *tx)
            .await
            .expect("seed");
    }
    tx.commit().await.expect("commit");
}

const AT: &str = "'2026-05-01T00:00:00Z'";

async fn fefo_plan(db: &Db) {
    let wh = depot::catalog::warehouses::create(
        db,
        serde_json::from_value(json!({"code": "FEFO", "name": "Fefo"})).expect("wh"),
    )
    .await
    .expect("wh")
    .id;
    let item = depot::catalog::items::create(
        db,
        serde_json::from_value(json!({"code": "FEFO-1", "name": "Fefo item", "tracking": "batch"}))
            .expect("item"),
    )
    .await
    .expect("item")
    .id;
    let Backend::Sqlite { write, .. } = db.backend() else {
        return;
    };
    let first_loc: i64 = sqlx::query_scalar("select coalesce(max(id), 0) + 1 from locations")
        .fetch_one(write)
        .await
        .expect("ids");
    seed(
        db,
        "insert into locations (id, warehouse_id, code, barcode, pick_sequence, created_at, updated_at)",
        (0..1_000i64).map(|i| {
            format!(
                "({}, {wh}, 'F{i:04}', 'FEFO-F{i:04}', {}, {AT}, {AT})",
                first_loc + i,
                (i * 7919) % 1000
            )
        }),
        500,
    )
    .await;
    let first_batch: i64 = sqlx::query_scalar("select coalesce(max(id), 0) + 1 from batches")
        .fetch_one(write)
        .await
        .expect("ids");
    let expiry_of = |i: i64| date!(2026 - 01 - 01) + time::Duration::days((i * 37) % 900);
    seed(
        db,
        "insert into batches (id, item_id, code, expiry_date, production_date, received_at, status, created_at)",
        (0..10_000i64).map(|i| {
            let expiry = expiry_of(i);
            let status = if i % 50 == 0 { "quarantine" } else { "available" };
            format!(
                "({}, {item}, 'B{i:05}', '{expiry}', null, {AT}, '{status}', {AT})",
                first_batch + i
            )
        }),
        500,
    )
    .await;
    seed(
        db,
        "insert into stock_balances (item_id, warehouse_id, location_id, batch_id, batch_key, on_hand, reserved, expiry_date, updated_at)",
        (0..10_000i64).map(|i| {
            let batch = first_batch + i;
            format!(
                "({item}, {wh}, {}, {batch}, {batch}, {}, 0, '{}', {AT})",
                first_loc + i % 1000,
                5 + i % 20,
                expiry_of(i)
            )
        }),
        500,
    )
    .await;
    // History: 20,000 earlier batches of the same dates whose stock is gone (on hand 0). FEFO
    // must not walk them.
    seed(
        db,
        "insert into batches (id, item_id, code, expiry_date, production_date, received_at, status, created_at)",
        (10_000..30_000i64).map(|i| {
            format!(
                "({}, {item}, 'B{i:05}', '{}', null, {AT}, 'available', {AT})",
                first_batch + i,
                expiry_of(i)
            )
        }),
        500,
    )
    .await;
    seed(
        db,
        "insert into stock_balances (item_id, warehouse_id, location_id, batch_id, batch_key, on_hand, reserved, expiry_date, updated_at)",
        (10_000..30_000i64).map(|i| {
            let batch = first_batch + i;
            format!(
                "({item}, {wh}, {}, {batch}, {batch}, 0, 0, '{}', {AT})",
                first_loc + i % 1000,
                expiry_of(i)
            )
        }),
        500,
    )
    .await;
    let today = date!(2026 - 06 - 15);
    let candidates = ledger::candidates(db, item, wh).await.expect("candidates");
    assert_eq!(candidates.len(), 10_000);
    let mut pure = Vec::new();
    for _ in 0..50 {
        let start = Instant::now();
        let plan = fefo::plan(&candidates, 5_000, today, Some(30));
        pure.push(start.elapsed());
        assert_eq!(plan.short, 0);
    }
    for (quantity, min) in [
        (5_000, Some(30)),
        (1, None),
        (100_000, Some(400)),
        (80_000, None),
    ] {
        let expected = fefo::plan(&candidates, quantity, today, min);
        let mut snapshot = db.snapshot().await.expect("snapshot");
        let got = ledger::plan(&mut snapshot, item, wh, quantity, today, min)
            .await
            .expect("plan");
        assert_eq!(got, expected, "ledger::plan differs from the pure rule");
    }
    let mut timed = Vec::new();
    for (quantity, label) in [
        (100, "100 units (~7 batches)"),
        (1_000, "1,000 units (~70 batches)"),
        (5_000, "5,000 units (~350 batches)"),
    ] {
        let mut runs = Vec::new();
        for _ in 0..30 {
            // A plan runs inside a request's transaction: the timing includes beginning one.
            let start = Instant::now();
            let mut snapshot = db.snapshot().await.expect("snapshot");
            let plan = ledger::plan(&mut snapshot, item, wh, quantity, today, Some(30))
                .await
                .expect("plan");
            runs.push(start.elapsed());
            assert_eq!(plan.short, 0);
        }
        timed.push(format!("{label} {:?}", median(runs)));
    }
    let mut query_only = Vec::new();
    for _ in 0..30 {
        let start = Instant::now();
        ledger::candidates(db, item, wh).await.expect("candidates");
        query_only.push(start.elapsed());
    }
    let Backend::Sqlite { read, .. } = db.backend() else {
        return;
    };
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "explain query plan select s.batch_id from stock_balances s
         join locations l on l.id = s.location_id left join batches b on b.id = s.batch_id
         where s.item_id = $1 and s.warehouse_id = $2 and s.expiry_date >= $3
           and s.on_hand > s.reserved and b.status = 'available'
         order by s.expiry_date limit 64",
    )
    .bind(item)
    .bind(wh)
    .bind(today)
    .fetch_all(read)
    .await
    .expect("plan");
    println!(
        "FEFO 10k batches/1k locations (+20k depleted balances), medians: pure fefo::plan over all \
         10k candidates {:?}; ledger::plan for {}; ledger::candidates (all 10k rows) {:?}",
        median(pure),
        timed.join(", "),
        median(query_only)
    );
    for row in plan {
        println!("  plan: {}", row.3);
    }
}

async fn balance_read(db: &Db) {
    let wh = depot::catalog::warehouses::create(
        db,
        serde_json::from_value(json!({"code": "BIG", "name": "Big"})).expect("wh"),
    )
    .await
    .expect("wh")
    .id;
    let Backend::Sqlite { write, read, .. } = db.backend() else {
        return;
    };
    let first_loc: i64 = sqlx::query_scalar("select coalesce(max(id), 0) + 1 from locations")
        .fetch_one(write)
        .await
        .expect("ids");
    seed(
        db,
        "insert into locations (id, warehouse_id, code, barcode, pick_sequence, created_at, updated_at)",
        (0..10i64).map(|i| {
            format!(
                "({}, {wh}, 'G{i}', 'BIG-G{i}', {i}, {AT}, {AT})",
                first_loc + i
            )
        }),
        500,
    )
    .await;
    let first_item: i64 = sqlx::query_scalar("select coalesce(max(id), 0) + 1 from items")
        .fetch_one(write)
        .await
        .expect("ids");
    let items = 1_000i64;
    seed(
        db,
        "insert into items (id, code, name, unit, tracking, source, requires_certificate, created_at, updated_at)",
        (0..items).map(|i| {
            format!(
                "({}, 'BIG-{i}', 'Big {i}', 'pcs', 'none', 'purchased', 0, {AT}, {AT})",
                first_item + i
            )
        }),
        500,
    )
    .await;
    let user: i64 = sqlx::query_scalar("select min(id) from users")
        .fetch_one(write)
        .await
        .expect("user");
    let rows = 1_000_000i64;
    let start = Instant::now();
    seed(
        db,
        "insert into stock_movements (item_id, warehouse_id, location_id, quantity, movement_type, user_id, posted_at)",
        (0..rows).map(|i| {
            format!(
                "({}, {wh}, {}, 1, 'receipt', {user}, {AT})",
                first_item + i % items,
                first_loc + (i / items) % 10
            )
        }),
        1_000,
    )
    .await;
    seed(
        db,
        "insert into stock_balances (item_id, warehouse_id, location_id, batch_id, batch_key, on_hand, reserved, updated_at)",
        (0..items * 10).map(|k| {
            format!(
                "({}, {wh}, {}, null, 0, {}, 0, {AT})",
                first_item + k % items,
                first_loc + k / items,
                rows / (items * 10)
            )
        }),
        1_000,
    )
    .await;
    println!("seeded 1,000,000 ledger rows in {:?}", start.elapsed());
    sqlx::query("analyze")
        .execute(write)
        .await
        .expect("analyze");
    let target = first_item + 500;
    let sql = "select s.item_id, s.location_id, s.batch_id, s.on_hand, s.reserved
               from stock_balances s where s.item_id = $1 and s.warehouse_id = $2";
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(&format!("explain query plan {sql}"))
        .bind(target)
        .bind(wh)
        .fetch_all(read)
        .await
        .expect("explain");
    for p in &plan {
        println!("  plan: {}", p.3);
    }
    let mut at_db = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        let got: Vec<(i64, i64, Option<i64>, i64, i64)> = sqlx::query_as(sql)
            .bind(target)
            .bind(wh)
            .fetch_all(read)
            .await
            .expect("read");
        at_db.push(start.elapsed());
        assert_eq!(got.len(), 10);
    }
    let mut api = Vec::new();
    for _ in 0..200 {
        let start = Instant::now();
        let got = ledger::balances(
            db,
            &BalanceFilter {
                item_id: Some(target),
                warehouse_id: Some(wh),
                ..Default::default()
            },
        )
        .await
        .expect("balances");
        api.push(start.elapsed());
        assert_eq!(got.len(), 10);
    }
    println!(
        "balance read item+warehouse (1M ledger rows): raw query {:?}, ledger::balances {:?} (medians, round trip included)",
        median(at_db),
        median(api)
    );
}
