//! Data in and out at size (issue 18), on the real `depot` binary serving a scratch database:
//!
//! 1. **Import:** 100,000 item rows (each with a GTIN-13 and a case GTIN-14 of 12) sent as one
//!    CSV file to `POST /v1/imports/items`, which answers 202; the job is followed with
//!    `GET /v1/imports/{id}` until it is done. Ceiling, same run: the same 100,000 items and
//!    200,000 GTINs written by plain inserts in one transaction (no checks, no change feed
//!    reads). Then the same file again, every row unchanged.
//! 2. **Export:** a ledger of 1,000,000 movements streamed from `GET /v1/exports/ledger` and
//!    counted; the server's peak resident memory (`VmHWM`) before and after tells what the
//!    export cost. Ceiling, same run: the same rows read by one `select` over sqlx in this
//!    process.
//!
//! ```text
//! cargo bench --bench transfer                                   # SQLite (scratch file)
//! DEPOT_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench transfer
//! DEPOT_BENCH_IMPORT_ROWS=100000 DEPOT_BENCH_LEDGER_ROWS=1000000 cargo bench --bench transfer
//! ```
//!
//! Does nothing unless argv contains `--bench`.

#[path = "common/scratch.rs"]
mod scratch;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use depot::db::{Db, now};
use futures_util::StreamExt;
use serde_json::{Value, json};

const PASSWORD: &str = "bench-password";

struct Server {
    child: Child,
    base: String,
    client: reqwest::Client,
    token: String,
}

impl Server {
    async fn start(url: &str) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_depot"))
            .arg("serve")
            .env("DEPOT_DATABASE_URL", url)
            .env("DEPOT_LISTEN", format!("127.0.0.1:{port}"))
            .env("DEPOT_ADMIN_PASSWORD", PASSWORD)
            .env("DEPOT_JOBS", "false")
            .env("DEPOT_REQUEST_TIMEOUT_SECS", "600")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.get(format!("{base}/healthz")).send().await
                && r.status().is_success()
            {
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "depot did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let login: Value = client
            .post(format!("{base}/v1/auth/login"))
            .json(&json!({"username": "admin", "password": PASSWORD}))
            .send()
            .await?
            .json()
            .await?;
        let token = login["access_token"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("no token in {login}"))?
            .to_string();
        Ok(Server {
            child,
            base,
            client,
            token,
        })
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        let status = r.status();
        let value: Value = r.json().await?;
        anyhow::ensure!(status.is_success(), "POST {path}: {status} {value}");
        Ok(value)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?
            .json()
            .await?)
    }

    /// Peak and current resident memory of the server, in KiB.
    fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmHWM:"), field("VmRSS:"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A GS1 check digit appended to `digits`.
fn with_check_digit(digits: &str) -> String {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

fn items_csv(rows: usize) -> String {
    let mut out = String::from("code,name,unit,tracking,shelf_life_days,source,gtins\n");
    for i in 0..rows {
        let base = with_check_digit(&format!("950600{i:06}"));
        let case = with_check_digit(&format!("1950600{i:06}"));
        out.push_str(&format!(
            "IT-{i:06},Item number {i},pcs,batch,{},purchased,{base}*1|{case}*12\n",
            30 + i % 300
        ));
    }
    out
}

/// Posts the file and follows its job to the end: seconds taken and the job's result.
async fn import(server: &Server, csv: &str) -> anyhow::Result<(f64, Value)> {
    let started = Instant::now();
    let r = server
        .client
        .post(format!("{}/v1/imports/items", server.base))
        .bearer_auth(&server.token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await?;
    let status = r.status();
    let job: Value = r.json().await?;
    anyhow::ensure!(status.as_u16() == 202, "import answered {status}: {job}");
    let id = job["id"].as_i64().unwrap_or_default();
    loop {
        let job = server.get(&format!("/v1/imports/{id}")).await?;
        match job["status"].as_str() {
            Some("done") => return Ok((started.elapsed().as_secs_f64(), job)),
            Some("failed") => anyhow::bail!("import failed: {job}"),
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// The ceiling: the same items and GTINs by plain inserts in one transaction.
async fn raw_items(db: &Db, rows: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let at = now();
    depot::in_tx!(db, tx => {
        for i in 0..rows {
            let id: i64 = sqlx::query_scalar(
                "insert into items (code, name, unit, tracking, shelf_life_days, source, created_at, updated_at)
                 values ($1, $2, 'pcs', 'batch', $3, 'purchased', $4, $4) returning id",
            )
            .bind(format!("RAW-{i:06}"))
            .bind(format!("Item number {i}"))
            .bind(30 + (i % 300) as i64)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
            for (gtin, quantity) in [
                (with_check_digit(&format!("950601{i:06}")), 1i64),
                (with_check_digit(&format!("1950601{i:06}")), 12),
            ] {
                sqlx::query("insert into item_gtins (gtin, item_id, quantity) values ($1, $2, $3)")
                    .bind(gtin)
                    .bind(id)
                    .bind(quantity)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    });
    Ok(started.elapsed().as_secs_f64())
}

/// Writes `rows` ledger movements of one item at one place, straight into the table (the
/// export reads what is there; balances are not the point here).
async fn fill_ledger(
    db: &Db,
    rows: usize,
    item: i64,
    warehouse: i64,
    location: i64,
) -> anyhow::Result<()> {
    depot::in_tx!(db, tx => {
        sqlx::query(
            "with recursive n(i) as (select 1 union all select i + 1 from n where i < $1)
             insert into stock_movements (item_id, warehouse_id, location_id, quantity,
                 movement_type, document_type, note, posted_at)
             select $2, $3, $4, 1 + i % 7, 'receipt', 'receipt', 'bench', $5 from n",
        )
        .bind(rows as i64)
        .bind(item)
        .bind(warehouse)
        .bind(location)
        .bind(now())
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// The ceiling: every movement read by one query, counted.
async fn raw_ledger(db: &Db) -> anyhow::Result<(f64, usize)> {
    let started = Instant::now();
    let n = depot::on_read!(db, conn => {
        let mut rows = sqlx::query("select * from stock_movements order by id").fetch(&mut *conn);
        let mut n = 0usize;
        while let Some(row) = rows.next().await {
            row?;
            n += 1;
        }
        n
    });
    Ok((started.elapsed().as_secs_f64(), n))
}

async fn bench(scratch: &scratch::Scratch) -> anyhow::Result<()> {
    let import_rows = scratch::env_u64("DEPOT_BENCH_IMPORT_ROWS", 100_000) as usize;
    let ledger_rows = scratch::env_u64("DEPOT_BENCH_LEDGER_ROWS", 1_000_000) as usize;
    let server = Server::start(&scratch.url).await?;
    let db = Db::connect(&scratch.url).await?;
    println!(
        "transfer bench on {} ({import_rows} item rows, {ledger_rows} ledger rows)",
        scratch.backend
    );

    // 1. Import.
    let csv = items_csv(import_rows);
    let (first, job) = import(&server, &csv).await?;
    println!(
        "import {import_rows} items via the job: {first:.1} s ({:.0} rows/s); result {}",
        import_rows as f64 / first,
        job["result"]
    );
    let (again, job) = import(&server, &csv).await?;
    println!(
        "the same file again: {again:.1} s ({:.0} rows/s); unchanged {}",
        import_rows as f64 / again,
        job["result"]["unchanged"]
    );
    let raw = raw_items(&db, import_rows).await?;
    println!(
        "ceiling, plain inserts of the same rows: {raw:.1} s; import / ceiling = {:.1}x",
        first / raw
    );

    // 2. Export.
    let warehouse = server
        .post("/v1/warehouses", json!({"code": "EX", "name": "Export"}))
        .await?;
    let warehouse = warehouse["id"].as_i64().unwrap_or_default();
    let location = server
        .post(
            &format!("/v1/warehouses/{warehouse}/locations"),
            json!({"code": "A"}),
        )
        .await?["id"]
        .as_i64()
        .unwrap_or_default();
    let item = server.get("/v1/items?code=IT-000001").await?["items"][0]["id"]
        .as_i64()
        .unwrap_or_default();
    let started = Instant::now();
    fill_ledger(&db, ledger_rows, item, warehouse, location).await?;
    println!(
        "ledger filled: {ledger_rows} rows in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // Warm-up: a short export, so the code and pools the big one uses are loaded.
    let future =
        (now() + time::Duration::days(1)).format(&time::format_description::well_known::Rfc3339)?;
    let _ = server
        .client
        .get(format!("{}/v1/exports/ledger?from={future}", server.base))
        .bearer_auth(&server.token)
        .send()
        .await?
        .bytes()
        .await?;
    let (peak_before, rss_before) = server.memory();
    let started = Instant::now();
    let mut response = server
        .client
        .get(format!("{}/v1/exports/ledger", server.base))
        .bearer_auth(&server.token)
        .send()
        .await?;
    let (mut bytes, mut lines, mut rss_max) = (0usize, 0usize, rss_before);
    while let Some(chunk) = response.chunk().await? {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        rss_max = rss_max.max(server.memory().1);
    }
    let seconds = started.elapsed().as_secs_f64();
    let (peak_after, _) = server.memory();
    println!(
        "export of the ledger: {} rows, {:.1} MB in {seconds:.1} s ({:.0} rows/s)",
        lines.saturating_sub(1),
        bytes as f64 / 1e6,
        lines as f64 / seconds
    );
    println!(
        "server memory: resident {:.1} MB before, at most {:.1} MB during; peak {:.1} -> {:.1} MB (growth {:.1} MB)",
        rss_before as f64 / 1024.0,
        rss_max as f64 / 1024.0,
        peak_before as f64 / 1024.0,
        peak_after as f64 / 1024.0,
        peak_after.saturating_sub(peak_before) as f64 / 1024.0
    );
    let (raw_seconds, raw_rows) = raw_ledger(&db).await?;
    println!(
        "ceiling, one select of every movement: {raw_rows} rows in {raw_seconds:.1} s; export / ceiling = {:.1}x",
        seconds / raw_seconds
    );
    db.close().await;
    drop(server);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let scratch = scratch::Scratch::create("transfer").await?;
    let result = bench(&scratch).await;
    scratch.remove().await?;
    result
}
