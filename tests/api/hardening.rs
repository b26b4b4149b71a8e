//! Defects found by driving Depot from outside (issue 12): bad input gets a clear 4xx the same on
//! both databases, every movement traces to its deal, one meaning of "available".

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};
use crate::stock::date_in;

/// A batch-tracked item with stock in one bin; returns (item, warehouse, bin).
async fn stocked(app: &TestApp, code: &str, quantity: i64) -> (i64, i64, i64) {
    let item = app
        .create_id(
            "/v1/items",
            json!({"code": code, "name": code, "tracking": "batch"}),
        )
        .await;
    let (wh, bins) = app.warehouse(&format!("W-{code}"), &[("A", 1)]).await;
    app.receive(
        wh,
        bins[0],
        json!([{"item_id": item, "quantity": quantity, "batch": "B1", "expiry": date_in(60)}]),
        false,
    )
    .await;
    (item, wh, bins[0])
}

async fn nul_and_control_characters_are_refused_naming_the_field(app: TestApp) {
    let admin = app.admin_token.clone();
    // Without logging in.
    let (status, body) = app
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"username": "ad\u{0}min", "password": "x"})),
        )
        .await;
    assert_problem(status, &body, 422, Some("username"));
    for (path, body, field) in [
        ("/v1/items", json!({"code": "A\u{0}", "name": "x"}), "code"),
        (
            "/v1/items",
            json!({"code": "OK", "name": "bell \u{7}"}),
            "name",
        ),
        (
            "/v1/customers",
            json!({"legal_name": "Null \u{0} Ltd"}),
            "legal_name",
        ),
        (
            "/v1/leads",
            json!({"name": "x\u{0}", "phone": "+49 1"}),
            "name",
        ),
        (
            "/v1/devices",
            json!({"name": "s\u{0}", "kind": "scanner", "profile": "generic-wedge"}),
            "name",
        ),
        (
            "/v1/scans",
            json!({"data": "]C1\u{0}0109506000134352"}),
            "data",
        ),
    ] {
        let (status, problem) = app.post(path, &admin, body).await;
        assert_problem(status, &problem, 422, Some(field));
    }
    // Nested fields are named by their path.
    let (status, problem) = app
        .post(
            "/v1/customers",
            &admin,
            json!({"legal_name": "Nested Ltd", "contacts": [{"name": "a\u{1b}b"}]}),
        )
        .await;
    assert_problem(status, &problem, 422, Some("contacts[0].name"));
    for path in ["/v1/items?q=%00", "/v1/customers?q=a%00b"] {
        let (status, problem) = app.get(path, &admin).await;
        assert_problem(status, &problem, 422, Some("q"));
    }
    // Free text keeps tab, CR and LF; scan data keeps GS, RS and EOT.
    let (status, item) = app
        .post(
            "/v1/items",
            &admin,
            json!({"code": "TABS", "name": "Tab\tand\r\nbreak",
                   "gtins": [{"gtin": "09506000134352", "quantity": 1}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{item}");
    let (status, scan) = app
        .post(
            "/v1/scans",
            &admin,
            json!({"data": "]d20109506000134352\u{1d}10LOT-7"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{scan}");
    assert_eq!(scan["gs1"]["batch"], "LOT-7", "{scan}");
    let (status, scan) = app
        .post(
            "/v1/scans",
            &admin,
            json!({"data": "[)>\u{1e}06\u{1d}01095060001343521\u{1e}\u{4}"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{scan}");
    assert!(
        scan["data"].as_str().unwrap().ends_with("\u{1e}\u{4}"),
        "{scan}"
    );
}

async fn every_list_refuses_junk_paging(app: TestApp) {
    let admin = app.admin_token.clone();
    let (item, _, _) = stocked(&app, "PAGE", 5).await;
    for list in ["/v1/stock", "/v1/batches", "/v1/items", "/v1/stock/ledger"] {
        for junk in ["abc", "1.5", "-", "NaN", "999999999999", "0", "-3", "%00"] {
            let (status, problem) = app.get(&format!("{list}?limit={junk}"), &admin).await;
            assert!(
                status == StatusCode::BAD_REQUEST || status == StatusCode::UNPROCESSABLE_ENTITY,
                "{list}?limit={junk}: {status} {problem}"
            );
            assert_problem(status, &problem, status.as_u16(), Some("limit"));
        }
        let (status, problem) = app.get(&format!("{list}?cursor=x"), &admin).await;
        assert_problem(status, &problem, 400, Some("cursor"));
    }
    // Stock and batches page like every other list, in their own order.
    let (wh, bins) = app
        .warehouse("PAGED", &[("P1", 3), ("P2", 1), ("P3", 2)])
        .await;
    for (i, bin) in bins.iter().enumerate() {
        app.receive(
            wh,
            *bin,
            json!([{"item_id": item, "quantity": 1, "batch": format!("PB{i}"),
                    "expiry": date_in(30 + i as i64)}]),
            false,
        )
        .await;
    }
    let mut codes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/stock?warehouse_id={wh}&limit=1&cursor={c}"),
            None => format!("/v1/stock?warehouse_id={wh}&limit=1"),
        };
        let (status, page) = app.get(&path, &admin).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
        codes.push(
            page["items"][0]["location_code"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(codes, ["P2", "P3", "P1"], "pick-route order across pages");
    let (_, first) = app
        .get(&format!("/v1/batches?item_id={item}&limit=2"), &admin)
        .await;
    let (_, rest) = app
        .get(
            &format!(
                "/v1/batches?item_id={item}&limit=2&cursor={}",
                first["next_cursor"].as_str().unwrap()
            ),
            &admin,
        )
        .await;
    let all: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["items"].as_array().unwrap())
        .map(|b| b["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        all,
        ["PB0", "PB1", "PB2", "B1"],
        "expiry order across pages"
    );
}

async fn day_counts_are_bounded_and_never_panic(app: TestApp) {
    let admin = app.admin_token.clone();
    for days in [json!(9_223_372_036_854_775_807_i64), json!(3651), json!(-1)] {
        let (status, problem) = app
            .post(
                "/v1/items",
                &admin,
                json!({"code": "HUGE", "name": "Huge", "source": "manufactured",
                       "lead_time_days": days}),
            )
            .await;
        assert_problem(status, &problem, 422, Some("lead_time_days"));
    }
    let (status, problem) = app
        .post(
            "/v1/suppliers",
            &admin,
            json!({"code": "SLOW", "name": "Slow", "lead_time_days": 100_000_000}),
        )
        .await;
    assert_problem(status, &problem, 422, Some("lead_time_days"));
    let (status, problem) = app
        .get(
            "/v1/batches?expiring_within_days=9223372036854775807",
            &admin,
        )
        .await;
    assert_problem(status, &problem, 422, Some("expiring_within_days"));
    // The longest lead time plans a date, and the production order route answers.
    let item = app
        .create_id(
            "/v1/items",
            json!({"code": "SLOWMADE", "name": "Slow", "source": "manufactured",
                   "lead_time_days": 3650}),
        )
        .await;
    let (wh, _) = app.warehouse("LT", &[("A", 1)]).await;
    let (status, order) = app
        .post(
            "/v1/production-orders",
            &admin,
            json!({"item_id": item, "warehouse_id": wh, "quantity": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    assert!(order["planned_date"].is_string(), "{order}");
}

async fn a_cancelled_reservation_run_releases_its_lease(app: TestApp) {
    let admin = app.admin_token.clone();
    let (wh, bins) = app.warehouse("LEASE", &[("A", 1)]).await;
    // A deal long enough that its run is still going when the caller hangs up.
    let mut lines = Vec::new();
    for i in 0..60 {
        let item = app
            .create_id(
                "/v1/items",
                json!({"code": format!("L{i}"), "name": "Leased"}),
            )
            .await;
        app.receive(
            wh,
            bins[0],
            json!([{"item_id": item, "quantity": 10}]),
            false,
        )
        .await;
        lines.push(json!({"item_id": item, "quantity": 1}));
    }
    let customer = app
        .create_id("/v1/customers", json!({"legal_name": "Leasing"}))
        .await;
    let deal = app
        .create_id(
            "/v1/deals",
            json!({"customer_id": customer, "title": "Long", "lines": lines}),
        )
        .await;
    let impatient = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(40))
        .build()
        .unwrap();
    let hung_up = impatient
        .post(app.url(&format!("/v1/deals/{deal}/reserve")))
        .bearer_auth(&admin)
        .json(&json!({"warehouse_id": wh}))
        .send()
        .await;
    // Whether the run was cut short or finished, the next reserve runs within moments instead of
    // waiting a minute for the lease to time out.
    let started = std::time::Instant::now();
    loop {
        let (status, body) = app
            .post(
                &format!("/v1/deals/{deal}/reserve"),
                &admin,
                json!({"warehouse_id": wh}),
            )
            .await;
        if status == StatusCode::OK {
            break;
        }
        assert_problem(status, &body, 409, Some("deal_id"));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the lease of the cancelled run (cancelled: {}) is still held",
            hung_up.is_err()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, body) = app.get("/v1/admin/consistency", &admin).await;
    assert_eq!(body["consistent"], true, "{body}");
}

async fn unknown_fields_are_refused_by_name(app: TestApp) {
    let admin = app.admin_token.clone();
    let (item, wh, bin) = stocked(&app, "TYPO", 5).await;
    let (_, batches) = app
        .get(&format!("/v1/batches?item_id={item}"), &admin)
        .await;
    let batch = batches["items"][0]["id"].as_i64().unwrap();
    let (status, problem) = app
        .patch(
            &format!("/v1/batches/{batch}"),
            &admin,
            json!({"certificate_number": "C-1"}),
        )
        .await;
    assert_problem(status, &problem, 422, Some("certificate_number"));
    // A body in the wrong shape is not "every field at its default" either.
    for body in [json!([]), json!(["C-1"]), json!(1)] {
        let (status, problem) = app
            .patch(&format!("/v1/batches/{batch}"), &admin, body)
            .await;
        assert_problem(status, &problem, 422, Some("body"));
    }
    let (_, read) = app.get(&format!("/v1/batches/{batch}"), &admin).await;
    assert!(read["certificate"].is_null(), "{read}");
    let (status, problem) = app
        .post(
            "/v1/receipts",
            &admin,
            json!({"warehouse_id": wh, "location_id": bin,
                   "lines": [{"item_id": item, "quantity": 1, "batch": "B1", "expiry_date": date_in(60)}]}),
        )
        .await;
    assert_problem(status, &problem, 422, Some("lines[0].expiry_date"));
}

async fn batch_and_serial_codes_must_be_printable(app: TestApp) {
    let admin = app.admin_token.clone();
    let (item, wh, bin) = stocked(&app, "LOTS", 5).await;
    let serial = app
        .create_id(
            "/v1/items",
            json!({"code": "SN", "name": "Serialised", "tracking": "serial"}),
        )
        .await;
    for (item, code) in [
        (item, "A^B"),
        (item, "A~B"),
        (item, "A\\B"),
        (item, "with space"),
        (item, "ABCDEFGHIJKLMNOPQRSTU"),
        (serial, "SN#1"),
        (serial, "123456789012345678901"),
    ] {
        let (status, problem) = app
            .post(
                "/v1/receipts",
                &admin,
                json!({"warehouse_id": wh, "location_id": bin,
                       "lines": [{"item_id": item, "quantity": 1, "batch": code}]}),
            )
            .await;
        assert_problem(status, &problem, 422, Some("lines[0].batch"));
    }
    let (status, body) = app
        .post(
            "/v1/receipts",
            &admin,
            json!({"warehouse_id": wh, "location_id": bin,
                   "lines": [{"item_id": item, "quantity": 1, "batch": "ABCDEFGHIJ-./_%&12345"[..20].to_string()},
                             {"item_id": serial, "quantity": 1, "batch": "SN-0001"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn unknown_device_profiles_are_refused_at_registration(app: TestApp) {
    let admin = app.admin_token.clone();
    for (kind, profile) in [
        ("printer", "pdf"),
        ("scanner", "zebra-203-4x6"),
        ("scanner", "nope"),
    ] {
        let (status, problem) = app
            .post(
                "/v1/devices",
                &admin,
                json!({"name": "d", "kind": kind, "profile": profile}),
            )
            .await;
        assert_problem(status, &problem, 422, Some("profile"));
        assert!(
            problem["detail"].as_str().unwrap().contains("known"),
            "{problem}"
        );
    }
}

async fn an_empty_body_means_every_default(app: TestApp) {
    let admin = app.admin_token.clone();
    let (item, _, _) = stocked(&app, "EMPTY", 5).await;
    let customer = app
        .create_id("/v1/customers", json!({"legal_name": "Empty Body"}))
        .await;
    let deal = app
        .create_id(
            "/v1/deals",
            json!({"customer_id": customer, "title": "E", "lines": [{"item_id": item, "quantity": 2}]}),
        )
        .await;
    let response = app
        .client
        .post(app.url(&format!("/v1/deals/{deal}/reserve")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    // A body that is required still says which field is missing.
    let response = app
        .client
        .post(app.url("/v1/items"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_problem(status, &body, 422, None);
}

async fn idempotency_keys_are_visible_ascii(app: TestApp) {
    let admin = app.admin_token.clone();
    for key in ["a\tb", "a b", "ü", &"k".repeat(256)] {
        let (status, problem) = app
            .send_with(
                Method::POST,
                "/v1/customers",
                Some(&admin),
                Some(json!({"legal_name": "Keyed"})),
                &[("Idempotency-Key", key)],
            )
            .await;
        assert_problem(status, &problem, 400, Some("Idempotency-Key"));
    }
    let (status, _) = app
        .send_with(
            Method::POST,
            "/v1/customers",
            Some(&admin),
            Some(json!({"legal_name": "Keyed"})),
            &[("Idempotency-Key", &"k".repeat(255))],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn orders_show_a_rep_only_the_deals_they_may_see(app: TestApp) {
    let (_, rep1) = app.user("rep1", "rep", None).await;
    let (_, rep2) = app.user("rep2", "rep", None).await;
    let supplier = app
        .create_id("/v1/suppliers", json!({"code": "SUP", "name": "Supplier"}))
        .await;
    let bought = app
        .create_id(
            "/v1/items",
            json!({"code": "BUY", "name": "Bought", "source": "purchased", "supplier_id": supplier}),
        )
        .await;
    let made = app
        .create_id(
            "/v1/items",
            json!({"code": "MAKE", "name": "Made", "source": "manufactured"}),
        )
        .await;
    let (wh, _) = app.warehouse("VIS", &[("A", 1)]).await;
    let mut deals = Vec::new();
    for (token, name) in [(&rep1, "One"), (&rep2, "Two")] {
        let (_, customer) = app
            .post("/v1/customers", token, json!({"legal_name": name}))
            .await;
        let (status, deal) = app
            .post(
                "/v1/deals",
                token,
                json!({"customer_id": customer["id"], "title": name,
                       "lines": [{"item_id": bought, "quantity": 2}, {"item_id": made, "quantity": 3}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{deal}");
        let (status, r) = app
            .post(
                &format!("/v1/deals/{}/reserve", deal["id"]),
                token,
                json!({"warehouse_id": wh}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        deals.push(deal["id"].as_i64().unwrap());
    }
    let seen = |order: &Value| -> Vec<i64> {
        order["serves"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["deal_id"].as_i64())
            .collect()
    };
    let seen_in_list = |list: &Value| -> Vec<i64> {
        let mut all: Vec<i64> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(seen)
            .collect();
        all.sort_unstable();
        all
    };
    // One purchase order collects both deals' lines; each rep sees only their own deal in it.
    let (_, all) = app.get("/v1/purchase-orders", &app.admin_token).await;
    let order = &all["items"][0];
    assert_eq!(seen(order), deals, "{order}");
    let (_, one) = app
        .get(&format!("/v1/purchase-orders/{}", order["id"]), &rep1)
        .await;
    assert_eq!(seen(&one), vec![deals[0]], "{one}");
    let (_, list) = app.get("/v1/purchase-orders", &rep2).await;
    assert_eq!(seen_in_list(&list), vec![deals[1]], "{list}");
    // Production orders: each rep sees the deals of their own orders only.
    let (_, list) = app.get("/v1/production-orders", &app.admin_token).await;
    assert_eq!(seen_in_list(&list), deals, "{list}");
    let (_, list) = app.get("/v1/production-orders", &rep1).await;
    assert_eq!(seen_in_list(&list), vec![deals[0]], "{list}");
    for order in list["items"].as_array().unwrap() {
        let (_, one) = app
            .get(&format!("/v1/production-orders/{}", order["id"]), &rep2)
            .await;
        assert!(!seen(&one).contains(&deals[0]), "{one}");
    }
}

async fn production_output_names_the_deal_it_was_made_for(app: TestApp) {
    let admin = app.admin_token.clone();
    let made = app
        .create_id(
            "/v1/items",
            json!({"code": "CAKE", "name": "Cake", "source": "manufactured"}),
        )
        .await;
    let (wh, bins) = app.warehouse("PROD", &[("A", 1)]).await;
    let customer = app
        .create_id("/v1/customers", json!({"legal_name": "Bakery"}))
        .await;
    let deal = app
        .create_id(
            "/v1/deals",
            json!({"customer_id": customer, "title": "Cakes", "lines": [{"item_id": made, "quantity": 3}]}),
        )
        .await;
    let (status, r) = app
        .post(
            &format!("/v1/deals/{deal}/reserve"),
            &admin,
            json!({"warehouse_id": wh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let (_, orders) = app.get("/v1/production-orders", &admin).await;
    let order = orders["items"][0]["id"].as_i64().unwrap();
    let (status, done) = app
        .post(
            &format!("/v1/production-orders/{order}/complete"),
            &admin,
            json!({"quantity": 5, "location_id": bins[0]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let outputs: Vec<(Value, i64)> = done["movements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "production_output")
        .map(|m| (m["deal_id"].clone(), m["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(outputs, vec![(json!(deal), 3), (Value::Null, 2)], "{done}");
    let (_, f) = app
        .get(&format!("/v1/deals/{deal}/fulfilment"), &admin)
        .await;
    assert!(
        f["movements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["kind"] == "production_output" && m["quantity"] == 3),
        "{f}"
    );
}

async fn picked_goods_are_never_picked_again(app: TestApp) {
    let admin = app.admin_token.clone();
    let (item, wh, bin) = stocked(&app, "ONCE", 5).await;
    let deal = app.reserved_deal("Once Ltd", "Once", item, 3, wh).await;
    let first_pack = app
        .create_id(
            &format!("/v1/warehouses/{wh}/locations"),
            json!({"code": "PACK1", "pick_sequence": 0}),
        )
        .await;
    let other_pack = app
        .create_id(
            &format!("/v1/warehouses/{wh}/locations"),
            json!({"code": "PACK2", "pick_sequence": 0}),
        )
        .await;
    let list = app.pick_list(deal, wh, first_pack).await;
    let scans = format!("/v1/pick-lists/{}/scans", list["id"]);
    let (status, body) = app.post(&scans, &admin, json!({"location_id": bin})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &scans,
            &admin,
            json!({"item_id": item, "batch": "B1", "quantity": 3}),
        )
        .await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (StatusCode::OK, Some("confirmed")),
        "{body}"
    );
    let (status, problem) = app
        .post(
            "/v1/pick-lists",
            &admin,
            json!({"deal_ids": [deal], "warehouse_id": wh, "packing_location_id": other_pack}),
        )
        .await;
    assert_problem(status, &problem, 409, Some("deal_ids"));
}

async fn stock_available_means_the_same_everywhere(app: TestApp) {
    let admin = app.admin_token.clone();
    let (item, wh, bin) = stocked(&app, "AVAIL", 4).await;
    // An expired batch in quarantine, and a quarantined batch still in date.
    app.receive(
        wh,
        bin,
        json!([{"item_id": item, "quantity": 5, "batch": "OLD", "expiry": date_in(-3)},
               {"item_id": item, "quantity": 7, "batch": "HELD", "expiry": date_in(90)}]),
        true,
    )
    .await;
    let (status, stock) = app.get(&format!("/v1/stock?item_id={item}"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{stock}");
    let row = |batch: &str| -> Value {
        stock["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["batch_code"] == batch)
            .cloned()
            .unwrap_or_else(|| panic!("no row for {batch}: {stock}"))
    };
    assert_eq!(row("OLD")["available"], 0, "{stock}");
    assert_eq!(row("OLD")["on_hand"], 5);
    assert_eq!(row("HELD")["available"], 0);
    assert_eq!(row("HELD")["batch_status"], "quarantine");
    assert_eq!(row("B1")["available"], 4);
    assert_eq!(row("B1")["item_code"], "AVAIL");
    assert_eq!(row("B1")["item_name"], "AVAIL");
    let total: i64 = stock["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["available"].as_i64().unwrap())
        .sum();
    let (_, availability) = app
        .get(&format!("/v1/items/{item}/availability"), &admin)
        .await;
    assert_eq!(availability["available"], total, "{availability}");
}

async fn receipts_are_documents_with_an_id(app: TestApp) {
    let admin = app.admin_token.clone();
    let (item, wh, bin) = stocked(&app, "RCPT", 1).await;
    let (status, receipt) = app
        .post(
            "/v1/receipts",
            &admin,
            json!({"warehouse_id": wh, "location_id": bin, "note": "dock 3",
                   "lines": [{"item_id": item, "quantity": 2, "batch": "R1", "expiry": date_in(40)},
                             {"item_id": item, "quantity": 3, "batch": "R1", "expiry": date_in(40)}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let id = receipt["id"].as_i64().expect("a receipt id");
    for m in receipt["movements"].as_array().unwrap() {
        assert_eq!(m["document_type"], "receipt");
        assert_eq!(m["document_id"], id);
    }
    let (status, read) = app.get(&format!("/v1/receipts/{id}"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["movements"], receipt["movements"]);
    assert_eq!(read["note"], "dock 3");
    let (status, list) = app
        .get(&format!("/v1/receipts?warehouse_id={wh}"), &admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
    let (status, problem) = app.get("/v1/receipts/999999", &admin).await;
    assert_problem(status, &problem, 404, None);
    // A receipt that fails on its second line leaves nothing behind: no batch, no receipt.
    let (status, problem) = app
        .post(
            "/v1/receipts",
            &admin,
            json!({"warehouse_id": wh, "location_id": bin,
                   "lines": [{"item_id": item, "quantity": 2, "batch": "NEW-1", "expiry": date_in(40)},
                             {"item_id": item, "quantity": 3, "batch": "R1", "expiry": date_in(41)}]}),
        )
        .await;
    assert_problem(status, &problem, 409, Some("lines[1].expiry"));
    let (_, batches) = app
        .get(&format!("/v1/batches?item_id={item}"), &admin)
        .await;
    assert!(
        !batches["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["code"] == "NEW-1"),
        "{batches}"
    );
    let (_, list) = app
        .get(&format!("/v1/receipts?warehouse_id={wh}"), &admin)
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
}

crate::on_both!(
    nul_and_control_characters_are_refused_naming_the_field,
    every_list_refuses_junk_paging,
    day_counts_are_bounded_and_never_panic,
    a_cancelled_reservation_run_releases_its_lease,
    unknown_fields_are_refused_by_name,
    batch_and_serial_codes_must_be_printable,
    unknown_device_profiles_are_refused_at_registration,
    an_empty_body_means_every_default,
    idempotency_keys_are_visible_ascii,
    orders_show_a_rep_only_the_deals_they_may_see,
    production_output_names_the_deal_it_was_made_for,
    picked_goods_are_never_picked_again,
    stock_available_means_the_same_everywhere,
    receipts_are_documents_with_an_id,
);
