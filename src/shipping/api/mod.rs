//! HTTP handlers: parcels (with their GS1 logistic labels), shipments, dispatch, tracking.

mod returns;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::callers::{actor, submitter};
use crate::api::extract::{Id, JsonBody, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::render::LabelQuery;
use crate::api::schemas::{Binary, routes};
use crate::auth::{Access, DeviceKind, Principal, Role};
use crate::error::Error;
use crate::fulfilment::planning::{self, ShipmentChange};
use crate::labels::Format;
use crate::shipping::documents::{self, DispatchRequest, Dispatched, PrintRequest, Printed};
use crate::shipping::{self, NewParcel, NewShipment, Parcel, Shipment, Status};

const PACKERS: Access = Access::WAREHOUSE_FLOOR;
const READERS: Access = Access {
    roles: &[Role::Admin, Role::Head, Role::Rep, Role::Warehouse],
    devices: &[DeviceKind::Scanner],
};

/// Pack a parcel for a deal: picked goods (reserved for the deal) go in; it gets a fresh SSCC.
/// `parent_id` puts it on a pallet (itself a parcel).
#[utoipa::path(post, path = "/v1/parcels", tag = "shipping", request_body = NewParcel,
    responses((status = 201, body = Parcel), ErrorResponses), security(("bearer" = [])))]
async fn create_parcel(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(mut body): JsonBody<NewParcel>,
) -> ApiResult<(StatusCode, Json<Parcel>)> {
    p.check(PACKERS)?;
    shipping::resolve_scans(
        &s.scanning,
        &s.db,
        &crate::api::callers::caller(&p),
        &mut body.contents,
    )
    .await?;
    let parcel = shipping::create_parcel(
        &s.db,
        body,
        s.config.gs1_company_prefix.as_deref(),
        s.config.sscc_extension_digit,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(parcel)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ParcelContents {
    /// Scanned (`scan`, `quantity` in packs) or given (`item_id`, `batch`, `quantity`).
    pub contents: Vec<shipping::ContentLine>,
}

/// Add goods to a parcel at the packing table, by scan or by item: picked goods of the
/// parcel's deal, not yet packed. A parcel whose shipment has left is closed (409).
#[utoipa::path(post, path = "/v1/parcels/{id}/contents", tag = "shipping", params(("id" = i64, Path)),
    request_body = ParcelContents, responses((status = 200, body = Parcel), ErrorResponses),
    security(("bearer" = [])))]
async fn add_contents(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(mut body): JsonBody<ParcelContents>,
) -> ApiResult<Json<Parcel>> {
    p.check(PACKERS)?;
    shipping::parcel(&s.db, id).await?;
    shipping::resolve_scans(
        &s.scanning,
        &s.db,
        &crate::api::callers::caller(&p),
        &mut body.contents,
    )
    .await?;
    Ok(Json(
        shipping::add_contents(&s.db, id, &body.contents).await?,
    ))
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

/// The parcel's GS1 logistic label (ship-from, ship-to, content, SSCC as GS1-128 at the
/// bottom), from the parcel, its shipment and the deal.
#[utoipa::path(get, path = "/v1/parcels/{id}/label", tag = "shipping", params(("id" = i64, Path), LabelQuery),
    responses((status = 200, description = "the label", content((Binary = "application/pdf"), (Binary = "application/x-zpl"), (Binary = "image/png"))), ErrorResponses), security(("bearer" = [])))]
async fn parcel_label(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    Query(q): Query<LabelQuery>,
) -> ApiResult<Response> {
    p.check(READERS)?;
    let label = shipping::parcel_label(&s.db, id).await?;
    q.render(&s.labels, label.template, &label.data)
}

/// Create a shipment for a deal, or for several deals of one customer (`deal_ids`: one
/// warehouse, one address; 422 naming `deal_ids[i]` for the deal that differs), or for the
/// customer's deals that are packed and waiting (`customer_id` with `ready: true`; the answer's
/// `deal_ids` says which): ship-to (default: the deal's address, else the customer's preferred
/// shipping address), carrier (`own_fleet`), service level, cash on delivery (one amount, each
/// deal's share in `cod_shares`), who pays, its parcels.
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

/// Dispatch a packed shipment: the carrier issues the tracking number and the goods leave the
/// warehouse (`ship` movements consuming the deal's reservations). Then, unless `print` is
/// `false`, every parcel's logistic label is queued on the label printer (the one given or the
/// warehouse's), one job per parcel, and the delivery note on the document printer; with no
/// printer known nothing is printed. The body may be empty or `{}`. A printer given that is not
/// a usable printer is a 422 before anything happens; a print job that cannot be queued after
/// the dispatch committed is reported in `print_errors` and does not undo it.
#[utoipa::path(post, path = "/v1/shipments/{id}/dispatch", tag = "shipping", params(("id" = i64, Path)),
    request_body(content = Option<DispatchRequest>),
    responses((status = 200, body = Dispatched), ErrorResponses), security(("bearer" = [])))]
async fn dispatch(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<DispatchRequest>,
) -> ApiResult<Json<Dispatched>> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    Ok(Json(
        documents::dispatch_and_print(&s.db, &s.printing, id, &body, actor(&p), submitter(&p))
            .await?,
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelsQuery {
    /// `zpl` or `pdf` (default).
    pub format: Option<Format>,
    /// ZPL: the printer's resolution (203, 300, 600); default 203.
    pub dpi: Option<u32>,
}

/// Every parcel label of the shipment (pallets included, template `logistic-4x6`) in one
/// document: ZPL, the labels one after another; PDF, one page per label. 409 when the
/// shipment has no parcels.
#[utoipa::path(get, path = "/v1/shipments/{id}/labels", tag = "shipping",
    params(("id" = i64, Path), LabelsQuery),
    responses((status = 200, description = "application/x-zpl or application/pdf",
        content((Binary = "application/x-zpl"), (Binary = "application/pdf"))), ErrorResponses),
    security(("bearer" = [])))]
async fn labels(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    Query(q): Query<LabelsQuery>,
) -> ApiResult<Response> {
    p.check(READERS)?;
    let rendered = shipping::labels(
        &s.db,
        &s.labels,
        id,
        q.format.unwrap_or(Format::Pdf),
        q.dpi.unwrap_or(documents::DEFAULT_DPI),
    )
    .await?;
    Ok(rendered.into_response())
}

/// Print a packed (or later) shipment's documents again: the parcels' labels and/or the
/// delivery note, on the printers given or the warehouse's, `copies` of each. Left out,
/// `labels` and `delivery_note` print when their printer is known; `true` requires it (409
/// naming `label_printer_id` or `document_printer_id`), as does printing anything at all.
#[utoipa::path(post, path = "/v1/shipments/{id}/print", tag = "shipping", params(("id" = i64, Path)),
    request_body = PrintRequest,
    responses((status = 202, body = Printed), ErrorResponses), security(("bearer" = [])))]
async fn print(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<PrintRequest>,
) -> ApiResult<(StatusCode, Json<Printed>)> {
    p.check(PACKERS)?;
    let shipment = shipping::get(&s.db, id).await?;
    let printed = documents::print(
        &s.db,
        &s.printing,
        &shipment,
        &body,
        documents::Occasion::Reprint,
        submitter(&p),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(printed)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = ShipmentStatusChange)]
pub struct StatusChange {
    /// `in_transit`, `delivered`, `failed_delivery`, `returned`.
    pub status: Status,
    #[serde(default)]
    pub note: Option<String>,
    /// For `returned`: where the whole shipment goes back into stock (its original batches);
    /// default: the location it left from.
    #[serde(default)]
    pub location_id: Option<i64>,
}

/// Track a dispatched shipment: each change is timestamped and kept; delivering a
/// cash-on-delivery shipment records the payment as collected.
#[utoipa::path(post, path = "/v1/shipments/{id}/status", operation_id = "set_shipment_status", tag = "shipping", params(("id" = i64, Path)),
    request_body = StatusChange, responses((status = 200, body = Shipment), ErrorResponses),
    security(("bearer" = [])))]
async fn set_status(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<StatusChange>,
) -> ApiResult<Json<Shipment>> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    // `dispatched` is the same as `POST /v1/shipments/{id}/dispatch` with no body: the
    // warehouse's printers print what they are set up for.
    if body.status == Status::Dispatched {
        let dispatched = documents::dispatch_and_print(
            &s.db,
            &s.printing,
            id,
            &DispatchRequest::default(),
            actor(&p),
            submitter(&p),
        )
        .await?;
        return Ok(Json(dispatched.shipment));
    }
    let change = ShipmentChange {
        to: body.status,
        source: "api",
        book_return: true,
        note: body.note,
        location_id: body.location_id,
    };
    planning::set_shipment_status(&s.db, id, change, actor(&p)).await?;
    Ok(Json(shipping::get(&s.db, id).await?))
}

/// The shipment's delivery note (template `delivery-note`, A4), `?format=pdf|png|zpl`.
#[utoipa::path(get, path = "/v1/shipments/{id}/delivery-note", tag = "shipping",
    params(("id" = i64, Path), LabelQuery),
    responses((status = 200, description = "the delivery note", content((Binary = "application/pdf"), (Binary = "application/x-zpl"), (Binary = "image/png"))), ErrorResponses),
    security(("bearer" = [])))]
async fn delivery_note(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    Query(q): Query<LabelQuery>,
) -> ApiResult<Response> {
    p.check(READERS)?;
    let data = shipping::delivery_note_data(&s.db, id).await?;
    q.render(&s.labels, "delivery-note", &data)
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
    let change = ShipmentChange {
        to: body.status,
        source: "carrier",
        book_return: false,
        note: body.note,
        location_id: None,
    };
    planning::set_shipment_status(&s.db, id, change, actor(&p)).await?;
    Ok(Json(shipping::get(&s.db, id).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_parcel))
        .routes(routes!(get_parcel))
        .routes(routes!(add_contents))
        .routes(routes!(parcel_label))
        .routes(routes!(create_shipment))
        .routes(routes!(get_shipment))
        .routes(routes!(dispatch))
        .routes(routes!(labels))
        .routes(routes!(print))
        .routes(routes!(set_status))
        .routes(routes!(delivery_note))
        .routes(routes!(webhook))
        .merge(returns::router())
}
