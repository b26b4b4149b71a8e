//! HTTP handler for the barcode sheet.

use crate::api::schemas::{Binary, routes};
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::auth::{Access, Principal};
use crate::labels::{Format, Rendered};

/// A PDF of barcodes to try Depot with a real scanner or a phone camera: every item at each
/// packing level as GS1-128 with the batch and expiry of its stock, every bin, every open or
/// won deal and every open pick list, each with what it is and its human-readable line.
#[utoipa::path(get, path = "/v1/barcode-sheet", tag = "scanning",
    responses((status = 200, description = "the sheet",
        content((Binary = "application/pdf"))), ErrorResponses), security(("bearer" = [])))]
async fn barcode_sheet(State(s): State<AppState>, p: Principal) -> ApiResult<Rendered> {
    p.check(Access::ANY_USER)?;
    Ok(Rendered {
        content_type: Format::Pdf.content_type(),
        bytes: super::sheet::pdf(&s.db, &s.labels).await?,
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(barcode_sheet))
}
