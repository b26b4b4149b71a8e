//! HTTP handlers for print jobs.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::extract::{Id, JsonBody, ListParams, Listing, Paging, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::{Binary, routes};
use crate::auth::{Access, Principal};
use crate::error::Error;
use crate::printing::jobs::{self, JobFilter, NewPrintJob, PrintJob, Submitter};
use crate::printing::profiles::PrinterProfile;

/// Who may print and read print jobs: admins and warehouse staff, and scanners (a handheld
/// prints the label of what it just received).
const PRINTERS: Access = Access::WAREHOUSE_FLOOR;

/// Queue a label for a printer. The label is rendered now (a bad template or bad data is a
/// 422 at once) and the job is stored before this answers 202; a worker sends it over raw TCP,
/// checking the printer's host status (`~HS`) first, and retries with backoff while the printer
/// is unreachable or in an error state. Send an `Idempotency-Key` so that retrying this request
/// never queues the label twice. Admins may send raw `zpl` instead of `template` and `data`.
#[utoipa::path(post, path = "/v1/print-jobs", operation_id = "create_print_job", tag = "printing", request_body = NewPrintJob,
    responses((status = 202, body = PrintJob), ErrorResponses), security(("bearer" = [])))]
async fn create(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<NewPrintJob>,
) -> ApiResult<(StatusCode, Json<PrintJob>)> {
    p.check(PRINTERS)?;
    let by = Submitter {
        user_id: p.user_id(),
        device_id: p.device_id(),
        may_send_raw: p.check(Access::ADMIN).is_ok(),
    };
    let mut body = body;
    if let Some(entity) = body.entity.take() {
        if body.data.is_some() {
            return Err(Error::invalid("entity", "give either data or entity").into());
        }
        let (default, data) = crate::labels::records::data_for(&s.db, entity)
            .await
            .map_err(|e| match e {
                Error::NotFound { .. } => Error::invalid(
                    "entity",
                    format!("no {:?} with id {}", entity.kind, entity.id).to_lowercase(),
                ),
                other => other,
            })?;
        body.template.get_or_insert_with(|| default.to_string());
        body.data = Some(data);
    }
    let job = jobs::submit(&s.db, &s.printing, body, by).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// Print jobs, oldest first, by status and printer.
#[utoipa::path(get, path = "/v1/print-jobs", operation_id = "list_print_jobs", tag = "printing", params(ListParams, JobFilter),
    responses((status = 200, body = Listing<PrintJob>), ErrorResponses), security(("bearer" = [])))]
async fn list(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<JobFilter>,
) -> ApiResult<Json<Listing<PrintJob>>> {
    p.check(PRINTERS)?;
    Ok(Json(jobs::list(&s.db, &filter, page).await?.into()))
}

/// One print job: status, attempts, the last error.
#[utoipa::path(get, path = "/v1/print-jobs/{id}", operation_id = "get_print_job", tag = "printing", params(("id" = i64, Path)),
    responses((status = 200, body = PrintJob), ErrorResponses), security(("bearer" = [])))]
async fn get(State(s): State<AppState>, p: Principal, Id(id): Id) -> ApiResult<Json<PrintJob>> {
    p.check(PRINTERS)?;
    Ok(Json(jobs::get(&s.db, id).await?))
}

/// The job's rendered document: the PDF filed by a PDF "printer", or the ZPL sent to a
/// thermal printer.
#[utoipa::path(get, path = "/v1/print-jobs/{id}/document", operation_id = "print_job_document", tag = "printing",
    params(("id" = i64, Path)),
    responses((status = 200, description = "application/pdf or application/x-zpl",
        content((Binary = "application/pdf"), (Binary = "application/x-zpl"))),
        ErrorResponses),
    security(("bearer" = [])))]
async fn document(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<impl IntoResponse> {
    p.check(PRINTERS)?;
    let (format, bytes) = jobs::document(&s.db, id).await?;
    let extension = match format {
        crate::labels::Format::Pdf => "pdf",
        crate::labels::Format::Png => "png",
        crate::labels::Format::Zpl => "zpl",
    };
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"print-job-{id}.{extension}\""),
            ),
        ],
        bytes,
    ))
}

/// The printer profiles this server knows (`devices/*.toml` with `[printer]`).
#[utoipa::path(get, path = "/v1/printer-profiles", tag = "printing",
    responses((status = 200, body = Vec<PrinterProfile>), ErrorResponses), security(("bearer" = [])))]
async fn profiles(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Vec<PrinterProfile>>> {
    p.check(Access::ANYONE)?;
    Ok(Json(s.printing.profiles().all().cloned().collect()))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get))
        .routes(routes!(document))
        .routes(routes!(profiles))
}
