//! Scan-verified picking through the HTTP API: confirmed pick scans per second and their latency,
//! against the /healthz ceiling measured in the same run.
//!
//!     cargo bench --bench picking                      # SQLite
//!     DEPOT_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench picking
//!     DEPOT_BENCH_PICKERS=32 DEPOT_BENCH_SECONDS=10 DEPOT_BENCH_LISTS=40 cargo bench --bench picking
//!
//! Starts Depot on 127.0.0.1 (port 0) on a scratch SQLite file (or a scratch PostgreSQL database
//! created and dropped here) and seeds: a warehouse with 200 bins (pick sequence 1..200) and a
//! packing location; 1,000 batch-tracked items with a GTIN each (straight into the database);
//! one batch of each item, 1,000 units, received into its bin (`POST /v1/receipts`); won deals of
//! `DEPOT_BENCH_LINES` one-unit lines (default 40, distinct items, into the database), each
//! reserved (`POST /v1/deals/{id}/reserve`) and made into its own pick list
//! (`POST /v1/pick-lists`), `DEPOT_BENCH_LISTS` lists (default 20) per picker.
//!
//! Then `DEPOT_BENCH_PICKERS` pickers (default 16), each its own keep-alive connection and its
//! own pick lists, walk their lists in route order through `POST /v1/pick-lists/{id}/scans`: the
//! bin's barcode whenever the next line is in another bin (answer `location`), then the goods'
//! GS1-128 code `]C1 01 <GTIN> 17 <expiry> GS 10 <batch>` (answer `confirmed`), closed loop (a
//! picker waits for the answer before the next scan), for a 1 s warm-up and then
//! `DEPOT_BENCH_SECONDS` (default 5). Then the same pickers carry on with their next scans below
//! HTTP for as long again: what the route does (session read, list check, scan interpreted and
//! logged, the pick in a request's transaction, answer serialised, commit) called in-process, the
//! ceiling of the database path. Any other answer (an error status, a refusal, a wrong
//! outcome) is counted and fails the bench, and so does a picker running out of lines. At the
//! end the picked quantity in the database must equal the confirmed answers and
//! `GET /v1/admin/consistency` must answer `consistent: true`. Only talks to loopback; the load
//! generator shares the machine's cores with the server, so the figures are a floor. Does
//! nothing unless argv contains `--bench`.

#[path = "common/scratch.rs"]
mod scratch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use depot::app::{AppState, serve};
use depot::config::{Config, Secret};
use depot::db::Db;
use serde_json::{Value, json};

const WARMUP: Duration = Duration::from_secs(1);
const BINS: usize = 200;
const ITEMS: usize = 1_000;
const ON_HAND: i64 = 1_000;
const GS: char = '\u{1d}';

struct Params {
    pickers: usize,
    lists_per_picker: usize,
    lines_per_list: usize,
    run: Duration,
}

fn gtin14(i: usize) -> String {
    let body = format!("{:012}", 400_000_000_000i64 + i as i64);
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    format!("0{body}{}", depot::catalog::gtin::check_digit(&digits))
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

/// A small JSON client for seeding: every answer must have the expected status.
struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value, expect: u16) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        anyhow::ensure!(status == expect, "POST {path}: {status} {answer}");
        Ok(answer)
    }
}

/// One scan a picker sends, and the outcome it must get.
struct Step {
    list: i64,
    scan: String,
    confirms: bool,
}

struct Seeded {
    /// Per picker, its scans in order over all its lists.
    plans: Vec<Vec<Step>>,
    lines: usize,
}

async fn seed(db: &Db, api: &Api, p: &Params) -> anyhow::Result<Seeded> {
    let admin: i64 = ids(db, "select id from users where username = 'admin'").await?[0];
    let warehouse = depot::catalog::warehouses::create(
        db,
        serde_json::from_value(json!({"code": "PB", "name": "Picking bench"}))?,
    )
    .await?
    .id;
    let mut bins = Vec::with_capacity(BINS);
    for i in 0..BINS {
        let bin = depot::catalog::warehouses::create_location(
            db,
            warehouse,
            serde_json::from_value(json!({"code": format!("B{i:03}"), "pick_sequence": i + 1}))?,
        )
        .await?;
        bins.push(bin);
    }
    let barcodes: HashMap<i64, String> = bins.iter().map(|b| (b.id, b.barcode.clone())).collect();
    let pack = depot::catalog::warehouses::create_location(
        db,
        warehouse,
        serde_json::from_value(json!({"code": "PACK"}))?,
    )
    .await?
    .id;

    let items: Vec<String> = (0..ITEMS)
        .map(|i| {
            format!(
                "('PICK-{i:04}', 'Picking bench item {i}', 'pcs', 'batch', 'purchased', false, $1, $1)"
            )
        })
        .collect();
    insert_rows(
        db,
        "insert into items (code, name, unit, tracking, source, requires_certificate, created_at, updated_at)",
        &items,
    )
    .await?;
    let item_ids = ids(
        db,
        "select id from items where code like 'PICK-%' order by code",
    )
    .await?;
    anyhow::ensure!(item_ids.len() == ITEMS);
    let gtins: Vec<String> = item_ids
        .iter()
        .enumerate()
        .map(|(i, id)| format!("('{}', {id}, 1)", gtin14(i)))
        .collect();
    insert_rows(
        db,
        "insert into item_gtins (gtin, item_id, quantity)",
        &gtins,
    )
    .await?;
    let gtin_of: HashMap<i64, String> = item_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, gtin14(i)))
        .collect();

    // Item i lies in bin i % BINS, one batch of ON_HAND units expiring in a year.
    let expiry = (depot::db::now().date() + time::Duration::days(365)).to_string();
    for (b, bin) in bins.iter().enumerate() {
        let lines: Vec<Value> = (b..ITEMS)
            .step_by(BINS)
            .map(|i| {
                json!({"item_id": item_ids[i], "quantity": ON_HAND,
                       "batch": format!("L{i:04}"), "expiry": expiry})
            })
            .collect();
        api.post(
            "/v1/receipts",
            json!({"warehouse_id": warehouse, "location_id": bin.id, "lines": lines}),
            201,
        )
        .await?;
    }

    insert_rows(
        db,
        "insert into customers (legal_name, kind, created_at, updated_at)",
        &["('Picking bench Ltd', 'company', $1, $1)".to_string()],
    )
    .await?;
    let customer = ids(
        db,
        "select id from customers where legal_name = 'Picking bench Ltd'",
    )
    .await?[0];
    let deals_wanted = p.pickers * p.lists_per_picker;
    let deal =
        format!("({customer}, {admin}, 'picking bench', 'selection', 'won', 'EUR', $1, $1, $1)");
    insert_rows(
        db,
        "insert into deals (customer_id, owner_id, title, stage, status, currency, created_at, updated_at, closed_at)",
        &vec![deal; deals_wanted],
    )
    .await?;
    let deals = ids(
        db,
        "select id from deals where title = 'picking bench' order by id",
    )
    .await?;
    let lines: Vec<String> = deals
        .iter()
        .enumerate()
        .flat_map(|(d, deal)| {
            let item_ids = &item_ids;
            (0..p.lines_per_list).map(move |k| {
                let item = item_ids[(d * p.lines_per_list + k) % ITEMS];
                format!("({deal}, {}, {item}, 1, 100)", k + 1)
            })
        })
        .collect();
    insert_rows(
        db,
        "insert into deal_lines (deal_id, line_no, item_id, quantity, unit_price)",
        &lines,
    )
    .await?;

    // Deal d goes to picker d % pickers.
    let mut plans: Vec<Vec<Step>> = (0..p.pickers).map(|_| Vec::new()).collect();
    let mut total_lines = 0;
    for (d, deal) in deals.iter().enumerate() {
        let reserved = api
            .post(
                &format!("/v1/deals/{deal}/reserve"),
                json!({"warehouse_id": warehouse}),
                200,
            )
            .await?;
        let held: i64 = reserved["lines"]
            .as_array()
            .map(|l| l.iter().filter_map(|l| l["reserved"].as_i64()).sum())
            .unwrap_or(0);
        anyhow::ensure!(
            held == p.lines_per_list as i64,
            "deal {deal}: {held} reserved: {reserved}"
        );
        let list = api
            .post(
                "/v1/pick-lists",
                json!({"deal_ids": [deal], "warehouse_id": warehouse, "packing_location_id": pack}),
                201,
            )
            .await?;
        let id = list["id"].as_i64().unwrap_or_default();
        let plan = &mut plans[d % p.pickers];
        let mut at = None;
        for line in list["lines"].as_array().into_iter().flatten() {
            let location = line["location_id"].as_i64().unwrap_or_default();
            if at != Some(location) {
                plan.push(Step {
                    list: id,
                    scan: barcodes[&location].clone(),
                    confirms: false,
                });
                at = Some(location);
            }
            // 2027-11-26 -> 271126
            let expiry: String = line["expiry_date"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .filter(char::is_ascii_digit)
                .skip(2)
                .collect();
            let item = line["item_id"].as_i64().unwrap_or_default();
            plan.push(Step {
                list: id,
                scan: format!(
                    "]C101{}17{expiry}{GS}10{}",
                    gtin_of[&item],
                    line["batch_code"].as_str().unwrap_or_default()
                ),
                confirms: true,
            });
            anyhow::ensure!(line["quantity"] == 1, "a line of one unit: {line}");
            total_lines += 1;
        }
    }
    Ok(Seeded {
        plans,
        lines: total_lines,
    })
}

/// One answered scan: when it was sent, how long it took, whether it was a goods scan.
struct Sample {
    sent: Instant,
    latency: Duration,
    confirms: bool,
}

#[derive(Default)]
struct PickerRun {
    samples: Vec<Sample>,
    errors: usize,
    exhausted: bool,
    /// The scans the picker did not get to, for the next phase.
    left: Vec<Step>,
}

/// How the pickers' scans reach Depot.
#[derive(Clone)]
enum Via {
    /// `POST /v1/pick-lists/{id}/scans` on a keep-alive connection with this token.
    Http {
        client: reqwest::Client,
        base: String,
        token: Arc<String>,
    },
    /// What that route does below HTTP (session read, list check, scan interpreted and logged,
    /// the pick in a request's transaction, answer serialised, commit), called in-process: the
    /// ceiling of the database path.
    Direct {
        state: AppState,
        picker: Arc<depot::auth::UserPrincipal>,
    },
}

impl Via {
    /// Sends one scan: the outcome Depot answered, or what went wrong.
    async fn send(&self, step: &Step) -> Result<String, String> {
        match self {
            Via::Http {
                client,
                base,
                token,
            } => {
                let answer = client
                    .post(format!("{base}/v1/pick-lists/{}/scans", step.list))
                    .bearer_auth(token.as_str())
                    .json(&json!({ "scan": step.scan }))
                    .send()
                    .await
                    .map_err(|e| format!("transport: {e}"))?;
                let status = answer.status();
                if !status.is_success() {
                    return Err(format!(
                        "{status} {}",
                        answer.text().await.unwrap_or_default()
                    ));
                }
                let body: Value = answer.json().await.unwrap_or(Value::Null);
                body["outcome"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("no outcome: {body}"))
            }
            Via::Direct { state, picker } => pick_without_http(state, picker, step)
                .await
                .map_err(|e| format!("{e:?}")),
        }
    }
}

async fn pick_without_http(
    state: &AppState,
    picker: &depot::auth::UserPrincipal,
    step: &Step,
) -> depot::error::Result<String> {
    use depot::fulfilment::picking;
    depot::auth::users::session(&state.db, picker.id, picker.generation).await?;
    let caller = depot::scanning::Caller {
        user_id: Some(picker.id),
        ..Default::default()
    };
    let scope = depot::db::request::Scope::new(&state.db);
    let answer = scope
        .run(async {
            picking::exists(&state.db, step.list).await?;
            let result = state
                .scanning
                .scan_field(&state.db, &caller, step.scan.clone(), None)
                .await?;
            let scanned: picking::Scanned = result.target(None, "picked")?.into();
            let actor = depot::stock::operations::Actor {
                user_id: Some(picker.id),
                device_id: None,
            };
            picking::scan(&state.db, step.list, scanned, None, actor).await
        })
        .await?;
    let _body = serde_json::to_vec(&answer).expect("a pick scan serialises");
    scope.commit(false, async |_| Ok(true)).await?;
    Ok(answer.outcome.to_string())
}

/// Every picker walks its plan until `until`, closed loop.
async fn pick(
    via: &Via,
    plans: Vec<Vec<Step>>,
    until: Instant,
    first_error: &Arc<Mutex<Option<String>>>,
) -> Vec<PickerRun> {
    let tasks: Vec<_> = plans
        .into_iter()
        .map(|plan| {
            let via = via.clone();
            let first_error = first_error.clone();
            tokio::spawn(async move {
                let mut out = PickerRun::default();
                let mut steps = plan.into_iter();
                while Instant::now() < until {
                    let Some(step) = steps.next() else {
                        out.exhausted = true;
                        break;
                    };
                    let sent = Instant::now();
                    let want = if step.confirms {
                        "confirmed"
                    } else {
                        "location"
                    };
                    let problem = match via.send(&step).await {
                        Ok(outcome) if outcome == want => None,
                        Ok(outcome) => Some(format!("{}: wanted {want}, got {outcome}", step.scan)),
                        Err(e) => Some(format!("{}: {e}", step.scan)),
                    };
                    out.samples.push(Sample {
                        sent,
                        latency: sent.elapsed(),
                        confirms: step.confirms,
                    });
                    if let Some(p) = problem {
                        out.errors += 1;
                        first_error
                            .lock()
                            .unwrap()
                            .get_or_insert_with(|| p.chars().take(400).collect());
                    }
                }
                out.left = steps.collect();
                out
            })
        })
        .collect();
    let mut runs = Vec::new();
    for t in tasks {
        runs.push(t.await.unwrap_or_default());
    }
    runs
}

/// Requests/s, p50 and p99 in ms, and the count, of latencies over `seconds`.
fn rate(mut latencies: Vec<Duration>, seconds: f64) -> (f64, f64, f64, usize) {
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0)
    };
    (
        latencies.len() as f64 / seconds,
        pct(0.50),
        pct(0.99),
        latencies.len(),
    )
}

/// The /healthz ceiling with `connections` keep-alive connections, closed loop, for `run`.
async fn ceiling(
    client: &reqwest::Client,
    base: &str,
    connections: usize,
    run: Duration,
) -> ((f64, f64, f64, usize), usize) {
    let until = Instant::now() + WARMUP + run;
    let measured_from = Instant::now() + WARMUP;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let (client, url) = (client.clone(), format!("{base}/healthz"));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                while Instant::now() < until {
                    let sent = Instant::now();
                    let ok = match client.get(&url).send().await {
                        Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                        Err(_) => false,
                    };
                    if sent >= measured_from {
                        latencies.push(sent.elapsed());
                    }
                    errors += usize::from(!ok);
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap_or_default();
        all.extend(l);
        errors += e;
    }
    (rate(all, run.as_secs_f64()), errors)
}

/// One phase of picking: every picker's answers over a warm-up and then `run`.
struct Phase {
    runs: Vec<PickerRun>,
    measured_from: Instant,
    until: Instant,
    seconds: f64,
    first_error: Arc<Mutex<Option<String>>>,
}

async fn phase(via: &Via, plans: Vec<Vec<Step>>, run: Duration) -> Phase {
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let measured_from = Instant::now() + WARMUP;
    let until = measured_from + run;
    let runs = pick(via, plans, until, &first_error).await;
    let window = until
        .min(Instant::now())
        .saturating_duration_since(measured_from);
    Phase {
        runs,
        measured_from,
        until,
        seconds: window.as_secs_f64(),
        first_error,
    }
}

impl Phase {
    /// Scans per second and latency in the measured window: goods scans (`Some(true)`),
    /// location scans (`Some(false)`) or all.
    fn rate(&self, confirms: Option<bool>) -> (f64, f64, f64, usize) {
        let latencies = self
            .runs
            .iter()
            .flat_map(|r| &r.samples)
            .filter(|s| s.sent >= self.measured_from && s.sent < self.until)
            .filter(|s| confirms.is_none_or(|c| s.confirms == c))
            .map(|s| s.latency)
            .collect();
        rate(latencies, self.seconds)
    }

    fn errors(&self) -> usize {
        self.runs.iter().map(|r| r.errors).sum()
    }

    fn exhausted(&self) -> usize {
        self.runs.iter().filter(|r| r.exhausted).count()
    }

    /// Confirmed answers, warm-up included.
    fn confirmed(&self) -> usize {
        self.runs
            .iter()
            .flat_map(|r| &r.samples)
            .filter(|s| s.confirms)
            .count()
    }
}

async fn bench(state: AppState, p: Params, backend: &str) -> anyhow::Result<()> {
    let db = state.db.clone();
    let serving = state.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, serving, async {
        let _ = stopped.await;
    }));

    let result = async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(p.pickers.max(8))
            .build()?;
        let login = |username: &'static str, password: &'static str| {
            let (client, base) = (client.clone(), base.clone());
            async move {
                let answer: Value = client
                    .post(format!("{base}/v1/auth/login"))
                    .json(&json!({"username": username, "password": password}))
                    .send()
                    .await?
                    .json()
                    .await?;
                answer["access_token"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or_else(|| anyhow::anyhow!("login {username}: {answer}"))
            }
        };
        let api = Api {
            client: client.clone(),
            base: base.clone(),
            token: login("admin", "bench-password").await?,
        };
        api.post(
            "/v1/users",
            json!({"username": "picker", "password": "picker-password", "role": "warehouse"}),
            201,
        )
        .await?;
        let token = Arc::new(login("picker", "picker-password").await?);

        let seeded_at = Instant::now();
        let seeded = seed(&db, &api, &p).await?;
        println!(
            "seeded {ITEMS} items in {BINS} bins, {} pick lists of {} lines ({} lines) in {:.1}s",
            p.pickers * p.lists_per_picker,
            p.lines_per_list,
            seeded.lines,
            seeded_at.elapsed().as_secs_f64()
        );

        let (health, health_errors) = ceiling(&client, &base, p.pickers, p.run).await;

        let picker = Arc::new(
            depot::auth::users::authenticate(&db, "picker", "picker-password").await?,
        );
        let http = Via::Http {
            client: client.clone(),
            base: base.clone(),
            token: token.clone(),
        };
        let direct = Via::Direct {
            state: state.clone(),
            picker,
        };
        // Over HTTP first, then the same pickers carry on with their next scans below HTTP.
        let mut over_http = phase(&http, seeded.plans, p.run).await;
        let left: Vec<Vec<Step>> = over_http
            .runs
            .iter_mut()
            .map(|r| std::mem::take(&mut r.left))
            .collect();
        let below_http = phase(&direct, left, p.run).await;

        let picked: i64 = depot::on_read!(&db, pool => {
            sqlx::query_scalar::<_, i64>(
                "select cast(coalesce(sum(picked), 0) as bigint) from pick_list_lines",
            )
            .fetch_one(pool)
            .await?
        });
        let consistency: Value = client
            .get(format!("{base}/v1/admin/consistency"))
            .bearer_auth(&api.token)
            .send()
            .await?
            .json()
            .await?;

        println!(
            "\nbackend: {backend}   pickers: {} (one connection and one pick list at a time each)   run: {:.1}s + {:.1}s (+{}s warm-up each)",
            p.pickers,
            over_http.seconds,
            below_http.seconds,
            WARMUP.as_secs()
        );
        println!(
            "{:<40} {:>9} {:>9} {:>9} {:>11} {:>9}",
            "", "per s", "p50 ms", "p99 ms", "of ceiling", "count"
        );
        let row = |name: &str, r: (f64, f64, f64, usize)| {
            println!(
                "{name:<40} {:>9.0} {:>9.2} {:>9.2} {:>10.1}% {:>9}",
                r.0,
                r.1,
                r.2,
                100.0 * r.0 / health.0,
                r.3
            );
        };
        row("GET /healthz (ceiling)", health);
        row("confirmed pick scans (GS1 goods)", over_http.rate(Some(true)));
        row("location scans", over_http.rate(Some(false)));
        row("all scans", over_http.rate(None));
        row("confirmed picks without HTTP", below_http.rate(Some(true)));
        row("location scans without HTTP", below_http.rate(Some(false)));
        row("all scans without HTTP", below_http.rate(None));
        let errors = over_http.errors() + below_http.errors();
        let exhausted = over_http.exhausted() + below_http.exhausted();
        let confirmed_total = over_http.confirmed() + below_http.confirmed();
        println!(
            "errors (error status, refusal or wrong outcome): {errors}; pickers out of lines: {exhausted}"
        );
        for e in [&over_http.first_error, &below_http.first_error] {
            if let Some(e) = e.lock().unwrap().as_ref() {
                println!("first error: {e}");
            }
        }
        println!(
            "picked in the database: {picked}; confirmed answers (incl. warm-up): {confirmed_total}"
        );
        println!(
            "consistency: {}",
            if consistency["consistent"] == json!(true) {
                "consistent".to_string()
            } else {
                consistency.to_string()
            }
        );
        anyhow::ensure!(errors == 0, "{errors} scans did not get the expected answer");
        anyhow::ensure!(health_errors == 0, "{health_errors} /healthz requests failed");
        anyhow::ensure!(
            exhausted == 0,
            "{exhausted} pickers ran out of lines before the end: raise DEPOT_BENCH_LISTS"
        );
        anyhow::ensure!(
            picked as usize == confirmed_total,
            "{picked} picked in the database for {confirmed_total} confirmed answers"
        );
        anyhow::ensure!(
            consistency["consistent"] == json!(true),
            "GET /v1/admin/consistency: {consistency}"
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
    let params = Params {
        pickers: env("DEPOT_BENCH_PICKERS", 16).max(1) as usize,
        lists_per_picker: env("DEPOT_BENCH_LISTS", 20).max(1) as usize,
        lines_per_list: (env("DEPOT_BENCH_LINES", 40) as usize).clamp(1, 500),
        run: Duration::from_secs(env("DEPOT_BENCH_SECONDS", 5)),
    };
    let scratch = scratch::Scratch::create("picking").await?;
    let backend = scratch.backend;
    let config = Config {
        database_url: scratch.url.clone(),
        admin_password: Some(Secret::new("bench-password")),
        ..Config::default()
    };
    let result = match AppState::start(config).await {
        Ok(state) => bench(state, params, backend).await,
        Err(e) => Err(e),
    };
    scratch.remove().await?;
    result
}
