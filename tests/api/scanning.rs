//! Scans: device profiles, GS1 in every form, Depot's own codes, bad data, the scan log.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

const GS: &str = "\u{1d}";

async fn setup(app: &TestApp) -> (i64, i64) {
    let item = app.create("/v1/items", json!({
        "code": "YOG", "name": "Yoghurt", "tracking": "batch", "shelf_life_days": 30,
        "gtins": [{"gtin": "09506000134352", "quantity": 1}, {"gtin": "4006381333931", "quantity": 12}]
    })).await;
    let wh = app
        .create("/v1/warehouses", json!({"code": "W", "name": "W"}))
        .await;
    let loc = app
        .create(
            &format!("/v1/warehouses/{}/locations", wh["id"]),
            json!({"code": "A-01", "barcode": "LOC-A-01"}),
        )
        .await;
    (item["id"].as_i64().unwrap(), loc["id"].as_i64().unwrap())
}

async fn scan(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    app.post("/v1/scans", token, body).await
}

async fn gs1_scans_resolve_to_the_item_with_batch_and_expiry(app: TestApp) {
    let (item_id, _) = setup(&app).await;
    let (_, warehouse) = app.user("picker", "warehouse", None).await;
    // GS1-128 with AIM identifier and GS separators.
    let data = format!("]C1010950600013435217261231{GS}10LOT-42{GS}21SN1");
    let (status, body) = scan(&app, &warehouse, json!({"data": data})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["kind"], "gs1");
    assert_eq!(body["symbology"], "]C1");
    assert_eq!(body["gs1"]["gtin"], "09506000134352");
    assert_eq!(body["gs1"]["batch"], "LOT-42");
    assert_eq!(body["gs1"]["serial"], "SN1");
    assert_eq!(body["gs1"]["expiry"], "2026-12-31");
    let ais: Vec<&str> = body["gs1"]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ai"].as_str().unwrap())
        .collect();
    assert_eq!(ais, vec!["01", "17", "10", "21"]);
    assert!(
        body["gs1"]["elements"][1]["title"]
            .as_str()
            .unwrap()
            .contains("EXPIRY")
    );
    assert_eq!(body["matches"][0]["type"], "item");
    assert_eq!(body["matches"][0]["id"], item_id);
    assert_eq!(body["matches"][0]["quantity"], 1);
    assert!(body["id"].as_i64().unwrap() > 0);

    // The same message bracketed, with a leading GS, and as a Digital Link; a case via EAN-13.
    for data in [
        "(01)09506000134352(17)261231(10)LOT-42(21)SN1".to_string(),
        format!("{GS}010950600013435217261231{GS}10LOT-42{GS}21SN1"),
        "https://id.example.com/01/09506000134352/10/LOT-42/21/SN1?17=261231".to_string(),
    ] {
        let (status, body) = scan(&app, &warehouse, json!({"data": data})).await;
        assert_eq!(status, StatusCode::OK, "{data}: {body}");
        assert_eq!(body["gs1"]["batch"], "LOT-42", "{data}");
        assert_eq!(body["gs1"]["expiry"], "2026-12-31", "{data}");
        assert_eq!(body["matches"][0]["id"], item_id, "{data}");
    }
    let (_, body) = scan(
        &app,
        &warehouse,
        json!({"data": "https://id.example.com/01/09506000134352"}),
    )
    .await;
    assert_eq!(body["kind"], "digital_link");
    let (_, body) = scan(&app, &warehouse, json!({"data": "]E04006381333931"})).await;
    assert_eq!(body["kind"], "gtin");
    assert_eq!(
        body["matches"][0]["quantity"], 12,
        "the case GTIN carries its pack size"
    );
    let (_, body) = scan(&app, &warehouse, json!({"data": "4006381333931\r\n"})).await;
    assert_eq!(body["kind"], "gtin", "{body}");
    let (_, body) = scan(&app, &warehouse, json!({"data": "106141410000000019"})).await;
    assert_eq!(body["kind"], "sscc", "{body}");
    assert_eq!(body["gs1"]["sscc"], "106141410000000019");
}

async fn profiles_undo_what_scanners_do_to_the_data(app: TestApp) {
    let (item_id, _) = setup(&app).await;
    let (_, token) = app.user("picker2", "warehouse", None).await;
    let (status, body) = scan(
        &app,
        &token,
        json!({
            "data": "]C10109506000134352|17261231|10LOT-9\n", "profile": "zebra-datawedge-keystroke"
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["gs1"]["batch"], "LOT-9");
    assert_eq!(body["matches"][0]["id"], item_id);
    assert_eq!(body["profile"], "zebra-datawedge-keystroke");

    // A device registered with a profile has its scans normalised by it.
    let device = app
        .create(
            "/v1/devices",
            json!({"name": "TC52", "kind": "scanner", "profile": "honeywell"}),
        )
        .await;
    let device_token = device["token"].as_str().unwrap();
    let (status, body) = scan(
        &app,
        device_token,
        json!({"data": "]d2010950600013435210LOT{GS}2117261231\r\n"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"], "honeywell");
    assert_eq!(body["gs1"]["batch"], "LOT");
    assert_eq!(body["gs1"]["serial"], "17261231");

    // Caps Lock on the host flips letter case; the profile flips it back.
    let (_, body) = scan(
        &app,
        &token,
        json!({"data": "(01)09506000134352(10)lot-x\n", "profile": "generic-wedge-capslock"}),
    )
    .await;
    assert_eq!(body["gs1"]["batch"], "LOT-X");

    let (status, body) = scan(
        &app,
        &token,
        json!({"data": "x", "profile": "no-such-profile"}),
    )
    .await;
    assert_problem(status, &body, 422, Some("profile"));
    let (status, profiles) = app.get("/v1/scan-profiles", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(profiles["items"].as_array().unwrap().len() >= 5);

    // A printer may not scan.
    let printer = app
        .create(
            "/v1/devices",
            json!({"name": "ZT410", "kind": "printer", "profile": "zebra-203-4x6"}),
        )
        .await;
    let (status, body) = scan(
        &app,
        printer["token"].as_str().unwrap(),
        json!({"data": "4006381333931"}),
    )
    .await;
    assert_problem(status, &body, 403, None);
}

async fn bad_gs1_data_is_refused_with_the_ai_and_position(app: TestApp) {
    setup(&app).await;
    let token = app.admin_token.clone();
    // Wrong GTIN check digit.
    let (status, body) = scan(&app, &token, json!({"data": "]C10109506000134353"})).await;
    assert_problem(status, &body, 422, Some("data"));
    assert_eq!(body["ai"], "01", "{body}");
    assert!(body["position"].is_u64());
    assert!(body["detail"].as_str().unwrap().contains("check"), "{body}");
    // Month 13.
    let (status, body) = scan(
        &app,
        &token,
        json!({"data": "(01)09506000134352(17)261301"}),
    )
    .await;
    assert_problem(status, &body, 422, Some("data"));
    assert_eq!(body["ai"], "17");
    // Unknown AI, and a batch without its GTIN.
    let (status, body) = scan(&app, &token, json!({"data": "]C11812345"})).await;
    assert_problem(status, &body, 422, Some("data"));
    let (status, body) = scan(&app, &token, json!({"data": "(10)ABC"})).await;
    assert_problem(status, &body, 422, Some("data"));
    // Empty and oversized scans.
    let (status, body) = scan(&app, &token, json!({"data": ""})).await;
    assert_problem(status, &body, 422, Some("data"));
    let (status, body) = scan(&app, &token, json!({"data": "9".repeat(9000)})).await;
    assert_problem(status, &body, 422, Some("data"));
    let (status, body) = scan(&app, &token, json!({"data": 42})).await;
    assert_problem(status, &body, 422, Some("data"));

    // Refused scans are in the log too.
    let (_, log) = app.get("/v1/scans?accepted=false", &token).await;
    assert!(log["items"].as_array().unwrap().len() >= 3, "{log}");
    assert!(log["items"][0]["error"].is_string());
}

async fn bins_documents_and_unknown_codes(app: TestApp) {
    let (item_id, location_id) = setup(&app).await;
    let (_, rep) = app.user("rep-s", "rep", None).await;
    let (_, token) = app.user("picker3", "warehouse", None).await;
    let (_, location) = scan(&app, &token, json!({"data": "LOC-A-01"})).await;
    assert_eq!(location["kind"], "internal");
    assert_eq!(location["matches"][0]["type"], "location");
    assert_eq!(location["matches"][0]["id"], location_id);
    // A scanner that prefixes AIM identifiers sends the bin label as plain Code 128.
    let (_, prefixed) = scan(&app, &token, json!({"data": "]C0LOC-A-01"})).await;
    assert_eq!(prefixed["matches"][0]["id"], location_id, "{prefixed}");

    let (_, customer) = app
        .post("/v1/customers", &rep, json!({"legal_name": "Scan Co"}))
        .await;
    let (_, deal) = app
        .post(
            "/v1/deals",
            &rep,
            json!({"customer_id": customer["id"], "title": "Scanned deal"}),
        )
        .await;
    let (_, body) = scan(
        &app,
        &token,
        json!({"data": format!("DPT-DEAL-{}", deal["id"])}),
    )
    .await;
    assert_eq!(body["kind"], "internal");
    assert_eq!(body["matches"][0]["type"], "deal");
    assert_eq!(body["matches"][0]["id"], deal["id"]);

    // An unknown code: logged, then linked to the item, then it resolves.
    let (status, unknown) = scan(&app, &token, json!({"data": "OLD-LABEL-77"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unknown["kind"], "unknown");
    assert!(unknown["matches"].as_array().unwrap().is_empty());
    let (_, log) = app.get("/v1/scans?kind=unknown", &token).await;
    assert_eq!(log["items"][0]["data"], "OLD-LABEL-77");
    let (status, alias) = app
        .post(
            &format!("/v1/items/{item_id}/aliases"),
            &token,
            json!({"code": "OLD-LABEL-77", "quantity": 6}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{alias}");
    let (_, known) = scan(&app, &token, json!({"data": "OLD-LABEL-77"})).await;
    assert_eq!(known["matches"][0]["type"], "item");
    assert_eq!(known["matches"][0]["quantity"], 6);
    let (status, body) = app
        .post(
            &format!("/v1/items/{item_id}/aliases"),
            &token,
            json!({"code": "96385074"}),
        )
        .await;
    assert_problem(status, &body, 422, Some("code"));

    // Bin labels can never be mistaken for products or documents.
    let (status, body) = app
        .post(
            &format!(
                "/v1/warehouses/{}/locations",
                location["matches"][0]["warehouse_id"]
            ),
            &app.admin_token,
            json!({"code": "B-01", "barcode": "4006381333931"}),
        )
        .await;
    assert_problem(status, &body, 422, Some("barcode"));

    // Reps may scan but not read the log.
    let (status, _) = scan(&app, &rep, json!({"data": "LOC-A-01"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get("/v1/scans", &rep).await;
    assert_problem(status, &body, 403, None);
    let (status, body) = app
        .send(Method::POST, "/v1/scans", None, Some(json!({"data": "x"})))
        .await;
    assert_problem(status, &body, 401, None);
}

async fn concurrent_scans_are_all_logged(app: TestApp) {
    setup(&app).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let client = app.client.clone();
        let url = app.url("/v1/scans");
        let token = app.admin_token.clone();
        tasks.push(tokio::spawn(async move {
            let data = if i % 2 == 0 {
                "4006381333931".to_string()
            } else {
                format!("UNKNOWN-{i}")
            };
            client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"data": data}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let (_, log) = app.get("/v1/scans?limit=500", &app.admin_token).await;
    assert_eq!(log["items"].as_array().unwrap().len(), 100);
}

/// A GS1 DataMatrix (or any symbol) as a PNG, 6 px per module with a quiet zone.
fn symbol_png(format: rxing::BarcodeFormat, contents: &str, gs1: bool) -> Vec<u8> {
    use rxing::{EncodeHintValue, EncodeHints, MultiFormatWriter, Writer};
    let mut hints = EncodeHints::default().with(EncodeHintValue::Margin("0".into()));
    if gs1 {
        hints = hints
            .with(EncodeHintValue::Gs1Format(true))
            .with(EncodeHintValue::DataMatrixCompact(true));
    }
    let m = MultiFormatWriter
        .encode_with_hints(contents, &format, 0, 0, &hints)
        .unwrap();
    let (module, quiet) = (6u32, 4u32);
    let (w, h) = (m.getWidth(), m.getHeight());
    let img = image::GrayImage::from_fn(
        (w + 2 * quiet) * module,
        (h + 2 * quiet) * module,
        |x, y| {
            let (mx, my) = (
                (x / module) as i64 - quiet as i64,
                (y / module) as i64 - quiet as i64,
            );
            let dark = mx >= 0
                && my >= 0
                && (mx as u32) < w
                && (my as u32) < h
                && m.get(mx as u32, my as u32);
            image::Luma([if dark { 0 } else { 255 }])
        },
    );
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageLuma8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

async fn photos_are_decoded_and_each_code_resolved(app: TestApp) {
    let (item_id, location_id) = setup(&app).await;
    let (_, token) = app.user("camera", "warehouse", None).await;
    let png = symbol_png(
        rxing::BarcodeFormat::DATA_MATRIX,
        &format!("01095060001343521726123110LOT-7{GS}21S1"),
        true,
    );
    let resp = app
        .client
        .post(app.url("/v1/scans/decode"))
        .bearer_auth(&token)
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    let bytes = resp.bytes().await.unwrap();
    app.check_bytes(
        "POST",
        "/v1/scans/decode",
        None,
        status,
        Some(&content_type),
        &bytes,
    );
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    let code = &body["codes"][0];
    assert_eq!(code["format"], "data_matrix", "{body}");
    assert_eq!(code["symbology"], "]d2");
    assert_eq!(
        code["text"],
        format!("01095060001343521726123110LOT-7{GS}21S1")
    );
    assert_eq!(code["points"].as_array().unwrap().len(), 4);
    assert_eq!(code["scan"]["kind"], "gs1");
    assert_eq!(code["scan"]["gs1"]["batch"], "LOT-7");
    assert_eq!(code["scan"]["gs1"]["expiry"], "2026-12-31");
    assert_eq!(code["scan"]["matches"][0]["id"], item_id);

    // Multipart upload (field `image`) of a QR holding a bin barcode.
    let qr = symbol_png(rxing::BarcodeFormat::QR_CODE, "LOC-A-01", false);
    let form = reqwest::multipart::Form::new().part(
        "image",
        reqwest::multipart::Part::bytes(qr)
            .file_name("bin.png")
            .mime_str("image/png")
            .unwrap(),
    );
    let resp = app
        .client
        .post(app.url("/v1/scans/decode?formats=qr_code"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(
        body["codes"][0]["scan"]["matches"][0]["type"], "location",
        "{body}"
    );
    assert_eq!(body["codes"][0]["scan"]["matches"][0]["id"], location_id);

    // A photo of nothing, garbage, a tiny image, an unknown format name, oversized uploads.
    let blank = {
        let img = image::GrayImage::from_pixel(200, 200, image::Luma([255]));
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageLuma8(img)
            .write_to(&mut out, image::ImageFormat::Png)
            .unwrap();
        out.into_inner()
    };
    let post = |bytes: Vec<u8>, query: &str| {
        app.client
            .post(app.url(&format!("/v1/scans/decode{query}")))
            .bearer_auth(&token)
            .header("content-type", "application/octet-stream")
            .body(bytes)
            .send()
    };
    let body: Value = post(blank, "").await.unwrap().json().await.unwrap();
    assert_eq!(body["codes"], json!([]));
    let resp = post(b"definitely not an image".to_vec(), "").await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let tiny = {
        let img = image::GrayImage::from_pixel(8, 40, image::Luma([128]));
        let mut out = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageLuma8(img)
            .write_to(&mut out, image::ImageFormat::Png)
            .unwrap();
        out.into_inner()
    };
    let resp = post(tiny, "").await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mut truncated = png.clone();
    truncated.truncate(png.len() / 2);
    let resp = post(truncated, "").await.unwrap();
    assert!(
        resp.status() == StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        resp.status()
    );
    let resp = post(png.clone(), "?formats=maxicode").await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let resp = reqwest::Client::new()
        .post(app.url("/v1/scans/decode"))
        .bearer_auth(&token)
        .header("content-type", "image/png")
        .body(vec![0u8; 11 * 1024 * 1024])
        .send()
        .await;
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    let (status, body) = app.send(Method::POST, "/v1/scans/decode", None, None).await;
    assert_problem(status, &body, 401, None);
}

/// A linear symbol as a PNG: 3 px per module, 10 modules of quiet zone, bars 80 px high.
fn linear_png(format: rxing::BarcodeFormat, contents: &str) -> Vec<u8> {
    use rxing::{EncodeHintValue, EncodeHints, MultiFormatWriter, Writer};
    let hints = EncodeHints::default().with(EncodeHintValue::Margin("0".into()));
    let m = MultiFormatWriter
        .encode_with_hints(contents, &format, 0, 0, &hints)
        .unwrap();
    let (module, quiet, height) = (3u32, 10u32, 80u32);
    let w = m.getWidth();
    let img = image::GrayImage::from_fn((w + 2 * quiet) * module, height + 40, |x, y| {
        let mx = (x / module) as i64 - quiet as i64;
        let dark =
            (20..20 + height).contains(&y) && mx >= 0 && (mx as u32) < w && m.get(mx as u32, 0);
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageLuma8(img)
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

async fn upc_a_and_upc_e_scans_and_photos_resolve_to_their_gtin(app: TestApp) {
    let item = app
        .create(
            "/v1/items",
            json!({
                "code": "CAN", "name": "Canned beans",
                "gtins": [{"gtin": "00012345678905", "quantity": 1}, {"gtin": "00012345000065", "quantity": 6}]
            }),
        )
        .await;
    let item_id = item["id"].as_i64().unwrap();
    let (_, token) = app.user("upc", "warehouse", None).await;

    // As scanners send them: ]E0 + 12 digits (UPC-A), ]E0 + 8 digits (UPC-E), with the
    // whitespace keyboard-wedge setups add around them.
    for (data, gtin, quantity) in [
        ("]E0012345678905", "00012345678905", 1),
        ("  ]E0012345678905\r\n", "00012345678905", 1),
        ("]E001234565", "00012345000065", 6),
        (" ]E001234565 \n", "00012345000065", 6),
        ("\t012345678905\r\n", "00012345678905", 1),
    ] {
        let (status, body) = scan(&app, &token, json!({"data": data})).await;
        assert_eq!(status, StatusCode::OK, "{data:?}: {body}");
        assert_eq!(body["kind"], "gtin", "{data:?}");
        assert_eq!(body["gs1"]["gtin"], gtin, "{data:?}");
        assert_eq!(body["matches"][0]["id"], item_id, "{data:?}");
        assert_eq!(body["matches"][0]["quantity"], quantity, "{data:?}");
        assert_eq!(body["data"], data.trim(), "{data:?}");
    }
    // A UPC-E whose check digit does not match its expansion, and whitespace alone.
    let (status, body) = scan(&app, &token, json!({"data": "]E001234566"})).await;
    assert_problem(status, &body, 422, Some("data"));
    let (status, body) = scan(&app, &token, json!({"data": " \r\n"})).await;
    assert_problem(status, &body, 422, Some("data"));

    // Photographed: each decoded code comes back with its interpreted scan.
    for (format, contents, symbol_format, gtin) in [
        (
            rxing::BarcodeFormat::UPC_A,
            "012345678905",
            "upc_a",
            "00012345678905",
        ),
        (
            rxing::BarcodeFormat::UPC_E,
            "01234565",
            "upc_e",
            "00012345000065",
        ),
    ] {
        let resp = app
            .client
            .post(app.url("/v1/scans/decode"))
            .bearer_auth(&token)
            .header("content-type", "image/png")
            .body(linear_png(format, contents))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = resp.json().await.unwrap();
        let code = &body["codes"][0];
        assert_eq!(code["format"], symbol_format, "{body}");
        assert_eq!(code["symbology"], "]E0", "{body}");
        assert_eq!(code["text"], contents, "{body}");
        assert!(code.get("error").is_none(), "{body}");
        assert_eq!(code["scan"]["kind"], "gtin", "{body}");
        assert_eq!(code["scan"]["gs1"]["gtin"], gtin, "{body}");
        assert_eq!(code["scan"]["matches"][0]["id"], item_id, "{body}");
    }
}

crate::on_both!(
    upc_a_and_upc_e_scans_and_photos_resolve_to_their_gtin,
    photos_are_decoded_and_each_code_resolved,
    gs1_scans_resolve_to_the_item_with_batch_and_expiry,
    profiles_undo_what_scanners_do_to_the_data,
    bad_gs1_data_is_refused_with_the_ai_and_position,
    bins_documents_and_unknown_codes,
    concurrent_scans_are_all_logged,
);
