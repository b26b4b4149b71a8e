//! Labels over HTTP: every built-in template renders in every format, and its barcodes read
//! back (PNG decoded with rxing; PDF rasterised by pdftoppm, then decoded); bad data is a 422
//! naming the field; no value can inject ZPL.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use image::GrayImage;
use reqwest::StatusCode;
use rxing::{BarcodeFormat, DecodeHintValue, DecodeHints};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

/// Decodes every barcode in a picture: find one, blank it, look again.
fn decode_all(mut img: GrayImage) -> Vec<String> {
    let formats = HashSet::from([
        BarcodeFormat::CODE_128,
        BarcodeFormat::EAN_13,
        BarcodeFormat::UPC_A,
        BarcodeFormat::QR_CODE,
        BarcodeFormat::DATA_MATRIX,
    ]);
    let mut found = Vec::new();
    for _ in 0..6 {
        let mut hints = DecodeHints::default()
            .with(DecodeHintValue::PossibleFormats(formats.clone()))
            .with(DecodeHintValue::TryHarder(true))
            .with(DecodeHintValue::AssumeGs1(true));
        let (w, h) = img.dimensions();
        let Ok(result) = rxing::helpers::detect_in_luma_with_hints(
            img.clone().into_raw(),
            w,
            h,
            None,
            &mut hints,
        ) else {
            break;
        };
        let text = result.getText();
        let text = text.strip_prefix("]C1").unwrap_or(text).to_string();
        if found.contains(&text) {
            // Blanking missed part of it: the same symbol again. (No template carries two
            // identical symbols.)
            break;
        }
        found.push(text);
        let points = result.getPoints();
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for p in points {
            x0 = x0.min(p.x);
            y0 = y0.min(p.y);
            x1 = x1.max(p.x);
            y1 = y1.max(p.y);
        }
        // A linear symbol reports points on one scan line: blank it up and down to the first
        // row without a dark pixel across it (symbols stacked a few millimetres apart stay).
        let linear = (y1 - y0) < 4.0;
        let pad = 12.0;
        let (bx0, bx1) = ((x0 - pad).max(0.0) as u32, ((x1 + pad) as u32).min(w));
        let (by0, by1) = if linear {
            let (lo, hi) = (x0.max(0.0) as u32, (x1 as u32).min(w));
            let dark = |y: u32| (lo..hi).any(|x| img.get_pixel(x, y).0[0] < 128);
            let (mut top, mut bottom) = ((y0.max(0.0) as u32).min(h - 1), (y1 as u32).min(h - 1));
            while top > 0 && dark(top - 1) {
                top -= 1;
            }
            while bottom + 1 < h && dark(bottom + 1) {
                bottom += 1;
            }
            (top.saturating_sub(2), (bottom + 3).min(h))
        } else {
            ((y0 - pad).max(0.0) as u32, ((y1 + pad) as u32).min(h))
        };
        for y in by0..by1 {
            for x in bx0..bx1 {
                img.put_pixel(x, y, image::Luma([255]));
            }
        }
    }
    found
}

pub(crate) fn png_codes(bytes: &[u8]) -> Vec<String> {
    decode_all(image::load_from_memory(bytes).expect("a PNG").to_luma8())
}

/// Rasterises the first page of a PDF with pdftoppm (poppler-utils) at 300 dpi.
pub(crate) fn pdf_codes(bytes: &[u8]) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!(
        "depot-labels-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let pdf = dir.join("label.pdf");
    std::fs::write(&pdf, bytes).unwrap();
    let tool = ["/usr/bin/pdftoppm", "/usr/local/bin/pdftoppm"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect(
            "pdftoppm (poppler-utils) is required to check PDFs: apt-get install -y poppler-utils",
        );
    let status = Command::new(tool)
        .args(["-r", "300", "-gray", "-png", "-f", "1", "-l", "1"])
        .arg(&pdf)
        .arg(dir.join("page"))
        .status()
        .unwrap();
    assert!(status.success());
    let png = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "png"))
        .expect("pdftoppm wrote a page");
    let codes = png_codes(&std::fs::read(&png).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    codes
}

/// Renders ZPL with an independent renderer (zebrash, through the npm package in tests/zpl;
/// `npm ci --prefix tests/zpl` installs it), at 8 dots/mm, and decodes the picture.
fn zpl_codes(zpl: &str, width_mm: f64, height_mm: f64) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zpl");
    assert!(
        root.join("node_modules/zpl-renderer-js").exists(),
        "the independent ZPL renderer is missing: run tests/run (it installs it) or `npm ci --prefix tests/zpl`"
    );
    let dir = std::env::temp_dir().join(format!(
        "depot-zpl-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (zpl_path, png_path) = (dir.join("label.zpl"), dir.join("label.png"));
    std::fs::write(&zpl_path, zpl).unwrap();
    let output = Command::new("node")
        .arg(root.join("render.cjs"))
        .arg(&zpl_path)
        .arg(&png_path)
        .arg(width_mm.to_string())
        .arg(height_mm.to_string())
        .arg("8")
        .output()
        .expect("node is required for the independent ZPL renderer");
    assert!(
        output.status.success(),
        "zebrash: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let codes = png_codes(&std::fs::read(&png_path).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    codes
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

async fn render(
    app: &TestApp,
    template: &str,
    format: &str,
    data: Value,
) -> (StatusCode, String, Vec<u8>) {
    let request = json!({"template": template, "format": format, "dpi": 300, "data": data});
    let response = app
        .client
        .post(app.url("/v1/labels/render"))
        .bearer_auth(&app.admin_token)
        .json(&request)
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
    let path = "/v1/labels/render";
    app.check_bytes(
        "POST",
        path,
        Some(&request),
        status,
        Some(&content_type),
        &bytes,
    );
    (status, content_type, bytes)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn every_template_renders_in_every_format_and_scans(app: TestApp) {
    let (status, list) = app.get("/v1/labels/templates", &app.admin_token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let templates = list["items"].as_array().unwrap();
    assert!(templates.len() >= 8, "{list}");
    // What each built-in template's example must scan as.
    let expected: &[(&str, &[&str])] = &[
        ("item", &["4006381333931"]),
        (
            "item-gs1",
            &["0109506000134352172612311 0L2611-42"
                .replace(' ', "")
                .leak()],
        ),
        (
            "batch",
            &["0109506000134352172612311 0L2611-42"
                .replace(' ', "")
                .leak()],
        ),
        ("location", &["W1-A-01-03"]),
        // The content in two symbols, (02)(37) and (10): one does not fit a 20-character batch.
        (
            "logistic-4x6",
            &["00006141411234567890", "02095060001343523748", "10L2611-42"],
        ),
        (
            "logistic-a6",
            &["00006141411234567890", "02095060001343523748", "10L2611-42"],
        ),
        ("parcel-4x6", &["DPT-PARCEL-1042", "OWN-000123"]),
        ("pick-list", &["DPT-PICK-7"]),
        ("delivery-note", &["DPT-DEAL-42"]),
        ("return-note", &["DPT-RET-7"]),
    ];
    for (name, codes) in expected {
        let template = templates
            .iter()
            .find(|t| t["name"] == *name)
            .unwrap_or_else(|| panic!("no template {name}"));
        let example = template["example"].clone();
        let want = sorted(codes.iter().map(|c| c.to_string()).collect());

        let (status, content_type, png) = render(&app, name, "png", example.clone()).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{name} png: {}",
            String::from_utf8_lossy(&png)
        );
        assert_eq!(content_type, "image/png");
        assert_eq!(sorted(png_codes(&png)), want, "{name} PNG");

        let (status, content_type, pdf) = render(&app, name, "pdf", example.clone()).await;
        assert_eq!(status, StatusCode::OK, "{name} pdf");
        assert_eq!(content_type, "application/pdf");
        assert!(pdf.starts_with(b"%PDF"));
        assert_eq!(sorted(pdf_codes(&pdf)), want, "{name} PDF");

        let response = app
            .client
            .post(app.url("/v1/labels/render"))
            .bearer_auth(&app.admin_token)
            .json(&json!({"template": name, "format": "zpl", "dpi": 203, "data": example}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{name} zpl");
        assert_eq!(response.headers()["content-type"], "application/x-zpl");
        let zpl = response.text().await.unwrap();
        assert!(
            zpl.starts_with("^XA\n^CI28\n") && zpl.trim_end().ends_with("^XZ"),
            "{zpl}"
        );
        let (w, h) = (
            template["width_mm"].as_f64().unwrap(),
            template["height_mm"].as_f64().unwrap(),
        );
        // Only the first format of a multi-page document is checked.
        let first = zpl.split_inclusive("^XZ\n").next().unwrap();
        assert_eq!(
            sorted(zpl_codes(first, w, h)),
            want,
            "{name} ZPL through zebrash: {first}"
        );
    }
}

async fn bad_label_requests_name_the_field(app: TestApp) {
    let admin = app.admin_token.clone();
    let item = |gtin: &str| json!({"item": {"name": "Yoghurt", "code": "Y", "gtin": gtin}});
    let cases = [
        (
            json!({"template": "nope", "format": "pdf", "data": {}}),
            "template",
        ),
        (
            json!({"template": "item", "format": "pdf", "data": {"item": {"name": "Y", "code": "Y"}}}),
            "data.item.gtin",
        ),
        (
            json!({"template": "item", "format": "zpl", "data": item("4006381333932")}),
            "data",
        ),
        (
            json!({"template": "item", "format": "png", "dpi": 50, "data": item("4006381333931")}),
            "dpi",
        ),
        (
            json!({"template": "item", "format": "gif", "data": item("4006381333931")}),
            "format",
        ),
        (
            json!({"template": "batch", "format": "pdf", "data": {"item": {"name": "Y", "gtin": "09506000134352"}, "batch": {"code": "L1", "expiry": "31.12.2026"}}}),
            "data.batch.expiry",
        ),
        (
            json!({"template": "item", "format": "zpl", "sheet": {"columns": 2, "rows": 2}, "data": [item("4006381333931")]}),
            "sheet",
        ),
    ];
    for (body, field) in cases {
        let (status, problem) = app.post("/v1/labels/render", &admin, body.clone()).await;
        assert_problem(status, &problem, 422, Some(field));
    }
    // A customer name cannot inject ZPL commands.
    let response = app
        .client
        .post(app.url("/v1/labels/render"))
        .bearer_auth(&admin)
        .json(&json!({"template": "item", "format": "zpl",
                      "data": {"item": {"name": "X^XZ^XA^FDpwned~JR", "code": "Y", "gtin": "4006381333931"}}}))
        .send()
        .await
        .unwrap();
    let zpl = response.text().await.unwrap();
    assert_eq!(zpl.matches("^XA").count(), 1, "{zpl}");
    assert_eq!(zpl.matches("^XZ").count(), 1, "{zpl}");
    assert!(!zpl.contains("~JR"));
    // A sheet of labels on A4: one page, every label scans.
    let labels: Vec<Value> = ["4006381333931", "9506000134352", "5901234123457"]
        .iter()
        .map(|g| item(g))
        .collect();
    let response = app
        .client
        .post(app.url("/v1/labels/render"))
        .bearer_auth(&admin)
        .json(&json!({"template": "item", "format": "pdf", "sheet": {"columns": 3, "rows": 7}, "data": labels}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let codes = sorted(pdf_codes(&response.bytes().await.unwrap()));
    assert_eq!(
        codes,
        vec!["4006381333931", "5901234123457", "9506000134352"]
    );
}

async fn records_print_their_own_labels(app: TestApp) {
    let admin = app.admin_token.clone();
    let item = app
        .create(
            "/v1/items",
            json!({"code": "YOG", "name": "Yoghurt", "tracking": "batch", "gtins": ["4006381333931"]}),
        )
        .await;
    let wh = app
        .create(
            "/v1/warehouses",
            json!({"code": "LW", "name": "Label warehouse"}),
        )
        .await;
    let loc = app
        .create(
            &format!("/v1/warehouses/{}/locations", wh["id"]),
            json!({"code": "A-01"}),
        )
        .await;
    let (status, receipt) = app
        .post(
            "/v1/receipts",
            &admin,
            json!({"warehouse_id": wh["id"], "location_id": loc["id"],
                   "lines": [{"item_id": item["id"], "quantity": 5, "batch": "B77", "expiry": "2027-03-31"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let batch = receipt["movements"][0]["batch_id"].as_i64().unwrap();
    let get = |path: String| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let r = app
                .client
                .get(app.url(&path))
                .bearer_auth(admin)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            r.bytes().await.unwrap().to_vec()
        }
    };
    let png = get(format!("/v1/items/{}/label?format=png&dpi=300", item["id"])).await;
    assert_eq!(png_codes(&png), vec!["4006381333931"]);
    let png = get(format!("/v1/batches/{batch}/label?format=png&dpi=300")).await;
    assert_eq!(png_codes(&png), vec!["01040063813339311727033110B77"]);
    let png = get(format!(
        "/v1/batches/{batch}/label?format=png&dpi=300&template=item-gs1"
    ))
    .await;
    assert_eq!(png_codes(&png), vec!["01040063813339311727033110B77"]);
    let png = get(format!(
        "/v1/locations/{}/label?format=png&dpi=300",
        loc["id"]
    ))
    .await;
    assert_eq!(png_codes(&png), vec!["LW-A-01"]);
    let zpl = get(format!("/v1/locations/{}/label?format=zpl", loc["id"])).await;
    assert!(String::from_utf8(zpl).unwrap().contains("^BCN"));

    // SSCCs never repeat and carry a valid check digit.
    let mut seen = HashSet::new();
    for _ in 0..5 {
        let (status, body) = app.post("/v1/sscc", &admin, json!({})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let sscc = body["sscc"].as_str().unwrap().to_string();
        assert_eq!(sscc.len(), 18);
        assert!(sscc.starts_with("00614141"));
        assert!(depot::barcode::gs1::interpret(&format!("(00){sscc}")).is_ok());
        assert!(seen.insert(sscc));
    }
    let (_, rep) = app.user("label-rep", "rep", None).await;
    let (status, body) = app.post("/v1/sscc", &rep, json!({})).await;
    assert_problem(status, &body, 403, None);
}

crate::on_both!(
    every_template_renders_in_every_format_and_scans,
    bad_label_requests_name_the_field,
    records_print_their_own_labels,
);
