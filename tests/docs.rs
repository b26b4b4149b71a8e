//! The requests the README and docs/ show are complete and work as written: every fenced block
//! marked ```` ```sh demo ```` of a page runs, in order, in bash against a fresh Depot with the
//! demo data (the real binary, `--demo`), on SQLite and on PostgreSQL. A request that answers
//! an error fails the run (`curl` gets `--fail-with-body`), so a page whose example drifted from
//! the API fails here.

#[path = "common/scratch_db.rs"]
mod scratch_db;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scratch_db::ScratchDb;

/// The pages whose examples run: the README and every page of docs/.
fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// The ```` ```sh demo ```` blocks of a page, joined in order.
fn demo_script(page: &Path) -> Option<String> {
    let text = std::fs::read_to_string(page).unwrap();
    let mut script = String::new();
    let mut inside = false;
    for line in text.lines() {
        let fence = line.trim_start();
        if !inside && fence.starts_with("```sh demo") {
            inside = true;
        } else if inside && fence.starts_with("```") {
            inside = false;
            script.push('\n');
        } else if inside {
            script.push_str(line);
            script.push('\n');
        }
    }
    (!script.is_empty()).then_some(script)
}

struct Depot(Child);

impl Drop for Depot {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real binary with the demo loaded, on `database_url`; its address once it is ready.
fn start_demo(database_url: &str, work: &Path) -> (Depot, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_depot"))
        .arg("--demo")
        .current_dir(work)
        .env("DEPOT_DATABASE_URL", database_url)
        .env("DEPOT_LISTEN", format!("127.0.0.1:{port}"))
        .env("DEPOT_ADMIN_PASSWORD", "change-me-now")
        .env("DEPOT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start depot");
    let depot = Depot(child);
    let address = format!("127.0.0.1:{port}");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        let ready = Command::new("curl")
            .args([
                "-fs",
                "-o",
                "/dev/null",
                &format!("http://{address}/readyz"),
            ])
            .status()
            .expect("curl is needed to run the documentation's examples");
        if ready.success() {
            return (depot, address);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("depot with the demo did not come up on {address}");
}

fn run_examples(backend: &str, scratch: fn() -> ScratchDb) {
    let mut ran = 0;
    for page in pages() {
        let Some(script) = demo_script(&page) else {
            continue;
        };
        // A fresh demo per page, so the ids a page shows are the ids it gets.
        let db = scratch();
        let work = std::env::temp_dir().join(format!(
            "depot-docs-{}-{backend}-{}",
            std::process::id(),
            page.file_stem().unwrap().to_string_lossy()
        ));
        std::fs::create_dir_all(&work).unwrap();
        let (_depot, address) = start_demo(&db.url, &work);
        // Any request that answers an error stops the page's script, also inside `$(...)`.
        let preamble = "set -euo pipefail\nshopt -s inherit_errexit\n\
                        curl() { command curl --fail-with-body --show-error \"$@\"; echo; }\n";
        let script = script.replace("localhost:8080", &address);
        let output = Command::new("bash")
            .arg("-c")
            .arg(format!("{preamble}{script}"))
            .current_dir(&work)
            .output()
            .expect("bash runs the documentation's examples");
        assert!(
            output.status.success(),
            "the examples of {} fail:\n--- stdout\n{}\n--- stderr\n{}",
            page.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let _ = std::fs::remove_dir_all(&work);
        ran += 1;
    }
    assert!(ran > 0, "no page has ```sh demo examples");
}

fn sqlite() -> ScratchDb {
    ScratchDb::sqlite()
}

fn postgres() -> ScratchDb {
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(ScratchDb::postgres())
}

#[test]
fn every_documented_example_runs_against_the_demo_on_sqlite() {
    run_examples("sqlite", sqlite);
}

#[test]
fn every_documented_example_runs_against_the_demo_on_postgres() {
    run_examples("postgres", postgres);
}
