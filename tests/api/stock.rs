//! Receipts (explicit and by scan), balances, the ledger, batches, FEFO plans, consistency.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

pub const GS: &str = "\u{1d}";

pub struct Setup {
    pub item: i64,
    pub plain: i64,
    pub wh: i64,
    pub a: i64,
    pub b: i64,
}

pub async fn setup(app: &TestApp) -> Setup {
    let item = app.create("/v1/items", json!({
        "code": "YOG", "name": "Yoghurt", "tracking": "batch", "shelf_life_days": 30,
        "gtins": [{"gtin": "09506000134352", "quantity": 1}, {"gtin": "4006381333931", "quantity": 12}]
    })).await;
    let plain = app
        .create("/v1/items", json!({"code": "BOLT", "name": "Bolt"}))
        .await;
    let wh = app
        .create("/v1/warehouses", json!({"code": "W1", "name": "Main"}))
        .await;
    let wh_id = wh["id"].as_i64().unwrap();
    let a = app
        .create(
            &format!("/v1/warehouses/{wh_id}/locations"),
            json!({"code": "A", "pick_sequence": 20}),
        )
        .await;
    let b = app
        .create(
            &format!("/v1/warehouses/{wh_id}/locations"),
            json!({"code": "B", "pick_sequence": 10}),
        )
        .await;
    Setup {
        item: item["id"].as_i64().unwrap(),
        plain: plain["id"].as_i64().unwrap(),
        wh: wh_id,
        a: a["id"].as_i64().unwrap(),
        b: b["id"].as_i64().unwrap(),
    }
}

pub fn date_in(days: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(days)).to_string()
}

pub fn yymmdd(days: i64) -> String {
    let d = time::OffsetDateTime::now_utc().date() + time::Duration::days(days);
    format!(
        "{:02}{:02}{:02}",
        d.year() % 100,
        u8::from(d.month()),
        d.day()
    )
}

async fn receipts_by_line_and_by_scan_post_to_the_ledger(app: TestApp) {
    let s = setup(&app).await;
    let (_, keeper) = app.user("keeper", "warehouse", None).await;
    let (status, receipt) = app
        .post(
            "/v1/receipts",
            &keeper,
            json!({
                "warehouse_id": s.wh, "location_id": s.a,
                "lines": [
                    {"item_id": s.item, "quantity": 5, "batch": "L-LATE", "expiry": date_in(40)},
                    {"item_id": s.plain, "quantity": 100}
                ]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["movements"].as_array().unwrap().len(), 2);

    // One scanned case of 12 adds 12 units, with batch and expiry from the barcode.
    let scan = format!("]C101{}17{}{GS}10L-EARLY", "04006381333931", yymmdd(10));
    let (status, receipt) = app
        .post(
            "/v1/receipts",
            &keeper,
            json!({
                "warehouse_id": s.wh, "location_id": s.b, "lines": [{"scan": scan}]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["movements"][0]["quantity"], 12);

    let (_, stock) = app
        .get(
            &format!("/v1/stock?item_id={}&warehouse_id={}", s.item, s.wh),
            &keeper,
        )
        .await;
    let rows = stock["items"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{stock}");
    let total: i64 = rows.iter().map(|r| r["on_hand"].as_i64().unwrap()).sum();
    assert_eq!(total, 17);
    let early = rows.iter().find(|r| r["batch_code"] == "L-EARLY").unwrap();
    assert_eq!(early["expiry_date"], date_in(10));

    // FEFO: the early batch first, although its bin comes later on the route... and then the late one.
    let (status, plan) = app
        .post(
            "/v1/stock/allocate",
            &keeper,
            json!({"item_id": s.item, "warehouse_id": s.wh, "quantity": 15}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plan}");
    assert_eq!(plan["picks"][0]["batch"], "L-EARLY");
    assert_eq!(plan["picks"][0]["quantity"], 12);
    assert_eq!(plan["picks"][0]["expiry"], date_in(10));
    assert_eq!(plan["picks"][1]["batch"], "L-LATE");
    assert_eq!(plan["picks"][1]["quantity"], 3);
    assert_eq!(plan["short"], 0);
    // A customer needing 20 days of shelf life cannot get the early batch.
    let (_, plan) = app.post("/v1/stock/allocate", &keeper, json!({"item_id": s.item, "warehouse_id": s.wh, "quantity": 15, "min_remaining_days": 20})).await;
    assert_eq!(plan["picks"][0]["batch"], "L-LATE");
    assert_eq!(plan["planned"], 5);
    assert_eq!(plan["short"], 10);

    // A Zebra in keystroke mode sends GS as '|' and Enter at the end: its profile restores them.
    let device = app
        .create(
            "/v1/devices",
            json!({"name": "TC52", "kind": "scanner", "profile": "zebra-datawedge-keystroke"}),
        )
        .await;
    let wedge = format!("]C10109506000134352|17{}|10L-ZEBRA\n", yymmdd(90));
    let (status, receipt) = app
        .post(
            "/v1/receipts",
            device["token"].as_str().unwrap(),
            json!({
                "warehouse_id": s.wh, "location_id": s.a, "lines": [{"scan": wedge, "quantity": 2}]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["movements"][0]["quantity"], 2);
    assert!(receipt["movements"][0]["device_id"].is_i64(), "{receipt}");

    // Scanning the same barcode now finds the batch too.
    let (_, scanned) = app
        .post(
            "/v1/scans",
            &keeper,
            json!({"data": format!("(01)09506000134352(10)L-LATE")}),
        )
        .await;
    assert_eq!(scanned["matches"][0]["type"], "item", "{scanned}");
    assert_eq!(scanned["matches"][1]["type"], "batch", "{scanned}");
    assert_eq!(scanned["matches"][1]["code"], "L-LATE");
    assert_eq!(scanned["matches"][1]["expiry"], date_in(40));

    let (_, ledger) = app
        .get(&format!("/v1/stock/ledger?item_id={}", s.item), &keeper)
        .await;
    assert_eq!(ledger["items"].as_array().unwrap().len(), 3);
    let (_, batches) = app
        .get(
            &format!("/v1/batches?item_id={}&expiring_within_days=20", s.item),
            &keeper,
        )
        .await;
    let codes: Vec<&str> = batches["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["L-EARLY"]);
    let (status, check) = app.get("/v1/admin/consistency", &app.admin_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(check["consistent"], true, "{check}");

    // Reps read stock and plans but do not receive.
    let (_, rep) = app.user("stock-rep", "rep", None).await;
    let (status, _) = app.get("/v1/stock", &rep).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.post("/v1/receipts", &rep, json!({"warehouse_id": s.wh, "location_id": s.a, "lines": [{"item_id": s.plain, "quantity": 1}]})).await;
    assert_problem(status, &body, 403, None);
    let (status, body) = app.get("/v1/admin/consistency", &rep).await;
    assert_problem(status, &body, 403, None);
}

/// Many more receipts at once than the database has connections, each of a new batch (whose
/// item is read beside the write): every one commits, none waits for a connection that never
/// comes. On PostgreSQL, 32 such receipts once held all 16 connections, each waiting for a
/// second one to read the item, until the pool's timeout.
async fn receipts_from_many_clients_at_once_all_commit(app: TestApp) {
    let s = setup(&app).await;
    const CLIENTS: usize = 48;
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for n in 0..CLIENTS {
        let scan = format!("]C101{}17{}{GS}10RUSH-{n}", "04006381333931", yymmdd(30));
        let body = json!({"warehouse_id": s.wh, "location_id": s.a, "lines": [{"scan": scan}]});
        tasks.push(app.post_racing("/v1/receipts", &app.admin_token, body));
    }
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // Far below the pool's 10 s acquire timeout that a starved request would have waited.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{CLIENTS} receipts took {:?}",
        started.elapsed()
    );
    let (_, stock) = app
        .get(
            &format!("/v1/stock?item_id={}&limit=200", s.item),
            &app.admin_token,
        )
        .await;
    let total: i64 = stock["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["on_hand"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 12 * CLIENTS as i64, "{stock}");
}

async fn bad_receipts_are_refused_and_change_nothing(app: TestApp) {
    let s = setup(&app).await;
    let token = app.admin_token.clone();
    let post = |body: Value| app.post("/v1/receipts", &token, body);
    let (status, body) = post(json!({"warehouse_id": s.wh, "location_id": s.a, "lines": [{"item_id": s.item, "quantity": 5}]})).await;
    assert_problem(status, &body, 422, Some("lines[0].batch"));
    let (status, body) = post(json!({"warehouse_id": s.wh, "location_id": s.a, "lines": [{"item_id": s.plain, "quantity": 0}]})).await;
    assert_problem(status, &body, 422, Some("lines[0].quantity"));
    let (status, body) = post(json!({"warehouse_id": s.wh, "location_id": 999999, "lines": [{"item_id": s.plain, "quantity": 1}]})).await;
    assert_problem(status, &body, 422, Some("location_id"));
    let (status, body) = post(json!({"warehouse_id": s.wh, "location_id": s.a, "lines": []})).await;
    assert_problem(status, &body, 422, Some("lines"));
    let (status, body) = post(json!({"warehouse_id": s.wh, "location_id": s.a, "lines": [{"item_id": s.item, "quantity": 1, "batch": "OLD", "expiry": date_in(-1)}]})).await;
    assert_problem(status, &body, 422, Some("lines[0].expiry"));
    let (status, body) = post(json!({"warehouse_id": s.wh, "location_id": s.a, "lines": [{"scan": "]C10109506000134353"}]})).await;
    assert_problem(status, &body, 422, Some("lines[0].scan"));
    assert_eq!(body["ai"], "01");
    // The second line fails: the first is not posted either.
    let (status, _) = post(json!({"warehouse_id": s.wh, "location_id": s.a, "lines": [{"item_id": s.plain, "quantity": 3}, {"item_id": 424242, "quantity": 1}]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, stock) = app.get("/v1/stock", &token).await;
    assert!(stock["items"].as_array().unwrap().is_empty(), "{stock}");

    // Expired goods go only into quarantine, and are never planned.
    let (status, body) = post(
        json!({"warehouse_id": s.wh, "location_id": s.a, "quarantine": true,
        "lines": [{"item_id": s.item, "quantity": 4, "batch": "OLD", "expiry": date_in(-1)}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, plan) = app
        .post(
            "/v1/stock/allocate",
            &token,
            json!({"item_id": s.item, "warehouse_id": s.wh, "quantity": 4}),
        )
        .await;
    assert_eq!(plan["planned"], 0, "{plan}");
    assert_eq!(plan["short"], 4);
    let (status, body) = app
        .post(
            "/v1/stock/allocate",
            &token,
            json!({"item_id": s.item, "warehouse_id": s.wh, "quantity": 0}),
        )
        .await;
    assert_problem(status, &body, 422, Some("quantity"));
    let (_, check) = app.get("/v1/admin/consistency", &token).await;
    assert_eq!(check["consistent"], true);
}

async fn moves_adjustments_and_write_offs_never_overdraw(app: TestApp) {
    let s = setup(&app).await;
    let (_, keeper) = app.user("mover", "warehouse", None).await;
    let (status, _) = app.post("/v1/receipts", &keeper, json!({"warehouse_id": s.wh, "location_id": s.a,
        "lines": [{"item_id": s.plain, "quantity": 100}, {"item_id": s.item, "quantity": 10, "batch": "B1", "expiry": date_in(60)}]})).await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, moved) = app.post("/v1/stock/moves", &keeper, json!({"item_id": s.item, "batch": "B1", "from_location_id": s.a, "to_location_id": s.b, "quantity": 4})).await;
    assert_eq!(status, StatusCode::CREATED, "{moved}");
    assert_eq!(moved["movements"].as_array().unwrap().len(), 2);
    let (status, body) = app.post("/v1/stock/moves", &keeper, json!({"item_id": s.item, "batch": "B1", "from_location_id": s.a, "to_location_id": s.b, "quantity": 7})).await;
    assert_problem(status, &body, 409, Some("quantity"));
    let (status, body) = app.post("/v1/stock/moves", &keeper, json!({"item_id": s.item, "from_location_id": s.a, "to_location_id": s.b, "quantity": 1})).await;
    assert_problem(status, &body, 422, None);
    let (status, body) = app.post("/v1/stock/moves", &keeper, json!({"item_id": s.item, "batch": "NOPE", "from_location_id": s.a, "to_location_id": s.b, "quantity": 1})).await;
    assert_problem(status, &body, 422, Some("batch"));

    let (status, adj) = app
        .post(
            "/v1/stock/adjustments",
            &keeper,
            json!({"item_id": s.plain, "location_id": s.a, "quantity": -3, "reason": "miscount"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{adj}");
    let (status, body) = app
        .post(
            "/v1/stock/adjustments",
            &keeper,
            json!({"item_id": s.plain, "location_id": s.a, "quantity": 0, "reason": "x"}),
        )
        .await;
    assert_problem(status, &body, 422, Some("quantity"));
    let (status, body) = app
        .post(
            "/v1/stock/adjustments",
            &keeper,
            json!({"item_id": s.plain, "location_id": s.a, "quantity": 5}),
        )
        .await;
    assert_problem(status, &body, 422, Some("reason"));
    let (status, off) = app
        .post(
            "/v1/stock/write-offs",
            &keeper,
            json!({"item_id": s.plain, "location_id": s.a, "quantity": 7, "reason": "damaged"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{off}");
    assert_eq!(off["quantity"], -7);
    // Corrections are reversals, once.
    let (status, back) = app
        .post(
            &format!("/v1/stock/movements/{}/reverse", off["id"]),
            &keeper,
            json!({"note": "not damaged after all"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{back}");
    assert_eq!(back["quantity"], 7);
    let (status, body) = app
        .post(
            &format!("/v1/stock/movements/{}/reverse", off["id"]),
            &keeper,
            json!({}),
        )
        .await;
    assert_problem(status, &body, 409, None);
    let (status, again) = app
        .post(
            "/v1/stock/write-offs",
            &keeper,
            json!({"item_id": s.plain, "location_id": s.a, "quantity": 7, "reason": "damaged"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{again}");

    // 20 pickers race to take 10 each from 90: exactly 9 succeed, the balance ends at 0.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (client, url, token) = (
            app.client.clone(),
            app.url("/v1/stock/write-offs"),
            keeper.clone(),
        );
        let body =
            json!({"item_id": s.plain, "location_id": s.a, "quantity": 10, "reason": "race"});
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
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::CREATED => ok += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 9);
    let (_, stock) = app
        .get(
            &format!("/v1/stock?item_id={}&include_empty=true", s.plain),
            &keeper,
        )
        .await;
    assert_eq!(stock["items"][0]["on_hand"], 0, "{stock}");
    let (_, check) = app.get("/v1/admin/consistency", &app.admin_token).await;
    assert_eq!(check["consistent"], true, "{check}");
}

async fn the_expiry_job_marks_expired_batches_and_raises_alerts_once(app: TestApp) {
    let s = setup(&app).await;
    let (status, _) = app
        .post(
            "/v1/receipts",
            &app.admin_token,
            json!({"warehouse_id": s.wh, "location_id": s.a,
        "lines": [{"item_id": s.item, "quantity": 3, "batch": "SOON", "expiry": date_in(5)},
                  {"item_id": s.item, "quantity": 3, "batch": "LATER", "expiry": date_in(100)}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let today = time::OffsetDateTime::now_utc().date();
    let report = depot::jobs::expiry::run(&app.state.db, today, 14)
        .await
        .unwrap();
    assert_eq!((report.expired, report.alerts), (0, 1));
    let again = depot::jobs::expiry::run(&app.state.db, today, 14)
        .await
        .unwrap();
    assert_eq!(
        (again.expired, again.alerts),
        (0, 0),
        "alerts are raised once"
    );
    let (_, alerts) = app.get("/v1/alerts", &app.admin_token).await;
    assert_eq!(alerts["items"][0]["kind"], "expiring", "{alerts}");
    assert_eq!(alerts["items"][0]["due_date"], date_in(5));

    // Six days on, the batch has expired: marked, alerted, never planned.
    let later = today + time::Duration::days(6);
    let report = depot::jobs::expiry::run(&app.state.db, later, 14)
        .await
        .unwrap();
    assert_eq!((report.expired, report.alerts), (1, 1));
    let (_, batches) = app
        .get(
            &format!("/v1/batches?item_id={}&status=expired", s.item),
            &app.admin_token,
        )
        .await;
    assert_eq!(batches["items"][0]["code"], "SOON", "{batches}");
    let (_, plan) = app
        .post(
            "/v1/stock/allocate",
            &app.admin_token,
            json!({"item_id": s.item, "warehouse_id": s.wh, "quantity": 6}),
        )
        .await;
    assert_eq!(plan["planned"], 3, "{plan}");
    assert_eq!(plan["picks"][0]["batch"], "LATER");

    // One instance holds the lease; another cannot take it until it lapses.
    let db = &app.state.db;
    let ttl = time::Duration::minutes(10);
    assert!(
        depot::jobs::try_lease(db, "expiry-test", "a", ttl)
            .await
            .unwrap()
    );
    assert!(
        !depot::jobs::try_lease(db, "expiry-test", "b", ttl)
            .await
            .unwrap()
    );
    assert!(
        depot::jobs::try_lease(db, "expiry-test", "a", ttl)
            .await
            .unwrap(),
        "the holder renews"
    );
    assert!(
        depot::jobs::try_lease(db, "lapsed", "a", time::Duration::seconds(-1))
            .await
            .unwrap()
    );
    assert!(
        depot::jobs::try_lease(db, "lapsed", "b", ttl)
            .await
            .unwrap(),
        "a lapsed lease is taken over"
    );
    let (status, body) = app
        .get("/v1/alerts", &app.user("alert-rep", "rep", None).await.1)
        .await;
    assert_problem(status, &body, 403, None);
}

/// Quality release: a quarantined batch is not planned until released; a certificate is
/// recorded on the batch. Bad decisions name the field.
async fn quarantined_batches_are_released_by_quality(app: TestApp) {
    let s = setup(&app).await;
    let admin = app.admin_token.clone();
    let (_, rep) = app.user("rep", "rep", None).await;
    let (status, body) = app
        .post(
            "/v1/receipts",
            &admin,
            json!({"warehouse_id": s.wh, "location_id": s.a, "quarantine": true, "lines": [
                {"item_id": s.item, "quantity": 6, "batch": "Q1", "expiry": date_in(40)}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let allocate = json!({"item_id": s.item, "warehouse_id": s.wh, "quantity": 4});
    let (_, before) = app
        .post("/v1/stock/allocate", &admin, allocate.clone())
        .await;
    assert_eq!(before["short"], 4, "{before}");
    let (_, batches) = app
        .get(&format!("/v1/batches?item_id={}", s.item), &admin)
        .await;
    let batch = batches["items"][0]["id"].as_i64().unwrap();
    assert_eq!(batches["items"][0]["status"], "quarantine");
    let path = format!("/v1/batches/{batch}");
    let (status, body) = app.patch(&path, &rep, json!({"status": "available"})).await;
    assert_problem(status, &body, 403, None);
    let (status, body) = app.patch(&path, &admin, json!({"status": "expired"})).await;
    assert_problem(status, &body, 422, Some("status"));
    let (status, body) = app.patch(&path, &admin, json!({"status": "gone"})).await;
    assert_problem(status, &body, 422, None);
    let (status, body) = app
        .patch("/v1/batches/999999", &admin, json!({"status": "available"}))
        .await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app
        .patch(
            &path,
            &admin,
            json!({"status": "available", "certificate": "CoA-Q1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["certificate"].as_str()),
        (Some("available"), Some("CoA-Q1"))
    );
    let (_, after) = app.post("/v1/stock/allocate", &admin, allocate).await;
    assert_eq!(after["short"], 0, "{after}");
    let (status, body) = app.patch(&path, &admin, json!({"certificate": null})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["certificate"].is_null());
}

crate::on_both!(
    quarantined_batches_are_released_by_quality,
    the_expiry_job_marks_expired_batches_and_raises_alerts_once,
    moves_adjustments_and_write_offs_never_overdraw,
    receipts_by_line_and_by_scan_post_to_the_ledger,
    receipts_from_many_clients_at_once_all_commit,
    bad_receipts_are_refused_and_change_nothing,
);
