//! HTTP handlers for stock: receipts, balances, the ledger, batches, FEFO plans, consistency.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::callers::actor;
use crate::api::extract::{Id, JsonBody, ListParams, Listing, Paging, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::auth::{Access, DeviceKind, Principal, Role};
use crate::jobs::expiry::{self, Alert, AlertFilter};
use crate::stock::Plan;
use crate::stock::batches::{self, Batch, BatchFilter};
use crate::stock::ledger::{self, Balance, BalanceFilter, LedgerFilter, Mismatch, Movement};
use crate::stock::operations::{self, AdjustmentRequest, MoveRequest, WriteOffRequest};
use crate::stock::receipts::{self, NewReceipt, Receipt, ReceiptFilter};

mod counts;

/// Warehouse work: admins, warehouse staff and scanners.
const WAREHOUSE: Access = Access::WAREHOUSE_FLOOR;
/// Stock reads: every user (reps check availability) and scanners.
const STOCK_READERS: Access = Access {
    roles: &[Role::Admin, Role::Head, Role::Rep, Role::Warehouse],
    devices: &[DeviceKind::Scanner],
};

/// Receive goods into a location: explicit lines or raw GS1 scans (item, batch, expiry and pack
/// quantity from the barcode). All lines post in one transaction.
#[utoipa::path(post, path = "/v1/receipts", tag = "stock", request_body = NewReceipt,
    responses((status = 201, body = Receipt), ErrorResponses), security(("bearer" = [])))]
async fn receive(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<NewReceipt>,
) -> ApiResult<(StatusCode, Json<Receipt>)> {
    p.check(WAREHOUSE)?;
    let mut body = body;
    let caller = crate::api::callers::caller(&p);
    for line in &mut body.lines {
        if let Some(raw) = &line.scan {
            line.scan = Some(s.scanning.normalize_for(&caller, raw));
        }
    }
    let receipt = receipts::receive(&s.db, body, p.user_id(), p.device_id()).await?;
    Ok((StatusCode::CREATED, Json(receipt)))
}

/// Who reads receipts: warehouse staff, their heads and scanners.
const RECEIPT_READERS: Access = Access {
    roles: &[Role::Admin, Role::Head, Role::Warehouse],
    devices: &[DeviceKind::Scanner],
};

/// Receipts, oldest first, by warehouse, order or deal, each with its movements.
#[utoipa::path(get, path = "/v1/receipts", tag = "stock", params(ListParams, ReceiptFilter),
    responses((status = 200, body = Listing<Receipt>), ErrorResponses), security(("bearer" = [])))]
async fn list_receipts(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<ReceiptFilter>,
) -> ApiResult<Json<Listing<Receipt>>> {
    p.check(RECEIPT_READERS)?;
    Ok(Json(receipts::list(&s.db, &filter, page).await?.into()))
}

/// One receipt: where the goods came in, against which order or deal, and its movements.
#[utoipa::path(get, path = "/v1/receipts/{id}", tag = "stock", params(("id" = i64, Path)),
    responses((status = 200, body = Receipt), ErrorResponses), security(("bearer" = [])))]
async fn get_receipt(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<Receipt>> {
    p.check(RECEIPT_READERS)?;
    Ok(Json(receipts::get(&s.db, id).await?))
}

/// Balances per item, warehouse, location and batch: on hand, reserved, available, expiry.
#[utoipa::path(get, path = "/v1/stock", tag = "stock", params(ListParams, BalanceFilter),
    responses((status = 200, body = Listing<Balance>), ErrorResponses), security(("bearer" = [])))]
async fn stock(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<BalanceFilter>,
) -> ApiResult<Json<Listing<Balance>>> {
    p.check(STOCK_READERS)?;
    Ok(Json(
        ledger::balance_page(&s.db, &filter, page).await?.into(),
    ))
}

/// The stock ledger, oldest first: every movement, never edited.
#[utoipa::path(get, path = "/v1/stock/ledger", tag = "stock", params(ListParams, LedgerFilter),
    responses((status = 200, body = Listing<Movement>), ErrorResponses), security(("bearer" = [])))]
async fn stock_ledger(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<LedgerFilter>,
) -> ApiResult<Json<Listing<Movement>>> {
    p.check(Access::users(&[Role::Admin, Role::Head, Role::Warehouse]))?;
    Ok(Json(ledger::ledger(&s.db, &filter, page).await?.into()))
}

/// Batches, by item and status, or expiring within N days.
#[utoipa::path(get, path = "/v1/batches", tag = "stock", params(ListParams, BatchFilter),
    responses((status = 200, body = Listing<Batch>), ErrorResponses), security(("bearer" = [])))]
async fn list_batches(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<BatchFilter>,
) -> ApiResult<Json<Listing<Batch>>> {
    p.check(STOCK_READERS)?;
    let today = crate::db::now().date();
    Ok(Json(
        batches::page(&s.db, &filter, today, page).await?.into(),
    ))
}

/// One batch.
#[utoipa::path(get, path = "/v1/batches/{id}", tag = "stock", params(("id" = i64, Path)),
    responses((status = 200, body = Batch), ErrorResponses), security(("bearer" = [])))]
async fn get_batch(State(s): State<AppState>, p: Principal, Id(id): Id) -> ApiResult<Json<Batch>> {
    p.check(STOCK_READERS)?;
    Ok(Json(batches::get(&s.db, id).await?))
}

/// Quality decisions on a batch: release it from quarantine (`status: available`), quarantine
/// or recall it, record its certificate reference (items that require a certificate ship only
/// from a batch with one).
#[utoipa::path(patch, path = "/v1/batches/{id}", tag = "stock", params(("id" = i64, Path)),
    request_body = batches::BatchPatch, responses((status = 200, body = Batch), ErrorResponses),
    security(("bearer" = [])))]
async fn update_batch(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<batches::BatchPatch>,
) -> ApiResult<Json<Batch>> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    Ok(Json(batches::update(&s.db, id, body).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AllocateRequest {
    pub item_id: i64,
    pub warehouse_id: i64,
    pub quantity: i64,
    /// The customer's required remaining shelf life, in days (the item's own applies too).
    #[serde(default)]
    pub min_remaining_days: Option<i64>,
}

/// Dry run of FEFO: the ordered picks (batch, location, quantity, expiry) for a quantity of an
/// item in a warehouse. Expired, quarantined, recalled and too-short-dated stock is never
/// planned; `short` is what eligible stock cannot cover. Changes nothing.
#[utoipa::path(post, path = "/v1/stock/allocate", tag = "stock", request_body = AllocateRequest,
    responses((status = 200, body = Plan), ErrorResponses), security(("bearer" = [])))]
async fn allocate(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<AllocateRequest>,
) -> ApiResult<Json<Plan>> {
    p.check(STOCK_READERS)?;
    let today = crate::db::now().date();
    let plan = ledger::plan(
        &mut s.db.snapshot().await?,
        body.item_id,
        body.warehouse_id,
        body.quantity,
        today,
        body.min_remaining_days,
    )
    .await?;
    Ok(Json(plan))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Consistency {
    /// True when every balance equals the sum of its ledger and every reserved quantity the
    /// sum of its reservations.
    pub consistent: bool,
    pub mismatches: Vec<Mismatch>,
    pub reserved_mismatches: Vec<ledger::ReservedMismatch>,
}

/// Re-derive every balance from the ledger and report any mismatch (admin).
#[utoipa::path(get, path = "/v1/admin/consistency", tag = "stock",
    responses((status = 200, body = Consistency), ErrorResponses), security(("bearer" = [])))]
async fn consistency(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Consistency>> {
    p.check(Access::ADMIN)?;
    let mismatches = ledger::consistency(&s.db).await?;
    let reserved_mismatches = ledger::reserved_consistency(&s.db).await?;
    Ok(Json(Consistency {
        consistent: mismatches.is_empty() && reserved_mismatches.is_empty(),
        mismatches,
        reserved_mismatches,
    }))
}

/// Who acts for a request: the user, the device, or both.

#[derive(Debug, Serialize, ToSchema)]
pub struct Posted {
    pub movements: Vec<Movement>,
}

/// Move stock between locations (or warehouses): two movements in one transaction. Moving more
/// than is available is 409.
#[utoipa::path(post, path = "/v1/stock/moves", tag = "stock", request_body = MoveRequest,
    responses((status = 201, body = Posted), ErrorResponses), security(("bearer" = [])))]
async fn move_stock(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<MoveRequest>,
) -> ApiResult<(StatusCode, Json<Posted>)> {
    p.check(WAREHOUSE)?;
    let movements = operations::move_stock(&s.db, body, actor(&p)).await?;
    Ok((StatusCode::CREATED, Json(Posted { movements })))
}

/// Correct a balance up or down (signed quantity) with a reason.
#[utoipa::path(post, path = "/v1/stock/adjustments", tag = "stock", request_body = AdjustmentRequest,
    responses((status = 201, body = Movement), ErrorResponses), security(("bearer" = [])))]
async fn adjust(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<AdjustmentRequest>,
) -> ApiResult<(StatusCode, Json<Movement>)> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    Ok((
        StatusCode::CREATED,
        Json(operations::adjust(&s.db, body, actor(&p)).await?),
    ))
}

/// Write off damaged or expired stock with a reason.
#[utoipa::path(post, path = "/v1/stock/write-offs", tag = "stock", request_body = WriteOffRequest,
    responses((status = 201, body = Movement), ErrorResponses), security(("bearer" = [])))]
async fn write_off(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<WriteOffRequest>,
) -> ApiResult<(StatusCode, Json<Movement>)> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    Ok((
        StatusCode::CREATED,
        Json(operations::write_off(&s.db, body, actor(&p)).await?),
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReverseRequest {
    #[serde(default)]
    pub note: Option<String>,
}

/// Correct a movement by posting its reversal (the same movement with the opposite quantity,
/// linked by `reversal_of`); the original is never edited. A movement is reversed at most once.
#[utoipa::path(post, path = "/v1/stock/movements/{id}/reverse", tag = "stock", params(("id" = i64, Path)),
    request_body = ReverseRequest, responses((status = 201, body = Movement), ErrorResponses), security(("bearer" = [])))]
async fn reverse(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<ReverseRequest>,
) -> ApiResult<(StatusCode, Json<Movement>)> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    let a = actor(&p);
    Ok((
        StatusCode::CREATED,
        Json(ledger::reverse(&s.db, id, a.user_id, a.device_id, body.note).await?),
    ))
}

/// Open alerts raised by the expiry job: batches with stock that expire soon or have expired.
#[utoipa::path(get, path = "/v1/alerts", tag = "stock", params(ListParams, AlertFilter),
    responses((status = 200, body = Listing<Alert>), ErrorResponses), security(("bearer" = [])))]
async fn alerts(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<AlertFilter>,
) -> ApiResult<Json<Listing<Alert>>> {
    p.check(Access::users(&[Role::Admin, Role::Head, Role::Warehouse]))?;
    Ok(Json(expiry::list(&s.db, &filter, page).await?.into()))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(receive, list_receipts))
        .routes(routes!(get_receipt))
        .routes(routes!(stock))
        .routes(routes!(stock_ledger))
        .routes(routes!(list_batches))
        .routes(routes!(get_batch, update_batch))
        .routes(routes!(allocate))
        .routes(routes!(consistency))
        .routes(routes!(move_stock))
        .routes(routes!(adjust))
        .routes(routes!(write_off))
        .routes(routes!(reverse))
        .routes(routes!(alerts))
        .merge(counts::router())
}
