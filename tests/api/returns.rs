//! Customer returns: good goods back into the batch they were shipped from, damaged ones
//! written off with a reason, never more than was shipped for the deal.

use std::path::Path;
use std::process::Command;

use depot::stock::ledger::{self, MovementType, NewMovement};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use crate::stock::{date_in, setup};

async fn returns_restock_into_the_shipped_batch_or_write_off(app: TestApp) {
    let s = setup(&app).await;
    let (keeper_id, keeper) = app.user("returns", "warehouse", None).await;
    let customer = app
        .create("/v1/customers", json!({"legal_name": "Returning Ltd"}))
        .await;
    let deal = app
        .create(
            "/v1/deals",
            json!({"customer_id": customer["id"], "title": "Yoghurt order"}),
        )
        .await;
    let deal_id = deal["id"].as_i64().unwrap();
    let (status, body) = app
        .post(
            "/v1/receipts",
            &keeper,
            json!({"warehouse_id": s.wh, "location_id": s.a, "lines": [
                {"item_id": s.item, "quantity": 10, "batch": "R1", "expiry": date_in(30)},
                {"item_id": s.item, "quantity": 10, "batch": "R2", "expiry": date_in(60)},
                {"item_id": s.plain, "quantity": 10}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let r1 = body["movements"][0]["batch_id"].as_i64().unwrap();
    let r2 = body["movements"][1]["batch_id"].as_i64().unwrap();

    // Nothing shipped yet: nothing can come back.
    let line = |item: i64, qty: i64, condition: &str| json!({"item_id": item, "quantity": qty, "condition": condition, "reason": "customer"});
    let new = |lines: Value| json!({"deal_id": deal_id, "warehouse_id": s.wh, "location_id": s.b, "lines": lines});
    let (status, body) = app
        .post(
            "/v1/returns",
            &keeper,
            new(json!([line(s.plain, 1, "good")])),
        )
        .await;
    assert_problem(status, &body, 422, Some("lines[0].quantity"));

    // Shipping is the pick-pack-ship work's; here the ship movements are posted directly.
    let ship = |item: i64, batch: Option<i64>, qty: i64| NewMovement {
        item_id: item,
        batch_id: batch,
        warehouse_id: s.wh,
        location_id: s.a,
        quantity: -qty,
        kind: MovementType::Ship,
        user_id: Some(keeper_id),
        device_id: None,
        document_type: Some("shipment".into()),
        document_id: Some(1),
        deal_id: Some(deal_id),
        note: None,
        reservation_id: None,
    };
    ledger::post(
        &app.state.db,
        vec![
            ship(s.item, Some(r1), 6),
            ship(s.item, Some(r2), 2),
            ship(s.plain, None, 5),
        ],
    )
    .await
    .unwrap();

    // Two batches of the yoghurt went out: the batch must be named.
    let (status, body) = app
        .post(
            "/v1/returns",
            &keeper,
            new(json!([line(s.item, 1, "good")])),
        )
        .await;
    assert_problem(status, &body, 422, Some("lines[0].batch"));
    // More than was shipped of that batch.
    let (status, body) = app
        .post(
            "/v1/returns",
            &keeper,
            new(json!([{"item_id": s.item, "batch": "R2", "quantity": 3, "condition": "good"}])),
        )
        .await;
    assert_problem(status, &body, 422, Some("lines[0].quantity"));
    // Damaged without a reason.
    let (status, body) = app
        .post(
            "/v1/returns",
            &keeper,
            new(json!([{"item_id": s.plain, "quantity": 1, "condition": "damaged"}])),
        )
        .await;
    assert_problem(status, &body, 422, Some("lines[0].reason"));
    let (status, body) = app
        .post(
            "/v1/returns",
            &keeper,
            json!({"deal_id": 999_999, "warehouse_id": s.wh, "location_id": s.b,
                   "lines": [line(s.plain, 1, "good")]}),
        )
        .await;
    assert_problem(status, &body, 422, Some("deal_id"));
    let (_, rep) = app.user("returns-rep", "rep", None).await;
    let (status, body) = app
        .post("/v1/returns", &rep, new(json!([line(s.plain, 1, "good")])))
        .await;
    assert_problem(status, &body, 403, None);

    // 4 of R1 come back good, 1 of R1 damaged, 5 bolts good (the bolt's only "batch" is none).
    let (status, ret) = app
        .post(
            "/v1/returns",
            &keeper,
            new(json!([
                {"item_id": s.item, "batch": "R1", "quantity": 4, "condition": "good"},
                {"item_id": s.item, "batch_id": r1, "quantity": 1, "condition": "damaged", "reason": "crushed"},
                line(s.plain, 5, "good")
            ])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ret}");
    let kinds: Vec<(String, i64)> = ret["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["deal_id"], deal_id);
            assert_eq!(m["document_type"], "return");
            (
                m["kind"].as_str().unwrap().to_string(),
                m["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("return".to_string(), 4),
            ("return".to_string(), 1),
            ("write_off".to_string(), -1),
            ("return".to_string(), 5)
        ]
    );
    let (_, stock) = app
        .get(
            &format!("/v1/stock?location_id={}&item_id={}", s.b, s.item),
            &keeper,
        )
        .await;
    let rows = stock["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{stock}");
    assert_eq!(rows[0]["batch_id"], r1);
    assert_eq!(rows[0]["on_hand"], 4);

    // R1: 6 shipped, 5 returned: one more at most.
    let (status, body) = app
        .post(
            "/v1/returns",
            &keeper,
            new(json!([{"item_id": s.item, "batch": "R1", "quantity": 2, "condition": "good"}])),
        )
        .await;
    assert_problem(status, &body, 422, Some("lines[0].quantity"));

    let (status, list) = app
        .get(&format!("/v1/returns?deal_id={deal_id}"), &keeper)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let id = ret["id"].as_i64().unwrap();
    let (status, one) = app.get(&format!("/v1/returns/{id}"), &keeper).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["movements"].as_array().unwrap().len(), 4);
    let (_, ledger) = app
        .get(&format!("/v1/stock/ledger?deal_id={deal_id}"), &keeper)
        .await;
    assert_eq!(ledger["items"].as_array().unwrap().len(), 7);
    let admin = app.admin_token.clone();
    let (_, consistency) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");

    return_note_shows_the_lines_and_scans_back(&app, id, &keeper, &rep).await;

    // A return against a shipment names the shipment and its tracking number. (Shipments are
    // the shipping work's; here one is inserted directly.)
    let db = app.state.db.clone();
    let sid: i64 = async {
        Ok::<i64, depot::error::Error>(depot::in_tx!(db, tx => {
            sqlx::query_scalar(
                "insert into shipments (deal_id, warehouse_id, status, carrier, service_level,
                     tracking_number, ship_to_name, ship_to_address, paid_by, created_at, updated_at)
                 values ($1, $2, 'delivered', 'own_fleet', 'economy', 'OWN0000123',
                     'Returning Ltd', 'Hauptstrasse 1', 'sender', $3, $3) returning id",
            )
            .bind(deal_id)
            .bind(s.wh)
            .bind(depot::db::now())
            .fetch_one(&mut *tx)
            .await?
        }))
    }
    .await
    .unwrap();
    let (status, second) = app
        .post(
            "/v1/returns",
            &keeper,
            json!({"deal_id": deal_id, "shipment_id": sid, "warehouse_id": s.wh, "location_id": s.b,
                   "lines": [{"item_id": s.item, "batch": "R2", "quantity": 2, "condition": "good"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second = second["id"].as_i64().unwrap();
    let (status, _, pdf) = app
        .download(&format!("/v1/returns/{second}/document"), &keeper)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (text, code) = pdf_text_and_code(&pdf);
    for want in [
        format!("RN-{second}"),
        format!("Shipment DPT-SHIP-{sid}"),
        "Tracking OWN0000123".to_string(),
        "R2".to_string(),
    ] {
        assert!(text.contains(&want), "{want:?} missing:\n{text}");
    }
    assert_eq!(code, format!("DPT-RET-{second}"));
}

/// A poppler tool (poppler-utils), required: the tests fail without it, never skip.
fn poppler(name: &str) -> &'static str {
    ["/usr/bin", "/usr/local/bin"]
        .into_iter()
        .map(|dir| format!("{dir}/{name}"))
        .find(|p| Path::new(p).exists())
        .map(|p| &*p.leak())
        .unwrap_or_else(|| {
            panic!("{name} (poppler-utils) is required: apt-get install -y poppler-utils")
        })
}

/// The PDF's text (pdftotext, layout kept) and the Code 128 symbol on its first page
/// (rasterised at 300 dpi by pdftoppm, decoded with rxing).
pub(crate) fn pdf_text_and_code(pdf: &[u8]) -> (String, String) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "depot-return-note-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("note.pdf");
    std::fs::write(&path, pdf).unwrap();
    let text = Command::new(poppler("pdftotext"))
        .args(["-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    assert!(text.status.success());
    let status = Command::new(poppler("pdftoppm"))
        .args([
            "-r",
            "300",
            "-gray",
            "-png",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
        ])
        .arg(&path)
        .arg(dir.join("page"))
        .status()
        .unwrap();
    assert!(status.success());
    let img = image::open(dir.join("page.png")).unwrap().to_luma8();
    let _ = std::fs::remove_dir_all(&dir);
    let (w, h) = img.dimensions();
    let mut hints = rxing::DecodeHints::default().with(rxing::DecodeHintValue::TryHarder(true));
    let read = rxing::helpers::detect_in_luma_with_hints(
        img.into_raw(),
        w,
        h,
        Some(rxing::BarcodeFormat::CODE_128),
        &mut hints,
    )
    .expect("a Code 128 symbol on the return note");
    (
        String::from_utf8(text.stdout).unwrap(),
        read.getText().to_string(),
    )
}

/// The return note: its number, deal, customer and lines (item, batch, condition, reason) as
/// text; its barcode `DPT-RET-<id>` reads back and resolves to the return when scanned.
async fn return_note_shows_the_lines_and_scans_back(
    app: &TestApp,
    id: i64,
    keeper: &str,
    rep: &str,
) {
    let get = |path: String, token: &str| app.client.get(app.url(&path)).bearer_auth(token).send();
    let response = get(format!("/v1/returns/{id}/document"), keeper)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/pdf");
    let pdf = response.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    let (text, code) = pdf_text_and_code(&pdf);
    for want in [
        "Return note",
        &format!("RN-{id}"),
        "Returning Ltd",
        "Main",
        "YOG",
        "Yoghurt",
        "R1",
        "damaged",
        "crushed",
        "BOLT",
        "customer",
    ] {
        assert!(
            text.contains(want),
            "{want:?} missing from the return note:\n{text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.contains("R1") && l.contains("damaged") && l.contains("crushed")),
        "the damaged line with its batch and reason:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("BOLT") && l.contains("good") && l.contains('5')),
        "{text}"
    );
    assert_eq!(code, format!("DPT-RET-{id}"));

    let (status, found) = app
        .post(
            "/v1/scans",
            keeper,
            json!({"data": format!("DPT-RET-{id}")}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["matches"][0]["type"], "return", "{found}");
    assert_eq!(found["matches"][0]["id"], id, "{found}");

    let response = get(format!("/v1/returns/{id}/document?format=png"), keeper)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    let response = get(format!("/v1/returns/{id}/document?format=zpl"), keeper)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let zpl = response.text().await.unwrap();
    assert!(zpl.contains(&format!("DPT-RET-{id}")), "{zpl}");

    let response = get("/v1/returns/999999/document".into(), keeper)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = get(format!("/v1/returns/{id}/document"), rep)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// Concurrent returns of one deal never bring back more than was shipped.
async fn concurrent_returns_never_exceed_what_was_shipped(app: TestApp) {
    let s = setup(&app).await;
    let (keeper_id, keeper) = app.user("returns2", "warehouse", None).await;
    let customer = app
        .create("/v1/customers", json!({"legal_name": "Racing Ltd"}))
        .await;
    let deal = app
        .create(
            "/v1/deals",
            json!({"customer_id": customer["id"], "title": "Bolts"}),
        )
        .await;
    let deal_id = deal["id"].as_i64().unwrap();
    let (status, body) = app
        .post(
            "/v1/receipts",
            &keeper,
            json!({"warehouse_id": s.wh, "location_id": s.a,
                   "lines": [{"item_id": s.plain, "quantity": 10}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    ledger::post(
        &app.state.db,
        vec![NewMovement {
            item_id: s.plain,
            batch_id: None,
            warehouse_id: s.wh,
            location_id: s.a,
            quantity: -10,
            kind: MovementType::Ship,
            user_id: Some(keeper_id),
            device_id: None,
            document_type: None,
            document_id: None,
            deal_id: Some(deal_id),
            note: None,
            reservation_id: None,
        }],
    )
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = app.client.clone();
        let url = app.url("/v1/returns");
        let token = keeper.clone();
        let body = json!({"deal_id": deal_id, "warehouse_id": s.wh, "location_id": s.b,
            "lines": [{"item_id": s.plain, "quantity": 3, "condition": "good"}]});
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    let mut created = 0;
    for t in tasks {
        let status = t.await.unwrap();
        assert!(
            status == StatusCode::CREATED
                || status == StatusCode::UNPROCESSABLE_ENTITY
                || status == StatusCode::CONFLICT,
            "{status}"
        );
        created += usize::from(status == StatusCode::CREATED);
    }
    assert_eq!(
        created, 3,
        "10 shipped: three returns of 3 fit, a fourth does not"
    );
    let (_, stock) = app
        .get(
            &format!("/v1/stock?location_id={}&item_id={}", s.b, s.plain),
            &keeper,
        )
        .await;
    assert_eq!(stock["items"][0]["on_hand"], 9);
}

crate::on_both!(
    returns_restock_into_the_shipped_batch_or_write_off,
    concurrent_returns_never_exceed_what_was_shipped,
);
