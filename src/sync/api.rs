//! HTTP handlers for offline devices: the change feed they mirror, the operations they queued
//! while offline, and the exceptions among them.

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, header};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::extract::{Id, JsonBody, ListParams, Listing, Paging, Query};
use crate::api::problem::ApiError;
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::auth::{Access, DeviceKind, Principal, Role};
use crate::error::{Checks, Error};
use crate::sync::changes::{self, ChangeFeed, DEFAULT_LIMIT, MAX_LIMIT, Read, Reader};
use crate::sync::ops::{self, ExceptionFilter, OfflineOp, SyncException};
use utoipa::IntoParams;

/// Who sends offline operations and sees their own exceptions: people and scanners (each
/// operation's own route then checks its rights).
const SENDERS: Access = Access {
    roles: &[Role::Admin, Role::Head, Role::Rep, Role::Warehouse],
    devices: &[DeviceKind::Scanner],
};

/// Most operations in one batch: a device with more sends several batches, in order.
pub const MAX_OPS: usize = 1000;

crate::text_enum!(
    /// What an offline operation does; its `body` is the body of the online route: `scan`
    /// (`POST /v1/scans`), `receipt` (`POST /v1/receipts`), `move` (`POST /v1/stock/moves`),
    /// `count_scan` (`POST /v1/counts/{count_id}/scans`), `pick_scan`
    /// (`POST /v1/pick-lists/{pick_list_id}/scans`), `pack_scan`
    /// (`POST /v1/parcels/{parcel_id}/contents`); the path id travels in the body.
    #[schema(as = SyncOpType)]
    pub OpType {
        Scan = "scan",
        Receipt = "receipt",
        Move = "move",
        CountScan = "count_scan",
        PickScan = "pick_scan",
        PackScan = "pack_scan",
    }
);

impl OpType {
    /// The online route's path, and the body field naming its path id.
    fn route(self) -> (&'static str, Option<&'static str>) {
        match self {
            OpType::Scan => ("/v1/scans", None),
            OpType::Receipt => ("/v1/receipts", None),
            OpType::Move => ("/v1/stock/moves", None),
            OpType::CountScan => ("/v1/counts/{}/scans", Some("count_id")),
            OpType::PickScan => ("/v1/pick-lists/{}/scans", Some("pick_list_id")),
            OpType::PackScan => ("/v1/parcels/{}/contents", Some("parcel_id")),
        }
    }
}

/// One operation a device queued while offline.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Op {
    /// The device's own id for the operation (a UUID): the operation applies once by it.
    pub op_id: String,
    #[serde(rename = "type")]
    pub op_type: OpType,
    /// The device's clock when the operation was made (RFC 3339), kept beside the server's.
    #[serde(default)]
    pub at: Option<String>,
    /// The body the online route takes (plus the path id for `count_scan`, `pick_scan` and
    /// `pack_scan`).
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpsBatch {
    /// In the order the device made them; they apply in this order.
    pub ops: Vec<Op>,
}

/// What one operation was answered, exactly as the online route answered it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpResult {
    pub op_id: String,
    /// The online route's HTTP status.
    pub status: u16,
    /// The online route's JSON body (a problem+json body when the operation failed).
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OpResults {
    /// One per operation, in the order sent.
    pub results: Vec<OpResult>,
}

/// Apply what a device queued while offline, in the order sent, each operation exactly once
/// by its `op_id`: sending the same batch again answers the same results and changes nothing.
/// Each operation runs as its online route would (the caller's rights checked per operation)
/// and commits on its own; its answer is in `results`. An operation that fails (the world
/// changed while the device was offline: stock gone, pick list closed, batch recalled) is
/// answered with its problem and kept as an exception for a supervisor
/// (`GET /v1/sync/exceptions`); the rest still apply. An operation that is still running
/// from an earlier send answers 409: send the batch again later.
#[utoipa::path(post, path = "/v1/sync/ops", operation_id = "sync_ops", tag = "sync", request_body = OpsBatch,
    responses((status = 200, body = OpResults), ErrorResponses), security(("bearer" = [])))]
async fn apply_ops(
    State(s): State<AppState>,
    p: Principal,
    request: Request,
) -> ApiResult<Json<OpResults>> {
    p.check(SENDERS)?;
    let (parts, body) = request.into_parts();
    let JsonBody(batch) =
        <JsonBody<OpsBatch> as axum::extract::FromRequest<AppState>>::from_request(
            Request::from_parts(parts.clone(), body),
            &s,
        )
        .await?;
    let ops = check(batch)?;
    let mut results = Vec::with_capacity(ops.len());
    for (op, path, body) in ops {
        let mut inner = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        for name in [header::AUTHORIZATION, header::FORWARDED] {
            if let Some(value) = parts.headers.get(&name) {
                inner = inner.header(name, value);
            }
        }
        if let Some(value) = parts.headers.get("x-forwarded-for") {
            inner = inner.header("x-forwarded-for", value);
        }
        let mut inner = inner
            .body(Body::from(body.to_string()))
            .map_err(|e| Error::Internal(e.into()))?;
        if let Some(peer) = parts.extensions.get::<ConnectInfo<std::net::SocketAddr>>() {
            inner.extensions_mut().insert(*peer);
        }
        let op_id = op.op_id.clone();
        inner.extensions_mut().insert(op);
        let response = s.dispatch.send(inner).await?;
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| Error::Internal(e.into()))?;
        let body = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
            })
        };
        results.push(OpResult {
            op_id,
            status,
            body,
        });
    }
    Ok(Json(OpResults { results }))
}

/// Checks every operation's envelope before any applies: a batch with a malformed operation
/// (the device's bug, not the world's) is refused whole, naming it.
fn check(batch: OpsBatch) -> crate::error::Result<Vec<(OfflineOp, String, serde_json::Value)>> {
    let mut checks = Checks::new();
    checks.check(
        batch.ops.len() <= MAX_OPS,
        "ops",
        &format!("at most {MAX_OPS} operations in one batch; send the rest in the next"),
    );
    let mut ops = Vec::with_capacity(batch.ops.len());
    for (i, op) in batch.ops.into_iter().enumerate() {
        let field = |name: &str| format!("ops[{i}].{name}");
        let valid_id =
            (1..=100).contains(&op.op_id.len()) && op.op_id.bytes().all(|b| b.is_ascii_graphic());
        checks.check(
            valid_id,
            &field("op_id"),
            "must be 1-100 visible ASCII characters (a UUID)",
        );
        if let Some(at) = &op.at {
            let parsed =
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339);
            checks.check(
                parsed.is_ok(),
                &field("at"),
                "must be an RFC 3339 date-time",
            );
        }
        let serde_json::Value::Object(mut body) = op.body else {
            checks.fail(field("body"), "must be a JSON object");
            continue;
        };
        let (route, id_field) = op.op_type.route();
        let path = match id_field {
            None => route.to_string(),
            Some(name) => match body.remove(name).and_then(|v| v.as_i64()) {
                Some(id) if id > 0 => route.replace("{}", &id.to_string()),
                _ => {
                    checks.fail(field(&format!("body.{name}")), "must be a positive integer");
                    continue;
                }
            },
        };
        ops.push((
            OfflineOp {
                op_id: op.op_id,
                op_type: op.op_type.as_str().to_string(),
                device_at: op.at,
            },
            path,
            serde_json::Value::Object(body),
        ));
    }
    checks.finish()?;
    Ok(ops)
}

/// Who resolves exceptions and sees everyone's: admins and heads. Others see their own.
const SUPERVISORS: Access = Access::MANAGERS;

/// Offline operations that failed when they arrived, oldest first: open ones (the default) or
/// resolved ones (`resolved=true`). Supervisors see every device's and person's; others see
/// their own, so an exception comes back to whoever scanned.
#[utoipa::path(get, path = "/v1/sync/exceptions", operation_id = "list_sync_exceptions", tag = "sync", params(ListParams, ExceptionFilter),
    responses((status = 200, body = Listing<SyncException>), ErrorResponses), security(("bearer" = [])))]
async fn list_exceptions(
    State(s): State<AppState>,
    p: Principal,
    Paging(page): Paging,
    Query(filter): Query<ExceptionFilter>,
) -> ApiResult<Json<Listing<SyncException>>> {
    p.check(SENDERS)?;
    let own = p.check(SUPERVISORS).is_err().then(|| p.label());
    Ok(Json(
        ops::list(&s.db, &filter, own.as_deref(), page)
            .await?
            .into(),
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    /// What was done about it (recounted, stock moved back, ...).
    #[serde(default)]
    pub note: Option<String>,
}

/// Mark an exception resolved, with a note on what was done. Supervisors only; 409 when it
/// is resolved already.
#[utoipa::path(post, path = "/v1/sync/exceptions/{id}/resolve", operation_id = "resolve_sync_exception", tag = "sync", params(("id" = i64, Path)),
    request_body = Resolution, responses((status = 200, body = SyncException), ErrorResponses), security(("bearer" = [])))]
async fn resolve_exception(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    JsonBody(body): JsonBody<Resolution>,
) -> ApiResult<Json<SyncException>> {
    let user = p.user_in(SUPERVISORS)?;
    let mut checks = Checks::new();
    checks.opt_text("note", body.note.as_deref(), 2000);
    checks.finish()?;
    Ok(Json(
        ops::resolve(&s.db, id, user.id, body.note.as_deref()).await?,
    ))
}

/// Where to read from and how much.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// `next_cursor` of the previous answer (decimal digits); `0` or left out reads the feed
    /// from its beginning.
    pub since: Option<String>,
    /// Changes per answer, 1–1000 (default 500).
    pub limit: Option<i64>,
}

impl FeedParams {
    /// `(since, limit)`, or 400 naming the parameter that is not one this feed accepts.
    fn parse(&self) -> Result<(i64, i64), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                Some("limit"),
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let since = match self.since.as_deref() {
            None | Some("") => 0,
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|v| *v >= 0 && s.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        Some("since"),
                        "since must be 0 or a next_cursor this feed answered",
                    )
                })?,
        };
        Ok((since, limit))
    }
}

/// The change feed a device mirrors to resolve scans offline: items (with GTINs and pack
/// quantities), aliases, locations, batches, printers, and for pickers (admin, warehouse,
/// scanners) the open pick lists assigned to the caller or to nobody; each as `upsert` with its
/// current state or `delete`. Read from
/// `since=0` while `more` is true, keep `next_cursor`, then poll with it; no change is ever
/// skipped, whatever order concurrent writers commit in (docs/offline.md).
#[utoipa::path(get, path = "/v1/sync/changes", tag = "scan", params(FeedParams),
    responses((status = 200, body = ChangeFeed), ErrorResponses), security(("bearer" = [])))]
async fn changes(
    State(s): State<AppState>,
    p: Principal,
    Query(params): Query<FeedParams>,
) -> ApiResult<Json<ChangeFeed>> {
    p.check(Access::ANYONE)?;
    let (since, limit) = params.parse()?;
    let reader = Reader {
        user_id: p.user_id(),
        picks: p.check(Access::WAREHOUSE_FLOOR).is_ok(),
    };
    match changes::read(&s.db, reader, since, limit).await? {
        Read::Page(feed) => Ok(Json(feed)),
        Read::Ahead { head } => Err(ApiError::bad_request(
            Some("since"),
            format!(
                "since is beyond the feed's head ({head}): not a cursor this feed answered; read again from since=0"
            ),
        )),
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(changes))
        .routes(routes!(apply_ops))
        .routes(routes!(list_exceptions))
        .routes(routes!(resolve_exception))
}
