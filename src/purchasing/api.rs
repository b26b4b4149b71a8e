//! HTTP handlers for purchase orders.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::extract::{Id, JsonBody, ListParams, Listing, Paging, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::auth::{Access, Principal, Role};
use crate::crm::visibility::Viewer;
use crate::fulfilment::planning;
use crate::purchasing::{self, Filter, PurchaseOrder, PurchaseReceipt, Received, StatusChange};

const READERS: Access = Access::users(&[Role::Admin, Role::Head, Role::Rep, Role::Warehouse]);
const BUYERS: Access = Access::users(&[Role::Admin, Role::Warehouse]);
const RECEIVERS: Access = Access::WAREHOUSE_FLOOR;

/// Purchase orders, by status, supplier, warehouse.
#[utoipa::path(get, path = "/v1/purchase-orders", operation_id = "list_purchase_orders", tag = "purchasing", params(ListParams, Filter),
    responses((status = 200, body = Listing<PurchaseOrder>), ErrorResponses), security(("bearer" = [])))]
async fn list(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<Filter>,
) -> ApiResult<Json<Listing<PurchaseOrder>>> {
    p.check(READERS)?;
    let mut orders = purchasing::list(&s.db, &filter, page).await?;
    let serves = orders.items.iter_mut().map(|o| &mut o.serves);
    crate::supply::hide_unseen_deals(&s.db, Viewer::scoped(&p), serves).await?;
    Ok(Json(orders.into()))
}

/// One purchase order: lines (ordered, received) and the deal lines they serve.
#[utoipa::path(get, path = "/v1/purchase-orders/{id}", operation_id = "get_purchase_order", tag = "purchasing", params(("id" = i64, Path)),
    responses((status = 200, body = PurchaseOrder), ErrorResponses), security(("bearer" = [])))]
async fn get(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<PurchaseOrder>> {
    p.check(READERS)?;
    let mut order = purchasing::read(&s.db, id).await?;
    crate::supply::hide_unseen_deals(&s.db, Viewer::scoped(&p), [&mut order.serves]).await?;
    Ok(Json(order))
}

/// Send an open order to its supplier (`ordered`: later deals start a new open order) or
/// cancel it; a `decision_note` clears `needs_decision`.
#[utoipa::path(post, path = "/v1/purchase-orders/{id}/status", operation_id = "set_purchase_order_status", tag = "purchasing", params(("id" = i64, Path)),
    request_body = StatusChange, responses((status = 200, body = PurchaseOrder), ErrorResponses),
    security(("bearer" = [])))]
async fn set_status(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<StatusChange>,
) -> ApiResult<Json<PurchaseOrder>> {
    p.check(BUYERS)?;
    Ok(Json(planning::set_purchase_status(&s.db, id, &body).await?))
}

/// Receive goods of the order (by line or by scan, partly or fully): posted as a receipt with
/// the order as document, then reserved for the deals waiting for them, oldest first.
#[utoipa::path(post, path = "/v1/purchase-orders/{id}/receipts", operation_id = "receive_purchase_order", tag = "purchasing", params(("id" = i64, Path)),
    request_body = PurchaseReceipt, responses((status = 200, body = Received), ErrorResponses),
    security(("bearer" = [])))]
async fn receive(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<PurchaseReceipt>,
) -> ApiResult<Json<Received>> {
    p.check(RECEIVERS)?;
    let mut body = body;
    let caller = crate::api::callers::caller(&p);
    for line in &mut body.lines {
        if let Some(raw) = &line.scan {
            line.scan = Some(s.scanning.normalize_for(&caller, raw));
        }
    }
    let actor = crate::api::callers::actor(&p);
    Ok(Json(
        planning::receive_purchase(&s.db, id, body, actor).await?,
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get))
        .routes(routes!(set_status))
        .routes(routes!(receive))
}
