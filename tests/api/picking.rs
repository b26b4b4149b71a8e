//! Pick lists and scan-verified picking: route order, refusals with reasons, FEFO-equal batch
//! swaps, picked goods moved to packing and still reserved for the deal.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use crate::stock::{GS, date_in, yymmdd};

fn gs1_batch(batch: &str, days: i64) -> String {
    gs1(batch, days)
}

fn gs1(batch: &str, days: i64) -> String {
    format!("]C10109506000134352{}{}{GS}10{batch}", "17", yymmdd(days))
}

async fn picks_are_checked_by_scan_and_moved_to_packing(app: TestApp) {
    let admin = app.admin_token.clone();
    let (_, picker) = app.user("picker", "warehouse", None).await;
    let item = app
        .create(
            "/v1/items",
            json!({"code": "YOG", "name": "Yoghurt", "tracking": "batch",
                   "gtins": [{"gtin": "09506000134352", "quantity": 1}]}),
        )
        .await;
    let item_id = item["id"].as_i64().unwrap();
    app.create(
        "/v1/items",
        json!({"code": "BOLT", "name": "Bolt", "gtins": ["4006381333931"]}),
    )
    .await;
    let wh = app
        .create("/v1/warehouses", json!({"code": "PK", "name": "Picking"}))
        .await["id"]
        .as_i64()
        .unwrap();
    let loc = |code: &str, seq: i64| {
        let app = &app;
        let code = code.to_string();
        async move {
            app.create(
                &format!("/v1/warehouses/{wh}/locations"),
                json!({"code": code, "pick_sequence": seq}),
            )
            .await["id"]
                .as_i64()
                .unwrap()
        }
    };
    let (a, b, pack) = (loc("A", 2).await, loc("B", 1).await, loc("PACK", 9).await);
    let receive = |location: i64, lines: Value, quarantine: bool| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let (status, body) = app
                .post(
                    "/v1/receipts",
                    &admin,
                    json!({"warehouse_id": wh, "location_id": location, "lines": lines, "quarantine": quarantine}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
    };
    receive(
        a,
        json!([
            {"item_id": item_id, "quantity": 4, "batch": "E1", "expiry": date_in(20)},
            {"item_id": item_id, "quantity": 3, "batch": "E1B", "expiry": date_in(20)},
            {"item_id": item_id, "quantity": 5, "batch": "E3", "expiry": date_in(60)}
        ]),
        false,
    )
    .await;
    receive(
        b,
        json!([{"item_id": item_id, "quantity": 10, "batch": "E2", "expiry": date_in(40)}]),
        false,
    )
    .await;
    // An expired batch, received into quarantine, on the same shelf.
    receive(
        a,
        json!([{"item_id": item_id, "quantity": 2, "batch": "OLD", "expiry": date_in(-1)}]),
        true,
    )
    .await;
    let customer = app
        .create(
            "/v1/customers",
            json!({"legal_name": "Picky Ltd", "addresses": [
                {"line1": "Marktplatz 5", "city": "München", "postal_code": "80331", "country": "DE",
                 "preferred_shipping": true}
            ]}),
        )
        .await;
    let deal = app
        .create(
            "/v1/deals",
            json!({"customer_id": customer["id"], "title": "Pick me",
                   "lines": [{"item_id": item_id, "quantity": 9}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    // FEFO: E1 (4) and E1B (3) at A, then 2 of E2 at B.
    let (status, r) = app
        .post(
            &format!("/v1/deals/{deal}/reserve"),
            &admin,
            json!({"warehouse_id": wh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["lines"][0]["reserved"], 9);

    let list = app.pick_list(deal, wh, pack).await;
    let id = list["id"].as_i64().unwrap();
    assert_eq!(list["code"], format!("DPT-PICK-{id}"));
    // Route order: B (sequence 1) before A (sequence 2).
    let route: Vec<(&str, &str, i64)> = list["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["location_code"].as_str().unwrap(),
                l["batch_code"].as_str().unwrap(),
                l["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(route, vec![("B", "E2", 2), ("A", "E1", 4), ("A", "E1B", 3)]);
    // The same reservations cannot go on a second pick list.
    let (status, body) = app
        .post(
            "/v1/pick-lists",
            &admin,
            json!({"deal_ids": [deal], "warehouse_id": wh, "packing_location_id": pack}),
        )
        .await;
    assert_problem(status, &body, 409, Some("deal_ids"));

    let scan = |body: Value| {
        let app = &app;
        let picker = picker.clone();
        async move {
            let (status, answer) = app
                .post(&format!("/v1/pick-lists/{id}/scans"), &picker, body.clone())
                .await;
            assert_eq!(status, StatusCode::OK, "{body}: {answer}");
            answer
        }
    };
    let refused = |answer: &Value, reason: &str| {
        assert_eq!(answer["outcome"], "refused", "{answer}");
        assert_eq!(answer["reason"], reason, "{answer}");
    };
    // Goods before a location.
    refused(
        &scan(json!({"scan": gs1("E2", 40)})).await,
        "wrong_location",
    );
    assert_eq!(scan(json!({"scan": "PK-B"})).await["outcome"], "location");
    // E1 belongs at A, not B; a batch without its batch; more than needed.
    refused(
        &scan(json!({"scan": "09506000134352"})).await,
        "batch_missing",
    );
    refused(
        &scan(json!({"scan": gs1("E2", 40), "quantity": 3})).await,
        "more_than_needed",
    );
    let ok = scan(json!({"scan": gs1("E2", 40), "quantity": 2})).await;
    assert_eq!(ok["outcome"], "confirmed", "{ok}");
    assert_eq!(ok["line_remaining"], 0);
    assert_eq!(ok["list_remaining"], 7);

    assert_eq!(scan(json!({"scan": "PK-A"})).await["outcome"], "location");
    // Another item altogether.
    refused(&scan(json!({"scan": "4006381333931"})).await, "wrong_item");
    // A later batch than planned (FEFO) and an expired one are refused.
    refused(&scan(json!({"scan": gs1("E3", 60)})).await, "wrong_batch");
    refused(&scan(json!({"scan": gs1("OLD", -1)})).await, "expired");
    let ok = scan(json!({"scan": gs1("E1", 20), "quantity": 4})).await;
    assert_eq!(ok["outcome"], "confirmed", "{ok}");
    // E1B planned; E1 is gone, but the other same-date batch is as good: E1B picked normally.
    let ok = scan(json!({"scan": gs1("E1B", 20), "quantity": 3})).await;
    assert_eq!(ok["outcome"], "confirmed", "{ok}");
    assert_eq!(ok["list_remaining"], 0);
    // Everything picked: the list is done, further scans are refused as such.
    let (status, body) = app
        .post(
            &format!("/v1/pick-lists/{id}/scans"),
            &picker,
            json!({"scan": gs1("E1B", 20)}),
        )
        .await;
    assert_problem(status, &body, 409, Some("status"));

    let (_, done) = app.get(&format!("/v1/pick-lists/{id}"), &picker).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["picked"], 9);
    // Everything sits at packing, still reserved for the deal.
    let (_, stock) = app
        .get(&format!("/v1/stock?location_id={pack}"), &admin)
        .await;
    let at_pack: i64 = stock["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["reserved"].as_i64().unwrap())
        .sum();
    assert_eq!(at_pack, 9, "{stock}");
    let (_, f) = app
        .get(&format!("/v1/deals/{deal}/fulfilment"), &admin)
        .await;
    assert_eq!(f["lines"][0]["reserved"], 9);
    assert!(
        f["movements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "pick" && m["document_type"] == "pick_list"),
        "{f}"
    );
    let (_, consistency) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");
    let response = app
        .client
        .get(app.url(&format!("/v1/pick-lists/{id}/document")))
        .bearer_auth(&picker)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap().starts_with(b"%PDF"));
    // `?format=png|zpl` and `?dpi=`, like every other document: the list's barcode scans.
    let document = |query: &'static str| {
        let (app, picker) = (&app, picker.clone());
        async move {
            let response = app
                .client
                .get(app.url(&format!("/v1/pick-lists/{id}/document{query}")))
                .bearer_auth(picker)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_string();
            (
                status,
                content_type,
                response.bytes().await.unwrap().to_vec(),
            )
        }
    };
    let (status, content_type, png) = document("?format=png&dpi=300").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "image/png")
    );
    assert_eq!(
        crate::labels::png_codes(&png),
        vec![format!("DPT-PICK-{id}")]
    );
    let (status, content_type, zpl) = document("?format=zpl&dpi=300").await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "application/x-zpl")
    );
    let zpl = String::from_utf8(zpl).unwrap();
    assert!(
        zpl.starts_with("^XA") && zpl.contains(&format!("DPT-PICK-{id}")),
        "{zpl}"
    );
    assert!(zpl.contains("^PW2480"), "A4 at 300 dpi: {zpl}");
    let (status, _, body) = document("?format=png&dpi=50").await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_problem(status, &body, 422, Some("dpi"));

    // Packing: more than was picked is refused; two parcels, the second on a pallet.
    let (status, body) = app
        .post(
            "/v1/parcels",
            &picker,
            json!({"deal_id": deal, "warehouse_id": wh, "package_type": "box",
                   "contents": [{"item_id": item_id, "batch": "E2", "quantity": 3}]}),
        )
        .await;
    assert_problem(status, &body, 422, Some("contents[0].quantity"));
    let (status, pallet) = app
        .post(
            "/v1/parcels",
            &picker,
            json!({"deal_id": deal, "warehouse_id": wh, "package_type": "pallet"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pallet}");
    let (status, first) = app
        .post(
            "/v1/parcels",
            &picker,
            json!({"deal_id": deal, "warehouse_id": wh, "package_type": "box", "weight_kg": 4.5,
                   "dimensions": {"length_cm": 40, "width_cm": 30, "height_cm": 20},
                   "parent_id": pallet["id"],
                   "contents": [{"item_id": item_id, "batch": "E2", "quantity": 2}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, second) = app
        .post(
            "/v1/parcels",
            &picker,
            json!({"deal_id": deal, "warehouse_id": wh, "package_type": "box",
                   "contents": [{"item_id": item_id, "batch": "E1", "quantity": 4},
                                {"item_id": item_id, "batch": "E1B", "quantity": 3}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let ssccs: Vec<String> = [&pallet, &first, &second]
        .iter()
        .map(|p| p["sscc"].as_str().unwrap().to_string())
        .collect();
    assert!(ssccs.iter().all(|s| s.len() == 18));
    assert_eq!(
        ssccs.iter().collect::<std::collections::HashSet<_>>().len(),
        3
    );
    // A parcel's SSCC and the pick list's own barcode resolve when scanned.
    let (status, found) = app
        .post(
            "/v1/scans",
            &picker,
            json!({"data": format!("]C100{}", ssccs[1])}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["matches"][0]["type"], "parcel", "{found}");
    assert_eq!(found["matches"][0]["id"], first["id"]);
    let (_, found) = app
        .post(
            "/v1/scans",
            &picker,
            json!({"data": format!("DPT-PICK-{id}")}),
        )
        .await;
    assert_eq!(found["matches"][0]["type"], "pick_list", "{found}");

    // A shipment with cash on delivery, to the customer's preferred address.
    let (status, shipment) = app
        .post(
            "/v1/shipments",
            &admin,
            json!({"deal_id": deal, "warehouse_id": wh, "service_level": "express",
                   "cod_amount": 4990, "paid_by": "recipient",
                   "parcel_ids": [pallet["id"], first["id"], second["id"]]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shipment}");
    assert_eq!(shipment["status"], "packed");
    assert_eq!(shipment["ship_to"]["name"], "Picky Ltd");
    assert!(
        shipment["ship_to"]["address"]
            .as_str()
            .unwrap()
            .contains("80331 München")
    );
    let sid = shipment["id"].as_i64().unwrap();
    // The parcel's logistic label scans back to its SSCC.
    let response = app
        .client
        .get(app.url(&format!(
            "/v1/parcels/{}/label?format=png&dpi=300",
            second["id"]
        )))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let png = response.bytes().await.unwrap();
    let img = image::load_from_memory(&png).unwrap().to_luma8();
    let (w, h) = img.dimensions();
    let mut hints = rxing::DecodeHints::default()
        .with(rxing::DecodeHintValue::TryHarder(true))
        .with(rxing::DecodeHintValue::AssumeGs1(true));
    let read = rxing::helpers::detect_in_luma_with_hints(
        img.into_raw(),
        w,
        h,
        Some(rxing::BarcodeFormat::CODE_128),
        &mut hints,
    )
    .unwrap();
    assert_eq!(read.getText(), format!("]C100{}", ssccs[2]));

    let (status, dispatched) = app
        .post(&format!("/v1/shipments/{sid}/dispatch"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{dispatched}");
    assert_eq!(dispatched["shipment"]["status"], "dispatched");
    let tracking = dispatched["shipment"]["tracking_number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(tracking.starts_with("OWN"));
    let shipped: i64 = dispatched["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| -m["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(shipped, 9);
    let (status, body) = app
        .post(&format!("/v1/shipments/{sid}/dispatch"), &admin, json!({}))
        .await;
    assert_problem(status, &body, 409, Some("status"));
    // The carrier reports it in transit; then it is delivered and the cash collected.
    let (status, body) = app
        .post(
            "/v1/carriers/own_fleet/webhook",
            &admin,
            json!({"tracking_number": tracking, "status": "in_transit"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, delivered) = app
        .post(
            &format!("/v1/shipments/{sid}/status"),
            &admin,
            json!({"status": "delivered"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{delivered}");
    assert!(delivered["cod_collected_at"].is_string(), "{delivered}");
    let events: Vec<&str> = delivered["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        vec!["packed", "dispatched", "in_transit", "delivered"]
    );
    let (status, body) = app
        .post(
            &format!("/v1/shipments/{sid}/status"),
            &admin,
            json!({"status": "in_transit"}),
        )
        .await;
    assert_problem(status, &body, 409, Some("status"));

    let response = app
        .client
        .get(app.url(&format!("/v1/shipments/{sid}/delivery-note")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap().starts_with(b"%PDF"));

    // One damaged unit comes back against the shipment.
    let (status, ret) = app
        .post(
            "/v1/returns",
            &admin,
            json!({"deal_id": deal, "shipment_id": sid, "warehouse_id": wh, "location_id": a,
                   "lines": [{"item_id": item_id, "batch": "E1", "quantity": 1,
                              "condition": "damaged", "reason": "crushed"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ret}");
    let (_, f) = app
        .get(&format!("/v1/deals/{deal}/fulfilment"), &admin)
        .await;
    assert_eq!(f["lines"][0]["reserved"], 0, "{f}");
    assert_eq!(f["lines"][0]["shipped"], 8, "{f}");
    let (_, consistency) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");
}

/// A batch as good as the planned one (same expiry) is accepted and the swap recorded.
async fn an_equally_good_batch_is_swapped_in(app: TestApp) {
    let admin = app.admin_token.clone();
    let item = app
        .create(
            "/v1/items",
            json!({"code": "YOG2", "name": "Yoghurt", "tracking": "batch",
                   "requires_certificate": true,
                   "gtins": [{"gtin": "09506000134352", "quantity": 1}]}),
        )
        .await;
    let item_id = item["id"].as_i64().unwrap();
    let wh = app
        .create("/v1/warehouses", json!({"code": "SW", "name": "Swap"}))
        .await["id"]
        .as_i64()
        .unwrap();
    let a = app
        .create(
            &format!("/v1/warehouses/{wh}/locations"),
            json!({"code": "A"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let pack = app
        .create(
            &format!("/v1/warehouses/{wh}/locations"),
            json!({"code": "P"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let (status, body) = app
        .post(
            "/v1/receipts",
            &admin,
            json!({"warehouse_id": wh, "location_id": a, "lines": [
                {"item_id": item_id, "quantity": 2, "batch": "S1", "expiry": date_in(30)},
                {"item_id": item_id, "quantity": 2, "batch": "S2", "expiry": date_in(30)}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let customer = app
        .create("/v1/customers", json!({"legal_name": "Swap Ltd"}))
        .await;
    let deal = app
        .create(
            "/v1/deals",
            json!({"customer_id": customer["id"], "lines": [{"item_id": item_id, "quantity": 2}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let (status, _) = app
        .post(
            &format!("/v1/deals/{deal}/reserve"),
            &admin,
            json!({"warehouse_id": wh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = app
        .post(
            "/v1/pick-lists",
            &admin,
            json!({"deal_ids": [deal], "warehouse_id": wh, "packing_location_id": pack}),
        )
        .await;
    let id = list["id"].as_i64().unwrap();
    let planned = list["lines"][0]["batch_code"].as_str().unwrap().to_string();
    let other = if planned == "S1" { "S2" } else { "S1" };
    let (_, _) = app
        .post(
            &format!("/v1/pick-lists/{id}/scans"),
            &admin,
            json!({"scan": "SW-A"}),
        )
        .await;
    let (status, ok) = app
        .post(
            &format!("/v1/pick-lists/{id}/scans"),
            &admin,
            json!({"scan": gs1(other, 30), "quantity": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ok}");
    assert_eq!(ok["outcome"], "confirmed", "{ok}");
    assert_eq!(ok["swapped_from_batch"], planned);
    let (_, stock) = app.get(&format!("/v1/stock?location_id={a}"), &admin).await;
    // The planned batch is free again, the swapped one gone from the shelf.
    let row = stock["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["batch_code"] == planned.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (row["on_hand"].as_i64(), row["reserved"].as_i64()),
        (Some(2), Some(0))
    );

    // Shipped, not delivered: the whole shipment comes back into its batch.
    let (status, parcel) = app
        .post(
            "/v1/parcels",
            &admin,
            json!({"deal_id": deal, "warehouse_id": wh, "package_type": "box",
                   "contents": [{"item_id": item_id, "batch": other, "quantity": 2}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{parcel}");
    let (status, shipment) = app
        .post(
            "/v1/shipments",
            &admin,
            json!({"deal_id": deal, "warehouse_id": wh, "service_level": "economy",
                   "paid_by": "sender", "parcel_ids": [parcel["id"]],
                   "ship_to": {"name": "Swap Ltd", "address": "Hauptstrasse 1\n10115 Berlin"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shipment}");
    let sid = shipment["id"].as_i64().unwrap();
    // The item needs a certificate: none recorded for the batch, so it cannot ship yet.
    let (status, body) = app
        .post(&format!("/v1/shipments/{sid}/dispatch"), &admin, json!({}))
        .await;
    assert_problem(status, &body, 409, Some("parcels"));
    let batch_id = parcel["contents"][0]["batch_id"].as_i64().unwrap();
    let (status, body) = app
        .patch(
            &format!("/v1/batches/{batch_id}"),
            &admin,
            json!({"certificate": "   "}),
        )
        .await;
    assert_problem(status, &body, 422, Some("certificate"));
    let (status, body) = app
        .patch(
            &format!("/v1/batches/{batch_id}"),
            &admin,
            json!({"certificate": "CoA-77"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["certificate"], "CoA-77");
    let (status, body) = app
        .post(&format!("/v1/shipments/{sid}/dispatch"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &format!("/v1/shipments/{sid}/status"),
            &admin,
            json!({"status": "failed_delivery", "note": "nobody home"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &format!("/v1/shipments/{sid}/status"),
            &admin,
            json!({"status": "returned", "location_id": 999_999}),
        )
        .await;
    assert_problem(status, &body, 422, Some("location_id"));
    // Without a location it goes back where it left from: the packing location.
    let (status, body) = app
        .post(
            &format!("/v1/shipments/{sid}/status"),
            &admin,
            json!({"status": "returned"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "returned");
    let (_, stock) = app
        .get(&format!("/v1/stock?location_id={pack}"), &admin)
        .await;
    let back = stock["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["batch_code"] == other)
        .unwrap()
        .clone();
    assert_eq!(back["on_hand"], 2, "{stock}");
    let (_, consistency) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");
}

/// Short picks: the missing part is released and booked off the bin, the deal planned again
/// from other stock (new lines on the same list), and what stock cannot cover goes to a
/// purchase order.
async fn a_short_pick_is_replanned_or_raises_the_shortfall(app: TestApp) {
    let admin = app.admin_token.clone();
    let (_, picker) = app.user("picker", "warehouse", None).await;
    let supplier = app
        .create(
            "/v1/suppliers",
            json!({"code": "FARM", "name": "Farm", "lead_time_days": 3}),
        )
        .await;
    let item = app
        .create(
            "/v1/items",
            json!({"code": "MILK", "name": "Milk", "tracking": "batch", "source": "purchased",
                   "supplier_id": supplier["id"],
                   "gtins": [{"gtin": "09506000134352", "quantity": 1}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let (wh, bins) = app
        .warehouse("SP", &[("A", 1), ("B", 2), ("PACK", 9)])
        .await;
    let (a, b, pack) = (bins[0], bins[1], bins[2]);
    for (location, batch, quantity, days) in [(a, "L1", 3, 20), (b, "L2", 4, 40)] {
        app.receive(
            wh,
            location,
            json!([{"item_id": item, "quantity": quantity, "batch": batch, "expiry": date_in(days)}]),
            false,
        )
        .await;
    }
    let deal = app
        .reserved_deal("Thirsty Ltd", "Milk run", item, 5, wh)
        .await;
    let list = app.pick_list(deal, wh, pack).await;
    let id = list["id"].as_i64().unwrap();
    let line_at = |list: &Value, code: &str| -> i64 {
        list["lines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["location_code"] == code)
            .unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let line_a = line_at(&list, "A");
    let line_b = line_at(&list, "B");
    let short = format!("/v1/pick-lists/{id}/short");

    // Bad reports name the field.
    let (status, body) = app
        .post(&short, &picker, json!({"line_id": line_a, "found": 3}))
        .await;
    assert_problem(status, &body, 422, Some("found"));
    let (status, body) = app.post(&short, &picker, json!({"line_id": 999_999})).await;
    assert_problem(status, &body, 422, Some("line_id"));

    // A holds 1 of the 3 planned: 2 released and booked off A, 2 more reserved at B.
    let (status, r) = app
        .post(
            &short,
            &picker,
            json!({"line_id": line_a, "found": 1, "note": "box torn"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        (r["missing"].as_i64(), r["adjusted"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(r["line"]["short"], 2);
    assert_eq!(r["replan"]["reserved"], 5, "{r}");
    assert_eq!(r["replan"]["shortfall"], 0);
    let added = r["added_lines"].as_array().unwrap();
    assert_eq!(added.len(), 1, "{r}");
    assert_eq!(
        (
            added[0]["location_code"].as_str(),
            added[0]["batch_code"].as_str(),
            added[0]["quantity"].as_i64()
        ),
        (Some("B"), Some("L2"), Some(2))
    );
    assert_eq!(r["list_remaining"], 5);
    assert_eq!(r["movements"][0]["kind"], "adjustment");
    assert_eq!(r["movements"][0]["quantity"], -2);
    let added_b = added[0]["id"].as_i64().unwrap();

    // The one unit left at A is picked as usual.
    for (scan, quantity) in [("SP-A".to_string(), None), (gs1_batch("L1", 20), Some(1))] {
        let (status, body) = app
            .post(
                &format!("/v1/pick-lists/{id}/scans"),
                &picker,
                json!({"scan": scan, "quantity": quantity}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_ne!(body["outcome"], "refused", "{body}");
    }

    // B is empty: nothing else in stock, so the shortfall goes to the supplier.
    let (status, r) = app.post(&short, &picker, json!({"line_id": line_b})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        (r["missing"].as_i64(), r["adjusted"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(r["replan"]["shortfall"], 2, "{r}");
    let po = r["replan"]["purchase_order_id"]
        .as_i64()
        .expect("a purchase order");
    assert!(r["added_lines"].as_array().unwrap().is_empty());
    let (status, r) = app.post(&short, &picker, json!({"line_id": added_b})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["replan"]["shortfall"], 4, "{r}");
    assert_eq!(r["replan"]["purchase_order_id"], po);
    assert_eq!(r["list_remaining"], 0);
    let (_, list) = app.get(&format!("/v1/pick-lists/{id}"), &picker).await;
    assert_eq!(list["status"], "done", "{list}");
    assert_eq!(
        (list["picked"].as_i64(), list["short"].as_i64()),
        (Some(1), Some(6))
    );
    let (status, body) = app.post(&short, &picker, json!({"line_id": added_b})).await;
    assert_problem(status, &body, 409, Some("status"));

    // Nothing left on the shelves: A and B booked to zero; 1 picked and reserved at packing.
    let (_, f) = app
        .get(&format!("/v1/deals/{deal}/fulfilment"), &admin)
        .await;
    assert_eq!(f["lines"][0]["reserved"], 1, "{f}");
    assert_eq!(f["lines"][0]["picked"], 1, "{f}");
    assert_eq!(f["lines"][0]["on_order"][0]["quantity"], 4, "{f}");
    let (_, avail) = app
        .get(
            &format!("/v1/items/{item}/availability?warehouse_id={wh}"),
            &admin,
        )
        .await;
    assert_eq!(
        (avail["on_hand"].as_i64(), avail["available"].as_i64()),
        (Some(1), Some(0)),
        "{avail}"
    );
    let (_, consistency) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");
}

/// Pickers racing on one line: exactly the line's quantity is confirmed, never more; the rest
/// are refused or told to scan again, and the ledger stays consistent.
async fn racing_pickers_never_pick_more_than_the_line(app: TestApp) {
    let admin = app.admin_token.clone();
    let (_, picker) = app.user("picker", "warehouse", None).await;
    let item = app
        .create(
            "/v1/items",
            json!({"code": "RACE", "name": "Race", "tracking": "batch",
                   "gtins": [{"gtin": "09506000134352", "quantity": 1}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let (wh, bins) = app.warehouse("RC", &[("A", 1), ("PACK", 9)]).await;
    app.receive(
        wh,
        bins[0],
        json!([{"item_id": item, "quantity": 20, "batch": "R1", "expiry": date_in(30)}]),
        false,
    )
    .await;
    let deal = app.reserved_deal("Race Ltd", "Race", item, 5, wh).await;
    let list = app.pick_list(deal, wh, bins[1]).await;
    let scans = format!("/v1/pick-lists/{}/scans", list["id"]);
    let (status, body) = app.post(&scans, &picker, json!({"scan": "RC-A"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let tasks: Vec<_> = (0..12)
        .map(|_| app.post_racing(&scans, &picker, json!({"scan": gs1("R1", 30)})))
        .collect();
    let mut confirmed = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::OK if body["outcome"] == "confirmed" => confirmed += 1,
            StatusCode::OK => assert_eq!(body["reason"], "more_than_needed", "{body}"),
            // Picked meanwhile (scan again), or the list finished meanwhile.
            _ => {
                assert_problem(status, &body, 409, None);
                assert!(
                    ["quantity", "status"].contains(&body["field"].as_str().unwrap()),
                    "{body}"
                );
            }
        }
    }
    assert_eq!(confirmed, 5);
    let (_, list) = app
        .get(&format!("/v1/pick-lists/{}", list["id"]), &picker)
        .await;
    assert_eq!(
        (list["picked"].as_i64(), list["status"].as_str()),
        (Some(5), Some("done"))
    );
    let (_, f) = app
        .get(&format!("/v1/deals/{deal}/fulfilment"), &admin)
        .await;
    assert_eq!(
        (
            f["lines"][0]["reserved"].as_i64(),
            f["lines"][0]["picked"].as_i64()
        ),
        (Some(5), Some(5)),
        "{f}"
    );
    // Packers racing for the same 5 units: 2 parcels of 2 fit, never a third.
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let body = json!({"deal_id": deal, "warehouse_id": wh,
                              "contents": [{"item_id": item, "batch": "R1", "quantity": 2}]});
            app.post_racing("/v1/parcels", &picker, body)
        })
        .collect();
    let mut packed = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        if status == StatusCode::CREATED {
            packed += 1;
        } else {
            assert!([409, 422].contains(&status.as_u16()), "{status}: {body}");
            assert_eq!(body["field"], "contents[0].quantity", "{body}");
        }
    }
    assert_eq!(packed, 2);
    let (_, consistency) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");
}

/// Requests that leave out what Depot can work out: the pick list's warehouse and packing
/// location, scans sent as `data` or typed ids, a parcel's package type, a shipment's
/// warehouse, service level and payer, a return's deal, warehouse and location.
async fn what_can_be_worked_out_may_be_left_out(app: TestApp) {
    let admin = app.admin_token.clone();
    let (_, picker) = app.user("picker", "warehouse", None).await;
    let item = app
        .create_id(
            "/v1/items",
            json!({"code": "SOFT", "name": "Soft", "tracking": "batch",
                   "gtins": [{"gtin": "09506000134352", "quantity": 1}]}),
        )
        .await;
    let (wh, bins) = app.warehouse("DF", &[("A", 1)]).await;
    app.receive(
        wh,
        bins[0],
        json!([{"item_id": item, "quantity": 10, "batch": "D1", "expiry": date_in(30)}]),
        false,
    )
    .await;
    let customer = app
        .create(
            "/v1/customers",
            json!({"legal_name": "Default GmbH", "addresses": [
                {"line1": "Weg 1", "city": "Köln", "postal_code": "50667", "country": "DE"}]}),
        )
        .await;
    let mut deals = Vec::new();
    for _ in 0..2 {
        let deal = app
            .create_id(
                "/v1/deals",
                json!({"customer_id": customer["id"], "title": "Defaults",
                       "lines": [{"item_id": item, "quantity": 3}]}),
            )
            .await;
        let (status, r) = app
            .post(&format!("/v1/deals/{deal}/reserve"), &admin, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        deals.push(deal);
    }
    // Warehouse from the deals' reservations; packing location PACKING, made once.
    let (status, list) = app
        .post("/v1/pick-lists", &admin, json!({"deal_ids": [deals[0]]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{list}");
    assert_eq!(list["warehouse_id"], wh);
    let pack = list["packing_location_id"].as_i64().unwrap();
    let (_, location) = app.get(&format!("/v1/locations/{pack}"), &admin).await;
    assert_eq!(location["code"], "PACKING", "{location}");
    let (status, second) = app
        .post("/v1/pick-lists", &admin, json!({"deal_ids": [deals[1]]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["packing_location_id"], pack);

    // Scans as `data`, or typed: the location by id, the item with its batch.
    let scans = format!("/v1/pick-lists/{}/scans", list["id"]);
    let (status, body) = app.post(&scans, &picker, json!({})).await;
    assert_problem(status, &body, 422, Some("scan"));
    let (status, body) = app
        .post(&scans, &picker, json!({"location_id": 999_999}))
        .await;
    assert_problem(status, &body, 422, Some("location_id"));
    let (status, body) = app.post(&scans, &picker, json!({"data": "DF-A"})).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (StatusCode::OK, Some("location")),
        "{body}"
    );
    let (status, body) = app
        .post(
            &scans,
            &picker,
            json!({"item_id": item, "batch": "D1", "quantity": 2}),
        )
        .await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (StatusCode::OK, Some("confirmed")),
        "{body}"
    );
    let (status, body) = app
        .post(&scans, &picker, json!({"location_id": bins[0]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(&scans, &picker, json!({"barcode": gs1("D1", 30)}))
        .await;
    assert_eq!(
        (status, body["list_remaining"].as_i64()),
        (StatusCode::OK, Some(0)),
        "{body}"
    );

    // A parcel with the default package type and plain dimension names; a shipment with the
    // parcels' warehouse, economy, paid by the sender.
    let (status, parcel) = app
        .post(
            "/v1/parcels",
            &picker,
            json!({"deal_id": deals[0], "dimensions": {"length": 20, "width": 10, "height": 5},
                   "contents": [{"barcode": gs1("D1", 30), "quantity": 3}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{parcel}");
    assert_eq!(
        (
            parcel["package_type"].as_str(),
            parcel["warehouse_id"].as_i64()
        ),
        (Some("box"), Some(wh))
    );
    assert_eq!(parcel["dimensions"]["length_cm"], 20.0);
    let (status, shipment) = app
        .post(
            "/v1/shipments",
            &admin,
            json!({"deal_id": deals[0], "parcels": [parcel["id"]]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shipment}");
    assert_eq!(
        (
            shipment["warehouse_id"].as_i64(),
            shipment["service_level"].as_str(),
            shipment["paid_by"].as_str(),
            shipment["status"].as_str()
        ),
        (Some(wh), Some("economy"), Some("sender"), Some("packed"))
    );
    let sid = shipment["id"].as_i64().unwrap();
    // Dispatched through the status route, as through /dispatch.
    let (status, body) = app
        .post(
            &format!("/v1/shipments/{sid}/status"),
            &admin,
            json!({"status": "dispatched"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "dispatched");
    assert!(body["tracking_number"].is_string(), "{body}");

    // A return against the shipment alone: deal, warehouse and location are the shipment's.
    let (status, ret) = app
        .post(
            "/v1/returns",
            &picker,
            json!({"shipment_id": sid, "lines": [{"item_id": item, "batch": "D1", "quantity": 1,
                   "condition": "good"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ret}");
    assert_eq!(
        (
            ret["deal_id"].as_i64(),
            ret["warehouse_id"].as_i64(),
            ret["location_id"].as_i64()
        ),
        (Some(deals[0]), Some(wh), Some(pack))
    );
    let (status, body) = app
        .post(
            "/v1/returns",
            &picker,
            json!({"lines": [{"item_id": item, "batch": "D1", "quantity": 1, "condition": "good"}]}),
        )
        .await;
    assert_problem(status, &body, 422, Some("deal_id"));
    let (status, body) = app
        .post(
            "/v1/returns",
            &picker,
            json!({"shipment_id": sid, "deal_id": deals[1],
                   "lines": [{"item_id": item, "batch": "D1", "quantity": 1, "condition": "good"}]}),
        )
        .await;
    assert_problem(status, &body, 422, Some("shipment_id"));
    let (_, consistency) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");
}

crate::on_both!(
    what_can_be_worked_out_may_be_left_out,
    racing_pickers_never_pick_more_than_the_line,
    a_short_pick_is_replanned_or_raises_the_shortfall,
    picks_are_checked_by_scan_and_moved_to_packing,
    an_equally_good_batch_is_swapped_in,
);
