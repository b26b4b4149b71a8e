//! Offline batches against the online route, in the same run: 20 scanner devices each queue
//! 500 scans while offline and send them through `POST /v1/sync/ops` (batches of 100, each
//! device's batches in order, the devices at once); the same 10,000 scans sent online, one keyed
//! `POST /v1/scans` each from the same 20 devices at once; and the offline batches sent again
//! (every operation already applied: the replay a device makes when it lost the answer).
//!
//!     cargo bench --bench sync                      # SQLite
//!     DEPOT_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench sync
//!
//! Only talks to loopback; the load generator shares the machine's two cores with the server.

#[path = "common/scratch.rs"]
mod scratch;

use std::time::{Duration, Instant};

use depot::app::{AppState, serve};
use depot::config::{Config, Secret};
use serde_json::{Value, json};

const DEVICES: usize = 20;
const PER_DEVICE: usize = 500;
const BATCH: usize = 100;
const ITEMS: usize = 200;

fn gtin13(i: usize) -> String {
    let body = format!("{:012}", 500_000_000_000u64 + i as u64);
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    format!("{body}{}", depot::catalog::gtin::check_digit(&digits))
}

/// The scan device `d` made `n`-th: a GS1 code with a serial, so every scan is its own.
fn scan(d: usize, n: usize) -> Value {
    json!({"data": format!("]C101{:0>14}21D{d}N{n}", gtin13((d * 31 + n) % ITEMS))})
}

struct Run {
    seconds: f64,
    failed: usize,
}

impl Run {
    fn per_sec(&self) -> f64 {
        (DEVICES * PER_DEVICE) as f64 / self.seconds
    }
}

async fn offline(client: &reqwest::Client, base: &str, tokens: &[String], round: &str) -> Run {
    let started = Instant::now();
    let mut devices = Vec::new();
    for (d, token) in tokens.iter().enumerate() {
        let (client, base, token, round) = (
            client.clone(),
            base.to_string(),
            token.clone(),
            round.to_string(),
        );
        devices.push(tokio::spawn(async move {
            let mut failed = 0;
            for first in (0..PER_DEVICE).step_by(BATCH) {
                let ops: Vec<Value> = (first..first + BATCH)
                    .map(|n| {
                        json!({"op_id": format!("{round}-{d}-{n}"), "type": "scan",
                               "at": "2026-12-02T08:00:00Z", "body": scan(d, n)})
                    })
                    .collect();
                let answer: Value = client
                    .post(format!("{base}/v1/sync/ops"))
                    .bearer_auth(&token)
                    .json(&json!({ "ops": ops }))
                    .timeout(Duration::from_secs(300))
                    .send()
                    .await
                    .expect("send a batch")
                    .json()
                    .await
                    .expect("the batch's results");
                failed += answer["results"]
                    .as_array()
                    .map(|r| r.iter().filter(|r| r["status"] != 200).count())
                    .unwrap_or(BATCH);
            }
            failed
        }));
    }
    let mut failed = 0;
    for d in devices {
        failed += d.await.unwrap();
    }
    Run {
        seconds: started.elapsed().as_secs_f64(),
        failed,
    }
}

async fn online(client: &reqwest::Client, base: &str, tokens: &[String]) -> Run {
    let started = Instant::now();
    let mut devices = Vec::new();
    for (d, token) in tokens.iter().enumerate() {
        let (client, base, token) = (client.clone(), base.to_string(), token.clone());
        devices.push(tokio::spawn(async move {
            let mut failed = 0;
            for n in 0..PER_DEVICE {
                let ok = client
                    .post(format!("{base}/v1/scans"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("online-{d}-{n}"))
                    .json(&scan(d + DEVICES, n))
                    .send()
                    .await
                    .map(|r| r.status().is_success())
                    .unwrap_or(false);
                failed += usize::from(!ok);
            }
            failed
        }));
    }
    let mut failed = 0;
    for d in devices {
        failed += d.await.unwrap();
    }
    Run {
        seconds: started.elapsed().as_secs_f64(),
        failed,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo test --benches` runs bench targets without --bench: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let scratch = scratch::Scratch::create("sync").await?;
    let config = Config {
        database_url: scratch.url.clone(),
        admin_password: Some(Secret::new("bench-password")),
        request_timeout_secs: 600,
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
        .pool_max_idle_per_host(DEVICES)
        .build()?;
    let login: Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"username": "admin", "password": "bench-password"}))
        .send()
        .await?
        .json()
        .await?;
    let admin = login["access_token"].as_str().unwrap().to_string();
    for i in 0..ITEMS {
        let status = client
            .post(format!("{base}/v1/items"))
            .bearer_auth(&admin)
            .json(
                &json!({"code": format!("SYNC-{i}"), "name": format!("Item {i}"),
                          "gtins": [gtin13(i)]}),
            )
            .send()
            .await?
            .status();
        anyhow::ensure!(status.is_success(), "creating item {i}: {status}");
    }
    let mut tokens = Vec::new();
    for d in 0..DEVICES {
        let device: Value = client
            .post(format!("{base}/v1/devices"))
            .bearer_auth(&admin)
            .json(&json!({"name": format!("scanner {d}"), "kind": "scanner", "profile": "generic-wedge"}))
            .send()
            .await?
            .json()
            .await?;
        tokens.push(device["token"].as_str().unwrap().to_string());
    }

    let online_run = online(&client, &base, &tokens).await;
    let offline_run = offline(&client, &base, &tokens, "first").await;
    let replay_run = offline(&client, &base, &tokens, "first").await;
    let scans = DEVICES * PER_DEVICE;
    println!(
        "{} — {scans} scans from {DEVICES} devices ({PER_DEVICE} each)",
        scratch.backend
    );
    println!(
        "  online, POST /v1/scans with Idempotency-Key: {:>6.0} scans/s ({:.1} s, {} failed)",
        online_run.per_sec(),
        online_run.seconds,
        online_run.failed
    );
    println!(
        "  offline, POST /v1/sync/ops ({BATCH} per batch): {:>6.0} ops/s ({:.1} s, {} failed) = {:.2} of online",
        offline_run.per_sec(),
        offline_run.seconds,
        offline_run.failed,
        offline_run.per_sec() / online_run.per_sec()
    );
    println!(
        "  the same batches again (all replayed): {:>6.0} ops/s ({:.1} s, {} failed) = {:.2} of online",
        replay_run.per_sec(),
        replay_run.seconds,
        replay_run.failed,
        replay_run.per_sec() / online_run.per_sec()
    );
    let _ = stop.send(());
    let _ = server.await;
    scratch.remove().await?;
    Ok(())
}
