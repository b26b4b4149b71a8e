//! HTTP handlers: parcels (with their GS1 logistic labels), shipments, dispatch, tracking.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::extract::{Id, JsonBody, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::app::AppState;
use crate::auth::{Access, DeviceKind, Principal, Role};
use crate::error::Error;
use crate::labels::Format;
use crate::shipping::{self, NewParcel, NewShipment, Parcel, Shipment, Status};
use crate::stock::Movement;
use crate::stock::operations::Actor;

const PACKERS: Access = Access::WAREHOUSE_FLOOR;
const READERS: Access = Access {
    roles: &[Role::Admin, Role::Head, Role::Rep, Role::Warehouse],
    devices: &[DeviceKind::Scanner],
};

fn actor(p: &Principal) -> Actor {
    Actor {
        user_id: p.user_id(),
        device_id: p.device_id(),
    }
}

/// Pack a parcel for a deal: picked goods (reserved for the deal) go in; it gets a fresh SSCC.
/// `parent_id` puts it on a pallet (itself a parcel).
#[utoipa::path(post, path = "/v1/parcels", tag = "shipping", request_body = NewParcel,
    responses((status = 201, body = Parcel), ErrorResponses), security(("bearer" = [])))]
async fn create_parcel(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<NewParcel>,
) -> ApiResult<(StatusCode, Json<Parcel>)> {
    p.check(PACKERS)?;
    let parcel = shipping::create_parcel(
        &s.db,
        body,
        s.config.gs1_company_prefix.as_deref(),
        s.config.sscc_extension_digit,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(parcel)))
}

/// One parcel with its contents and SSCC.
#[utoipa::path(get, path = "/v1/parcels/{id}", tag = "shipping", params(("id" = i64, Path)),
    responses((status = 200, body = Parcel), ErrorResponses), security(("bearer" = [])))]
async fn get_parcel(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<Parcel>> {
    p.check(READERS)?;
    Ok(Json(shipping::parcel(&s.db, id).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelQuery {
    /// `zpl`, `pdf` (default) or `png`.
    pub format: Option<Format>,
    /// Default `logistic-4x6`; `logistic-a6` for A6.
    pub template: Option<String>,
    pub dpi: Option<u32>,
}

/// The parcel's GS1 logistic label (ship-from, ship-to, content, SSCC as GS1-128 at the
/// bottom), from the parcel, its shipment and the deal.
#[utoipa::path(get, path = "/v1/parcels/{id}/label", tag = "shipping", params(("id" = i64, Path), LabelQuery),
    responses((status = 200, description = "the label"), ErrorResponses), security(("bearer" = [])))]
async fn parcel_label(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    Query(q): Query<LabelQuery>,
) -> ApiResult<Response> {
    p.check(READERS)?;
    let data = shipping::parcel_label_data(&s.db, id).await?;
    let rendered = s.labels.render(
        q.template.as_deref().unwrap_or("logistic-4x6"),
        q.format.unwrap_or(Format::Pdf),
        q.dpi.unwrap_or(203),
        &data,
    )?;
    Ok(rendered.into_response())
}

/// Create a shipment for a deal: ship-to (default: the customer's preferred shipping
/// address), carrier (`own_fleet`), service level, cash on delivery, who pays, its parcels.
#[utoipa::path(post, path = "/v1/shipments", tag = "shipping", request_body = NewShipment,
    responses((status = 201, body = Shipment), ErrorResponses), security(("bearer" = [])))]
async fn create_shipment(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<NewShipment>,
) -> ApiResult<(StatusCode, Json<Shipment>)> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    Ok((
        StatusCode::CREATED,
        Json(shipping::create(&s.db, body, p.user_id()).await?),
    ))
}

/// A shipment: status, tracking, parcels and every status change.
#[utoipa::path(get, path = "/v1/shipments/{id}", tag = "shipping", params(("id" = i64, Path)),
    responses((status = 200, body = Shipment), ErrorResponses), security(("bearer" = [])))]
async fn get_shipment(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<Shipment>> {
    p.check(READERS)?;
    Ok(Json(shipping::get(&s.db, id).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Dispatched {
    pub shipment: Shipment,
    /// The `ship` movements: stock left the warehouse, reservations consumed.
    pub movements: Vec<Movement>,
}

/// Dispatch a packed shipment: the carrier issues the tracking number and the goods leave the
/// warehouse (`ship` movements consuming the deal's reservations). Labels: `GET
/// /v1/parcels/{id}/label`.
#[utoipa::path(post, path = "/v1/shipments/{id}/dispatch", tag = "shipping", params(("id" = i64, Path)),
    responses((status = 200, body = Dispatched), ErrorResponses), security(("bearer" = [])))]
async fn dispatch(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<Dispatched>> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    let (shipment, movements) = shipping::dispatch(&s.db, id, actor(&p)).await?;
    Ok(Json(Dispatched {
        shipment,
        movements,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusChange {
    /// `in_transit`, `delivered`, `failed_delivery`, `returned`.
    pub status: Status,
    #[serde(default)]
    pub note: Option<String>,
    /// For `returned`: where the whole shipment goes back into stock (its original batches).
    #[serde(default)]
    pub location_id: Option<i64>,
}

/// Track a dispatched shipment: each change is timestamped and kept; delivering a
/// cash-on-delivery shipment records the payment as collected.
#[utoipa::path(post, path = "/v1/shipments/{id}/status", tag = "shipping", params(("id" = i64, Path)),
    request_body = StatusChange, responses((status = 200, body = Shipment), ErrorResponses),
    security(("bearer" = [])))]
async fn set_status(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<StatusChange>,
) -> ApiResult<Json<Shipment>> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    if body.status == Status::Returned {
        let location_id = body.location_id.ok_or_else(|| {
            Error::invalid("location_id", "is required to return a shipment into stock")
        })?;
        shipping::return_whole(&s.db, id, location_id, body.note.clone(), actor(&p)).await?;
    }
    Ok(Json(
        shipping::set_status(&s.db, id, body.status, "api", body.note).await?,
    ))
}

/// The shipment's delivery note (template `delivery-note`, A4), `?format=pdf|png|zpl`.
#[utoipa::path(get, path = "/v1/shipments/{id}/delivery-note", tag = "shipping",
    params(("id" = i64, Path), LabelQuery),
    responses((status = 200, description = "the delivery note"), ErrorResponses),
    security(("bearer" = [])))]
async fn delivery_note(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    Query(q): Query<LabelQuery>,
) -> ApiResult<Response> {
    p.check(READERS)?;
    let data = shipping::delivery_note_data(&s.db, id).await?;
    let rendered = s.labels.render(
        q.template.as_deref().unwrap_or("delivery-note"),
        q.format.unwrap_or(Format::Pdf),
        q.dpi.unwrap_or(203),
        &data,
    )?;
    Ok(rendered.into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CarrierEvent {
    pub tracking_number: String,
    pub status: Status,
    #[serde(default)]
    pub note: Option<String>,
}

/// A carrier reports a status change for one of its tracking numbers (authenticated like any
/// caller: an admin-issued token for the carrier's system).
#[utoipa::path(post, path = "/v1/carriers/{carrier}/webhook", tag = "shipping",
    params(("carrier" = String, Path)), request_body = CarrierEvent,
    responses((status = 200, body = Shipment), ErrorResponses), security(("bearer" = [])))]
async fn webhook(
    State(s): State<AppState>,
    p: Principal,
    Path(carrier): Path<String>,
    JsonBody(body): JsonBody<CarrierEvent>,
) -> ApiResult<Json<Shipment>> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    if shipping::carriers::by_name(&carrier).is_none() {
        return Err(Error::not_found("carrier", carrier).into());
    }
    let id = shipping::by_tracking(&s.db, &carrier, body.tracking_number.trim()).await?;
    Ok(Json(
        shipping::set_status(&s.db, id, body.status, "carrier", body.note).await?,
    ))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_parcel))
        .routes(routes!(get_parcel))
        .routes(routes!(parcel_label))
        .routes(routes!(create_shipment))
        .routes(routes!(get_shipment))
        .routes(routes!(dispatch))
        .routes(routes!(set_status))
        .routes(routes!(delivery_note))
        .routes(routes!(webhook))
}
