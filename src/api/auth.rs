//! Bearer authentication for people (JWT) and devices (random token), and the auth routes.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::api::extract::JsonBody;
use crate::api::problem::{ApiError, ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::app::AppState;
use crate::auth::tokens::DEVICE_TOKEN_PREFIX;
use crate::auth::{Principal, devices, users};
use crate::error::{Error, Result};

/// Resolves the `Authorization: Bearer …` header to a principal.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| Error::Unauthenticated("missing Authorization: Bearer token".into()))?;
    let value = value
        .to_str()
        .map_err(|_| Error::Unauthenticated("Authorization header is not text".into()))?;
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => {
            return Err(Error::Unauthenticated(
                "Authorization must use the Bearer scheme".into(),
            ));
        }
    };
    if token.starts_with(DEVICE_TOKEN_PREFIX) {
        Ok(Principal::Device(
            devices::authenticate(&state.db, token).await?,
        ))
    } else {
        Ok(Principal::User(state.jwt.verify(token)?))
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(p) = parts.extensions.get::<Principal>() {
            return Ok(p.clone());
        }
        let principal = authenticate(state, &parts.headers).await?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

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

/// Log in with a username and password and receive a short-lived access token.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenResponse), ErrorResponses))]
async fn login(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<LoginRequest>,
) -> ApiResult<Json<TokenResponse>> {
    if body.username.len() > 256 || body.password.len() > 1024 {
        return Err(Error::Unauthenticated("wrong username or password".into()).into());
    }
    let user = users::authenticate(&state.db, &body.username, &body.password).await?;
    token_response(&state, &user)
}

/// Exchange a still-valid access token for a fresh one; the role is re-read, a deactivated
/// user is refused.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth",
    responses((status = 200, body = TokenResponse), ErrorResponses), security(("bearer" = [])))]
async fn refresh(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<TokenResponse>> {
    let user = principal.as_user()?;
    let current = users::principal(&state.db, user.id).await?;
    token_response(&state, &current)
}

/// Who am I: the calling user.
#[utoipa::path(get, path = "/v1/me", tag = "auth",
    responses((status = 200, body = users::User), ErrorResponses), security(("bearer" = [])))]
async fn me(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<users::User>> {
    let user = principal.as_user()?;
    Ok(Json(users::get(&state.db, user.id).await?))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(me))
}
