//! The application state every handler receives: the database, the signing keys, the
//! configuration and the long-lived services. Built at start-up by `app` (`AppState::start`).

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::tokens::JwtKeys;
use crate::config::Config;
use crate::db::Db;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub jwt: Arc<JwtKeys>,
    pub config: Arc<Config>,
    pub metrics: PrometheusHandle,
    pub scanning: crate::scanning::Scanning,
    pub decoder: crate::barcode::decode::Decoder,
    pub printing: crate::printing::Printing,
    pub labels: crate::labels::Labels,
    /// This process's name in job leases, random per start (`jobs::new_instance_id`).
    pub instance_id: Arc<str>,
    pub login_throttle: Arc<crate::auth::throttle::LoginThrottle>,
    /// Keyed requests running in this process (`api::idempotency`).
    pub in_flight: crate::api::idempotency::InFlight,
    /// The API's own routes, for requests Depot sends itself.
    pub dispatch: Dispatch,
    /// Set when shutdown begins: `/readyz` answers 503 so a load balancer stops sending
    /// requests before the listener closes.
    pub draining: Arc<std::sync::atomic::AtomicBool>,
}

/// The API's routes with their plumbing, for requests Depot sends to itself (the operations
/// `/v1/sync/ops` replays, each as the request its online route takes). Filled once by
/// `app::build_router` with a router whose state has an empty `Dispatch`, so nothing refers to
/// itself.
#[derive(Clone, Default)]
pub struct Dispatch(Arc<std::sync::OnceLock<axum::Router>>);

impl Dispatch {
    pub fn set(&self, router: axum::Router) {
        let _ = self.0.set(router);
    }

    pub async fn send(
        &self,
        request: axum::extract::Request,
    ) -> crate::error::Result<axum::response::Response> {
        use tower::ServiceExt;
        let router = self.0.get().cloned().ok_or_else(|| {
            crate::error::Error::Internal(anyhow::anyhow!("the API router is not built"))
        })?;
        Ok(router
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {}))
    }
}
