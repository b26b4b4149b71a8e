//! Garbage sent to the pick, pack and ship routes: every answer is a 4xx problem (or a
//! success), never a 5xx, whatever the body, the path or the query holds.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn garbage_never_gets_a_server_error(app: TestApp) {
    let token = app.admin_token.clone();
    // Real records behind the paths, so that garbage reaches past the lookups too.
    let item = app
        .create_id(
            "/v1/items",
            json!({"code": "G", "name": "G", "tracking": "batch",
                   "gtins": [{"gtin": "09506000134352", "quantity": 1}]}),
        )
        .await;
    let (wh, bins) = app.warehouse("GB", &[("A", 1)]).await;
    app.receive(
        wh,
        bins[0],
        json!([{"item_id": item, "quantity": 5, "batch": "G1", "expiry": "2099-01-01"}]),
        false,
    )
    .await;
    let customer = app
        .create_id(
            "/v1/customers",
            json!({"legal_name": "Garbage AG", "addresses": [
            {"line1": "Müllweg 1", "city": "Bonn", "country": "DE"}]}),
        )
        .await;
    let deal = app
        .create_id(
            "/v1/deals",
            json!({"customer_id": customer, "title": "G", "lines": [{"item_id": item, "quantity": 4}]}),
        )
        .await;
    let (_, reserved) = app
        .post(&format!("/v1/deals/{deal}/reserve"), &token, json!({}))
        .await;
    assert_eq!(reserved["lines"][0]["reserved"], 4, "{reserved}");
    let list = app
        .create_id("/v1/pick-lists", json!({"deal_ids": [deal]}))
        .await;
    for body in [
        json!({"location_id": bins[0]}),
        json!({"item_id": item, "batch": "G1", "quantity": 2}),
    ] {
        let (_, picked) = app
            .post(&format!("/v1/pick-lists/{list}/scans"), &token, body)
            .await;
        assert_ne!(picked["outcome"], "refused", "{picked}");
    }
    let parcel = app
        .create_id(
            "/v1/parcels",
            json!({"deal_id": deal, "contents": [{"item_id": item, "batch": "G1", "quantity": 1}]}),
        )
        .await;
    let shipment = app
        .create_id(
            "/v1/shipments",
            json!({"deal_id": deal, "parcel_ids": [parcel]}),
        )
        .await;
    let real = |path: &str| {
        path.replace("{list}", &list.to_string())
            .replace("{parcel}", &parcel.to_string())
            .replace("{shipment}", &shipment.to_string())
            .replace("{deal}", &deal.to_string())
    };
    let bodies: Vec<Value> = vec![
        json!([]),
        json!("scan"),
        json!(42),
        json!(null),
        json!({"deal_ids": "x", "warehouse_id": "w", "packing_location_id": [1]}),
        json!({"deal_ids": [], "scan": 5, "quantity": "two"}),
        json!({"deal_id": -1, "warehouse_id": -1, "line_id": -1, "found": -1, "quantity": -1,
               "contents": [{"scan": "", "quantity": 0}], "parcel_ids": [-1], "status": "nope"}),
        json!({"deal_id": i64::MAX, "shipment_id": i64::MAX, "quantity": i64::MAX,
               "found": i64::MAX, "weight_kg": 1e308, "cod_amount": i64::MIN,
               "contents": [{"item_id": i64::MAX, "quantity": i64::MAX}],
               "dimensions": {"length": -1, "width": "x", "height": 1e308}}),
        json!({"scan": "]C10109506000134352\u{1d}\u{1d}10", "location_id": 0, "item_id": 0,
               "batch": "\u{0}", "lines": [{"item_id": 1, "quantity": 1, "condition": "melted"}]}),
        json!({"status": "dispatched", "tracking_number": "x".repeat(5000),
               "certificate": "c".repeat(5000), "labels": false, "delivery_note": false,
               "copies": 0, "label_printer_id": -3}),
    ];
    let posts = [
        "/v1/pick-lists",
        "/v1/pick-lists/1/scans",
        "/v1/pick-lists/1/short",
        "/v1/parcels",
        "/v1/parcels/1/contents",
        "/v1/shipments",
        "/v1/shipments/1/dispatch",
        "/v1/shipments/1/status",
        "/v1/shipments/1/print",
        "/v1/carriers/own_fleet/webhook",
        "/v1/carriers/nobody/webhook",
        "/v1/returns",
        "/v1/deals/1/reserve",
    ];
    let on_records = [
        "/v1/pick-lists/{list}/scans",
        "/v1/pick-lists/{list}/short",
        "/v1/parcels/{parcel}/contents",
        "/v1/shipments/{shipment}/print",
        "/v1/shipments/{shipment}/status",
        "/v1/deals/{deal}/reserve",
    ];
    for path in posts
        .iter()
        .map(|p| p.to_string())
        .chain(on_records.iter().map(|p| real(p)))
    {
        for body in &bodies {
            let (status, answer) = app.post(&path, &token, body.clone()).await;
            assert!(
                status.as_u16() < 500,
                "POST {path} {body}: {status} {answer}"
            );
        }
    }
    for body in &bodies {
        let (status, answer) = app
            .send(
                Method::PATCH,
                "/v1/batches/1",
                Some(&token),
                Some(body.clone()),
            )
            .await;
        assert!(
            status.as_u16() < 500,
            "PATCH batch {body}: {status} {answer}"
        );
    }
    for path in [
        "/v1/deals/1/documents/pick_list/x",
        "/v1/deals/x/documents/pick_list/1",
        "/v1/deals/1/documents/../1",
        "/v1/deals/1/documents/shipping_labels/-1?format=png",
        "/v1/deals/99999999999999999999/documents/return_note/1",
        "/v1/shipments/1/labels?format=bogus&dpi=-1",
        "/v1/shipments/1/labels?dpi=99999999999",
        "/v1/parcels/1/label?template=../../etc/passwd",
        "/v1/returns/1/document?format=zpl&dpi=1",
        "/v1/pick-lists/1/document",
        "/v1/deals/1/fulfilment",
        "/v1/deals/1/documents",
        "/v1/deals/{deal}/documents/parcel_label/{parcel}?format=png&dpi=5000",
        "/v1/deals/{deal}/documents/shipping_labels/{shipment}?format=png",
        "/v1/deals/{deal}/documents/delivery_note/{shipment}?template=nope",
        "/v1/deals/{deal}/documents/pick_list/{list}?format=zpl&dpi=71",
        "/v1/shipments/{shipment}/labels?format=zpl&dpi=1201",
        "/v1/parcels/{parcel}/label?format=png&dpi=1200",
    ] {
        let path = real(path);
        let (status, answer) = app.get(&path, &token).await;
        assert!(status.as_u16() < 500, "GET {path}: {status} {answer}");
        if status.is_client_error() {
            assert!(
                answer["status"].is_number(),
                "GET {path}: not a problem: {answer}"
            );
        }
    }
}

crate::on_both!(garbage_never_gets_a_server_error);
