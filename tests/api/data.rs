//! Issue 18, exports: whole record kinds as CSV, streamed, with the caller's role checked.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_problem};
use crate::stock::date_in;

crate::on_both!(
    exports_stream_every_row_as_csv,
    exports_are_for_managers_and_the_floor
);

/// The rows of a CSV body as header → value maps.
fn rows(csv_bytes: &[u8]) -> Vec<HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(csv_bytes);
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

async fn exports_stream_every_row_as_csv(app: TestApp) {
    let admin = app.admin_token.clone();
    let item = app
        .create_id(
            "/v1/items",
            json!({"code": "YOG", "name": "Yoghurt, 500 g", "tracking": "batch",
                   "gtins": [{"gtin": "09506000134352", "quantity": 1},
                             {"gtin": "09506000134369", "quantity": 12}]}),
        )
        .await;
    let (wh, bins) = app.warehouse("EX", &[("A", 1)]).await;
    // 2,500 ledger rows: more than two pages of the stream.
    for n in 0..25 {
        let lines: Vec<_> = (0..100)
            .map(|i| json!({"item_id": item, "quantity": 1, "batch": format!("B{n}-{i}"), "expiry": date_in(60)}))
            .collect();
        app.receive(wh, bins[0], json!(lines), false).await;
    }
    let (status, content_type, body) = app.download("/v1/exports/ledger", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("text/csv; charset=utf-8"));
    let ledger = rows(&body);
    assert_eq!(ledger.len(), 2500);
    let ids: Vec<i64> = ledger.iter().map(|r| r["id"].parse().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "oldest first, no row twice"
    );
    assert_eq!(ledger[0]["kind"], "receipt");
    assert_eq!(ledger[0]["quantity"], "1");
    assert!(ledger[0]["posted_at"].contains('T'), "{:?}", ledger[0]);
    // A date range that ends before the first movement: the header only.
    let (status, _, body) = app
        .download("/v1/exports/ledger?until=2000-01-01T00:00:00Z", &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(rows(&body).is_empty());
    let (_, _, full) = app.download("/v1/exports/ledger", &admin).await;
    assert_eq!(header(&body), header(&full), "the header even without rows");
    assert!(
        header(&body).starts_with("id,item_id,batch_id,"),
        "{}",
        header(&body)
    );

    let (_, _, body) = app.download("/v1/exports/items", &admin).await;
    let items = rows(&body);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["code"], "YOG");
    assert_eq!(
        items[0]["name"], "Yoghurt, 500 g",
        "a comma inside a quoted field"
    );
    assert_eq!(items[0]["gtins"], "09506000134352*1|09506000134369*12");
    assert_eq!(items[0]["tracking"], "batch");

    let (_, _, body) = app.download("/v1/exports/batches", &admin).await;
    let batches = rows(&body);
    assert_eq!(batches.len(), 2500);
    assert!(
        batches.iter().all(|b| b["code"].starts_with('B')
            && b["status"] == "available"
            && b["item_id"] == item.to_string()
            && b["expiry_date"] == date_in(60)),
        "{:?}",
        batches[0]
    );
    let (_, _, body) = app.download("/v1/exports/stock", &admin).await;
    let stock = rows(&body);
    assert_eq!(stock.len(), 2500);
    let on_hand: i64 = stock
        .iter()
        .map(|r| r["on_hand"].parse::<i64>().unwrap())
        .sum();
    assert_eq!(on_hand, 2500);
    assert_eq!(stock[0]["location_code"], "A");
}

/// The first line of a CSV body.
fn header(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

async fn exports_are_for_managers_and_the_floor(app: TestApp) {
    let (_, rep) = app.user("rep", "rep", None).await;
    let (status, _, _) = app.download("/v1/exports/items", &rep).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, keeper) = app.user("keeper", "warehouse", None).await;
    // Nothing in stock yet: each kind's header alone, naming the same columns as the header over
    // rows (which comes from the rows' own fields).
    let mut empty = Vec::new();
    for kind in ["items", "stock", "batches", "ledger"] {
        let (status, _, body) = app.download(&format!("/v1/exports/{kind}"), &keeper).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body.iter().filter(|b| **b == b'\n').count(),
            1,
            "{kind}: the header alone"
        );
        empty.push(header(&body));
    }
    let item = app
        .create_id(
            "/v1/items",
            json!({"code": "BOLT", "name": "Bolt", "tracking": "batch"}),
        )
        .await;
    let (wh, bins) = app.warehouse("HD", &[("A", 1)]).await;
    app.receive(
        wh,
        bins[0],
        json!([{"item_id": item, "quantity": 5, "batch": "H1", "expiry": date_in(9)}]),
        false,
    )
    .await;
    for (i, kind) in ["items", "stock", "batches", "ledger"].iter().enumerate() {
        let (_, _, body) = app.download(&format!("/v1/exports/{kind}"), &keeper).await;
        assert_eq!(rows(&body).len(), 1, "{kind}");
        assert_eq!(
            header(&body),
            empty[i],
            "{kind}: the same columns with and without rows"
        );
    }
    let (status, body) = app.get("/v1/exports/planets", &app.admin_token).await;
    assert_problem(status, &body, 422, Some("kind"));
    let (status, body) = app
        .get("/v1/exports/ledger?from=yesterday", &app.admin_token)
        .await;
    assert!(status.is_client_error(), "{status} {body}");
}
