//! HTTP load on Depot's hot endpoints, measured against the /healthz ceiling in the same run.
//!
//!     cargo bench --bench http_load                      # SQLite
//!     DEPOT_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench http_load
//!     DEPOT_BENCH_ITEMS=100000 DEPOT_BENCH_SECONDS=10 cargo bench --bench http_load
//!     DEPOT_BENCH_SCAN_LOG=1000000 DEPOT_BENCH_ONLY=scans,receipts cargo bench --bench http_load
//!
//! `DEPOT_BENCH_SCAN_LOG` fills the scan log with that many rows first; `DEPOT_BENCH_ONLY`
//! runs only the endpoints whose names contain one of its comma-separated words (the ceiling
//! always runs).
//! Starts Depot on 127.0.0.1 (port 0), seeds items (straight into the database, for speed),
//! then drives each endpoint with a fixed number of concurrent keep-alive connections for a
//! fixed time, and prints requests/s and latency percentiles. Bounded in time and count; only
//! talks to loopback. The load generator shares the machine's two cores with the server, so the
//! figures are a floor. "scan GS1-128 without HTTP" runs what `POST /v1/scans` does below HTTP
//! (session read, scan resolved and logged in a request's transaction, answer serialised,
//! commit) from as many tasks as there are connections: the ceiling of the database path;
//! "receipt (scan) without HTTP" the same for `POST /v1/receipts` with one scanned line.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use depot::app::{AppState, serve};
use depot::config::{Config, Secret};
use serde_json::json;

const CONNECTIONS: usize = 32;
const WARMUP: Duration = Duration::from_secs(1);

struct Outcome {
    name: &'static str,
    requests: usize,
    errors: usize,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// A request to send: (method is POST when a body is given, path, body).
type MakeRequest = Arc<dyn Fn(usize) -> (String, Option<serde_json::Value>) + Send + Sync>;

/// One unit of work of a scenario (the `i`th): answers whether it succeeded.
type Attempt = Arc<dyn Fn(usize) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// Sends `make`'s requests on every connection: see [`measure`].
async fn drive(
    name: &'static str,
    client: &reqwest::Client,
    token: &Arc<String>,
    make: MakeRequest,
    run: Duration,
    rate: Option<f64>,
) -> Outcome {
    let (client, token) = (client.clone(), token.clone());
    let attempt: Attempt = Arc::new(move |i| {
        let (url, body) = make(i);
        let request = match body {
            Some(b) => client.post(url).json(&b),
            None => client.get(url),
        }
        .bearer_auth(token.as_str());
        Box::pin(async move {
            request
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        })
    });
    measure(name, attempt, run, rate).await
}

/// Runs `attempt` from every connection (task) for `run`, after a warm-up. With `rate`
/// (attempts/s in all), each connection sends on a fixed schedule and latency counts from the
/// scheduled time, so a slow answer is not hidden by the requests it delayed (no coordinated
/// omission).
async fn measure(
    name: &'static str,
    attempt: Attempt,
    run: Duration,
    rate: Option<f64>,
) -> Outcome {
    let spawn_all = |duration: Duration| {
        (0..CONNECTIONS)
            .map(|c| {
                let attempt = attempt.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut errors = 0usize;
                    let started = Instant::now();
                    let interval = rate.map(|r| Duration::from_secs_f64(CONNECTIONS as f64 / r));
                    let mut i = c;
                    let mut sent = 0u32;
                    while started.elapsed() < duration && latencies.len() < 5_000_000 {
                        let scheduled = match interval {
                            Some(every) => {
                                // Spread connections over the first interval, then keep time.
                                let at = started
                                    + every.mul_f64(c as f64 / CONNECTIONS as f64)
                                    + every * sent;
                                tokio::time::sleep_until(at.into()).await;
                                at
                            }
                            None => Instant::now(),
                        };
                        sent += 1;
                        let ok = attempt(i).await;
                        latencies.push(scheduled.elapsed());
                        errors += usize::from(!ok);
                        i += CONNECTIONS;
                    }
                    (latencies, errors)
                })
            })
            .collect::<Vec<_>>()
    };
    for t in spawn_all(WARMUP.min(run)) {
        let _ = t.await;
    }
    let started = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in spawn_all(run) {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    Outcome {
        name,
        requests: all.len(),
        errors,
        per_sec: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// What `POST /v1/scans` does below HTTP: the caller's session read, the scan resolved and
/// logged in a request's one transaction, its answer serialised, the transaction committed.
async fn scan_without_http(
    state: &AppState,
    admin: &depot::auth::UserPrincipal,
    data: String,
) -> depot::error::Result<()> {
    depot::auth::users::session(&state.db, admin.id, admin.generation).await?;
    let caller = depot::scanning::Caller {
        user_id: Some(admin.id),
        ..Default::default()
    };
    let scope = depot::db::request::Scope::new(&state.db);
    let request = depot::scanning::ScanRequest {
        data,
        profile: None,
    };
    let result = scope
        .run(state.scanning.scan(&state.db, &caller, request))
        .await?;
    let _answer = serde_json::to_vec(&result).expect("a scan result serialises");
    scope.commit(false, async |_| Ok(true)).await?;
    Ok(())
}

/// What `POST /v1/receipts` does below HTTP for one line given as a scan: session read, the
/// scan normalised, the receipt checked and written in a request's transaction, answer
/// serialised, commit.
async fn receive_without_http(
    state: &AppState,
    admin: &depot::auth::UserPrincipal,
    (warehouse_id, location_id): (i64, i64),
    data: String,
) -> depot::error::Result<()> {
    depot::auth::users::session(&state.db, admin.id, admin.generation).await?;
    let caller = depot::scanning::Caller {
        user_id: Some(admin.id),
        ..Default::default()
    };
    let new: depot::stock::receipts::NewReceipt = serde_json::from_value(json!({
        "warehouse_id": warehouse_id,
        "location_id": location_id,
        "lines": [{ "scan": state.scanning.normalize_for(&caller, &data) }],
    }))
    .expect("a receipt body");
    let scope = depot::db::request::Scope::new(&state.db);
    let receipt = scope
        .run(depot::stock::receipts::receive(
            &state.db,
            new,
            Some(admin.id),
            None,
        ))
        .await?;
    let _answer = serde_json::to_vec(&receipt).expect("a receipt serialises");
    scope.commit(false, async |_| Ok(true)).await?;
    Ok(())
}

fn gtin13(i: i64) -> String {
    let body = format!("{:012}", 400_000_000_000i64 + i);
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    format!("{body}{}", depot::catalog::gtin::check_digit(&digits))
}

/// Inserts `count` items with one GTIN each, 500 rows per statement.
async fn seed(db: &depot::db::Db, count: i64) -> anyhow::Result<()> {
    let at = depot::db::now();
    let mut start = 0;
    while start < count {
        let end = (start + 500).min(count);
        let items: Vec<String> = (start..end)
            .map(|i| {
                format!(
                    "('BENCH-{i}', 'Bench item {i}', 'pcs', 'batch', 'purchased', false, $1, $1)"
                )
            })
            .collect();
        let gtins: Vec<String> = (start..end)
            .map(|i| {
                format!(
                    "('{:0>14}', (select id from items where code = 'BENCH-{i}'), 1)",
                    gtin13(i)
                )
            })
            .collect();
        let items_sql = format!(
            "insert into items (code, name, unit, tracking, source, requires_certificate, created_at, updated_at) values {}",
            items.join(",")
        );
        let gtins_sql = format!(
            "insert into item_gtins (gtin, item_id, quantity) values {}",
            gtins.join(",")
        );
        depot::in_tx!(db, tx => {
            sqlx::query(&items_sql).bind(at).execute(&mut *tx).await?;
            sqlx::query(&gtins_sql).execute(&mut *tx).await?;
        });
        start = end;
    }
    Ok(())
}

/// `count` rows in the scan log, as a long-running site has.
async fn seed_scan_log(db: &depot::db::Db, count: i64) -> anyhow::Result<()> {
    let at = depot::db::now();
    let mut done = 0;
    while done < count {
        let chunk = (count - done).min(100_000);
        depot::in_tx!(db, tx => {
            sqlx::query(
                "with recursive n(i) as (select 1 union all select i + 1 from n where i < $1)
                 insert into scans (raw, data, kind, symbology, accepted, matches, created_at)
                 select '4006381333931', '4006381333931', 'gtin', ']E0', true, '[]', $2 from n",
            )
            .bind(chunk)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        });
        done += chunk;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo test --benches` runs bench targets without --bench: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let items: i64 = std::env::var("DEPOT_BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let run = Duration::from_secs(
        std::env::var("DEPOT_BENCH_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5),
    );
    let dir = std::env::temp_dir().join(format!("depot-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (database_url, cleanup_pg) = match std::env::var("DEPOT_BENCH_DATABASE_URL") {
        Ok(admin_url) => {
            use sqlx::Connection;
            let name = format!("depot_bench_{}", std::process::id());
            let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
            sqlx::query(&format!("create database {name}"))
                .execute(&mut conn)
                .await?;
            let base = &admin_url[..admin_url.rfind('/').unwrap()];
            (format!("{base}/{name}"), Some((admin_url.clone(), name)))
        }
        Err(_) => (format!("sqlite://{}", dir.join("bench.db").display()), None),
    };
    let config = Config {
        database_url,
        admin_password: Some(Secret::new("bench-password")),
        ..Config::default()
    };
    let state = AppState::start(config).await?;
    let seeded = Instant::now();
    seed(&state.db, items).await?;
    let scan_log: i64 = std::env::var("DEPOT_BENCH_SCAN_LOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    seed_scan_log(&state.db, scan_log).await?;
    println!(
        "seeded {items} items and {scan_log} logged scans in {:.1}s",
        seeded.elapsed().as_secs_f64()
    );
    let admin =
        Arc::new(depot::auth::users::authenticate(&state.db, "admin", "bench-password").await?);
    let direct_state = state.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONNECTIONS)
        .build()?;
    let login: serde_json::Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"username": "admin", "password": "bench-password"}))
        .send()
        .await?
        .json()
        .await?;
    let token = Arc::new(login["access_token"].as_str().unwrap().to_string());

    let created: serde_json::Value = client
        .post(format!("{base}/v1/warehouses"))
        .bearer_auth(token.as_str())
        .json(&json!({"code": "BENCH", "name": "Bench warehouse"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let warehouse_id = created["id"].as_i64().expect("warehouse id");
    let created: serde_json::Value = client
        .post(format!("{base}/v1/warehouses/{warehouse_id}/locations"))
        .bearer_auth(token.as_str())
        .json(&json!({"code": "DOCK", "barcode": "LOC-DOCK"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let location_id = created["id"].as_i64().expect("location id");

    // Spread requests over the catalog with a fixed stride so reads are not all cache-hot.
    let pick = move |i: usize| (i as i64 * 7919) % items;
    let b = base.clone();
    let health: MakeRequest = Arc::new(move |_| (format!("{b}/healthz"), None));
    let b = base.clone();
    let by_id: MakeRequest = Arc::new(move |i| (format!("{b}/v1/items/{}", pick(i) + 1), None));
    let b = base.clone();
    let by_gtin: MakeRequest =
        Arc::new(move |i| (format!("{b}/v1/items?gtin={}", gtin13(pick(i))), None));
    let b = base.clone();
    let scan_gs1: MakeRequest = Arc::new(move |i| {
        let data = format!(
            "]C101{:0>14}17271231\u{1d}10LOT{}\u{1d}21SN{i}",
            gtin13(pick(i)),
            i % 97
        );
        (format!("{b}/v1/scans"), Some(json!({ "data": data })))
    });
    let b = base.clone();
    let scan_ean: MakeRequest = Arc::new(move |i| {
        (
            format!("{b}/v1/scans"),
            Some(json!({ "data": gtin13(pick(i)) })),
        )
    });

    let rate: f64 = std::env::var("DEPOT_BENCH_SCAN_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000.0);
    let b = base.clone();
    let scan_paced: MakeRequest = Arc::new(move |i| {
        let data = format!(
            "]C101{:0>14}17271231\u{1d}10LOT{}\u{1d}21SN{i}",
            gtin13(pick(i)),
            i % 97
        );
        (format!("{b}/v1/scans"), Some(json!({ "data": data })))
    });
    let b = base.clone();
    let receive_scan: MakeRequest = Arc::new(move |i| {
        let data = format!("]C101{:0>14}17271231\u{1d}10LOT{}", gtin13(pick(i)), i % 97);
        (
            format!("{b}/v1/receipts"),
            Some(json!({
                "warehouse_id": warehouse_id,
                "location_id": location_id,
                "lines": [{ "scan": data }],
            })),
        )
    });
    let (receive_state, receive_admin) = (direct_state.clone(), admin.clone());
    let scan_direct: Attempt = Arc::new(move |i| {
        let (state, admin) = (direct_state.clone(), admin.clone());
        let data = format!(
            "]C101{:0>14}17271231\u{1d}10LOT{}\u{1d}21SN{i}",
            gtin13(pick(i)),
            i % 97
        );
        Box::pin(async move { scan_without_http(&state, &admin, data).await.is_ok() })
    });
    let receive_direct: Attempt = Arc::new(move |i| {
        let (state, admin) = (receive_state.clone(), receive_admin.clone());
        let data = format!("]C101{:0>14}17271231\u{1d}10LOT{}", gtin13(pick(i)), i % 97);
        Box::pin(async move {
            receive_without_http(&state, &admin, (warehouse_id, location_id), data)
                .await
                .is_ok()
        })
    });
    let only: Vec<String> = std::env::var("DEPOT_BENCH_ONLY")
        .map(|v| v.split(',').map(|w| w.trim().to_lowercase()).collect())
        .unwrap_or_default();
    let wanted = |name: &str| {
        only.is_empty()
            || only
                .iter()
                .any(|w| !w.is_empty() && name.to_lowercase().contains(w.as_str()))
    };
    let scenarios: Vec<(&'static str, MakeRequest, Option<f64>)> = vec![
        ("GET /v1/items/{id}", by_id, None),
        ("GET /v1/items?gtin=", by_gtin, None),
        ("POST /v1/scans (GS1-128)", scan_gs1, None),
        ("POST /v1/scans (EAN-13)", scan_ean, None),
        ("POST /v1/scans GS1 paced", scan_paced, Some(rate)),
        ("POST /v1/receipts (scan)", receive_scan, None),
    ];
    let mut outcomes =
        vec![drive("GET /healthz (ceiling)", &client, &token, health, run, None).await];
    for (name, make, rate) in scenarios {
        if wanted(name) {
            outcomes.push(drive(name, &client, &token, make, run, rate).await);
        }
    }
    let direct = "scan GS1-128 without HTTP";
    if wanted(direct) {
        outcomes.push(measure(direct, scan_direct, run, None).await);
    }
    let direct = "receipt (scan) without HTTP";
    if wanted(direct) {
        outcomes.push(measure(direct, receive_direct, run, None).await);
    }
    let ceiling = outcomes[0].per_sec;
    println!(
        "\nbackend: {}   items: {items}   connections: {CONNECTIONS}   run: {}s per endpoint   paced rate: {rate}/s",
        if cleanup_pg.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        run.as_secs()
    );
    println!(
        "{:<28} {:>10} {:>8} {:>9} {:>9} {:>11}",
        "endpoint", "req/s", "errors", "p50 ms", "p99 ms", "of ceiling"
    );
    for r in &outcomes {
        println!(
            "{:<28} {:>10.0} {:>8} {:>9.2} {:>9.2} {:>10.0}%   ({} requests)",
            r.name,
            r.per_sec,
            r.errors,
            r.p50_ms,
            r.p99_ms,
            100.0 * r.per_sec / ceiling,
            r.requests
        );
    }
    // Every receipt above posted to the ledger: balances must still equal it.
    let consistency: serde_json::Value = client
        .get(format!("{base}/v1/admin/consistency"))
        .bearer_auth(token.as_str())
        .send()
        .await?
        .json()
        .await?;
    println!("consistency: {consistency}");
    assert_eq!(
        consistency["consistent"],
        json!(true),
        "balances disagree with the ledger"
    );
    let _ = stop.send(());
    let _ = server.await;
    if let Some((admin_url, name)) = cleanup_pg {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
        sqlx::query(&format!("drop database if exists {name} with (force)"))
            .execute(&mut conn)
            .await?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
