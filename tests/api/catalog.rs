//! Items with GTINs, bills of materials, suppliers, warehouses and locations.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_problem};

async fn items_keep_gtins_per_packaging_level_normalised_to_14_digits(app: TestApp) {
    let supplier = app
        .create(
            "/v1/suppliers",
            json!({"code": "ACME", "name": "Acme Foods", "lead_time_days": 5}),
        )
        .await;
    let item = app.create("/v1/items", json!({
        "code": "MILK-1L", "name": "Milk 1 l", "unit": "pcs", "tracking": "batch",
        "shelf_life_days": 14, "min_remaining_shelf_life_days": 5, "source": "purchased",
        "supplier_id": supplier["id"], "requires_certificate": false, "lead_time_days": 3,
        "gtins": [{"gtin": "4006381333931", "quantity": 1}, {"gtin": "96385074", "quantity": 12}, {"gtin": "10614141000415", "quantity": 480}]
    })).await;
    assert!(item["id"].as_i64().unwrap() > 0);
    assert_eq!(item["tracking"], "batch");
    let gtins: Vec<(String, i64)> = item["gtins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["gtin"].as_str().unwrap().to_string(),
                g["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        gtins,
        vec![
            ("04006381333931".into(), 1),
            ("00000096385074".into(), 12),
            ("10614141000415".into(), 480)
        ]
    );

    // Found by any form of any of its GTINs.
    for query in [
        "4006381333931",
        "04006381333931",
        "96385074",
        "10614141000415",
    ] {
        let (status, list) = app
            .get(&format!("/v1/items?gtin={query}"), &app.admin_token)
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list["items"][0]["code"], "MILK-1L", "lookup by {query}");
    }

    // One GTIN belongs to one item.
    let (status, body) = app
        .post(
            "/v1/items",
            &app.admin_token,
            json!({"code": "OTHER", "name": "Other", "gtins": ["04006381333931"]}),
        )
        .await;
    assert_problem(status, &body, 409, Some("gtins[0].gtin"));
    // Check digit, length, characters.
    let (status, body) = app
        .post(
            "/v1/items",
            &app.admin_token,
            json!({"code": "BAD", "name": "Bad", "gtins": [{"gtin": "4006381333932"}]}),
        )
        .await;
    assert_problem(status, &body, 422, Some("gtins[0].gtin"));
    assert!(
        body["detail"].as_str().unwrap().contains("check digit"),
        "{body}"
    );
    let (status, body) = app
        .post(
            "/v1/items",
            &app.admin_token,
            json!({"code": "BAD", "name": "Bad", "gtins": ["12345", "abc"]}),
        )
        .await;
    assert_problem(status, &body, 422, Some("gtins[0].gtin"));
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
    let (status, body) = app
        .post(
            "/v1/items",
            &app.admin_token,
            json!({"code": "BAD", "name": "Bad", "gtins": [{"gtin": "96385074", "quantity": 0}]}),
        )
        .await;
    assert_problem(status, &body, 422, Some("gtins[0].quantity"));
    // Duplicate code, unknown supplier, bad enum, negative numbers.
    let (status, body) = app
        .post(
            "/v1/items",
            &app.admin_token,
            json!({"code": "MILK-1L", "name": "Again"}),
        )
        .await;
    assert_problem(status, &body, 409, Some("code"));
    let (status, body) = app
        .post(
            "/v1/items",
            &app.admin_token,
            json!({"code": "S1", "name": "x", "supplier_id": 424242}),
        )
        .await;
    assert_problem(status, &body, 422, Some("supplier_id"));
    let (status, body) = app
        .post(
            "/v1/items",
            &app.admin_token,
            json!({"code": "S1", "name": "x", "tracking": "lots"}),
        )
        .await;
    assert_problem(status, &body, 422, Some("tracking"));
    let (status, body) = app
        .post(
            "/v1/items",
            &app.admin_token,
            json!({"code": "S1", "name": "x", "lead_time_days": -1}),
        )
        .await;
    assert_problem(status, &body, 422, Some("lead_time_days"));
    let (status, body) = app.post("/v1/items", &app.admin_token, json!({"code": "S1", "name": "x", "tracking": "batch", "shelf_life_days": 10, "min_remaining_shelf_life_days": 11})).await;
    assert_problem(status, &body, 422, Some("min_remaining_shelf_life_days"));

    // PATCH replaces GTINs; the old one is free again.
    let id = item["id"].as_i64().unwrap();
    let (status, patched) = app
        .patch(
            &format!("/v1/items/{id}"),
            &app.admin_token,
            json!({"name": "Milk 1 litre", "gtins": [{"gtin": "96385074", "quantity": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"], "Milk 1 litre");
    assert_eq!(patched["gtins"].as_array().unwrap().len(), 1);
    assert_eq!(patched["shelf_life_days"], 14, "untouched fields stay");
    let (status, added) = app
        .post(
            &format!("/v1/items/{id}/gtins"),
            &app.admin_token,
            json!({"gtin": "4006381333931", "quantity": 6}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["gtins"].as_array().unwrap().len(), 2);
    let (status, removed) = app
        .send(
            Method::DELETE,
            &format!("/v1/items/{id}/gtins/4006381333931"),
            Some(&app.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(removed["gtins"].as_array().unwrap().len(), 1);
    let (status, cleared) = app
        .patch(
            &format!("/v1/items/{id}"),
            &app.admin_token,
            json!({"supplier_id": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(cleared["supplier_id"].is_null());

    // Only admins write; reps read.
    let (_, rep) = app.user("cat-rep", "rep", None).await;
    let (status, _) = app.get(&format!("/v1/items/{id}"), &rep).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .patch(&format!("/v1/items/{id}"), &rep, json!({"name": "hack"}))
        .await;
    assert_problem(status, &body, 403, None);
}

async fn lists_page_with_a_cursor(app: TestApp) {
    for i in 0..7 {
        app.create(
            "/v1/items",
            json!({"code": format!("P{i}"), "name": format!("Paged {i}")}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/items?limit=3&cursor={c}"),
            None => "/v1/items?limit=3".to_string(),
        };
        let (status, page) = app.get(&path, &app.admin_token).await;
        assert_eq!(status, StatusCode::OK);
        for item in page["items"].as_array().unwrap() {
            seen.push(item["code"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, (0..7).map(|i| format!("P{i}")).collect::<Vec<_>>());
    let (_, found) = app.get("/v1/items?q=paged%205", &app.admin_token).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
}

async fn manufactured_items_have_a_bill_of_materials_without_cycles(app: TestApp) {
    let frame = app
        .create(
            "/v1/items",
            json!({"code": "FRAME", "name": "Frame", "source": "purchased"}),
        )
        .await;
    let wheel = app
        .create(
            "/v1/items",
            json!({"code": "WHEEL", "name": "Wheel", "source": "manufactured"}),
        )
        .await;
    let bike = app
        .create(
            "/v1/items",
            json!({"code": "BIKE", "name": "Bike", "source": "manufactured"}),
        )
        .await;
    let (bike_id, wheel_id, frame_id) = (
        bike["id"].as_i64().unwrap(),
        wheel["id"].as_i64().unwrap(),
        frame["id"].as_i64().unwrap(),
    );
    let (status, bom) = app.send(Method::PUT, &format!("/v1/items/{bike_id}/bom"), Some(&app.admin_token),
        Some(json!({"lines": [{"component_item_id": frame_id, "quantity": 1}, {"component_item_id": wheel_id, "quantity": 2}]}))).await;
    assert_eq!(status, StatusCode::OK, "{bom}");
    assert_eq!(bom["lines"].as_array().unwrap().len(), 2);
    let (_, read) = app
        .get(&format!("/v1/items/{bike_id}/bom"), &app.admin_token)
        .await;
    assert_eq!(read["lines"], bom["lines"]);
    // A wheel cannot contain the bike.
    let (status, body) = app
        .send(
            Method::PUT,
            &format!("/v1/items/{wheel_id}/bom"),
            Some(&app.admin_token),
            Some(json!({"lines": [{"component_item_id": bike_id, "quantity": 1}]})),
        )
        .await;
    assert_problem(status, &body, 422, Some("lines[0].component_item_id"));
    // A purchased item has none.
    let (status, body) = app
        .send(
            Method::PUT,
            &format!("/v1/items/{frame_id}/bom"),
            Some(&app.admin_token),
            Some(json!({"lines": [{"component_item_id": wheel_id, "quantity": 1}]})),
        )
        .await;
    assert_problem(status, &body, 422, Some("item_id"));
}

async fn warehouses_have_locations_with_unique_barcodes(app: TestApp) {
    let (keeper_id, warehouse_token) = app.user("keeper", "warehouse", None).await;
    let wh = app.create("/v1/warehouses", json!({"code": "WH1", "name": "Main", "address": "1 Dock Road", "responsible_user_id": keeper_id})).await;
    let wh_id = wh["id"].as_i64().unwrap();
    assert_eq!(wh["responsible_user_id"], keeper_id);
    let a = app
        .create(
            &format!("/v1/warehouses/{wh_id}/locations"),
            json!({"code": "A-01", "barcode": "LOC-A01", "pick_sequence": 20}),
        )
        .await;
    let b = app
        .create(
            &format!("/v1/warehouses/{wh_id}/locations"),
            json!({"code": "A-02", "pick_sequence": 10}),
        )
        .await;
    assert_eq!(b["barcode"], "WH1-A-02");
    let (status, body) = app
        .post(
            &format!("/v1/warehouses/{wh_id}/locations"),
            &app.admin_token,
            json!({"code": "A-01", "barcode": "OTHER"}),
        )
        .await;
    assert_problem(status, &body, 409, Some("code"));
    let (status, body) = app
        .post(
            &format!("/v1/warehouses/{wh_id}/locations"),
            &app.admin_token,
            json!({"code": "A-03", "barcode": "LOC-A01"}),
        )
        .await;
    assert_problem(status, &body, 409, Some("barcode"));
    let (status, body) = app
        .post(
            "/v1/warehouses/424242/locations",
            &app.admin_token,
            json!({"code": "Z"}),
        )
        .await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app
        .post(
            "/v1/warehouses",
            &app.admin_token,
            json!({"code": "WH1", "name": "Dup"}),
        )
        .await;
    assert_problem(status, &body, 409, Some("code"));

    let (status, list) = app
        .get(
            &format!("/v1/warehouses/{wh_id}/locations"),
            &warehouse_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (_, found) = app
        .get("/v1/locations?barcode=LOC-A01", &warehouse_token)
        .await;
    assert_eq!(found["items"][0]["id"], a["id"]);
    let (status, moved) = app
        .patch(
            &format!("/v1/locations/{}", a["id"]),
            &app.admin_token,
            json!({"pick_sequence": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(moved["pick_sequence"], 5);
    let (status, body) = app
        .post(
            "/v1/warehouses",
            &warehouse_token,
            json!({"code": "WH2", "name": "Nope"}),
        )
        .await;
    assert_problem(status, &body, 403, None);
}

crate::on_both!(
    items_keep_gtins_per_packaging_level_normalised_to_14_digits,
    lists_page_with_a_cursor,
    manufactured_items_have_a_bill_of_materials_without_cycles,
    warehouses_have_locations_with_unique_barcodes,
);
