//! Print jobs against a fake ZPL printer: a TCP listener that answers `~HS` like a Zebra (or
//! stays silent, as a printer in an error state does, or reports paper out, or drops every
//! connection) and records everything else it receives.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use depot::app::{AppState, serve};
use depot::config::{Config, Secret};
use depot::printing::Policy;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::helpers::{ADMIN_PASSWORD, TestApp, assert_problem};

/// A label template printed on a 300 dpi Zebra arrives as that printer's ZPL, and on the PDF
/// "printer" as a PDF to download.
async fn templates_print_at_the_printers_resolution(app: TestApp) {
    app.state.printing.set_policy(fast(3));
    let printer = FakePrinter::start(Mode::Healthy).await;
    let zebra = register_printer(&app, &printer.address, "zebra-300-4x6").await;
    let data = json!({"item": {"name": "Greek yoghurt", "code": "YOG", "gtin": "4006381333931"}});
    let (status, job) = print(
        &app,
        json!({"printer_id": zebra, "template": "item", "data": data.clone(), "copies": 2}),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_i64().unwrap();
    wait_job(&app, id, "done", |j| j["status"] == "done").await;
    // 58 x 40 mm at 300 dpi: ^PW685 ^LL472; the GTIN as a native EAN-13 without its check digit.
    printer.expect("^PW685\n^LL472", 2).await;
    printer.expect("^BEN", 2).await;
    printer.expect("^FD400638133393^FS", 2).await;

    let pdf_printer = app
        .create(
            "/v1/devices",
            json!({"name": "paper", "kind": "printer", "profile": "pdf-file"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let (status, job) = print(
        &app,
        json!({"printer_id": pdf_printer, "template": "item", "data": data}),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let id = job["id"].as_i64().unwrap();
    wait_job(&app, id, "done", |j| j["status"] == "done").await;
    let response = app
        .client
        .get(app.url(&format!("/v1/print-jobs/{id}/document")))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    assert!(response.bytes().await.unwrap().starts_with(b"%PDF"));

    // A record instead of data: the location's own label, from the location.
    let wh = app
        .create(
            "/v1/warehouses",
            json!({"code": "PW", "name": "Print warehouse"}),
        )
        .await;
    let bin = app
        .create(
            &format!("/v1/warehouses/{}/locations", wh["id"]),
            json!({"code": "B-07"}),
        )
        .await;
    let (status, job) = print(
        &app,
        json!({"printer_id": zebra, "entity": {"type": "location", "id": bin["id"]}}),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["template"], "location");
    wait_job(&app, job["id"].as_i64().unwrap(), "done", |j| {
        j["status"] == "done"
    })
    .await;
    printer.expect(">:PW-B-07", 1).await;
    let (status, body) = print(
        &app,
        json!({"printer_id": zebra, "entity": {"type": "batch", "id": 999_999}}),
        None,
    )
    .await;
    assert_problem(status, &body, 422, Some("entity"));

    // Bad data for the template: refused before anything is queued.
    let (status, body) = print(
        &app,
        json!({"printer_id": zebra, "template": "item", "data": {"item": {"name": "X", "code": "X"}}}),
        None,
    )
    .await;
    assert_problem(status, &body, 422, Some("data.item.gtin"));
}

crate::on_both!(
    templates_print_at_the_printers_resolution,
    a_job_is_printed_exactly_once,
    copies_arrive_as_often_as_asked,
    a_printer_in_error_is_retried_until_it_recovers,
    an_unreachable_printer_fails_after_the_last_attempt,
    a_restarted_depot_resumes_queued_jobs,
    a_job_abandoned_while_sending_is_sent_again,
    bad_print_requests_are_refused,
);

const HEALTHY: &[u8] = b"\x02030,0,0,1245,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n";
const PAPER_OUT: &[u8] = b"\x02030,1,0,1245,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Healthy,
    /// No answer to `~HS` (media out, head open …).
    Silent,
    PaperOut,
    /// Accepts and closes every connection at once.
    Drop,
}

struct FakePrinter {
    address: String,
    mode: Arc<Mutex<Mode>>,
    received: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakePrinter {
    async fn start(mode: Mode) -> FakePrinter {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let mode = Arc::new(Mutex::new(mode));
        let received = Arc::new(Mutex::new(Vec::new()));
        let (m, r) = (mode.clone(), received.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let (mode, received) = (m.clone(), r.clone());
                tokio::spawn(async move {
                    if *mode.lock().unwrap() == Mode::Drop {
                        return;
                    }
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let n = match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(at) = buf.windows(3).position(|w| w == b"~HS") {
                            buf.drain(at..at + 3);
                            let now = *mode.lock().unwrap();
                            let answer = match now {
                                Mode::Healthy => HEALTHY,
                                Mode::PaperOut => PAPER_OUT,
                                Mode::Silent | Mode::Drop => continue,
                            };
                            if stream.write_all(answer).await.is_err() {
                                break;
                            }
                        }
                    }
                    received.lock().unwrap().extend_from_slice(&buf);
                });
            }
        });
        FakePrinter {
            address,
            mode,
            received,
            task,
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    /// How many times `label` arrived (the comment naming its print job left out).
    fn count(&self, label: &str) -> usize {
        let got = String::from_utf8_lossy(&self.received.lock().unwrap()).into_owned();
        let mut plain = String::with_capacity(got.len());
        let mut rest = got.as_str();
        while let Some(at) = rest.find("^FXdepot print job ") {
            plain.push_str(&rest[..at]);
            rest = &rest[at..];
            rest = rest.find("^FS").map_or("", |end| &rest[end + 3..]);
        }
        plain.push_str(rest);
        plain.matches(label).count()
    }

    /// Whether the label formats of print job `id` arrived marked with it.
    fn marked(&self, id: i64) -> bool {
        String::from_utf8_lossy(&self.received.lock().unwrap())
            .contains(&format!("^XA^FXdepot print job {id}^FS"))
    }

    /// Waits until `label` arrived `n` times, then a little longer to see that no more come.
    async fn expect(&self, label: &str, n: usize) {
        for _ in 0..200 {
            if self.count(label) >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            self.count(label),
            n,
            "label arrived a different number of times"
        );
    }
}

impl Drop for FakePrinter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Short timeouts and backoff so that retries happen within a test.
fn fast(max_attempts: i64) -> Policy {
    Policy {
        max_attempts,
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(1),
        status_timeout: Duration::from_millis(300),
        write_timeout: Duration::from_secs(5),
        stale_after: Duration::from_secs(120),
        poll: Duration::from_millis(100),
    }
}

async fn register_printer(app: &TestApp, address: &str, profile: &str) -> i64 {
    let body = app
        .create(
            "/v1/devices",
            json!({"name": format!("printer {address}"), "kind": "printer", "profile": profile, "address": address}),
        )
        .await;
    body["id"].as_i64().unwrap()
}

fn label(text: &str) -> String {
    format!("^XA^FO50,50^A0N,40,40^FD{text}^FS^XZ")
}

async fn print(app: &TestApp, body: Value, key: Option<&str>) -> (StatusCode, Value) {
    let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
    app.send_with(
        Method::POST,
        "/v1/print-jobs",
        Some(&app.admin_token),
        Some(body),
        &headers,
    )
    .await
}

async fn submit(app: &TestApp, printer_id: i64, zpl: &str, copies: i64) -> i64 {
    let (status, body) = print(
        app,
        json!({"printer_id": printer_id, "zpl": zpl, "copies": copies}),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "queued", "{body}");
    body["id"].as_i64().unwrap()
}

/// Polls the job until `done` holds for it (or fails the test after ~20 s).
async fn wait_job(app: &TestApp, id: i64, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..400 {
        let (status, job) = app
            .get(&format!("/v1/print-jobs/{id}"), &app.admin_token)
            .await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if done(&job) {
            return job;
        }
        last = job;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} never became {what}: {last}");
}

async fn a_job_is_printed_exactly_once(app: TestApp) {
    app.state.printing.set_policy(fast(3));
    let printer = FakePrinter::start(Mode::Healthy).await;
    let printer_id = register_printer(&app, &printer.address, "zebra-203-4x6").await;
    let zpl = label("once");
    let body = json!({"printer_id": printer_id, "zpl": zpl, "copies": 1});
    let (s1, first) = print(&app, body.clone(), Some("print-once-1")).await;
    assert_eq!(s1, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["status"], "queued");
    assert_eq!(first["attempts"], 0);
    // The client did not see the answer and retries with the same key.
    let (s2, second) = print(&app, body, Some("print-once-1")).await;
    assert_eq!(s2, StatusCode::ACCEPTED, "{second}");
    assert_eq!(second["id"], first["id"]);
    let id = first["id"].as_i64().unwrap();
    let job = wait_job(&app, id, "done", |j| j["status"] == "done").await;
    assert_eq!(job["attempts"], 1, "{job}");
    assert!(job["done_at"].is_string(), "{job}");
    assert_eq!(job["format"], "zpl");
    assert!(job["template"].is_null());
    printer.expect(&zpl, 1).await;

    let (status, list) = app
        .get(
            &format!("/v1/print-jobs?printer_id={printer_id}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let (_, queued) = app
        .get(
            &format!("/v1/print-jobs?printer_id={printer_id}&status=queued"),
            &app.admin_token,
        )
        .await;
    assert_eq!(queued["items"].as_array().unwrap().len(), 0, "{queued}");

    let (status, content_type, doc) = app
        .download(&format!("/v1/print-jobs/{id}/document"), &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/x-zpl"));
    assert_eq!(String::from_utf8(doc).unwrap(), zpl);
}

async fn copies_arrive_as_often_as_asked(app: TestApp) {
    app.state.printing.set_policy(fast(3));
    let printer = FakePrinter::start(Mode::Healthy).await;
    let printer_id = register_printer(&app, &printer.address, "zebra-300-4x6").await;
    let zpl = label("twice");
    let id = submit(&app, printer_id, &zpl, 2).await;
    let job = wait_job(&app, id, "done", |j| j["status"] == "done").await;
    assert_eq!(job["copies"], 2);
    printer.expect(&zpl, 2).await;
    // Delivery is at least once: each label says which job it belongs to.
    assert!(printer.marked(id), "the labels name their print job");
}

async fn a_printer_in_error_is_retried_until_it_recovers(app: TestApp) {
    app.state.printing.set_policy(fast(100));
    let printer = FakePrinter::start(Mode::PaperOut).await;
    let printer_id = register_printer(&app, &printer.address, "zebra-203-58x40").await;
    let zpl = label("patience");
    let id = submit(&app, printer_id, &zpl, 1).await;

    let job = wait_job(&app, id, "refused for paper out", |j| {
        j["attempts"].as_i64() >= Some(1) && j["status"] == "queued"
    })
    .await;
    assert!(
        job["last_error"]
            .as_str()
            .unwrap()
            .contains("printer reports paper out"),
        "{job}"
    );

    // Error state: the printer does not answer ~HS at all.
    printer.set(Mode::Silent);
    let job = wait_job(&app, id, "retried while silent", |j| {
        j["status"] == "queued"
            && j["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("did not answer ~HS"))
    })
    .await;
    let attempts = job["attempts"].as_i64().unwrap();
    let job = wait_job(&app, id, "retried again", |j| {
        j["attempts"].as_i64() > Some(attempts)
    })
    .await;
    assert_ne!(job["status"], "done", "{job}");
    assert_eq!(printer.count(&zpl), 0);

    printer.set(Mode::Healthy);
    let job = wait_job(&app, id, "done", |j| j["status"] == "done").await;
    assert!(job["attempts"].as_i64().unwrap() > attempts, "{job}");
    printer.expect(&zpl, 1).await;
}

async fn an_unreachable_printer_fails_after_the_last_attempt(app: TestApp) {
    app.state.printing.set_policy(fast(3));
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let printer_id = register_printer(&app, &closed, "zebra-203-4x6").await;
    let id = submit(&app, printer_id, &label("nowhere"), 1).await;
    let job = wait_job(&app, id, "failed", |j| j["status"] == "failed").await;
    assert_eq!(job["attempts"], 3, "{job}");
    assert!(
        job["last_error"].as_str().unwrap().contains("unreachable"),
        "{job}"
    );
    assert!(job["done_at"].is_string(), "{job}");

    // A printer that accepts and hangs up at once is retried too, and fails the same way.
    let dropper = FakePrinter::start(Mode::Drop).await;
    let printer_id = register_printer(&app, &dropper.address, "zebra-203-4x6").await;
    let id = submit(&app, printer_id, &label("dropped"), 1).await;
    let job = wait_job(&app, id, "failed", |j| j["status"] == "failed").await;
    assert_eq!(job["attempts"], 3, "{job}");
    assert!(job["last_error"].as_str().unwrap().contains("~HS"), "{job}");

    let (status, failed) = app
        .get("/v1/print-jobs?status=failed", &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(failed["items"].as_array().unwrap().len(), 2, "{failed}");
}

/// A second Depot on the same database (a restart, or another instance), served until the
/// sender is used.
async fn second_depot(
    app: &TestApp,
    policy: Policy,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let config = Config {
        database_url: app.state.config.database_url.clone(),
        listen: "127.0.0.1:0".into(),
        admin_password: Some(Secret::new(ADMIN_PASSWORD)),
        decode_worker_exe: Some(env!("CARGO_BIN_EXE_depot").into()),
        jobs: false,
        ..Config::default()
    };
    let state = AppState::start(config).await.expect("start second depot");
    state.printing.set_policy(policy);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        serve(listener, state, async {
            let _ = rx.await;
        })
        .await
        .expect("serve second depot");
    });
    (tx, server)
}

async fn a_restarted_depot_resumes_queued_jobs(app: TestApp) {
    app.state.printing.set_policy(fast(100));
    let printer = FakePrinter::start(Mode::Silent).await;
    let printer_id = register_printer(&app, &printer.address, "zebra-203-4x6").await;
    let zpl = label("after restart");
    let id = submit(&app, printer_id, &zpl, 1).await;
    wait_job(&app, id, "tried", |j| j["attempts"].as_i64() >= Some(1)).await;

    // The first Depot stops (its worker finishes the attempt in progress, then ends).
    app.state
        .printing
        .stop_worker(Duration::from_secs(10))
        .await;
    let job = wait_job(&app, id, "queued", |j| j["status"] == "queued").await;
    let attempts = job["attempts"].as_i64().unwrap();
    printer.set(Mode::Healthy);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(printer.count(&zpl), 0, "printed with no worker running");
    let (status, job) = app
        .get(&format!("/v1/print-jobs/{id}"), &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(job["status"], "queued", "{job}");
    assert_eq!(job["attempts"].as_i64(), Some(attempts), "{job}");

    // A new Depot on the same database picks the job up and prints it once.
    let (stop, server) = second_depot(&app, fast(100)).await;
    let job = wait_job(&app, id, "done", |j| j["status"] == "done").await;
    assert_eq!(job["attempts"].as_i64(), Some(attempts + 1), "{job}");
    printer.expect(&zpl, 1).await;
    let _ = stop.send(());
    server.await.unwrap();
}

/// Marks a job as being sent by an instance that then died, `minutes` ago.
async fn abandon(app: &TestApp, id: i64, minutes: i64) -> Result<(), depot::error::Error> {
    let at = depot::db::now() - time::Duration::minutes(minutes);
    depot::in_tx!(app.state.db, tx => {
        sqlx::query(
            "update print_jobs set status = 'sending', attempts = attempts + 1, updated_at = $2
             where id = $1",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    });
    Ok(())
}

async fn a_job_abandoned_while_sending_is_sent_again(app: TestApp) {
    // The first Depot's worker is gone (killed while sending two jobs).
    app.state.printing.stop_worker(Duration::from_secs(1)).await;
    let printer = FakePrinter::start(Mode::Healthy).await;
    let printer_id = register_printer(&app, &printer.address, "zebra-203-4x6").await;
    let old = label("abandoned long ago");
    let recent = label("still being sent");
    let old_id = submit(&app, printer_id, &old, 1).await;
    let recent_id = submit(&app, printer_id, &recent, 1).await;
    abandon(&app, old_id, 10).await.unwrap();
    // Within stale_after this may be a live instance still sending: it must be left alone.
    abandon(&app, recent_id, 0).await.unwrap();

    let (stop, server) = second_depot(
        &app,
        Policy {
            stale_after: Duration::from_secs(120),
            ..fast(3)
        },
    )
    .await;
    let job = wait_job(&app, old_id, "done", |j| j["status"] == "done").await;
    assert_eq!(job["attempts"], 2, "{job}");
    printer.expect(&old, 1).await;
    let (_, job) = app
        .get(&format!("/v1/print-jobs/{recent_id}"), &app.admin_token)
        .await;
    assert_eq!(job["status"], "sending", "{job}");
    assert_eq!(printer.count(&recent), 0);
    let _ = stop.send(());
    server.await.unwrap();
}

async fn bad_print_requests_are_refused(app: TestApp) {
    let printer = FakePrinter::start(Mode::Healthy).await;
    let printer_id = register_printer(&app, &printer.address, "zebra-203-4x6").await;
    let zpl = label("never");

    let (s, b) = print(&app, json!({"printer_id": 999999, "zpl": zpl}), None).await;
    assert_problem(s, &b, 422, Some("printer_id"));

    let scanner = app
        .create(
            "/v1/devices",
            json!({"name": "handheld", "kind": "scanner", "profile": "honeywell"}),
        )
        .await;
    let scanner_id = scanner["id"].as_i64().unwrap();
    let (s, b) = print(&app, json!({"printer_id": scanner_id, "zpl": zpl}), None).await;
    assert_problem(s, &b, 422, Some("printer_id"));

    for copies in [0, 101, -1] {
        let (s, b) = print(
            &app,
            json!({"printer_id": printer_id, "zpl": zpl, "copies": copies}),
            None,
        )
        .await;
        assert_problem(s, &b, 422, Some("copies"));
    }

    let (s, b) = print(
        &app,
        json!({"printer_id": printer_id, "template": "no-such-template", "data": {}}),
        None,
    )
    .await;
    assert_problem(s, &b, 422, Some("template"));

    let (s, b) = print(&app, json!({"printer_id": printer_id}), None).await;
    assert_problem(s, &b, 422, Some("template"));

    // A printer without an address, and one whose profile is not a printer profile.
    let no_address = app
        .create(
            "/v1/devices",
            json!({"name": "nowhere", "kind": "printer", "profile": "zebra-203-4x6"}),
        )
        .await;
    let (s, b) = print(
        &app,
        json!({"printer_id": no_address["id"], "zpl": zpl}),
        None,
    )
    .await;
    assert_problem(s, &b, 422, Some("printer_id"));
    // A printer whose profile is not a printer profile is refused when it is registered, not
    // at its first job; the problem lists the profiles that are known.
    let (s, b) = app
        .post(
            "/v1/devices",
            &app.admin_token,
            json!({"name": "odd", "kind": "printer", "profile": "honeywell", "address": printer.address}),
        )
        .await;
    assert_problem(s, &b, 422, Some("profile"));
    assert!(
        b["detail"].as_str().unwrap().contains("zebra-203-4x6"),
        "{b}"
    );
    let (s, b) = app
        .post(
            "/v1/devices",
            &app.admin_token,
            json!({"name": "pdf", "kind": "printer", "profile": "pdf"}),
        )
        .await;
    assert_problem(s, &b, 422, Some("profile"));

    // Raw ZPL is for admins; the PDF "printer" takes no ZPL.
    let (_, warehouse) = app.user("picker", "warehouse", None).await;
    let (s, b) = app
        .send(
            Method::POST,
            "/v1/print-jobs",
            Some(&warehouse),
            Some(json!({"printer_id": printer_id, "zpl": zpl})),
        )
        .await;
    assert_problem(s, &b, 403, None);
    let (_, rep) = app.user("seller", "rep", None).await;
    let (s, b) = app.get("/v1/print-jobs", &rep).await;
    assert_problem(s, &b, 403, None);
    let pdf = app
        .create(
            "/v1/devices",
            json!({"name": "pdf", "kind": "printer", "profile": "pdf-file"}),
        )
        .await;
    let (s, b) = print(&app, json!({"printer_id": pdf["id"], "zpl": zpl}), None).await;
    assert_problem(s, &b, 422, Some("zpl"));

    let (s, b) = app.get("/v1/print-jobs/424242", &app.admin_token).await;
    assert_problem(s, &b, 404, None);
    let (s, list) = app.get("/v1/print-jobs", &app.admin_token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    assert_eq!(printer.count("^XA"), 0);

    let (_, spec) = app.send(Method::GET, "/openapi.json", None, None).await;
    for path in [
        "/v1/print-jobs",
        "/v1/print-jobs/{id}",
        "/v1/print-jobs/{id}/document",
        "/v1/printer-profiles",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    assert!(spec["paths"]["/v1/print-jobs"]["post"]["responses"]["202"].is_object());

    let (s, profiles) = app.get("/v1/printer-profiles", &app.admin_token).await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = profiles
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for expected in [
        "pdf-file",
        "zebra-203-4x6",
        "zebra-203-58x40",
        "zebra-300-4x6",
    ] {
        assert!(names.contains(&expected), "{profiles}");
    }
}
