//! Issue 20, drill 1: three Depot instances on one PostgreSQL behind HAProxy take a mixed load
//! of keyed receipts, scans, pick scans and reservations while each instance in turn is stopped gracefully
//! (SIGTERM) and started again: a rolling restart.
//!
//! Each instance drains on SIGTERM: `/readyz` answers 503 for `DEPOT_SHUTDOWN_DRAIN_SECS`
//! while requests are still served, so HAProxy's health check takes it out before its listener
//! closes; in-flight requests finish. HAProxy retries a request whose connection failed or
//! closed unanswered on another instance (`retry-on`, `option redispatch`), which is safe
//! because every mutation carries an `Idempotency-Key`. What is checked: no request fails in a
//! way a client would not retry (any 4xx, 500, or a 2xx with a wrong answer), nothing is lost
//! or doubled (rows per acknowledged key), and `depot check` is clean. Figures are printed.
//!
//! PostgreSQL only: several instances share one database only there; the embedded SQLite store
//! is one process by design (its restarts are the crash drill's, tests/crash.rs).

#[path = "common/binary.rs"]
#[allow(dead_code)] // each drill uses part of it
mod binary;
#[path = "common/scratch_db.rs"]
#[allow(dead_code)]
mod scratch_db;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use binary::{Depot, create, free_port, login, post, run, sbin, warehouse_bin_item};
use scratch_db::ScratchDb;
use serde_json::{Value, json};

const INSTANCES: usize = 3;
const CLIENTS: usize = 8;
const DRAIN: &str = "2";
const ENV: &[(&str, &str)] = &[("DEPOT_SHUTDOWN_DRAIN_SECS", DRAIN)];

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn haproxy(work: &std::path::Path, port: u16, servers: &[u16]) -> Haproxy {
    let mut config = format!(
        "global
    maxconn 2000
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout queue 10s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
frontend depot
    bind 127.0.0.1:{port}
    default_backend instances
backend instances
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 250ms fall 1 rise 2
"
    );
    for (i, p) in servers.iter().enumerate() {
        config.push_str(&format!("    server depot{i} 127.0.0.1:{p} check\n"));
    }
    let path = work.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let exe = sbin("haproxy");
    let child = Command::new(exe)
        .args(["-db", "-f"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy is needed (Debian package haproxy; tests/run installs it)");
    Haproxy(child)
}

#[derive(Default)]
struct Tally {
    sent: AtomicUsize,
    /// Answers a client would retry (connection failures, 502/503/504), retried with the same key.
    retried: AtomicUsize,
    /// Anything else that is not a success: must stay empty.
    failed: std::sync::Mutex<Vec<String>>,
}

/// One keyed request, sent until it gets an answer a client would not retry.
async fn send(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    key: &str,
    body: &Value,
    tally: &Tally,
) -> Option<Value> {
    tally.sent.fetch_add(1, Ordering::Relaxed);
    for _ in 0..100 {
        let answer = client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => return r.json().await.ok(),
            Ok(r) if matches!(r.status().as_u16(), 502..=504) => {}
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                tally
                    .failed
                    .lock()
                    .unwrap()
                    .push(format!("{path} {status} {text}"));
                return None;
            }
            Err(_) => {}
        }
        tally.retried.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tally
        .failed
        .lock()
        .unwrap()
        .push(format!("{path}: no answer after 100 tries"));
    None
}

struct World {
    warehouse: i64,
    bin: i64,
    item: i64,
    customer: i64,
    /// A pick list of a big reserved deal, its picker standing at the bin.
    pick_list: i64,
}

/// Client `n`'s loop: a receipt, a scan, a pick scan and a reservation of a new deal, each
/// keyed, until told to stop. Answers the keys of its receipts and scans, the deals it
/// reserved and its confirmed pick scans.
async fn client_loop(
    n: usize,
    base: String,
    token: String,
    w: Arc<World>,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> (Vec<String>, Vec<String>, Vec<i64>, usize) {
    let client = reqwest::Client::new();
    let (mut receipts, mut scans, mut deals) = (Vec::new(), Vec::new(), Vec::new());
    let mut picks = 0;
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let key = format!("roll-r-{n}-{i}");
        let body = json!({"warehouse_id": w.warehouse, "location_id": w.bin,
                          "lines": [{"item_id": w.item, "quantity": 1}]});
        if send(&client, &base, &token, "/v1/receipts", &key, &body, &tally)
            .await
            .is_some()
        {
            receipts.push(key);
        }
        let key = format!("roll-s-{n}-{i}");
        let body = json!({"data": format!("ROLL-{n}-{i}")});
        if send(&client, &base, &token, "/v1/scans", &key, &body, &tally)
            .await
            .is_some()
        {
            scans.push(key);
        }
        let body = json!({"scan": "4006381333931", "quantity": 1});
        let path = format!("/v1/pick-lists/{}/scans", w.pick_list);
        if let Some(answer) = send(
            &client,
            &base,
            &token,
            &path,
            &format!("roll-p-{n}-{i}"),
            &body,
            &tally,
        )
        .await
        {
            assert_eq!(answer["outcome"], "confirmed", "{answer}");
            picks += 1;
        }
        let body = json!({"customer_id": w.customer, "title": format!("roll {n}-{i}"),
                          "lines": [{"item_id": w.item, "quantity": 1}]});
        let Some(deal) = send(
            &client,
            &base,
            &token,
            "/v1/deals",
            &format!("roll-d-{n}-{i}"),
            &body,
            &tally,
        )
        .await
        else {
            continue;
        };
        let deal = deal["id"].as_i64().unwrap();
        let body = json!({"warehouse_id": w.warehouse});
        if send(
            &client,
            &base,
            &token,
            &format!("/v1/deals/{deal}/reserve"),
            &format!("roll-v-{n}-{i}"),
            &body,
            &tally,
        )
        .await
        .is_some()
        {
            deals.push(deal);
        }
    }
    (receipts, scans, deals, picks)
}

async fn count(url: &str, sql: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rolling_restart_behind_haproxy_on_postgres() {
    let scratch = ScratchDb::postgres().await;
    let work = std::env::temp_dir().join(format!("depot-rolling-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let client = reqwest::Client::new();
    let ports: Vec<u16> = (0..INSTANCES).map(|_| free_port()).collect();
    let mut instances: Vec<Option<Depot>> = Vec::new();
    for port in &ports {
        let d = Depot::start_on(*port, &scratch.url, &work, ENV);
        d.ready(&client).await;
        instances.push(Some(d));
    }
    let front = free_port();
    let _haproxy = haproxy(&work, front, &ports);
    let base = format!("http://127.0.0.1:{front}");
    let started = Instant::now();
    while !client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "haproxy did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = login(&client, &base).await;
    let (warehouse, bin, item) = warehouse_bin_item(
        &client,
        &base,
        &token,
        "RR",
        json!({"code": "BOLT", "name": "Bolt", "gtins": ["4006381333931"]}),
    )
    .await;
    let packing = create(
        &client,
        &base,
        &token,
        &format!("/v1/warehouses/{warehouse}/locations"),
        json!({"code": "PACK", "pick_sequence": 99}),
    )
    .await;
    let customer = create(
        &client,
        &base,
        &token,
        "/v1/customers",
        json!({"legal_name": "Rolling Ltd"}),
    )
    .await;
    // Enough stock that every reservation is met in full.
    post(
        &client,
        &base,
        &token,
        "/v1/receipts",
        json!({"warehouse_id": warehouse, "location_id": bin,
        "lines": [{"item_id": item, "quantity": 100000}]}),
    )
    .await;
    // The deal the pick scans pick from: reserved and on a pick list, its picker at the bin.
    let picked_deal = create(
        &client,
        &base,
        &token,
        "/v1/deals",
        json!({"customer_id": customer,
        "title": "picked", "lines": [{"item_id": item, "quantity": 20000}]}),
    )
    .await;
    post(
        &client,
        &base,
        &token,
        &format!("/v1/deals/{picked_deal}/reserve"),
        json!({"warehouse_id": warehouse}),
    )
    .await;
    let pick_list = create(
        &client,
        &base,
        &token,
        "/v1/pick-lists",
        json!({"deal_ids": [picked_deal],
        "warehouse_id": warehouse, "packing_location_id": packing}),
    )
    .await;
    let at_bin = post(
        &client,
        &base,
        &token,
        &format!("/v1/pick-lists/{pick_list}/scans"),
        json!({"scan": "RR-A"}),
    )
    .await;
    assert_eq!(at_bin["outcome"], "location", "{at_bin}");
    let world = Arc::new(World {
        warehouse,
        bin,
        item,
        customer,
        pick_list,
    });

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            tokio::spawn(client_loop(
                n,
                base.clone(),
                token.clone(),
                world.clone(),
                stop.clone(),
                tally.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut stops = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let old = instances[i].take().unwrap();
        let (took, clean) = old.terminate();
        assert!(clean, "instance {i} did not exit cleanly on SIGTERM");
        stops.push(took);
        let new = Depot::start_on(*port, &scratch.url, &work, ENV);
        new.ready(&client).await;
        instances[i] = Some(new);
        // HAProxy takes it back after two good checks.
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (mut receipts, mut scans, mut deals) = (Vec::new(), Vec::new(), Vec::new());
    let mut picks = 0;
    for c in clients {
        let (r, s, d, p) = c.await.unwrap();
        receipts.extend(r);
        scans.extend(s);
        deals.extend(d);
        picks += p;
    }
    let failed = tally.failed.lock().unwrap().clone();
    assert!(
        failed.is_empty(),
        "requests failed in a way a client would not retry: {failed:?}"
    );
    // With the drain, no client even had to retry (without it, and without HAProxy's retries,
    // this drill sees 502s and refused connections at every restart).
    assert_eq!(
        tally.retried.load(Ordering::Relaxed),
        0,
        "requests a client had to retry"
    );

    // Nothing lost or doubled: one receipt row per acknowledged receipt key (plus the stock),
    // one scan per scan key, one reservation per reserved deal.
    let url = &scratch.url;
    assert_eq!(
        count(url, "select count(*) from receipts").await,
        receipts.len() as i64 + 1
    );
    assert_eq!(
        count(url, "select count(*) from scans where raw like 'ROLL-%'").await,
        scans.len() as i64
    );
    assert_eq!(
        count(
            url,
            &format!(
                "select cast(coalesce(sum(quantity), 0) as bigint) from reservations
                 where deal_id <> {picked_deal}"
            )
        )
        .await,
        deals.len() as i64
    );
    assert_eq!(
        count(
            url,
            &format!(
                "select cast(coalesce(sum(picked), 0) as bigint) from pick_list_lines
                 where pick_list_id = {pick_list}"
            )
        )
        .await,
        picks as i64,
        "picked once per confirmed pick scan"
    );
    let (ok, out) = run(url, &["check"]);
    assert!(ok, "depot check after the rolling restart: {out}");
    println!(
        "rolling restart ({INSTANCES} instances, {CLIENTS} clients, drain {DRAIN} s): {} requests, \
         {} retried by the client, 0 failed; {} receipts, {} scans, {picks} pick scans, {} \
         reservations, none lost or doubled; SIGTERM to exit {:?}; total {:.1} s",
        tally.sent.load(Ordering::Relaxed),
        tally.retried.load(Ordering::Relaxed),
        receipts.len(),
        scans.len(),
        deals.len(),
        stops,
        started.elapsed().as_secs_f64()
    );
    drop(instances);
    let _ = std::fs::remove_dir_all(&work);
}
