//! The published schema itself: one component per Rust type, and the operations the rest of
//! the suite does not reach (every response of the suite is checked against the document by
//! `contract.rs`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// utoipa names a component after the Rust type without its module, and when two types share
/// that name (three `Status` enums) one silently overwrites the other in `/openapi.json`.
/// `depot::api::schemas::collisions` sees every `(name, schema)` the handlers contribute before
/// they are merged.
#[test]
fn no_two_types_share_a_component_name() {
    let collisions = depot::api::schemas::collisions(depot::app::openapi)
        .expect("every route's schemas are seen");
    let report: Vec<String> = collisions
        .iter()
        .map(|(name, schemas)| {
            let schemas: Vec<String> = schemas.iter().map(|s| format!("    {s}")).collect();
            format!("  {name}:\n{}", schemas.join("\n"))
        })
        .collect();
    assert!(
        collisions.is_empty(),
        "component names registered with different schemas (give the types distinct names, \
         e.g. #[schema(as = ...)]):\n{}",
        report.join("\n")
    );
}

/// Generated clients name a method after each operation's `operationId` (utoipa takes the
/// handler's function name: five modules have a `list`), and they refuse a document where two
/// operations share one; every `$ref` must also name a component that exists.
#[test]
fn operation_ids_are_unique_and_refs_resolve() {
    let doc = serde_json::to_value(depot::app::openapi()).unwrap();
    let mut seen: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if let Some(id) = operation["operationId"].as_str() {
                seen.entry(id).or_default().push(format!("{method} {path}"));
            }
        }
    }
    let shared: Vec<String> = seen
        .iter()
        .filter(|(_, ops)| ops.len() > 1)
        .map(|(id, ops)| format!("{id}: {ops:?}"))
        .collect();
    assert!(
        shared.is_empty(),
        "operationIds used twice (set operation_id = ...):\n{}",
        shared.join("\n")
    );

    fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(o) => {
                out.extend(o.get("$ref").and_then(Value::as_str));
                o.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    let dangling: Vec<&&str> = all
        .iter()
        .filter(|r| doc.pointer(&r[1..]).is_none())
        .collect();
    assert!(dangling.is_empty(), "$refs to nothing: {dangling:?}");
}

/// The suite checks every response against `/openapi.json` (`contract.rs`); this reaches the
/// operations and media types no other test does through `TestApp::send`: suppliers, devices,
/// aliases, batches, the label routes in each format, production orders, reloading
/// templates, metrics and a body that is not JSON.
async fn operations_no_other_test_reaches(app: TestApp) {
    let admin = app.admin_token.clone();
    let s = crate::stock::setup(&app).await;
    let (status, receipt) = app
        .post(
            "/v1/receipts",
            &admin,
            json!({"warehouse_id": s.wh, "location_id": s.a,
                   "lines": [{"item_id": s.item, "quantity": 5, "batch": "L-1",
                              "expiry": crate::stock::date_in(40)}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    let batch = receipt["movements"][0]["batch_id"].as_i64().unwrap();

    let ok = |status: StatusCode, body: &Value| assert!(status.is_success(), "{body}");
    let supplier = app
        .create_id(
            "/v1/suppliers",
            json!({"code": "S1", "name": "Supplier", "email": "s@example.com"}),
        )
        .await;
    let (status, body) = app.get("/v1/suppliers?limit=10", &admin).await;
    ok(status, &body);
    let (status, body) = app.get(&format!("/v1/suppliers/{supplier}"), &admin).await;
    ok(status, &body);
    let (status, body) = app
        .patch(
            &format!("/v1/suppliers/{supplier}"),
            &admin,
            json!({"phone": "+49 40 1234", "email": null, "lead_time_days": 3}),
        )
        .await;
    ok(status, &body);
    let (status, body) = app.get("/v1/suppliers/999999", &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let (status, body) = app.get("/v1/devices", &admin).await;
    ok(status, &body);
    let (status, body) = app
        .post(
            &format!("/v1/items/{}/aliases", s.plain),
            &admin,
            json!({"code": "BOLT-OLD", "quantity": 2}),
        )
        .await;
    ok(status, &body);
    let (status, body) = app
        .get(&format!("/v1/items/{}/aliases", s.plain), &admin)
        .await;
    ok(status, &body);
    let (status, body) = app.get(&format!("/v1/batches/{batch}"), &admin).await;
    ok(status, &body);

    for format in ["pdf", "zpl", "png"] {
        for path in [
            format!("/v1/items/{}/label", s.item),
            format!("/v1/batches/{batch}/label"),
            format!("/v1/locations/{}/label", s.a),
        ] {
            let (status, body) = app.get(&format!("{path}?format={format}"), &admin).await;
            assert_eq!(status, StatusCode::OK, "{path} {format}: {body}");
        }
    }
    let (status, body) = app.get("/v1/items/999999/label", &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    let kit = app
        .create_id(
            "/v1/items",
            json!({"code": "KIT", "name": "Kit", "source": "manufactured"}),
        )
        .await;
    let (status, body) = app
        .post(
            "/v1/production-orders",
            &admin,
            json!({"item_id": kit, "warehouse_id": s.wh, "quantity": 3}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post("/v1/labels/templates/reload", &admin, json!({}))
        .await;
    ok(status, &body);
    let (status, _) = app.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);

    // Not JSON: 415, a problem.
    let response = app
        .client
        .post(app.url("/v1/items"))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("code=x")
        .send()
        .await
        .unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    let body = response.bytes().await.unwrap();
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    crate::contract::check_bytes(
        "POST",
        "/v1/items",
        status.as_u16(),
        content_type.as_deref(),
        &body,
    );
}

crate::on_both!(operations_no_other_test_reaches);
