//! Every mutation runs in one database transaction ([`crate::db::request`]), and, when it
//! carries an `Idempotency-Key`, its idempotency record (caller, key, request fingerprint,
//! status, the headers that matter, body bytes) is written last in that same transaction. A
//! retry after a crash therefore finds either the committed answer, replayed byte for byte with
//! `Idempotent-Replayed: true`, or nothing, because nothing committed, and runs at once.
//!
//! The same key with a different request is refused (422). A duplicate arriving while the first
//! is running in this process gets 409 at once; one that runs on another instance meanwhile
//! does its work, finds the first's record when it writes its own, rolls everything back and
//! answers the first's replay. A server error (5xx) rolls the request back and records nothing.
//!
//! Operations a device sent offline (`POST /v1/sync/ops`) come through here as requests of
//! their own carrying an [`OfflineOp`]: their record is a `sync_ops` row, kept beyond the
//! 24 hours of keys, and a failed operation becomes an exception for a supervisor.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::api::auth::authenticate;
use crate::api::problem::{ApiError, Problem};
use crate::api::state::AppState;
use crate::auth::Principal;
use crate::db::request::Scope;
use crate::db::{Db, Tx, now};
use crate::error::{Error, Result};
use crate::sync::ops::{self as offline, Answer, OfflineOp, Sender};
use crate::{in_tx, on_read, on_tx};

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_LEN: usize = 255;
/// Largest response kept for replay.
const MAX_STORED_RESPONSE: usize = 16 * 1024 * 1024;
/// Headers a replay repeats besides the content type.
const KEPT_HEADERS: [header::HeaderName; 2] = [header::LOCATION, header::CONTENT_DISPOSITION];

/// 1-255 visible ASCII characters (no spaces, tabs or other controls).
fn is_valid_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The keys (caller, key) of keyed requests running in this process.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashSet<(String, String)>>>);

/// Removes its key from [`InFlight`] when the request ends, however it ends.
struct Running(InFlight, (String, String));

impl InFlight {
    fn enter(&self, scope: &str, key: &str) -> Option<Running> {
        let id = (scope.to_string(), key.to_string());
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        set.insert(id.clone()).then(|| Running(self.clone(), id))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut set = self.0.0.lock().unwrap_or_else(|e| e.into_inner());
        set.remove(&self.1);
    }
}

/// What a keyed request is remembered by.
enum Record {
    Key { principal: Principal, key: String },
    Op { principal: Principal, op: OfflineOp },
}

impl Record {
    fn principal(&self) -> &Principal {
        match self {
            Record::Key { principal, .. } | Record::Op { principal, .. } => principal,
        }
    }

    fn scope(&self) -> String {
        self.principal().label()
    }

    fn key(&self) -> String {
        match self {
            Record::Key { key, .. } => key.clone(),
            Record::Op { op, .. } => format!("op:{}", op.op_id),
        }
    }
}

/// A response as it was first answered.
struct Stored {
    fingerprint: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn is_mutation(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !is_mutation(request.method()) {
        return next.run(request).await;
    }
    let op = request.extensions().get::<OfflineOp>().cloned();
    let record = match record_of(&state, request.headers(), op).await {
        Ok(record) => record,
        Err(refusal) => return refusal,
    };
    let Some(record) = record else {
        // Without a key the request still runs in one transaction (and is always answered).
        return run_in_transaction(&state.db, request, next, None)
            .await
            .unwrap_or_else(in_progress);
    };
    let (mut parts, body) = request.into_parts();
    // The handler need not authenticate the caller again.
    parts.extensions.insert(record.principal().clone());
    // Import files and photo uploads are the largest bodies a mutation may carry.
    let limit = state
        .config
        .body_limit_bytes
        .max(state.config.image_limit_bytes)
        .max(state.config.import_limit_bytes);
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return ApiError::from(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "the request body is larger than the server accepts",
        ))
        .into_response();
    };
    let fingerprint = fingerprint(&parts.method, parts.uri.path(), parts.uri.query(), &bytes);
    match lookup(&state.db, &record).await {
        Ok(Some(stored)) => return replay(stored, &fingerprint),
        Ok(None) => {}
        Err(e) => return ApiError::from(e).into_response(),
    }
    let Some(_running) = state.in_flight.enter(&record.scope(), &record.key()) else {
        return in_progress();
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    match run_in_transaction(&state.db, request, next, Some((&record, &fingerprint))).await {
        Some(response) => response,
        // Another instance answered this key while this request ran: its answer stands, and
        // everything this request did was rolled back.
        None => match lookup(&state.db, &record).await {
            Ok(Some(stored)) => replay(stored, &fingerprint),
            Ok(None) => in_progress(),
            Err(e) => ApiError::from(e).into_response(),
        },
    }
}

/// The record a keyed request (or an offline operation) is kept by; `None` without a key.
/// An invalid key is refused here.
async fn record_of(
    state: &AppState,
    headers: &HeaderMap,
    op: Option<OfflineOp>,
) -> std::result::Result<Option<Record>, Response> {
    let key = match (headers.get(HEADER), &op) {
        (None, None) => return Ok(None),
        (None, Some(_)) => None,
        (Some(key), _) => match key.to_str() {
            Ok(k) if is_valid_key(k) => Some(k.to_string()),
            _ => {
                return Err(ApiError::bad_request(
                    Some("Idempotency-Key"),
                    format!("Idempotency-Key must be 1-{MAX_KEY_LEN} visible ASCII characters"),
                )
                .into_response());
            }
        },
    };
    // Unauthenticated requests are refused by the handler; there is nothing to remember.
    let Ok(principal) = authenticate(state, headers).await else {
        return Ok(None);
    };
    Ok(Some(match (op, key) {
        (Some(op), _) => Record::Op { principal, op },
        (None, Some(key)) => Record::Key { principal, key },
        (None, None) => return Ok(None),
    }))
}

/// Runs the handler in the request's one transaction and ends it: rolled back on a server
/// error, else committed, with the record of `keep` (a keyed request and its fingerprint)
/// written last in it. The answer leaves only after the commit. `None`: the record was
/// there already (another instance answered the same key meanwhile) and everything rolled back.
async fn run_in_transaction(
    db: &Db,
    request: Request,
    next: Next,
    keep: Option<(&Record, &str)>,
) -> Option<Response> {
    let scope = Scope::new(db);
    let response = scope.run(next.run(request)).await;
    let (parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_STORED_RESPONSE).await else {
        scope.rollback().await;
        return Some(too_large_to_keep());
    };
    if parts.status.is_server_error() {
        scope.rollback().await;
        return Some(Response::from_parts(parts, Body::from(body)));
    }
    let committed = match keep {
        None => scope.commit(false, async |_| Ok(true)).await,
        Some((record, fingerprint)) => {
            let stored = Stored {
                fingerprint: fingerprint.to_string(),
                status: parts.status.as_u16(),
                headers: kept_headers(&parts.headers),
                body: body.to_vec(),
            };
            scope
                .commit(true, async |tx| write(tx, record, &stored).await)
                .await
        }
    };
    match committed {
        Ok(true) => {
            if keep.is_some() {
                drill_pause().await;
            }
            Some(Response::from_parts(parts, Body::from(body)))
        }
        Ok(false) => None,
        Err(e) => Some(ApiError::from(e).into_response()),
    }
}

/// Crash drills only: `DEPOT_DRILL_PAUSE_AFTER_COMMIT_MS` holds each keyed answer back this
/// long after its transaction committed, so that a drill killing the server catches requests
/// whose work committed but whose answer never left (tests/crash.rs). Unset in production.
async fn drill_pause() {
    static PAUSE: std::sync::LazyLock<Option<std::time::Duration>> =
        std::sync::LazyLock::new(|| {
            std::env::var("DEPOT_DRILL_PAUSE_AFTER_COMMIT_MS")
                .ok()
                .and_then(|ms| ms.parse().ok())
                .map(std::time::Duration::from_millis)
        });
    if let Some(pause) = *PAUSE {
        tokio::time::sleep(pause).await;
    }
}

fn too_large_to_keep() -> Response {
    tracing::error!("a response too large to buffer; the request was rolled back");
    ApiError::from(Error::Internal(anyhow::anyhow!("response too large"))).into_response()
}

fn in_progress() -> Response {
    let mut response = ApiError::from(Problem::new(
        StatusCode::CONFLICT,
        "idempotency-in-progress",
        "a request with this Idempotency-Key is still being processed; retry shortly",
    ))
    .with_field_named("Idempotency-Key")
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn replay(stored: Stored, fingerprint: &str) -> Response {
    if stored.fingerprint != fingerprint {
        return ApiError::unprocessable(
            "Idempotency-Key",
            "this key was already used with a different request",
        )
        .into_response();
    }
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::try_from(name),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

fn kept_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    std::iter::once(header::CONTENT_TYPE)
        .chain(KEPT_HEADERS)
        .filter_map(|name| {
            let value = headers.get(&name)?.to_str().ok()?;
            Some((name.as_str().to_string(), value.to_string()))
        })
        .collect()
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

/// The committed answer to a record, if there is one.
async fn lookup(db: &Db, record: &Record) -> Result<Option<Stored>> {
    type Row = (
        String,
        i64,
        Option<String>,
        Option<String>,
        Option<Vec<u8>>,
        Option<String>,
    );
    let row: Option<Row> = match record {
        Record::Key { principal, key } => on_read!(db, pool => {
            sqlx::query_as(
                // Rows of requests still running under the design before migration 0018 have no
                // status: they are not answers.
                "select request_hash, status, content_type, response_headers, response_bytes,
                        response_body
                 from idempotency_keys
                 where principal = $1 and idem_key = $2 and status is not null",
            )
            .bind(principal.label())
            .bind(key)
            .fetch_optional(pool)
            .await?
        }),
        Record::Op { principal, op } => {
            return Ok(offline::answer(db, &principal.label(), &op.op_id)
                .await?
                .map(|answer| Stored {
                    fingerprint: answer.fingerprint,
                    status: answer.status,
                    headers: answer
                        .content_type
                        .map(|ct| vec![(header::CONTENT_TYPE.as_str().to_string(), ct)])
                        .unwrap_or_default(),
                    body: answer.body,
                }));
        }
    };
    Ok(row.map(
        |(fingerprint, status, content_type, headers, bytes, text)| {
            let headers = headers
                .and_then(|h| serde_json::from_str::<Vec<(String, String)>>(&h).ok())
                .unwrap_or_else(|| {
                    content_type
                        .map(|ct| vec![(header::CONTENT_TYPE.as_str().to_string(), ct)])
                        .unwrap_or_default()
                });
            Stored {
                fingerprint,
                status: status as u16,
                headers,
                // Rows stored before responses were kept as bytes have only the text.
                body: bytes.unwrap_or_else(|| text.unwrap_or_default().into_bytes()),
            }
        },
    ))
}

/// Writes the record in the request's transaction; false when a record is already there
/// (another instance answered the same key meanwhile), which rolls the request back.
async fn write(tx: &mut Tx, record: &Record, stored: &Stored) -> Result<bool> {
    let content_type = stored
        .headers
        .iter()
        .find(|(name, _)| name == header::CONTENT_TYPE.as_str())
        .map(|(_, value)| value.clone());
    let written = match record {
        Record::Key { principal, key } => {
            let headers = serde_json::to_string(&stored.headers).unwrap_or_default();
            on_tx!(tx, conn => {
                sqlx::query(
                    // A row without a status was left by a request of the design before 0018
                    // that never finished: it is no answer, and is taken over.
                    "insert into idempotency_keys (principal, idem_key, request_hash, status,
                         content_type, response_headers, response_bytes, created_at)
                     values ($1, $2, $3, $4, $5, $6, $7, $8)
                     on conflict (principal, idem_key) do update set
                         request_hash = excluded.request_hash, status = excluded.status,
                         content_type = excluded.content_type,
                         response_headers = excluded.response_headers,
                         response_bytes = excluded.response_bytes,
                         created_at = excluded.created_at
                     where idempotency_keys.status is null",
                )
                .bind(principal.label())
                .bind(key)
                .bind(&stored.fingerprint)
                .bind(stored.status as i64)
                .bind(content_type)
                .bind(headers)
                .bind(&stored.body)
                .bind(now())
                .execute(&mut *conn)
                .await?
                .rows_affected()
            })
        }
        Record::Op { principal, op } => {
            let from = Sender {
                label: principal.label(),
                user_id: principal.user_id(),
                device_id: principal.device_id(),
            };
            let answer = Answer {
                fingerprint: stored.fingerprint.clone(),
                status: stored.status,
                content_type,
                body: stored.body.clone(),
            };
            return offline::record(tx, &from, op, &answer).await;
        }
    };
    Ok(written == 1)
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
