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
pub mod render;
pub mod schemas;
mod state;

pub use state::AppState;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Depot",
        description = "Warehouse and fulfilment backend: scanning, stock, reservations, labels and a thin CRM. \
            Authenticate with POST /v1/auth/login (people) or a device token, then send \
            Authorization: Bearer <token>. Every mutation accepts an Idempotency-Key header. \
            Lists take limit and cursor and return {items, next_cursor}."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Log in, refresh, who am I"),
        (name = "users", description = "People and roles (admin)"),
        (name = "devices", description = "Scanners and printers (admin)"),
        (name = "catalog", description = "Items, GTINs, suppliers"),
        (name = "warehouses", description = "Warehouses and their locations (bins)"),
        (name = "crm", description = "Customers, contacts, leads, deals"),
        (name = "scanning", description = "Resolve scans and photos of barcodes; the scan log"),
        (name = "stock", description = "Receipts, balances, the ledger, batches, FEFO plans"),
        (name = "counts", description = "Cycle counts: count locations by scan, post the variances"),
        (name = "returns", description = "Goods coming back from a deal: restocked or written off"),
        (name = "fulfilment", description = "Reserve deals, their fulfilment, item availability"),
        (name = "production", description = "Production orders: components, completion, output to waiting deals"),
        (name = "purchasing", description = "Purchase orders: one open order per supplier, receiving"),
        (name = "shipping", description = "Parcels with SSCCs, shipments, dispatch, tracking"),
        (name = "labels", description = "Label templates rendered to ZPL, PDF and PNG; SSCCs"),
        (name = "printing", description = "Print jobs: labels queued for printers, sent with retries"),
        (name = "ops", description = "Health, readiness, metrics")
    )
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
