//! HTTP plumbing, below every domain's handlers: the state they receive, extractors,
//! problem+json, the auth extractor, idempotency, ops middleware, OpenAPI schemas and the /docs
//! page. The router is composed where the app is built (`app::build_router`).

pub mod auth;
pub mod callers;
pub mod docs;
pub mod extract;
pub mod idempotency;
pub mod ops;
pub mod problem;
pub mod reference;
pub mod render;
pub mod schemas;
mod state;

pub use state::AppState;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
pub struct ApiDoc;

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
