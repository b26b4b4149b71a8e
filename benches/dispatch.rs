//! Dispatching a 100-parcel shipment, against ceilings measured in the same run:
//!
//! 1. the dispatch (`shipping::dispatch`: checks, carrier booking, 190 `ship` movements
//!    consuming reservations, status change, in one transaction) against the raw posting of
//!    the same 190 movements through `stock::ledger::post` (a twin shipment of another deal);
//! 2. all 100 labels in one document (`shipping::labels`: data in three queries, then
//!    rendered) as ZPL and as PDF, against one label's render × 100; and the label data alone
//!    against fetching it parcel by parcel with the per-record functions (N× round trips);
//! 3. (issue 22) the dispatch of a consolidated shipment: 100 boxes of 10 deals of one
//!    customer (10 boxes a deal, every box one X and two Y of its deal), 200 `ship` movements
//!    each against its own deal, against the raw posting of the same movements (a twin);
//! 4. queueing the 100 label jobs and the delivery note (`shipping::documents::print_dispatched`
//!    through `printing::jobs::submit`; the worker is stopped, nothing is sent).
//!
//! ```text
//! cargo bench --bench dispatch                                   # SQLite (scratch file)
//! DEPOT_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench dispatch
//! DEPOT_BENCH_RUNS=15 cargo bench --bench dispatch
//! ```
//!
//! Each run sets up its two shipments through the HTTP API (Depot in-process on 127.0.0.1,
//! port 0): two deals of 95 × item X (batch B1) and 190 × item Y reserved in one warehouse,
//! each packed into 5 pallets holding 95 boxes (19 a pallet), every box one X and two Y.
//! Figures: median and worst of the runs. Does nothing unless argv contains `--bench`.

#[path = "common/scratch.rs"]
mod scratch;

use std::time::{Duration, Instant};

use depot::app::{AppState, serve};
use depot::config::{Config, Secret};
use depot::db::Db;
use depot::labels::Format;
use depot::printing::jobs::Submitter;
use depot::shipping::{self, documents};
use depot::stock::ledger::{self, MovementType, NewMovement};
use depot::stock::operations::Actor;
use serde_json::{Value, json};

const PALLETS: usize = 5;
const BOXES: usize = 95;
const DPI: u32 = 203;

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let value: Value = response.json().await?;
        anyhow::ensure!(status.is_success(), "POST {path}: {status} {value}");
        Ok(value)
    }

    async fn id(&self, path: &str, body: Value) -> anyhow::Result<i64> {
        let value = self.post(path, body).await?;
        value["id"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("POST {path}: no id in {value}"))
    }
}

struct Fixture {
    warehouse: i64,
    customer: i64,
    x: i64,
    y: i64,
}

async fn fixture(api: &Api) -> anyhow::Result<Fixture> {
    let x = api
        .id(
            "/v1/items",
            json!({"code": "X", "name": "Yoghurt", "tracking": "batch",
                   "gtins": [{"gtin": "09506000134352", "quantity": 1}]}),
        )
        .await?;
    let y = api
        .id(
            "/v1/items",
            json!({"code": "Y", "name": "Bolt", "gtins": ["4006381333931"]}),
        )
        .await?;
    let warehouse = api
        .id(
            "/v1/warehouses",
            json!({"code": "BENCH", "name": "Bench warehouse", "address": "Kaiweg 7\n20457 Hamburg"}),
        )
        .await?;
    let location = api
        .id(
            &format!("/v1/warehouses/{warehouse}/locations"),
            json!({"code": "A"}),
        )
        .await?;
    let expiry = (depot::db::now().date() + time::Duration::days(365)).to_string();
    api.post(
        "/v1/receipts",
        json!({"warehouse_id": warehouse, "location_id": location, "lines": [
            {"item_id": x, "quantity": 1_000_000, "batch": "B1", "expiry": expiry},
            {"item_id": y, "quantity": 1_000_000}]}),
    )
    .await?;
    let customer = api
        .id(
            "/v1/customers",
            json!({"legal_name": "Bench Customer GmbH", "addresses": [
                {"line1": "Marktplatz 5", "city": "München", "postal_code": "80331",
                 "country": "DE", "preferred_shipping": true}]}),
        )
        .await?;
    Ok(Fixture {
        warehouse,
        customer,
        x,
        y,
    })
}

/// A deal reserved and packed into 5 pallets of 19 boxes, in one packed shipment.
async fn packed(api: &Api, f: &Fixture) -> anyhow::Result<(i64, i64)> {
    let deal = api
        .id(
            "/v1/deals",
            json!({"customer_id": f.customer, "title": "Bench dispatch", "lines": [
                {"item_id": f.x, "quantity": BOXES}, {"item_id": f.y, "quantity": 2 * BOXES}]}),
        )
        .await?;
    api.post(
        &format!("/v1/deals/{deal}/reserve"),
        json!({"warehouse_id": f.warehouse}),
    )
    .await?;
    let mut parcels = Vec::new();
    let mut pallets = Vec::new();
    for _ in 0..PALLETS {
        let pallet = api
            .id(
                "/v1/parcels",
                json!({"deal_id": deal, "warehouse_id": f.warehouse, "package_type": "pallet"}),
            )
            .await?;
        pallets.push(pallet);
        parcels.push(pallet);
    }
    for i in 0..BOXES {
        parcels.push(
            api.id(
                "/v1/parcels",
                json!({"deal_id": deal, "warehouse_id": f.warehouse, "package_type": "box",
                       "parent_id": pallets[i % PALLETS], "weight_kg": 1.25,
                       "contents": [{"item_id": f.x, "batch": "B1", "quantity": 1},
                                    {"item_id": f.y, "quantity": 2}]}),
            )
            .await?,
        );
    }
    let shipment = api
        .id(
            "/v1/shipments",
            json!({"deal_id": deal, "warehouse_id": f.warehouse, "service_level": "economy",
                   "paid_by": "sender", "parcel_ids": parcels}),
        )
        .await?;
    Ok((deal, shipment))
}

/// Deals of one customer in one consolidated shipment.
const DEALS: usize = 10;

/// 10 deals reserved and packed into 10 boxes each, all in one packed shipment (issue 22).
async fn packed_consolidated(api: &Api, f: &Fixture) -> anyhow::Result<i64> {
    let per_deal = (PALLETS + BOXES) / DEALS;
    let mut deals = Vec::new();
    for _ in 0..DEALS {
        let deal = api
            .id(
                "/v1/deals",
                json!({"customer_id": f.customer, "title": "Bench consolidated", "lines": [
                    {"item_id": f.x, "quantity": per_deal}, {"item_id": f.y, "quantity": 2 * per_deal}]}),
            )
            .await?;
        api.post(
            &format!("/v1/deals/{deal}/reserve"),
            json!({"warehouse_id": f.warehouse}),
        )
        .await?;
        deals.push(deal);
    }
    let shipment = api
        .id(
            "/v1/shipments",
            json!({"deal_ids": deals, "warehouse_id": f.warehouse, "cod_amount": 10_000}),
        )
        .await?;
    for deal in &deals {
        for _ in 0..per_deal {
            api.id(
                "/v1/parcels",
                json!({"shipment_id": shipment, "package_type": "box", "weight_kg": 1.25,
                       "contents": [{"deal_id": deal, "item_id": f.x, "batch": "B1", "quantity": 1},
                                    {"deal_id": deal, "item_id": f.y, "quantity": 2}]}),
            )
            .await?;
        }
    }
    Ok(shipment)
}

/// The movements a dispatch of `shipment` posts, built outside the clock: one `ship` movement
/// per parcel content line, consuming its deal's reservation of that item and batch.
async fn ship_movements(db: &Db, shipment: i64, admin: i64) -> anyhow::Result<Vec<NewMovement>> {
    let s = shipping::get(db, shipment).await?;
    let mut reservations: Vec<(i64, i64, Option<i64>, i64, i64)> = Vec::new();
    for deal in &s.deal_ids {
        let of_deal: Vec<(i64, i64, Option<i64>, i64, i64)> = depot::on_read!(db, pool => {
            sqlx::query_as(
                "select id, item_id, batch_id, location_id, deal_id from reservations where deal_id = $1",
            )
            .bind(deal)
            .fetch_all(pool)
            .await?
        });
        reservations.extend(of_deal);
    }
    let mut out = Vec::new();
    for p in &s.parcels {
        for c in &p.contents {
            let r = reservations
                .iter()
                .find(|r| r.4 == c.deal_id && r.1 == c.item_id && r.2 == c.batch_id)
                .ok_or_else(|| anyhow::anyhow!("no reservation for item {}", c.item_id))?;
            out.push(NewMovement {
                item_id: c.item_id,
                batch_id: c.batch_id,
                warehouse_id: s.warehouse_id,
                location_id: r.3,
                quantity: -c.quantity,
                kind: MovementType::Ship,
                user_id: Some(admin),
                device_id: None,
                document_type: Some("shipment".into()),
                document_id: Some(shipment),
                deal_id: Some(c.deal_id),
                note: Some(format!("parcel {}", p.code)),
                reservation_id: Some(r.0),
            });
        }
    }
    Ok(out)
}

/// The label data fetched parcel by parcel with the per-record functions (what one label's
/// route did before the shipment's labels were fetched together): parcel, warehouse, shipment,
/// item, batch for every parcel.
async fn label_data_one_by_one(db: &Db, shipment: i64) -> anyhow::Result<usize> {
    let s = shipping::get(db, shipment).await?;
    let mut n = 0;
    for p in &s.parcels {
        let parcel = shipping::parcel(db, p.id).await?;
        depot::catalog::warehouses::get(db, parcel.warehouse_id).await?;
        shipping::get(db, shipment).await?;
        if let [c] = parcel.contents.as_slice() {
            depot::catalog::items::get(db, c.item_id).await?;
            if let Some(b) = c.batch_id {
                depot::stock::batches::get(db, b).await?;
            }
        }
        n += 1;
    }
    Ok(n)
}

#[derive(Default)]
struct Series(Vec<Duration>);

impl Series {
    fn push(&mut self, d: Duration) {
        self.0.push(d);
    }
    fn median(&self) -> Duration {
        let mut v = self.0.clone();
        v.sort();
        v[v.len() / 2]
    }
    fn worst(&self) -> Duration {
        self.0.iter().copied().max().unwrap_or_default()
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn timed<T>(
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<(Duration, T)> {
    let t = Instant::now();
    let out = f.await?;
    Ok((t.elapsed(), out))
}

#[derive(Default)]
struct Figures {
    dispatch: Series,
    raw_post: Series,
    consolidated: Series,
    consolidated_raw: Series,
    zpl: Series,
    zpl_ceiling: Series,
    pdf: Series,
    pdf_ceiling: Series,
    data: Series,
    data_one_by_one: Series,
    queue: Series,
}

async fn run_once(
    api: &Api,
    state: &AppState,
    f: &Fixture,
    printers: (i64, i64),
    admin: i64,
    fig: &mut Figures,
) -> anyhow::Result<(usize, usize, usize, usize)> {
    let db = &state.db;
    let (_, dispatched) = packed(api, f).await?;
    let (_, twin) = packed(api, f).await?;
    let movements = ship_movements(db, twin, admin).await?;
    let n_movements = movements.len();

    let actor = Actor {
        user_id: Some(admin),
        device_id: None,
    };
    // Alternate which of the two goes first, so neither always meets a warmer (or busier)
    // database.
    let raw_first = fig.dispatch.0.len() % 2 == 1;
    if raw_first {
        let (d, raw) = timed(async { Ok(ledger::post(db, movements.clone()).await?) }).await?;
        anyhow::ensure!(raw.len() == n_movements);
        fig.raw_post.push(d);
    }
    let (d, (shipment, posted)) =
        timed(async { Ok(shipping::dispatch(db, dispatched, actor).await?) }).await?;
    anyhow::ensure!(
        posted.len() == n_movements,
        "dispatch posted {} movements",
        posted.len()
    );
    fig.dispatch.push(d);
    if !raw_first {
        let (d, raw) = timed(async { Ok(ledger::post(db, movements).await?) }).await?;
        anyhow::ensure!(raw.len() == n_movements);
        fig.raw_post.push(d);
    }

    // Issue 22: a consolidated shipment of 10 deals against the raw post of its movements.
    let together = packed_consolidated(api, f).await?;
    let twin_together = packed_consolidated(api, f).await?;
    let movements = ship_movements(db, twin_together, admin).await?;
    let n_together = movements.len();
    if raw_first {
        let (d, raw) = timed(async { Ok(ledger::post(db, movements.clone()).await?) }).await?;
        anyhow::ensure!(raw.len() == n_together);
        fig.consolidated_raw.push(d);
    }
    let (d, (_, posted)) =
        timed(async { Ok(shipping::dispatch(db, together, actor).await?) }).await?;
    anyhow::ensure!(
        posted.len() == n_together,
        "consolidated dispatch posted {}",
        posted.len()
    );
    fig.consolidated.push(d);
    if !raw_first {
        let (d, raw) = timed(async { Ok(ledger::post(db, movements).await?) }).await?;
        anyhow::ensure!(raw.len() == n_together);
        fig.consolidated_raw.push(d);
    }

    let labels = &state.labels;
    let (d, zpl) =
        timed(async { Ok(shipping::labels(db, labels, dispatched, Format::Zpl, DPI).await?) })
            .await?;
    fig.zpl.push(d);
    let (d, pdf) =
        timed(async { Ok(shipping::labels(db, labels, dispatched, Format::Pdf, DPI).await?) })
            .await?;
    fig.pdf.push(d);
    let one = shipping::label_data(db, dispatched).await?;
    let sample = one[PALLETS].data.clone();
    for (format, series) in [
        (Format::Zpl, &mut fig.zpl_ceiling),
        (Format::Pdf, &mut fig.pdf_ceiling),
    ] {
        let t = Instant::now();
        for _ in 0..one.len() {
            std::hint::black_box(labels.render(documents::LABEL_TEMPLATE, format, DPI, &sample)?);
        }
        series.push(t.elapsed());
    }
    let (d, data) = timed(async { Ok(shipping::label_data(db, dispatched).await?) }).await?;
    anyhow::ensure!(data.len() == PALLETS + BOXES);
    fig.data.push(d);
    let (d, n) = timed(label_data_one_by_one(db, dispatched)).await?;
    anyhow::ensure!(n == PALLETS + BOXES);
    fig.data_one_by_one.push(d);

    let request = documents::PrintRequest {
        label_printer_id: Some(printers.0),
        document_printer_id: Some(printers.1),
        ..Default::default()
    };
    let by = Submitter {
        user_id: Some(admin),
        device_id: None,
        may_send_raw: false,
    };
    let (d, printed) = timed(async {
        Ok(documents::print_dispatched(db, &state.printing, &shipment, &request, by).await)
    })
    .await?;
    anyhow::ensure!(
        printed.print_errors.is_empty() && printed.print_jobs.len() == PALLETS + BOXES + 1,
        "print errors: {:?}",
        printed.print_errors
    );
    fig.queue.push(d);
    Ok((n_movements, zpl.bytes.len(), pdf.bytes.len(), data.len()))
}

async fn bench(state: AppState, runs: usize, backend: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    let result = async {
        let client = reqwest::Client::new();
        let login: Value = client
            .post(format!("{base}/v1/auth/login"))
            .json(&json!({"username": "admin", "password": "bench-password"}))
            .send()
            .await?
            .json()
            .await?;
        let token = login["access_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("login failed: {login}"))?
            .to_string();
        // Queued jobs stay queued: the figures are Depot's, not a printer's.
        state.printing.stop_worker(Duration::from_secs(1)).await;
        let api = Api {
            client,
            base,
            token,
        };
        let admin: i64 = depot::on_read!(&state.db, pool => {
            sqlx::query_scalar("select id from users where username = 'admin'")
                .fetch_one(pool)
                .await?
        });
        let f = fixture(&api).await?;
        let zebra = api
            .id(
                "/v1/devices",
                json!({"name": "zebra", "kind": "printer", "profile": "zebra-203-4x6",
                       "address": "127.0.0.1:9"}),
            )
            .await?;
        let paper = api
            .id(
                "/v1/devices",
                json!({"name": "paper", "kind": "printer", "profile": "pdf-file"}),
            )
            .await?;
        let mut fig = Figures::default();
        let mut sizes = (0, 0, 0, 0);
        let started = Instant::now();
        // One untimed warm-up run, then the timed ones.
        for run in 0..=runs {
            let mut scratch = Figures::default();
            let target = if run == 0 { &mut scratch } else { &mut fig };
            sizes = run_once(&api, &state, &f, (zebra, paper), admin, target).await?;
        }
        let (movements, zpl_bytes, pdf_bytes, parcels) = sizes;
        println!(
            "backend: {backend}   parcels: {parcels} ({PALLETS} pallets, {BOXES} boxes)   movements: {movements}   runs: {runs} (+1 warm-up)   {:.0}s in all",
            started.elapsed().as_secs_f64()
        );
        println!(
            "{:<44} {:>10} {:>10} {:>10} {:>10}",
            "", "median", "worst", "ceiling", "ratio"
        );
        let row = |name: &str, s: &Series, ceiling: Option<&Series>| {
            let (c, r) = match ceiling {
                Some(c) => (
                    ms(c.median()),
                    format!(
                        "{:.2}x",
                        s.median().as_secs_f64() / c.median().as_secs_f64()
                    ),
                ),
                None => ("-".into(), "-".into()),
            };
            println!(
                "{name:<44} {:>10} {:>10} {c:>10} {r:>10}",
                ms(s.median()),
                ms(s.worst())
            );
        };
        row("dispatch (190 ship movements)", &fig.dispatch, Some(&fig.raw_post));
        row("  ceiling: ledger::post of the same 190", &fig.raw_post, None);
        row(
            "consolidated: 100 boxes of 10 deals (200)",
            &fig.consolidated,
            Some(&fig.consolidated_raw),
        );
        row("  ceiling: ledger::post of the same 200", &fig.consolidated_raw, None);
        row(
            &format!("labels ZPL {DPI} dpi, 100 in one ({zpl_bytes} B)"),
            &fig.zpl,
            Some(&fig.zpl_ceiling),
        );
        row("  ceiling: one label's ZPL x 100", &fig.zpl_ceiling, None);
        row(
            &format!("labels PDF, 100 pages ({pdf_bytes} B)"),
            &fig.pdf,
            Some(&fig.pdf_ceiling),
        );
        row("  ceiling: one label's PDF x 100", &fig.pdf_ceiling, None);
        row("label data, 3 queries", &fig.data, None);
        row("label data parcel by parcel (N x records)", &fig.data_one_by_one, Some(&fig.data));
        row("queue 100 label jobs + delivery note", &fig.queue, None);
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
    let runs = std::env::var("DEPOT_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7usize)
        .max(1);
    let scratch = scratch::Scratch::create("dispatch").await?;
    let backend = scratch.backend;
    let config = Config {
        database_url: scratch.url.clone(),
        admin_password: Some(Secret::new("bench-password")),
        gs1_company_prefix: Some("0614141".into()),
        jobs: false,
        ..Config::default()
    };
    let result = match AppState::start(config).await {
        Ok(state) => bench(state, runs, backend).await,
        Err(e) => Err(e),
    };
    scratch.remove().await?;
    result
}
