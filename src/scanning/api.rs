//! HTTP handlers for scanning.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::callers::caller;
use crate::api::extract::{JsonBody, ListParams, Listing, Paging, Query};
use crate::api::problem::{ApiError, ApiResult, ErrorResponses, Problem};
use crate::api::schemas::{Binary, routes};
use crate::auth::{Access, DeviceKind, Principal, Role};
use crate::barcode::decode::DecodeError;
use crate::scanning::images::{self, DecodeResult};
use crate::scanning::log::{self, ScanEntry, ScanFilter};
use crate::scanning::profiles::Profile;
use crate::scanning::{ScanRequest, ScanResult};

/// Every user and scanner devices.
const SCANNERS: Access = Access {
    roles: &[Role::Admin, Role::Head, Role::Rep, Role::Warehouse],
    devices: &[DeviceKind::Scanner],
};

/// Supervisors reading the scan log.
const SUPERVISORS: Access = Access::users(&[Role::Admin, Role::Head, Role::Warehouse]);

/// Resolve one scan: what the barcode says (GS1 elements, GTIN, batch, expiry...) and what it
/// refers to in Depot. Data that claims to be GS1 and breaks its rules is refused with 422,
/// naming the AI and the position.
#[utoipa::path(post, path = "/v1/scans", tag = "scanning", request_body = ScanRequest,
    responses((status = 200, body = ScanResult), ErrorResponses), security(("bearer" = [])))]
async fn scan(
    State(state): State<AppState>,
    principal: Principal,
    JsonBody(body): JsonBody<ScanRequest>,
) -> ApiResult<Json<ScanResult>> {
    principal.check(SCANNERS)?;
    Ok(Json(
        state
            .scanning
            .scan(&state.db, &caller(&principal), body)
            .await?,
    ))
}

/// The scan log, newest first (admin, head, warehouse).
#[utoipa::path(get, path = "/v1/scans", tag = "scanning", params(ListParams, ScanFilter),
    responses((status = 200, body = Listing<ScanEntry>), ErrorResponses), security(("bearer" = [])))]
async fn list_scans(
    State(state): State<AppState>,
    principal: Principal,
    Paging(page): Paging,
    Query(filter): Query<ScanFilter>,
) -> ApiResult<Json<Listing<ScanEntry>>> {
    principal.check(SUPERVISORS)?;
    Ok(Json(log::list(&state.db, &filter, page).await?.into()))
}

/// The scanner and printer profiles this server knows (`devices/*.toml`).
#[utoipa::path(get, path = "/v1/scan-profiles", tag = "scanning",
    responses((status = 200, body = Listing<Profile>), ErrorResponses), security(("bearer" = [])))]
async fn list_profiles(
    State(state): State<AppState>,
    principal: Principal,
) -> ApiResult<Json<Listing<Profile>>> {
    principal.check(Access::ANYONE)?;
    Ok(Json(Listing {
        items: state.scanning.profiles.all().cloned().collect(),
        next_cursor: None,
    }))
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct DecodeParams {
    /// Comma-separated formats to look for (e.g. `qr_code,data_matrix`); default: the device
    /// profile's, else every supported format. Fewer is faster.
    formats: Option<String>,
    /// Search harder (slower on photos without a code). Default true.
    try_harder: Option<bool>,
}

/// The multipart form of `POST /v1/scans/decode`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct DecodeUpload {
    #[schema(value_type = String, format = Binary)]
    image: Vec<u8>,
}

/// Find every barcode in a photo (JPEG, PNG, WebP or BMP; the raw body, or the multipart field
/// `image`) and resolve each as `POST /v1/scans` would.
#[utoipa::path(post, path = "/v1/scans/decode", tag = "scanning", params(DecodeParams),
    request_body(description = "image/jpeg, image/png, image/webp, image/bmp, or multipart/form-data with field `image`",
        content((Binary = "image/jpeg"), (Binary = "image/png"), (Binary = "image/webp"), (Binary = "image/bmp"),
            (Binary = "application/octet-stream"), (DecodeUpload = "multipart/form-data"))),
    responses((status = 200, body = DecodeResult), ErrorResponses,
        (status = 415, body = Problem, content_type = "application/problem+json", description = "Not a supported image"),
        (status = 503, body = Problem, content_type = "application/problem+json", description = "All decoders busy; retry")),
    security(("bearer" = [])))]
async fn decode(
    State(state): State<AppState>,
    principal: Principal,
    Query(params): Query<DecodeParams>,
    request: Request,
) -> ApiResult<Json<DecodeResult>> {
    principal.check(SCANNERS)?;
    let caller = caller(&principal);
    let formats = images::formats(&state.scanning, params.formats.as_deref(), &caller)?;
    let image = crate::api::extract::upload(&state, request, "image").await?;
    let options = images::options(
        formats,
        params.try_harder.unwrap_or(true),
        state.config.decode_budget_ms,
    );
    let codes = state
        .decoder
        .decode(image, &options)
        .await
        .map_err(decode_problem)?;
    Ok(Json(
        images::resolve_all(&state.scanning, &state.db, &caller, codes).await?,
    ))
}

fn decode_problem(e: DecodeError) -> ApiError {
    let (status, slug) = match &e {
        DecodeError::NotAnImage(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "not-an-image"),
        DecodeError::Corrupt(_) | DecodeError::TooSmall { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, "bad-image")
        }
        DecodeError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too-large"),
        DecodeError::Timeout => (StatusCode::UNPROCESSABLE_ENTITY, "decode-timeout"),
        DecodeError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "decoder-busy"),
        DecodeError::Internal(_) => {
            tracing::error!(error = %e, "barcode decoder failure");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    };
    let detail = match &e {
        DecodeError::Timeout => {
            "decoding took too long: send a smaller or sharper photo, or narrow `formats`"
                .to_string()
        }
        other => other.to_string(),
    };
    ApiError::from(Problem::new(status, slug, detail.clone()).with_field("image", detail))
}

pub fn router(image_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(scan, list_scans))
        .routes(routes!(list_profiles))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(decode))
                .layer(axum::extract::DefaultBodyLimit::max(image_limit)),
        )
}
