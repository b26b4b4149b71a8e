//! Users (admin) and devices (admin).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::extract::{Id, JsonBody, ListParams, Listing, Paging, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::auth::devices::{self, Device, NewDevice, RegisteredDevice};
use crate::auth::users::{self, NewUser, User, UserFilter, UserPatch};
use crate::auth::{Access, DeviceKind, Principal};

/// Create a user (admin).
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = User), ErrorResponses), security(("bearer" = [])))]
async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    principal.check(Access::ADMIN)?;
    Ok((
        StatusCode::CREATED,
        Json(users::create(&state.db, body).await?),
    ))
}

/// List users (admin; heads may read the list to assign work).
#[utoipa::path(get, path = "/v1/users", tag = "users", params(ListParams, UserFilter),
    responses((status = 200, body = Listing<User>), ErrorResponses), security(("bearer" = [])))]
async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
    Paging(page): Paging,
    Query(filter): Query<UserFilter>,
) -> ApiResult<Json<Listing<User>>> {
    principal.check(Access::MANAGERS)?;
    Ok(Json(users::list(&state.db, &filter, page).await?.into()))
}

/// One user (admin, head, or the user themselves).
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = User), ErrorResponses), security(("bearer" = [])))]
async fn get_user(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
) -> ApiResult<Json<User>> {
    if principal.user_id() != Some(id) {
        principal.check(Access::MANAGERS)?;
    }
    Ok(Json(users::get(&state.db, id).await?))
}

/// Change a user's role, manager, password or active flag (admin).
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "users", params(("id" = i64, Path)),
    request_body = UserPatch, responses((status = 200, body = User), ErrorResponses),
    security(("bearer" = [])))]
async fn patch_user(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<UserPatch>,
) -> ApiResult<Json<User>> {
    principal.check(Access::ADMIN)?;
    Ok(Json(users::update(&state.db, id, body).await?))
}

/// Register a scanner or printer (admin). The response carries its token, shown only once.
#[utoipa::path(post, path = "/v1/devices", tag = "devices", request_body = NewDevice,
    responses((status = 201, body = RegisteredDevice), ErrorResponses), security(("bearer" = [])))]
async fn register_device(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<NewDevice>,
) -> ApiResult<(StatusCode, Json<RegisteredDevice>)> {
    let admin = principal.user_in(Access::ADMIN)?;
    let known: Vec<&str> = match body.kind {
        DeviceKind::Scanner => state
            .scanning
            .profiles
            .all()
            .filter(|profile| profile.kind == body.kind.as_str())
            .map(|profile| profile.name.as_str())
            .collect(),
        DeviceKind::Printer => state
            .printing
            .profiles()
            .all()
            .map(|profile| profile.name.as_str())
            .collect(),
    };
    let registered = devices::register(&state.db, body, &known, Some(admin.id)).await?;
    Ok((StatusCode::CREATED, Json(registered)))
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DeviceFilter {
    kind: Option<DeviceKind>,
}

/// List devices (admin).
#[utoipa::path(get, path = "/v1/devices", tag = "devices", params(ListParams, DeviceFilter),
    responses((status = 200, body = Listing<Device>), ErrorResponses), security(("bearer" = [])))]
async fn list_devices(
    State(state): State<AppState>,
    principal: Principal,
    Paging(page): Paging,
    Query(filter): Query<DeviceFilter>,
) -> ApiResult<Json<Listing<Device>>> {
    principal.check(Access::ADMIN)?;
    Ok(Json(
        devices::list(&state.db, filter.kind, page).await?.into(),
    ))
}

/// One device (admin).
#[utoipa::path(get, path = "/v1/devices/{id}", tag = "devices", params(("id" = i64, Path)),
    responses((status = 200, body = Device), ErrorResponses), security(("bearer" = [])))]
async fn get_device(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
) -> ApiResult<Json<Device>> {
    principal.check(Access::ADMIN)?;
    Ok(Json(devices::get(&state.db, id).await?))
}

/// Revoke a device's token (admin). The device is refused from its next request on.
#[utoipa::path(delete, path = "/v1/devices/{id}", tag = "devices", params(("id" = i64, Path)),
    responses((status = 200, body = Device), ErrorResponses), security(("bearer" = [])))]
async fn delete_device(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
) -> ApiResult<Json<Device>> {
    principal.check(Access::ADMIN)?;
    Ok(Json(devices::revoke(&state.db, id).await?))
}

/// Revoke a device's token (admin); same as `DELETE /v1/devices/{id}`.
#[utoipa::path(post, path = "/v1/devices/{id}/revoke", tag = "devices", params(("id" = i64, Path)),
    responses((status = 200, body = Device), ErrorResponses), security(("bearer" = [])))]
async fn revoke_device(
    State(state): State<AppState>,
    principal: Principal,
    Id(id): Id,
) -> ApiResult<Json<Device>> {
    principal.check(Access::ADMIN)?;
    Ok(Json(devices::revoke(&state.db, id).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(get_user, patch_user))
        .routes(routes!(register_device, list_devices))
        .routes(routes!(get_device, delete_device))
        .routes(routes!(revoke_device))
}
