//! The demo a person walks through: stock in batches (one close to expiry, one expired in
//! quarantine), deals at several stages, a pick list ready, a PDF printer; and the barcode sheet,
//! read back by an independent decoder, scans to what the demo knows.

use std::collections::HashSet;

use image::GrayImage;
use reqwest::StatusCode;
use rxing::{BarcodeFormat, DecodeHintValue, DecodeHints};
use serde_json::{Value, json};

use crate::helpers::{TestApp, pdf_pages};

crate::on_both!(
    the_demo_has_stock_deals_at_every_stage_and_a_pick_list,
    the_barcode_sheet_scans_to_what_the_demo_knows,
);

async fn the_demo_has_stock_deals_at_every_stage_and_a_pick_list(app: TestApp) {
    depot::demo::load(&app.state.db).await.unwrap();
    let admin = app.admin_token.clone();
    let (_, warehouses) = app.get("/v1/warehouses", &admin).await;
    let berlin = warehouses["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "BER")
        .unwrap()
        .clone();
    assert!(berlin["label_printer_id"].is_i64(), "{berlin}");
    let (_, stock) = app
        .get(&format!("/v1/stock?warehouse_id={}", berlin["id"]), &admin)
        .await;
    let rows = stock["items"].as_array().unwrap();
    let row = |batch: &str| rows.iter().find(|r| r["batch_code"] == batch).cloned();
    assert_eq!(row("Y-OLD").unwrap()["available"], 0, "expired: {stock}");
    assert_eq!(row("Y-OLD").unwrap()["batch_status"], "quarantine");
    assert!(row("Y-SOON").unwrap()["available"].as_i64().unwrap() > 0);
    let (_, alerts) = app.get("/v1/alerts", &admin).await;
    assert!(
        !alerts["items"].as_array().unwrap().is_empty(),
        "stock close to expiry raises an alert: {alerts}"
    );
    let (_, deals) = app.get("/v1/deals", &admin).await;
    let deal = |title: &str| -> i64 {
        deals["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["title"] == title)
            .unwrap_or_else(|| panic!("no deal {title}: {deals}"))["id"]
            .as_i64()
            .unwrap()
    };
    let fulfilment = |id: i64| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.get(&format!("/v1/deals/{id}/fulfilment"), &admin)
                .await
                .1
        }
    };
    // Won and reserved in full, with a pick list to walk.
    let canteen = fulfilment(deal("Canteen yoghurt")).await;
    let line = &canteen["lines"][0];
    assert_eq!(line["reserved"], line["requested"], "{canteen}");
    assert!(
        canteen["documents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["type"] == "pick_list"),
        "{canteen}"
    );
    // Waiting for a purchase.
    let weekly = fulfilment(deal("Weekly dairy")).await;
    assert!(
        weekly["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| !l["on_order"].as_array().unwrap().is_empty()),
        "{weekly}"
    );
    // Short, with a production order.
    let shelving = fulfilment(deal("Warehouse shelving, new site")).await;
    assert!(
        !shelving["lines"][0]["in_production"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{shelving}"
    );
    // The warehouse user can log in with the documented password, and every balance agrees
    // with the ledger.
    app.login("wanda", depot::demo::DEMO_PASSWORD).await;
    let (_, check) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(check["consistent"], true, "{check}");
}

/// Every barcode on a sheet page, card by card (six cards of 190 × 44 mm centred on A4).
fn codes_on(page: &GrayImage) -> Vec<String> {
    let px = |mm: f64| (mm * 300.0 / 25.4).round() as u32;
    let mut codes = Vec::new();
    for row in 0..6 {
        {
            let (x, y) = (10.0, 16.5 + row as f64 * 44.0);
            let cell =
                image::imageops::crop_imm(page, px(x), px(y), px(190.0), px(44.0)).to_image();
            let (w, h) = cell.dimensions();
            let mut hints = DecodeHints::default()
                .with(DecodeHintValue::PossibleFormats(HashSet::from([
                    BarcodeFormat::CODE_128,
                ])))
                .with(DecodeHintValue::TryHarder(true));
            if let Ok(result) =
                rxing::helpers::detect_in_luma_with_hints(cell.into_raw(), w, h, None, &mut hints)
            {
                // The symbology identifier tells GS1-128 (FNC1 first: `]C1`) from Code 128.
                let gs1 = matches!(
                    result
                        .getRXingResultMetadata()
                        .get(&rxing::RXingResultMetadataType::SYMBOLOGY_IDENTIFIER),
                    Some(rxing::RXingResultMetadataValue::SymbologyIdentifier(s)) if s.contains("C1")
                );
                let text = result.getText().to_string();
                codes.push(if gs1 && !text.starts_with("]C1") {
                    format!("]C1{text}")
                } else {
                    text
                });
            }
        }
    }
    codes
}

async fn the_barcode_sheet_scans_to_what_the_demo_knows(app: TestApp) {
    depot::demo::load(&app.state.db).await.unwrap();
    let (status, content_type, pdf) = app.download("/v1/barcode-sheet", &app.admin_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/pdf"));
    let mut codes = Vec::new();
    for png in pdf_pages(&pdf) {
        codes.extend(codes_on(&image::load_from_memory(&png).unwrap().to_luma8()));
    }
    let admin = app.admin_token.clone();
    // Every bin and every open pick list is on the sheet.
    let (_, bins) = app.get("/v1/locations?limit=500", &admin).await;
    for bin in bins["items"].as_array().unwrap() {
        let barcode = bin["barcode"].as_str().unwrap();
        assert!(
            codes.iter().any(|c| c == barcode),
            "bin {barcode} missing: {codes:?}"
        );
    }
    assert!(
        codes.iter().any(|c| c.starts_with("DPT-PICK-")),
        "{codes:?}"
    );
    assert!(
        codes.iter().filter(|c| c.starts_with("]C1")).count() >= 8,
        "{codes:?}"
    );
    // Each code scans to something Depot knows: an item (with its batch), a bin, a deal, a list.
    for code in &codes {
        let (status, scan) = app.post("/v1/scans", &admin, json!({"data": code})).await;
        assert_eq!(status, StatusCode::OK, "{code}: {scan}");
        let matches: Vec<&Value> = scan["matches"].as_array().unwrap().iter().collect();
        assert!(!matches.is_empty(), "{code} scans to nothing: {scan}");
        if code.contains("(10)") || scan["gs1"]["batch"].is_string() {
            assert!(
                matches.iter().any(|m| m["type"] == "batch"),
                "{code}: the batch is known: {scan}"
            );
        }
    }
}
