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
}
