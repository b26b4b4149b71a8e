//! HTTP for data in and out: `GET /v1/exports/{kind}`, `POST /v1/imports/{kind}` (with its
//! template and, for big files, its job).

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::callers::actor;
use crate::api::extract::Query;
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::auth::{Access, Principal, Role};
use crate::error::Error;
use crate::transfer::exports::{Export, ExportFilter, Kind};
use crate::transfer::imports::{self, Outcome};
use crate::transfer::jobs::{self, ImportJob};

/// Imports change master data: admins and heads.
const IMPORTERS: Access = Access::MANAGERS;

/// Whole-record exports: managers, admins and warehouse staff (the kinds are warehouse data).
const EXPORTERS: Access = Access::users(&[Role::Admin, Role::Head, Role::Warehouse]);

/// Deals: sales staff, each seeing the deals they may see.
const DEAL_EXPORTERS: Access = Access::users(&[Role::Admin, Role::Head, Role::Rep]);

/// Every record of a kind as CSV (`items`, `boms` (a row a component), `suppliers`,
/// `warehouses`, `locations`, `customers` (admins and heads),
/// `stock`, `batches`, `ledger` with `from`/`until`, `deals` with their lines, a row a line
/// (admins, heads and reps, each seeing their deals), `shipments`),
/// streamed a page at a time: the answer starts at once and memory stays flat however many
/// rows follow. Columns are the record's fields as the API names them; an item's GTINs are
/// `gtin*quantity` joined by `|`.
#[utoipa::path(get, path = "/v1/exports/{kind}", tag = "data",
    params(("kind" = String, Path, description = "items, boms, suppliers, warehouses, locations, customers, stock, batches, ledger, deals or shipments"), ExportFilter),
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
    // Customers and deals are sales data, each caller seeing what they may see: customers for
    // managers, deals for sales staff too.
    let viewer = match kind {
        Kind::Customers => Some(p.user_in(Access::MANAGERS)?),
        Kind::Deals => Some(p.user_in(DEAL_EXPORTERS)?),
        _ => {
            p.check(EXPORTERS)?;
            None
        }
    }
    .map(crate::crm::visibility::Viewer::from);
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

/// Imports a file of `items`, `boms`, `suppliers`, `customers`, `warehouses`, `locations` or
/// `opening-stock`: CSV (`text/csv`; UTF-8 with or without BOM, or Windows-1252; `,` `;` or
/// tab) or an XLSX workbook (its first sheet), as the body or as the multipart field `file`.
/// Rows match by natural key (opening stock is posted as receipts noted "opening stock").
/// With `dry_run=true` every row is checked and the answer tells what would happen; nothing is
/// written. A real run applies all rows or, when any row is bad, none (422 naming every bad
/// cell as `rows[<row>].<column>`). Importing the same file again changes nothing.
///
/// A file of more than 1,000 rows runs as a job: the answer is 202 with the job, and
/// `GET /v1/imports/{id}` follows it to its result.
#[utoipa::path(post, path = "/v1/imports/{kind}", tag = "data",
    params(("kind" = String, Path, description = "items, boms, suppliers, customers, warehouses, locations or opening-stock"), ImportParams),
    request_body(content = String, content_type = "text/csv",
        description = "CSV, or an XLSX workbook (application/vnd.openxmlformats-officedocument.spreadsheetml.sheet), or multipart/form-data with the field `file`"),
    responses((status = 200, body = Outcome),
        (status = 202, body = ImportJob, description = "A big file: the import runs as a job"),
        ErrorResponses),
    security(("bearer" = [])))]
async fn import(
    State(s): State<AppState>,
    p: Principal,
    Path(kind): Path<String>,
    Query(params): Query<ImportParams>,
    request: Request,
) -> ApiResult<Response> {
    let user = p.user_in(IMPORTERS)?;
    let viewer = crate::crm::visibility::Viewer::from(user);
    let kind = imports::Kind::parse(&kind)?;
    let file = crate::api::extract::upload(&s, request, "file").await?;
    let table = crate::transfer::csv_in::read(&file)?;
    if table.rows.len() > jobs::JOB_ROWS {
        let job = jobs::submit(
            &s.db,
            kind,
            &file,
            table.rows.len(),
            params.dry_run,
            user.id,
        )
        .await?;
        return Ok((
            StatusCode::ACCEPTED,
            [(header::LOCATION, format!("/v1/imports/{}", job.id))],
            axum::Json(job),
        )
            .into_response());
    }
    let outcome = imports::run(&s.db, kind, &table, params.dry_run, actor(&p), viewer).await?;
    Ok(axum::Json(outcome).into_response())
}

/// An import running as a job: rows done of the total while it runs, then its result.
#[utoipa::path(get, path = "/v1/imports/{id}", tag = "data",
    params(("id" = i64, Path, description = "the job's id, from the 202 answer")),
    responses((status = 200, body = ImportJob), ErrorResponses),
    security(("bearer" = [])))]
async fn import_job(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ImportJob>> {
    p.check(IMPORTERS)?;
    let id = id
        .parse::<i64>()
        .map_err(|_| Error::invalid("id", "must be an import job's id (a whole number)"))?;
    Ok(axum::Json(jobs::get(&s.db, id).await?))
}

/// A template for an import: the documented columns and one example row.
#[utoipa::path(get, path = "/v1/imports/{kind}/template", tag = "data",
    params(("kind" = String, Path, description = "items, boms, suppliers, customers, warehouses, locations or opening-stock")),
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

pub fn router(import_limit: usize) -> OpenApiRouter<AppState> {
    // `GET /v1/imports/{id}` shares its place in the path with `POST /v1/imports/{kind}`, and
    // the router takes one parameter name per place: it is served under `{kind}` and
    // documented under `{id}`.
    let (schemas, paths, job_route) = routes!(import_job);
    let mut jobs_router = OpenApiRouter::new().route("/v1/imports/{kind}", job_route);
    let doc = jobs_router.get_openapi_mut();
    doc.paths.paths.extend(paths.paths);
    doc.components
        .get_or_insert_with(Default::default)
        .schemas
        .extend(schemas);
    OpenApiRouter::new()
        .routes(routes!(export))
        .routes(routes!(import_template))
        .merge(jobs_router)
        .merge(
            OpenApiRouter::new()
                .routes(routes!(import))
                .layer(axum::extract::DefaultBodyLimit::max(import_limit)),
        )
}
