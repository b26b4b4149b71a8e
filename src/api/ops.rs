//! Operational routes and middleware: health, readiness, Prometheus metrics, and the layer that
//! turns bare error responses (unknown route, wrong method, timeout) into problem+json.

use std::sync::OnceLock;
use std::time::Instant;

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::api::problem::{PROBLEM_JSON, Problem};
use crate::api::schemas::routes;
use crate::api::state::AppState;

/// The process-wide Prometheus recorder (metrics macros write to one global recorder).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (tests embedding several apps).
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Counts requests and their latency per route template and status.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Error responses produced outside our handlers (axum's 404/405, timeouts, body limits) come
/// without a problem body; give them one.
pub async fn problem_bodies(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let status = response.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was not read, so this connection cannot carry another request:
        // tell the client not to reuse it.
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem {
        return response;
    }
    let (slug, detail) = match status {
        StatusCode::NOT_FOUND => ("not-found", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method-not-allowed",
            "this route does not accept that method",
        ),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long and was abandoned"),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "too-large",
            "the request body is larger than the server accepts",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported-media-type", "unsupported Content-Type")
        }
        s if s.is_server_error() => ("internal", "an internal error occurred; it has been logged"),
        _ => ("error", "the request could not be served"),
    };
    let mut problem = Problem::new(status, slug, detail).into_response();
    // Keep headers such as Allow on a 405.
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Liveness: the process is up and serving.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = Health)))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: not shutting down, and the database answers.
#[utoipa::path(get, path = "/readyz", tag = "ops",
    responses((status = 200, body = Health), (status = 503, body = Problem, content_type = "application/problem+json")))]
async fn readyz(State(state): State<AppState>) -> Response {
    if state.draining.load(std::sync::atomic::Ordering::SeqCst) {
        return Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "draining",
            "this instance is shutting down; send requests to another",
        )
        .into_response();
    }
    match state.db.ping().await {
        Ok(()) => Json(Health { status: "ready" }).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                "the database is unreachable",
            )
            .into_response()
        }
    }
}

/// Gauges read at scrape time: the database pools, replica lag, job leases and the print
/// queue. A gauge that cannot be read now keeps its last value (the scrape still answers).
async fn refresh_gauges(state: &AppState) {
    for (pool, open, idle) in state.db.pool_stats() {
        metrics::gauge!("depot_db_pool_connections", "pool" => pool, "state" => "open")
            .set(f64::from(open));
        metrics::gauge!("depot_db_pool_connections", "pool" => pool, "state" => "idle")
            .set(idle as f64);
    }
    for (replica, lag) in state.db.replica_lag().await {
        metrics::gauge!("depot_db_replica_lag_seconds", "replica" => replica).set(lag);
    }
    if let Ok(leases) = crate::jobs::leases(&state.db).await {
        for (job, holder, expires_in) in leases {
            let mine = if holder == *state.instance_id {
                1.0
            } else {
                0.0
            };
            metrics::gauge!("depot_job_lease_expires_in_seconds", "job" => job.clone())
                .set(expires_in);
            metrics::gauge!("depot_job_lease_held_here", "job" => job).set(mine);
        }
    }
    if let Ok(q) = crate::printing::jobs::queue_stats(&state.db).await {
        for (status, n) in [
            ("queued", q.queued),
            ("sending", q.sending),
            ("failed", q.failed),
        ] {
            metrics::gauge!("depot_print_jobs", "status" => status).set(n as f64);
        }
        metrics::gauge!("depot_print_queue_oldest_seconds").set(q.oldest_queued_secs);
        metrics::gauge!("depot_printers_failing").set(q.failing_printers as f64);
    }
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
async fn metrics_text(State(state): State<AppState>) -> Response {
    refresh_gauges(&state).await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics_text))
}
