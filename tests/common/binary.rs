//! The real `depot` binary as a drill runs it: started on a database URL and a free port,
//! waited for until ready, logged into as the admin, and killed or dropped at the end.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const ADMIN_PASSWORD: &str = "drill-test-admin";

pub struct Depot {
    child: Child,
    pub base: String,
}

impl Depot {
    /// `depot serve` on `database_url` in `work`, with jobs off, errors-only logs and `env`.
    pub fn start(database_url: &str, work: &std::path::Path, env: &[(&str, &str)]) -> Depot {
        Depot::start_on(free_port(), database_url, work, env)
    }

    /// The same on a given port (an instance started again where a load balancer expects it).
    pub fn start_on(
        port: u16,
        database_url: &str,
        work: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Depot {
        let child = Command::new(env!("CARGO_BIN_EXE_depot"))
            .arg("serve")
            .current_dir(work)
            .env("DEPOT_DATABASE_URL", database_url)
            .env("DEPOT_LISTEN", format!("127.0.0.1:{port}"))
            .env("DEPOT_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("DEPOT_JOBS", "false")
            .env("DEPOT_LOG", "error")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start depot");
        Depot {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    pub async fn ready(&self, client: &reqwest::Client) {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("depot did not come up at {}", self.base);
    }

    /// SIGTERM, as a service manager stops it, and waits for the process to end: how long the
    /// graceful shutdown took, and whether it exited cleanly.
    pub fn terminate(mut self) -> (Duration, bool) {
        let started = Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill(1)");
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        (started.elapsed(), status.success())
    }

    /// SIGKILL: no graceful shutdown, nothing flushed.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Depot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `depot <args>` on `database_url`, to its end: its exit status and what it printed.
pub fn run(database_url: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_depot"))
        .args(args)
        .env("DEPOT_DATABASE_URL", database_url)
        .env("DEPOT_LOG", "error")
        .output()
        .expect("run depot");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

pub async fn post(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> Value {
    let response = client
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let value: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "POST {path}: {status} {value}");
    value
}

pub async fn login(client: &reqwest::Client, base: &str) -> String {
    let response = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().expect("a token").to_string()
}

/// POSTs and answers the new record's id.
pub async fn create(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: Value,
) -> i64 {
    post(client, base, token, path, body).await["id"]
        .as_i64()
        .expect("an id")
}

/// A warehouse `code` with one bin `A`, and the item `item`: (warehouse, bin, item).
pub async fn warehouse_bin_item(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    code: &str,
    item: Value,
) -> (i64, i64, i64) {
    let warehouse = create(
        client,
        base,
        token,
        "/v1/warehouses",
        json!({"code": code, "name": code}),
    )
    .await;
    let bin = create(
        client,
        base,
        token,
        &format!("/v1/warehouses/{warehouse}/locations"),
        json!({"code": "A"}),
    )
    .await;
    let item = create(client, base, token, "/v1/items", item).await;
    (warehouse, bin, item)
}

/// Waits until something listens on `port` (a proxy the drill started).
pub fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A Debian system program: in /usr/sbin, which a user's PATH may lack.
pub fn sbin(name: &str) -> String {
    let path = format!("/usr/sbin/{name}");
    if std::path::Path::new(&path).exists() {
        path
    } else {
        name.to_string()
    }
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout == b"0\n")
        .unwrap_or(false)
}
