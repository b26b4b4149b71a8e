//! `Idempotency-Key` on mutations: a retried request returns the first response and changes
//! nothing; the same key with a different request is refused (422); a retry that arrives while
//! the first is still running gets 409. Keys are scoped to the caller.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::api::auth::authenticate;
use crate::api::problem::{ApiError, Problem};
use crate::api::state::AppState;
use crate::db::{Db, now};
use crate::error::Result;
use crate::{in_tx, on_read};

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;
/// A first attempt that has not finished after this long is presumed dead and may be retried.
const ABANDONED_AFTER: time::Duration = time::Duration::minutes(2);
/// Largest response kept for replay.
const MAX_STORED_RESPONSE: usize = 4 * 1024 * 1024;

/// 1-255 visible ASCII characters (no spaces, tabs or other controls).
fn is_valid_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

enum Claim {
    /// This request runs; its response will be stored.
    Owned,
    Replay {
        status: u16,
        content_type: Option<String>,
        body: Vec<u8>,
    },
    InProgress,
    Mismatch,
}

pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !matches!(
        *request.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(k) if is_valid_key(k) => k.to_string(),
        _ => {
            return ApiError::bad_request(
                Some("Idempotency-Key"),
                format!("Idempotency-Key must be 1-{MAX_KEY_LEN} visible ASCII characters"),
            )
            .into_response();
        }
    };
    // Unauthenticated requests are refused by the handler; there is nothing to remember.
    let Ok(principal) = authenticate(&state, request.headers()).await else {
        return next.run(request).await;
    };
    let scope = principal.label();
    let (mut parts, body) = request.into_parts();
    // Photo uploads are the largest bodies a mutation may carry.
    let limit = state
        .config
        .body_limit_bytes
        .max(state.config.image_limit_bytes);
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::from(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "the request body is larger than the server accepts",
            ))
            .into_response();
        }
    };
    let fingerprint = fingerprint(&parts.method, parts.uri.path(), parts.uri.query(), &bytes);
    let claim = match claim(&state.db, &scope, &key, &fingerprint).await {
        Ok(c) => c,
        Err(e) => return ApiError::from(e).into_response(),
    };
    match claim {
        Claim::Replay {
            status,
            content_type,
            body,
        } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                response.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        Claim::InProgress => ApiError::from(Problem::new(
            StatusCode::CONFLICT,
            "idempotency-in-progress",
            "a request with this Idempotency-Key is still being processed; retry shortly",
        ))
        .with_field_named("Idempotency-Key")
        .into_response(),
        Claim::Mismatch => ApiError::unprocessable(
            "Idempotency-Key",
            "this key was already used with a different request",
        )
        .into_response(),
        Claim::Owned => {
            parts.extensions.insert(principal);
            let response = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            finish(&state.db, &scope, &key, response).await
        }
    }
}

impl ApiError {
    fn with_field_named(self, field: &str) -> ApiError {
        let detail = self.0.detail.clone();
        ApiError::from((*self.0).with_field(field, detail))
    }
}

fn fingerprint(method: &Method, path: &str, query: Option<&str>, body: &Bytes) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"?");
    hasher.update(query.unwrap_or("").as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn claim(db: &Db, scope: &str, key: &str, fingerprint: &str) -> Result<Claim> {
    let at = now();
    let claimed = in_tx!(db, tx => {
        let inserted = sqlx::query(
            "insert into idempotency_keys (principal, idem_key, request_hash, created_at)
             values ($1, $2, $3, $4) on conflict (principal, idem_key) do nothing",
        )
        .bind(scope)
        .bind(key)
        .bind(fingerprint)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 1 {
            None
        } else {
            // Take over an attempt that never finished (its process died).
            let taken = sqlx::query(
                "update idempotency_keys set created_at = $4
                 where principal = $1 and idem_key = $2 and request_hash = $3
                   and status is null and created_at < $5",
            )
            .bind(scope)
            .bind(key)
            .bind(fingerprint)
            .bind(at)
            .bind(at - ABANDONED_AFTER)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken == 1 { None } else { Some(()) }
        }
    });
    if claimed.is_none() {
        return Ok(Claim::Owned);
    }
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, (String, Option<i64>, Option<String>, Option<String>, Option<Vec<u8>>, OffsetDateTime)>(
            "select request_hash, status, content_type, response_body, response_bytes, created_at
             from idempotency_keys where principal = $1 and idem_key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(pool)
        .await?
    });
    Ok(match row {
        Some((hash, ..)) if hash != fingerprint => Claim::Mismatch,
        Some((_, Some(status), content_type, text, bytes, _)) => Claim::Replay {
            status: status as u16,
            content_type,
            // Rows stored before responses were kept as bytes have only the text.
            body: bytes.unwrap_or_else(|| text.unwrap_or_default().into_bytes()),
        },
        _ => Claim::InProgress,
    })
}

/// Stores a final response for replay; a server error releases the key so a retry can run.
async fn finish(db: &Db, scope: &str, key: &str, response: Response) -> Response {
    let status = response.status();
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_STORED_RESPONSE).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "cannot buffer response for idempotent replay");
            let _ = release(db, scope, key).await;
            return ApiError::from(crate::error::Error::Internal(anyhow::anyhow!(
                "response too large"
            )))
            .into_response();
        }
    };
    let stored = if status.is_server_error() {
        release(db, scope, key).await
    } else {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        store(db, scope, key, status.as_u16(), content_type, &bytes).await
    };
    if let Err(e) = stored {
        tracing::error!(error = %e, "cannot record idempotent response");
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn store(
    db: &Db,
    scope: &str,
    key: &str,
    status: u16,
    content_type: Option<String>,
    body: &Bytes,
) -> Result<()> {
    in_tx!(db, tx => {
        sqlx::query(
            "update idempotency_keys set status = $3, content_type = $4, response_bytes = $5
             where principal = $1 and idem_key = $2",
        )
        .bind(scope)
        .bind(key)
        .bind(status as i64)
        .bind(content_type)
        .bind(body.as_ref())
        .execute(&mut *tx)
        .await?;
    });
    Ok(())
}

async fn release(db: &Db, scope: &str, key: &str) -> Result<()> {
    in_tx!(db, tx => {
        sqlx::query("delete from idempotency_keys where principal = $1 and idem_key = $2")
            .bind(scope)
            .bind(key)
            .execute(&mut *tx)
            .await?;
    });
    Ok(())
}

/// Forgets keys older than `age`; replays are promised for 24 hours.
pub async fn purge_older_than(db: &Db, age: time::Duration) -> Result<u64> {
    let cutoff = now() - age;
    Ok(in_tx!(db, tx => {
        sqlx::query("delete from idempotency_keys where created_at < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    }))
}
