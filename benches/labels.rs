//! Label rendering and print-queue throughput (plain timing, no harness):
//!
//! 1. per built-in template, with its example data: `lay_out` alone, then ZPL at 203 dpi, PDF,
//!    PNG at 203 dpi (20 warm-up, 200 timed each), median and p95 against the targets
//!    (ZPL < 100 µs, PDF < 10 ms, PNG < 20 ms);
//! 2. right-to-left text in ZPL (issue 21): every built-in template with its free-text fields
//!    (`overflow = "cut"`) set to an Arabic name, a Hebrew name and a mixed Arabic/Latin/number
//!    line: ZPL at 203 dpi with those lines as `^GFA` graphics (what every printer gets unless
//!    its profile says it shapes), median/p95 and bytes against the targets (< 1 ms, < 20 KB),
//!    and the bytes the same label takes as printer-shaped text (`^PA`), for comparison;
//! 3. the print queue: Depot in-process, N jobs submitted over HTTP from 16 concurrent tasks to
//!    1 and to 4 loopback fake Zebra printers (healthy `~HS`), raw ZPL (~1 KB) and the `item`
//!    template; submission rate (202s/s) and end-to-end jobs/s until every label arrived, each
//!    exactly once (a unique `JOB-nnnnnn` marker per job).
//!
//! ```text
//! cargo bench --bench labels                    # SQLite (temporary file)
//! DEPOT_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo bench --bench labels
//! DEPOT_BENCH_JOBS=2000 cargo bench --bench labels
//! cargo bench --bench labels -- rtl             # only 2
//! ```
//!
//! Does nothing unless argv contains `--bench`. Only talks to loopback. Load generator, server,
//! worker and fake printers share the machine's cores, so the queue figures are a floor.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use depot::app::{AppState, serve};
use depot::config::{Config, Secret};
use depot::labels::{self, Format, Labels};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const WARMUP: usize = 20;
const RUNS: usize = 200;
const SUBMITTERS: usize = 16;
const DPI: u32 = 203;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    if std::env::args().any(|a| a == "rtl") {
        right_to_left();
        return;
    }
    rendering();
    right_to_left();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if let Err(e) = rt.block_on(queue()) {
        eprintln!("print queue benchmark failed: {e:#}");
        std::process::exit(1);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// (median, p95) of `RUNS` timed calls after `WARMUP` untimed ones.
fn time<T>(mut f: impl FnMut() -> T) -> (Duration, Duration) {
    for _ in 0..WARMUP {
        std::hint::black_box(f());
    }
    let mut v: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    v.sort();
    (percentile(&v, 0.5), percentile(&v, 0.95))
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.1} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

// ---- 1. rendering ----

fn rendering() {
    let labels = Labels::load(None).expect("built-in templates");
    let targets = [
        (Format::Zpl, "ZPL 203", Duration::from_micros(100)),
        (Format::Pdf, "PDF", Duration::from_millis(10)),
        (Format::Png, "PNG 203", Duration::from_millis(20)),
    ];
    println!(
        "label rendering, example data, {RUNS} runs after {WARMUP} warm-up (median / p95; target on the median)"
    );
    println!(
        "{:<15} {:>5} {:<8} {:>11} {:>11} {:>10} {:>11}  met",
        "template", "pages", "format", "median", "p95", "bytes", "target"
    );
    let mut misses = Vec::new();
    for t in labels.all() {
        let data = t.example();
        let pages = match t.lay_out(&data) {
            Ok(p) => p.len(),
            Err(e) => {
                println!("{:<15} lay_out failed: {e:?}", t.name);
                continue;
            }
        };
        let (m, p) = time(|| t.lay_out(&data).expect("lay_out"));
        println!(
            "{:<15} {:>5} {:<8} {:>11} {:>11} {:>10} {:>11}",
            t.name,
            pages,
            "lay_out",
            fmt(m),
            fmt(p),
            "",
            ""
        );
        for (format, name, target) in targets {
            let size = match labels::render(&t, format, DPI, &data) {
                Ok(r) => r.bytes.len(),
                Err(e) => {
                    println!("{:<15} {:>5} {name:<8} render failed: {e:?}", "", "");
                    continue;
                }
            };
            let (m, p) = time(|| labels::render(&t, format, DPI, &data).expect("render"));
            let met = if m < target {
                if p < target { "yes" } else { "yes (p95 no)" }
            } else {
                misses.push(format!("{} {name}", t.name));
                "NO"
            };
            println!(
                "{:<15} {:>5} {name:<8} {:>11} {:>11} {:>10} {:>11}  {met}",
                "",
                "",
                fmt(m),
                fmt(p),
                size,
                format!("< {}", fmt(target)),
            );
        }
    }
    if misses.is_empty() {
        println!("every template meets every target (median)\n");
    } else {
        println!("targets missed (median): {}\n", misses.join(", "));
    }
}

// ---- 2. right-to-left text in ZPL ----

const RTL_TEXTS: [(&str, &str); 3] = [
    ("arabic", "زيت زيتون بكر ممتاز"),
    ("hebrew", "שמן זית כתית מעולה"),
    ("mixed", "شركة النور ABC-12 رقم 4711"),
];

/// The template's example with every free-text field (table cells included) set to `text`.
fn with_free_text(t: &labels::template::Template, text: &str) -> Value {
    use labels::template::Overflow;
    let mut data = t.example();
    for (path, spec) in &t.fields {
        let mut node = &mut data;
        for key in path.split('.') {
            node = &mut node[key];
        }
        if spec.row.is_empty() {
            if spec.overflow == Overflow::Cut && !node.is_null() {
                *node = json!(text);
            }
        } else if let Value::Array(rows) = node {
            for row in rows {
                for (key, limit) in &spec.row {
                    if limit.overflow == Overflow::Cut && !row[key.as_str()].is_null() {
                        row[key.as_str()] = json!(text);
                    }
                }
            }
        }
    }
    data
}

fn right_to_left() {
    use labels::zpl::ComplexText;
    let labels = Labels::load(None).expect("built-in templates");
    let (time_target, size_target) = (Duration::from_millis(1), 20 * 1024);
    let printer = ComplexText::Printer {
        font: "E:TT0003M_.TTF".into(),
    };
    println!(
        "ZPL {DPI} dpi with right-to-left lines as ^GFA graphics, {RUNS} runs after {WARMUP} warm-up \
         (median / p95; targets < {} and < {size_target} bytes; ^PA: bytes when the printer shapes)",
        fmt(time_target)
    );
    println!(
        "{:<15} {:<7} {:>6} {:>11} {:>11} {:>8} {:>8}  met",
        "template", "text", "lines", "median", "p95", "bytes", "^PA"
    );
    let mut misses = Vec::new();
    for t in labels.all() {
        for (variant, text) in RTL_TEXTS {
            let data = with_free_text(&t, text);
            let render = |complex: &ComplexText| {
                labels::render_for(&t, Format::Zpl, DPI, &data, complex).expect("render")
            };
            let zpl = render(&ComplexText::Graphic).bytes;
            let graphics = String::from_utf8_lossy(&zpl).matches("^GFA").count();
            let shaped = render(&printer).bytes.len();
            let (m, p) = time(|| render(&ComplexText::Graphic));
            let met = m < time_target && zpl.len() < size_target;
            if !met {
                misses.push(format!("{} {variant}", t.name));
            }
            println!(
                "{:<15} {variant:<7} {graphics:>6} {:>11} {:>11} {:>8} {shaped:>8}  {}",
                t.name,
                fmt(m),
                fmt(p),
                zpl.len(),
                if met { "yes" } else { "NO" }
            );
        }
    }
    if misses.is_empty() {
        println!("every template meets both targets (median)\n");
    } else {
        println!("targets missed (median): {}\n", misses.join(", "));
    }
}

// ---- 3. print queue ----

const HEALTHY: &[u8] = b"\x02030,0,0,1245,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n";

/// Per-job arrival counts, shared by every fake printer of a run.
struct Arrivals {
    per_job: Mutex<Vec<u32>>,
    total: AtomicUsize,
    /// Labels without a readable marker (should stay 0).
    unmarked: AtomicUsize,
    connections: AtomicUsize,
}

impl Arrivals {
    fn new(n: usize) -> Arc<Arrivals> {
        Arc::new(Arrivals {
            per_job: Mutex::new(vec![0; n]),
            total: AtomicUsize::new(0),
            unmarked: AtomicUsize::new(0),
            connections: AtomicUsize::new(0),
        })
    }

    /// Counts every `JOB-nnnnnn` in what one connection delivered, and `^XA`s without one.
    fn record(&self, buf: &[u8]) {
        let formats = buf.windows(3).filter(|w| *w == b"^XA").count();
        let mut found = 0;
        let mut per_job = self.per_job.lock().unwrap();
        let mut i = 0;
        while let Some(at) = buf[i..].windows(4).position(|w| w == b"JOB-") {
            let start = i + at + 4;
            let digits = buf.get(start..start + 6);
            if let Some(n) = digits
                .filter(|d| d.iter().all(u8::is_ascii_digit))
                .and_then(|d| std::str::from_utf8(d).ok()?.parse::<usize>().ok())
                && n < per_job.len()
            {
                per_job[n] += 1;
                found += 1;
            }
            i = start;
        }
        drop(per_job);
        self.total.fetch_add(found, Ordering::SeqCst);
        self.unmarked
            .fetch_add(formats.saturating_sub(found), Ordering::SeqCst);
        self.connections.fetch_add(1, Ordering::SeqCst);
    }
}

/// A healthy Zebra on 127.0.0.1: answers `~HS`, records everything else per connection.
async fn fake_printer(
    arrivals: Arc<Arrivals>,
) -> anyhow::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?.to_string();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
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
                        if stream.write_all(HEALTHY).await.is_err() {
                            break;
                        }
                    }
                }
                arrivals.record(&buf);
            });
        }
    });
    Ok((address, task))
}

/// ~1 KB of raw ZPL carrying the job's marker once.
fn raw_zpl(n: usize) -> String {
    let mut z = format!("^XA^CI28^PW812^LL1218\n^FO40,40^A0N,60,60^FDJOB-{n:06}^FS\n");
    let mut y = 120;
    while z.len() < 980 {
        z.push_str(&format!(
            "^FO40,{y}^A0N,30,30^FDLine {y}: bench filler text for a label^FS\n"
        ));
        y += 36;
    }
    z.push_str("^XZ\n");
    z
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Raw,
    Template,
}

struct Run {
    backend: &'static str,
    printers: usize,
    kind: &'static str,
    jobs: usize,
    errors: usize,
    submit_per_sec: f64,
    submit_p50: Duration,
    submit_p95: Duration,
    e2e_secs: f64,
    per_sec: f64,
    missing: usize,
    duplicated: usize,
    unmarked: usize,
    connections: usize,
}

struct Server {
    base: String,
    client: reqwest::Client,
    token: String,
}

impl Server {
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }
}

async fn one_run(
    server: &Arc<Server>,
    backend: &'static str,
    printers: usize,
    kind: Kind,
    n: usize,
) -> anyhow::Result<Run> {
    let arrivals = Arrivals::new(n);
    let mut ids = Vec::new();
    let mut tasks = Vec::new();
    for p in 0..printers {
        let (address, task) = fake_printer(arrivals.clone()).await?;
        let (status, body) = server
            .post(
                "/v1/devices",
                &json!({"name": format!("bench printer {address} {p}"), "kind": "printer",
                        "profile": "zebra-203-4x6", "address": address}),
            )
            .await?;
        anyhow::ensure!(status == 201, "registering a printer: {status} {body}");
        ids.push(body["id"].as_i64().unwrap());
        tasks.push(task);
    }
    let ids = Arc::new(ids);
    let item_example = Labels::load(None)?
        .get("item")
        .map(|t| t.example())
        .ok_or_else(|| anyhow::anyhow!("no item template"))?;
    if kind == Kind::Template {
        // The marker must survive rendering exactly once, or the counts below mean nothing.
        let mut data = item_example.clone();
        data["item"]["code"] = json!("JOB-000000");
        let zpl = Labels::load(None)?.render("item", Format::Zpl, DPI, &data)?;
        let text = String::from_utf8_lossy(&zpl.bytes);
        anyhow::ensure!(
            text.matches("JOB-000000").count() == 1,
            "the item template's ZPL does not carry the marker once: {text}"
        );
    }
    let started = Instant::now();
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|s| {
            let (server, ids, example) = (server.clone(), ids.clone(), item_example.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                let mut i = s;
                while i < n {
                    let printer_id = ids[i % ids.len()];
                    let body = match kind {
                        Kind::Raw => json!({"printer_id": printer_id, "zpl": raw_zpl(i)}),
                        Kind::Template => {
                            let mut data = example.clone();
                            data["item"]["code"] = json!(format!("JOB-{i:06}"));
                            json!({"printer_id": printer_id, "template": "item", "data": data})
                        }
                    };
                    let t = Instant::now();
                    match server.post("/v1/print-jobs", &body).await {
                        Ok((202, _)) => latencies.push(t.elapsed()),
                        Ok((status, body)) => {
                            if errors == 0 {
                                eprintln!("job {i}: {status} {body}");
                            }
                            errors += 1;
                        }
                        Err(e) => {
                            if errors == 0 {
                                eprintln!("job {i}: {e}");
                            }
                            errors += 1;
                        }
                    }
                    i += SUBMITTERS;
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for s in submitters {
        let (l, e) = s.await?;
        latencies.extend(l);
        errors += e;
    }
    let submitted = started.elapsed();
    latencies.sort();
    let accepted = latencies.len();
    // Wait for every accepted label (bounded), then a little longer to see duplicates.
    let deadline = Instant::now() + Duration::from_secs(300);
    while arrivals.total.load(Ordering::SeqCst) < accepted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let e2e = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let per_job = arrivals.per_job.lock().unwrap().clone();
    for t in tasks {
        t.abort();
    }
    Ok(Run {
        backend,
        printers,
        kind: match kind {
            Kind::Raw => "raw ZPL ~1 KB",
            Kind::Template => "item template",
        },
        jobs: n,
        errors,
        submit_per_sec: accepted as f64 / submitted.as_secs_f64(),
        submit_p50: percentile(&latencies, 0.5),
        submit_p95: percentile(&latencies, 0.95),
        e2e_secs: e2e.as_secs_f64(),
        per_sec: accepted as f64 / e2e.as_secs_f64(),
        missing: per_job.iter().filter(|c| **c == 0).count(),
        duplicated: per_job.iter().filter(|c| **c > 1).count(),
        unmarked: arrivals.unmarked.load(Ordering::SeqCst),
        connections: arrivals.connections.load(Ordering::SeqCst),
    })
}

/// What one job costs the worker outside the queue: the raw TCP send with its `~HS` round
/// trip to a fake printer, on its own.
async fn direct_send() -> anyhow::Result<(Duration, Duration)> {
    let arrivals = Arrivals::new(1);
    let (address, task) = fake_printer(arrivals).await?;
    let policy = depot::printing::Policy::default();
    let payload = raw_zpl(0).into_bytes();
    let mut v = Vec::new();
    for i in 0..(WARMUP + RUNS) {
        let t = Instant::now();
        depot::printing::worker::send_zpl(&address, &payload, 1, &policy)
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
        if i >= WARMUP {
            v.push(t.elapsed());
        }
    }
    task.abort();
    v.sort();
    Ok((percentile(&v, 0.5), percentile(&v, 0.95)))
}

async fn queue() -> anyhow::Result<()> {
    let n: usize = std::env::var("DEPOT_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
        .min(1_000_000);
    let dir = std::env::temp_dir().join(format!("depot-bench-labels-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut backends = vec![(
        "sqlite",
        format!("sqlite://{}", dir.join("bench.db").display()),
    )];
    let mut cleanup_pg = None;
    if let Ok(admin_url) = std::env::var("DEPOT_BENCH_DATABASE_URL") {
        use sqlx::Connection;
        let name = format!("depot_bench_labels_{}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
        sqlx::query(&format!("create database {name}"))
            .execute(&mut conn)
            .await?;
        let base = &admin_url[..admin_url.rfind('/').unwrap()];
        backends.push(("postgres", format!("{base}/{name}")));
        cleanup_pg = Some((admin_url, name));
    }
    let (send_p50, send_p95) = direct_send().await?;
    let mut runs = Vec::new();
    let mut failure = None;
    for (backend, database_url) in backends {
        let result = async {
            let config = Config {
                database_url,
                admin_password: Some(Secret::new("bench-password")),
                jobs: false,
                ..Config::default()
            };
            let state = AppState::start(config).await?;
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let base = format!("http://{}", listener.local_addr()?);
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server_task = tokio::spawn(serve(listener, state, async {
                let _ = stopped.await;
            }));
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(SUBMITTERS)
                .build()?;
            let login: Value = client
                .post(format!("{base}/v1/auth/login"))
                .json(&json!({"username": "admin", "password": "bench-password"}))
                .send()
                .await?
                .json()
                .await?;
            let token = login["access_token"]
                .as_str()
                .ok_or_else(|| anyhow::anyhow!("login failed: {login}"))?
                .to_string();
            let server = Arc::new(Server {
                base,
                client,
                token,
            });
            let mut out = Vec::new();
            for printers in [1, 4] {
                for kind in [Kind::Raw, Kind::Template] {
                    out.push(one_run(&server, backend, printers, kind, n).await?);
                }
            }
            let _ = stop.send(());
            let _ = server_task.await;
            anyhow::Ok(out)
        }
        .await;
        match result {
            Ok(r) => runs.extend(r),
            Err(e) => {
                failure = Some(e.context(format!("{backend} run")));
                break;
            }
        }
    }
    if let Some((admin_url, name)) = cleanup_pg {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
        sqlx::query(&format!("drop database if exists {name} with (force)"))
            .execute(&mut conn)
            .await?;
    }
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "print queue: {n} jobs per run, {SUBMITTERS} concurrent submitters over HTTP, zebra-203-4x6 fake printers on loopback"
    );
    println!(
        "{:<9} {:>4} {:<14} {:>7} {:>10} {:>9} {:>9} {:>8} {:>9} {:>9} {:>8} {:>5} {:>8}",
        "backend",
        "prn",
        "job",
        "errors",
        "202s/s",
        "sub p50",
        "sub p95",
        "e2e s",
        "jobs/s",
        "ms/job",
        "missing",
        "dup",
        "unmarked"
    );
    for r in &runs {
        println!(
            "{:<9} {:>4} {:<14} {:>7} {:>10.0} {:>9} {:>9} {:>8.2} {:>9.0} {:>9.2} {:>8} {:>5} {:>8}",
            r.backend,
            r.printers,
            r.kind,
            r.errors,
            r.submit_per_sec,
            fmt(r.submit_p50),
            fmt(r.submit_p95),
            r.e2e_secs,
            r.per_sec,
            1000.0 / r.per_sec,
            r.missing,
            r.duplicated,
            r.unmarked,
        );
        if r.connections != r.jobs {
            println!("          (the printers saw {} connections)", r.connections);
        }
    }
    println!(
        "direct send_zpl to one fake printer (connect + ~HS round trip + ~1 KB write + close), no queue: median {}, p95 {}",
        fmt(send_p50),
        fmt(send_p95)
    );
    let all_once = runs
        .iter()
        .all(|r| r.errors == 0 && r.missing == 0 && r.duplicated == 0 && r.unmarked == 0);
    println!(
        "every label arrived exactly once: {}",
        if all_once { "yes" } else { "NO" }
    );
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
