//! Dispatch prints: the parcels' logistic labels go to the warehouse's label printer (a fake
//! Zebra on 127.0.0.1), one job per parcel, and the delivery note to its document printer (a
//! PDF "printer"); what the printer received, rendered by an independent ZPL renderer
//! (zebrash) and decoded, is exactly the parcels' SSCCs. The shipment's labels download as one
//! ZPL or PDF document; reprints; problems name their field.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use depot::printing::Policy;
use image::GrayImage;
use reqwest::{Method, StatusCode};
use rxing::{BarcodeFormat, DecodeHintValue, DecodeHints};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{TestApp, assert_problem, pdf_pages, pngs_in, scratch_dir};
use crate::stock::{GS, date_in, yymmdd};

crate::on_both!(
    dispatch_prints_every_label_and_the_delivery_note,
    a_failed_print_does_not_undo_the_dispatch,
    printer_problems_are_refused_naming_the_field,
);

fn without_gs1_prefix(config: &mut depot::config::Config) {
    config.gs1_company_prefix = None;
}

crate::on_both_with!(without_gs1_prefix; parcels_ship_without_a_gs1_company_prefix);

// ---- a fake Zebra: answers ~HS as healthy, keeps everything else ----

const HEALTHY: &[u8] = b"\x02030,0,0,1245,000,0,0,0,000,0,0,0\x03\r\n\x02001,0,0,0,1,2,6,0,00000000,1,000\x03\r\n\x021234,0\x03\r\n";

struct FakePrinter {
    address: String,
    received: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl FakePrinter {
    async fn start() -> FakePrinter {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let r = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let received = r.clone();
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
                    received.lock().unwrap().extend_from_slice(&buf);
                });
            }
        });
        FakePrinter {
            address,
            received,
            task,
        }
    }

    fn text(&self) -> String {
        String::from_utf8(self.received.lock().unwrap().clone()).unwrap()
    }
}

impl Drop for FakePrinter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn fast() -> Policy {
    Policy {
        max_attempts: 3,
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(300),
        connect_timeout: Duration::from_secs(1),
        status_timeout: Duration::from_millis(500),
        write_timeout: Duration::from_secs(5),
        stale_after: Duration::from_secs(120),
        poll: Duration::from_millis(100),
    }
}

async fn device(app: &TestApp, kind: &str, profile: &str, address: Option<&str>) -> Value {
    app.create(
        "/v1/devices",
        json!({"name": format!("{kind} {profile}"), "kind": kind, "profile": profile,
               "address": address}),
    )
    .await
}

async fn device_id(app: &TestApp, kind: &str, profile: &str, address: Option<&str>) -> i64 {
    device(app, kind, profile, address).await["id"]
        .as_i64()
        .unwrap()
}

/// Polls every job until it is `done` (fails the test after ~30 s or on a failed job).
async fn wait_done(app: &TestApp, ids: &[i64]) -> Vec<Value> {
    let mut out = Vec::new();
    for id in ids {
        let mut last = Value::Null;
        for _ in 0..600 {
            let (status, job) = app
                .get(&format!("/v1/print-jobs/{id}"), &app.admin_token)
                .await;
            assert_eq!(status, StatusCode::OK, "{job}");
            assert_ne!(job["status"], "failed", "{job}");
            if job["status"] == "done" {
                break;
            }
            last = job;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (_, job) = app
            .get(&format!("/v1/print-jobs/{id}"), &app.admin_token)
            .await;
        assert_eq!(job["status"], "done", "job {id} never got done: {last}");
        out.push(job);
    }
    out
}

fn job_ids(jobs: &Value) -> Vec<i64> {
    jobs.as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect()
}

// ---- reading labels back ----

/// Every Code 128 symbol in a picture, read from overlapping horizontal strips (each strip
/// tenth of the height holds the bars of at most one of the label's stacked symbols).
fn decode_all(img: GrayImage) -> Vec<String> {
    let (w, h) = img.dimensions();
    let strip = (h / 10).max(1);
    let mut found = Vec::new();
    let mut y = 0;
    while y < h {
        let part = image::imageops::crop_imm(&img, 0, y, w, strip.min(h - y)).to_image();
        let (pw, ph) = part.dimensions();
        let mut hints = DecodeHints::default()
            .with(DecodeHintValue::PossibleFormats(HashSet::from([
                BarcodeFormat::CODE_128,
            ])))
            .with(DecodeHintValue::TryHarder(true))
            .with(DecodeHintValue::AssumeGs1(true));
        if let Ok(result) =
            rxing::helpers::detect_in_luma_with_hints(part.into_raw(), pw, ph, None, &mut hints)
        {
            let text = result.getText();
            let text = text.strip_prefix("]C1").unwrap_or(text).to_string();
            if !found.contains(&text) {
                found.push(text);
            }
        }
        y += strip / 2;
    }
    found
}

/// The SSCCs (`(00)` element strings) among the barcodes of each picture.
fn ssccs_in(pictures: &[Vec<u8>]) -> Vec<String> {
    let mut out = Vec::new();
    for png in pictures {
        let codes = decode_all(image::load_from_memory(png).expect("a PNG").to_luma8());
        let ssccs: Vec<String> = codes
            .iter()
            .filter_map(|c| c.strip_prefix("00"))
            .map(str::to_string)
            .collect();
        assert_eq!(ssccs.len(), 1, "one SSCC per label, read {codes:?}");
        out.extend(ssccs);
    }
    out.sort();
    out
}

/// Renders a ZPL stream of any number of labels with zebrash (the npm package in tests/zpl),
/// 4 x 6 in at 8 dots/mm: one PNG per label it finds.
fn zebrash_labels(zpl: &str) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zpl");
    assert!(
        root.join("node_modules/zpl-renderer-js").exists(),
        "the independent ZPL renderer is missing: run tests/run (it installs it) or `npm ci --prefix tests/zpl`"
    );
    let dir = scratch_dir("zpl");
    let zpl_path = dir.join("labels.zpl");
    std::fs::write(&zpl_path, zpl).unwrap();
    let script = r#"
const fs = require("node:fs");
const { ready } = require("zpl-renderer-js");
(async () => {
  const [zplPath, outDir] = process.argv.slice(1);
  const { api } = await ready;
  const all = await api.zplToBase64MultipleAsync(fs.readFileSync(zplPath, "utf8"), 101.6, 152.4, 8);
  all.forEach((b64, i) => fs.writeFileSync(`${outDir}/label-${String(i).padStart(4, "0")}.png`, Buffer.from(b64, "base64")));
  process.exit(0);
})().catch((e) => { console.error(String(e)); process.exit(1); });
"#;
    let output = Command::new("node")
        .current_dir(&root)
        .arg("-e")
        .arg(script)
        .arg(&zpl_path)
        .arg(&dir)
        .output()
        .expect("node is required for the independent ZPL renderer");
    assert!(
        output.status.success(),
        "zebrash: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let pictures = pngs_in(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    pictures
}

async fn download(app: &TestApp, path: &str) -> (StatusCode, String, Vec<u8>) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = response.bytes().await.unwrap().to_vec();
    app.check_bytes("GET", path, None, status, Some(&content_type), &bytes);
    (status, content_type, bytes)
}

// ---- pick, pack: a packed shipment of three parcels, one on a pallet ----

struct Packed {
    warehouse: i64,
    shipment: i64,
    /// The parcels' SSCCs, sorted (none without a GS1 Company Prefix).
    ssccs: Vec<String>,
    /// The parcels' codes (their barcodes: the SSCC, else `DPT-PARCEL-<id>`), sorted.
    codes: Vec<String>,
}

/// Stock received, a deal reserved and picked to packing, a pallet holding one box and a
/// second box beside it, all in a packed shipment. `code` makes the warehouse's codes unique;
/// `gtin` (14 digits) is the item's.
async fn packed_shipment(app: &TestApp, code: &str, gtin: &str) -> Packed {
    let admin = app.admin_token.clone();
    let item = app
        .create(
            "/v1/items",
            json!({"code": format!("YOG-{code}"), "name": "Yoghurt", "tracking": "batch",
                   "gtins": [{"gtin": gtin, "quantity": 1}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let wh = app
        .create("/v1/warehouses", json!({"code": code, "name": "Dispatch"}))
        .await["id"]
        .as_i64()
        .unwrap();
    let location = |c: &str, seq: i64| {
        let c = c.to_string();
        async move {
            app.create(
                &format!("/v1/warehouses/{wh}/locations"),
                json!({"code": c, "pick_sequence": seq}),
            )
            .await["id"]
                .as_i64()
                .unwrap()
        }
    };
    let (shelf, pack) = (location("A", 1).await, location("PACK", 9).await);
    let (status, body) = app
        .post(
            "/v1/receipts",
            &admin,
            json!({"warehouse_id": wh, "location_id": shelf, "lines": [
                {"item_id": item, "quantity": 10, "batch": "D1", "expiry": date_in(60)}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let customer = app
        .create(
            "/v1/customers",
            json!({"legal_name": "Dispatch Ltd", "addresses": [
                {"line1": "Marktplatz 5", "city": "München", "postal_code": "80331",
                 "country": "DE", "preferred_shipping": true}]}),
        )
        .await;
    let deal = app
        .create(
            "/v1/deals",
            json!({"customer_id": customer["id"], "title": "Ship me",
                   "lines": [{"item_id": item, "quantity": 6}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let (status, body) = app
        .post(
            &format!("/v1/deals/{deal}/reserve"),
            &admin,
            json!({"warehouse_id": wh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = app
        .create(
            "/v1/pick-lists",
            json!({"deal_ids": [deal], "warehouse_id": wh, "packing_location_id": pack}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    for scan in [
        json!({"scan": format!("{code}-A")}),
        json!({"scan": format!("]C101{gtin}17{}{GS}10D1", yymmdd(60)),
               "quantity": 6}),
    ] {
        let (status, answer) = app
            .post(&format!("/v1/pick-lists/{list}/scans"), &admin, scan)
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_ne!(answer["outcome"], "refused", "{answer}");
    }
    let pallet = app
        .create(
            "/v1/parcels",
            json!({"deal_id": deal, "warehouse_id": wh, "package_type": "pallet"}),
        )
        .await;
    let on_pallet = app
        .create(
            "/v1/parcels",
            json!({"deal_id": deal, "warehouse_id": wh, "package_type": "box",
                   "parent_id": pallet["id"], "weight_kg": 2.5,
                   "contents": [{"item_id": item, "batch": "D1", "quantity": 2}]}),
        )
        .await;
    let beside = app
        .create(
            "/v1/parcels",
            json!({"deal_id": deal, "warehouse_id": wh, "package_type": "box",
                   "contents": [{"item_id": item, "batch": "D1", "quantity": 4}]}),
        )
        .await;
    let parcels = [&pallet, &on_pallet, &beside];
    let shipment = app
        .create(
            "/v1/shipments",
            json!({"deal_id": deal, "warehouse_id": wh, "service_level": "express",
                   "paid_by": "sender",
                   "parcel_ids": parcels.iter().map(|p| p["id"].clone()).collect::<Vec<_>>()}),
        )
        .await;
    assert_eq!(shipment["status"], "packed", "{shipment}");
    let mut ssccs: Vec<String> = parcels
        .iter()
        .filter_map(|p| p["sscc"].as_str().map(str::to_string))
        .collect();
    ssccs.sort();
    let mut codes: Vec<String> = parcels
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect();
    codes.sort();
    Packed {
        warehouse: wh,
        shipment: shipment["id"].as_i64().unwrap(),
        ssccs,
        codes,
    }
}

// ---- the tests ----

const GTIN: &str = "09506000134352";

async fn dispatch_prints_every_label_and_the_delivery_note(app: TestApp) {
    app.state.printing.set_policy(fast());
    let packed = packed_shipment(&app, "DS", GTIN).await;
    let (wh, sid) = (packed.warehouse, packed.shipment);
    let zebra = FakePrinter::start().await;
    let label_printer = device_id(&app, "printer", "zebra-203-4x6", Some(&zebra.address)).await;
    let paper = device_id(&app, "printer", "pdf-file", None).await;
    let (status, body) = app
        .patch(
            &format!("/v1/warehouses/{wh}"),
            &app.admin_token,
            json!({"label_printer_id": label_printer, "document_printer_id": paper}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["label_printer_id"], label_printer);
    assert_eq!(body["document_printer_id"], paper);
    let (_, body) = app
        .get(&format!("/v1/warehouses/{wh}"), &app.admin_token)
        .await;
    assert_eq!(body["label_printer_id"], label_printer, "{body}");

    let (status, dispatched) = app
        .post(
            &format!("/v1/shipments/{sid}/dispatch"),
            &app.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dispatched}");
    assert_eq!(dispatched["shipment"]["status"], "dispatched");
    assert_eq!(dispatched["print_errors"], json!([]), "{dispatched}");
    let jobs = dispatched["print_jobs"].as_array().unwrap();
    assert_eq!(
        jobs.len(),
        4,
        "three labels and the delivery note: {dispatched}"
    );
    for job in &jobs[..3] {
        assert_eq!(job["printer_id"], label_printer);
        assert_eq!(job["template"], "logistic-4x6");
        assert_eq!(job["format"], "zpl");
    }
    let queued: Vec<&str> = jobs[..3]
        .iter()
        .map(|j| j["data"]["sscc"].as_str().unwrap())
        .collect();
    assert_eq!(
        queued,
        packed.ssccs.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(jobs[3]["printer_id"], paper);
    assert_eq!(jobs[3]["template"], "delivery-note");
    assert_eq!(jobs[3]["format"], "pdf");
    assert_eq!(
        dispatched["documents"],
        json!({
            "labels_pdf": format!("/v1/shipments/{sid}/labels?format=pdf"),
            "labels_zpl": format!("/v1/shipments/{sid}/labels?format=zpl&dpi=203"),
            "delivery_note": format!("/v1/shipments/{sid}/delivery-note?format=pdf"),
        })
    );
    wait_done(&app, &job_ids(&dispatched["print_jobs"])).await;

    // What the printer got: three labels, read back by another renderer, are the SSCCs.
    let received = zebra.text();
    assert_eq!(received.matches("^XA").count(), 3, "{received}");
    assert_eq!(ssccs_in(&zebrash_labels(&received)), packed.ssccs);
    let tracking = dispatched["shipment"]["tracking_number"].as_str().unwrap();
    let note_id = jobs[3]["id"].as_i64().unwrap();
    let (status, content_type, note) =
        download(&app, &format!("/v1/print-jobs/{note_id}/document")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/pdf");
    assert!(note.starts_with(b"%PDF"));
    assert_eq!(jobs[3]["data"]["shipment"]["tracking"], tracking);

    // All labels in one document: PDF, one page each; ZPL, one after another.
    let (status, content_type, pdf) =
        download(&app, &format!("/v1/shipments/{sid}/labels?format=pdf")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/pdf");
    let pages = pdf_pages(&pdf);
    assert_eq!(pages.len(), 3);
    assert_eq!(ssccs_in(&pages), packed.ssccs);
    let (status, content_type, zpl) = download(
        &app,
        &format!("/v1/shipments/{sid}/labels?format=zpl&dpi=300"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/x-zpl");
    let zpl = String::from_utf8(zpl).unwrap();
    assert_eq!(zpl.matches("^XA").count(), 3);
    // 4 x 6 in at 300 dpi.
    assert!(zpl.contains("^PW1200"), "{zpl}");
    // The delivery note the dispatch links to, and one parcel's own label.
    let note = dispatched["documents"]["delivery_note"].as_str().unwrap();
    let (status, content_type, note) = download(&app, note).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/pdf");
    assert!(note.starts_with(b"%PDF"));
    let (_, shipment) = app
        .get(&format!("/v1/shipments/{sid}"), &app.admin_token)
        .await;
    let parcel = &shipment["parcels"][0];
    let path = format!("/v1/parcels/{}/label?format=zpl", parcel["id"]);
    let (status, content_type, label) = download(&app, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/x-zpl");
    let label = zebrash_labels(&String::from_utf8(label).unwrap());
    assert_eq!(ssccs_in(&label), [parcel["sscc"].as_str().unwrap()]);

    // Reprint the labels, twice each, from a scanner at the packing bench.
    let scanner = device(&app, "scanner", "honeywell", None).await;
    let scanner_token = scanner["token"].as_str().unwrap();
    let (status, printed) = app
        .post(
            &format!("/v1/shipments/{sid}/print"),
            scanner_token,
            json!({"labels": true, "delivery_note": false, "copies": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{printed}");
    assert_eq!(printed["print_errors"], json!([]));
    let reprinted = printed["print_jobs"].as_array().unwrap();
    assert_eq!(reprinted.len(), 3, "{printed}");
    assert!(
        reprinted
            .iter()
            .all(|j| j["copies"] == 2 && j["printer_id"] == label_printer)
    );
    wait_done(&app, &job_ids(&printed["print_jobs"])).await;
    let received = zebra.text();
    assert_eq!(received.matches("^XA").count(), 9);
    for sscc in &packed.ssccs {
        assert_eq!(
            received.matches(&format!(">;>800{sscc}")).count(),
            3,
            "{sscc}"
        );
    }
    // Only the delivery note, to the printer given.
    let other = device_id(&app, "printer", "pdf-file", None).await;
    let (status, printed) = app
        .post(
            &format!("/v1/shipments/{sid}/print"),
            &app.admin_token,
            json!({"labels": false, "document_printer_id": other}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{printed}");
    let jobs = printed["print_jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{printed}");
    assert_eq!(jobs[0]["printer_id"], other);
    assert_eq!(jobs[0]["template"], "delivery-note");
}

/// The warehouse's label printer was revoked after it was configured: the dispatch still
/// happens, the delivery note still prints, the labels are reported; a reprint to another
/// printer fixes it.
async fn a_failed_print_does_not_undo_the_dispatch(app: TestApp) {
    app.state.printing.set_policy(fast());
    let packed = packed_shipment(&app, "DF", GTIN).await;
    let (wh, sid) = (packed.warehouse, packed.shipment);
    let zebra = FakePrinter::start().await;
    let old = device_id(&app, "printer", "zebra-203-4x6", Some(&zebra.address)).await;
    let paper = device_id(&app, "printer", "pdf-file", None).await;
    let (status, body) = app
        .patch(
            &format!("/v1/warehouses/{wh}"),
            &app.admin_token,
            json!({"label_printer_id": old, "document_printer_id": paper}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &format!("/v1/devices/{old}/revoke"),
            &app.admin_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // No body at all works as well as `{}`.
    let (status, dispatched) = app
        .send(
            Method::POST,
            &format!("/v1/shipments/{sid}/dispatch"),
            Some(&app.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dispatched}");
    assert_eq!(dispatched["shipment"]["status"], "dispatched");
    let errors = dispatched["print_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{dispatched}");
    assert_eq!(errors[0]["document"], "labels");
    assert_eq!(errors[0]["field"], "label_printer_id");
    assert!(
        errors[0]["detail"].as_str().unwrap().contains("revoked"),
        "{dispatched}"
    );
    let jobs = dispatched["print_jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{dispatched}");
    assert_eq!(jobs[0]["template"], "delivery-note");
    let (_, shipment) = app
        .get(&format!("/v1/shipments/{sid}"), &app.admin_token)
        .await;
    assert_eq!(shipment["status"], "dispatched");

    // The reprint with the warehouse's printer is refused, naming the field; another one works.
    let (status, body) = app
        .post(
            &format!("/v1/shipments/{sid}/print"),
            &app.admin_token,
            json!({"labels": true, "delivery_note": false}),
        )
        .await;
    assert_problem(status, &body, 409, Some("label_printer_id"));
    let new = device_id(&app, "printer", "zebra-203-4x6", Some(&zebra.address)).await;
    let (status, printed) = app
        .post(
            &format!("/v1/shipments/{sid}/print"),
            &app.admin_token,
            json!({"label_printer_id": new, "delivery_note": false}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{printed}");
    wait_done(&app, &job_ids(&printed["print_jobs"])).await;
    assert_eq!(ssccs_in(&zebrash_labels(&zebra.text())), packed.ssccs);
}

async fn printer_problems_are_refused_naming_the_field(app: TestApp) {
    let admin = app.admin_token.clone();
    let zebra = FakePrinter::start().await;
    let printer = device_id(&app, "printer", "zebra-203-4x6", Some(&zebra.address)).await;
    let scanner = device_id(&app, "scanner", "honeywell", None).await;
    let revoked = device_id(&app, "printer", "pdf-file", None).await;
    let (status, _) = app
        .post(&format!("/v1/devices/{revoked}/revoke"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);

    // Warehouses take printers only, and ones not revoked.
    for (field, id) in [
        ("label_printer_id", scanner),
        ("document_printer_id", revoked),
        ("label_printer_id", 999_999),
    ] {
        let (status, body) = app
            .post(
                "/v1/warehouses",
                &admin,
                json!({"code": "BAD", "name": "Bad", field: id}),
            )
            .await;
        assert_problem(status, &body, 422, Some(field));
    }
    let created = app
        .create(
            "/v1/warehouses",
            json!({"code": "GOOD", "name": "Good", "label_printer_id": printer}),
        )
        .await;
    assert_eq!(created["label_printer_id"], printer);
    assert!(created["document_printer_id"].is_null());
    let good = created["id"].as_i64().unwrap();
    let (status, body) = app
        .patch(
            &format!("/v1/warehouses/{good}"),
            &admin,
            json!({"document_printer_id": scanner}),
        )
        .await;
    assert_problem(status, &body, 422, Some("document_printer_id"));
    // null clears; leaving it out leaves it alone.
    let (status, body) = app
        .patch(
            &format!("/v1/warehouses/{good}"),
            &admin,
            json!({"label_printer_id": null, "name": "Good one"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["label_printer_id"].is_null(), "{body}");
    assert_eq!(body["name"], "Good one");

    // A warehouse without printers.
    let packed = packed_shipment(&app, "DN", GTIN).await;
    let sid = packed.shipment;
    let (status, body) = app
        .post(&format!("/v1/shipments/{sid}/print"), &admin, json!({}))
        .await;
    assert_problem(status, &body, 409, Some("label_printer_id"));
    let (status, body) = app
        .post(
            &format!("/v1/shipments/{sid}/print"),
            &admin,
            json!({"label_printer_id": printer, "delivery_note": true}),
        )
        .await;
    assert_problem(status, &body, 409, Some("document_printer_id"));
    let (status, body) = app
        .post(
            &format!("/v1/shipments/{sid}/print"),
            &admin,
            json!({"label_printer_id": scanner}),
        )
        .await;
    assert_problem(status, &body, 422, Some("label_printer_id"));
    let (status, body) = app
        .post(
            &format!("/v1/shipments/{sid}/print"),
            &admin,
            json!({"label_printer_id": printer, "copies": 0}),
        )
        .await;
    assert_problem(status, &body, 422, Some("copies"));
    let (status, body) = app
        .get(&format!("/v1/shipments/{sid}/labels?format=png"), &admin)
        .await;
    assert_problem(status, &body, 422, Some("format"));
    let (status, body) = app
        .get(
            &format!("/v1/shipments/{sid}/labels?format=zpl&dpi=5"),
            &admin,
        )
        .await;
    assert_problem(status, &body, 422, Some("dpi"));

    // A dispatch naming a device that is not a printer is refused before anything happens.
    let (status, body) = app
        .post(
            &format!("/v1/shipments/{sid}/dispatch"),
            &admin,
            json!({"label_printer_id": scanner}),
        )
        .await;
    assert_problem(status, &body, 422, Some("label_printer_id"));
    let (status, body) = app
        .post(
            &format!("/v1/shipments/{sid}/dispatch"),
            &admin,
            json!({"document_printer_id": revoked}),
        )
        .await;
    assert_problem(status, &body, 422, Some("document_printer_id"));
    let (_, shipment) = app.get(&format!("/v1/shipments/{sid}"), &admin).await;
    assert_eq!(shipment["status"], "packed", "{shipment}");
    // Without printers the dispatch prints nothing and says where the documents are.
    let (status, dispatched) = app
        .post(&format!("/v1/shipments/{sid}/dispatch"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{dispatched}");
    assert_eq!(dispatched["print_jobs"], json!([]));
    assert_eq!(dispatched["print_errors"], json!([]));
    assert_eq!(
        dispatched["documents"]["labels_pdf"],
        format!("/v1/shipments/{sid}/labels?format=pdf")
    );
    // `"print": false` prints nothing, even with a printer given.
    let other = packed_shipment(&app, "DP", "04006381333931").await.shipment;
    let (status, dispatched) = app
        .post(
            &format!("/v1/shipments/{other}/dispatch"),
            &admin,
            json!({"print": false, "label_printer_id": printer}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dispatched}");
    assert_eq!(dispatched["print_jobs"], json!([]));
    let (_, list) = app.get("/v1/print-jobs", &admin).await;
    assert_eq!(list["items"], json!([]), "{list}");

    // Unknown shipments; who may print.
    let (status, body) = app
        .post(
            "/v1/shipments/999999/print",
            &admin,
            json!({"label_printer_id": printer}),
        )
        .await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app.get("/v1/shipments/999999/labels", &admin).await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app
        .post(
            "/v1/shipments/999999/dispatch",
            &admin,
            json!({"label_printer_id": printer}),
        )
        .await;
    assert_problem(status, &body, 404, None);
    let (_, rep) = app.user("seller", "rep", None).await;
    let (status, body) = app
        .post(
            &format!("/v1/shipments/{sid}/print"),
            &rep,
            json!({"label_printer_id": printer}),
        )
        .await;
    assert_problem(status, &body, 403, None);
    assert_eq!(zebra.text(), "");

    let (_, spec) = app.send(Method::GET, "/openapi.json", None, None).await;
    for path in ["/v1/shipments/{id}/labels", "/v1/shipments/{id}/print"] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
}

/// Without a GS1 Company Prefix, parcels still have an identity and a barcode (Depot's own
/// `DPT-PARCEL-<id>`), get a shipping label that works (ZPL and PDF, read back by independent
/// tools), scan back to themselves, and dispatch prints them; only SSCCs are refused.
async fn parcels_ship_without_a_gs1_company_prefix(app: TestApp) {
    app.state.printing.set_policy(fast());
    let packed = packed_shipment(&app, "NP", GTIN).await;
    assert!(packed.ssccs.is_empty());
    assert_eq!(packed.codes.len(), 3);
    for code in &packed.codes {
        assert!(code.starts_with("DPT-PARCEL-"), "{code}");
        let (status, scan) = app
            .post("/v1/scans", &app.admin_token, json!({"data": code}))
            .await;
        assert_eq!(status, StatusCode::OK, "{scan}");
        let id: i64 = code["DPT-PARCEL-".len()..].parse().unwrap();
        assert!(
            scan["matches"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["type"] == "parcel" && m["id"] == id),
            "{scan}"
        );
    }
    let (status, problem) = app.post("/v1/sscc", &app.admin_token, json!({})).await;
    assert_problem(status, &problem, 409, Some("gs1_company_prefix"));

    // The labels, drawn by independent renderers, carry the parcels' codes as barcodes.
    let sid = packed.shipment;
    let (status, _, zpl) = download(&app, &format!("/v1/shipments/{sid}/labels?format=zpl")).await;
    assert_eq!(status, StatusCode::OK);
    let read = |pictures: Vec<Vec<u8>>| -> Vec<String> {
        let mut codes: Vec<String> = pictures
            .into_iter()
            .flat_map(|png| decode_all(image::load_from_memory(&png).unwrap().to_luma8()))
            .filter(|c| c.starts_with("DPT-PARCEL-"))
            .collect();
        codes.sort();
        codes
    };
    assert_eq!(
        read(zebrash_labels(&String::from_utf8(zpl).unwrap())),
        packed.codes
    );
    let (status, _, pdf) = download(&app, &format!("/v1/shipments/{sid}/labels?format=pdf")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read(pdf_pages(&pdf)), packed.codes);

    // Dispatch prints one label per parcel.
    let zebra = FakePrinter::start().await;
    let printer = device_id(&app, "printer", "zebra-203-4x6", Some(&zebra.address)).await;
    let (status, dispatched) = app
        .post(
            &format!("/v1/shipments/{sid}/dispatch"),
            &app.admin_token,
            json!({"label_printer_id": printer}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dispatched}");
    wait_done(&app, &job_ids(&dispatched["print_jobs"])).await;
    let printed = zebra.text();
    for code in &packed.codes {
        assert!(printed.contains(code.as_str()), "{code} not printed");
    }
}
