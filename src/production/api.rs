//! HTTP handlers for production orders.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::extract::{Id, JsonBody, ListParams, Listing, Paging, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::auth::{Access, Principal, Role};
use crate::crm::visibility::Viewer;
use crate::fulfilment::planning;
use crate::production::{self, Completed, Completion, Filter, ProductionOrder, StatusChange};

const READERS: Access = Access::users(&[Role::Admin, Role::Head, Role::Rep, Role::Warehouse]);
const PRODUCTION: Access = Access::users(&[Role::Admin, Role::Warehouse]);
const FLOOR: Access = Access::WAREHOUSE_FLOOR;

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewProductionOrder {
    pub item_id: i64,
    pub warehouse_id: i64,
    pub quantity: i64,
}

/// Plan a production order by hand (make to stock). Orders for deals are raised by
/// `POST /v1/deals/{id}/reserve`.
#[utoipa::path(post, path = "/v1/production-orders", operation_id = "create_production_order", tag = "production", request_body = NewProductionOrder,
    responses((status = 201, body = ProductionOrder), ErrorResponses), security(("bearer" = [])))]
async fn create(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<NewProductionOrder>,
) -> ApiResult<(StatusCode, Json<ProductionOrder>)> {
    p.check(PRODUCTION)?;
    let order =
        planning::plan_production(&s.db, body.item_id, body.warehouse_id, body.quantity).await?;
    Ok((StatusCode::CREATED, Json(order)))
}

/// Production orders, by status, item, warehouse, or waiting for a decision.
#[utoipa::path(get, path = "/v1/production-orders", operation_id = "list_production_orders", tag = "production", params(ListParams, Filter),
    responses((status = 200, body = Listing<ProductionOrder>), ErrorResponses), security(("bearer" = [])))]
async fn list(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<Filter>,
) -> ApiResult<Json<Listing<ProductionOrder>>> {
    p.check(READERS)?;
    let mut orders = production::list(&s.db, &filter, page).await?;
    let serves = orders.items.iter_mut().map(|o| &mut o.serves);
    crate::supply::hide_unseen_deals(&s.db, Viewer::scoped(&p), serves).await?;
    Ok(Json(orders.into()))
}

/// One production order: components (required, reserved, consumed) and the deals it serves.
#[utoipa::path(get, path = "/v1/production-orders/{id}", operation_id = "get_production_order", tag = "production", params(("id" = i64, Path)),
    responses((status = 200, body = ProductionOrder), ErrorResponses), security(("bearer" = [])))]
async fn get(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<ProductionOrder>> {
    p.check(READERS)?;
    let mut order = production::read(&s.db, id).await?;
    crate::supply::hide_unseen_deals(&s.db, Viewer::scoped(&p), [&mut order.serves]).await?;
    Ok(Json(order))
}

/// Release, start or cancel an order (a `decision_note` clears `needs_decision`). Cancelling
/// releases its component reservations and reduces the orders raised for them.
#[utoipa::path(post, path = "/v1/production-orders/{id}/status", operation_id = "set_production_order_status", tag = "production", params(("id" = i64, Path)),
    request_body = StatusChange, responses((status = 200, body = ProductionOrder), ErrorResponses),
    security(("bearer" = [])))]
async fn set_status(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<StatusChange>,
) -> ApiResult<Json<ProductionOrder>> {
    p.check(PRODUCTION)?;
    Ok(Json(
        planning::set_production_status(&s.db, id, &body).await?,
    ))
}

/// Complete (part of) an order: components consumed, output received (`production_output`),
/// in one transaction; the output is then reserved for the deals waiting for it, oldest first.
#[utoipa::path(post, path = "/v1/production-orders/{id}/complete", tag = "production", params(("id" = i64, Path)),
    request_body = Completion, responses((status = 200, body = Completed), ErrorResponses),
    security(("bearer" = [])))]
async fn complete(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<Completion>,
) -> ApiResult<Json<Completed>> {
    p.check(FLOOR)?;
    let actor = crate::api::callers::actor(&p);
    Ok(Json(
        planning::complete_production(&s.db, id, &body, actor).await?,
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get))
        .routes(routes!(set_status))
        .routes(routes!(complete))
}
