//! HTTP handlers: reserve a deal, its fulfilment, an item's availability.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::extract::{Id, JsonBody, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::app::AppState;
use crate::auth::{Access, DeviceKind, Principal, Role};
use crate::crm::visibility::Viewer;
use crate::error::Error;
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

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(reserve))
        .routes(routes!(deal_fulfilment))
        .routes(routes!(availability))
}
