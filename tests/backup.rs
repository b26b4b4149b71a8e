//! Issue 20, drill 4: a backup taken under load restores into a fresh instance with every write
//! acknowledged before the backup began, and the restored ledger is consistent.
//!
//! The real binary serves on a scratch database while clients post receipts flat out. Mid-load
//! the backup is taken (SQLite: `depot backup FILE`, PostgreSQL: `pg_dump -Fc`, as
//! docs/operations.md says), the load carries on, then the backup is restored (SQLite: Depot
//! started on the file; PostgreSQL: `pg_restore` into a new database), `depot check` must pass
//! on it, and every receipt whose answer arrived before the backup started must be there.

#[path = "common/binary.rs"]
#[allow(dead_code)] // each drill uses part of it
mod binary;
#[path = "common/scratch_db.rs"]
#[allow(dead_code)]
mod scratch_db;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use binary::{Depot, login, post, run, warehouse_bin_item};
use scratch_db::ScratchDb;
use serde_json::json;

const CLIENTS: usize = 6;

/// Receipts acknowledged by the source, each with the moment its answer arrived.
type Acked = Vec<(i64, Instant)>;

async fn load(
    client: reqwest::Client,
    base: String,
    token: String,
    body: serde_json::Value,
    stop: Arc<AtomicBool>,
) -> Acked {
    let mut acked = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let response = client
            .post(format!("{base}/v1/receipts"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        let answer: serde_json::Value = response.json().await.unwrap();
        acked.push((answer["id"].as_i64().unwrap(), Instant::now()));
    }
    acked
}

/// Takes the backup of `source` into `file` while the load runs; answers its duration.
fn back_up(source: &str, file: &std::path::Path) -> Duration {
    let started = Instant::now();
    if source.starts_with("sqlite:") {
        let (ok, out) = run(source, &["backup", file.to_str().unwrap()]);
        assert!(ok, "depot backup failed: {out}");
        assert!(out.contains("backup of"), "{out}");
    } else {
        let out = Command::new("pg_dump")
            .args(["-Fc", "--no-owner", "-f", file.to_str().unwrap(), source])
            .output()
            .expect("pg_dump is needed (postgresql-client)");
        assert!(
            out.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    started.elapsed()
}

/// A fresh database holding the backup: its URL, and the scratch database to drop later.
async fn restore(
    file: &std::path::Path,
    work: &std::path::Path,
    source: &str,
) -> (String, Option<ScratchDb>) {
    if source.starts_with("sqlite:") {
        let restored = work.join("restored.db");
        std::fs::copy(file, &restored).unwrap();
        (format!("sqlite://{}", restored.display()), None)
    } else {
        let target = ScratchDb::postgres().await;
        let out = Command::new("pg_restore")
            .args(["--no-owner", "--exit-on-error", "-d", &target.url])
            .arg(file)
            .output()
            .expect("pg_restore is needed (postgresql-client)");
        assert!(
            out.status.success(),
            "pg_restore: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (target.url.clone(), Some(target))
    }
}

async fn backup_under_load_restores(scratch: ScratchDb, name: &str) {
    let work = std::env::temp_dir().join(format!("depot-backup-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let client = reqwest::Client::new();
    let depot = Depot::start(&scratch.url, &work, &[]);
    depot.ready(&client).await;
    let token = login(&client, &depot.base).await;
    let base = depot.base.clone();
    let (warehouse, bin, item) = warehouse_bin_item(
        &client,
        &base,
        &token,
        "BK",
        json!({"code": "BOLT", "name": "Bolt"}),
    )
    .await;
    let receipt = json!({"warehouse_id": warehouse, "location_id": bin,
                         "lines": [{"item_id": item, "quantity": 1}]});

    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            tokio::spawn(load(
                client.clone(),
                base.clone(),
                token.clone(),
                receipt.clone(),
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let file = work.join(if name == "sqlite" {
        "backup.db"
    } else {
        "backup.dump"
    });
    let backup_started = Instant::now();
    let path = file.clone();
    let source = scratch.url.clone();
    let took = tokio::task::spawn_blocking(move || back_up(&source, &path))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked: Acked = Vec::new();
    for c in clients {
        acked.extend(c.await.unwrap());
    }
    let before: Vec<i64> = acked
        .iter()
        .filter(|(_, at)| *at < backup_started)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        before.len() > 20,
        "too little load before the backup: {}",
        before.len()
    );
    let during_or_after = acked.len() - before.len();
    assert!(during_or_after > 0, "the load went on during the backup");

    let (restored_url, restored_db) = restore(&file, &work, &scratch.url).await;
    let (ok, out) = run(&restored_url, &["check"]);
    assert!(ok, "depot check on the restored backup: {out}");
    let copy = Depot::start(&restored_url, &work, &[]);
    copy.ready(&client).await;
    let token = login(&client, &copy.base).await;
    let mut missing = Vec::new();
    for id in &before {
        let status = client
            .get(format!("{}/v1/receipts/{id}", copy.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status();
        if status != reqwest::StatusCode::OK {
            missing.push(*id);
        }
    }
    assert!(
        missing.is_empty(),
        "receipts acknowledged before the backup are missing from it: {missing:?}"
    );
    // The restored instance carries on writing.
    post(&client, &copy.base, &token, "/v1/receipts", receipt.clone()).await;
    let (ok, out) = run(&restored_url, &["check"]);
    assert!(ok, "depot check after a write on the restored copy: {out}");
    println!(
        "backup drill ({name}): {} receipts acknowledged before the backup, all restored; \
         {during_or_after} during and after it; backup took {:.2} s under load of {CLIENTS} clients",
        before.len(),
        took.as_secs_f64()
    );
    drop(copy);
    drop(depot);
    drop(restored_db);
    let _ = std::fs::remove_dir_all(&work);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_under_load_restores_on_sqlite() {
    backup_under_load_restores(ScratchDb::sqlite(), "sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_under_load_restores_on_postgres() {
    backup_under_load_restores(ScratchDb::postgres().await, "postgres").await;
}
