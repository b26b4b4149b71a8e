//! The HTTP layer: thin handlers over the domain modules, one router, one OpenAPI document.

pub mod auth;
pub mod docs;
pub mod extract;
pub mod idempotency;
pub mod ops;
pub mod problem;
pub mod reference;
pub mod schemas;
mod users;

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
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;

pub use reference::TAGS;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Depot",
        description = "Warehouse and fulfilment backend: scanning, stock, reservations, labels and a thin CRM. \
            Authenticate with POST /v1/auth/login (people) or a device token, then send \
            Authorization: Bearer <token>. Every mutation accepts an Idempotency-Key header. \
            Lists take limit and cursor and return {items, next_cursor}."
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A user's JWT from /v1/auth/login, or a device token (dpt_…)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every API route, with its OpenAPI description collected from the handlers and finished by
/// [`reference::finish`] (domain tags, whole-sentence summaries, recorded examples).
pub fn routes(config: &crate::config::Config) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = described_routes(config);
    reference::finish(&mut openapi);
    (router, openapi)
}

/// The routes and their document as the handlers describe them, before
/// [`reference::finish`].
fn described_routes(
    config: &crate::config::Config,
) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(ops::router())
        .merge(auth::router())
        .merge(users::router())
        .merge(crate::catalog::api::router())
        .merge(crate::crm::api::router())
        .merge(crate::scanning::api::router(config.image_limit_bytes))
        .merge(crate::stock::api::router())
        .merge(crate::fulfilment::api::router())
        .merge(crate::production::api::router())
        .merge(crate::purchasing::api::router())
        .merge(crate::printing::api::router())
        .merge(crate::labels::api::router())
        .merge(crate::shipping::api::router())
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

pub fn build_router(state: AppState) -> Router {
    let (api, openapi) = routes(&state.config);
    let pages = DocsPages {
        html: Arc::new(docs::render_html(&openapi)),
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
    api.route_layer(middleware::from_fn(ops::track))
        .layer(middleware::from_fn_with_state(state.clone(), idempotency::middleware))
        .with_state(state)
        .merge(docs_routes)
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(ops::problem_bodies))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(CatchPanicLayer::custom(|_| -> Response {
            tracing::error!("handler panicked");
            problem::ApiError::from(crate::error::Error::Internal(anyhow::anyhow!("panic")))
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
