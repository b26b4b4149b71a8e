//! Health, metrics, OpenAPI and docs, error bodies, request ids and idempotency.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_problem};

async fn health_readiness_and_metrics_answer(app: TestApp) {
    let (status, body) = app.send(Method::GET, "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    let (status, body) = app.send(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let _ = app.get("/v1/items", &app.admin_token).await;
    let (status, text) = app.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = text.as_str().unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
    assert!(text.contains("route=\"/v1/items\""), "{text}");
    // Gauges read at scrape time (issue 20): the pools, the print queue.
    for gauge in [
        "depot_db_pool_connections{",
        "depot_print_jobs{status=\"queued\"}",
        "depot_print_queue_oldest_seconds",
        "depot_printers_failing",
    ] {
        assert!(text.contains(gauge), "{gauge} missing:\n{text}");
    }
}

async fn openapi_documents_every_route_and_docs_page_is_self_contained(app: TestApp) {
    let (status, spec) = app.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/v1/auth/login",
        "/v1/users",
        "/v1/devices",
        "/v1/items",
        "/v1/items/{id}",
        "/v1/warehouses",
        "/v1/warehouses/{id}/locations",
        "/v1/suppliers",
        "/v1/customers",
        "/v1/deals",
        "/v1/leads",
        "/v1/contacts",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(
            spec["paths"][path].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    // Error responses are documented too.
    assert!(spec["paths"]["/v1/items"]["post"]["responses"]["422"].is_object());
    // Every document route takes `format` and `dpi`, the pick list's too.
    for path in [
        "/v1/pick-lists/{id}/document",
        "/v1/shipments/{id}/delivery-note",
        "/v1/returns/{id}/document",
    ] {
        let params = spec["paths"][path]["get"]["parameters"].as_array().unwrap();
        for name in ["format", "dpi"] {
            assert!(
                params
                    .iter()
                    .any(|p| p["name"] == name && p["in"] == "query"),
                "{path} does not document ?{name}"
            );
        }
    }
    let resp = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    assert!(html.contains("/v1/items"));
}

/// `/docs` works offline: nothing on the page comes from elsewhere, and it shows every operation
/// of `/openapi.json` in its domain's section, in the order of the flow, with its examples.
async fn the_docs_page_is_self_contained_and_shows_every_example(app: TestApp) {
    let (_, spec) = app.send(Method::GET, "/openapi.json", None, None).await;
    let resp = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let html = resp.text().await.unwrap();
    let own = [app.base.as_str(), "http://localhost", "http://127.0.0.1"];
    for attribute in ["src=", "href=", "url(", "@import"] {
        for (at, _) in html.match_indices(attribute) {
            let value = html[at + attribute.len()..].trim_start_matches(['"', '\'', ' ']);
            let remote = ["http://", "https://", "//"]
                .iter()
                .any(|p| value.starts_with(p))
                && !own.iter().any(|o| value.starts_with(o));
            assert!(
                !remote,
                "/docs loads or links {}",
                &value[..value.len().min(80)]
            );
        }
    }
    for tag in ["<script", "<link", "<iframe", "<img", "<object"] {
        assert!(!html.contains(tag), "/docs has {tag}");
    }

    let mut last = 0;
    for tag in spec["tags"].as_array().unwrap() {
        let section = format!("id=\"tag-{}\"", tag["name"].as_str().unwrap());
        let at = html
            .find(&section)
            .unwrap_or_else(|| panic!("no section {section}"));
        assert!(at > last, "{section} is out of the document's order");
        last = at;
    }
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let anchor: String = path
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let id = format!("id=\"op-{method}{anchor}\"");
            let start = html.find(&id).unwrap_or_else(|| panic!("/docs lacks {id}"));
            let end = html[start..].find("</section>").unwrap() + start;
            let section = &html[start..end];
            let tag = format!("id=\"tag-{}\"", op["tags"][0].as_str().unwrap());
            let tag_at = html.find(&tag).unwrap();
            assert!(tag_at < start, "{method} {path} is not in {tag}");
            assert!(
                section.contains("Example response"),
                "/docs shows no example response for {method} {path}"
            );
            if op["requestBody"]["content"]["application/json"].is_object() {
                assert!(
                    section.contains("Example request"),
                    "/docs shows no example request for {method} {path}"
                );
            }
            // Markdown is rendered: no backticks outside the examples.
            let prose: String = section
                .split("<pre>")
                .map(|part| part.split_once("</pre>").map_or(part, |(_, after)| after))
                .collect();
            assert!(
                !prose.contains('`'),
                "{method} {path} shows a backtick: {prose:.300}"
            );
        }
    }
}

async fn errors_are_problem_json_everywhere(app: TestApp) {
    let token = app.admin_token.clone();
    let (status, body) = app.get("/v1/nowhere", &token).await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app
        .send(Method::PUT, "/v1/items", Some(&token), Some(json!({})))
        .await;
    assert_problem(status, &body, 405, None);
    let (status, body) = app.get("/v1/items/999999", &token).await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app.get("/v1/items/not-a-number", &token).await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app.get("/v1/items?limit=0", &token).await;
    assert_problem(status, &body, 400, Some("limit"));
    let (status, body) = app.get("/v1/items?limit=abc", &token).await;
    assert_problem(status, &body, 400, Some("limit"));
    let (status, body) = app.get("/v1/items?cursor=zz", &token).await;
    assert_problem(status, &body, 400, Some("cursor"));

    // Broken JSON, wrong content type, wrong types, oversized bodies.
    let resp = app
        .client
        .post(app.url("/v1/items"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"code\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    let resp = app
        .client
        .post(app.url("/v1/items"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("code=x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, body) = app
        .post("/v1/items", &token, json!({"code": 5, "name": "x"}))
        .await;
    assert_problem(status, &body, 422, Some("code"));
    // The server may answer 413 and close before the client finishes sending; both are fine,
    // what matters is that nothing is stored and the answer, when read, is a problem.
    let huge = "x".repeat(2 * 1024 * 1024);
    let sent = reqwest::Client::new()
        .post(app.url("/v1/items"))
        .bearer_auth(&token)
        .json(&json!({"code": "BIG", "name": huge}))
        .send()
        .await;
    if let Ok(resp) = sent {
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        assert_eq!(resp.headers()["connection"], "close");
    }
    let (_, list) = app.get("/v1/items?code=BIG", &token).await;
    assert!(list["items"].as_array().unwrap().is_empty());
    let (status, body) = app
        .post(
            "/v1/items",
            &token,
            json!({"code": "LONG", "name": "n".repeat(201)}),
        )
        .await;
    assert_problem(status, &body, 422, Some("name"));
}

async fn responses_carry_a_request_id(app: TestApp) {
    let resp = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = resp
        .headers()
        .get("x-request-id")
        .expect("request id")
        .to_str()
        .unwrap()
        .to_string();
    assert!(!id.is_empty());
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
}

/// A replayed binary answer (a rendered label) is byte for byte the first one, PDF and PNG: the
/// stored response is bytes, not text.
async fn a_replayed_label_render_returns_the_same_bytes(app: TestApp) {
    for format in ["pdf", "png"] {
        let request = json!({"template": "location", "format": format,
            "data": {"location": {"code": "A-01-03", "barcode": "W1-A-01-03"}}});
        let mut answers = Vec::new();
        for _ in 0..2 {
            let response = app
                .client
                .post(app.url("/v1/labels/render"))
                .bearer_auth(&app.admin_token)
                .header("Idempotency-Key", format!("render-{format}"))
                .json(&request)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let replayed = response.headers().get("idempotent-replayed").is_some();
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_string();
            answers.push((
                replayed,
                content_type,
                response.bytes().await.unwrap().to_vec(),
            ));
        }
        assert!(
            !answers[0].0 && answers[1].0,
            "the second answer is the replay"
        );
        assert_eq!(answers[0].1, answers[1].1);
        assert!(answers[0].2.len() > 100 && answers[0].2.contains(&0) || format == "pdf");
        assert!(
            answers[0].2 == answers[1].2,
            "{format}: the replay has other bytes"
        );
    }
}

async fn a_retried_post_with_the_same_key_applies_once(app: TestApp) {
    let token = app.admin_token.clone();
    let body = json!({"code": "IDEM-1", "name": "Idempotent widget"});
    let headers = [("Idempotency-Key", "key-1")];
    let (s1, b1) = app
        .send_with(
            Method::POST,
            "/v1/items",
            Some(&token),
            Some(body.clone()),
            &headers,
        )
        .await;
    let (s2, b2) = app
        .send_with(
            Method::POST,
            "/v1/items",
            Some(&token),
            Some(body.clone()),
            &headers,
        )
        .await;
    assert_eq!(s1, StatusCode::CREATED, "{b1}");
    assert_eq!(s2, StatusCode::CREATED, "{b2}");
    assert_eq!(b1, b2, "the replay returns the first response");
    let (_, list) = app.get("/v1/items?code=IDEM-1", &token).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "applied once");

    // Same key, different body: refused.
    let other = json!({"code": "IDEM-2", "name": "Other"});
    let (status, problem) = app
        .send_with(
            Method::POST,
            "/v1/items",
            Some(&token),
            Some(other),
            &headers,
        )
        .await;
    assert_problem(status, &problem, 422, Some("Idempotency-Key"));

    // Another caller may use the same key for their own request.
    let (_, rep) = app.user("idem-rep", "rep", None).await;
    let (status, _) = app
        .send_with(Method::POST, "/v1/items", Some(&rep), Some(body), &headers)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Concurrent duplicates: exactly one item is created.
    let body = json!({"code": "IDEM-3", "name": "Raced"});
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = app.client.clone();
        let url = app.url("/v1/items");
        let token = token.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", "race")
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        let status = t.await.unwrap();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::CONFLICT,
            "{status}"
        );
    }
    let (_, list) = app.get("/v1/items?code=IDEM-3", &token).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

async fn concurrent_writers_all_succeed(app: TestApp) {
    // SQLite has one writer: writes must queue, never fail with "database is locked".
    let mut tasks = Vec::new();
    for i in 0..64 {
        let client = app.client.clone();
        let url = app.url("/v1/items");
        let token = app.admin_token.clone();
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({"code": format!("C-{i}"), "name": format!("Concurrent {i}")}))
                .send()
                .await
                .unwrap();
            resp.status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let (_, list) = app.get("/v1/items?limit=500", &app.admin_token).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 64);
}

async fn demo_data_loads_once(app: TestApp) {
    depot::demo::load(&app.state.db).await.expect("demo loads");
    depot::demo::load(&app.state.db)
        .await
        .expect("a second load is a no-op");
    let (_, items) = app.get("/v1/items?limit=500", &app.admin_token).await;
    let codes: Vec<&str> = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"YOG-500") && codes.contains(&"RACK-200"),
        "{codes:?}"
    );
    let (_, warehouses) = app.get("/v1/warehouses", &app.admin_token).await;
    assert_eq!(warehouses["items"].as_array().unwrap().len(), 2);
    let rep = app.login("ron", depot::demo::DEMO_PASSWORD).await;
    let (status, deals) = app.get("/v1/deals", &rep).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !deals["items"].as_array().unwrap().is_empty(),
        "the demo rep has open deals"
    );
    let (_, leads) = app.get("/v1/leads", &app.admin_token).await;
    assert!(!leads["items"].as_array().unwrap().is_empty());
}

crate::on_both!(
    concurrent_writers_all_succeed,
    demo_data_loads_once,
    health_readiness_and_metrics_answer,
    openapi_documents_every_route_and_docs_page_is_self_contained,
    the_docs_page_is_self_contained_and_shows_every_example,
    errors_are_problem_json_everywhere,
    responses_carry_a_request_id,
    a_retried_post_with_the_same_key_applies_once,
    a_replayed_label_render_returns_the_same_bytes,
);
