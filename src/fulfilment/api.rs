//! HTTP handlers: reserve a deal, its fulfilment, an item's availability.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::extract::{Id, JsonBody, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::{Binary, routes};
use crate::auth::{Access, DeviceKind, Principal, Role};
use crate::crm::visibility::Viewer;
use crate::error::Error;
use crate::fulfilment::picking::{self, NewPickList, PickList, PickListPatch, PickScan};
use crate::fulfilment::{self, Availability, Fulfilment, ReserveOptions, ReserveResult};

/// Reps, heads and admins act on the deals they may see; warehouse staff on every deal.
async fn check_deal(s: &AppState, p: &Principal, deal_id: i64) -> Result<(), Error> {
    let user = p.user_in(Access::users(&[
        Role::Admin,
        Role::Head,
        Role::Rep,
        Role::Warehouse,
    ]))?;
    if user.role == Role::Warehouse {
        return match crate::crm::deals::title_of(&s.db, deal_id).await? {
            Some(_) => Ok(()),
            None => Err(Error::not_found("deal", deal_id)),
        };
    }
    crate::crm::deals::get(&s.db, Viewer::from(user), deal_id).await?;
    Ok(())
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReserveRequest {
    /// The warehouse to fulfil from; default: the deal's (remembered from its first
    /// reservation), or the only warehouse.
    #[serde(default)]
    pub warehouse_id: Option<i64>,
    /// Reservations made by this call end then (a quote); RFC 3339.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
}

/// Reserve a deal: per line, reserve what stock covers (FEFO, with the customer's required
/// shelf life), order the rest (production order or purchase order). Calling it again changes
/// only what changed: shrunk lines release stock and reduce orders not yet started; a lost deal
/// releases everything. A second call while one runs for the same deal is 409 (retry).
#[utoipa::path(post, path = "/v1/deals/{id}/reserve", tag = "fulfilment", params(("id" = i64, Path)),
    request_body = ReserveRequest, responses((status = 200, body = ReserveResult), ErrorResponses),
    security(("bearer" = [])))]
async fn reserve(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<ReserveRequest>,
) -> ApiResult<Json<ReserveResult>> {
    check_deal(&s, &p, id).await?;
    if let Some(at) = body.expires_at
        && at <= crate::db::now()
    {
        return Err(Error::invalid("expires_at", "must be in the future").into());
    }
    Ok(Json(
        fulfilment::reserve_deal(
            &s.db,
            id,
            ReserveOptions {
                warehouse_id: body.warehouse_id,
                expires_at: body.expires_at,
            },
        )
        .await?,
    ))
}

/// A deal's fulfilment: per line what is reserved (by batch), in production or on order and
/// when, what has shipped; every ledger movement and document of the deal.
#[utoipa::path(get, path = "/v1/deals/{id}/fulfilment", tag = "fulfilment", params(("id" = i64, Path)),
    responses((status = 200, body = Fulfilment), ErrorResponses), security(("bearer" = [])))]
async fn deal_fulfilment(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<Fulfilment>> {
    check_deal(&s, &p, id).await?;
    Ok(Json(fulfilment::fulfilment(&s.db, id).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// One warehouse; all when left out.
    pub warehouse_id: Option<i64>,
}

/// An item's stock for reps: on hand, reserved, available, expired and quarantined, and what
/// is coming (production and purchase orders, with expected dates).
#[utoipa::path(get, path = "/v1/items/{id}/availability", tag = "fulfilment",
    params(("id" = i64, Path), AvailabilityQuery),
    responses((status = 200, body = Availability), ErrorResponses), security(("bearer" = [])))]
async fn availability(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    Query(q): Query<AvailabilityQuery>,
) -> ApiResult<Json<Availability>> {
    p.check(Access {
        roles: &[Role::Admin, Role::Head, Role::Rep, Role::Warehouse],
        devices: &[DeviceKind::Scanner],
    })?;
    Ok(Json(
        fulfilment::availability(&s.db, id, q.warehouse_id).await?,
    ))
}

const PICKERS: Access = Access::WAREHOUSE_FLOOR;

/// Create a pick list from deals' reservations (or from every won deal with reserved stock in
/// the warehouse): lines pinned to batch and location, in pick-route order; `assigned_to`
/// names the picker it is for.
#[utoipa::path(post, path = "/v1/pick-lists", tag = "fulfilment", request_body = NewPickList,
    responses((status = 201, body = PickList), ErrorResponses), security(("bearer" = [])))]
async fn create_pick_list(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<NewPickList>,
) -> ApiResult<(axum::http::StatusCode, Json<PickList>)> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(picking::create(&s.db, body, p.user_id()).await?),
    ))
}

/// A pick list: its lines (location, item, batch, quantity, picked) and progress.
#[utoipa::path(get, path = "/v1/pick-lists/{id}", tag = "fulfilment", params(("id" = i64, Path)),
    responses((status = 200, body = PickList), ErrorResponses), security(("bearer" = [])))]
async fn get_pick_list(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<PickList>> {
    p.check(PICKERS)?;
    Ok(Json(picking::read(&s.db, id).await?))
}

/// Reassign an open pick list (admin, warehouse): `assigned_to` names the picker, `null` leaves
/// it to anyone. Devices mirroring the list see it go (`delete`) or come (`upsert`) in the
/// change feed.
#[utoipa::path(patch, path = "/v1/pick-lists/{id}", tag = "fulfilment", params(("id" = i64, Path)),
    request_body = PickListPatch, responses((status = 200, body = PickList), ErrorResponses),
    security(("bearer" = [])))]
async fn patch_pick_list(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<PickListPatch>,
) -> ApiResult<Json<PickList>> {
    p.check(Access::users(&[Role::Admin, Role::Warehouse]))?;
    Ok(Json(picking::assign(&s.db, id, body).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PickScanRequest {
    /// What the scanner delivered: a location's barcode, then the goods (a GS1 code with GTIN
    /// and batch, an EAN/UPC or alias with `batch`). Also accepted as `data` or `barcode`.
    #[serde(default, alias = "data", alias = "barcode")]
    pub scan: Option<String>,
    /// Instead of `scan`: the location, typed or picked on screen.
    #[serde(default)]
    pub location_id: Option<i64>,
    /// Instead of `scan`: the item (with `batch` for batch-tracked items); `quantity` then
    /// counts base units.
    #[serde(default)]
    pub item_id: Option<i64>,
    /// Packs picked with this scan (default 1).
    #[serde(default)]
    pub quantity: Option<i64>,
    #[serde(default)]
    pub batch: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
}

/// Scan-verified picking: answers `location`, `confirmed` (with what is left) or `refused` with
/// the reason (`wrong_location`, `wrong_item`, `wrong_batch`, `expired`, `more_than_needed`,
/// `batch_missing`). A confirmed pick moves the goods to the packing location, still reserved
/// for the deal. A batch as good or better by FEFO than the planned one is accepted and the
/// swap recorded.
#[utoipa::path(post, path = "/v1/pick-lists/{id}/scans", tag = "fulfilment", params(("id" = i64, Path)),
    request_body = PickScanRequest, responses((status = 200, body = PickScan), ErrorResponses),
    security(("bearer" = [])))]
async fn pick_scan(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<PickScanRequest>,
) -> ApiResult<Json<PickScan>> {
    p.check(PICKERS)?;
    picking::exists(&s.db, id).await?;
    let scanned = match (body.scan, body.location_id, body.item_id) {
        (Some(scan), _, _) => {
            let result = s
                .scanning
                .scan_field(&s.db, &crate::api::callers::caller(&p), scan, body.profile)
                .await?;
            result.target(body.batch, "picked")?.into()
        }
        (None, Some(location), _) => picking::Scanned::Location(location),
        (None, None, Some(item_id)) => picking::Scanned::Goods {
            item_id,
            per_pack: 1,
            batch: body.batch,
        },
        (None, None, None) => {
            return Err(Error::invalid("scan", "is required (or location_id, or item_id)").into());
        }
    };
    let actor = crate::api::callers::actor(&p);
    Ok(Json(
        picking::scan(&s.db, id, scanned, body.quantity, actor).await?,
    ))
}

/// A short pick: the shelf holds only `found` of what is left on a line. The missing part is
/// released and the bin's phantom stock booked off (`adjustment`); the deal is planned again
/// (other stock by FEFO, added to this list as new lines; else production or purchasing takes
/// the shortfall, shown in `replan`).
#[utoipa::path(post, path = "/v1/pick-lists/{id}/short", tag = "fulfilment", params(("id" = i64, Path)),
    request_body = picking::ShortPick, responses((status = 200, body = picking::ShortPickResult), ErrorResponses),
    security(("bearer" = [])))]
async fn short_pick(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<picking::ShortPick>,
) -> ApiResult<Json<picking::ShortPickResult>> {
    p.check(PICKERS)?;
    let actor = crate::api::callers::actor(&p);
    Ok(Json(picking::short(&s.db, id, body, actor).await?))
}

/// Everything of the deal that has a document or is one (orders, pick lists, parcels,
/// shipments, returns), each with the URLs its documents download from.
#[utoipa::path(get, path = "/v1/deals/{id}/documents", tag = "fulfilment", params(("id" = i64, Path)),
    responses((status = 200, body = [fulfilment::Document]), ErrorResponses), security(("bearer" = [])))]
async fn deal_documents(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
) -> ApiResult<Json<Vec<fulfilment::Document>>> {
    check_deal(&s, &p, id).await?;
    Ok(Json(fulfilment::documents(&s.db, id).await?))
}

/// One of the deal's documents, rendered again from its records (they are reproducible):
/// `pick_list`, `delivery_note` and `shipping_labels` (of a shipment), `parcel_label`,
/// `return_note`. 404 unless the record is the deal's.
#[utoipa::path(get, path = "/v1/deals/{id}/documents/{name}/{document_id}", tag = "fulfilment",
    params(("id" = i64, Path), ("name" = String, Path), ("document_id" = i64, Path), crate::api::render::LabelQuery),
    responses((status = 200, description = "the document", content((Binary = "application/pdf"), (Binary = "application/x-zpl"), (Binary = "image/png"))),
        ErrorResponses), security(("bearer" = [])))]
async fn deal_document(
    State(s): State<AppState>,
    p: Principal,
    axum::extract::Path((id, name, document)): axum::extract::Path<(String, String, String)>,
    Query(q): Query<crate::api::render::LabelQuery>,
) -> ApiResult<axum::response::Response> {
    let parse = |field: &'static str, v: &str| {
        v.parse::<i64>()
            .map_err(|_| Error::invalid(field, "must be an integer id"))
    };
    let (id, document) = (parse("id", &id)?, parse("document_id", &document)?);
    check_deal(&s, &p, id).await?;
    let kind = match name.as_str() {
        "pick_list" => "pick_list",
        "delivery_note" | "shipping_labels" => "shipment",
        "parcel_label" => "parcel",
        "return_note" => "return",
        other => {
            return Err(Error::not_found("document", format!("{other} of deal {id}")).into());
        }
    };
    fulfilment::check_document(&s.db, id, kind, document).await?;
    let (template, data) = match name.as_str() {
        "pick_list" => ("pick-list", picking::document_data(&s.db, document).await?),
        "delivery_note" => (
            "delivery-note",
            crate::shipping::delivery_note_data(&s.db, document).await?,
        ),
        "parcel_label" => {
            let label = crate::shipping::parcel_label(&s.db, document).await?;
            (label.template, label.data)
        }
        "return_note" => (
            "return-note",
            crate::shipping::returns::document_data(&s.db, document).await?,
        ),
        _ => {
            let labels = crate::shipping::labels(
                &s.db,
                &s.labels,
                document,
                q.format.unwrap_or(crate::labels::Format::Pdf),
                q.dpi.unwrap_or(203),
            )
            .await?;
            return Ok(axum::response::IntoResponse::into_response(labels));
        }
    };
    q.render(&s.labels, template, &data)
}

/// The pick list as an A4 document (template `pick-list`, or `?template=`),
/// `?format=pdf|png|zpl` (default PDF; `png` shows the first page) at `?dpi=` (default 203).
#[utoipa::path(get, path = "/v1/pick-lists/{id}/document", tag = "fulfilment",
    params(("id" = i64, Path), crate::api::render::LabelQuery),
    responses((status = 200, description = "the pick list",
        content((Binary = "application/pdf"), (Binary = "image/png"), (Binary = "application/x-zpl"))),
        ErrorResponses),
    security(("bearer" = [])))]
async fn pick_list_document(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    Query(q): Query<crate::api::render::LabelQuery>,
) -> ApiResult<axum::response::Response> {
    p.check(PICKERS)?;
    let data = picking::document_data(&s.db, id).await?;
    q.render(&s.labels, "pick-list", &data)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_pick_list))
        .routes(routes!(get_pick_list, patch_pick_list))
        .routes(routes!(pick_scan))
        .routes(routes!(short_pick))
        .routes(routes!(pick_list_document))
        .routes(routes!(reserve))
        .routes(routes!(deal_fulfilment))
        .routes(routes!(deal_documents))
        .routes(routes!(deal_document))
        .routes(routes!(availability))
}
