//! Hardening (issue 12): tokens follow their user, the last admin stays, failed logins slow
//! down, and job leases belong to one process and are given back on shutdown.

use std::time::Duration;

use depot::app::{AppState, serve};
use depot::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_PASSWORD, TestApp, assert_problem};

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

async fn active_admins(app: &TestApp, token: &str) -> Vec<String> {
    let (status, list) = app.get("/v1/users?role=admin&active=true", token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect()
}

/// The last active admin cannot deactivate or demote themselves (409 naming the field), even
/// when two admins try it at the same moment.
async fn the_last_active_admin_cannot_be_removed(app: TestApp) {
    let (_, me) = app.get("/v1/me", &app.admin_token).await;
    let admin_id = me["id"].as_i64().unwrap();
    let me_path = format!("/v1/users/{admin_id}");
    let (status, body) = app
        .patch(&me_path, &app.admin_token, json!({"active": false}))
        .await;
    assert_problem(status, &body, 409, Some("active"));
    let (status, body) = app
        .patch(&me_path, &app.admin_token, json!({"role": "warehouse"}))
        .await;
    assert_problem(status, &body, 409, Some("role"));
    // Refused changes change nothing, and the token still works.
    let (status, body) = app
        .patch(
            &me_path,
            &app.admin_token,
            json!({"role": "admin", "active": true, "full_name": "Ada Admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["full_name"], "Ada Admin");
    assert_eq!(active_admins(&app, &app.admin_token).await, ["admin"]);

    // A deactivated admin does not count.
    let (second_id, _) = app.user("second", "admin", None).await;
    let (status, _) = app
        .patch(
            &format!("/v1/users/{second_id}"),
            &app.admin_token,
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .patch(&me_path, &app.admin_token, json!({"role": "head"}))
        .await;
    assert_problem(status, &body, 409, Some("role"));
    let (status, _) = app
        .patch(
            &format!("/v1/users/{second_id}"),
            &app.admin_token,
            json!({"active": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // Two admins stepping down at the same moment: one of them stays.
    let people = [
        ("admin", ADMIN_PASSWORD.to_string(), admin_id),
        ("second", "second-password".to_string(), second_id),
    ];
    for round in 0..6 {
        let mut tokens = Vec::new();
        for (name, password, _) in &people {
            tokens.push(app.login(name, password).await);
        }
        let change = if round % 2 == 0 {
            json!({"role": "rep"})
        } else {
            json!({"active": false})
        };
        let (path_a, path_b) = (
            format!("/v1/users/{admin_id}"),
            format!("/v1/users/{second_id}"),
        );
        let (a, b) = tokio::join!(
            app.patch(&path_a, &tokens[0], change.clone()),
            app.patch(&path_b, &tokens[1], change.clone()),
        );
        let statuses = [a.0, b.0];
        assert_eq!(
            statuses.iter().filter(|s| **s == StatusCode::OK).count(),
            1,
            "round {round}: {a:?} {b:?}"
        );
        let (kept, refused) = if a.0 == StatusCode::OK {
            (1, b)
        } else {
            (0, a)
        };
        assert_problem(
            refused.0,
            &refused.1,
            409,
            Some(if round % 2 == 0 { "role" } else { "active" }),
        );
        let survivor = app.login(people[kept].0, &people[kept].1).await;
        assert_eq!(active_admins(&app, &survivor).await, [people[kept].0]);
        let (status, _) = app
            .patch(
                &format!("/v1/users/{}", people[1 - kept].2),
                &survivor,
                json!({"role": "admin", "active": true}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
}

/// Runs `depot admin reset-password` against the test's database; returns (success, stdout,
/// stderr).
async fn reset_password(
    app: &TestApp,
    args: &[&str],
    env_password: Option<&str>,
    stdin: &str,
) -> (bool, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_depot"));
    cmd.args(["admin", "reset-password"])
        .args(args)
        .current_dir(std::env::temp_dir())
        .env_remove("DEPOT_CONFIG")
        .env_remove("DEPOT_ADMIN_PASSWORD")
        .env("DEPOT_DATABASE_URL", &app.state.config.database_url)
        .env("DEPOT_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    if let Some(p) = env_password {
        cmd.env("DEPOT_ADMIN_PASSWORD", p);
    }
    let mut child = cmd.spawn().expect("run depot");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("depot admin reset-password finishes")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `depot admin reset-password` gets a locked-out operator back in: the password is set, the
/// user reactivated (and with `--make-admin` made an admin), and older tokens end.
async fn admin_reset_password_on_the_command_line_recovers_access(app: TestApp) {
    let (ops_id, _) = app.user("ops", "rep", None).await;
    let (status, _) = app
        .patch(
            &format!("/v1/users/{ops_id}"),
            &app.admin_token,
            json!({"active": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (ok, out, err) = reset_password(&app, &["admin"], Some("recovered-password-1"), "").await;
    assert!(ok, "{out}\n{err}");
    assert!(out.contains("user 'admin'"), "{out}");
    assert_stale(&app, Method::GET, "/v1/me", &app.admin_token, Value::Null).await;
    assert_eq!(
        login_status(&app, "admin", ADMIN_PASSWORD).await,
        StatusCode::UNAUTHORIZED
    );
    let admin = app.login("admin", "recovered-password-1").await;
    assert_eq!(app.get("/v1/users", &admin).await.0, StatusCode::OK);

    // A deactivated rep becomes an active admin, the password read from stdin.
    let (ok, out, err) =
        reset_password(&app, &["ops", "--make-admin"], None, "ops-from-stdin\n").await;
    assert!(ok, "{out}\n{err}");
    let ops = app.login("ops", "ops-from-stdin").await;
    let (_, me) = app.get("/v1/me", &ops).await;
    assert_eq!(
        (me["role"].as_str(), me["active"].as_bool()),
        (Some("admin"), Some(true))
    );

    // Unknown users and unacceptable passwords fail with a message and change nothing.
    let (ok, _, err) = reset_password(&app, &["nobody"], Some("password-123"), "").await;
    assert!(!ok && err.contains("no user named 'nobody'"), "{err}");
    let (ok, _, err) = reset_password(&app, &["ops"], None, "short\n").await;
    assert!(!ok && err.contains("password"), "{err}");
    let (ok, _, err) = reset_password(&app, &["ops"], None, "").await;
    assert!(!ok && err.contains("no password given"), "{err}");
    assert_eq!(app.get("/v1/me", &ops).await.0, StatusCode::OK);
}

/// Sends a login as if from `client` (the test client is a trusted proxy); returns the status,
/// the `Retry-After` header and the body.
async fn login_from(
    app: &TestApp,
    client: &str,
    username: &str,
    password: &str,
) -> (StatusCode, Option<u64>, Value) {
    let resp = app
        .client
        .post(app.url("/v1/auth/login"))
        .header("x-forwarded-for", client)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry_after, resp.json().await.unwrap())
}

/// Repeated failures for a user from one address get 429 with `Retry-After`; the same user from
/// another address still logs in, and a success resets the count.
async fn repeated_failed_logins_are_slowed_down_per_user_and_address(app: TestApp) {
    app.user("tina", "rep", None).await;
    let attacker = "203.0.113.7";
    for i in 0..5 {
        let (status, retry, body) = login_from(&app, attacker, "tina", &format!("guess-{i}")).await;
        assert_problem(status, &body, 401, None);
        assert_eq!(retry, None);
    }
    let (status, retry, body) = login_from(&app, attacker, "tina", "guess-6").await;
    assert_problem(status, &body, 429, None);
    assert!(retry.is_some_and(|s| s >= 1), "Retry-After: {retry:?}");
    // While it waits, that address is refused even the right password...
    let (status, _, _) = login_from(&app, attacker, "tina", "tina-password").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // ...but tina, from her own address, is not locked out.
    let (status, _, body) = login_from(&app, "198.51.100.9", "tina", "tina-password").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Nor is anyone connecting directly.
    app.login("tina", "tina-password").await;

    // A success clears the count: 4 failures, a success, 5 failures, all answered.
    let typo = "198.51.100.10";
    for round in 0..2 {
        for _ in 0..4 + round {
            let (status, _, _) = login_from(&app, typo, "tina", "typo").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
        if round == 0 {
            let (status, _, _) = login_from(&app, typo, "tina", "tina-password").await;
            assert_eq!(status, StatusCode::OK);
        }
    }

    // One address trying many usernames is slowed down too.
    let sprayer = "192.0.2.55";
    for i in 0..20 {
        let (status, _, _) = login_from(&app, sprayer, &format!("user{i}"), "password1").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, retry, body) = login_from(&app, sprayer, "tina", "tina-password").await;
    assert_problem(status, &body, 429, None);
    assert!(retry.is_some());
    // An address claimed by an untrusted hop does not help: the trusted proxy's view counts.
    let (status, _, _) = login_from(
        &app,
        &format!("10.9.9.9, {sprayer}"),
        "tina",
        "tina-password",
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
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
    the_last_active_admin_cannot_be_removed,
    admin_reset_password_on_the_command_line_recovers_access,
    repeated_failed_logins_are_slowed_down_per_user_and_address,
    job_leases_are_per_instance_and_given_back_on_shutdown,
);
