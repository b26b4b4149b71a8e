//! Hardening (issue 12): tokens follow their user, the last admin stays, failed logins slow
//! down, and job leases belong to one process and are given back on shutdown.

use std::time::Duration;

use depot::app::{AppState, serve};
use depot::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem};

/// `token` is refused as no longer valid, with `WWW-Authenticate: Bearer`.
async fn assert_stale(app: &TestApp, method: Method, path: &str, token: &str, body: Value) {
    let resp = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    let body: Value = resp.json().await.unwrap();
    assert_problem(StatusCode::UNAUTHORIZED, &body, 401, None);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .starts_with("token no longer valid"),
        "{body}"
    );
}

async fn login_status(app: &TestApp, username: &str, password: &str) -> StatusCode {
    app.send(
        Method::POST,
        "/v1/auth/login",
        None,
        Some(json!({"username": username, "password": password})),
    )
    .await
    .0
}

/// Deactivating, changing the role or setting the password of a user ends their tokens on the
/// next request; other changes do not.
async fn tokens_end_when_their_user_is_deactivated_demoted_or_given_a_new_password(app: TestApp) {
    let s = crate::stock::setup(&app).await;
    let adjustment =
        json!({"item_id": s.plain, "location_id": s.a, "quantity": 5, "reason": "found"});
    let (keeper_id, keeper) = app.user("keeper", "warehouse", None).await;
    let (status, body) = app
        .post("/v1/stock/adjustments", &keeper, adjustment.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A change that takes nothing away keeps the token.
    let (status, _) = app
        .patch(
            &format!("/v1/users/{keeper_id}"),
            &app.admin_token,
            json!({"full_name": "Kim Keeper", "email": "kim@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.get("/v1/me", &keeper).await.0, StatusCode::OK);

    // Deactivated: the token that just worked posts nothing more.
    let (status, _) = app
        .patch(
            &format!("/v1/users/{keeper_id}"),
            &app.admin_token,
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_stale(
        &app,
        Method::POST,
        "/v1/stock/adjustments",
        &keeper,
        adjustment.clone(),
    )
    .await;
    // Reactivated: the old token stays dead; a new login works.
    let (status, _) = app
        .patch(
            &format!("/v1/users/{keeper_id}"),
            &app.admin_token,
            json!({"active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_stale(&app, Method::GET, "/v1/me", &keeper, Value::Null).await;
    let keeper = app.login("keeper", "keeper-password").await;
    let (status, _) = app.post("/v1/stock/adjustments", &keeper, adjustment).await;
    assert_eq!(status, StatusCode::CREATED);

    // An admin demoted to rep: the old token cannot create an admin any more.
    let (boss_id, boss) = app.user("boss", "admin", None).await;
    let new_admin = json!({"username": "sneaky", "password": "password-1", "role": "admin"});
    let (status, _) = app
        .patch(
            &format!("/v1/users/{boss_id}"),
            &app.admin_token,
            json!({"role": "rep"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_stale(&app, Method::POST, "/v1/users", &boss, new_admin.clone()).await;
    let boss = app.login("boss", "boss-password").await;
    let (status, body) = app.post("/v1/users", &boss, new_admin).await;
    assert_problem(status, &body, 403, None);
    let (_, me) = app.get("/v1/me", &boss).await;
    assert_eq!(me["role"], "rep");
    // Refresh follows the same rule: a fresh token works, a superseded one is refused.
    let (status, refreshed) = app
        .send(Method::POST, "/v1/auth/refresh", Some(&boss), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let refreshed = refreshed["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get("/v1/me", &refreshed).await.0, StatusCode::OK);
    let (status, _) = app
        .patch(
            &format!("/v1/users/{boss_id}"),
            &app.admin_token,
            json!({"role": "head"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_stale(
        &app,
        Method::POST,
        "/v1/auth/refresh",
        &refreshed,
        Value::Null,
    )
    .await;
    assert_stale(&app, Method::GET, "/v1/me", &boss, Value::Null).await;

    // A new password: old tokens and the old password are refused, the new one works.
    let (rep_id, rep) = app.user("rita", "rep", None).await;
    let (status, _) = app
        .patch(
            &format!("/v1/users/{rep_id}"),
            &app.admin_token,
            json!({"password": "a-new-password"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_stale(&app, Method::GET, "/v1/customers", &rep, Value::Null).await;
    assert_eq!(
        login_status(&app, "rita", "rita-password").await,
        StatusCode::UNAUTHORIZED
    );
    let rep = app.login("rita", "a-new-password").await;
    assert_eq!(app.get("/v1/customers", &rep).await.0, StatusCode::OK);
}

/// Another instance on the test's database, with the scheduler on or off.
async fn instance(app: &TestApp, jobs: bool) -> AppState {
    let config = Config {
        database_url: app.state.config.database_url.clone(),
        jobs,
        ..Config::default()
    };
    AppState::start(config)
        .await
        .expect("start another instance")
}

/// Two instances on one database never hold a job lease at once, even with the same host and
/// pid; one that shuts down gracefully gives its leases back, so the other takes them at once.
async fn job_leases_are_per_instance_and_given_back_on_shutdown(app: TestApp) {
    let first = instance(&app, true).await;
    let second = instance(&app, false).await;
    assert_ne!(first.instance_id, second.instance_id);
    assert_ne!(first.instance_id, app.state.instance_id);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, first.clone(), async {
        let _ = stopped.await;
    }));
    // The first instance runs the expiry job shortly after start, under its lease.
    let db = &second.db;
    let mut waited = Duration::ZERO;
    while depot::jobs::lease_holder(db, "expiry")
        .await
        .unwrap()
        .as_deref()
        != Some(&*first.instance_id)
    {
        assert!(
            waited < Duration::from_secs(30),
            "the first instance took no lease"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    let ttl = time::Duration::minutes(10);
    assert!(
        !depot::jobs::try_lease(db, "expiry", &second.instance_id, ttl)
            .await
            .unwrap(),
        "two instances held one lease"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .expect("graceful shutdown finishes")
        .unwrap()
        .unwrap();
    assert_eq!(depot::jobs::lease_holder(db, "expiry").await.unwrap(), None);
    assert!(
        depot::jobs::try_lease(db, "expiry", &second.instance_id, ttl)
            .await
            .unwrap(),
        "the lease was not given back on shutdown"
    );
    second.db.close().await;
}

crate::on_both!(
    tokens_end_when_their_user_is_deactivated_demoted_or_given_a_new_password,
    job_leases_are_per_instance_and_given_back_on_shutdown,
);
