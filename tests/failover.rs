//! Issue 20, drill 3: a primary failover under load. Two PostgreSQL servers on this machine (a
//! primary and a streaming replica made with `pg_basebackup -R`, started by the test in a
//! scratch folder as the `postgres` user) sit behind HAProxy in TCP mode, the replica as the
//! backup server. Two Depot instances take keyed receipts from 4 clients through it. Mid-load
//! the primary is stopped (`pg_ctl stop -m fast`: a planned switch or a primary going down
//! cleanly), HAProxy sends new connections to the replica, and after a second the replica is
//! promoted (`pg_ctl promote`), as an operator or a failover manager would.
//!
//! Depot reconnects by itself (its pool replaces dead connections). While no primary is there,
//! requests must fail with 503 and `Retry-After` (the standby refuses writes: 25006), never
//! with another status or a wrong answer; clients retry with the same key, and afterwards every
//! acknowledged receipt is there exactly once and `depot check` is clean. The time from the
//! stop until writes succeed again is printed.

#[path = "common/binary.rs"]
#[allow(dead_code)] // each drill uses part of it
mod binary;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use binary::{Depot, free_port, is_root, login, run, sbin, wait_for_port, warehouse_bin_item};
use serde_json::{Value, json};

const CLIENTS: usize = 4;

/// PostgreSQL's server programs (Debian keeps them out of PATH).
fn pg_bin(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin").join(name))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("{name} is needed (Debian package postgresql)"))
}

/// Runs a PostgreSQL program as the postgres user (the server refuses to run as root).
fn as_postgres(program: &Path, args: &[&str]) {
    let out = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args)
            .output()
    } else {
        Command::new(program).args(args).output()
    }
    .expect("run a PostgreSQL program");
    assert!(
        out.status.success(),
        "{} {args:?}: {}{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server's data folder, stopped (immediately) when dropped.
struct Server {
    data: PathBuf,
}

impl Server {
    fn start(&self, port: u16) {
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.data.display()
        );
        let log = self.data.join("server.log");
        as_postgres(
            &pg_bin("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(pg_bin("pg_ctl"))
            .args(["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
        let _ = Command::new(pg_bin("pg_ctl"))
            .args(["-D", self.data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
    }
}

struct Haproxy(Child);

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// HAProxy in TCP mode: the primary, and the replica as the backup server.
fn haproxy(work: &Path, port: u16, primary: u16, replica: u16) -> Haproxy {
    let config = format!(
        "defaults
    mode tcp
    timeout connect 1s
    timeout client 60s
    timeout server 60s
listen postgres
    bind 127.0.0.1:{port}
    default-server inter 200ms fall 1 rise 2 on-marked-down shutdown-sessions
    server primary 127.0.0.1:{primary} check
    server replica 127.0.0.1:{replica} check backup
"
    );
    let path = work.join("haproxy-pg.cfg");
    std::fs::write(&path, config).unwrap();
    let exe = sbin("haproxy");
    Haproxy(
        Command::new(exe)
            .args(["-db", "-f"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("haproxy is needed (tests/run installs it)"),
    )
}

#[derive(Default)]
struct Tally {
    /// 503 answers, each with its Retry-After.
    unavailable: AtomicUsize,
    without_retry_after: AtomicUsize,
    /// Connection errors between the client and Depot: must not happen (Depot stays up).
    failed: Mutex<Vec<String>>,
    /// When each success arrived.
    successes: Mutex<Vec<Instant>>,
}

async fn client_loop(
    n: usize,
    bases: Vec<String>,
    token: String,
    body: Value,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut acked = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let key = format!("failover-{n}-{i}");
        let base = &bases[i % bases.len()];
        loop {
            let answer = client
                .post(format!("{base}/v1/receipts"))
                .bearer_auth(&token)
                .header("Idempotency-Key", &key)
                .json(&body)
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            match answer {
                Ok(r) if r.status().is_success() => {
                    let v: Value = r.json().await.unwrap();
                    assert_eq!(v["movements"][0]["quantity"], 1, "a wrong answer: {v}");
                    tally.successes.lock().unwrap().push(Instant::now());
                    acked.push(key);
                    break;
                }
                Ok(r) if r.status().as_u16() == 503 => {
                    tally.unavailable.fetch_add(1, Ordering::Relaxed);
                    if !r.headers().contains_key("retry-after") {
                        tally.without_retry_after.fetch_add(1, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    tally
                        .failed
                        .lock()
                        .unwrap()
                        .push(format!("{status} {text}"));
                    return acked;
                }
                Err(e) => {
                    tally.failed.lock().unwrap().push(format!("no answer: {e}"));
                    return acked;
                }
            }
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_come_back_after_a_primary_failover() {
    let work = std::env::temp_dir().join(format!("depot-failover-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    if is_root() {
        let _ = Command::new("chown").args(["postgres"]).arg(&work).status();
    }
    let (p1, p2, front) = (free_port(), free_port(), free_port());
    let primary = Server {
        data: work.join("primary"),
    };
    as_postgres(
        &pg_bin("initdb"),
        &[
            "-D",
            primary.data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ],
    );
    primary.start(p1);
    let replica = Server {
        data: work.join("replica"),
    };
    as_postgres(
        &pg_bin("pg_basebackup"),
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &p1.to_string(),
            "-U",
            "postgres",
            "-D",
            replica.data.to_str().unwrap(),
            "-R",
            "-X",
            "stream",
            "--no-sync",
        ],
    );
    replica.start(p2);
    let admin = format!("postgres://postgres@127.0.0.1:{p1}/postgres");
    let out = Command::new("psql")
        .args([&admin, "-qc", "create database depot"])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _haproxy = haproxy(&work, front, p1, p2);
    let url = format!("postgres://postgres@127.0.0.1:{front}/depot");
    wait_for_port(front, "haproxy");

    let client = reqwest::Client::new();
    let a = Depot::start(&url, &work, &[]);
    a.ready(&client).await;
    let b = Depot::start(&url, &work, &[]);
    b.ready(&client).await;
    let token = login(&client, &a.base).await;
    let (warehouse, bin, item) = warehouse_bin_item(
        &client,
        &a.base,
        &token,
        "FO",
        json!({"code": "BOLT", "name": "Bolt"}),
    )
    .await;
    let body = json!({"warehouse_id": warehouse, "location_id": bin, "lines": [{"item_id": item, "quantity": 1}]});

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let bases = vec![a.base.clone(), b.base.clone()];
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| {
            tokio::spawn(client_loop(
                n,
                bases.clone(),
                token.clone(),
                body.clone(),
                stop.clone(),
                tally.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The primary goes; a second later the replica is promoted.
    let stopped = Instant::now();
    as_postgres(
        &pg_bin("pg_ctl"),
        &[
            "-D",
            primary.data.to_str().unwrap(),
            "-m",
            "fast",
            "-w",
            "stop",
        ],
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let promoting = Instant::now();
    as_postgres(
        &pg_bin("pg_ctl"),
        &["-D", replica.data.to_str().unwrap(), "-w", "promote"],
    );
    let promoted = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for c in clients {
        acked.extend(c.await.unwrap());
    }
    let failed = tally.failed.lock().unwrap().clone();
    assert!(
        failed.is_empty(),
        "answers other than success or 503: {failed:?}"
    );
    assert_eq!(
        tally.without_retry_after.load(Ordering::Relaxed),
        0,
        "503 without Retry-After"
    );
    let successes = tally.successes.lock().unwrap().clone();
    let first_after = successes
        .iter()
        .filter(|t| **t > promoting)
        .min()
        .copied()
        .expect("writes succeed again after the promotion");
    let last_before = successes.iter().filter(|t| **t < stopped).max().copied();

    // Every acknowledged receipt is on the new primary, once; the ledger agrees.
    let out = Command::new("psql")
        .args([&url, "-qAtc", "select count(*) from receipts"])
        .output()
        .unwrap();
    let receipts: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(
        receipts,
        acked.len(),
        "acknowledged receipts on the promoted replica"
    );
    let (ok, out) = run(&url, &["check"]);
    assert!(ok, "depot check after the failover: {out}");
    println!(
        "failover: {} receipts acknowledged, all on the promoted replica once; {} answers 503 \
         with Retry-After while no primary could write; last write before the stop {:.2} s \
         before it; writes again {:.2} s after the stop ({:.2} s after the promotion began, \
         promotion took {:.2} s)",
        acked.len(),
        tally.unavailable.load(Ordering::Relaxed),
        last_before
            .map(|t| stopped.duration_since(t).as_secs_f64())
            .unwrap_or(f64::NAN),
        first_after.duration_since(stopped).as_secs_f64(),
        first_after.duration_since(promoting).as_secs_f64(),
        promoted.duration_since(promoting).as_secs_f64()
    );
    drop(a);
    drop(b);
    drop(replica);
    drop(primary);
    let _ = std::fs::remove_dir_all(&work);
}
