//! HTTP handlers for customer returns.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::extract::{Id, JsonBody, ListParams, Listing, Paging, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::render::LabelQuery;
use crate::api::schemas::{Binary, routes};
use crate::auth::{Access, Principal, Role};
use crate::shipping::returns::{self, Return, ReturnFilter, ReturnRequest};

const RECEIVERS: Access = Access::WAREHOUSE_FLOOR;
const READERS: Access = Access::users(&[Role::Admin, Role::Head, Role::Warehouse]);

/// Book goods coming back from a deal: each line back into the batch it was shipped from
/// (`good`) or written off with its reason (`damaged`). At most what was shipped for the deal
/// (less what came back already) can be returned, per item and batch. Against a shipment of
/// several deals, each line names its deal (`lines[i].deal_id`) unless only one deal shipped
/// its item and batch in it.
#[utoipa::path(post, path = "/v1/returns", operation_id = "create_return", tag = "returns", request_body = ReturnRequest,
    responses((status = 201, body = Return), ErrorResponses), security(("bearer" = [])))]
async fn create(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<ReturnRequest>,
) -> ApiResult<(StatusCode, Json<Return>)> {
    p.check(RECEIVERS)?;
    let actor = crate::api::callers::actor(&p);
    let (new, deals) = body.split();
    Ok((
        StatusCode::CREATED,
        Json(returns::create_requested(&s.db, new, &deals, actor).await?),
    ))
}

/// Returns, by deal or shipment, with their movements.
#[utoipa::path(get, path = "/v1/returns", operation_id = "list_returns", tag = "returns", params(ListParams, ReturnFilter),
    responses((status = 200, body = Listing<Return>), ErrorResponses), security(("bearer" = [])))]
async fn list(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<ReturnFilter>,
) -> ApiResult<Json<Listing<Return>>> {
    p.check(READERS)?;
    Ok(Json(returns::list(&s.db, &filter, page).await?.into()))
}

/// One return with its movements.
#[utoipa::path(get, path = "/v1/returns/{id}", operation_id = "get_return", tag = "returns", params(("id" = i64, Path)),
    responses((status = 200, body = Return), ErrorResponses), security(("bearer" = [])))]
async fn get(State(s): State<AppState>, p: Principal, Id(id): Id) -> ApiResult<Json<Return>> {
    p.check(READERS)?;
    Ok(Json(returns::get(&s.db, id).await?))
}

/// The return note (template `return-note`, A4: return number, deal, shipment, customer, the
/// lines with batch, condition and reason, and the return's barcode `DPT-RET-<id>`),
/// `?format=pdf|png|zpl`.
#[utoipa::path(get, path = "/v1/returns/{id}/document", operation_id = "return_document", tag = "returns",
    params(("id" = i64, Path), LabelQuery),
    responses((status = 200, description = "the return note", content((Binary = "application/pdf"), (Binary = "application/x-zpl"), (Binary = "image/png"))), ErrorResponses),
    security(("bearer" = [])))]
async fn document(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    Query(q): Query<LabelQuery>,
) -> ApiResult<Response> {
    p.check(READERS)?;
    let data = returns::document_data(&s.db, id).await?;
    q.render(&s.labels, "return-note", &data)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get))
        .routes(routes!(document))
}
