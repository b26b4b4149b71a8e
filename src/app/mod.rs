//! Application state, start-up (connect, migrate, secrets, bootstrap admin), the router and
//! serving.

mod router;

#[cfg(test)]
pub(crate) use router::described_routes;
pub use router::{build_router, openapi, routes};

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use crate::auth::tokens::{JwtKeys, generate_secret};
use crate::auth::users;
use crate::config::Config;
use crate::db::{Db, get_setting, put_setting_once};

pub use crate::api::AppState;

const JWT_SECRET_KEY: &str = "jwt_secret";

impl AppState {
    /// Connects, migrates, loads or creates the signing secret and, on an empty database,
    /// the admin user.
    pub async fn start(config: Config) -> anyhow::Result<AppState> {
        if let Some(prefix) = &config.gs1_company_prefix {
            // A wrong prefix would make every SSCC fail later; say so at start instead.
            crate::labels::sscc::check_prefix(prefix)
                .map_err(|e| anyhow::anyhow!("DEPOT_GS1_COMPANY_PREFIX: {e}"))?;
        }
        anyhow::ensure!(
            config.sscc_extension_digit <= 9,
            "DEPOT_SSCC_EXTENSION_DIGIT must be a digit, 0 to 9"
        );
        let db = Db::connect(&config.database_url).await?;
        db.migrate().await?;
        let secret = match &config.jwt_secret {
            Some(s) => {
                anyhow::ensure!(
                    s.expose().len() >= 32,
                    "DEPOT_JWT_SECRET must be at least 32 characters"
                );
                s.expose().to_string()
            }
            None => match get_setting(&db, JWT_SECRET_KEY).await? {
                Some(s) => s,
                None => put_setting_once(&db, JWT_SECRET_KEY, &generate_secret()).await?,
            },
        };
        let generated =
            users::bootstrap_admin(&db, config.admin_password.as_ref().map(|s| s.expose()))
                .await
                .context("creating the admin user")?;
        if let Some(password) = generated {
            // Printed once, to the terminal only: never through the log pipeline.
            eprintln!(
                "\n  Created user 'admin' with password: {password}\n  (set DEPOT_ADMIN_PASSWORD to choose it; change it with PATCH /v1/users/{{id}})\n"
            );
        }
        let profiles = crate::scanning::profiles::Profiles::load(config.devices_dir.as_deref())
            .context("loading device profiles")?;
        let decoder = match &config.decode_worker_exe {
            Some(exe) => {
                crate::barcode::decode::Decoder::with_worker_exe(config.decode_workers, exe)
            }
            None => crate::barcode::decode::Decoder::new(config.decode_workers),
        };
        if let Err(e) = decoder.warm_up().await {
            tracing::warn!(error = %e, "barcode decode workers could not start yet; photo decoding will retry");
        }
        let labels = crate::labels::Labels::load(config.labels_dir.as_deref())
            .context("loading label templates")?;
        Ok(AppState {
            labels: labels.clone(),
            printing: crate::printing::Printing::load(
                config.devices_dir.as_deref(),
                labels.clone(),
            )?,
            decoder,
            scanning: crate::scanning::Scanning::new(&db, profiles),
            jwt: Arc::new(JwtKeys::new(
                secret.as_bytes(),
                config.access_token_ttl_secs,
            )),
            db,
            config: Arc::new(config),
            metrics: crate::api::ops::metrics_handle(),
            instance_id: crate::jobs::new_instance_id().into(),
            login_throttle: Arc::new(crate::auth::throttle::LoginThrottle::new(Default::default())),
            in_flight: Default::default(),
            dispatch: Default::default(),
            draining: Default::default(),
        })
    }

    pub fn router(&self) -> Router {
        build_router(self.clone())
    }
}

/// Serves until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let router = state.router();
    let housekeeping = tokio::spawn(housekeeping(state.db.clone()));
    let print_worker = state.printing.start_worker(state.db.clone());
    let import_worker = crate::transfer::jobs::start(
        state.db.clone(),
        state.instance_id.clone(),
        std::time::Duration::from_secs(state.config.import_stale_secs),
    );
    let jobs = if state.config.jobs {
        Some(
            crate::jobs::start(
                state.db.clone(),
                state.config.expiry_alert_days,
                state.instance_id.clone(),
            )
            .await?,
        )
    } else {
        None
    };
    // Shutdown: readiness turns false first; after the drain period (time for a load balancer's
    // health checks to take this instance out) the listener closes and in-flight requests
    // finish.
    let draining = state.draining.clone();
    let drain = std::time::Duration::from_secs(state.config.shutdown_drain_secs);
    let shutdown = async move {
        shutdown.await;
        draining.store(true, std::sync::atomic::Ordering::SeqCst);
        if !drain.is_zero() {
            tracing::info!(
                seconds = drain.as_secs(),
                "draining: /readyz answers 503 until the listener closes"
            );
            tokio::time::sleep(drain).await;
        }
    };
    // The peer address feeds login throttling (api::auth::ClientIp).
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("serving HTTP")?;
    housekeeping.abort();
    // A job it was running rolls back and is taken over once its heartbeat is stale.
    import_worker.abort();
    print_worker.stop().await;
    if let Some(jobs) = jobs {
        jobs.shutdown().await;
    }
    state.db.close().await;
    Ok(())
}

/// Hourly clean-up that is harmless when several instances run it: forget idempotency keys
/// older than a day.
async fn housekeeping(db: crate::db::Db) {
    let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every_hour.tick().await;
        match crate::api::idempotency::purge_older_than(&db, time::Duration::days(1)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "old idempotency keys removed"),
            Err(e) => tracing::warn!(error = %e, "idempotency key purge failed"),
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
