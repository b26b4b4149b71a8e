//! The sales flow of the brief, end to end through the HTTP API: a lead becomes a won deal,
//! reserved partly from stock and partly by a production order that is completed; the goods
//! are picked by scan (with a wrong-batch and an expired-batch refusal), packed into parcels
//! with SSCCs, shipped cash on delivery, delivered and one damaged unit returned. The ledger
//! check passes and the deal's fulfilment view tells the whole story, documents included.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use crate::labels::pdf_codes;
use crate::stock::{date_in, yymmdd};

const GTIN: &str = "09506000134352";

fn gs1(batch: &str, days: i64) -> String {
    format!("]C101{GTIN}17{}10{batch}", yymmdd(days))
}

async fn lead_to_delivered_and_returned(app: TestApp) {
    let admin = app.admin_token.clone();
    let (rep_id, rep) = app.user("rita", "rep", None).await;
    let (_, other_rep) = app.user("otto", "rep", None).await;
    let (_, keeper) = app.user("kurt", "warehouse", None).await;

    // Catalogue: cream is made from milk; one warehouse with two bins and packing.
    let milk = app
        .create(
            "/v1/items",
            json!({"code": "MILK", "name": "Milk", "source": "purchased"}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let cream = app
        .create(
            "/v1/items",
            json!({"code": "CREAM", "name": "Cream 250 ml", "tracking": "batch",
                   "source": "manufactured", "lead_time_days": 1,
                   "gtins": [{"gtin": GTIN, "quantity": 1}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let (status, bom) = app
        .send(
            Method::PUT,
            &format!("/v1/items/{cream}/bom"),
            Some(&admin),
            Some(json!({"lines": [{"component_item_id": milk, "quantity": 1}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{bom}");
    let (wh, bins) = app
        .warehouse("SF", &[("A", 1), ("B", 2), ("PACK", 9)])
        .await;
    let (a, b, pack) = (bins[0], bins[1], bins[2]);
    let receive = |lines: Value, quarantine: bool| app.receive(wh, a, lines, quarantine);
    // C3 (late expiry) arrives first and goes to an earlier customer's deal.
    receive(
        json!([{"item_id": cream, "quantity": 4, "batch": "C3", "expiry": date_in(90)},
               {"item_id": milk, "quantity": 10}]),
        false,
    )
    .await;
    let earlier = app
        .create("/v1/customers", json!({"legal_name": "Earlier GmbH"}))
        .await["id"]
        .as_i64()
        .unwrap();
    let earlier_deal = app
        .create(
            "/v1/deals",
            json!({"customer_id": earlier, "title": "Earlier",
                   "lines": [{"item_id": cream, "quantity": 4}]}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let (status, body) = app
        .post(
            &format!("/v1/deals/{earlier_deal}/reserve"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    receive(
        json!([{"item_id": cream, "quantity": 5, "batch": "C1", "expiry": date_in(30)}]),
        false,
    )
    .await;
    receive(
        json!([{"item_id": cream, "quantity": 2, "batch": "OLD", "expiry": date_in(-1)}]),
        true,
    )
    .await;

    // Lead → customer and deal (the rep's), with a shipping address; then won.
    let (status, lead) = app
        .post(
            "/v1/leads",
            &rep,
            json!({"name": "Café Sahne", "phone": "+49 30 1234567", "email": "info@sahne.example"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{lead}");
    let (status, converted) = app
        .post(
            &format!("/v1/leads/{}/convert", lead["id"]),
            &rep,
            json!({"legal_name": "Café Sahne GmbH", "title": "Cream for the summer",
                   "stage": "sale_from_stock",
                   "lines": [{"item_id": cream, "quantity": 8, "unit_price": 250}]}),
        )
        .await;
    assert!(status.is_success(), "{converted}");
    let deal = converted["deal"]["id"].as_i64().unwrap();
    let customer = converted["customer"]["id"].as_i64().unwrap();
    assert_eq!(converted["deal"]["owner_id"], rep_id);
    let (status, body) = app
        .patch(
            &format!("/v1/customers/{customer}"),
            &rep,
            json!({"addresses": [{"line1": "Sahnegasse 1", "city": "Berlin", "postal_code": "10117",
                                  "country": "DE", "preferred_shipping": true}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .patch(&format!("/v1/deals/{deal}"), &rep, json!({"status": "won"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Winning reserved 5 of C1 (C3 is the earlier deal's) and ordered 3 from production.
    let (status, r) = app
        .post(&format!("/v1/deals/{deal}/reserve"), &rep, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        (
            r["lines"][0]["reserved"].as_i64(),
            r["lines"][0]["shortfall"].as_i64()
        ),
        (Some(5), Some(3)),
        "{r}"
    );
    let order = r["lines"][0]["production_order_id"]
        .as_i64()
        .expect("a production order");
    for (path, body) in [
        ("status", json!({"status": "released"})),
        (
            "complete",
            json!({"quantity": 3, "location_id": b, "batch": "P1", "expiry": date_in(60),
                   "certificate": "QC-2026-118"}),
        ),
    ] {
        let (status, answer) = app
            .post(
                &format!("/v1/production-orders/{order}/{path}"),
                &keeper,
                body,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (_, f) = app.get(&format!("/v1/deals/{deal}/fulfilment"), &rep).await;
    assert_eq!(f["lines"][0]["reserved"], 8, "{f}");

    // Pick list in route order: C1 at A, then the production batch P1 at B.
    let (status, list) = app
        .post(
            "/v1/pick-lists",
            &keeper,
            json!({"deal_ids": [deal], "warehouse_id": wh, "packing_location_id": pack}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{list}");
    let pick_list = list["id"].as_i64().unwrap();
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
    assert_eq!(route, vec![("A", "C1", 5), ("B", "P1", 3)]);
    let scan = |body: Value| {
        let (app, keeper) = (&app, keeper.clone());
        async move {
            let (status, answer) = app
                .post(
                    &format!("/v1/pick-lists/{pick_list}/scans"),
                    &keeper,
                    body.clone(),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}: {answer}");
            answer
        }
    };
    assert_eq!(scan(json!({"scan": "SF-A"})).await["outcome"], "location");
    let wrong = scan(json!({"scan": gs1("C3", 90)})).await;
    assert_eq!(
        (wrong["outcome"].as_str(), wrong["reason"].as_str()),
        (Some("refused"), Some("wrong_batch")),
        "{wrong}"
    );
    let expired = scan(json!({"scan": gs1("OLD", -1)})).await;
    assert_eq!(
        (expired["outcome"].as_str(), expired["reason"].as_str()),
        (Some("refused"), Some("expired")),
        "{expired}"
    );
    let ok = scan(json!({"scan": gs1("C1", 30), "quantity": 5})).await;
    assert_eq!(ok["outcome"], "confirmed", "{ok}");
    assert_eq!(scan(json!({"scan": "SF-B"})).await["outcome"], "location");
    let ok = scan(json!({"scan": gs1("P1", 60), "quantity": 3})).await;
    assert_eq!(ok["outcome"], "confirmed", "{ok}");
    assert_eq!(ok["list_remaining"], 0);
    let (_, f) = app.get(&format!("/v1/deals/{deal}/fulfilment"), &rep).await;
    assert_eq!(f["lines"][0]["picked"], 8, "{f}");

    // Packing by scan: the first box with the C1 cream, then a COD shipment to the preferred
    // address, then a second box packed straight into it, filled scan by scan.
    let (status, first) = app
        .post(
            "/v1/parcels",
            &keeper,
            json!({"deal_id": deal, "warehouse_id": wh, "package_type": "box",
                   "weight_kg": 1.5, "dimensions": {"length_cm": 30, "width_cm": 20, "height_cm": 15},
                   "contents": [{"scan": gs1("C1", 30), "quantity": 5}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["contents"][0]["quantity"], 5, "{first}");
    let (status, shipment) = app
        .post(
            "/v1/shipments",
            &keeper,
            json!({"deal_id": deal, "warehouse_id": wh, "service_level": "express",
                   "cod_amount": 2000, "paid_by": "recipient", "parcel_ids": [first["id"]]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shipment}");
    let sid = shipment["id"].as_i64().unwrap();
    assert_eq!(shipment["status"], "packed");
    assert_eq!(shipment["ship_to"]["name"], "Café Sahne GmbH");
    assert!(
        shipment["ship_to"]["address"]
            .as_str()
            .unwrap()
            .contains("Sahnegasse 1")
    );
    let (status, second) = app
        .post(
            "/v1/parcels",
            &keeper,
            json!({"shipment_id": sid, "package_type": "box", "weight_kg": 1.0}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["shipment_id"], sid);
    let contents = format!("/v1/parcels/{}/contents", second["id"]);
    let (status, body) = app
        .post(
            &contents,
            &keeper,
            json!({"contents": [{"scan": gs1("C1", 30)}]}),
        )
        .await;
    assert_problem(status, &body, 422, Some("contents[0].quantity"));
    let (status, body) = app
        .post(
            &contents,
            &keeper,
            json!({"contents": [{"scan": "]C10109506000134353"}]}),
        )
        .await;
    assert_problem(status, &body, 422, Some("contents[0].scan"));
    let (status, body) = app
        .post(&contents, &keeper, json!({"contents": [{"scan": "SF-A"}]}))
        .await;
    assert_problem(status, &body, 422, Some("contents[0].scan"));
    for (scan, packs) in [(gs1("P1", 60), 1), (gs1("P1", 60), 2)] {
        let (status, body) = app
            .post(
                &contents,
                &keeper,
                json!({"contents": [{"scan": scan, "quantity": packs}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, second) = app
        .get(&format!("/v1/parcels/{}", second["id"]), &keeper)
        .await;
    assert_eq!(second["contents"][0]["quantity"], 3, "{second}");
    let parcels = [first, second];
    let ssccs: Vec<String> = parcels
        .iter()
        .map(|p| p["sscc"].as_str().unwrap().to_string())
        .collect();
    assert!(
        ssccs
            .iter()
            .all(|s| s.len() == 18 && s[1..].starts_with("0614141")),
        "{ssccs:?}"
    );
    assert_ne!(ssccs[0], ssccs[1]);
    let (_, shipment) = app.get(&format!("/v1/shipments/{sid}"), &keeper).await;
    assert_eq!(
        shipment["parcels"].as_array().unwrap().len(),
        2,
        "{shipment}"
    );

    // Each parcel's label, downloaded from the deal, scans back to its SSCC.
    for (parcel, sscc) in parcels.iter().zip(&ssccs) {
        let pdf = download(
            &app,
            &rep,
            &format!("/v1/deals/{deal}/documents/parcel_label/{}", parcel["id"]),
        )
        .await;
        let codes = pdf_codes(&pdf);
        assert!(
            codes.contains(&format!("00{sscc}")),
            "{codes:?} lacks {sscc}"
        );
    }

    // Dispatched: the goods leave, the reservations are consumed.
    let (status, dispatched) = app
        .post(&format!("/v1/shipments/{sid}/dispatch"), &keeper, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{dispatched}");
    let tracking = dispatched["shipment"]["tracking_number"]
        .as_str()
        .unwrap()
        .to_string();
    let shipped: i64 = dispatched["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["quantity"].as_i64().unwrap())
        .sum();
    assert_eq!(shipped, -8);
    // Reserving again after shipping orders and reserves nothing more.
    let (status, r) = app
        .post(&format!("/v1/deals/{deal}/reserve"), &rep, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(
        (
            r["lines"][0]["reserved"].as_i64(),
            r["lines"][0]["shortfall"].as_i64()
        ),
        (Some(0), Some(0)),
        "{r}"
    );

    // The carrier reports it on its way, then delivered: COD collected, the deal moves on.
    for status in ["in_transit", "delivered"] {
        let (code, body) = app
            .post(
                "/v1/carriers/own_fleet/webhook",
                &admin,
                json!({"tracking_number": tracking, "status": status}),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }
    let (_, deal_now) = app.get(&format!("/v1/deals/{deal}"), &rep).await;
    assert_eq!(deal_now["stage"], "commissioning", "{deal_now}");

    // One unit arrives crushed: returned against the shipment and written off.
    let (status, ret) = app
        .post(
            "/v1/returns",
            &keeper,
            json!({"deal_id": deal, "shipment_id": sid, "warehouse_id": wh, "location_id": a,
                   "lines": [{"item_id": cream, "batch": "C1", "quantity": 1,
                              "condition": "damaged", "reason": "crushed in transit"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ret}");
    let return_id = ret["id"].as_i64().unwrap();

    // The ledger agrees with the balances and reservations.
    let (_, consistency) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");

    // The rep's view tells the story.
    let (status, f) = app.get(&format!("/v1/deals/{deal}/fulfilment"), &rep).await;
    assert_eq!(status, StatusCode::OK, "{f}");
    let line = &f["lines"][0];
    assert_eq!(
        (
            line["requested"].as_i64(),
            line["reserved"].as_i64(),
            line["shipped"].as_i64(),
            line["delivered"].as_i64()
        ),
        (Some(8), Some(0), Some(7), Some(8)),
        "{f}"
    );
    assert_eq!(f["complete"], true);
    assert_eq!(f["stage"], "commissioning");
    let shipment = &f["shipments"][0];
    assert_eq!(shipment["status"], "delivered");
    assert_eq!(shipment["cod_amount"], 2000);
    assert!(shipment["cod_collected_at"].is_string(), "{shipment}");
    let events: Vec<(&str, &str)> = shipment["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["status"].as_str().unwrap(), e["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        vec![
            ("packed", "api"),
            ("dispatched", "api"),
            ("in_transit", "carrier"),
            ("delivered", "carrier")
        ]
    );
    let kinds: std::collections::BTreeSet<&str> = f["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    for kind in ["pick", "ship", "return", "write_off"] {
        assert!(kinds.contains(kind), "no {kind} movement in {kinds:?}");
    }
    let documents: Vec<(String, i64)> = f["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["type"].as_str().unwrap().to_string(),
                d["id"].as_i64().unwrap(),
            )
        })
        .collect();
    for expected in [
        ("production_order".to_string(), order),
        ("pick_list".into(), pick_list),
        ("parcel".into(), parcels[0]["id"].as_i64().unwrap()),
        ("parcel".into(), parcels[1]["id"].as_i64().unwrap()),
        ("shipment".into(), sid),
        ("return".into(), return_id),
    ] {
        assert!(
            documents.contains(&expected),
            "{expected:?} not in {documents:?}"
        );
    }

    // Every document downloads from the deal, as a PDF with its own code on it.
    let (status, listed) = app.get(&format!("/v1/deals/{deal}/documents"), &rep).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed, f["documents"]);
    let mut names = Vec::new();
    for d in listed.as_array().unwrap() {
        for link in d["downloads"].as_array().unwrap() {
            let pdf = download(&app, &rep, link["url"].as_str().unwrap()).await;
            assert!(pdf.starts_with(b"%PDF"), "{link}");
            names.push(link["name"].as_str().unwrap().to_string());
        }
    }
    names.sort();
    assert_eq!(
        names,
        vec![
            "delivery_note",
            "parcel_label",
            "parcel_label",
            "pick_list",
            "return_note",
            "shipping_labels"
        ]
    );
    let note = download(
        &app,
        &rep,
        &format!("/v1/deals/{deal}/documents/return_note/{return_id}"),
    )
    .await;
    assert!(pdf_codes(&note).contains(&format!("DPT-RET-{return_id}")));
    let note = download(
        &app,
        &rep,
        &format!("/v1/deals/{deal}/documents/delivery_note/{sid}"),
    )
    .await;
    assert!(pdf_codes(&note).contains(&format!("DPT-DEAL-{deal}")));

    // Another rep sees none of it; a record of no deal of ours is not found.
    let (status, body) = app
        .get(&format!("/v1/deals/{deal}/documents"), &other_rep)
        .await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app
        .get(
            &format!("/v1/deals/{deal}/documents/parcel_label/999999"),
            &rep,
        )
        .await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app
        .get(
            &format!("/v1/deals/{earlier_deal}/documents/delivery_note/{sid}"),
            &admin,
        )
        .await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app
        .get(&format!("/v1/deals/{deal}/documents/invoice/{sid}"), &rep)
        .await;
    assert_problem(status, &body, 404, None);
}

/// GETs a document and returns its bytes (asserting 200).
async fn download(app: &TestApp, token: &str, path: &str) -> Vec<u8> {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = response.bytes().await.unwrap().to_vec();
    app.check_bytes("GET", path, None, status, content_type.as_deref(), &bytes);
    assert_eq!(
        status,
        StatusCode::OK,
        "{path}: {}",
        String::from_utf8_lossy(&bytes)
    );
    bytes
}

crate::on_both!(lead_to_delivered_and_returned);
