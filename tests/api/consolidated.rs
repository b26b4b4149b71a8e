//! Issue 22: one customer's deals ship together (one shipment, one tracking number, one cash on
//! delivery), and every unit stays traced to its own deal: packing, dispatch, the deals'
//! fulfilment views, delivery and returns.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use crate::stock::{GS, date_in, yymmdd};

crate::on_both!(
    three_deals_of_one_customer_ship_together,
    two_deals_packed_by_scan_into_one_parcel,
    deals_that_differ_do_not_ship_together,
    racing_packers_never_overpack_either_deal,
);

fn gs1(batch: &str, days: i64) -> String {
    format!("]C10109506000134352{}{}{GS}10{batch}", "17", yymmdd(days))
}

struct Floor {
    item: i64,
    wh: i64,
    /// Where the goods were received.
    bin: i64,
    customer: i64,
    /// The customer's second (not preferred) address.
    branch: i64,
}

async fn floor(app: &TestApp, units: i64) -> Floor {
    let item = app
        .create_id(
            "/v1/items",
            json!({"code": "YOG", "name": "Yoghurt", "tracking": "batch",
                   "gtins": [{"gtin": "09506000134352", "quantity": 1}]}),
        )
        .await;
    let (wh, bins) = app.warehouse("CS", &[("A", 1), ("PACK", 9)]).await;
    app.receive(
        wh,
        bins[0],
        json!([{"item_id": item, "quantity": units, "batch": "R1", "expiry": date_in(30)}]),
        false,
    )
    .await;
    let customer = app
        .create(
            "/v1/customers",
            json!({"legal_name": "Together GmbH", "addresses": [
                {"line1": "Marktplatz 5", "city": "München", "postal_code": "80331",
                 "country": "DE", "preferred_shipping": true},
                {"line1": "Hafen 1", "city": "Hamburg", "postal_code": "20457", "country": "DE"}
            ]}),
        )
        .await;
    let branch = customer["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["city"] == "Hamburg")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    Floor {
        item,
        wh,
        bin: bins[0],
        customer: customer["id"].as_i64().unwrap(),
        branch,
    }
}

/// A won deal of `customer` for `quantity` units at 100 each, reserved in `wh`.
async fn deal(
    app: &TestApp,
    customer: i64,
    item: i64,
    quantity: i64,
    wh: i64,
    extra: Value,
) -> i64 {
    let mut body = json!({"customer_id": customer, "title": format!("Order of {quantity}"),
                          "status": "won",
                          "lines": [{"item_id": item, "quantity": quantity, "unit_price": 100}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let id = app.create_id("/v1/deals", body).await;
    let (status, r) = app
        .post(
            &format!("/v1/deals/{id}/reserve"),
            &app.admin_token,
            json!({"warehouse_id": wh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    id
}

/// Each deal's one line has shipped `quantity` (net of returns), and the ledger is consistent.
async fn shipped_and_consistent(app: &TestApp, shipped: &[(i64, i64)]) {
    for (deal, quantity) in shipped {
        let (_, view) = app
            .get(&format!("/v1/deals/{deal}/fulfilment"), &app.admin_token)
            .await;
        assert_eq!(view["lines"][0]["shipped"], *quantity, "{view}");
    }
    let (_, consistency) = app.get("/v1/admin/consistency", &app.admin_token).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");
}

/// Units per deal in a shipment's parcels.
fn packed_per_deal(shipment: &Value) -> HashMap<i64, i64> {
    let mut out = HashMap::new();
    for p in shipment["parcels"].as_array().unwrap() {
        for c in p["contents"].as_array().unwrap() {
            *out.entry(c["deal_id"].as_i64().unwrap()).or_default() +=
                c["quantity"].as_i64().unwrap();
        }
    }
    out
}

async fn three_deals_of_one_customer_ship_together(app: TestApp) {
    let admin = app.admin_token.clone();
    let (_, packer) = app.user("packer", "warehouse", None).await;
    let f = floor(&app, 30).await;
    let d1 = deal(
        &app,
        f.customer,
        f.item,
        4,
        f.wh,
        json!({"customer_reference": "PO-1"}),
    )
    .await;
    let d2 = deal(&app, f.customer, f.item, 5, f.wh, json!({})).await;
    let d3 = deal(&app, f.customer, f.item, 6, f.wh, json!({})).await;

    // One shipment for the three, cash on delivery of what each deal is worth.
    let (status, shipment) = app
        .post(
            "/v1/shipments",
            &admin,
            json!({"deal_ids": [d1, d2, d3], "warehouse_id": f.wh, "cash_on_delivery": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shipment}");
    let sid = shipment["id"].as_i64().unwrap();
    assert_eq!(shipment["deal_id"], d1);
    assert_eq!(shipment["deal_ids"], json!([d1, d2, d3]));
    assert_eq!(shipment["cod_amount"], 1500);
    assert_eq!(
        shipment["cod_shares"],
        json!([{"deal_id": d1, "cod_amount": 400}, {"deal_id": d2, "cod_amount": 500},
               {"deal_id": d3, "cod_amount": 600}])
    );
    assert!(
        shipment["ship_to"]["address"]
            .as_str()
            .unwrap()
            .contains("München")
    );

    // Packing by scan across deals: 7 units fill deal 1 (4) and go on to deal 2 (3).
    let (status, first) = app
        .post(
            "/v1/parcels",
            &packer,
            json!({"shipment_id": sid, "contents": [{"scan": gs1("R1", 30), "quantity": 7}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["deal_ids"], json!([d1, d2]), "{first}");
    // A line naming its deal, and one more than deal 3 holds is refused.
    let (status, body) = app
        .post(
            "/v1/parcels",
            &packer,
            json!({"shipment_id": sid, "contents": [
                {"item_id": f.item, "batch": "R1", "quantity": 2, "deal_id": d2},
                {"item_id": f.item, "batch": "R1", "quantity": 7}]}),
        )
        .await;
    assert_problem(status, &body, 422, Some("contents[1].quantity"));
    let (status, body) = app
        .post(
            "/v1/parcels",
            &packer,
            json!({"shipment_id": sid, "contents": [
                {"item_id": f.item, "batch": "R1", "quantity": 1, "deal_id": 999_999}]}),
        )
        .await;
    assert_problem(status, &body, 422, Some("contents[0].deal_id"));
    let (status, second) = app
        .post(
            "/v1/parcels",
            &packer,
            json!({"shipment_id": sid, "contents": [
                {"item_id": f.item, "batch": "R1", "quantity": 2, "deal_id": d2}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let (status, second) = app
        .post(
            &format!("/v1/parcels/{}/contents", second["id"]),
            &packer,
            json!({"contents": [{"scan": gs1("R1", 30), "quantity": 6}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["deal_ids"], json!([d2, d3]), "{second}");

    // Dispatch: one tracking number, each unit's ship movement against its own deal.
    let (status, dispatched) = app
        .post(&format!("/v1/shipments/{sid}/dispatch"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{dispatched}");
    let mut shipped: HashMap<i64, i64> = HashMap::new();
    for m in dispatched["movements"].as_array().unwrap() {
        assert_eq!(m["kind"], "ship", "{m}");
        *shipped.entry(m["deal_id"].as_i64().unwrap()).or_default() -=
            m["quantity"].as_i64().unwrap();
    }
    assert_eq!(shipped, HashMap::from([(d1, 4), (d2, 5), (d3, 6)]));
    assert_eq!(
        packed_per_deal(&dispatched["shipment"]),
        HashMap::from([(d1, 4), (d2, 5), (d3, 6)])
    );

    // Each deal's view: the shared shipment, only its own lines and its share of the cash.
    for (deal, quantity, cod) in [(d1, 4, 400), (d2, 5, 500), (d3, 6, 600)] {
        let (status, view) = app
            .get(&format!("/v1/deals/{deal}/fulfilment"), &admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(view["lines"][0]["shipped"], quantity, "{view}");
        assert_eq!(view["lines"][0]["reserved"], 0, "{view}");
        let shipments = view["shipments"].as_array().unwrap();
        assert_eq!(shipments.len(), 1, "{view}");
        assert_eq!(shipments[0]["id"], sid);
        assert_eq!(
            packed_per_deal(&shipments[0]),
            HashMap::from([(deal, quantity)])
        );
        assert_eq!(
            shipments[0]["cod_shares"],
            json!([{"deal_id": deal, "cod_amount": cod}])
        );
        assert!(
            view["documents"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["type"] == "shipment" && d["id"] == sid),
            "{view}"
        );
    }

    // The delivery note groups the lines by deal.
    let (status, content_type, pdf) = app
        .download(&format!("/v1/shipments/{sid}/delivery-note"), &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/pdf"));
    assert!(pdf.starts_with(b"%PDF"));
    let note = depot::shipping::delivery_note_data(&app.state.db, sid)
        .await
        .unwrap();
    let deals: Vec<&str> = note["deals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["reference"].as_str().unwrap())
        .collect();
    assert_eq!(
        deals,
        [d1, d2, d3]
            .map(|d| format!("DPT-DEAL-{d}"))
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert_eq!(note["deals"][0]["customer_reference"], "PO-1");

    // Delivered: the cash is collected once, every deal is complete.
    let (status, delivered) = app
        .post(
            &format!("/v1/shipments/{sid}/status"),
            &admin,
            json!({"status": "delivered"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{delivered}");
    assert!(delivered["cod_collected_at"].is_string());
    for deal in [d1, d2, d3] {
        let (_, view) = app
            .get(&format!("/v1/deals/{deal}/fulfilment"), &admin)
            .await;
        assert_eq!(view["complete"], true, "{view}");
        assert_eq!(view["lines"][0]["delivered"], view["lines"][0]["requested"]);
    }

    // A return against it: three deals shipped that batch, so the line names its deal.
    let line = json!({"item_id": f.item, "batch": "R1", "quantity": 1, "condition": "good"});
    let (status, body) = app
        .post(
            "/v1/returns",
            &admin,
            json!({"shipment_id": sid, "lines": [line.clone()]}),
        )
        .await;
    assert_problem(status, &body, 422, Some("lines[0].deal_id"));
    let mut named = line.clone();
    named["deal_id"] = json!(d3);
    let (status, ret) = app
        .post(
            "/v1/returns",
            &admin,
            json!({"shipment_id": sid, "lines": [named]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ret}");
    assert_eq!(ret["deal_ids"], json!([d3]), "{ret}");
    assert_eq!(ret["movements"][0]["deal_id"], d3);
    shipped_and_consistent(&app, &[(d3, 5), (d2, 5)]).await;
}

/// Two deals of one customer, each reserved a batch of its own, packed by scan into one parcel,
/// dispatched, delivered; a returned line is booked against the one deal that shipped its
/// batch without naming it, and the return note shows that deal.
async fn two_deals_packed_by_scan_into_one_parcel(app: TestApp) {
    let admin = app.admin_token.clone();
    let (_, packer) = app.user("packer", "warehouse", None).await;
    // 4 units of R1 (expiring first) for the first deal, then 5 of R2 for the second.
    let f = floor(&app, 4).await;
    let d1 = deal(&app, f.customer, f.item, 4, f.wh, json!({})).await;
    app.receive(
        f.wh,
        f.bin,
        json!([{"item_id": f.item, "quantity": 5, "batch": "R2", "expiry": date_in(60)}]),
        false,
    )
    .await;
    let d2 = deal(&app, f.customer, f.item, 5, f.wh, json!({})).await;

    let (status, shipment) = app
        .post(
            "/v1/shipments",
            &admin,
            json!({"deal_ids": [d1, d2], "warehouse_id": f.wh}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{shipment}");
    let sid = shipment["id"].as_i64().unwrap();
    // One parcel, two scans: each batch goes to the deal that holds it.
    let (status, parcel) = app
        .post(
            "/v1/parcels",
            &packer,
            json!({"shipment_id": sid, "contents": [
                {"scan": gs1("R2", 60), "quantity": 5},
                {"scan": gs1("R1", 30), "quantity": 4}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{parcel}");
    assert_eq!(parcel["deal_ids"], json!([d1, d2]), "{parcel}");
    for c in parcel["contents"].as_array().unwrap() {
        let want = if c["quantity"] == 4 { d1 } else { d2 };
        assert_eq!(c["deal_id"], want, "{parcel}");
    }
    // Nothing of either deal is left to pack.
    let (status, body) = app
        .post(
            &format!("/v1/parcels/{}/contents", parcel["id"]),
            &packer,
            json!({"contents": [{"scan": gs1("R1", 30), "quantity": 1}]}),
        )
        .await;
    assert!(status.is_client_error(), "{status} {body}");

    let (status, dispatched) = app
        .post(&format!("/v1/shipments/{sid}/dispatch"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{dispatched}");
    assert_eq!(dispatched["shipment"]["status"], "dispatched");
    assert!(dispatched["shipment"]["tracking_number"].is_string());
    let (_, again) = app.get(&format!("/v1/shipments/{sid}"), &admin).await;
    assert_eq!(
        again, dispatched["shipment"],
        "the dispatch answers the shipment as read back"
    );
    let (status, delivered) = app
        .post(
            &format!("/v1/shipments/{sid}/status"),
            &admin,
            json!({"status": "delivered"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{delivered}");
    for deal in [d1, d2] {
        let (_, view) = app
            .get(&format!("/v1/deals/{deal}/fulfilment"), &admin)
            .await;
        assert_eq!(view["complete"], true, "{view}");
    }

    // R2 went to the second deal only and R1 to the first: the lines need no deal, and the
    // return note shows each line's.
    let (status, ret) = app
        .post(
            "/v1/returns",
            &admin,
            json!({"shipment_id": sid, "lines": [
                {"item_id": f.item, "batch": "R2", "quantity": 2, "condition": "damaged",
                 "reason": "crushed"},
                {"item_id": f.item, "batch": "R1", "quantity": 1, "condition": "good"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ret}");
    assert_eq!(ret["deal_ids"], json!([d1, d2]), "{ret}");
    assert_eq!(ret["movements"][0]["deal_id"], d2, "{ret}");
    let response = app
        .client
        .get(app.url(&format!("/v1/returns/{}/document", ret["id"])))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (text, _) = crate::returns::pdf_text_and_code(&response.bytes().await.unwrap());
    for deal in [d1, d2] {
        assert!(
            text.contains(&format!("DPT-DEAL-{deal}")),
            "deal {deal} missing from the return note:\n{text}"
        );
    }
    shipped_and_consistent(&app, &[(d2, 3), (d1, 3)]).await;
}

async fn deals_that_differ_do_not_ship_together(app: TestApp) {
    let admin = app.admin_token.clone();
    let f = floor(&app, 30).await;
    let a1 = deal(&app, f.customer, f.item, 2, f.wh, json!({})).await;
    let a2 = deal(&app, f.customer, f.item, 3, f.wh, json!({})).await;
    let other = app
        .create_id(
            "/v1/customers",
            json!({"legal_name": "Someone Else", "addresses": [
                {"line1": "Weg 1", "city": "Berlin", "country": "DE", "preferred_shipping": true}]}),
        )
        .await;
    let b1 = deal(&app, other, f.item, 1, f.wh, json!({})).await;
    let (wh2, _) = app.warehouse("W2", &[("A", 1)]).await;
    let elsewhere = deal(&app, f.customer, f.item, 1, wh2, json!({})).await;
    let branch = deal(
        &app,
        f.customer,
        f.item,
        1,
        f.wh,
        json!({"ship_to_address_id": f.branch}),
    )
    .await;
    for (deals, field) in [
        (json!([a1, b1]), "deal_ids[1]"),
        (json!([a1, a2, elsewhere]), "deal_ids[2]"),
        (json!([a1, branch]), "deal_ids[1]"),
        (json!([a1, a1]), "deal_ids[1]"),
        (json!([a1, 999_999]), "deal_ids[1]"),
    ] {
        let (status, body) = app
            .post(
                "/v1/shipments",
                &admin,
                json!({"deal_ids": deals, "warehouse_id": f.wh}),
            )
            .await;
        assert_problem(status, &body, 422, Some(field));
    }
    // The branch deal alone goes to its own address.
    let (status, alone) = app
        .post("/v1/shipments", &admin, json!({"deal_id": branch}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{alone}");
    assert!(
        alone["ship_to"]["address"]
            .as_str()
            .unwrap()
            .contains("Hamburg")
    );
    assert_eq!(alone["deal_ids"], json!([branch]));

    // Nothing packed yet: no deal of the customer is ready.
    let ready = json!({"customer_id": f.customer, "ready": true, "warehouse_id": f.wh});
    let (status, body) = app.post("/v1/shipments", &admin, ready.clone()).await;
    assert_problem(status, &body, 422, Some("customer_id"));
    // Two deals packed in full (each in its own parcel): the ready shipment takes both, with
    // their parcels, and a total cash on delivery shared by the deals' values.
    let mut parcels = Vec::new();
    for (deal, quantity) in [(a1, 2), (a2, 3)] {
        parcels.push(
            app.create_id(
                "/v1/parcels",
                json!({"deal_id": deal, "warehouse_id": f.wh, "contents": [
                    {"item_id": f.item, "batch": "R1", "quantity": quantity}]}),
            )
            .await,
        );
    }
    let mut body = ready.clone();
    body["cod_amount"] = json!(1000);
    let (status, shipment) = app.post("/v1/shipments", &admin, body).await;
    assert_eq!(status, StatusCode::CREATED, "{shipment}");
    assert_eq!(shipment["deal_ids"], json!([a1, a2]), "{shipment}");
    assert_eq!(shipment["status"], "packed");
    let ids: Vec<i64> = shipment["parcels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, parcels);
    assert_eq!(
        shipment["cod_shares"],
        json!([{"deal_id": a1, "cod_amount": 400}, {"deal_id": a2, "cod_amount": 600}])
    );
    let sid = shipment["id"].as_i64().unwrap();
    let (status, dispatched) = app
        .post(&format!("/v1/shipments/{sid}/dispatch"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{dispatched}");
    // Returning one deal's goods: only a2 shipped 3, so a line of 3 is a2's... both shipped the
    // batch, so it must be named; named, it is booked against that deal only.
    let (status, ret) = app
        .post(
            "/v1/returns",
            &admin,
            json!({"shipment_id": sid, "lines": [{"deal_id": a2, "item_id": f.item,
                   "batch": "R1", "quantity": 3, "condition": "damaged", "reason": "wet"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{ret}");
    let (status, body) = app
        .post(
            "/v1/returns",
            &admin,
            json!({"shipment_id": sid, "lines": [{"deal_id": a2, "item_id": f.item,
                   "batch": "R1", "quantity": 1, "condition": "good"}]}),
        )
        .await;
    assert_problem(status, &body, 422, Some("lines[0].quantity"));
    let (_, consistency) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");
}

/// Packers racing for the goods of two deals of one shipment: each deal's reserved units are
/// packed at most once, whichever parcel they went to.
async fn racing_packers_never_overpack_either_deal(app: TestApp) {
    let admin = app.admin_token.clone();
    let (_, packer) = app.user("packer", "warehouse", None).await;
    let f = floor(&app, 30).await;
    let d1 = deal(&app, f.customer, f.item, 3, f.wh, json!({})).await;
    let d2 = deal(&app, f.customer, f.item, 3, f.wh, json!({})).await;
    let sid = app
        .create_id(
            "/v1/shipments",
            json!({"deal_ids": [d1, d2], "warehouse_id": f.wh}),
        )
        .await;
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let body = json!({"shipment_id": sid,
                              "contents": [{"item_id": f.item, "batch": "R1", "quantity": 2}]});
            app.post_racing("/v1/parcels", &packer, body)
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
    // A loser was told to scan again (its deal's goods went to another parcel meanwhile); the
    // packers go on one by one until every unit of both deals is packed, never more.
    assert!((1..=3).contains(&packed), "{packed}");
    loop {
        let (status, body) = app
            .post(
                "/v1/parcels",
                &packer,
                json!({"shipment_id": sid,
                       "contents": [{"item_id": f.item, "batch": "R1", "quantity": 2}]}),
            )
            .await;
        if status != StatusCode::CREATED {
            assert_problem(status, &body, 422, Some("contents[0].quantity"));
            break;
        }
        packed += 1;
    }
    assert_eq!(packed, 3);
    let (_, shipment) = app.get(&format!("/v1/shipments/{sid}"), &admin).await;
    assert_eq!(
        packed_per_deal(&shipment),
        HashMap::from([(d1, 3), (d2, 3)]),
        "{shipment}"
    );
    let (status, dispatched) = app
        .post(&format!("/v1/shipments/{sid}/dispatch"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{dispatched}");
    let (_, consistency) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");
}
