//! HTTP for data in and out: `GET /v1/exports/{kind}`.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::extract::Query;
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::auth::{Access, Principal, Role};
use crate::transfer::exports::{Export, ExportFilter, Kind};

/// Whole-record exports: managers, admins and warehouse staff (the kinds are warehouse data).
const EXPORTERS: Access = Access::users(&[Role::Admin, Role::Head, Role::Warehouse]);

/// Every record of a kind as CSV (`items`, `stock`, `batches`, `ledger` with `from`/`until`),
/// streamed a page at a time: the answer starts at once and memory stays flat however many
/// rows follow. Columns are the record's fields as the API names them; an item's GTINs are
/// `gtin*quantity` joined by `|`.
#[utoipa::path(get, path = "/v1/exports/{kind}", tag = "data",
    params(("kind" = String, Path, description = "items, stock, batches or ledger"), ExportFilter),
    responses((status = 200, description = "CSV, UTF-8, comma-separated, header first",
        content_type = "text/csv"), ErrorResponses),
    security(("bearer" = [])))]
async fn export(
    State(s): State<AppState>,
    p: Principal,
    Path(kind): Path<String>,
    Query(filter): Query<ExportFilter>,
) -> ApiResult<Response> {
    p.check(EXPORTERS)?;
    let kind = Kind::parse(&kind)?;
    let mut export = Export::new(s.db.clone(), kind, filter);
    // The first page is read before answering, so a failing read is still a problem answer.
    let first = export.next().await?.unwrap_or_default();
    let body =
        futures_util::stream::unfold((Some(first), export), |(pending, mut export)| async move {
            if let Some(chunk) = pending {
                return Some((Ok(Bytes::from(chunk)), (None, export)));
            }
            match export.next().await {
                Ok(Some(chunk)) => Some((Ok(Bytes::from(chunk)), (None, export))),
                Ok(None) => None,
                Err(e) => {
                    // The headers are sent: cut the body, so the client sees a failed download.
                    tracing::error!(error = %e, "export failed midway");
                    Some((Err(std::io::Error::other(e.to_string())), (None, export)))
                }
            }
        });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", kind.file_name()),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}
