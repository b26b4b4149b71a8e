//! Customer returns: good goods back into the batch they were shipped from, damaged ones
//! written off with a reason, never more than was shipped for the deal.

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
