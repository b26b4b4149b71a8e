//! Offline batches (`POST /v1/sync/ops`): applied in order, each operation exactly once by its
//! op_id, answered as its online route answers, failures kept as exceptions for a supervisor.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

struct Floor {
    warehouse: i64,
    bins: Vec<i64>,
    item: i64,
}

async fn floor(app: &TestApp) -> Floor {
    let (warehouse, bins) = app.warehouse("OF", &[("A", 1), ("B", 2)]).await;
    let item = app
        .create_id(
            "/v1/items",
            json!({"code": "BOLT", "name": "Bolt", "gtins": ["4006381333931"]}),
        )
        .await;
    Floor {
        warehouse,
        bins,
        item,
    }
}

fn on_hand(stock: &Value, location: i64) -> i64 {
    stock["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["location_id"] == location)
        .map(|r| r["on_hand"].as_i64().unwrap())
        .sum()
}

async fn stock_at(app: &TestApp, f: &Floor, location: i64) -> i64 {
    let (status, stock) = app
        .get(&format!("/v1/stock?item_id={}", f.item), &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK, "{stock}");
    on_hand(&stock, location)
}

async fn a_batch_sent_twice_applies_once(app: TestApp) {
    let f = floor(&app).await;
    let (_, keeper) = app.user("keeper", "warehouse", None).await;
    let batch = json!({"ops": [
        {"op_id": "6f1c2a4e-0000-4000-8000-000000000001", "type": "scan",
         "at": "2026-12-01T08:00:00+01:00", "body": {"data": "4006381333931"}},
        {"op_id": "6f1c2a4e-0000-4000-8000-000000000002", "type": "receipt",
         "at": "2026-12-01T08:00:05+01:00",
         "body": {"warehouse_id": f.warehouse, "location_id": f.bins[0],
                  "lines": [{"item_id": f.item, "quantity": 10}]}},
        {"op_id": "6f1c2a4e-0000-4000-8000-000000000003", "type": "move",
         "at": "2026-12-01T08:01:00+01:00",
         "body": {"item_id": f.item, "from_location_id": f.bins[0],
                  "to_location_id": f.bins[1], "quantity": 4}},
    ]});
    let (status, first) = app.post("/v1/sync/ops", &keeper, batch.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let results = first["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0]["op_id"], "6f1c2a4e-0000-4000-8000-000000000001");
    assert_eq!(results[0]["status"], 200, "{first}");
    assert_eq!(results[0]["body"]["matches"][0]["type"], "item", "{first}");
    assert_eq!(results[1]["status"], 201, "{first}");
    assert!(results[2]["status"].as_u64().unwrap() < 300, "{first}");
    assert_eq!(stock_at(&app, &f, f.bins[0]).await, 6);
    assert_eq!(stock_at(&app, &f, f.bins[1]).await, 4);

    // The device did not hear back and sends everything again: same answers, nothing applied.
    let (status, second) = app.post("/v1/sync/ops", &keeper, batch).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(first, second);
    assert_eq!(stock_at(&app, &f, f.bins[0]).await, 6);
    assert_eq!(stock_at(&app, &f, f.bins[1]).await, 4);
    let (_, receipts) = app.get("/v1/receipts", &app.admin_token).await;
    assert_eq!(receipts["items"].as_array().unwrap().len(), 1, "{receipts}");
    let (_, scans) = app.get("/v1/scans", &app.admin_token).await;
    assert_eq!(scans["items"].as_array().unwrap().len(), 1, "{scans}");

    // The same op id with another body is the device's bug: refused, and kept as such.
    let (status, changed) = app
        .post(
            "/v1/sync/ops",
            &keeper,
            json!({"ops": [{"op_id": "6f1c2a4e-0000-4000-8000-000000000001", "type": "scan",
                            "body": {"data": "something else"}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["results"][0]["status"], 422, "{changed}");
    assert_eq!(
        changed["results"][0]["body"]["field"], "Idempotency-Key",
        "{changed}"
    );
}

async fn an_operation_the_world_overtook_becomes_an_exception_and_the_rest_apply(app: TestApp) {
    let f = floor(&app).await;
    let (keeper_id, keeper) = app.user("keeper", "warehouse", None).await;
    let (_, other) = app.user("other", "warehouse", None).await;
    app.receive(
        f.warehouse,
        f.bins[0],
        json!([{"item_id": f.item, "quantity": 5}]),
        false,
    )
    .await;
    // While the device was offline, someone else moved 4 of the 5 away.
    let (status, body) = app
        .post(
            "/v1/stock/moves",
            &other,
            json!({"item_id": f.item, "from_location_id": f.bins[0],
                   "to_location_id": f.bins[1], "quantity": 4}),
        )
        .await;
    assert!(status.is_success(), "{body}");
    let (status, answer) = app
        .post(
            "/v1/sync/ops",
            &keeper,
            json!({"ops": [
                {"op_id": "a1", "type": "move", "at": "2026-12-01T09:00:00Z",
                 "body": {"item_id": f.item, "from_location_id": f.bins[0],
                          "to_location_id": f.bins[1], "quantity": 3}},
                {"op_id": "a2", "type": "receipt", "at": "2026-12-01T09:05:00Z",
                 "body": {"warehouse_id": f.warehouse, "location_id": f.bins[0],
                          "lines": [{"item_id": f.item, "quantity": 2}]}},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let failed = &answer["results"][0];
    assert!(
        (400..500).contains(&failed["status"].as_u64().unwrap()),
        "{answer}"
    );
    assert_eq!(failed["body"]["status"], failed["status"], "a problem body");
    assert_eq!(answer["results"][1]["status"], 201, "{answer}");
    assert_eq!(stock_at(&app, &f, f.bins[0]).await, 1 + 2);

    // The exception waits for a supervisor, with both clocks; the sender sees their own.
    let (status, open) = app.get("/v1/sync/exceptions", &app.admin_token).await;
    assert_eq!(status, StatusCode::OK, "{open}");
    let items = open["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{open}");
    let exception = &items[0];
    assert_eq!(exception["op_id"], "a1");
    assert_eq!(exception["type"], "move");
    assert_eq!(exception["user_id"], keeper_id);
    assert_eq!(exception["device_at"], "2026-12-01T09:00:00Z");
    assert!(exception["received_at"].is_string());
    assert_eq!(exception["problem"], failed["body"]);
    let (_, own) = app.get("/v1/sync/exceptions", &keeper).await;
    assert_eq!(own["items"].as_array().unwrap().len(), 1, "{own}");
    let (_, none) = app.get("/v1/sync/exceptions", &other).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "{none}");

    // Sending the batch again changes nothing and makes no second exception.
    let (_, again) = app
        .post(
            "/v1/sync/ops",
            &keeper,
            json!({"ops": [
                {"op_id": "a1", "type": "move", "at": "2026-12-01T09:00:00Z",
                 "body": {"item_id": f.item, "from_location_id": f.bins[0],
                          "to_location_id": f.bins[1], "quantity": 3}},
            ]}),
        )
        .await;
    assert_eq!(again["results"][0], *failed);
    let (_, open) = app.get("/v1/sync/exceptions", &app.admin_token).await;
    assert_eq!(open["items"].as_array().unwrap().len(), 1, "{open}");

    // Only a supervisor resolves it, once.
    let id = exception["id"].as_i64().unwrap();
    let path = format!("/v1/sync/exceptions/{id}/resolve");
    let (status, body) = app.post(&path, &keeper, json!({"note": "recounted"})).await;
    assert_problem(status, &body, 403, None);
    let (status, resolved) = app
        .post(&path, &app.admin_token, json!({"note": "recounted bin A"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["resolution"], "recounted bin A");
    assert!(resolved["resolved_at"].is_string());
    let (status, body) = app.post(&path, &app.admin_token, json!({})).await;
    assert_problem(status, &body, 409, Some("id"));
    let (_, open) = app.get("/v1/sync/exceptions", &app.admin_token).await;
    assert_eq!(open["items"].as_array().unwrap().len(), 0, "{open}");
    let (_, closed) = app
        .get("/v1/sync/exceptions?resolved=true", &app.admin_token)
        .await;
    assert_eq!(closed["items"].as_array().unwrap().len(), 1, "{closed}");
}

async fn rights_are_checked_per_operation(app: TestApp) {
    let f = floor(&app).await;
    let (_, rep) = app.user("rep", "rep", None).await;
    let (status, answer) = app
        .post(
            "/v1/sync/ops",
            &rep,
            json!({"ops": [
                {"op_id": "r1", "type": "receipt",
                 "body": {"warehouse_id": f.warehouse, "location_id": f.bins[0],
                          "lines": [{"item_id": f.item, "quantity": 2}]}},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["results"][0]["status"], 403, "{answer}");
    assert_eq!(stock_at(&app, &f, f.bins[0]).await, 0);
    let (_, open) = app.get("/v1/sync/exceptions", &app.admin_token).await;
    assert_eq!(open["items"].as_array().unwrap().len(), 1, "{open}");
}

async fn malformed_batches_are_refused_whole(app: TestApp) {
    let f = floor(&app).await;
    let receipt = json!({"op_id": "m0", "type": "receipt",
        "body": {"warehouse_id": f.warehouse, "location_id": f.bins[0],
                 "lines": [{"item_id": f.item, "quantity": 2}]}});
    let cases = [
        (
            json!({"ops": [receipt, {"op_id": "m1", "type": "teleport", "body": {}}]}),
            "ops[1].type",
        ),
        (
            json!({"ops": [receipt, {"op_id": "m1", "type": "count_scan", "body": {"scan": "X"}}]}),
            "ops[1].body.count_id",
        ),
        (
            json!({"ops": [receipt, {"op_id": "", "type": "scan", "body": {"data": "X"}}]}),
            "ops[1].op_id",
        ),
        (
            json!({"ops": [receipt, {"op_id": "m1", "type": "scan", "at": "yesterday", "body": {"data": "X"}}]}),
            "ops[1].at",
        ),
        (
            json!({"ops": [receipt, {"op_id": "m1", "type": "scan", "body": ["X"]}]}),
            "ops[1].body",
        ),
    ];
    for (batch, field) in cases {
        let (status, body) = app.post("/v1/sync/ops", &app.admin_token, batch).await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{field}: {status} {body}"
        );
        assert!(body.to_string().contains(field), "{field}: {body}");
    }
    // Nothing of a refused batch applied.
    assert_eq!(stock_at(&app, &f, f.bins[0]).await, 0);
}

/// Pick, count and pack scans carry their path's id in the body.
async fn scans_inside_documents_go_to_their_document(app: TestApp) {
    let f = floor(&app).await;
    app.receive(
        f.warehouse,
        f.bins[0],
        json!([{"item_id": f.item, "quantity": 5}]),
        false,
    )
    .await;
    let deal = app
        .reserved_deal("Offline Ltd", "offline", f.item, 2, f.warehouse)
        .await;
    let list = app.pick_list(deal, f.warehouse, f.bins[1]).await;
    let list_id = list["id"].as_i64().unwrap();
    let (status, answer) = app
        .post(
            "/v1/sync/ops",
            &app.admin_token,
            json!({"ops": [
                {"op_id": "p1", "type": "pick_scan", "body": {"pick_list_id": list_id, "scan": "OF-A"}},
                {"op_id": "p2", "type": "pick_scan",
                 "body": {"pick_list_id": list_id, "scan": "4006381333931", "quantity": 2}},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        answer["results"][0]["body"]["outcome"], "location",
        "{answer}"
    );
    assert_eq!(
        answer["results"][1]["body"]["outcome"], "confirmed",
        "{answer}"
    );
    assert_eq!(
        answer["results"][1]["body"]["list_remaining"], 0,
        "{answer}"
    );
}

crate::on_both!(
    a_batch_sent_twice_applies_once,
    an_operation_the_world_overtook_becomes_an_exception_and_the_rest_apply,
    rights_are_checked_per_operation,
    malformed_batches_are_refused_whole,
    scans_inside_documents_go_to_their_document,
);
