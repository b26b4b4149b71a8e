//! Hardening (issue 12): tokens follow their user, the last admin stays, failed logins slow
//! down, and job leases belong to one process and are given back on shutdown.

use std::time::Duration;

use depot::app::{AppState, serve};
use depot::config::Config;

use crate::helpers::TestApp;

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

crate::on_both!(job_leases_are_per_instance_and_given_back_on_shutdown,);
