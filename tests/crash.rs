//! Exactly once across crashes: the real binary is loaded with keyed scans, receipts, print
//! jobs, reservations and pick scans, killed with SIGKILL mid-load, started again, and every
//! request that got no answer is sent again with its key. Each request must have applied exactly
//! once (scan log, receipts and their movements, print job rows, reservations, picked
//! quantities), answers that did arrive must replay byte for byte, and the ledger must be
//! consistent. On SQLite and PostgreSQL, over several crash rounds.

#[path = "common/binary.rs"]
#[allow(dead_code)] // each drill uses part of it
mod binary;
#[path = "common/scratch_db.rs"]
#[allow(dead_code)]
mod scratch_db;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use binary::{Depot, login, post};
use reqwest::StatusCode;
use scratch_db::ScratchDb;
use serde_json::{Value, json};

const ROUNDS: usize = 3;
/// New requests of each kind per round.
const PER_KIND: usize = 30;
const CLIENTS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Scan,
    Receipt,
    Print,
    Reserve,
    PickScan,
}

#[derive(Debug, Clone)]
struct Keyed {
    kind: Kind,
    key: String,
    path: String,
    body: Value,
}

/// What the first answer of each request was, and how many answers were replays: a request
/// that was sent again after a kill found its work committed (its first answer was lost).
#[derive(Default)]
struct Answers {
    first: Mutex<HashMap<String, (StatusCode, Vec<u8>)>>,
    replays: AtomicUsize,
}

struct World {
    warehouse: i64,
    bin: i64,
    item: i64,
    printer: i64,
    pick_list: i64,
    /// Deals waiting for their one keyed reservation, with their quantity.
    deals: Vec<(i64, i64)>,
}

async fn send(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    request: &Keyed,
) -> reqwest::Result<(StatusCode, Vec<u8>, bool)> {
    let response = client
        .post(format!("{base}{}", request.path))
        .bearer_auth(token)
        .header("Idempotency-Key", &request.key)
        .json(&request.body)
        .timeout(Duration::from_secs(30))
        .send()
        .await?;
    let status = response.status();
    let replayed = response.headers().contains_key("idempotent-replayed");
    let body = response.bytes().await?.to_vec();
    Ok((status, body, replayed))
}

async fn set_up(client: &reqwest::Client, base: &str, token: &str) -> World {
    let warehouse = post(
        client,
        base,
        token,
        "/v1/warehouses",
        json!({"code": "CR", "name": "Crash"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let location = |code: &str, sequence: i64| json!({"code": code, "pick_sequence": sequence});
    let locations = format!("/v1/warehouses/{warehouse}/locations");
    let bin = post(client, base, token, &locations, location("A", 1)).await["id"]
        .as_i64()
        .unwrap();
    let packing = post(client, base, token, &locations, location("PACK", 99)).await["id"]
        .as_i64()
        .unwrap();
    let item = post(
        client,
        base,
        token,
        "/v1/items",
        json!({"code": "BOLT", "name": "Bolt", "gtins": ["4006381333931"]}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    post(
        client,
        base,
        token,
        "/v1/receipts",
        json!({"warehouse_id": warehouse, "location_id": bin,
               "lines": [{"item_id": item, "quantity": 100000}]}),
    )
    .await;
    let printer = post(
        client,
        base,
        token,
        "/v1/devices",
        // Nothing listens there: jobs stay queued, which is all this test counts.
        json!({"name": "nowhere", "kind": "printer", "profile": "zebra-203-4x6", "address": "127.0.0.1:9"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let customer = post(
        client,
        base,
        token,
        "/v1/customers",
        json!({"legal_name": "Crash Ltd"}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let deal = |quantity: i64| json!({"customer_id": customer, "title": "crash", "lines": [{"item_id": item, "quantity": quantity}]});
    // The deal the pick scans pick from: reserved and on a pick list before the load.
    let picked_deal = post(client, base, token, "/v1/deals", deal(5000)).await["id"]
        .as_i64()
        .unwrap();
    post(
        client,
        base,
        token,
        &format!("/v1/deals/{picked_deal}/reserve"),
        json!({"warehouse_id": warehouse}),
    )
    .await;
    let pick_list = post(
        client,
        base,
        token,
        "/v1/pick-lists",
        json!({"deal_ids": [picked_deal], "warehouse_id": warehouse, "packing_location_id": packing}),
    )
    .await["id"]
        .as_i64()
        .unwrap();
    let answer = post(
        client,
        base,
        token,
        &format!("/v1/pick-lists/{pick_list}/scans"),
        json!({"scan": "CR-A"}),
    )
    .await;
    assert_eq!(answer["outcome"], "location", "{answer}");
    let mut deals = Vec::new();
    for n in 0..ROUNDS * PER_KIND {
        let quantity = 1 + (n as i64 % 5);
        let id = post(client, base, token, "/v1/deals", deal(quantity)).await["id"]
            .as_i64()
            .unwrap();
        deals.push((id, quantity));
    }
    World {
        warehouse,
        bin,
        item,
        printer,
        pick_list,
        deals,
    }
}

/// The round's new requests, every kind interleaved.
fn requests(world: &World, round: usize) -> Vec<Keyed> {
    let mut all = Vec::new();
    for i in 0..PER_KIND {
        let n = round * PER_KIND + i;
        let keyed = |kind: Kind, path: String, body: Value| Keyed {
            kind,
            key: format!("{kind:?}-{n}"),
            path,
            body,
        };
        all.push(keyed(
            Kind::Scan,
            "/v1/scans".into(),
            json!({"data": format!("CRASH-{n}")}),
        ));
        all.push(keyed(
            Kind::Receipt,
            "/v1/receipts".into(),
            json!({"warehouse_id": world.warehouse, "location_id": world.bin,
                   "lines": [{"item_id": world.item, "quantity": 7}]}),
        ));
        all.push(keyed(
            Kind::Print,
            "/v1/print-jobs".into(),
            json!({"printer_id": world.printer, "zpl": format!("^XA^FO50,50^A0N,40,40^FDjob {n}^FS^XZ")}),
        ));
        let (deal, _) = world.deals[n];
        all.push(keyed(
            Kind::Reserve,
            format!("/v1/deals/{deal}/reserve"),
            json!({"warehouse_id": world.warehouse}),
        ));
        all.push(keyed(
            Kind::PickScan,
            format!("/v1/pick-lists/{}/scans", world.pick_list),
            json!({"scan": "4006381333931", "quantity": 1}),
        ));
    }
    all
}

/// Sends `requests` from several clients at once; records every answer that arrives.
async fn load(base: String, token: String, requests: Vec<Keyed>, answers: Arc<Answers>) {
    let queue = Arc::new(Mutex::new(requests.into_iter()));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (queue, answers, base, token) = (
            queue.clone(),
            answers.clone(),
            base.to_string(),
            token.to_string(),
        );
        clients.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let next = queue.lock().unwrap().next();
                let Some(request) = next else { break };
                if let Ok((status, body, replayed)) = send(&client, &base, &token, &request).await
                    && status != StatusCode::CONFLICT
                {
                    // Keys are never reused, so only a resend after a kill can be a replay.
                    answers
                        .replays
                        .fetch_add(usize::from(replayed), Ordering::SeqCst);
                    answers
                        .first
                        .lock()
                        .unwrap()
                        .insert(request.key.clone(), (status, body));
                }
            }
        }));
    }
    for c in clients {
        let _ = c.await;
    }
}

async fn crash_rounds(scratch: ScratchDb, backend: &str) {
    let work = std::env::temp_dir().join(format!("depot-crash-{backend}-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let client = reqwest::Client::new();
    let answers = Arc::new(Answers::default());
    let mut sent: Vec<Keyed> = Vec::new();
    let mut world = None;
    for round in 0..ROUNDS {
        let depot = Depot::start(
            &scratch.url,
            &work,
            // Answers wait 100 ms after their commit, so the kills catch requests whose work
            // committed but whose answer never left: the case that must not apply twice.
            &[("DEPOT_DRILL_PAUSE_AFTER_COMMIT_MS", "100")],
        );
        depot.ready(&client).await;
        let token = login(&client, &depot.base).await;
        if world.is_none() {
            world = Some(set_up(&client, &depot.base, &token).await);
        }
        let world = world.as_ref().unwrap();
        // This round's new requests, and every earlier one that got no answer.
        let unanswered: Vec<Keyed> = {
            let answered = answers.first.lock().unwrap();
            sent.iter()
                .filter(|r| !answered.contains_key(&r.key))
                .cloned()
                .collect()
        };
        let fresh = requests(world, round);
        sent.extend(fresh.iter().cloned());
        let mut batch = unanswered;
        batch.extend(fresh);
        let total = batch.len();
        let before = answers.first.lock().unwrap().len();
        let loader = tokio::spawn(load(
            depot.base.clone(),
            token.clone(),
            batch,
            answers.clone(),
        ));
        // Kill once about half of this round's requests have their answer.
        let started = Instant::now();
        while answers.first.lock().unwrap().len() < before + total / 2
            && started.elapsed() < Duration::from_secs(120)
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        depot.kill();
        let _ = loader.await;
    }
    // Recovery: every request without an answer is sent again with its key, until answered.
    let depot = Depot::start(
        &scratch.url,
        &work,
        // Answers wait 100 ms after their commit, so the kills catch requests whose work
        // committed but whose answer never left: the case that must not apply twice.
        &[("DEPOT_DRILL_PAUSE_AFTER_COMMIT_MS", "100")],
    );
    depot.ready(&client).await;
    let token = login(&client, &depot.base).await;
    let world = world.unwrap();
    let unanswered: Vec<Keyed> = {
        let answered = answers.first.lock().unwrap();
        sent.iter()
            .filter(|r| !answered.contains_key(&r.key))
            .cloned()
            .collect()
    };
    assert!(
        !unanswered.is_empty(),
        "the kills left no request unanswered: the test proved nothing"
    );
    // Retries that find their work committed before the kill (its answer was lost): the case
    // that applied twice when the record was written in a transaction of its own.
    // Those resent in a later round and replayed there count too.
    let mut committed_unanswered = answers.replays.load(Ordering::SeqCst);
    for request in &unanswered {
        let started = Instant::now();
        loop {
            let (status, body, replayed) =
                send(&client, &depot.base, &token, request).await.unwrap();
            committed_unanswered += usize::from(replayed);
            // 409 only while a first attempt still runs; after a crash there is none.
            assert_ne!(
                status,
                StatusCode::CONFLICT,
                "{request:?} waited after the crash"
            );
            if status != StatusCode::CONFLICT || started.elapsed() > Duration::from_secs(10) {
                answers
                    .first
                    .lock()
                    .unwrap()
                    .insert(request.key.clone(), (status, body));
                break;
            }
        }
    }
    eprintln!(
        "{backend}: {} requests, {} unanswered after the last kill, {committed_unanswered} \
         committed before their answer was lost (over all kills)",
        sent.len(),
        unanswered.len()
    );
    assert!(
        committed_unanswered > 0,
        "no kill caught a committed request before its answer: the test proved nothing"
    );
    // Every answer is a success, and a retry of an answered request replays it exactly.
    let answered = answers.first.lock().unwrap().clone();
    for request in &sent {
        let (status, body) = &answered[&request.key];
        assert!(
            status.is_success(),
            "{request:?}: {status} {}",
            String::from_utf8_lossy(body)
        );
        let (again, again_body, replayed) =
            send(&client, &depot.base, &token, request).await.unwrap();
        assert!(replayed, "{request:?} was not replayed");
        assert_eq!((again, &again_body), (*status, body), "{request:?}");
    }
    let count = |kind: Kind| sent.iter().filter(|r| r.kind == kind).count() as i64;
    let consistency: Value = client
        .get(format!("{}/v1/admin/consistency", depot.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(consistency["consistent"], true, "{consistency}");
    let list: Value = client
        .get(format!("{}/v1/pick-lists/{}", depot.base, world.pick_list))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let picked: i64 = list["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["picked"].as_i64().unwrap())
        .sum();
    assert_eq!(
        picked,
        count(Kind::PickScan),
        "pick scans applied once each"
    );
    drop(depot);

    // The rows themselves, read from the database after the server stopped.
    let facts = Facts::read(&scratch.url, world.item).await;
    assert_eq!(
        (facts.scans, facts.distinct_scans),
        (count(Kind::Scan), count(Kind::Scan)),
        "scans logged once each"
    );
    // The set-up's receipt and one per keyed receipt, 7 units each.
    assert_eq!(facts.receipts, 1 + count(Kind::Receipt), "receipts");
    assert_eq!(
        facts.received_units,
        100_000 + 7 * count(Kind::Receipt),
        "units received"
    );
    assert_eq!(
        (facts.print_jobs, facts.distinct_print_jobs),
        (count(Kind::Print), count(Kind::Print)),
        "print jobs queued once each"
    );
    let promised: i64 = world.deals.iter().map(|(_, q)| q).sum::<i64>() + 5000;
    assert_eq!(
        facts.reserved, promised,
        "every deal reserved exactly its quantity"
    );
    let _ = std::fs::remove_dir_all(&work);
}

struct Facts {
    scans: i64,
    distinct_scans: i64,
    receipts: i64,
    received_units: i64,
    print_jobs: i64,
    distinct_print_jobs: i64,
    reserved: i64,
}

impl Facts {
    async fn read(url: &str, item: i64) -> Facts {
        let db = depot::db::Db::connect(url).await.unwrap();
        let mut view = db.snapshot().await.unwrap();
        let facts = depot::on_tx!(&mut view, conn => {
            let mut one = async |sql: &str| -> i64 {
                sqlx::query_scalar::<_, i64>(sql)
                    .bind(item)
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap()
            };
            Facts {
                scans: one("select count(*) from scans where raw like 'CRASH-%' and $1 > 0").await,
                distinct_scans: one(
                    "select count(distinct raw) from scans where raw like 'CRASH-%' and $1 > 0",
                )
                .await,
                receipts: one("select count(*) from receipts where $1 > 0").await,
                received_units: one(
                    "select cast(coalesce(sum(quantity), 0) as bigint) from stock_movements
                     where item_id = $1 and movement_type = 'receipt'",
                )
                .await,
                print_jobs: one("select count(*) from print_jobs where $1 > 0").await,
                distinct_print_jobs: one(
                    "select count(distinct payload) from print_jobs where $1 > 0",
                )
                .await,
                reserved: one(
                    "select cast(coalesce(sum(quantity), 0) as bigint) from reservations where item_id = $1",
                )
                .await,
            }
        });
        drop(view);
        db.close().await;
        facts
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keyed_requests_apply_once_across_kill_9_on_sqlite() {
    crash_rounds(ScratchDb::sqlite(), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keyed_requests_apply_once_across_kill_9_on_postgres() {
    crash_rounds(ScratchDb::postgres().await, "postgres").await;
}
