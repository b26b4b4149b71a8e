//! Imports as jobs: a file of more than [`JOB_ROWS`] rows is kept in `import_jobs` by the
//! request that brings it (with its idempotency record, in the request's one transaction) and
//! applied by a worker, one job at a time per instance.
//!
//! A job runs exactly like a request: its rows, all or none, and the job's outcome commit in one
//! transaction ([`crate::db::request::Scope`]), so a crash leaves either the whole import and
//! its outcome or nothing. The running worker keeps the rows done in memory (what
//! `GET /v1/imports/{id}` answers on its instance) and writes them with a heartbeat; a job
//! whose heartbeat is older than `import_stale_secs` was left by a dead instance and is
//! claimed again. On SQLite the job's transaction holds the one writer for as long as the
//! import runs (seconds per ten thousand rows), so other writes wait that long.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::Notify;
use utoipa::ToSchema;

use crate::auth::users;
use crate::crm::visibility::Viewer;
use crate::db::request::Scope;
use crate::db::{Db, Tx, now};
use crate::error::{Error, Result};
use crate::stock::operations::Actor;
use crate::transfer::csv_in::Table;
use crate::transfer::imports::{self, Kind, Outcome};
use crate::{in_tx, on_read, on_tx};

/// Files with more rows than this run as a job (202) instead of within the request.
pub const JOB_ROWS: usize = 1000;

/// How often a running job's worker reports (rows done, and that it is alive).
const HEARTBEAT: Duration = Duration::from_secs(5);

/// How often the worker looks for jobs when nothing wakes it.
const POLL: Duration = Duration::from_secs(5);

/// Wakes this instance's worker when a request has queued a job.
static WAKE: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Rows done of the jobs this instance is running.
static LIVE: LazyLock<Mutex<HashMap<i64, Arc<AtomicUsize>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// An import job, as `GET /v1/imports/{id}` shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportJob {
    pub id: i64,
    /// items, boms, suppliers, customers, warehouses, locations or opening-stock.
    pub kind: String,
    pub dry_run: bool,
    /// queued, running, done (applied, or a dry run checked) or failed (nothing applied: bad
    /// rows in `result.errors`, or `error`).
    pub status: String,
    pub rows_total: i64,
    /// Rows checked or applied so far.
    pub rows_done: i64,
    pub created_by: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// What the import did (or, dry, would do), once it has ended.
    pub result: Option<Outcome>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    dry_run: bool,
    status: String,
    rows_total: i64,
    rows_done: i64,
    created_by: i64,
    created_at: OffsetDateTime,
    finished_at: Option<OffsetDateTime>,
    outcome: Option<String>,
}

impl From<JobRow> for ImportJob {
    fn from(r: JobRow) -> Self {
        let live = LIVE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&r.id)
            .map(|n| n.load(Ordering::Relaxed) as i64);
        ImportJob {
            rows_done: match (r.status.as_str(), live) {
                ("running", Some(n)) => n.max(r.rows_done),
                _ => r.rows_done,
            },
            id: r.id,
            kind: r.kind,
            dry_run: r.dry_run,
            status: r.status,
            rows_total: r.rows_total,
            created_by: r.created_by,
            created_at: r.created_at,
            finished_at: r.finished_at,
            result: r.outcome.and_then(|o| serde_json::from_str(&o).ok()),
        }
    }
}

const COLUMNS: &str = "id, kind, dry_run, status, rows_total, rows_done, created_by, created_at, \
                       finished_at, outcome";

/// Queues `file` (already read as `rows_total` rows) for the worker, which wakes once the
/// running request commits.
pub async fn submit(
    db: &Db,
    kind: Kind,
    file: &[u8],
    rows_total: usize,
    dry_run: bool,
    created_by: i64,
) -> Result<ImportJob> {
    let at = now();
    let id = in_tx!(db, tx => {
        sqlx::query_scalar::<_, i64>(
            "insert into import_jobs (kind, dry_run, file, rows_total, created_by, created_at)
             values ($1, $2, $3, $4, $5, $6) returning id",
        )
        .bind(kind.name())
        .bind(dry_run)
        .bind(file)
        .bind(rows_total as i64)
        .bind(created_by)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?
    });
    crate::db::request::after_commit(db, || WAKE.notify_one());
    get(db, id).await
}

pub async fn get(db: &Db, id: i64) -> Result<ImportJob> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, JobRow>(&format!("select {COLUMNS} from import_jobs where id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    row.map(ImportJob::from)
        .ok_or_else(|| Error::not_found("import", id))
}

/// A job taken by this instance: what it needs to run.
struct Claimed {
    id: i64,
    kind: String,
    dry_run: bool,
    file: Vec<u8>,
    created_by: i64,
}

/// Takes the oldest waiting job, or one whose worker stopped reporting `stale` ago.
async fn claim(db: &Db, holder: &str, stale: Duration) -> Result<Option<Claimed>> {
    let at = now();
    let before = at - stale;
    let row = in_tx!(db, tx => {
        sqlx::query_as::<_, (i64, String, bool, Option<Vec<u8>>, i64)>(
            "update import_jobs set status = 'running', claimed_by = $1, heartbeat_at = $2
             where id = (select id from import_jobs
                         where status = 'queued' or (status = 'running' and heartbeat_at < $3)
                         order by id limit 1)
               and (status = 'queued' or (status = 'running' and heartbeat_at < $3))
             returning id, kind, dry_run, file, created_by",
        )
        .bind(holder)
        .bind(at)
        .bind(before)
        .fetch_optional(&mut *tx)
        .await?
    });
    Ok(row.map(|(id, kind, dry_run, file, created_by)| Claimed {
        id,
        kind,
        dry_run,
        file: file.unwrap_or_default(),
        created_by,
    }))
}

/// Starts this instance's import worker; it ends when the returned handle is aborted (a job
/// it was running rolls back and is taken over once its heartbeat is stale).
pub fn start(db: Db, holder: Arc<str>, stale: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match claim(&db, &holder, stale).await {
                Ok(Some(job)) => {
                    run(&db, &holder, job).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "looking for import jobs failed"),
            }
            let _ = tokio::time::timeout(POLL, WAKE.notified()).await;
        }
    })
}

/// Runs one claimed job to its end: its rows and its outcome in one transaction.
async fn run(db: &Db, holder: &str, job: Claimed) {
    let id = job.id;
    let progress = Arc::new(AtomicUsize::new(0));
    LIVE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id, progress.clone());
    let heartbeat = tokio::spawn(heartbeat(
        db.clone(),
        holder.to_string(),
        id,
        progress.clone(),
    ));
    let result = apply(db, holder, &job, &progress).await;
    heartbeat.abort();
    LIVE.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    match result {
        Ok(true) => tracing::info!(job = id, "import job ended"),
        Ok(false) => tracing::warn!(job = id, "import job was taken over by another instance"),
        Err(Error::Unavailable) => {
            // Left running: taken again (by any instance) once its heartbeat is stale.
            tracing::warn!(job = id, "import job stopped: the database is unavailable")
        }
        Err(e) => {
            tracing::error!(job = id, error = %e, "import job failed");
            if let Err(e) = fail(db, holder, id, &e.to_string()).await {
                tracing::warn!(job = id, error = %e, "recording the failed import job failed");
            }
        }
    }
}

/// The import, in a transaction that ends by recording its outcome; answers false when the job
/// was no longer this instance's (nothing is kept then).
async fn apply(db: &Db, holder: &str, job: &Claimed, progress: &AtomicUsize) -> Result<bool> {
    let kind = Kind::parse(&job.kind)?;
    let table = crate::transfer::csv_in::read(&job.file)?;
    let id = job.id;
    let recorded = import_alone(
        db,
        kind,
        &table,
        job.dry_run,
        job.created_by,
        progress,
        async move |tx, outcome| {
            let status = if job.dry_run || outcome.errors.is_empty() {
                "done"
            } else {
                "failed"
            };
            let json = serde_json::to_string(outcome).map_err(anyhow::Error::from)?;
            let n = on_tx!(tx, conn => {
                sqlx::query(
                    "update import_jobs set status = $1, outcome = $2, rows_done = $3, file = null,
                         finished_at = $4
                     where id = $5 and claimed_by = $6 and status = 'running'",
                )
                .bind(status)
                .bind(&json)
                .bind(outcome.rows as i64)
                .bind(now())
                .bind(id)
                .bind(holder)
                .execute(&mut *conn)
                .await?
                .rows_affected()
            });
            Ok(n == 1)
        },
    )
    .await?;
    Ok(recorded.is_some())
}

/// Imports `table` outside any request (a job, the command line) on behalf of the user
/// `user_id`, in one transaction of its own: the rows (all or none, as in a request) and what
/// `last` writes commit together. Answers the outcome, or `None` when `last` answered false and
/// everything was rolled back.
pub async fn import_alone(
    db: &Db,
    kind: Kind,
    table: &Table,
    dry_run: bool,
    user_id: i64,
    progress: &AtomicUsize,
    last: impl AsyncFnOnce(&mut Tx, &Outcome) -> Result<bool>,
) -> Result<Option<Outcome>> {
    let user = users::get(db, user_id).await?;
    let viewer = Viewer {
        id: user.id,
        role: user.role,
    };
    let actor = Actor {
        user_id: Some(user.id),
        device_id: None,
    };
    let scope = Scope::new(db);
    let outcome = scope
        .run(imports::apply(
            db, kind, table, dry_run, actor, viewer, progress,
        ))
        .await;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            scope.rollback().await;
            return Err(e);
        }
    };
    let kept = scope
        .commit(true, async |tx| last(tx, &outcome).await)
        .await?;
    Ok(kept.then_some(outcome))
}

/// A job that could not run at all (its file unreadable, its user gone): failed, with why.
async fn fail(db: &Db, holder: &str, id: i64, why: &str) -> Result<()> {
    let outcome = Outcome {
        errors: vec![imports::RowError {
            row: 0,
            column: "file".into(),
            value: String::new(),
            reason: why.to_string(),
        }],
        ..Outcome::default()
    };
    let json = serde_json::to_string(&outcome).map_err(anyhow::Error::from)?;
    in_tx!(db, tx => {
        sqlx::query(
            "update import_jobs set status = 'failed', outcome = $1, file = null, finished_at = $2
             where id = $3 and claimed_by = $4 and status = 'running'",
        )
        .bind(&json)
        .bind(now())
        .bind(id)
        .bind(holder)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    Ok(())
}

/// Says, every [`HEARTBEAT`], that the job still runs and how far it is. (On SQLite the running
/// import holds the writer, so these land only after it; a single instance needs none.)
async fn heartbeat(db: Db, holder: String, id: i64, progress: Arc<AtomicUsize>) {
    let mut every = tokio::time::interval(HEARTBEAT);
    every.tick().await;
    loop {
        every.tick().await;
        let done = progress.load(Ordering::Relaxed) as i64;
        let beat: Result<()> = async {
            in_tx!(db, tx => {
                sqlx::query(
                    "update import_jobs set heartbeat_at = $1, rows_done = $2
                     where id = $3 and claimed_by = $4 and status = 'running'",
                )
                .bind(now())
                .bind(done)
                .bind(id)
                .bind(&holder)
                .execute(&mut *tx)
                .await?
                .rows_affected()
            });
            Ok(())
        }
        .await;
        if let Err(e) = beat {
            tracing::warn!(job = id, error = %e, "import job heartbeat failed");
        }
    }
}
