//! RFC 9457 problem details: the one place where domain errors become HTTP statuses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{Error, FieldError};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem details body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// URI reference naming the problem type, for example `/problems/validation`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The first offending field, when the problem is about input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every offending field with its reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For invalid GS1 data: the Application Identifier concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai: Option<String>,
    /// For invalid barcode data: the character offset where the problem is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
    /// Sent as the `Retry-After` header (seconds), not in the body.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            errors: Vec::new(),
            ai: None,
            position: None,
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>, reason: impl Into<String>) -> Problem {
        let field = field.into();
        self.errors.push(FieldError {
            field: field.clone(),
            reason: reason.into(),
        });
        self.field.get_or_insert(field);
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let unauthenticated = status == StatusCode::UNAUTHORIZED;
        let retry_after = self.retry_after;
        let mut response = (status, axum::Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if unauthenticated {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// What handlers return on failure.
#[derive(Debug)]
pub struct ApiError(pub Box<Problem>);

impl From<Problem> for ApiError {
    fn from(problem: Problem) -> ApiError {
        ApiError(Box::new(problem))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_request(field: Option<&str>, detail: impl Into<String>) -> ApiError {
        let detail = detail.into();
        let problem = Problem::new(StatusCode::BAD_REQUEST, "malformed-request", detail.clone());
        ApiError::from(match field {
            Some(f) => problem.with_field(f, detail),
            None => problem,
        })
    }

    pub fn unprocessable(field: &str, reason: impl Into<String>) -> ApiError {
        let reason = reason.into();
        ApiError::from(
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                format!("{field}: {reason}"),
            )
            .with_field(field, reason),
        )
    }

    pub fn status(&self) -> u16 {
        self.0.status
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> ApiError {
        let problem = match err {
            Error::Validation(errors) => {
                let detail = errors
                    .iter()
                    .map(|e| {
                        if e.field.is_empty() {
                            e.reason.clone()
                        } else {
                            format!("{}: {}", e.field, e.reason)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail);
                p.field = errors
                    .iter()
                    .map(|e| e.field.clone())
                    .find(|f| !f.is_empty());
                p.errors = errors;
                p
            }
            Error::NotFound { resource, id } => Problem::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("no {resource} with id {id}"),
            ),
            Error::Conflict { field, detail } => {
                let p = Problem::new(StatusCode::CONFLICT, "conflict", detail.clone());
                match field {
                    Some(f) => p.with_field(f, detail),
                    None => p,
                }
            }
            Error::InvalidBarcode {
                field,
                ai,
                position,
                message,
            } => {
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-barcode",
                    &message,
                )
                .with_field(field, message);
                p.ai = ai;
                p.position = Some(position);
                p
            }
            Error::Unauthenticated(detail) => {
                Problem::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
            }
            Error::Forbidden(detail) => Problem::new(StatusCode::FORBIDDEN, "forbidden", detail),
            Error::TooManyAttempts { retry_after_secs } => {
                let mut p = Problem::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too-many-attempts",
                    format!(
                        "too many failed login attempts for this user from this address, or from \
                         this address; retry after {retry_after_secs} s"
                    ),
                );
                p.retry_after = Some(retry_after_secs);
                p
            }
            Error::Busy => {
                let mut p = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "busy",
                    "the database is busy; retry with the same Idempotency-Key",
                );
                p.retry_after = Some(1);
                p
            }
            Error::Unavailable => {
                tracing::warn!("database unavailable");
                let mut p = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database-unavailable",
                    "the database cannot be reached or cannot write now (restart or failover); \
                     retry with the same Idempotency-Key and it applies once",
                );
                p.retry_after = Some(1);
                p
            }
            Error::Database(e) => {
                tracing::error!(error = %e, "database error");
                internal()
            }
            Error::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                internal()
            }
        };
        ApiError::from(problem)
    }
}

fn internal() -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "an internal error occurred; it has been logged",
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (*self.0).into_response()
    }
}

/// Error responses every route may give, for the OpenAPI document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum ErrorResponses {
    /// Malformed request: bad JSON, bad query parameter.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// Missing, expired or forged token.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The caller's role does not allow this.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// Unknown id.
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// Duplicate value, or Idempotency-Key reused while the first request runs.
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// Body larger than the limit.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// A body not sent as `application/json`.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Problem),
    /// A field failed validation; `errors` names each field.
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(Problem),
}
