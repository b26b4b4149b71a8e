//! A real Depot on a real socket, over SQLite (a temp file) or PostgreSQL (a fresh database),
//! and a small client for it.

use std::path::Path;
use std::process::Command;

use depot::app::{AppState, serve};
use depot::config::{Config, Secret};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::scratch_db::ScratchDb;

pub const ADMIN_PASSWORD: &str = "admin-password-1";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub admin_token: String,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    // Last: dropped after the server has stopped.
    _scratch: ScratchDb,
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        TestApp::start(ScratchDb::sqlite(), |_| {}).await
    }

    pub async fn postgres() -> TestApp {
        TestApp::start(ScratchDb::postgres().await, |_| {}).await
    }

    /// On SQLite, with the test configuration changed by `configure`.
    pub async fn sqlite_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::start(ScratchDb::sqlite(), configure).await
    }

    /// On PostgreSQL, with the test configuration changed by `configure`.
    pub async fn postgres_with(configure: impl FnOnce(&mut Config)) -> TestApp {
        TestApp::start(ScratchDb::postgres().await, configure).await
    }

    async fn start(scratch: ScratchDb, configure: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = Config {
            database_url: scratch.url.clone(),
            listen: "127.0.0.1:0".into(),
            admin_password: Some(Secret::new(ADMIN_PASSWORD)),
            // Photos are decoded in worker processes of the real binary (a debug build: slow).
            decode_worker_exe: Some(env!("CARGO_BIN_EXE_depot").into()),
            decode_budget_ms: 60_000,
            // Tests run the expiry job themselves, with the day they choose.
            jobs: false,
            // The GS1 General Specifications' example company prefix.
            gs1_company_prefix: Some("0614141".into()),
            // The test client is a trusted proxy, so tests can speak for other client addresses
            // with X-Forwarded-For (login throttling).
            trusted_proxies: vec![std::net::Ipv4Addr::LOCALHOST.into()],
            ..Config::default()
        };
        configure(&mut config);
        let state = AppState::start(config).await.expect("start depot");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let server_state = state.clone();
        let server = tokio::spawn(async move {
            serve(listener, server_state, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        let mut app = TestApp {
            base,
            client: reqwest::Client::new(),
            admin_token: String::new(),
            state,
            shutdown: Some(tx),
            server: Some(server),
            _scratch: scratch,
        };
        app.admin_token = app.login("admin", ADMIN_PASSWORD).await;
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .send(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login {username}: {body}");
        body["access_token"].as_str().unwrap().to_string()
    }

    /// POSTs `body` on a task of its own, so that several requests race: answers the status
    /// and the JSON body (Null when empty or not JSON). Not checked against /openapi.json:
    /// racing tests send what their sequential twins already check.
    pub fn post_racing(
        &self,
        path: &str,
        token: &str,
        body: Value,
    ) -> tokio::task::JoinHandle<(StatusCode, Value)> {
        let request = self
            .client
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body);
        tokio::spawn(async move {
            let response = request.send().await.expect("request");
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        })
    }

    /// Sends a request and returns the status and the JSON body (Null when empty).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.send_with(method, path, token, body, &[]).await
    }

    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let method_name = method.as_str().to_string();
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = &body {
            req = req.json(b);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.text().await.unwrap();
        // Every response doubles as a contract test of /openapi.json.
        crate::contract::check(
            &method_name,
            path,
            status.as_u16(),
            content_type.as_deref(),
            &text,
        );
        // The reference's examples are recorded on SQLite (one run is enough).
        if self.state.config.database_url.starts_with("sqlite") {
            crate::examples::record(
                &method_name,
                path,
                body.as_ref(),
                status.as_u16(),
                content_type.as_deref(),
                &text,
            );
        }
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// For a response read as bytes (a document, a label): checks it against the document
    /// ([`crate::contract::check_bytes`]) and offers it as an example.
    pub fn check_bytes(
        &self,
        method: &str,
        path: &str,
        request: Option<&Value>,
        status: StatusCode,
        content_type: Option<&str>,
        body: &[u8],
    ) {
        let status = status.as_u16();
        crate::contract::check_bytes(method, path, status, content_type, body);
        if self.state.config.database_url.starts_with("sqlite") {
            let text = String::from_utf8_lossy(body);
            crate::examples::record(method, path, request, status, content_type, &text);
        }
    }

    /// GETs a document (a PDF, a label): its status, media type and bytes, checked against the
    /// document and offered as an example like every [`TestApp::send_with`].
    pub async fn download(&self, path: &str, token: &str) -> (StatusCode, Option<String>, Vec<u8>) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = response.bytes().await.unwrap().to_vec();
        self.check_bytes("GET", path, None, status, content_type.as_deref(), &bytes);
        (status, content_type, bytes)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// Posts as admin and expects 201; returns the created body.
    pub async fn create(&self, path: &str, body: Value) -> Value {
        let (status, value) = self.post(path, &self.admin_token, body).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {value}");
        value
    }

    /// Posts as admin, expects 201, and returns the new record's id.
    pub async fn create_id(&self, path: &str, body: Value) -> i64 {
        self.create(path, body).await["id"].as_i64().unwrap()
    }

    /// A warehouse `code` with bins `(code, pick_sequence)`; returns (warehouse, bin ids).
    pub async fn warehouse(&self, code: &str, bins: &[(&str, i64)]) -> (i64, Vec<i64>) {
        let wh = self
            .create_id("/v1/warehouses", json!({"code": code, "name": code}))
            .await;
        let mut ids = Vec::with_capacity(bins.len());
        for (bin, sequence) in bins {
            ids.push(
                self.create_id(
                    &format!("/v1/warehouses/{wh}/locations"),
                    json!({"code": bin, "pick_sequence": sequence}),
                )
                .await,
            );
        }
        (wh, ids)
    }

    /// Receives `lines` (as `POST /v1/receipts` takes them) at `location`, as admin.
    pub async fn receive(&self, warehouse: i64, location: i64, lines: Value, quarantine: bool) {
        let (status, body) = self
            .post(
                "/v1/receipts",
                &self.admin_token,
                json!({"warehouse_id": warehouse, "location_id": location, "lines": lines,
                       "quarantine": quarantine}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// A new customer `customer` with a deal `title` for `quantity` of `item`, reserved in
    /// `warehouse` (asserted 200); returns the deal's id.
    pub async fn reserved_deal(
        &self,
        customer: &str,
        title: &str,
        item: i64,
        quantity: i64,
        warehouse: i64,
    ) -> i64 {
        let customer = self
            .create_id("/v1/customers", json!({"legal_name": customer}))
            .await;
        let deal = self
            .create_id(
                "/v1/deals",
                json!({"customer_id": customer, "title": title,
                       "lines": [{"item_id": item, "quantity": quantity}]}),
            )
            .await;
        let (status, r) = self
            .post(
                &format!("/v1/deals/{deal}/reserve"),
                &self.admin_token,
                json!({"warehouse_id": warehouse}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        deal
    }

    /// A pick list of `deal` in `warehouse` with packing location `packing` (asserted 201).
    pub async fn pick_list(&self, deal: i64, warehouse: i64, packing: i64) -> Value {
        let (status, list) = self
            .post(
                "/v1/pick-lists",
                &self.admin_token,
                json!({"deal_ids": [deal], "warehouse_id": warehouse, "packing_location_id": packing}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{list}");
        list
    }

    /// Creates a user with `role` (and optional manager) and returns (id, token).
    pub async fn user(&self, username: &str, role: &str, manager_id: Option<i64>) -> (i64, String) {
        let password = format!("{username}-password");
        let created = self
            .create("/v1/users", json!({"username": username, "password": password, "role": role, "manager_id": manager_id}))
            .await;
        let token = self.login(username, &password).await;
        (created["id"].as_i64().unwrap(), token)
    }
}

/// Asserts a problem+json error with `status`, and that it names `field` when given.
pub fn assert_problem(status: StatusCode, body: &Value, expected: u16, field: Option<&str>) {
    assert_eq!(status.as_u16(), expected, "unexpected status, body: {body}");
    assert_eq!(
        body["status"].as_u64(),
        Some(expected as u64),
        "not a problem body: {body}"
    );
    assert!(
        body["type"].is_string() && body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    if let Some(f) = field {
        let named = body["field"].as_str() == Some(f)
            || body["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["field"].as_str() == Some(f)));
        assert!(named, "problem does not name field {f}: {body}");
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// [`on_both!`] with the configuration changed by `$configure` (a `fn(&mut Config)` beside the
/// tests).
#[macro_export]
macro_rules! on_both_with {
    ($configure:ident; $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::TestApp::sqlite_with(super::$configure).await).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::TestApp::postgres_with(super::$configure).await).await
                }
            }
        )*
    };
}

/// Runs an async test body against SQLite and against PostgreSQL, as two tests.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::helpers::TestApp::sqlite().await).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::helpers::TestApp::postgres().await).await
                }
            }
        )*
    };
}

/// A fresh scratch folder for files a test hands to an outside tool.
pub fn scratch_dir(what: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "depot-test-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every PNG in a folder, in name order.
pub fn pngs_in(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Rasterises every page of a PDF with pdftoppm (poppler-utils) at 300 dpi.
pub fn pdf_pages(bytes: &[u8]) -> Vec<Vec<u8>> {
    let dir = scratch_dir("pdf");
    let pdf = dir.join("labels.pdf");
    std::fs::write(&pdf, bytes).unwrap();
    let tool = ["/usr/bin/pdftoppm", "/usr/local/bin/pdftoppm"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect(
            "pdftoppm (poppler-utils) is required to check PDFs: apt-get install -y poppler-utils",
        );
    let status = Command::new(tool)
        .args(["-r", "300", "-gray", "-png"])
        .arg(&pdf)
        .arg(dir.join("page"))
        .status()
        .unwrap();
    assert!(status.success());
    let pages = pngs_in(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    pages
}
