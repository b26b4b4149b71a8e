//! Issue 18, imports at size, on the real binary and both databases:
//!
//! - an import job killed (kill -9) mid-file is taken over after the restart and applied once:
//!   every row exactly once, none from the first run half kept;
//! - `depot import` from the command line: a dry run, the real run, and a file with a bad row
//!   (exit status 1, the row named, nothing applied).

#[path = "common/binary.rs"]
#[allow(dead_code)] // each drill uses part of it
mod binary;
#[path = "common/scratch_db.rs"]
#[allow(dead_code)]
mod scratch_db;

use std::time::{Duration, Instant};

use binary::{Depot, login, run};
use scratch_db::ScratchDb;
use serde_json::Value;

const ROWS: usize = 20_000;

async fn get(client: &reqwest::Client, base: &str, token: &str, path: &str) -> Value {
    client
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// How many items have a code starting with `prefix` (through the items export).
async fn items_with_prefix(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    prefix: &str,
) -> usize {
    let body = client
        .get(format!("{base}/v1/exports/items"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.lines()
        .filter(|l| {
            l.split(',')
                .nth(1)
                .is_some_and(|code| code.starts_with(prefix))
        })
        .count()
}

async fn killed_job_is_taken_over_and_applied_once(scratch: ScratchDb) {
    let work = std::env::temp_dir().join(format!(
        "depot-import-jobs-{}-{}",
        std::process::id(),
        scratch.url.split(':').next().unwrap_or("db")
    ));
    std::fs::create_dir_all(&work).unwrap();
    let client = reqwest::Client::new();
    // A job silent for a second is taken over: the restarted instance need not wait long.
    let env = [("DEPOT_IMPORT_STALE_SECS", "1")];
    let depot = Depot::start(&scratch.url, &work, &env);
    depot.ready(&client).await;
    let token = login(&client, &depot.base).await;
    let mut file = String::from("code,name,tracking\n");
    for i in 0..ROWS {
        file.push_str(&format!("JOB-{i:06},Item {i},batch\n"));
    }
    let response = client
        .post(format!("{}/v1/imports/items", depot.base))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .header("idempotency-key", "big-import-1")
        .body(file.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    // Killed once the worker is part-way through.
    let started = Instant::now();
    loop {
        let job = get(&client, &depot.base, &token, &location).await;
        let done = job["rows_done"].as_i64().unwrap_or(0);
        if job["status"] == "running" && done > 0 {
            assert!(done < ROWS as i64, "the job ended before the kill: {job}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the job did not start: {job}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    depot.kill();

    let depot = Depot::start(&scratch.url, &work, &env);
    depot.ready(&client).await;
    let token = login(&client, &depot.base).await;
    // The client retries its request: the same job answers, nothing is queued twice.
    let retried = client
        .post(format!("{}/v1/imports/items", depot.base))
        .bearer_auth(&token)
        .header("content-type", "text/csv")
        .header("idempotency-key", "big-import-1")
        .body(file)
        .send()
        .await
        .unwrap();
    assert_eq!(retried.status(), 202);
    assert_eq!(retried.headers()["location"].to_str().unwrap(), location);
    let started = Instant::now();
    let job = loop {
        let job = get(&client, &depot.base, &token, &location).await;
        if job["status"] == "done" || job["status"] == "failed" {
            break job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the job was not taken over: {job}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["rows_done"], ROWS as i64);
    assert_eq!(
        job["result"]["created"], ROWS as i64,
        "the second run found nothing of the first: {job}"
    );
    assert_eq!(
        items_with_prefix(&client, &depot.base, &token, "JOB-").await,
        ROWS,
        "every row once"
    );
    drop(depot);
    let _ = std::fs::remove_dir_all(&work);
}

async fn command_line_import(scratch: ScratchDb) {
    let work = std::env::temp_dir().join(format!(
        "depot-import-cli-{}-{}",
        std::process::id(),
        scratch.url.split(':').next().unwrap_or("db")
    ));
    std::fs::create_dir_all(&work).unwrap();
    let client = reqwest::Client::new();
    // Depot creates the admin when it first starts.
    let depot = Depot::start(&scratch.url, &work, &[]);
    depot.ready(&client).await;
    let token = login(&client, &depot.base).await;
    let good = work.join("items.csv");
    std::fs::write(
        &good,
        "code;name;tracking\nCLI-1;One;none\nCLI-2;Two;batch\n",
    )
    .unwrap();
    let good = good.to_str().unwrap();
    let (ok, out) = run(&scratch.url, &["import", "items", good, "--dry-run"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("2 rows checked (dry run, nothing written)") && out.contains("2 created"),
        "{out}"
    );
    assert_eq!(
        items_with_prefix(&client, &depot.base, &token, "CLI-").await,
        0
    );
    let (ok, out) = run(&scratch.url, &["import", "items", good]);
    assert!(ok, "{out}");
    assert!(
        out.contains("2 rows imported") && out.contains("2 created"),
        "{out}"
    );
    assert_eq!(
        items_with_prefix(&client, &depot.base, &token, "CLI-").await,
        2
    );
    let (ok, out) = run(&scratch.url, &["import", "items", good]);
    assert!(ok && out.contains("2 unchanged"), "{out}");

    let bad = work.join("bad.csv");
    std::fs::write(
        &bad,
        "code,name,tracking\nCLI-3,Three,none\nCLI-4,Four,sometimes\n",
    )
    .unwrap();
    let (ok, out) = run(&scratch.url, &["import", "items", bad.to_str().unwrap()]);
    assert!(!ok, "a bad row fails the command: {out}");
    assert!(
        out.contains("row 3, column tracking (\"sometimes\")"),
        "{out}"
    );
    assert!(out.contains("refused (nothing written)"), "{out}");
    assert_eq!(
        items_with_prefix(&client, &depot.base, &token, "CLI-").await,
        2
    );
    let (ok, out) = run(&scratch.url, &["import", "items", good, "--user", "nobody"]);
    assert!(!ok && out.contains("no user 'nobody'"), "{out}");
    drop(depot);
    let _ = std::fs::remove_dir_all(&work);
}

#[tokio::test]
async fn sqlite_killed_job_is_taken_over_and_applied_once() {
    killed_job_is_taken_over_and_applied_once(ScratchDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_killed_job_is_taken_over_and_applied_once() {
    killed_job_is_taken_over_and_applied_once(ScratchDb::postgres().await).await;
}

#[tokio::test]
async fn sqlite_command_line_import() {
    command_line_import(ScratchDb::sqlite()).await;
}

#[tokio::test]
async fn postgres_command_line_import() {
    command_line_import(ScratchDb::postgres().await).await;
}
