//! HTTP for data in and out: `GET /v1/exports/{kind}`, `POST /v1/imports/{kind}` and its
//! template.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::callers::actor;
use crate::api::extract::Query;
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::auth::{Access, Principal, Role};
use crate::transfer::exports::{Export, ExportFilter, Kind};
use crate::transfer::imports::{self, Outcome};

/// Largest import file: what a keyed request may carry (`api::idempotency`).
const IMPORT_LIMIT: usize = 10 * 1024 * 1024;

/// Imports change master data: admins and heads.
const IMPORTERS: Access = Access::MANAGERS;

/// Whole-record exports: managers, admins and warehouse staff (the kinds are warehouse data).
const EXPORTERS: Access = Access::users(&[Role::Admin, Role::Head, Role::Warehouse]);

/// Every record of a kind as CSV (`items`, `locations`, `customers` (admins and heads),
/// `stock`, `batches`, `ledger` with `from`/`until`),
/// streamed a page at a time: the answer starts at once and memory stays flat however many
/// rows follow. Columns are the record's fields as the API names them; an item's GTINs are
/// `gtin*quantity` joined by `|`.
#[utoipa::path(get, path = "/v1/exports/{kind}", tag = "data",
    params(("kind" = String, Path, description = "items, locations, customers, stock, batches or ledger"), ExportFilter),
    responses((status = 200, description = "CSV, UTF-8, comma-separated, header first",
        content_type = "text/csv"), ErrorResponses),
    security(("bearer" = [])))]
async fn export(
    State(s): State<AppState>,
    p: Principal,
    Path(kind): Path<String>,
    Query(filter): Query<ExportFilter>,
) -> ApiResult<Response> {
    let kind = Kind::parse(&kind)?;
    // Customers are sales data: managers export them, each seeing what they may see.
    let viewer = if kind == Kind::Customers {
        Some(crate::crm::visibility::Viewer::from(
            p.user_in(Access::MANAGERS)?,
        ))
    } else {
        p.check(EXPORTERS)?;
        None
    };
    let mut export = Export::new(s.db.clone(), kind, filter, viewer);
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

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// Check every row and answer what would happen, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Imports a CSV file (`text/csv`, UTF-8 with or without BOM or Windows-1252, `,` `;` or tab)
/// of `items`, `suppliers`, `customers`, `warehouses`, `locations` or `opening-stock`, matched by natural
/// key (opening stock is posted as receipts noted "opening stock"). With `dry_run=true` every
/// row is checked and the answer tells what would happen; nothing is written. A real run
/// applies all rows or, when any row is bad, none (422 naming every bad cell as
/// `rows[<row>].<column>`). Importing the same file again changes nothing.
#[utoipa::path(post, path = "/v1/imports/{kind}", tag = "data",
    params(("kind" = String, Path, description = "items, suppliers, customers, warehouses, locations or opening-stock"), ImportParams),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 200, body = Outcome), ErrorResponses),
    security(("bearer" = [])))]
async fn import(
    State(s): State<AppState>,
    p: Principal,
    Path(kind): Path<String>,
    Query(params): Query<ImportParams>,
    body: Bytes,
) -> ApiResult<axum::Json<Outcome>> {
    let viewer = crate::crm::visibility::Viewer::from(p.user_in(IMPORTERS)?);
    let kind = imports::Kind::parse(&kind)?;
    let table = crate::transfer::csv_in::read(&body)?;
    let outcome = imports::run(&s.db, kind, &table, params.dry_run, actor(&p), viewer).await?;
    Ok(axum::Json(outcome))
}

/// A template for an import: the documented columns and one example row.
#[utoipa::path(get, path = "/v1/imports/{kind}/template", tag = "data",
    params(("kind" = String, Path, description = "items, suppliers, customers, warehouses, locations or opening-stock")),
    responses((status = 200, description = "CSV header and an example row", content_type = "text/csv"),
        ErrorResponses),
    security(("bearer" = [])))]
async fn import_template(p: Principal, Path(kind): Path<String>) -> ApiResult<Response> {
    p.check(IMPORTERS)?;
    let kind = imports::Kind::parse(&kind)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}-template.csv\"", kind.name()),
            ),
        ],
        kind.template(),
    )
        .into_response())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export))
        .routes(routes!(import_template))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(import))
                .layer(axum::extract::DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
}
