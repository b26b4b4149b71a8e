//! Operations a device queued offline (`sync_ops`): one row per operation, written with its
//! answer in the operation's own transaction, so it applies once by its op_id however often it
//! is sent, and its answer is kept for the replay. An operation that failed when it arrived (the
//! world had changed meanwhile: stock gone, a pick list closed, a batch recalled; or it was
//! refused) is an exception: it stays, with its problem and the device's and the server's time,
//! until a supervisor resolves it.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::db::{Arg, Db, Page, Paged, Tx, Where, now};
use crate::error::{Error, Result};
use crate::{bind_args, in_tx, on_read, on_tx};

/// An operation a device queued offline, on its way through its online route.
#[derive(Debug, Clone)]
pub struct OfflineOp {
    pub op_id: String,
    pub op_type: String,
    /// The device's clock when the operation was made, as the device sent it.
    pub device_at: Option<String>,
}

/// Who sent an operation: their label (`user:<id>`, `device:<id>`) and ids.
#[derive(Debug, Clone)]
pub struct Sender {
    pub label: String,
    pub user_id: Option<i64>,
    pub device_id: Option<i64>,
}

/// How an operation was answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Of the request as it came (method, path, body): a resent operation must match it.
    pub fingerprint: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// Records `op` with its answer in the operation's transaction; false when it is recorded
/// already (the same operation applied meanwhile), which must roll the operation back.
pub async fn record(tx: &mut Tx, from: &Sender, op: &OfflineOp, answer: &Answer) -> Result<bool> {
    let written = on_tx!(tx, conn => {
        sqlx::query(
            "insert into sync_ops (principal, op_id, op_type, user_id, device_id, device_at,
                 received_at, request_hash, status, content_type, response, exception)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             on conflict (principal, op_id) do nothing",
        )
        .bind(&from.label)
        .bind(&op.op_id)
        .bind(&op.op_type)
        .bind(from.user_id)
        .bind(from.device_id)
        .bind(op.device_at.as_deref())
        .bind(now())
        .bind(&answer.fingerprint)
        .bind(answer.status as i64)
        .bind(answer.content_type.as_deref())
        .bind(&answer.body)
        .bind(answer.status >= 400)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    Ok(written == 1)
}

/// The recorded answer of an operation, if it was applied.
pub async fn answer(db: &Db, sender: &str, op_id: &str) -> Result<Option<Answer>> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, (String, i64, Option<String>, Vec<u8>)>(
            "select request_hash, status, content_type, response
             from sync_ops where principal = $1 and op_id = $2",
        )
        .bind(sender)
        .bind(op_id)
        .fetch_optional(pool)
        .await?
    });
    Ok(row.map(|(fingerprint, status, content_type, body)| Answer {
        fingerprint,
        status: status as u16,
        content_type,
        body,
    }))
}

/// A failed offline operation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SyncException {
    pub id: i64,
    /// The device's id for the operation.
    pub op_id: String,
    #[serde(rename = "type")]
    pub op_type: String,
    /// Who sent it: `user:<id>` or `device:<id>`.
    pub principal: String,
    pub user_id: Option<i64>,
    pub device_id: Option<i64>,
    /// The device's clock when the operation was made, as the device sent it.
    pub device_at: Option<String>,
    /// The server's clock when the operation arrived: the difference shows clock skew.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// The HTTP status the operation was answered with.
    pub status: i64,
    /// The problem+json body it was answered with.
    #[schema(value_type = Object)]
    pub problem: serde_json::Value,
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    pub resolved_by: Option<i64>,
    pub resolution: Option<String>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    op_id: String,
    op_type: String,
    principal: String,
    user_id: Option<i64>,
    device_id: Option<i64>,
    device_at: Option<String>,
    received_at: OffsetDateTime,
    status: i64,
    response: Vec<u8>,
    resolved_at: Option<OffsetDateTime>,
    resolved_by: Option<i64>,
    resolution: Option<String>,
}

const COLUMNS: &str = "id, op_id, op_type, principal, user_id, device_id, device_at, received_at,
    status, response, resolved_at, resolved_by, resolution";

impl From<Row> for SyncException {
    fn from(r: Row) -> Self {
        SyncException {
            id: r.id,
            op_id: r.op_id,
            op_type: r.op_type,
            principal: r.principal,
            user_id: r.user_id,
            device_id: r.device_id,
            device_at: r.device_at,
            received_at: r.received_at,
            status: r.status,
            problem: serde_json::from_slice(&r.response).unwrap_or(serde_json::Value::Null),
            resolved_at: r.resolved_at,
            resolved_by: r.resolved_by,
            resolution: r.resolution,
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExceptionFilter {
    /// `false` (the default): open exceptions only; `true`: resolved ones only.
    pub resolved: Option<bool>,
}

/// Exceptions in the order they arrived; `sender` limits them to one caller's (`user:<id>`).
pub async fn list(
    db: &Db,
    filter: &ExceptionFilter,
    sender: Option<&str>,
    page: Page,
) -> Result<Paged<SyncException>> {
    let mut w = Where::default();
    w.add("id > $?", Arg::Int(page.after));
    w.clauses.push("exception = true".into());
    w.clauses.push(if filter.resolved.unwrap_or(false) {
        "resolved_at is not null".into()
    } else {
        "resolved_at is null".into()
    });
    w.text("principal = $?", sender);
    let limit = w.next();
    w.args.push(Arg::Int(page.fetch_limit()));
    let sql = format!(
        "select {COLUMNS} from sync_ops where {} order by id limit ${limit}",
        w.sql()
    );
    let rows = on_read!(db, pool => {
        bind_args!(sqlx::query_as::<_, Row>(&sql), &w.args)
            .fetch_all(pool)
            .await?
    });
    Ok(Paged::from_rows(rows, page, |r| r.id).map(SyncException::from))
}

/// Marks an exception resolved, with what the supervisor did about it.
pub async fn resolve(db: &Db, id: i64, by: i64, note: Option<&str>) -> Result<SyncException> {
    let at = now();
    let row = in_tx!(db, tx => {
        let row = sqlx::query_as::<_, Row>(&format!(
            "update sync_ops set resolved_at = $2, resolved_by = $3, resolution = $4
             where id = $1 and exception = true and resolved_at is null returning {COLUMNS}"
        ))
        .bind(id)
        .bind(at)
        .bind(by)
        .bind(note)
        .fetch_optional(&mut *tx)
        .await?;
        match row {
            Some(row) => row,
            None => {
                let open = sqlx::query_scalar::<_, bool>(
                    "select exception from sync_ops where id = $1",
                )
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                return Err(match open {
                    Some(true) => Error::conflict("id", "this exception is already resolved"),
                    _ => Error::not_found("sync exception", id),
                });
            }
        }
    });
    Ok(row.into())
}
