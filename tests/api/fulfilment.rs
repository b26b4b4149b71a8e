//! Deals to stock: reservations by FEFO, production and purchase orders for shortfalls,
//! completion and receipt allocated to the waiting deals, reductions and losses released.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use crate::stock::date_in;

struct Shop {
    wh: i64,
    a: i64,
    b: i64,
    yog: i64,
    cake: i64,
    flour: i64,
    customer: i64,
}

async fn shop(app: &TestApp) -> Shop {
    let supplier = app
        .create(
            "/v1/suppliers",
            json!({"code": "DAIRY", "name": "Dairy Co", "lead_time_days": 5}),
        )
        .await;
    let yog = app
        .create(
            "/v1/items",
            json!({"code": "YOG", "name": "Yoghurt", "tracking": "batch", "source": "purchased",
                   "supplier_id": supplier["id"], "lead_time_days": 5}),
        )
        .await;
    let flour = app
        .create(
            "/v1/items",
            json!({"code": "FLOUR", "name": "Flour", "source": "purchased", "supplier_id": supplier["id"]}),
        )
        .await;
    let cake = app
        .create(
            "/v1/items",
            json!({"code": "CAKE", "name": "Cake", "source": "manufactured", "lead_time_days": 2}),
        )
        .await;
    let (status, bom) = app
        .send(
            Method::PUT,
            &format!("/v1/items/{}/bom", cake["id"]),
            Some(&app.admin_token),
            Some(json!({"lines": [{"component_item_id": flour["id"], "quantity": 2}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{bom}");
    let wh = app
        .create("/v1/warehouses", json!({"code": "F1", "name": "Fulfil"}))
        .await["id"]
        .as_i64()
        .unwrap();
    let a = app
        .create(
            &format!("/v1/warehouses/{wh}/locations"),
            json!({"code": "A", "pick_sequence": 1}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let b = app
        .create(
            &format!("/v1/warehouses/{wh}/locations"),
            json!({"code": "B", "pick_sequence": 2}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let customer = app
        .create("/v1/customers", json!({"legal_name": "Cafe Ltd"}))
        .await["id"]
        .as_i64()
        .unwrap();
    Shop {
        wh,
        a,
        b,
        yog: yog["id"].as_i64().unwrap(),
        cake: cake["id"].as_i64().unwrap(),
        flour: flour["id"].as_i64().unwrap(),
        customer,
    }
}

async fn deal(app: &TestApp, token: &str, customer: i64, lines: Value) -> i64 {
    let (status, body) = app
        .post(
            "/v1/deals",
            token,
            json!({"customer_id": customer, "title": "Order", "lines": lines}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

fn line(result: &Value, item: i64) -> &Value {
    result["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["item_id"] == item)
        .unwrap_or_else(|| panic!("no line for item {item}: {result}"))
}

async fn consistent(app: &TestApp) {
    let (_, body) = app.get("/v1/admin/consistency", &app.admin_token).await;
    assert_eq!(body["consistent"], true, "{body}");
}

async fn a_won_deal_is_reserved_made_and_bought(app: TestApp) {
    let s = shop(&app).await;
    let admin = app.admin_token.clone();
    let (_, keeper) = app.user("fulfil-keeper", "warehouse", None).await;
    let (status, body) = app
        .post(
            "/v1/receipts",
            &keeper,
            json!({"warehouse_id": s.wh, "location_id": s.a, "lines": [
                {"item_id": s.yog, "quantity": 10, "batch": "Y2", "expiry": date_in(60)},
                {"item_id": s.yog, "quantity": 6, "batch": "Y1", "expiry": date_in(30)},
                {"item_id": s.cake, "quantity": 3},
                {"item_id": s.flour, "quantity": 4}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Winning the deal reserves it: yoghurt by FEFO (Y1 first), 3 cakes from stock and a
    // production order for 2 more, whose flour (2 per cake) is reserved from stock.
    let d1 = deal(
        &app,
        &admin,
        s.customer,
        json!([{"item_id": s.yog, "quantity": 10}, {"item_id": s.cake, "quantity": 5}]),
    )
    .await;
    let (status, body) = app
        .patch(&format!("/v1/deals/{d1}"), &admin, json!({"status": "won"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, f) = app.get(&format!("/v1/deals/{d1}/fulfilment"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{f}");
    let yog = line(&f, s.yog);
    assert_eq!(yog["reserved"], 10, "{f}");
    let by_batch: Vec<(String, i64)> = yog["reservations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["batch_code"].as_str().unwrap().to_string(),
                r["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(by_batch, vec![("Y1".into(), 6), ("Y2".into(), 4)]);
    let cake = line(&f, s.cake);
    assert_eq!(cake["reserved"], 3);
    assert_eq!(cake["in_production"][0]["quantity"], 2, "{f}");
    let order = cake["in_production"][0]["id"].as_i64().unwrap();
    assert_eq!(cake["in_production"][0]["expected_date"], date_in(2));

    // Reserving again changes nothing and orders nothing twice.
    let (status, again) = app
        .post(&format!("/v1/deals/{d1}/reserve"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let cake = line(&again, s.cake);
    assert_eq!(
        (
            cake["requested"].as_i64(),
            cake["reserved"].as_i64(),
            cake["shortfall"].as_i64()
        ),
        (Some(5), Some(3), Some(2))
    );
    assert_eq!(cake["production_order_id"], order);
    assert_eq!(line(&again, s.yog)["reserved"], 10);
    let (_, orders) = app.get("/v1/production-orders", &admin).await;
    assert_eq!(orders["items"].as_array().unwrap().len(), 1, "{orders}");
    let (_, po) = app
        .get(&format!("/v1/production-orders/{order}"), &admin)
        .await;
    assert_eq!(po["status"], "planned");
    assert_eq!(po["components"][0]["item_id"], s.flour);
    assert_eq!(po["components"][0]["required"], 4);
    assert_eq!(po["components"][0]["reserved"], 4, "{po}");
    assert_eq!(po["serves"][0]["deal_id"], d1);

    let (status, avail) = app
        .get(
            &format!("/v1/items/{}/availability?warehouse_id={}", s.yog, s.wh),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{avail}");
    assert_eq!(
        (
            avail["on_hand"].as_i64(),
            avail["reserved"].as_i64(),
            avail["available"].as_i64()
        ),
        (Some(16), Some(10), Some(6))
    );
    let (_, avail) = app
        .get(&format!("/v1/items/{}/availability", s.cake), &admin)
        .await;
    assert_eq!(avail["incoming"][0]["source"], "production");
    assert_eq!(avail["incoming"][0]["quantity"], 2);

    // A stock move of reserved yoghurt is refused: only the 6 free units may go.
    let (status, body) = app
        .post(
            "/v1/stock/moves",
            &keeper,
            json!({"item_id": s.yog, "batch": "Y1", "from_location_id": s.a, "to_location_id": s.b, "quantity": 1}),
        )
        .await;
    assert_problem(status, &body, 409, Some("quantity"));

    // Production: released, then completed; flour consumed from its reservation, the two cakes
    // reserved for the deal waiting for them.
    let (status, body) = app
        .post(
            &format!("/v1/production-orders/{order}/status"),
            &keeper,
            json!({"status": "released"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, done) = app
        .post(
            &format!("/v1/production-orders/{order}/complete"),
            &keeper,
            json!({"quantity": 2, "location_id": s.b}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["order"]["status"], "done");
    assert_eq!(done["allocated"], 2);
    let kinds: Vec<(&str, i64)> = done["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["kind"].as_str().unwrap(), m["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![("production_consumption", -4), ("production_output", 2)]
    );
    let (_, f) = app.get(&format!("/v1/deals/{d1}/fulfilment"), &admin).await;
    assert_eq!(line(&f, s.cake)["reserved"], 5, "{f}");
    assert!(
        line(&f, s.cake)["in_production"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        f["documents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["type"] == "production_order" && d["id"] == order),
        "{f}"
    );

    // A second deal, still open: 6 yoghurts free, 8 wanted: 6 reserved, 2 bought from the
    // supplier's open purchase order.
    let d2 = deal(
        &app,
        &admin,
        s.customer,
        json!([{"item_id": s.yog, "quantity": 8}]),
    )
    .await;
    let (status, r2) = app
        .post(
            &format!("/v1/deals/{d2}/reserve"),
            &admin,
            json!({"warehouse_id": s.wh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r2}");
    let l2 = line(&r2, s.yog);
    assert_eq!(
        (l2["reserved"].as_i64(), l2["shortfall"].as_i64()),
        (Some(6), Some(2))
    );
    let purchase = l2["purchase_order_id"].as_i64().expect("a purchase order");
    assert_eq!(l2["expected_date"], date_in(5));
    // The line shrinks to 3: 3 reservations released and the open order's line cancelled.
    let (_, d2body) = app.get(&format!("/v1/deals/{d2}"), &admin).await;
    let line_id = d2body["lines"][0]["id"].clone();
    let (status, body) = app
        .patch(
            &format!("/v1/deals/{d2}"),
            &admin,
            json!({"lines": [{"id": line_id, "item_id": s.yog, "quantity": 3}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, f2) = app.get(&format!("/v1/deals/{d2}/fulfilment"), &admin).await;
    assert_eq!(line(&f2, s.yog)["reserved"], 3, "{f2}");
    assert!(
        line(&f2, s.yog)["on_order"].as_array().unwrap().is_empty(),
        "{f2}"
    );
    let (_, p) = app
        .get(&format!("/v1/purchase-orders/{purchase}"), &admin)
        .await;
    assert_eq!(p["lines"][0]["quantity"], 0, "{p}");

    // A third deal wants 20: 3 free, 17 on the same open purchase order; receiving them
    // reserves them for it.
    let d3 = deal(
        &app,
        &admin,
        s.customer,
        json!([{"item_id": s.yog, "quantity": 20}]),
    )
    .await;
    let (status, r3) = app
        .post(&format!("/v1/deals/{d3}/reserve"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{r3}");
    assert_eq!(line(&r3, s.yog)["reserved"], 3);
    assert_eq!(line(&r3, s.yog)["purchase_order_id"], purchase);
    let (status, body) = app
        .post(
            &format!("/v1/purchase-orders/{purchase}/status"),
            &admin,
            json!({"status": "ordered"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, received) = app
        .post(
            &format!("/v1/purchase-orders/{purchase}/receipts"),
            &keeper,
            json!({"location_id": s.b, "lines": [
                {"item_id": s.yog, "quantity": 17, "batch": "Y3", "expiry": date_in(90)}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{received}");
    assert_eq!(received["allocated"], 17);
    assert_eq!(received["order"]["status"], "received");
    let (_, f3) = app.get(&format!("/v1/deals/{d3}/fulfilment"), &admin).await;
    assert_eq!(line(&f3, s.yog)["reserved"], 20, "{f3}");

    // Lost: everything of the deal goes back.
    let (status, body) = app
        .patch(
            &format!("/v1/deals/{d3}"),
            &admin,
            json!({"status": "lost", "lost_reason": "price"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, f3) = app.get(&format!("/v1/deals/{d3}/fulfilment"), &admin).await;
    assert_eq!(line(&f3, s.yog)["reserved"], 0, "{f3}");
    let (_, avail) = app
        .get(&format!("/v1/items/{}/availability", s.yog), &admin)
        .await;
    assert_eq!(avail["reserved"], 13, "{avail}");
    consistent(&app).await;

    // Reps see only their own deals.
    let (_, rep) = app.user("fulfil-rep", "rep", None).await;
    let (status, body) = app.get(&format!("/v1/deals/{d1}/fulfilment"), &rep).await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app
        .post(&format!("/v1/deals/{d1}/reserve"), &rep, json!({}))
        .await;
    assert_problem(status, &body, 404, None);
}

/// 64 clients reserve 64 deals of 3 each against 90 on the shelf: exactly 90 are reserved,
/// every shortfall is on order, every answer is definite.
async fn concurrent_reservations_never_oversell(app: TestApp) {
    let s = shop(&app).await;
    let admin = app.admin_token.clone();
    let (status, body) = app
        .post(
            "/v1/receipts",
            &admin,
            json!({"warehouse_id": s.wh, "location_id": s.a, "lines": [
                {"item_id": s.yog, "quantity": 50, "batch": "C1", "expiry": date_in(30)},
                {"item_id": s.yog, "quantity": 40, "batch": "C2", "expiry": date_in(40)}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut deals = Vec::new();
    for _ in 0..64 {
        deals.push(
            deal(
                &app,
                &admin,
                s.customer,
                json!([{"item_id": s.yog, "quantity": 3}]),
            )
            .await,
        );
    }
    let mut tasks = Vec::new();
    for d in &deals {
        tasks.push(app.post_racing(
            &format!("/v1/deals/{d}/reserve"),
            &admin,
            json!({"warehouse_id": null}),
        ));
    }
    let mut reserved = 0;
    let mut ordered = 0;
    let mut retry = Vec::new();
    for (d, t) in deals.iter().zip(tasks) {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::OK => {
                let l = &body["lines"][0];
                reserved += l["reserved"].as_i64().unwrap();
                if l["shortfall"].as_i64().unwrap() > 0 {
                    assert!(l["purchase_order_id"].is_i64(), "{body}");
                    ordered += l["shortfall"].as_i64().unwrap();
                }
            }
            StatusCode::CONFLICT | StatusCode::SERVICE_UNAVAILABLE => retry.push(*d),
            other => panic!("{other}: {body}"),
        }
    }
    // Requests told to retry do so, one at a time.
    for d in retry {
        let (status, body) = app
            .post(&format!("/v1/deals/{d}/reserve"), &admin, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        reserved += body["lines"][0]["reserved"].as_i64().unwrap();
        ordered += body["lines"][0]["shortfall"].as_i64().unwrap();
    }
    assert_eq!(reserved, 90, "exactly the shelf is reserved");
    assert_eq!(ordered, 64 * 3 - 90, "the rest is on order");
    let (_, orders) = app.get("/v1/purchase-orders?status=open", &admin).await;
    let open = orders["items"].as_array().unwrap();
    assert_eq!(
        open.len(),
        1,
        "one open order per supplier and warehouse: {orders}"
    );
    assert_eq!(open[0]["lines"][0]["quantity"], 64 * 3 - 90);
    let (_, avail) = app
        .get(&format!("/v1/items/{}/availability", s.yog), &admin)
        .await;
    assert_eq!(avail["reserved"], 90);
    assert_eq!(avail["available"], 0);
    consistent(&app).await;
    let _ = (s.b, s.cake, s.flour);
}

/// A customer who needs 45 days left gets only the batch that has them; the rest is bought.
async fn the_customers_required_shelf_life_is_respected(app: TestApp) {
    let s = shop(&app).await;
    let admin = app.admin_token.clone();
    let (status, body) = app
        .post(
            "/v1/receipts",
            &admin,
            json!({"warehouse_id": s.wh, "location_id": s.a, "lines": [
                {"item_id": s.yog, "quantity": 5, "batch": "S30", "expiry": date_in(30)},
                {"item_id": s.yog, "quantity": 5, "batch": "S60", "expiry": date_in(60)}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .patch(
            &format!("/v1/customers/{}", s.customer),
            &admin,
            json!({"min_remaining_shelf_life_days": -1}),
        )
        .await;
    assert_problem(status, &body, 422, Some("min_remaining_shelf_life_days"));
    let (status, body) = app
        .patch(
            &format!("/v1/customers/{}", s.customer),
            &admin,
            json!({"min_remaining_shelf_life_days": 45}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["min_remaining_shelf_life_days"], 45);
    let d = deal(
        &app,
        &admin,
        s.customer,
        json!([{"item_id": s.yog, "quantity": 8}]),
    )
    .await;
    let (status, r) = app
        .post(
            &format!("/v1/deals/{d}/reserve"),
            &admin,
            json!({"warehouse_id": s.wh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(line(&r, s.yog)["reserved"], 5);
    assert_eq!(line(&r, s.yog)["shortfall"], 3);
    let (_, f) = app.get(&format!("/v1/deals/{d}/fulfilment"), &admin).await;
    assert_eq!(
        line(&f, s.yog)["reservations"][0]["batch_code"],
        "S60",
        "{f}"
    );
    assert_eq!(line(&f, s.yog)["on_order"][0]["quantity"], 3, "{f}");
    let (status, body) = app
        .post(
            &format!("/v1/deals/{d}/reserve"),
            &admin,
            json!({"warehouse_id": 999_999}),
        )
        .await;
    assert_problem(status, &body, 422, Some("warehouse_id"));
    consistent(&app).await;
}

crate::on_both!(
    the_customers_required_shelf_life_is_respected,
    a_won_deal_is_reserved_made_and_bought,
    concurrent_reservations_never_oversell,
);

/// A second Depot: the real binary, as its own process, on the same PostgreSQL database.
struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn second_depot(app: &TestApp) -> (Process, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_depot"))
        .arg("serve")
        .env("DEPOT_DATABASE_URL", &app.state.config.database_url)
        .env("DEPOT_LISTEN", format!("127.0.0.1:{port}"))
        .env("DEPOT_JOBS", "false")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start a second depot");
    let process = Process(child);
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..300 {
        if let Ok(r) = app.client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return (process, base);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the second depot did not come up on {base}");
}

/// Two Depot processes on one PostgreSQL: 64 deals of 3 against 90 on the shelf, each deal
/// reserved at once through both processes. Exactly 90 are reserved, each deal's line is
/// covered exactly once (reserved or on order), never twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_never_oversell() {
    let app = TestApp::postgres().await;
    let (_process, other) = second_depot(&app).await;
    let s = shop(&app).await;
    let admin = app.admin_token.clone();
    let (status, body) = app
        .post(
            "/v1/receipts",
            &admin,
            json!({"warehouse_id": s.wh, "location_id": s.a, "lines": [
                {"item_id": s.yog, "quantity": 90, "batch": "P1", "expiry": date_in(30)}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut deals = Vec::new();
    for _ in 0..64 {
        deals.push(
            deal(
                &app,
                &admin,
                s.customer,
                json!([{"item_id": s.yog, "quantity": 3}]),
            )
            .await,
        );
    }
    let mut tasks = Vec::new();
    for d in &deals {
        for base in [app.base.clone(), other.clone()] {
            let client = app.client.clone();
            let token = admin.clone();
            let d = *d;
            tasks.push(tokio::spawn(async move {
                client
                    .post(format!("{base}/v1/deals/{d}/reserve"))
                    .bearer_auth(token)
                    .json(&json!({}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            }));
        }
    }
    for t in tasks {
        let status = t.await.unwrap();
        assert!(
            [
                StatusCode::OK,
                StatusCode::CONFLICT,
                StatusCode::SERVICE_UNAVAILABLE
            ]
            .contains(&status),
            "{status}"
        );
    }
    // Whatever was told to retry is settled by one more run per deal.
    let (mut reserved, mut ordered) = (0, 0);
    for d in &deals {
        let (status, body) = app
            .post(&format!("/v1/deals/{d}/reserve"), &admin, json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let l = &body["lines"][0];
        reserved += l["reserved"].as_i64().unwrap();
        ordered += l["shortfall"].as_i64().unwrap();
        let (_, f) = app.get(&format!("/v1/deals/{d}/fulfilment"), &admin).await;
        let on_order: i64 = f["lines"][0]["on_order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["quantity"].as_i64().unwrap())
            .sum();
        assert_eq!(
            f["lines"][0]["reserved"].as_i64().unwrap() + on_order,
            3,
            "deal {d} covered exactly once: {f}"
        );
    }
    assert_eq!(reserved, 90);
    assert_eq!(ordered, 64 * 3 - 90);
    let (_, orders) = app.get("/v1/purchase-orders?status=open", &admin).await;
    let open = orders["items"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{orders}");
    assert_eq!(open[0]["lines"][0]["quantity"], 64 * 3 - 90);
    consistent(&app).await;
}
