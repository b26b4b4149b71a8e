//! The auth routes (log in, refresh, who am I) and the admin's users and devices.

mod users;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::auth::ClientIp;
use crate::api::extract::JsonBody;
use crate::api::problem::{ApiResult, ErrorResponses, Problem};
use crate::api::schemas::routes;
use crate::auth::{Principal, users as accounts};
use crate::error::Error;

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

fn token_response(
    state: &AppState,
    user: &crate::auth::UserPrincipal,
) -> ApiResult<Json<TokenResponse>> {
    let issued = state.jwt.issue(user)?;
    Ok(Json(TokenResponse {
        access_token: issued.access_token,
        token_type: "Bearer",
        expires_in: issued.expires_in,
    }))
}

/// Log in with a username and password and receive a short-lived access token. Repeated
/// failures for a username from one address, or from one address, are slowed down (429 with
/// `Retry-After`).
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse),
        (status = 429, description = "Too many failed attempts; retry after `Retry-After` seconds",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
        ErrorResponses))]
async fn login(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    JsonBody(body): JsonBody<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    if body.username.len() > 256 || body.password.len() > 1024 {
        return Err(Error::Unauthenticated("wrong username or password".into()).into());
    }
    let attempt = state.login_throttle.begin(&body.username, client)?;
    let user = accounts::authenticate(&state.db, &body.username, &body.password).await?;
    state.login_throttle.succeeded(attempt);
    token_response(&state, &user)
}

/// Exchange a still-valid access token for a fresh one. The token is checked against the user
/// as they are now (role, active, token generation), like on every request.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    responses((status = 200, body = TokenResponse), ErrorResponses), security(("bearer" = [])))]
async fn refresh(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<TokenResponse>> {
    token_response(&state, principal.as_user()?)
}

/// Who am I: the calling user.
#[utoipa::path(get, path = "/v1/me", tag = "auth",
    responses((status = 200, body = accounts::User), ErrorResponses), security(("bearer" = [])))]
async fn me(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<accounts::User>> {
    let user = principal.as_user()?;
    Ok(Json(accounts::get(&state.db, user.id).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(me))
        .merge(users::router())
}
