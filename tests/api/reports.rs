//! Issue 18, the reports for heads and managers: shortages, production backlog, purchases
//! outstanding, expiring stock, pipeline and fill rate, as JSON and CSV, each in the caller's
//! scope, with exact figures from data built through the API.

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::data::{header, rows};
use crate::helpers::{TestApp, assert_problem};
use crate::stock::date_in;

crate::on_both!(
    reports_give_exact_figures_in_each_callers_scope,
    reports_come_as_csv_with_their_header_even_when_empty,
    bad_report_parameters_are_named,
);

const REPORTS: [&str; 6] = [
    "shortages",
    "production-backlog",
    "purchases-outstanding",
    "expiring-stock",
    "pipeline",
    "fill-rate",
];

/// Who reads the reports, and what they were built from.
struct Floor {
    head: String,
    rep1: String,
    rep2: String,
    keeper: String,
    rep1_id: i64,
    rep2_id: i64,
    head_id: i64,
    yog: i64,
    cake: i64,
    flour: i64,
    glue: i64,
    milk: i64,
    d1: i64,
    d2: i64,
    d5: i64,
    d6: i64,
    production: i64,
    purchase: i64,
}

async fn id_of(app: &TestApp, path: &str, token: &str, body: Value) -> i64 {
    let (status, created) = app.post(path, token, body).await;
    assert_eq!(status, StatusCode::CREATED, "POST {path}: {created}");
    created["id"].as_i64().unwrap()
}

async fn reserve(app: &TestApp, token: &str, deal: i64, wh: i64) {
    let (status, body) = app
        .post(
            &format!("/v1/deals/{deal}/reserve"),
            token,
            json!({"warehouse_id": wh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Ships everything of `item` reserved for `deal`: one parcel, one shipment, dispatched.
async fn ship(app: &TestApp, deal: i64, wh: i64, item: i64, quantity: i64) {
    let admin = &app.admin_token;
    let shipment = id_of(
        app,
        "/v1/shipments",
        admin,
        json!({"deal_ids": [deal], "warehouse_id": wh}),
    )
    .await;
    id_of(
        app,
        "/v1/parcels",
        admin,
        json!({"shipment_id": shipment, "contents": [
            {"item_id": item, "quantity": quantity, "deal_id": deal}]}),
    )
    .await;
    let (status, body) = app
        .post(
            &format!("/v1/shipments/{shipment}/dispatch"),
            admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Moves what the calendar would have moved: a deal won `days` ago, an order's dates in the past.
async fn backdate(app: &TestApp, f: &Floor) -> Result<(), depot::error::Error> {
    let ten_days_ago = depot::db::now() - time::Duration::days(10);
    let today = time::OffsetDateTime::now_utc().date();
    depot::in_tx!(app.state.db, tx => {
        sqlx::query("update deals set closed_at = $1 where id = $2")
            .bind(ten_days_ago)
            .bind(f.d6)
            .execute(&mut *tx)
            .await?;
        sqlx::query("update production_orders set planned_date = $1 where id = $2")
            .bind(today - time::Duration::days(3))
            .bind(f.production)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "update purchase_order_lines set expected_date = $1
             where purchase_order_id = $2 and item_id = $3",
        )
        .bind(today - time::Duration::days(1))
        .bind(f.purchase)
        .bind(f.yog)
        .execute(&mut *tx)
        .await?;
    });
    Ok(())
}

/// Items (yoghurt and flour from a supplier, cake made of flour, glue without supplier, milk
/// never sold), stock, a head with one rep and a rep outside the team, and their deals:
///
/// - d1 (rep 1, won): 10 yoghurt at 150 (6 in stock, 4 bought), 5 cakes at 1000 (made; their
///   flour 4 from stock, 6 bought);
/// - d2 (rep 2, won): 3 glue at 200, nothing can order it;
/// - d3 (rep 1, open, selection): 1 salt at 50; d7 (the head, open, production, USD): 1 salt
///   at 100;
/// - d4 (rep 2, lost for "price"): 4 salt at 50;
/// - d5 (rep 1, won): 5 salt at 50, shipped; d6 (rep 2, won ten days ago): 2 salt at 60,
///   shipped today.
async fn floor(app: &TestApp) -> Floor {
    let admin = app.admin_token.clone();
    let supplier = app
        .create_id(
            "/v1/suppliers",
            json!({"code": "DAIRY", "name": "Dairy Co", "lead_time_days": 5}),
        )
        .await;
    let item = |code: &str, extra: Value| {
        let mut body = json!({"code": code, "name": format!("{code} item")});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let yog = app
        .create_id(
            "/v1/items",
            item(
                "YOG",
                json!({"tracking": "batch", "source": "purchased", "supplier_id": supplier,
                       "lead_time_days": 5}),
            ),
        )
        .await;
    let flour = app
        .create_id(
            "/v1/items",
            item(
                "FLOUR",
                json!({"source": "purchased", "supplier_id": supplier, "lead_time_days": 3}),
            ),
        )
        .await;
    let cake = app
        .create_id(
            "/v1/items",
            item(
                "CAKE",
                json!({"source": "manufactured", "lead_time_days": 2}),
            ),
        )
        .await;
    let (status, bom) = app
        .send(
            Method::PUT,
            &format!("/v1/items/{cake}/bom"),
            Some(&admin),
            Some(json!({"lines": [{"component_item_id": flour, "quantity": 2}]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{bom}");
    let glue = app
        .create_id("/v1/items", item("GLUE", json!({"source": "purchased"})))
        .await;
    let salt = app
        .create_id(
            "/v1/items",
            item(
                "SALT",
                json!({"source": "purchased", "supplier_id": supplier}),
            ),
        )
        .await;
    let milk = app
        .create_id(
            "/v1/items",
            item("MILK", json!({"tracking": "batch", "source": "purchased"})),
        )
        .await;
    let (wh, bins) = app.warehouse("RP", &[("A", 1)]).await;
    app.receive(
        wh,
        bins[0],
        json!([
            {"item_id": yog, "quantity": 6, "batch": "Y1", "expiry": date_in(10)},
            {"item_id": flour, "quantity": 4},
            {"item_id": salt, "quantity": 7},
            {"item_id": milk, "quantity": 3, "batch": "M1", "expiry": date_in(5)}
        ]),
        false,
    )
    .await;

    let (head_id, head) = app.user("rp-head", "head", None).await;
    let (rep1_id, rep1) = app.user("rp-rep1", "rep", Some(head_id)).await;
    let (rep2_id, rep2) = app.user("rp-rep2", "rep", None).await;
    let (_, keeper) = app.user("rp-keeper", "warehouse", None).await;
    let address = json!([{"line1": "Marktplatz 5", "city": "München", "postal_code": "80331",
                          "country": "DE", "preferred_shipping": true}]);
    let customer = |name: &str| json!({"legal_name": name, "addresses": address});
    let c1 = id_of(app, "/v1/customers", &rep1, customer("Cafe Eins")).await;
    let c2 = id_of(app, "/v1/customers", &rep2, customer("Bar Zwei")).await;
    let ch = id_of(app, "/v1/customers", &head, customer("Hotel Drei")).await;
    let deal = |customer: i64, extra: Value, lines: Value| {
        let mut body = json!({"customer_id": customer, "lines": lines});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let line = |item: i64, quantity: i64, price: i64| json!({"item_id": item, "quantity": quantity, "unit_price": price});
    let won = json!({"status": "won"});
    let d1 = id_of(
        app,
        "/v1/deals",
        &rep1,
        deal(
            c1,
            json!({"status": "won", "title": "Cafe order"}),
            json!([line(yog, 10, 150), line(cake, 5, 1000)]),
        ),
    )
    .await;
    reserve(app, &rep1, d1, wh).await;
    let d2 = id_of(
        app,
        "/v1/deals",
        &rep2,
        deal(c2, won.clone(), json!([line(glue, 3, 200)])),
    )
    .await;
    reserve(app, &rep2, d2, wh).await;
    id_of(
        app,
        "/v1/deals",
        &rep1,
        deal(c1, json!({}), json!([line(salt, 1, 50)])),
    )
    .await;
    id_of(
        app,
        "/v1/deals",
        &head,
        deal(
            ch,
            json!({"stage": "production", "currency": "USD"}),
            json!([line(salt, 1, 100)]),
        ),
    )
    .await;
    id_of(
        app,
        "/v1/deals",
        &rep2,
        deal(
            c2,
            json!({"status": "lost", "lost_reason": "price"}),
            json!([line(salt, 4, 50)]),
        ),
    )
    .await;
    let d5 = id_of(
        app,
        "/v1/deals",
        &rep1,
        deal(c1, won.clone(), json!([line(salt, 5, 50)])),
    )
    .await;
    reserve(app, &rep1, d5, wh).await;
    ship(app, d5, wh, salt, 5).await;
    let d6 = id_of(
        app,
        "/v1/deals",
        &rep2,
        deal(c2, won, json!([line(salt, 2, 60)])),
    )
    .await;
    reserve(app, &rep2, d6, wh).await;
    ship(app, d6, wh, salt, 2).await;
    // Yoghurt arriving after d1 was reserved stays free: the shortage shows it available.
    app.receive(
        wh,
        bins[0],
        json!([{"item_id": yog, "quantity": 2, "batch": "Y2", "expiry": date_in(40)}]),
        false,
    )
    .await;

    let (_, fulfilment) = app.get(&format!("/v1/deals/{d1}/fulfilment"), &admin).await;
    let production = fulfilment["lines"][1]["in_production"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("cakes are made: {fulfilment}"));
    let purchase = fulfilment["lines"][0]["on_order"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("yoghurt is bought: {fulfilment}"));
    let f = Floor {
        head,
        rep1,
        rep2,
        keeper,
        rep1_id,
        rep2_id,
        head_id,
        yog,
        cake,
        flour,
        glue,
        milk,
        d1,
        d2,
        d5,
        d6,
        production,
        purchase,
    };
    backdate(app, &f).await.unwrap();
    f
}

/// GETs `path` asking for CSV by the Accept header.
async fn accepting_csv(app: &TestApp, path: &str, token: &str) -> (StatusCode, Value) {
    app.send_with(
        Method::GET,
        path,
        Some(token),
        None,
        &[("accept", "text/csv")],
    )
    .await
}

async fn report(app: &TestApp, path: &str, token: &str) -> Value {
    let (status, body) = app.get(path, token).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// `(deal_id, item_id)` of each shortage, in the report's order.
fn shortage_keys(r: &Value) -> Vec<(i64, i64)> {
    r["shortages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["deal_id"].as_i64().unwrap(),
                s["item_id"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn deal_ids(r: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = r["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["deal_id"].as_i64().unwrap())
        .collect();
    ids.dedup();
    ids
}

async fn reports_give_exact_figures_in_each_callers_scope(app: TestApp) {
    let f = floor(&app).await;
    let admin = app.admin_token.clone();

    // Shortages: late first (the cakes' order 3 days, the yoghurt's 1 day), then the glue that
    // nothing will bring.
    let r = report(&app, "/v1/reports/shortages", &admin).await;
    assert_eq!(r["as_of"], date_in(0));
    assert_eq!(
        shortage_keys(&r),
        [(f.d1, f.cake), (f.d1, f.yog), (f.d2, f.glue)]
    );
    let cake = &r["shortages"][0];
    assert_eq!(
        cake,
        &json!({"deal_id": f.d1, "deal_title": "Cafe order", "deal_status": "won",
                "owner_id": f.rep1_id, "customer_id": cake["customer_id"],
                "customer_name": "Cafe Eins", "warehouse_id": cake["warehouse_id"],
                "line_id": cake["line_id"], "line_no": 2, "item_id": f.cake,
                "item_code": "CAKE", "item_name": "CAKE item", "quantity": 5, "shipped": 0,
                "reserved": 0, "short": 5, "available": 0, "coming": 5, "uncovered": 0,
                "production_order_id": f.production, "purchase_order_id": null,
                "expected_date": date_in(-3), "late": true, "days_late": 3})
    );
    let yog = &r["shortages"][1];
    assert_eq!(
        (
            &yog["quantity"],
            &yog["reserved"],
            &yog["short"],
            &yog["available"],
            &yog["coming"],
            &yog["uncovered"]
        ),
        (
            &json!(10),
            &json!(6),
            &json!(4),
            &json!(2),
            &json!(4),
            &json!(0)
        )
    );
    assert_eq!(yog["purchase_order_id"], f.purchase);
    assert_eq!(yog["production_order_id"], Value::Null);
    assert_eq!(yog["expected_date"], date_in(-1));
    assert_eq!(yog["days_late"], 1);
    let glue = &r["shortages"][2];
    assert_eq!(
        (&glue["short"], &glue["coming"], &glue["uncovered"]),
        (&json!(3), &json!(0), &json!(3))
    );
    assert_eq!(glue["expected_date"], Value::Null);
    assert_eq!(glue["late"], false);
    assert_eq!(glue["days_late"], Value::Null);
    // Each rep their own deals, the head their team's, the warehouse every deal.
    let mine = report(&app, "/v1/reports/shortages", &f.rep1).await;
    assert_eq!(shortage_keys(&mine), [(f.d1, f.cake), (f.d1, f.yog)]);
    let mine = report(&app, "/v1/reports/shortages", &f.rep2).await;
    assert_eq!(shortage_keys(&mine), [(f.d2, f.glue)]);
    let team = report(&app, "/v1/reports/shortages", &f.head).await;
    assert_eq!(shortage_keys(&team), [(f.d1, f.cake), (f.d1, f.yog)]);
    let floor = report(&app, "/v1/reports/shortages", &f.keeper).await;
    assert_eq!(shortage_keys(&floor), shortage_keys(&r));

    // The production backlog: the cakes, late, waiting for 6 flour on the purchase order.
    let r = report(&app, "/v1/reports/production-backlog", &admin).await;
    let orders = r["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 1, "{r}");
    assert_eq!(
        orders[0],
        json!({"production_order_id": f.production, "item_id": f.cake, "item_code": "CAKE",
               "item_name": "CAKE item", "warehouse_id": orders[0]["warehouse_id"],
               "status": "planned", "quantity": 5, "produced": 0, "remaining": 5,
               "planned_date": date_in(-3), "late": true, "days_late": 3,
               "needs_decision": false, "deal_ids": [f.d1],
               "components_short": [{"item_id": f.flour, "item_code": "FLOUR",
                   "item_name": "FLOUR item", "needed": 10, "reserved": 4, "short": 6,
                   "coming": 6, "production_order_id": null, "purchase_order_id": f.purchase,
                   "expected_date": date_in(3)}]})
    );
    let team = report(&app, "/v1/reports/production-backlog", &f.head).await;
    assert_eq!(team["orders"][0]["deal_ids"], json!([f.d1]));
    let floor = report(&app, "/v1/reports/production-backlog", &f.keeper).await;
    assert_eq!(floor["orders"], r["orders"]);

    // Purchases outstanding: the supplier's open order, the late yoghurt first.
    let r = report(&app, "/v1/reports/purchases-outstanding", &admin).await;
    assert_eq!(
        r["suppliers"],
        json!([{"supplier_id": r["suppliers"][0]["supplier_id"], "supplier_code": "DAIRY",
                "supplier_name": "Dairy Co", "lines": 2, "late_lines": 1,
                "next_expected_date": date_in(-1)}])
    );
    let lines: Vec<(i64, i64, i64, Value, bool)> = r["purchase_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            assert_eq!(l["purchase_order_id"], f.purchase);
            assert_eq!(l["status"], "open");
            (
                l["item_id"].as_i64().unwrap(),
                l["quantity"].as_i64().unwrap(),
                l["outstanding"].as_i64().unwrap(),
                l["expected_date"].clone(),
                l["late"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            (f.yog, 4, 4, json!(date_in(-1)), true),
            (f.flour, 6, 6, json!(date_in(3)), false)
        ]
    );
    assert_eq!(r["purchase_lines"][0]["days_late"], 1);

    // Expiring stock within 30 days: milk (never sold: no value), then the reserved yoghurt,
    // worth its last selling price; within 40 days the free yoghurt too.
    let r = report(&app, "/v1/reports/expiring-stock", &admin).await;
    assert_eq!((&r["days"], &r["until"]), (&json!(30), &json!(date_in(30))));
    let batches = r["batches"].as_array().unwrap();
    assert_eq!(batches.len(), 2, "{r}");
    assert_eq!(
        batches[0],
        json!({"batch_id": batches[0]["batch_id"], "batch_code": "M1", "item_id": f.milk,
               "item_code": "MILK", "item_name": "MILK item", "unit": batches[0]["unit"],
               "warehouse_id": batches[0]["warehouse_id"], "expiry_date": date_in(5),
               "days_left": 5, "expired": false, "status": "available", "on_hand": 3,
               "reserved": 0, "unit_price": null, "currency": null, "value": null})
    );
    assert_eq!(batches[1]["batch_code"], "Y1");
    assert_eq!(
        (
            &batches[1]["on_hand"],
            &batches[1]["reserved"],
            &batches[1]["unit_price"],
            &batches[1]["currency"],
            &batches[1]["value"]
        ),
        (
            &json!(6),
            &json!(6),
            &json!(150),
            &json!("EUR"),
            &json!(900)
        )
    );
    let r = report(&app, "/v1/reports/expiring-stock?days=40", &admin).await;
    let codes: Vec<&str> = r["batches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["batch_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["M1", "Y1", "Y2"]);
    assert_eq!(r["batches"][2]["value"], 300);
    assert_eq!(r["batches"][2]["days_left"], 40);
    // The warehouse sees the stock but not what it is worth.
    let r = report(&app, "/v1/reports/expiring-stock", &f.keeper).await;
    assert_eq!(r["batches"][1]["on_hand"], 6);
    assert_eq!(r["batches"][1]["value"], Value::Null);
    assert_eq!(r["batches"][1]["unit_price"], Value::Null);

    // The pipeline: open deals by stage, won in the period by rep, lost with their reason.
    let group = |stage: Option<&str>,
                 owner: (i64, &str),
                 reason: Option<&str>,
                 currency: &str,
                 deals: i64,
                 amount: i64| {
        json!({"stage": stage, "owner_id": owner.0, "owner": owner.1, "lost_reason": reason,
               "currency": currency, "deals": deals, "amount": amount})
    };
    let (rep1, rep2, head) = (
        (f.rep1_id, "rp-rep1"),
        (f.rep2_id, "rp-rep2"),
        (f.head_id, "rp-head"),
    );
    let r = report(&app, "/v1/reports/pipeline", &admin).await;
    assert_eq!(
        (&r["from"], &r["until"]),
        (&json!(date_in(-29)), &json!(date_in(0)))
    );
    assert_eq!(
        r["open"],
        json!([
            group(Some("selection"), rep1, None, "EUR", 1, 50),
            group(Some("production"), head, None, "USD", 1, 100)
        ])
    );
    assert_eq!(
        r["won"],
        json!([
            group(None, rep1, None, "EUR", 2, 6750),
            group(None, rep2, None, "EUR", 2, 720)
        ])
    );
    assert_eq!(
        r["lost"],
        json!([group(None, rep2, Some("price"), "EUR", 1, 200)])
    );
    // A period that starts after d6 was won.
    let r = report(
        &app,
        &format!("/v1/reports/pipeline?from={}", date_in(-5)),
        &admin,
    )
    .await;
    assert_eq!(
        r["won"],
        json!([
            group(None, rep1, None, "EUR", 2, 6750),
            group(None, rep2, None, "EUR", 1, 600)
        ])
    );
    let r = report(&app, "/v1/reports/pipeline", &f.rep1).await;
    assert_eq!(
        (&r["open"], &r["won"], &r["lost"]),
        (
            &json!([group(Some("selection"), rep1, None, "EUR", 1, 50)]),
            &json!([group(None, rep1, None, "EUR", 2, 6750)]),
            &json!([])
        )
    );
    let r = report(&app, "/v1/reports/pipeline", &f.head).await;
    assert_eq!(r["open"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(r["won"], json!([group(None, rep1, None, "EUR", 2, 6750)]));
    assert_eq!(r["lost"], json!([]));

    // Fill rate: of five lines won in the period, d5's shipped complete on time, d6's complete
    // but eight days after it was due; with 12 days' grace both are on time.
    let r = report(&app, "/v1/reports/fill-rate", &admin).await;
    assert_eq!(
        (
            &r["total_lines"],
            &r["shipped_complete"],
            &r["on_time"],
            &r["fill_rate"],
            &r["grace_days"]
        ),
        (&json!(5), &json!(2), &json!(1), &json!(0.2), &json!(2))
    );
    assert_eq!(deal_ids(&r), [f.d1, f.d2, f.d5, f.d6]);
    let d5 = &r["lines"][3];
    assert_eq!(
        (
            &d5["quantity"],
            &d5["shipped"],
            &d5["complete"],
            &d5["completed_on"],
            &d5["due_on"],
            &d5["on_time"]
        ),
        (
            &json!(5),
            &json!(5),
            &json!(true),
            &json!(date_in(0)),
            &json!(date_in(2)),
            &json!(true)
        )
    );
    let d6 = &r["lines"][4];
    assert_eq!(d6["won_on"], date_in(-10));
    assert_eq!(d6["due_on"], date_in(-8));
    assert_eq!(
        (&d6["complete"], &d6["on_time"]),
        (&json!(true), &json!(false))
    );
    // The cakes were due when the deal was won (their order's date is earlier), plus grace.
    let cake = &r["lines"][1];
    assert_eq!(
        (
            &cake["item_id"],
            &cake["shipped"],
            &cake["complete"],
            &cake["completed_on"]
        ),
        (&json!(f.cake), &json!(0), &json!(false), &Value::Null)
    );
    assert_eq!(cake["due_on"], date_in(2));
    let r = report(&app, "/v1/reports/fill-rate?grace_days=12", &admin).await;
    assert_eq!((&r["on_time"], &r["fill_rate"]), (&json!(2), &json!(0.4)));
    let r = report(
        &app,
        &format!("/v1/reports/fill-rate?from={}", date_in(-5)),
        &admin,
    )
    .await;
    assert_eq!(deal_ids(&r), [f.d1, f.d2, f.d5]);
    assert_eq!(r["fill_rate"], 0.25);
    let r = report(&app, "/v1/reports/fill-rate", &f.rep2).await;
    assert_eq!(deal_ids(&r), [f.d2, f.d6]);
    assert_eq!(
        (
            &r["total_lines"],
            &r["shipped_complete"],
            &r["on_time"],
            &r["fill_rate"]
        ),
        (&json!(2), &json!(1), &json!(0), &json!(0.0))
    );
    let r = report(&app, "/v1/reports/fill-rate", &f.head).await;
    assert_eq!(deal_ids(&r), [f.d1, f.d5]);
    let r = report(&app, "/v1/reports/fill-rate", &f.keeper).await;
    assert_eq!(r["total_lines"], 5);

    // Roles that may not read a report: 403.
    for (path, token) in [
        ("/v1/reports/pipeline", &f.keeper),
        ("/v1/reports/production-backlog", &f.rep1),
        ("/v1/reports/purchases-outstanding", &f.rep2),
        ("/v1/reports/expiring-stock", &f.rep1),
    ] {
        let (status, body) = app.get(path, token).await;
        assert_problem(status, &body, 403, None);
    }
    let scanner = app
        .create(
            "/v1/devices",
            json!({"name": "Handheld", "kind": "scanner", "profile": "zebra-datawedge-keystroke"}),
        )
        .await;
    let (status, body) = app
        .get("/v1/reports/shortages", scanner["token"].as_str().unwrap())
        .await;
    assert_problem(status, &body, 403, None);
    let (status, body) = app
        .send(Method::GET, "/v1/reports/shortages", None, None)
        .await;
    assert_problem(status, &body, 401, None);
}

async fn reports_come_as_csv_with_their_header_even_when_empty(app: TestApp) {
    let admin = app.admin_token.clone();
    let mut empty = HashMap::new();
    for name in REPORTS {
        let (status, content_type, body) = app
            .download(&format!("/v1/reports/{name}?format=csv"), &admin)
            .await;
        assert_eq!(status, StatusCode::OK, "{name}");
        assert_eq!(content_type.as_deref(), Some("text/csv; charset=utf-8"));
        assert!(rows(&body).is_empty(), "{name}");
        empty.insert(name, header(&body));
    }
    let f = floor(&app).await;
    for name in REPORTS {
        let (_, _, body) = app
            .download(&format!("/v1/reports/{name}?format=csv&days=40"), &admin)
            .await;
        assert!(!rows(&body).is_empty(), "{name} has rows");
        assert_eq!(
            header(&body),
            empty[name],
            "{name}: the same header with rows"
        );
    }

    // ?format=csv: an attachment, one row per shortage, the same figures as the JSON.
    let response = app
        .client
        .get(app.url("/v1/reports/shortages?format=csv"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()[reqwest::header::CONTENT_DISPOSITION],
        "attachment; filename=\"shortages.csv\""
    );
    let shortages = rows(&response.bytes().await.unwrap());
    assert_eq!(shortages.len(), 3);
    assert_eq!(shortages[0]["item_code"], "CAKE");
    assert_eq!(shortages[0]["short"], "5");
    assert_eq!(
        shortages[0]["production_order_id"],
        f.production.to_string()
    );
    assert_eq!(shortages[0]["purchase_order_id"], "");
    assert_eq!(shortages[0]["expected_date"], date_in(-3));
    assert_eq!(shortages[0]["late"], "true");
    assert_eq!(shortages[2]["item_id"], f.glue.to_string());

    // Accept: text/csv chooses CSV too: the pipeline's sections in one table.
    let (status, body) = accepting_csv(&app, "/v1/reports/pipeline", &f.rep2).await;
    assert_eq!(status, StatusCode::OK);
    let pipeline = rows(body.as_str().unwrap().as_bytes());
    let sections: Vec<(&str, &str, &str, &str)> = pipeline
        .iter()
        .map(|r| {
            (
                r["section"].as_str(),
                r["lost_reason"].as_str(),
                r["deals"].as_str(),
                r["amount"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        sections,
        [("won", "", "2", "720"), ("lost", "price", "1", "200")]
    );

    // The backlog's components as code*short, the fill rate's lines.
    let (_, _, body) = app
        .download("/v1/reports/production-backlog?format=csv", &f.keeper)
        .await;
    let backlog = rows(&body);
    assert_eq!(backlog[0]["components_short"], "FLOUR*6");
    assert_eq!(backlog[0]["components_expected"], date_in(3));
    assert_eq!(backlog[0]["deal_ids"], f.d1.to_string());
    let (_, _, body) = app
        .download("/v1/reports/fill-rate?format=csv", &f.rep1)
        .await;
    let lines = rows(&body);
    let on_time: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["item_code"].as_str(), l["on_time"].as_str()))
        .collect();
    assert_eq!(
        on_time,
        [("YOG", "false"), ("CAKE", "false"), ("SALT", "true")]
    );
    // ?format=json wins over the Accept header.
    let (status, body) = accepting_csv(&app, "/v1/reports/fill-rate?format=json", &f.rep1).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total_lines"], 3);
}

async fn bad_report_parameters_are_named(app: TestApp) {
    let admin = app.admin_token.clone();
    for (path, status, field) in [
        ("/v1/reports/everything", 422, "name"),
        ("/v1/reports/expiring-stock?days=-1", 422, "days"),
        ("/v1/reports/expiring-stock?days=ten", 400, "days"),
        ("/v1/reports/pipeline?from=2026-13-01", 400, "from"),
        ("/v1/reports/pipeline?until=yesterday", 400, "until"),
        (
            "/v1/reports/pipeline?from=2026-03-02&until=2026-03-01",
            422,
            "from",
        ),
        ("/v1/reports/fill-rate?grace_days=-2", 422, "grace_days"),
        ("/v1/reports/fill-rate?grace_days=366", 422, "grace_days"),
        ("/v1/reports/shortages?format=xml", 400, "format"),
    ] {
        let (got, body) = app.get(path, &admin).await;
        assert_problem(got, &body, status, Some(field));
    }
    // Every bad parameter at once.
    let (status, body) = app
        .get("/v1/reports/fill-rate?days=-1&grace_days=-1", &admin)
        .await;
    assert_problem(status, &body, 422, Some("days"));
    assert_problem(status, &body, 422, Some("grace_days"));
}
