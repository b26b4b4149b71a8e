//! CRM: customers with addresses and contacts, who sees what, transfers, leads, deals.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

fn ids(list: &Value) -> Vec<i64> {
    list["items"].as_array().unwrap().iter().map(id).collect()
}

/// A head with two reps under them; returns (head, rep1, rep2) as (id, token).
async fn team(app: &TestApp) -> ((i64, String), (i64, String), (i64, String)) {
    let head = app.user("head1", "head", None).await;
    let rep1 = app.user("rep1", "rep", Some(head.0)).await;
    let rep2 = app.user("rep2", "rep", Some(head.0)).await;
    (head, rep1, rep2)
}

async fn create_as(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (status, value) = app.post(path, token, body).await;
    assert_eq!(status, StatusCode::CREATED, "POST {path}: {value}");
    value
}

async fn customer_keeps_addresses_and_contacts(app: TestApp) {
    let (_, (rep_id, rep), _) = team(&app).await;
    let created = create_as(&app, &rep, "/v1/customers", json!({
        "legal_name": "Müller Bau GmbH", "tax_id": "DE123456789", "type": "company",
        "source": "referral", "tags": ["Construction", "key-account"], "public": false,
        "phone": "+49 30 555 0101", "email": "office@mueller.example",
        "addresses": [
            {"label": "Site", "line1": "Baustrasse 5", "city": "Berlin", "postal_code": "10115", "country": "DE", "preferred_shipping": true},
            {"label": "Office", "line1": "Postfach 1", "line2": "c/o Accounts", "city": "Berlin", "country": "DE", "preferred_billing": true}
        ],
        "contacts": [
            {"name": "Anna Müller", "position": "Purchasing", "phone": "+49 30 555 0102", "email": "anna@mueller.example"},
            {"name": "Jonas Weber", "position": "Site manager", "is_primary": true}
        ]
    })).await;
    assert_eq!(
        created["owner_id"], rep_id,
        "the creator owns it by default"
    );
    assert_eq!(created["type"], "company");
    assert_eq!(created["tags"], json!(["construction", "key-account"]));
    let addresses = created["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 2);
    assert_eq!(created["preferred_shipping_address_id"], addresses[0]["id"]);
    assert_eq!(created["preferred_billing_address_id"], addresses[1]["id"]);
    let contacts = created["contacts"].as_array().unwrap();
    assert_eq!(contacts.len(), 2);
    assert_eq!(contacts[0]["is_primary"], false);
    assert_eq!(contacts[1]["is_primary"], true);
    assert_eq!(created["primary_contact_id"], contacts[1]["id"]);
    assert!(created["created_at"].as_str().unwrap().contains('T'));

    let (status, read) = app
        .get(&format!("/v1/customers/{}", id(&created)), &rep)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read, created);

    // A single address is preferred for both unless it says otherwise.
    let single = create_as(
        &app,
        &rep,
        "/v1/customers",
        json!({
            "legal_name": "Jane Doe", "type": "person",
            "addresses": [{"line1": "Elm St 1", "city": "Hamburg", "country": "DE"}]
        }),
    )
    .await;
    let only = id(&single["addresses"][0]);
    assert_eq!(single["preferred_shipping_address_id"], only);
    assert_eq!(single["preferred_billing_address_id"], only);
    assert_eq!(single["type"], "person");
    assert_eq!(single["primary_contact_id"], Value::Null);

    // PATCH replaces the addresses: one kept (by id, changed), one added, one dropped.
    let kept = id(&addresses[1]);
    let (status, patched) = app.patch(&format!("/v1/customers/{}", id(&created)), &rep, json!({
        "legal_name": "Müller Bau AG", "source": null,
        "addresses": [
            {"id": kept, "line1": "Postfach 2", "city": "Berlin", "country": "DE", "preferred_billing": true, "preferred_shipping": false},
            {"line1": "Lagerweg 9", "city": "Potsdam", "country": "DE", "preferred_shipping": true}
        ]
    })).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["legal_name"], "Müller Bau AG");
    assert_eq!(patched["source"], Value::Null);
    assert_eq!(patched["tax_id"], "DE123456789");
    let now = patched["addresses"].as_array().unwrap();
    assert_eq!(now.len(), 2);
    assert_eq!(now[0]["id"], kept);
    assert_eq!(now[0]["line1"], "Postfach 2");
    assert_eq!(patched["preferred_billing_address_id"], kept);
    assert_eq!(patched["preferred_shipping_address_id"], now[1]["id"]);
    assert_eq!(patched["contacts"], created["contacts"]);
    // Swapping which address is preferred for what.
    let (first, second) = (id(&now[0]), id(&now[1]));
    let (status, swapped) = app
        .patch(
            &format!("/v1/customers/{}", id(&created)),
            &rep,
            json!({"addresses": [
                {"id": first, "line1": "Postfach 2", "city": "Berlin", "country": "DE", "preferred_shipping": true, "preferred_billing": false},
                {"id": second, "line1": "Lagerweg 9", "city": "Potsdam", "country": "DE", "preferred_shipping": false, "preferred_billing": true}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{swapped}");
    assert_eq!(swapped["preferred_shipping_address_id"], first);
    assert_eq!(swapped["preferred_billing_address_id"], second);
    let (status, problem) = app
        .patch(
            &format!("/v1/customers/{}", id(&created)),
            &rep,
            json!({"addresses": [{"id": id(&single["addresses"][0]), "line1": "x", "city": "y", "country": "DE"}]}),
        )
        .await;
    assert_problem(status, &problem, 422, Some("addresses[0].id"));

    // Search and filters.
    for (query, expected) in [
        ("q=m%C3%BCller%20bau", vec![id(&created)]),
        ("q=de1234", vec![id(&created)]),
        ("tag=CONSTRUCTION", vec![id(&created)]),
        ("tag=constr", vec![]),
        ("type=person", vec![id(&single)]),
        (
            &format!("owner_id={rep_id}"),
            vec![id(&created), id(&single)],
        ),
    ] {
        let (status, list) = app.get(&format!("/v1/customers?{query}"), &rep).await;
        assert_eq!(status, StatusCode::OK, "{query}: {list}");
        assert_eq!(ids(&list), expected, "{query}");
    }

    // Invalid input names the field.
    let too_long = "x".repeat(201);
    for (body, field) in [
        (json!({"legal_name": "  "}), "legal_name"),
        (json!({"legal_name": too_long}), "legal_name"),
        (json!({"legal_name": "A", "email": "nope"}), "email"),
        (json!({"legal_name": "A", "type": "alien"}), "type"),
        (json!({"legal_name": "A", "owner_id": 9999}), "owner_id"),
        (
            json!({"legal_name": "A", "addresses": [{"line1": "x", "city": "", "country": "DE"}]}),
            "addresses[0].city",
        ),
        (
            json!({"legal_name": "A", "addresses": [
            {"line1": "x", "city": "y", "country": "DE", "preferred_shipping": true},
            {"line1": "x", "city": "y", "country": "DE", "preferred_shipping": true}]}),
            "addresses[1].preferred_shipping",
        ),
        (
            json!({"legal_name": "A", "contacts": [{"name": "a", "is_primary": true}, {"name": "b", "is_primary": true}]}),
            "contacts[1].is_primary",
        ),
    ] {
        let (status, problem) = app.post("/v1/customers", &rep, body).await;
        assert_problem(status, &problem, 422, Some(field));
    }
}

async fn contacts_keep_one_primary(app: TestApp) {
    let (_, (_, rep1), (_, rep2)) = team(&app).await;
    let customer = create_as(
        &app,
        &rep1,
        "/v1/customers",
        json!({"legal_name": "Café Sonne"}),
    )
    .await;
    let first = create_as(
        &app,
        &rep1,
        "/v1/contacts",
        json!({
            "customer_id": id(&customer), "name": "Sophie", "is_primary": false
        }),
    )
    .await;
    assert_eq!(first["is_primary"], true, "the first contact is primary");
    let second = create_as(
        &app,
        &rep1,
        "/v1/contacts",
        json!({
            "customer_id": id(&customer), "name": "Max", "email": "max@sonne.example"
        }),
    )
    .await;
    assert_eq!(second["is_primary"], false);
    let (status, promoted) = app
        .patch(
            &format!("/v1/contacts/{}", id(&second)),
            &rep1,
            json!({"is_primary": true, "position": "Chef"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{promoted}");
    assert_eq!(promoted["is_primary"], true);
    assert_eq!(promoted["position"], "Chef");
    let (_, read) = app
        .get(&format!("/v1/customers/{}", id(&customer)), &rep1)
        .await;
    assert_eq!(read["primary_contact_id"], id(&second));
    assert_eq!(read["contacts"][0]["is_primary"], false);
    let (status, problem) = app
        .patch(
            &format!("/v1/contacts/{}", id(&second)),
            &rep1,
            json!({"is_primary": false}),
        )
        .await;
    assert_problem(status, &problem, 422, Some("is_primary"));

    let (status, list) = app
        .get(
            &format!("/v1/contacts?customer_id={}", id(&customer)),
            &rep1,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&list), vec![id(&first), id(&second)]);

    let (status, read) = app
        .get(&format!("/v1/contacts/{}", id(&second)), &rep1)
        .await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read, promoted);

    // Contacts follow their customer's visibility.
    let (status, problem) = app
        .get(&format!("/v1/contacts/{}", id(&first)), &rep2)
        .await;
    assert_problem(status, &problem, 404, None);
    let (_, list) = app.get("/v1/contacts", &rep2).await;
    assert_eq!(ids(&list), Vec::<i64>::new());
    let (status, problem) = app
        .post(
            "/v1/contacts",
            &rep2,
            json!({"customer_id": id(&customer), "name": "Intruder"}),
        )
        .await;
    assert_problem(status, &problem, 422, Some("customer_id"));
}

async fn reps_see_their_own_and_public_heads_see_their_team(app: TestApp) {
    let ((head_id, head), (rep1_id, rep1), (rep2_id, rep2)) = team(&app).await;
    let (_, outsider) = app.user("rep3", "rep", None).await;
    let own1 = create_as(
        &app,
        &rep1,
        "/v1/customers",
        json!({"legal_name": "Rep1 Co"}),
    )
    .await;
    let own2 = create_as(
        &app,
        &rep2,
        "/v1/customers",
        json!({"legal_name": "Rep2 Co"}),
    )
    .await;
    let public = create_as(
        &app,
        &rep2,
        "/v1/customers",
        json!({"legal_name": "Public Co", "public": true}),
    )
    .await;
    let other = create_as(
        &app,
        &outsider,
        "/v1/customers",
        json!({"legal_name": "Outside Co"}),
    )
    .await;
    let deal1 = create_as(
        &app,
        &rep1,
        "/v1/deals",
        json!({"customer_id": id(&own1), "title": "Rep1 deal"}),
    )
    .await;
    let deal2 = create_as(&app, &rep2, "/v1/deals", json!({"customer_id": id(&own2)})).await;
    assert_eq!(deal2["title"], "Deal: Rep2 Co");
    assert_eq!(deal1["owner_id"], rep1_id);

    // Rep: own + public only.
    let (_, list) = app.get("/v1/customers", &rep1).await;
    assert_eq!(ids(&list), vec![id(&own1), id(&public)]);
    let (_, list) = app.get("/v1/customers?public=true", &rep1).await;
    assert_eq!(ids(&list), vec![id(&public)]);
    for (path, change) in [
        (
            format!("/v1/customers/{}", id(&own2)),
            json!({"legal_name": "mine now"}),
        ),
        (
            format!("/v1/deals/{}", id(&deal2)),
            json!({"title": "mine now"}),
        ),
    ] {
        let (status, problem) = app.get(&path, &rep1).await;
        assert_problem(status, &problem, 404, None);
        let (status, problem) = app.patch(&path, &rep1, change).await;
        assert_problem(status, &problem, 404, None);
    }
    let (status, read) = app
        .get(&format!("/v1/customers/{}", id(&public)), &rep1)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["owner_id"], rep2_id);
    // Public is read-only to non-owners.
    let (status, problem) = app
        .patch(
            &format!("/v1/customers/{}", id(&public)),
            &rep1,
            json!({"legal_name": "Taken"}),
        )
        .await;
    assert_problem(status, &problem, 403, None);
    // A deal for a public customer is fine; one for a hidden customer names the field.
    create_as(
        &app,
        &rep1,
        "/v1/deals",
        json!({"customer_id": id(&public)}),
    )
    .await;
    let (status, problem) = app
        .post("/v1/deals", &rep1, json!({"customer_id": id(&own2)}))
        .await;
    assert_problem(status, &problem, 422, Some("customer_id"));
    let (_, list) = app.get("/v1/deals", &rep1).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(!ids(&list).contains(&id(&deal2)));
    // A rep cannot hand a customer to someone else.
    let (status, problem) = app
        .post(
            "/v1/customers",
            &rep1,
            json!({"legal_name": "Gift", "owner_id": rep2_id}),
        )
        .await;
    assert_problem(status, &problem, 403, None);

    // Head: the whole team (and public), not outsiders.
    let (_, list) = app.get("/v1/customers", &head).await;
    assert_eq!(ids(&list), vec![id(&own1), id(&own2), id(&public)]);
    let (_, list) = app
        .get(&format!("/v1/deals?owner_id={rep2_id}"), &head)
        .await;
    assert_eq!(ids(&list), vec![id(&deal2)]);
    let (status, problem) = app
        .get(&format!("/v1/customers/{}", id(&other)), &head)
        .await;
    assert_problem(status, &problem, 404, None);
    let (status, patched) = app
        .patch(
            &format!("/v1/customers/{}", id(&own1)),
            &head,
            json!({"tags": ["vip"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    // A head creates for their team, not for outsiders.
    let for_rep = create_as(
        &app,
        &head,
        "/v1/customers",
        json!({"legal_name": "Assigned", "owner_id": rep2_id}),
    )
    .await;
    assert_eq!(for_rep["owner_id"], rep2_id);
    let (_, outsider_id) = (head_id, other["owner_id"].as_i64().unwrap());
    let (status, problem) = app
        .post(
            "/v1/customers",
            &head,
            json!({"legal_name": "Nope", "owner_id": outsider_id}),
        )
        .await;
    assert_problem(status, &problem, 403, None);

    // Admin: everything.
    let (_, list) = app.get("/v1/customers?limit=2", &app.admin_token).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let cursor = list["next_cursor"].as_str().unwrap().to_string();
    let (_, rest) = app
        .get(
            &format!("/v1/customers?limit=50&cursor={cursor}"),
            &app.admin_token,
        )
        .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 3);
    assert_eq!(rest["next_cursor"], Value::Null);
    let (status, _) = app
        .get(&format!("/v1/deals/{}", id(&deal2)), &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn bulk_transfer_moves_customers_and_open_deals_with_history(app: TestApp) {
    let ((head_id, head), (rep1_id, rep1), (rep2_id, rep2)) = team(&app).await;
    let (outsider_id, _) = app.user("rep3", "rep", None).await;
    let a = create_as(&app, &rep1, "/v1/customers", json!({"legal_name": "A"})).await;
    let b = create_as(&app, &rep1, "/v1/customers", json!({"legal_name": "B"})).await;
    let open = create_as(&app, &rep1, "/v1/deals", json!({"customer_id": id(&a)})).await;
    let won = create_as(&app, &rep1, "/v1/deals", json!({"customer_id": id(&a)})).await;
    let (status, _) = app
        .patch(
            &format!("/v1/deals/{}", id(&won)),
            &rep1,
            json!({"status": "won"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Reps cannot transfer; heads only within their team.
    let body =
        json!({"customer_ids": [id(&a), id(&b)], "to_user_id": rep2_id, "note": "rep1 on leave"});
    let (status, problem) = app
        .post("/v1/customers/transfer", &rep1, body.clone())
        .await;
    assert_problem(status, &problem, 403, None);
    let (status, problem) = app
        .post(
            "/v1/customers/transfer",
            &head,
            json!({"customer_ids": [id(&a)], "to_user_id": outsider_id}),
        )
        .await;
    assert_problem(status, &problem, 403, None);
    let (status, problem) = app
        .post(
            "/v1/customers/transfer",
            &head,
            json!({"customer_ids": [id(&a), 99999], "to_user_id": rep2_id}),
        )
        .await;
    assert_problem(status, &problem, 422, Some("customer_ids[1]"));
    let (status, problem) = app
        .post(
            "/v1/customers/transfer",
            &head,
            json!({"customer_ids": [], "to_user_id": rep2_id}),
        )
        .await;
    assert_problem(status, &problem, 422, Some("customer_ids"));

    let (status, result) = app.post("/v1/customers/transfer", &head, body).await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["transferred"], 2);
    for c in result["customers"].as_array().unwrap() {
        assert_eq!(c["owner_id"], rep2_id);
    }
    let (_, deal) = app.get(&format!("/v1/deals/{}", id(&open)), &rep2).await;
    assert_eq!(deal["owner_id"], rep2_id, "open deals move along");
    let (status, _) = app.get(&format!("/v1/deals/{}", id(&won)), &rep2).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "closed deals stay with their owner"
    );
    let (status, _) = app.get(&format!("/v1/customers/{}", id(&a)), &rep1).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A second move, by PATCH, as admin; the history keeps both.
    let (status, moved) = app
        .patch(
            &format!("/v1/customers/{}", id(&a)),
            &app.admin_token,
            json!({"owner_id": rep1_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let (status, history) = app
        .get(&format!("/v1/customers/{}/transfers", id(&a)), &rep1)
        .await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let rows = history["items"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["from_user_id"], rep1_id);
    assert_eq!(rows[0]["to_user_id"], rep2_id);
    assert_eq!(rows[0]["by_user_id"], head_id);
    assert_eq!(rows[0]["note"], "rep1 on leave");
    assert!(rows[0]["transferred_at"].is_string());
    assert_eq!(rows[1]["from_user_id"], rep2_id);
    assert_eq!(rows[1]["to_user_id"], rep1_id);
    // Moving a customer to its owner moves nothing and records nothing.
    let (status, result) = app
        .post(
            "/v1/customers/transfer",
            &head,
            json!({"customer_ids": [id(&a)], "to_user_id": rep1_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{result}");
    assert_eq!(result["transferred"], 0);
    assert_eq!(result["customers"][0]["owner_id"], rep1_id);
    let (_, history) = app
        .get(&format!("/v1/customers/{}/transfers", id(&a)), &rep1)
        .await;
    assert_eq!(history["items"].as_array().unwrap().len(), 2);
    let (status, _) = app
        .get(&format!("/v1/customers/{}/transfers", id(&a)), &rep2)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn leads_from_known_phone_or_email_attach_to_the_customer(app: TestApp) {
    let ((_, head), (rep1_id, rep1), (rep2_id, rep2)) = team(&app).await;
    let customer = create_as(
        &app,
        &rep1,
        "/v1/customers",
        json!({
            "legal_name": "Known GmbH", "email": "office@known.example",
            "contacts": [{"name": "Anna", "phone": "+49301234567", "email": "foo@example.com"}]
        }),
    )
    .await;
    let contact_id = id(&customer["contacts"][0]);

    // The head records a call from Anna's number, written differently: attached, to rep1.
    let by_phone = create_as(
        &app,
        &head,
        "/v1/leads",
        json!({
            "name": "Anna (call)", "phone": "+49 (30) 1234-567", "source": "phone"
        }),
    )
    .await;
    assert_eq!(by_phone["status"], "attached");
    assert_eq!(by_phone["customer_id"], id(&customer));
    assert_eq!(by_phone["contact_id"], contact_id);
    assert_eq!(
        by_phone["assigned_to"], rep1_id,
        "goes to the customer's owner"
    );

    let by_email = create_as(
        &app,
        &head,
        "/v1/leads",
        json!({
            "name": "Anna (mail)", "email": "Foo@Example.COM ", "assigned_to": rep2_id
        }),
    )
    .await;
    assert_eq!(by_email["status"], "attached");
    assert_eq!(by_email["contact_id"], contact_id);
    assert_eq!(
        by_email["assigned_to"], rep2_id,
        "an explicit assignee wins"
    );

    let by_customer_email = create_as(
        &app,
        &head,
        "/v1/leads",
        json!({
            "name": "Front desk", "email": "OFFICE@known.example"
        }),
    )
    .await;
    assert_eq!(by_customer_email["status"], "attached");
    assert_eq!(by_customer_email["customer_id"], id(&customer));
    assert_eq!(by_customer_email["contact_id"], Value::Null);

    let unknown = create_as(&app, &head, "/v1/leads", json!({
        "name": "Stranger", "phone": "+49 30 999", "email": "who@else.example", "note": "wants a quote"
    })).await;
    assert_eq!(unknown["status"], "new");
    assert_eq!(unknown["customer_id"], Value::Null);
    assert_eq!(unknown["assigned_to"], Value::Null);

    // Reps see what is assigned to them; the head also sees unassigned leads.
    let (_, list) = app.get("/v1/leads", &rep1).await;
    assert_eq!(ids(&list), vec![id(&by_phone), id(&by_customer_email)]);
    let (_, list) = app.get("/v1/leads", &head).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 4);
    let (status, _) = app.get(&format!("/v1/leads/{}", id(&unknown)), &rep2).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The head assigns; a rep may not.
    let (status, problem) = app
        .patch(
            &format!("/v1/leads/{}", id(&by_email)),
            &rep2,
            json!({"assigned_to": rep1_id}),
        )
        .await;
    assert_problem(status, &problem, 403, None);
    let (status, assigned) = app
        .patch(
            &format!("/v1/leads/{}", id(&unknown)),
            &head,
            json!({"assigned_to": rep2_id}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{assigned}");
    assert_eq!(assigned["assigned_to"], rep2_id);
    let (status, read) = app.get(&format!("/v1/leads/{}", id(&unknown)), &rep2).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["note"], "wants a quote");

    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "email": "no-at-sign"}), "email"),
        (json!({"name": "x", "note": "n".repeat(2001)}), "note"),
        (json!({"name": "x", "assigned_to": 424242}), "assigned_to"),
    ] {
        let (status, problem) = app.post("/v1/leads", &head, body).await;
        assert_problem(status, &problem, 422, Some(field));
    }
}

async fn converting_a_lead_creates_customer_and_deal_once(app: TestApp) {
    let ((_, head), (rep1_id, rep1), _) = team(&app).await;
    let item = app.create("/v1/items", json!({
        "code": "X1", "name": "Widget", "unit": "pcs", "tracking": "none", "source": "purchased"
    })).await;
    let lead = create_as(
        &app,
        &head,
        "/v1/leads",
        json!({
            "name": "Bäckerei Korn", "phone": "+49 40 111 222", "email": "info@korn.example",
            "source": "website", "assigned_to": rep1_id
        }),
    )
    .await;
    let (status, converted) = app
        .post(&format!("/v1/leads/{}/convert", id(&lead)), &rep1, json!({
            "stage": "production", "lines": [{"item_id": id(&item), "quantity": 3, "unit_price": 250}]
        }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{converted}");
    let customer = &converted["customer"];
    let deal = &converted["deal"];
    assert_eq!(customer["legal_name"], "Bäckerei Korn");
    assert_eq!(customer["owner_id"], rep1_id);
    assert_eq!(customer["contacts"][0]["name"], "Bäckerei Korn");
    assert_eq!(customer["contacts"][0]["phone"], "+49 40 111 222");
    assert_eq!(
        customer["primary_contact_id"],
        customer["contacts"][0]["id"]
    );
    assert_eq!(deal["title"], "Deal: Bäckerei Korn");
    assert_eq!(deal["stage"], "production");
    assert_eq!(deal["owner_id"], rep1_id);
    assert_eq!(deal["customer_id"], customer["id"]);
    assert_eq!(deal["amount"], 750);
    assert_eq!(deal["lead_id"], id(&lead));
    assert_eq!(converted["lead"]["status"], "converted");
    assert_eq!(converted["lead"]["deal_id"], deal["id"]);
    assert_eq!(converted["lead"]["customer_id"], customer["id"]);

    let (status, problem) = app
        .post(
            &format!("/v1/leads/{}/convert", id(&lead)),
            &rep1,
            json!({}),
        )
        .await;
    assert_problem(status, &problem, 409, None);

    // A lead from a known sender converts into a deal for that customer; no body is needed.
    let again = create_as(
        &app,
        &head,
        "/v1/leads",
        json!({"name": "Korn again", "email": "INFO@korn.example"}),
    )
    .await;
    assert_eq!(again["status"], "attached");
    let (status, second) = app
        .send(
            Method::POST,
            &format!("/v1/leads/{}/convert", id(&again)),
            Some(&head),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["customer"]["id"], customer["id"]);
    assert_eq!(second["deal"]["title"], "Deal: Korn again");
    assert_eq!(second["deal"]["stage"], "selection");
    let (_, list) = app.get("/v1/customers", &app.admin_token).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "no duplicate customer"
    );

    // A bad conversion changes nothing.
    let third = create_as(&app, &head, "/v1/leads", json!({"name": "Third"})).await;
    let (status, problem) = app
        .post(
            &format!("/v1/leads/{}/convert", id(&third)),
            &head,
            json!({"stage": "nope"}),
        )
        .await;
    assert_problem(status, &problem, 422, Some("stage"));
    let (_, read) = app.get(&format!("/v1/leads/{}", id(&third)), &head).await;
    assert_eq!(read["status"], "new");
    // An empty body sent as JSON is fine too.
    let (status, converted) = app
        .send_with(
            Method::POST,
            &format!("/v1/leads/{}/convert", id(&third)),
            Some(&head),
            None,
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{converted}");
    assert_eq!(converted["customer"]["legal_name"], "Third");
}

async fn deals_have_lines_stages_and_a_lost_reason(app: TestApp) {
    let (_, (_, rep1), _) = team(&app).await;
    let widget = app.create("/v1/items", json!({
        "code": "X1", "name": "Widget", "unit": "pcs", "tracking": "none", "source": "purchased"
    })).await;
    let gadget = app.create("/v1/items", json!({
        "code": "X2", "name": "Gadget", "unit": "pcs", "tracking": "none", "source": "manufactured"
    })).await;
    let customer = create_as(&app, &rep1, "/v1/customers", json!({"legal_name": "Buyer"})).await;

    let deal = create_as(&app, &rep1, "/v1/deals", json!({
        "customer_id": id(&customer), "title": "Shelving", "stage": "sale_from_stock", "currency": "USD",
        "lines": [{"item_id": id(&widget), "quantity": 4, "unit_price": 1999}, {"item_id": id(&gadget), "quantity": 1, "unit_price": 0}]
    })).await;
    assert_eq!(deal["status"], "open");
    assert_eq!(deal["currency"], "USD");
    assert_eq!(deal["amount"], 7996);
    assert_eq!(deal["closed_at"], Value::Null);
    let lines = deal["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["line_no"], 1);
    assert_eq!(lines[0]["line_total"], 7996);
    assert_eq!(lines[1]["item_id"], id(&gadget));
    let default_currency = create_as(
        &app,
        &rep1,
        "/v1/deals",
        json!({"customer_id": id(&customer)}),
    )
    .await;
    assert_eq!(default_currency["currency"], "EUR");
    assert_eq!(default_currency["stage"], "selection");
    assert_eq!(default_currency["amount"], 0);

    // Replace lines: keep the first (changed), drop the second, add one.
    let keep = id(&lines[0]);
    let (status, patched) = app.patch(&format!("/v1/deals/{}", id(&deal)), &rep1, json!({
        "stage": "commissioning",
        "lines": [{"item_id": id(&gadget), "quantity": 2, "unit_price": 500}, {"id": keep, "item_id": id(&widget), "quantity": 1, "unit_price": 1999}]
    })).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["stage"], "commissioning");
    assert_eq!(patched["amount"], 2999);
    assert_eq!(patched["lines"][0]["line_no"], 1);
    assert_eq!(patched["lines"][1]["id"], keep);
    assert_eq!(patched["lines"][1]["line_no"], 2);
    let (_, list) = app.get("/v1/deals?stage=commissioning", &rep1).await;
    assert_eq!(ids(&list), vec![id(&deal)]);

    // Validation names the field.
    let deal_path = format!("/v1/deals/{}", id(&deal));
    for (body, field) in [
        (
            json!({"customer_id": id(&customer), "stage": "nope"}),
            "stage",
        ),
        (
            json!({"customer_id": id(&customer), "currency": "eur"}),
            "currency",
        ),
        (
            json!({"customer_id": id(&customer), "lines": [{"item_id": id(&widget), "quantity": 0, "unit_price": 1}]}),
            "lines[0].quantity",
        ),
        (
            json!({"customer_id": id(&customer), "lines": [{"item_id": id(&widget), "quantity": -1, "unit_price": 1}]}),
            "lines[0].quantity",
        ),
        (
            json!({"customer_id": id(&customer), "lines": [{"item_id": id(&widget), "quantity": 1.5}]}),
            "lines[0].quantity",
        ),
        (
            json!({"customer_id": id(&customer), "lines": [{"item_id": id(&widget), "quantity": 1, "unit_price": -5}]}),
            "lines[0].unit_price",
        ),
        (
            json!({"customer_id": id(&customer), "lines": [{"item_id": id(&widget), "quantity": 1}, {"item_id": 987654, "quantity": 1}]}),
            "lines[1].item_id",
        ),
        (
            json!({"customer_id": id(&customer), "status": "lost"}),
            "lost_reason",
        ),
        (json!({"customer_id": 987654}), "customer_id"),
        (json!({"title": "no customer"}), "customer_id"),
    ] {
        let (status, problem) = app.post("/v1/deals", &rep1, body.clone()).await;
        assert_problem(status, &problem, 422, Some(field));
    }
    let (status, problem) = app.patch(&deal_path, &rep1, json!({"stage": "nope"})).await;
    assert_problem(status, &problem, 422, Some("stage"));
    let (status, problem) = app
        .patch(&deal_path, &rep1, json!({"status": "lost"}))
        .await;
    assert_problem(status, &problem, 422, Some("lost_reason"));

    // Lost with a reason closes the deal; its lines are then fixed.
    let (status, lost) = app
        .patch(
            &deal_path,
            &rep1,
            json!({"status": "lost", "lost_reason": "too expensive"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{lost}");
    assert_eq!(lost["status"], "lost");
    assert_eq!(lost["lost_reason"], "too expensive");
    assert!(lost["closed_at"].is_string());
    let (status, problem) = app
        .patch(
            &deal_path,
            &rep1,
            json!({"lines": [{"item_id": id(&widget), "quantity": 1}]}),
        )
        .await;
    assert_problem(status, &problem, 409, Some("lines"));
    let (_, list) = app.get("/v1/deals?status=lost", &rep1).await;
    assert_eq!(ids(&list), vec![id(&deal)]);
    let (status, reopened) = app
        .patch(&deal_path, &rep1, json!({"status": "open"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reopened["closed_at"], Value::Null);
    assert_eq!(reopened["lost_reason"], Value::Null);

    // Stages: listed in order to anyone, added by an admin.
    let (status, stages) = app.get("/v1/deal-stages", &rep1).await;
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<&str> = stages["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "selection",
            "production",
            "sale_from_stock",
            "commissioning",
            "service"
        ]
    );
    let (status, problem) = app
        .post(
            "/v1/deal-stages",
            &rep1,
            json!({"code": "tender", "name": "Tender", "position": 15}),
        )
        .await;
    assert_problem(status, &problem, 403, None);
    let stage = app
        .create(
            "/v1/deal-stages",
            json!({"code": "tender", "name": "Tender", "position": 15}),
        )
        .await;
    assert_eq!(stage["active"], true);
    let (status, problem) = app
        .post(
            "/v1/deal-stages",
            &app.admin_token,
            json!({"code": "tender", "name": "Again", "position": 1}),
        )
        .await;
    assert_problem(status, &problem, 409, Some("code"));
    let (status, moved) = app
        .patch(&deal_path, &rep1, json!({"stage": "tender"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
}

async fn warehouse_staff_and_devices_are_refused(app: TestApp) {
    let (_, warehouse) = app.user("wh1", "warehouse", None).await;
    let device = app
        .create(
            "/v1/devices",
            json!({"name": "Scanner 1", "kind": "scanner", "profile": "generic-wedge"}),
        )
        .await;
    let device_token = device["token"].as_str().unwrap().to_string();
    let customer = app
        .create("/v1/customers", json!({"legal_name": "Admin's"}))
        .await;
    for token in [&warehouse, &device_token] {
        for (method, path, body) in [
            (Method::GET, "/v1/customers".to_string(), None),
            (
                Method::GET,
                format!("/v1/customers/{}", id(&customer)),
                None,
            ),
            (
                Method::POST,
                "/v1/customers".to_string(),
                Some(json!({"legal_name": "X"})),
            ),
            (
                Method::POST,
                "/v1/customers/transfer".to_string(),
                Some(json!({"customer_ids": [1], "to_user_id": 1})),
            ),
            (Method::GET, "/v1/contacts".to_string(), None),
            (Method::GET, "/v1/leads".to_string(), None),
            (
                Method::POST,
                "/v1/leads".to_string(),
                Some(json!({"name": "X"})),
            ),
            (Method::GET, "/v1/deals".to_string(), None),
            (
                Method::POST,
                "/v1/deals".to_string(),
                Some(json!({"customer_id": id(&customer)})),
            ),
        ] {
            let (status, problem) = app.send(method.clone(), &path, Some(token), body).await;
            assert_problem(status, &problem, 403, None);
        }
    }
    // Stages are for any user, not devices.
    let (status, _) = app.get("/v1/deal-stages", &warehouse).await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = app.get("/v1/deal-stages", &device_token).await;
    assert_problem(status, &problem, 403, None);
    let (status, problem) = app.send(Method::GET, "/v1/customers", None, None).await;
    assert_problem(status, &problem, 401, None);
}

crate::on_both!(
    customer_keeps_addresses_and_contacts,
    contacts_keep_one_primary,
    reps_see_their_own_and_public_heads_see_their_team,
    bulk_transfer_moves_customers_and_open_deals_with_history,
    leads_from_known_phone_or_email_attach_to_the_customer,
    converting_a_lead_creates_customer_and_deal_once,
    deals_have_lines_stages_and_a_lost_reason,
    warehouse_staff_and_devices_are_refused,
);
