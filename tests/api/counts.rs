//! Cycle counts: counted against the balance when each location was counted, variances posted
//! as `count` movements at close, movements made after counting kept.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use crate::stock::{GS, date_in, setup, yymmdd};

fn on_hand(stock: &Value, location: i64, batch: Option<&str>) -> i64 {
    stock["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["location_id"] == location && r["batch_code"].as_str() == batch)
        .map(|r| r["on_hand"].as_i64().unwrap())
        .sum()
}

async fn a_count_posts_variances_and_keeps_movements_made_after_counting(app: TestApp) {
    let s = setup(&app).await;
    let (_, keeper) = app.user("counter", "warehouse", None).await;
    let receive = |location: i64, lines: Value| {
        let app = &app;
        let keeper = keeper.clone();
        async move {
            let (status, body) = app
                .post(
                    "/v1/receipts",
                    &keeper,
                    json!({"warehouse_id": s.wh, "location_id": location, "lines": lines}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
    };
    receive(
        s.a,
        json!([
            {"item_id": s.item, "quantity": 10, "batch": "L1", "expiry": date_in(40)},
            {"item_id": s.plain, "quantity": 100}
        ]),
    )
    .await;
    receive(
        s.b,
        json!([{"item_id": s.item, "quantity": 5, "batch": "L2", "expiry": date_in(20)}]),
    )
    .await;

    let (status, count) = app
        .post(
            "/v1/counts",
            &keeper,
            json!({"warehouse_id": s.wh, "location_ids": [s.a, s.b], "note": "weekly"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{count}");
    assert_eq!(count["status"], "open");
    assert_eq!(count["locations"].as_array().unwrap().len(), 2);
    let id = count["id"].as_i64().unwrap();
    let path = |tail: &str| format!("/v1/counts/{id}{tail}");

    // A location is in one open count at a time.
    let (status, body) = app
        .post(
            "/v1/counts",
            &keeper,
            json!({"warehouse_id": s.wh, "location_ids": [s.a]}),
        )
        .await;
    assert_problem(status, &body, 409, Some("location_ids"));

    // Goods before any location: the counter is told to scan the location first.
    let each = format!("]C101{}17{}{GS}10L1", "09506000134352", yymmdd(40));
    let (status, body) = app
        .post(&path("/scans"), &keeper, json!({"scan": each}))
        .await;
    assert_problem(status, &body, 409, Some("scan"));

    // Location A, then 8 units of L1 in two scans (3 + 5 packs of one).
    let (status, body) = app
        .post(&path("/scans"), &keeper, json!({"scan": "W1-A"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["outcome"], "location");
    assert_eq!(body["location_id"], s.a);
    for packs in [3, 5] {
        let (status, body) = app
            .post(
                &path("/scans"),
                &keeper,
                json!({"scan": each, "quantity": packs}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["outcome"], "counted");
    }
    let (_, body) = app.get(&path(""), &keeper).await;
    let l1 = body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["batch_code"] == "L1")
        .unwrap()
        .clone();
    assert_eq!(
        (l1["expected"].as_i64(), l1["counted"].as_i64()),
        (Some(10), Some(8))
    );
    assert_eq!(l1["variance"], -2);

    // A case of 12 of a batch Depot has never seen, found in A: counted, the batch created.
    let case = format!("]C101{}17{}{GS}10L9", "04006381333931", yymmdd(60));
    let (status, body) = app
        .post(&path("/scans"), &keeper, json!({"scan": case}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["line"]["counted"], 12);
    assert_eq!(body["line"]["expected"], 0);
    assert_eq!(body["line"]["expiry_date"], date_in(60));

    // A counted total typed in replaces what was counted: bolts, 103 where 100 were expected.
    for total in [90, 103] {
        let (status, body) = app
            .post(
                &path("/lines"),
                &keeper,
                json!({"location_id": s.a, "item_id": s.plain, "quantity": total}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["counted"], total);
    }

    // Goods arrive in A after it was counted: the count must not lose them.
    receive(
        s.a,
        json!([{"item_id": s.item, "quantity": 4, "batch": "L1", "expiry": date_in(40)}]),
    )
    .await;

    // Bad entries: each names its field.
    let (status, body) = app
        .post(&path("/scans"), &keeper, json!({"scan": "NO-SUCH-CODE"}))
        .await;
    assert_problem(status, &body, 422, Some("scan"));
    let (status, body) = app
        .post(
            &path("/scans"),
            &keeper,
            json!({"scan": "]C10109506000134353"}),
        )
        .await;
    assert_problem(status, &body, 422, Some("scan"));
    let (status, body) = app
        .post(&path("/scans"), &keeper, json!({"scan": "4006381333931"}))
        .await;
    assert_problem(status, &body, 422, Some("batch"));
    let (status, body) = app
        .post(
            &path("/lines"),
            &keeper,
            json!({"location_id": s.a, "item_id": s.plain, "quantity": -1}),
        )
        .await;
    assert_problem(status, &body, 422, Some("quantity"));
    let other = app
        .create(
            &format!("/v1/warehouses/{}/locations", s.wh),
            json!({"code": "Z"}),
        )
        .await;
    let (status, body) = app
        .post(
            &path("/lines"),
            &keeper,
            json!({"location_id": other["id"], "item_id": s.plain, "quantity": 1}),
        )
        .await;
    assert_problem(status, &body, 422, Some("location_id"));
    let (_, rep) = app.user("count-rep", "rep", None).await;
    let (status, body) = app.post(&path("/close"), &rep, json!({})).await;
    assert_problem(status, &body, 403, None);

    // Close: variances of A posted; B was never started, so nothing is posted for it.
    let (status, closed) = app.post(&path("/close"), &keeper, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["count"]["status"], "closed");
    assert_eq!(closed["not_counted"], json!([s.b]));
    let mut posted: Vec<(i64, String)> = closed["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["kind"], "count");
            assert_eq!(m["document_type"], "count");
            assert_eq!(m["document_id"], id);
            (m["quantity"].as_i64().unwrap(), m["item_id"].to_string())
        })
        .collect();
    posted.sort();
    assert_eq!(
        posted,
        vec![
            (-2, s.item.to_string()),
            (3, s.plain.to_string()),
            (12, s.item.to_string())
        ]
    );
    let (_, stock) = app
        .get(&format!("/v1/stock?warehouse_id={}", s.wh), &keeper)
        .await;
    // 10 expected, 8 counted, 4 received after counting: 12.
    assert_eq!(on_hand(&stock, s.a, Some("L1")), 12);
    assert_eq!(on_hand(&stock, s.a, Some("L9")), 12);
    assert_eq!(on_hand(&stock, s.a, None), 103);
    assert_eq!(on_hand(&stock, s.b, Some("L2")), 5);

    // Closed is final.
    let (status, body) = app.post(&path("/close"), &keeper, json!({})).await;
    assert_problem(status, &body, 409, Some("status"));
    let (status, body) = app
        .post(&path("/scans"), &keeper, json!({"scan": "W1-A"}))
        .await;
    assert_problem(status, &body, 409, Some("status"));

    // The locations are free again. A started location's stock that nobody counted counts as
    // zero: B is scanned, nothing is found there.
    let (status, second) = app
        .post(
            "/v1/counts",
            &keeper,
            json!({"warehouse_id": s.wh, "location_ids": [s.b]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let second = second["id"].as_i64().unwrap();
    let (status, body) = app
        .post(
            &format!("/v1/counts/{second}/scans"),
            &keeper,
            json!({"scan": "W1-B"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, closed) = app
        .post(&format!("/v1/counts/{second}/close"), &keeper, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["movements"][0]["quantity"], -5);
    assert_eq!(closed["count"]["lines"][0]["counted"], 0);
    assert_eq!(closed["count"]["lines"][0]["variance"], -5);

    // Cancelling posts nothing.
    let (_, third) = app
        .post("/v1/counts", &keeper, json!({"warehouse_id": s.wh}))
        .await;
    let third = third["id"].as_i64().unwrap();
    let (status, body) = app
        .post(
            &format!("/v1/counts/{third}/lines"),
            &keeper,
            json!({"location_id": s.a, "item_id": s.plain, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(&format!("/v1/counts/{third}/cancel"), &keeper, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "cancelled");
    let (_, stock) = app
        .get(&format!("/v1/stock?warehouse_id={}", s.wh), &keeper)
        .await;
    assert_eq!(on_hand(&stock, s.a, None), 103);
    let (_, list) = app.get("/v1/counts?status=closed", &keeper).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    let admin = app.admin_token.clone();
    let (_, consistency) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(consistency["consistent"], true, "{consistency}");
}

/// Counted less than is still there after stock left the bin: the close is refused, nothing is
/// posted, and a recount of the location settles it.
async fn a_close_that_would_overdraw_asks_for_a_recount(app: TestApp) {
    let s = setup(&app).await;
    let (_, keeper) = app.user("recounter", "warehouse", None).await;
    let (status, body) = app
        .post(
            "/v1/receipts",
            &keeper,
            json!({"warehouse_id": s.wh, "location_id": s.a,
                   "lines": [{"item_id": s.plain, "quantity": 10}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, count) = app
        .post(
            "/v1/counts",
            &keeper,
            json!({"warehouse_id": s.wh, "location_ids": [s.a]}),
        )
        .await;
    let id = count["id"].as_i64().unwrap();
    let (status, body) = app
        .post(
            &format!("/v1/counts/{id}/lines"),
            &keeper,
            json!({"location_id": s.a, "item_id": s.plain, "quantity": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // 9 leave the bin after it was counted: 10 - 9 = 1 left, but the count says -8.
    let (status, body) = app
        .post(
            "/v1/stock/moves",
            &keeper,
            json!({"item_id": s.plain, "from_location_id": s.a, "to_location_id": s.b, "quantity": 9}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(&format!("/v1/counts/{id}/close"), &keeper, json!({}))
        .await;
    assert_problem(status, &body, 409, Some("lines"));
    let (_, still) = app.get(&format!("/v1/counts/{id}"), &keeper).await;
    assert_eq!(still["status"], "open");

    let (status, body) = app
        .post(
            &format!("/v1/counts/{id}/locations/{}/recount", s.a),
            &keeper,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["lines"][0]["expected"], 1);
    assert!(body["lines"][0]["counted"].is_null(), "{body}");
    let (status, _) = app
        .post(
            &format!("/v1/counts/{id}/lines"),
            &keeper,
            json!({"location_id": s.a, "item_id": s.plain, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, closed) = app
        .post(&format!("/v1/counts/{id}/close"), &keeper, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{closed}");
    assert_eq!(closed["movements"].as_array().unwrap().len(), 0);
}

crate::on_both!(
    a_count_posts_variances_and_keeps_movements_made_after_counting,
    a_close_that_would_overdraw_asks_for_a_recount,
);
