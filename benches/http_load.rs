//! HTTP load on read endpoints, measured against the /healthz ceiling in the same run.
//!
//!     cargo bench --bench http_load                      # SQLite
//!     DEPOT_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench http_load
//!
//! Starts Depot on 127.0.0.1 (port 0), seeds items, then drives each endpoint with a fixed
//! number of concurrent keep-alive connections for a fixed time, and prints requests/s and
//! latency percentiles. Bounded in time and count; only talks to loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use depot::app::{AppState, serve};
use depot::config::{Config, Secret};
use serde_json::json;

const CONNECTIONS: usize = 32;
const WARMUP: Duration = Duration::from_secs(1);
const RUN: Duration = Duration::from_secs(5);
const ITEMS: i64 = 2_000;

struct Result {
    name: &'static str,
    requests: usize,
    errors: usize,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

async fn drive(
    name: &'static str,
    client: reqwest::Client,
    token: Arc<String>,
    paths: Arc<Vec<String>>,
) -> Result {
    let run = |duration: Duration| {
        let mut tasks = Vec::new();
        for c in 0..CONNECTIONS {
            let client = client.clone();
            let token = token.clone();
            let paths = paths.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                let started = Instant::now();
                let mut i = c;
                while started.elapsed() < duration && latencies.len() < 5_000_000 {
                    let t = Instant::now();
                    let ok = client
                        .get(&paths[i % paths.len()])
                        .bearer_auth(token.as_str())
                        .send()
                        .await
                        .map(|r| r.status().is_success())
                        .unwrap_or(false);
                    latencies.push(t.elapsed());
                    if !ok {
                        errors += 1;
                    }
                    i += CONNECTIONS;
                }
                (latencies, errors)
            }));
        }
        tasks
    };
    for t in run(WARMUP) {
        let _ = t.await;
    }
    let started = Instant::now();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in run(RUN) {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1000.0;
    Result {
        name,
        requests: all.len(),
        errors,
        per_sec: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo test --benches` passes --bench-less flags; only run when invoked by `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
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
        database_url: database_url.clone(),
        admin_password: Some(Secret::new("bench-password")),
        ..Config::default()
    };
    let state = AppState::start(config).await?;
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
    let mut gtins = Vec::new();
    for i in 0..ITEMS {
        let body12 = format!("{:012}", 400_000_000_000i64 + i);
        let digits: Vec<u8> = body12.bytes().map(|b| b - b'0').collect();
        let gtin = format!("{body12}{}", depot::catalog::gtin::check_digit(&digits));
        let resp = client
            .post(format!("{base}/v1/items"))
            .bearer_auth(token.as_str())
            .json(&json!({"code": format!("BENCH-{i}"), "name": format!("Bench item {i}"), "gtins": [gtin.clone()]}))
            .send()
            .await?;
        anyhow::ensure!(
            resp.status().as_u16() == 201,
            "seeding failed: {}",
            resp.text().await?
        );
        gtins.push(gtin);
    }

    let health = Arc::new(vec![format!("{base}/healthz")]);
    let by_id = Arc::new(
        (1..=ITEMS)
            .map(|i| format!("{base}/v1/items/{i}"))
            .collect::<Vec<_>>(),
    );
    let by_gtin = Arc::new(
        gtins
            .iter()
            .map(|g| format!("{base}/v1/items?gtin={g}"))
            .collect::<Vec<_>>(),
    );
    let results = vec![
        drive(
            "GET /healthz (ceiling)",
            client.clone(),
            token.clone(),
            health,
        )
        .await,
        drive("GET /v1/items/{id}", client.clone(), token.clone(), by_id).await,
        drive(
            "GET /v1/items?gtin=",
            client.clone(),
            token.clone(),
            by_gtin,
        )
        .await,
    ];
    let ceiling = results[0].per_sec;
    println!(
        "\nbackend: {}   connections: {CONNECTIONS}   run: {}s per endpoint",
        if cleanup_pg.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        RUN.as_secs()
    );
    println!(
        "{:<26} {:>10} {:>8} {:>9} {:>9} {:>11}",
        "endpoint", "req/s", "errors", "p50 ms", "p99 ms", "of ceiling"
    );
    for r in &results {
        println!(
            "{:<26} {:>10.0} {:>8} {:>9.2} {:>9.2} {:>10.0}%   ({} requests)",
            r.name,
            r.per_sec,
            r.errors,
            r.p50_ms,
            r.p99_ms,
            100.0 * r.per_sec / ceiling,
            r.requests
        );
    }
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
