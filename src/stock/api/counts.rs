//! HTTP handlers for cycle counts: open, count by scan or by line, recount, close, cancel.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use time::Date;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::callers::actor;
use crate::api::extract::{Id, IdPair, JsonBody, ListParams, Listing, Paging, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::auth::{Access, DeviceKind, Principal, Role};
use crate::scanning::Target;
use crate::stock::counts::{
    self, BatchRef, ClosedCount, Count, CountFilter, CountScan, CountSummary, Entry, NewCount,
    Scanned, Tally,
};

/// Counting: admins, warehouse staff and scanners.
const COUNTERS: Access = Access::WAREHOUSE_FLOOR;
/// Opening, closing and cancelling: people, not devices.
const SUPERVISORS: Access = Access::users(&[Role::Admin, Role::Warehouse]);
const READERS: Access = Access {
    roles: &[Role::Admin, Role::Head, Role::Warehouse],
    devices: &[DeviceKind::Scanner],
};

/// Open a cycle count of some (or all) locations of a warehouse. A location can be in one open
/// count at a time (409 otherwise).
#[utoipa::path(post, path = "/v1/counts", operation_id = "create_count", tag = "counts", request_body = NewCount,
    responses((status = 201, body = Count), ErrorResponses), security(("bearer" = [])))]
async fn create(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<NewCount>,
) -> ApiResult<(StatusCode, Json<Count>)> {
    p.check(SUPERVISORS)?;
    Ok((
        StatusCode::CREATED,
        Json(counts::create(&s.db, body, p.user_id()).await?),
    ))
}

/// Counts, oldest first.
#[utoipa::path(get, path = "/v1/counts", operation_id = "list_counts", tag = "counts", params(ListParams, CountFilter),
    responses((status = 200, body = Listing<CountSummary>), ErrorResponses), security(("bearer" = [])))]
async fn list(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<CountFilter>,
) -> ApiResult<Json<Listing<CountSummary>>> {
    p.check(READERS)?;
    Ok(Json(counts::list(&s.db, &filter, page).await?.into()))
}

/// One count: its locations (started or not) and lines (expected, counted, variance).
#[utoipa::path(get, path = "/v1/counts/{id}", operation_id = "get_count", tag = "counts", params(("id" = i64, Path)),
    responses((status = 200, body = Count), ErrorResponses), security(("bearer" = [])))]
async fn get(State(s): State<AppState>, p: Principal, Id(id): Id) -> ApiResult<Json<Count>> {
    p.check(READERS)?;
    Ok(Json(counts::get(&s.db, id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CountScanRequest {
    /// What the scanner delivered: a location's barcode (counting continues there) or goods (a
    /// GS1 code with GTIN and batch, an EAN/UPC, an alias), counted in the location scanned last.
    pub scan: String,
    /// Packs counted with this scan (default 1); each pack counts its GTIN's pack quantity, or
    /// AI (30)/(37) when the barcode carries it.
    #[serde(default)]
    pub quantity: Option<i64>,
    /// Count the goods here instead of in the location scanned last.
    #[serde(default)]
    pub location_id: Option<i64>,
    /// The batch, when the barcode does not carry it.
    #[serde(default)]
    pub batch: Option<String>,
    /// A scanner profile in `devices/` to normalise with; defaults to the device's own.
    #[serde(default)]
    pub profile: Option<String>,
}

/// Count by scanning: a location's barcode starts (or continues) counting there; goods are
/// counted in that location, `quantity` packs at a time. Every scan is logged like
/// `POST /v1/scans`.
#[utoipa::path(post, path = "/v1/counts/{id}/scans", operation_id = "count_scan", tag = "counts", params(("id" = i64, Path)),
    request_body = CountScanRequest, responses((status = 200, body = CountScan), ErrorResponses),
    security(("bearer" = [])))]
async fn scan(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<CountScanRequest>,
) -> ApiResult<Json<CountScan>> {
    p.check(COUNTERS)?;
    counts::get(&s.db, id).await?;
    let result = s
        .scanning
        .scan_field(
            &s.db,
            &crate::api::callers::caller(&p),
            body.scan,
            body.profile,
        )
        .await?;
    let what = match result.target(body.batch, "counted")? {
        Target::Location(id) => Scanned::Location(id),
        Target::Goods {
            item_id,
            per_pack,
            batch,
            expiry,
            production_date,
        } => Scanned::Goods {
            item_id,
            per_pack,
            batch: BatchRef {
                id: None,
                code: batch,
                expiry,
                production_date,
            },
        },
    };
    Ok(Json(
        counts::scan(&s.db, id, what, body.quantity, body.location_id, actor(&p)).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CountLineRequest {
    pub location_id: i64,
    pub item_id: i64,
    #[serde(default)]
    pub batch_id: Option<i64>,
    /// Batch code, instead of `batch_id` (a batch Depot has not seen is created).
    #[serde(default)]
    pub batch: Option<String>,
    /// Expiry of a batch Depot has not seen (ISO date).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub expiry: Option<Date>,
    /// The total counted, in base units; replaces what was counted for this line.
    pub quantity: i64,
}

/// Enter a counted total for an item (and batch) in a location, replacing what was counted.
#[utoipa::path(post, path = "/v1/counts/{id}/lines", tag = "counts", params(("id" = i64, Path)),
    request_body = CountLineRequest, responses((status = 200, body = counts::CountLine), ErrorResponses),
    security(("bearer" = [])))]
async fn line(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<CountLineRequest>,
) -> ApiResult<Json<counts::CountLine>> {
    p.check(COUNTERS)?;
    let entry = Entry {
        location_id: body.location_id,
        item_id: body.item_id,
        batch: BatchRef {
            id: body.batch_id,
            code: body.batch,
            expiry: body.expiry,
            production_date: None,
        },
        quantity: body.quantity,
        tally: Tally::Set,
    };
    Ok(Json(
        counts::record(&s.db, id, entry, actor(&p), counts::LINE_FIELDS).await?,
    ))
}

/// Count a location again: what was counted there is dropped and its balances are copied
/// afresh (for stock that moved while it was being counted).
#[utoipa::path(post, path = "/v1/counts/{id}/locations/{location_id}/recount", tag = "counts",
    params(("id" = i64, Path), ("location_id" = i64, Path)),
    responses((status = 200, body = Count), ErrorResponses), security(("bearer" = [])))]
async fn recount(
    State(s): State<AppState>,
    p: Principal,
    IdPair(id, location_id): IdPair,
) -> ApiResult<Json<Count>> {
    p.check(COUNTERS)?;
    Ok(Json(counts::recount(&s.db, id, location_id).await?))
}

/// Close a count: every variance of the counted locations is posted as a `count` movement,
/// atomically with the close. Answers the variances, the movements and the locations nobody
/// counted.
#[utoipa::path(post, path = "/v1/counts/{id}/close", tag = "counts", params(("id" = i64, Path)),
    responses((status = 200, body = ClosedCount), ErrorResponses), security(("bearer" = [])))]
async fn close(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<ClosedCount>> {
    p.check(SUPERVISORS)?;
    Ok(Json(counts::close(&s.db, id, actor(&p)).await?))
}

/// Cancel an open count: nothing is posted.
#[utoipa::path(post, path = "/v1/counts/{id}/cancel", tag = "counts", params(("id" = i64, Path)),
    responses((status = 200, body = Count), ErrorResponses), security(("bearer" = [])))]
async fn cancel(State(s): State<AppState>, p: Principal, Id(id): Id) -> ApiResult<Json<Count>> {
    p.check(SUPERVISORS)?;
    Ok(Json(counts::cancel(&s.db, id).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get))
        .routes(routes!(scan))
        .routes(routes!(line))
        .routes(routes!(recount))
        .routes(routes!(close))
        .routes(routes!(cancel))
}
