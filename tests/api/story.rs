//! The foundation's story, end to end: an admin sets up a rep, a warehouse with bins, items with
//! GTINs, a customer and a deal, and the rep sees only what is theirs.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, assert_problem};

async fn admin_sets_up_and_a_rep_sees_a_restricted_view(app: TestApp) {
    let (head_id, head) = app.user("helga", "head", None).await;
    let (rep_id, rep) = app.user("rudi", "rep", Some(head_id)).await;
    let (other_id, other) = app.user("olga", "rep", None).await;

    let wh = app
        .create(
            "/v1/warehouses",
            json!({"code": "MAIN", "name": "Main warehouse", "address": "Dock 1"}),
        )
        .await;
    for (code, seq) in [("A-01", 10), ("A-02", 20)] {
        app.create(
            &format!("/v1/warehouses/{}/locations", wh["id"]),
            json!({"code": code, "pick_sequence": seq}),
        )
        .await;
    }
    let item = app.create("/v1/items", json!({
        "code": "YOG-500", "name": "Yoghurt 500 g", "unit": "pcs", "tracking": "batch", "shelf_life_days": 21,
        "source": "purchased", "gtins": [{"gtin": "4006381333931", "quantity": 1}, {"gtin": "14006381333938", "quantity": 12}]
    })).await;

    // The rep creates their customer and a deal for it.
    let (status, customer) = app
        .post(
            "/v1/customers",
            &rep,
            json!({
                "legal_name": "Rudi's Deli GmbH", "tax_id": "DE123456789", "type": "company",
                "addresses": [{"line1": "Hauptstr. 1", "city": "Berlin", "country": "DE"}],
                "contacts": [{"name": "Rudi", "phone": "+49 30 1234567"}]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{customer}");
    assert_eq!(customer["owner_id"], rep_id);
    let (status, deal) = app
        .post(
            "/v1/deals",
            &rep,
            json!({
                "customer_id": customer["id"], "title": "Weekly yoghurt",
                "lines": [{"item_id": item["id"], "quantity": 24, "unit_price": 129}]
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{deal}");
    assert_eq!(deal["status"], "open");

    // Another rep's customer and deal, and a public customer.
    let (_, hidden) = app
        .post(
            "/v1/customers",
            &other,
            json!({"legal_name": "Olga's Shop"}),
        )
        .await;
    let (_, hidden_deal) = app
        .post(
            "/v1/deals",
            &other,
            json!({"customer_id": hidden["id"], "title": "Olga's deal"}),
        )
        .await;
    let (status, public) = app
        .post(
            "/v1/customers",
            &app.admin_token,
            json!({"legal_name": "City Hospital", "public": true, "owner_id": other_id}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{public}");

    // The rep sees their own and the public customer, and only their deal.
    let (_, customers) = app.get("/v1/customers", &rep).await;
    let names: Vec<&str> = customers["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["legal_name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Rudi's Deli GmbH") && names.contains(&"City Hospital"),
        "{names:?}"
    );
    assert!(!names.contains(&"Olga's Shop"), "{names:?}");
    let (_, deals) = app.get("/v1/deals", &rep).await;
    assert_eq!(deals["items"].as_array().unwrap().len(), 1);
    let (status, body) = app
        .get(&format!("/v1/customers/{}", hidden["id"]), &rep)
        .await;
    assert_problem(status, &body, 404, None);
    let (status, body) = app
        .get(&format!("/v1/deals/{}", hidden_deal["id"]), &rep)
        .await;
    assert_problem(status, &body, 404, None);
    // Reps cannot manage master data or users.
    let (status, body) = app
        .post("/v1/items", &rep, json!({"code": "X", "name": "X"}))
        .await;
    assert_problem(status, &body, 403, None);

    // The head sees the rep's deal (subordinate) but not Olga's (not in the team).
    let (_, head_deals) = app.get("/v1/deals", &head).await;
    let titles: Vec<&str> = head_deals["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, vec!["Weekly yoghurt"]);
    // The admin sees everything.
    let (_, all_deals) = app.get("/v1/deals", &app.admin_token).await;
    assert_eq!(all_deals["items"].as_array().unwrap().len(), 2);
}

crate::on_both!(admin_sets_up_and_a_rep_sees_a_restricted_view);
