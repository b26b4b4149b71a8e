//! Deal reservations through the HTTP API, against the /healthz ceiling and the raw database's
//! conditional-update rate, both measured in the same run.
//!
//!     cargo bench --bench reservations                      # SQLite
//!     DEPOT_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench reservations
//!     DEPOT_BENCH_SECONDS=10 DEPOT_BENCH_DEALS=300000 cargo bench --bench reservations
//!
//! Starts Depot on 127.0.0.1 (port 0) and seeds, straight into the database: one warehouse and
//! location, a hot item with 100,000,000 units and 1,000 items with 1,000,000 units each (posted
//! through the ledger), one customer and a pool of one-line deals (quantity 1) per scenario.
//! Every `POST /v1/deals/{id}/reserve` uses a fresh deal (a second call reserves nothing more);
//! a connection stops when its scenario's pool runs out. Then it runs, with 64 concurrent
//! clients each: `GET /healthz`; reservations on the hot item; reservations spread over the
//! 1,000 items (fixed stride); and 64 tasks doing single-statement transactions of the
//! conditional update a reservation makes (`reserved = reserved + 1 where on_hand - reserved >=
//! 1`) on the hot item's balance, through the app's own pool. The raw loop's effect is undone
//! afterwards and `GET /v1/admin/consistency` must answer `consistent: true`.
//!
//! Target: at least 1,000 reservations/s on the hot item on SQLite. The load generator shares
//! the machine's cores with the server, so the figures are a floor. Does nothing unless argv
//! contains `--bench`.

#[path = "common/scratch.rs"]
mod scratch;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use depot::app::{AppState, serve};
use depot::config::{Config, Secret};
use depot::db::{Backend, Db};
use depot::stock::ledger::{self, MovementType, NewMovement};
use serde_json::json;

const CONNECTIONS: usize = 64;
const WARMUP: Duration = Duration::from_secs(1);
const SPREAD_ITEMS: usize = 1_000;
const HOT_ON_HAND: i64 = 100_000_000;
const SPREAD_ON_HAND: i64 = 1_000_000;
const CONDITIONAL_UPDATE: &str = "update stock_balances set reserved = reserved + 1
     where item_id = $1 and warehouse_id = $2 and location_id = $3 and batch_key = 0
       and on_hand - reserved >= 1";

struct Outcome {
    name: &'static str,
    requests: usize,
    errors: usize,
    /// 409 and 503 answers (also counted in `errors`).
    retries: usize,
    /// Successful requests including the warm-up.
    ok_total: usize,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    exhausted: bool,
    first_error: Option<String>,
}

/// The next request to send (POST when a body is given), or None when there is nothing left.
type MakeRequest = Arc<dyn Fn() -> Option<(String, Option<serde_json::Value>)> + Send + Sync>;

struct Run {
    latencies: Vec<Duration>,
    errors: usize,
    retries: usize,
    exhausted: bool,
}

fn summarize(
    name: &'static str,
    runs: Vec<Run>,
    elapsed: f64,
    ok_total: usize,
    first_error: Option<String>,
) -> Outcome {
    let mut all = Vec::new();
    let (mut errors, mut retries, mut exhausted) = (0, 0, false);
    for r in runs {
        all.extend(r.latencies);
        errors += r.errors;
        retries += r.retries;
        exhausted |= r.exhausted;
    }
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    Outcome {
        name,
        requests: all.len(),
        errors,
        retries,
        ok_total,
        per_sec: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        exhausted,
        first_error,
    }
}

/// Sends `make`'s requests on every connection, closed loop, for the warm-up and then for `run`.
async fn drive(
    name: &'static str,
    client: &reqwest::Client,
    token: &Arc<String>,
    make: MakeRequest,
    run: Duration,
) -> Outcome {
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let spawn_all = |duration: Duration| {
        (0..CONNECTIONS)
            .map(|_| {
                let (client, token, make) = (client.clone(), token.clone(), make.clone());
                let first_error = first_error.clone();
                tokio::spawn(async move {
                    let mut out = Run {
                        latencies: Vec::new(),
                        errors: 0,
                        retries: 0,
                        exhausted: false,
                    };
                    let started = Instant::now();
                    while started.elapsed() < duration {
                        let Some((url, body)) = make() else {
                            out.exhausted = true;
                            break;
                        };
                        let sent = Instant::now();
                        let request = match body {
                            Some(b) => client.post(url).json(&b),
                            None => client.get(url),
                        };
                        let status = match request.bearer_auth(token.as_str()).send().await {
                            Ok(r) if r.status().is_success() => {
                                // Read the body so the connection is reused.
                                let _ = r.bytes().await;
                                None
                            }
                            Ok(r) => {
                                let code = r.status().as_u16();
                                let text = r.text().await.unwrap_or_default();
                                Some((code, format!("{code} {text}")))
                            }
                            Err(e) => Some((0, format!("transport: {e}"))),
                        };
                        out.latencies.push(sent.elapsed());
                        if let Some((code, text)) = status {
                            out.errors += 1;
                            out.retries += usize::from(code == 409 || code == 503);
                            let mut first = first_error.lock().unwrap();
                            if first.is_none() {
                                *first = Some(text.chars().take(300).collect());
                            }
                        }
                    }
                    out
                })
            })
            .collect::<Vec<_>>()
    };
    let mut ok_total = 0;
    for t in spawn_all(WARMUP.min(run)) {
        let r = t.await.unwrap();
        ok_total += r.latencies.len() - r.errors;
    }
    let started = Instant::now();
    let mut runs = Vec::new();
    for t in spawn_all(run) {
        runs.push(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    ok_total += runs
        .iter()
        .map(|r| r.latencies.len() - r.errors)
        .sum::<usize>();
    let first_error = first_error.lock().unwrap().take();
    summarize(name, runs, elapsed, ok_total, first_error)
}

/// One single-statement transaction of the conditional update; true when it updated the row.
async fn conditional_update(db: &Db, item: i64, wh: i64, loc: i64) -> anyhow::Result<bool> {
    let affected = match db.backend() {
        Backend::Sqlite { write, .. } => {
            let mut tx = write.begin().await?;
            let r = sqlx::query(CONDITIONAL_UPDATE)
                .bind(item)
                .bind(wh)
                .bind(loc)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            r.rows_affected()
        }
        Backend::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            let r = sqlx::query(CONDITIONAL_UPDATE)
                .bind(item)
                .bind(wh)
                .bind(loc)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            r.rows_affected()
        }
    };
    Ok(affected == 1)
}

/// The raw database's rate of the conditional update on one balance, 64 concurrent tasks.
async fn drive_raw(db: &Db, item: i64, wh: i64, loc: i64, run: Duration) -> Outcome {
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let spawn_all = |duration: Duration| {
        (0..CONNECTIONS)
            .map(|_| {
                let db = db.clone();
                let first_error = first_error.clone();
                tokio::spawn(async move {
                    let mut out = Run {
                        latencies: Vec::new(),
                        errors: 0,
                        retries: 0,
                        exhausted: false,
                    };
                    let started = Instant::now();
                    while started.elapsed() < duration {
                        let sent = Instant::now();
                        let result = conditional_update(&db, item, wh, loc).await;
                        out.latencies.push(sent.elapsed());
                        let error = match result {
                            Ok(true) => None,
                            Ok(false) => Some("no row updated".to_string()),
                            Err(e) => Some(format!("{e:#}")),
                        };
                        if let Some(e) = error {
                            out.errors += 1;
                            first_error.lock().unwrap().get_or_insert(e);
                        }
                    }
                    out
                })
            })
            .collect::<Vec<_>>()
    };
    let mut ok_total = 0;
    for t in spawn_all(WARMUP.min(run)) {
        let r = t.await.unwrap();
        ok_total += r.latencies.len() - r.errors;
    }
    let started = Instant::now();
    let mut runs = Vec::new();
    for t in spawn_all(run) {
        runs.push(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    ok_total += runs
        .iter()
        .map(|r| r.latencies.len() - r.errors)
        .sum::<usize>();
    let first_error = first_error.lock().unwrap().take();
    summarize(
        "raw conditional update",
        runs,
        elapsed,
        ok_total,
        first_error,
    )
}

/// Inserts `rows` (SQL value tuples, which may use `$1` for the timestamp) into `head`,
/// 500 rows per statement, 20 statements per transaction.
async fn insert_rows(db: &Db, head: &str, rows: &[String]) -> anyhow::Result<()> {
    let at = depot::db::now();
    for tx_rows in rows.chunks(10_000) {
        depot::in_tx!(db, tx => {
            for chunk in tx_rows.chunks(500) {
                let sql = format!("{head} values {}", chunk.join(","));
                sqlx::query(&sql).bind(at).execute(&mut *tx).await?;
            }
        });
    }
    Ok(())
}

async fn ids(db: &Db, sql: &str) -> anyhow::Result<Vec<i64>> {
    Ok(depot::on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>(sql).fetch_all(pool).await?
    }))
}

struct Seeded {
    warehouse: i64,
    location: i64,
    hot_item: i64,
    hot_deals: Vec<i64>,
    spread_deals: Vec<i64>,
}

async fn seed(db: &Db, deals_per_scenario: usize) -> anyhow::Result<Seeded> {
    let admin: i64 = ids(db, "select id from users where username = 'admin'").await?[0];
    let warehouse = depot::catalog::warehouses::create(
        db,
        serde_json::from_value(json!({"code": "BENCH", "name": "Bench"}))?,
    )
    .await?
    .id;
    let location = depot::catalog::warehouses::create_location(
        db,
        warehouse,
        serde_json::from_value(json!({"code": "A1"}))?,
    )
    .await?
    .id;

    let item_row = |code: String| {
        format!("('{code}', 'Bench item {code}', 'pcs', 'none', 'purchased', false, $1, $1)")
    };
    let mut items = vec![item_row("HOT".into())];
    items.extend((0..SPREAD_ITEMS).map(|i| item_row(format!("SPREAD-{i:04}"))));
    insert_rows(
        db,
        "insert into items (code, name, unit, tracking, source, requires_certificate, created_at, updated_at)",
        &items,
    )
    .await?;
    let hot_item = ids(db, "select id from items where code = 'HOT'").await?[0];
    let spread_items = ids(
        db,
        "select id from items where code like 'SPREAD-%' order by code",
    )
    .await?;
    assert_eq!(spread_items.len(), SPREAD_ITEMS);

    let receipt = |item_id: i64, quantity: i64| NewMovement {
        kind: MovementType::Receipt,
        quantity,
        item_id,
        warehouse_id: warehouse,
        location_id: location,
        batch_id: None,
        user_id: Some(admin),
        device_id: None,
        document_type: None,
        document_id: None,
        deal_id: None,
        note: None,
        reservation_id: None,
    };
    ledger::post(db, vec![receipt(hot_item, HOT_ON_HAND)]).await?;
    for &item in &spread_items {
        ledger::post(db, vec![receipt(item, SPREAD_ON_HAND)]).await?;
    }

    insert_rows(
        db,
        "insert into customers (legal_name, kind, created_at, updated_at)",
        &["('Bench Ltd', 'company', $1, $1)".to_string()],
    )
    .await?;
    let customer = ids(
        db,
        "select id from customers where legal_name = 'Bench Ltd'",
    )
    .await?[0];

    let mut pools = Vec::new();
    for title in ["bench hot", "bench spread"] {
        let deal = format!("({customer}, {admin}, '{title}', 'selection', 'open', 'EUR', $1, $1)");
        insert_rows(
            db,
            "insert into deals (customer_id, owner_id, title, stage, status, currency, created_at, updated_at)",
            &vec![deal; deals_per_scenario],
        )
        .await?;
        let deals = ids(
            db,
            &format!("select id from deals where title = '{title}' order by id"),
        )
        .await?;
        let lines: Vec<String> = deals
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let item = if title == "bench hot" {
                    hot_item
                } else {
                    spread_items[(i * 7919) % SPREAD_ITEMS]
                };
                format!("({d}, 1, {item}, 1, 0)")
            })
            .collect();
        insert_rows(
            db,
            "insert into deal_lines (deal_id, line_no, item_id, quantity, unit_price)",
            &lines,
        )
        .await?;
        pools.push(deals);
    }
    let spread_deals = pools.pop().unwrap();
    let hot_deals = pools.pop().unwrap();
    Ok(Seeded {
        warehouse,
        location,
        hot_item,
        hot_deals,
        spread_deals,
    })
}

/// Reserve requests on fresh deals from `deals`, None once they are all used.
fn reserve_requests(base: &str, deals: Vec<i64>, warehouse: i64) -> MakeRequest {
    let (base, deals, next) = (base.to_string(), Arc::new(deals), AtomicUsize::new(0));
    Arc::new(move || {
        let deal = *deals.get(next.fetch_add(1, Ordering::Relaxed))?;
        Some((
            format!("{base}/v1/deals/{deal}/reserve"),
            Some(json!({ "warehouse_id": warehouse })),
        ))
    })
}

async fn bench(
    state: AppState,
    run: Duration,
    deals_per_scenario: usize,
    backend: &str,
) -> anyhow::Result<()> {
    let db = state.db.clone();
    let seeded_at = Instant::now();
    let seeded = seed(&db, deals_per_scenario).await?;
    println!(
        "seeded 1 + {SPREAD_ITEMS} items and 2 x {deals_per_scenario} deals in {:.1}s",
        seeded_at.elapsed().as_secs_f64()
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));

    let result = async {
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
        let token = Arc::new(
            login["access_token"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("login failed: {login}"))?
                .to_string(),
        );

        let b = base.clone();
        let health: MakeRequest = Arc::new(move || Some((format!("{b}/healthz"), None)));
        let ceiling = drive("GET /healthz (ceiling)", &client, &token, health, run).await;
        let hot = reserve_requests(&base, seeded.hot_deals, seeded.warehouse);
        let hot = drive("reserve, hot item", &client, &token, hot, run).await;
        let spread = reserve_requests(&base, seeded.spread_deals, seeded.warehouse);
        let spread = drive("reserve, 1,000 items", &client, &token, spread, run).await;
        let raw = drive_raw(
            &db,
            seeded.hot_item,
            seeded.warehouse,
            seeded.location,
            run,
        )
        .await;

        // Reservations the API made: one unit per successful request (warm-up included).
        let (rows, units): (i64, i64) = depot::on_read!(&db, pool => {
            sqlx::query_as("select count(*), cast(coalesce(sum(quantity), 0) as bigint) from reservations")
                .fetch_one(pool)
                .await?
        });
        // Undo the raw loop: reserved back to the sum of the reservations on each balance.
        depot::in_tx!(&db, tx => {
            sqlx::query(
                "update stock_balances set reserved = (select coalesce(sum(quantity), 0)
                     from reservations r where r.item_id = stock_balances.item_id
                       and r.warehouse_id = stock_balances.warehouse_id
                       and r.location_id = stock_balances.location_id
                       and r.batch_key = stock_balances.batch_key)
                 where item_id = $1",
            )
            .bind(seeded.hot_item)
            .execute(&mut *tx)
            .await?;
        });
        let consistency: serde_json::Value = client
            .get(format!("{base}/v1/admin/consistency"))
            .bearer_auth(token.as_str())
            .send()
            .await?
            .json()
            .await?;

        let ceiling_rate = ceiling.per_sec;
        println!(
            "\nbackend: {backend}   connections: {CONNECTIONS}   run: {}s per scenario (+{}s warm-up)   deals per scenario: {deals_per_scenario}",
            run.as_secs(),
            WARMUP.as_secs()
        );
        println!(
            "{:<24} {:>9} {:>7} {:>8} {:>8} {:>8} {:>11} {:>8}",
            "scenario", "req/s", "errors", "409/503", "p50 ms", "p99 ms", "of ceiling", "of raw"
        );
        for r in [&ceiling, &hot, &spread, &raw] {
            let of_raw = if std::ptr::eq(r, &hot) || std::ptr::eq(r, &spread) {
                format!("{:.0}%", 100.0 * r.per_sec / raw.per_sec)
            } else {
                "-".to_string()
            };
            println!(
                "{:<24} {:>9.0} {:>7} {:>8} {:>8.2} {:>8.2} {:>10.0}% {:>8}   ({} requests{})",
                r.name,
                r.per_sec,
                r.errors,
                r.retries,
                r.p50_ms,
                r.p99_ms,
                100.0 * r.per_sec / ceiling_rate,
                of_raw,
                r.requests,
                if r.exhausted { ", deal pool ran out" } else { "" }
            );
        }
        for r in [&ceiling, &hot, &spread, &raw] {
            if let Some(e) = &r.first_error {
                println!("first error, {}: {e}", r.name);
            }
        }
        let answered = hot.ok_total + spread.ok_total;
        println!(
            "reservations in the database: {rows} rows, {units} units; successful reserve answers (incl. warm-up): {answered}"
        );
        println!(
            "hot item on SQLite target 1,000/s: {}",
            if backend != "sqlite" {
                "n/a (not SQLite)"
            } else if hot.per_sec >= 1000.0 {
                "met"
            } else {
                "NOT met"
            }
        );
        println!(
            "consistency: {}",
            if consistency["consistent"] == json!(true) {
                "consistent".to_string()
            } else {
                consistency.to_string()
            }
        );
        anyhow::ensure!(
            consistency["consistent"] == json!(true),
            "GET /v1/admin/consistency: {consistency}"
        );
        anyhow::ensure!(
            units as usize == answered,
            "{units} units reserved for {answered} successful reserve answers"
        );
        anyhow::Ok(())
    }
    .await;
    let _ = stop.send(());
    let _ = server.await;
    result
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo test --benches` runs bench targets without --bench: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let env = scratch::env_u64;
    let run = Duration::from_secs(env("DEPOT_BENCH_SECONDS", 5));
    let deals_per_scenario = env("DEPOT_BENCH_DEALS", 200_000) as usize;
    let scratch = scratch::Scratch::create("reservations").await?;
    let backend = scratch.backend;
    let config = Config {
        database_url: scratch.url.clone(),
        admin_password: Some(Secret::new("bench-password")),
        ..Config::default()
    };
    let result = match AppState::start(config).await {
        Ok(state) => bench(state, run, deals_per_scenario, backend).await,
        Err(e) => Err(e),
    };
    scratch.remove().await?;
    result
}
