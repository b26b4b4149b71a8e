//! Login, tokens, roles, users and devices.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{ADMIN_PASSWORD, TestApp, assert_problem};

async fn login_returns_a_bearer_token_and_wrong_passwords_are_refused(app: TestApp) {
    let (status, body) = app
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"username": "admin", "password": ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);

    let (status, body) = app
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"username": "admin", "password": "wrong-password"})),
        )
        .await;
    assert_problem(status, &body, 401, None);
    let (status, body) = app
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"username": "nobody", "password": "whatever1"})),
        )
        .await;
    assert_problem(status, &body, 401, None);
    let (status, body) = app
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"username": "admin"})),
        )
        .await;
    assert_problem(status, &body, 422, Some("password"));

    let (status, me) = app.get("/v1/me", &app.admin_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "admin");
    assert_eq!(me["role"], "admin");
    let (status, refreshed) = app
        .send(
            Method::POST,
            "/v1/auth/refresh",
            Some(&app.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert!(refreshed["access_token"].is_string());
}

async fn missing_or_forged_tokens_get_401(app: TestApp) {
    let (status, body) = app.send(Method::GET, "/v1/items", None, None).await;
    assert_problem(status, &body, 401, None);
    let (status, body) = app
        .get("/v1/items", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.forged")
        .await;
    assert_problem(status, &body, 401, None);
    // A token signed with another secret, claiming admin.
    let forged = depot::auth::tokens::JwtKeys::new(b"another-secret-another-secret-00", 60)
        .issue(&depot::auth::UserPrincipal {
            id: 1,
            role: depot::auth::Role::Admin,
            username: "admin".into(),
            generation: 0,
        })
        .unwrap();
    let (status, body) = app.get("/v1/users", &forged.access_token).await;
    assert_problem(status, &body, 401, None);
    let (status, body) = app.get("/v1/items", "dpt_not-a-real-device-token").await;
    assert_problem(status, &body, 401, None);
    let resp = app
        .client
        .get(app.url("/v1/items"))
        .header("authorization", "Basic YWRtaW46eA==")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
}

async fn admins_manage_users_and_other_roles_may_not(app: TestApp) {
    let (head_id, head) = app.user("hanna", "head", None).await;
    let (rep_id, rep) = app.user("rick", "rep", Some(head_id)).await;
    let (_, warehouse) = app.user("wally", "warehouse", None).await;

    let (status, user) = app
        .get(&format!("/v1/users/{rep_id}"), &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["manager_id"], head_id);
    assert!(user.get("password_hash").is_none() && user.get("password").is_none());

    for token in [&rep, &warehouse, &head] {
        let (status, body) = app
            .post(
                "/v1/users",
                token,
                json!({"username": "x1", "password": "password-1", "role": "admin"}),
            )
            .await;
        assert_problem(status, &body, 403, None);
    }
    let (status, body) = app.get("/v1/users", &rep).await;
    assert_problem(status, &body, 403, None);
    let (status, _) = app.get(&format!("/v1/users/{rep_id}"), &rep).await;
    assert_eq!(status, StatusCode::OK, "a user may read themselves");

    // Validation and duplicates.
    let (status, body) = app
        .post(
            "/v1/users",
            &app.admin_token,
            json!({"username": "rick", "password": "password-1", "role": "rep"}),
        )
        .await;
    assert_problem(status, &body, 409, Some("username"));
    let (status, body) = app
        .post(
            "/v1/users",
            &app.admin_token,
            json!({"username": "new", "password": "short", "role": "rep"}),
        )
        .await;
    assert_problem(status, &body, 422, Some("password"));
    let (status, body) = app
        .post(
            "/v1/users",
            &app.admin_token,
            json!({"username": "new", "password": "password-1", "role": "boss"}),
        )
        .await;
    assert_problem(status, &body, 422, Some("role"));
    let (status, body) = app.post("/v1/users", &app.admin_token, json!({"username": "new", "password": "password-1", "role": "rep", "manager_id": 999999})).await;
    assert_problem(status, &body, 422, Some("manager_id"));
    // No cycles in the team tree.
    let (status, body) = app
        .patch(
            &format!("/v1/users/{head_id}"),
            &app.admin_token,
            json!({"manager_id": rep_id}),
        )
        .await;
    assert_problem(status, &body, 422, Some("manager_id"));

    // Deactivate: login refused, refresh refused.
    let (status, _) = app
        .patch(
            &format!("/v1/users/{rep_id}"),
            &app.admin_token,
            json!({"active": false, "manager_id": null}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .send(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"username": "rick", "password": "rick-password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .send(Method::POST, "/v1/auth/refresh", Some(&rep), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, listing) = app.get("/v1/users?role=rep", &app.admin_token).await;
    assert_eq!(listing["items"][0]["manager_id"], serde_json::Value::Null);
}

async fn devices_get_a_token_once_that_works_until_revoked(app: TestApp) {
    let device = app
        .create(
            "/v1/devices",
            json!({"name": "Scanner 1", "kind": "scanner", "profile": "generic-wedge"}),
        )
        .await;
    let token = device["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("dpt_"));
    let id = device["id"].as_i64().unwrap();
    let (_, listed) = app
        .get(&format!("/v1/devices/{id}"), &app.admin_token)
        .await;
    assert!(
        listed.get("token").is_none(),
        "the token is shown only once"
    );

    // A scanner reads master data but cannot touch users, devices or the CRM.
    let (status, _) = app.get("/v1/items", &token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app.get("/v1/users", &token).await;
    assert_problem(status, &body, 403, None);
    let (status, body) = app
        .post("/v1/items", &token, json!({"code": "X", "name": "x"}))
        .await;
    assert_problem(status, &body, 403, None);
    let (status, body) = app.get("/v1/customers", &token).await;
    assert_problem(status, &body, 403, None);

    let (status, body) = app
        .post(
            "/v1/devices",
            &app.admin_token,
            json!({"name": "P", "kind": "toaster", "profile": "x"}),
        )
        .await;
    assert_problem(status, &body, 422, Some("kind"));
    let (status, body) = app
        .post(
            "/v1/devices",
            &app.admin_token,
            json!({"name": "P", "kind": "printer", "profile": "../etc/passwd"}),
        )
        .await;
    assert_problem(status, &body, 422, Some("profile"));

    let (status, revoked) = app
        .send(
            Method::DELETE,
            &format!("/v1/devices/{id}"),
            Some(&app.admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["revoked_at"].is_string());
    let (status, body) = app.get("/v1/items", &token).await;
    assert_problem(status, &body, 401, None);
}

async fn the_signing_secret_survives_a_restart(app: TestApp) {
    // A second instance on the same database accepts the first one's tokens.
    let config = depot::config::Config {
        database_url: app.state.config.database_url.clone(),
        ..depot::config::Config::default()
    };
    let second = depot::app::AppState::start(config).await.unwrap();
    let user = second.jwt.verify(&app.admin_token).unwrap();
    assert_eq!(user.username, "admin");
    second.db.close().await;
}

crate::on_both!(
    login_returns_a_bearer_token_and_wrong_passwords_are_refused,
    missing_or_forged_tokens_get_401,
    admins_manage_users_and_other_roles_may_not,
    devices_get_a_token_once_that_works_until_revoked,
    the_signing_secret_survives_a_restart,
);
