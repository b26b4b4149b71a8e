//! The application's router: every domain's handlers composed with the HTTP plumbing (`api`),
//! and the OpenAPI document they describe.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Router, middleware};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::api::{self, AppState};

/// Every API route, with its OpenAPI description collected from the handlers and finished by
/// [`api::reference::finish`] (domain tags, whole-sentence summaries, recorded examples).
pub fn routes(config: &crate::config::Config) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = described_routes(config);
    api::reference::finish(&mut openapi);
    (router, openapi)
}

/// The routes and their document as the handlers describe them, before
/// [`api::reference::finish`].
pub(crate) fn described_routes(
    config: &crate::config::Config,
) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(api::ApiDoc::openapi())
        .merge(api::ops::router())
        .merge(crate::auth::api::router())
        .merge(crate::catalog::api::router())
        .merge(crate::crm::api::router())
        .merge(crate::scanning::api::router(config.image_limit_bytes))
        .merge(crate::stock::api::router())
        .merge(crate::transfer::api::router(config.import_limit_bytes))
        .merge(crate::reports::api::router())
        .merge(crate::fulfilment::api::router())
        .merge(crate::production::api::router())
        .merge(crate::purchasing::api::router())
        .merge(crate::printing::api::router())
        .merge(crate::labels::api::router())
        .merge(crate::shipping::api::router())
        .merge(crate::sync::api::router())
        .merge(crate::demo::api::router())
        .split_for_parts()
}

/// The OpenAPI document, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes(&crate::config::Config::default()).1
}

#[derive(Clone)]
struct DocsPages {
    /// Serialised from the document itself (not through `serde_json::Value`, whose maps are
    /// sorted), so paths and fields keep their order.
    json: Arc<String>,
    html: Arc<String>,
}

/// The API routes with what every API request passes through: metrics, and one transaction
/// per mutation with its idempotency record.
fn with_plumbing(api: Router<AppState>, state: AppState) -> Router {
    api.route_layer(middleware::from_fn(api::ops::track))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            api::idempotency::middleware,
        ))
        .with_state(state)
}

pub fn build_router(state: AppState) -> Router {
    let (api, openapi) = routes(&state.config);
    let pages = DocsPages {
        html: Arc::new(api::docs::render_html(&openapi)),
        json: Arc::new(openapi.to_json().unwrap_or_default()),
    };
    let docs_routes = Router::new()
        .route(
            "/openapi.json",
            get(|State(p): State<DocsPages>| async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    (*p.json).clone(),
                )
            }),
        )
        .route(
            "/docs",
            get(|State(p): State<DocsPages>| async move { Html((*p.html).clone()) }),
        )
        // Someone who opens the server's address in a browser lands on the API reference.
        .route("/", get(|| async { axum::response::Redirect::to("/docs") }))
        .with_state(pages);

    let request_id = HeaderName::from_static("x-request-id");
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let body_limit = state.config.body_limit_bytes;
    let own_requests = AppState {
        dispatch: Default::default(),
        ..state.clone()
    };
    state.dispatch.set(with_plumbing(api.clone(), own_requests));
    with_plumbing(api, state)
        .merge(docs_routes)
        .merge(crate::floor::router())
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(api::ops::problem_bodies))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(CatchPanicLayer::custom(|_| -> Response {
            tracing::error!("handler panicked");
            api::problem::ApiError::from(crate::error::Error::Internal(anyhow::anyhow!("panic")))
                .into_response()
        }))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}
