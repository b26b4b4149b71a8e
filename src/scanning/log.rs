//! The scan log: every scan, who sent it, what came in and what it meant.
//!
//! A scan sent through the API is a row of its request's one transaction (`db::request`), so it
//! commits once with the request's work and its idempotency record. Scans recorded outside a
//! request (the demo loader, tools) go to one writer task that takes whatever scans are waiting
//! and commits them in one transaction (group commit).

use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
use utoipa::ToSchema;

use crate::db::{Db, Page, Paged, now};
use crate::error::{Error, Result};
use crate::{in_tx, on_read};

/// Most scans committed in one transaction.
const MAX_BATCH: usize = 256;

#[derive(Debug, Clone)]
pub struct NewScan {
    pub user_id: Option<i64>,
    pub device_id: Option<i64>,
    pub profile: Option<String>,
    pub raw: String,
    pub data: String,
    pub kind: &'static str,
    pub symbology: Option<String>,
    pub accepted: bool,
    pub error: Option<String>,
    /// JSON array of the matches.
    pub matches: String,
}

struct Pending {
    scan: NewScan,
    at: OffsetDateTime,
    done: oneshot::Sender<Result<i64>>,
}

#[derive(Clone)]
pub struct ScanLog {
    db: Db,
    queue: mpsc::Sender<Pending>,
}

impl ScanLog {
    /// Starts the writer task; it ends when the last handle is dropped.
    pub fn start(db: Db) -> ScanLog {
        let (queue, rx) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer(db.clone(), rx));
        ScanLog { db, queue }
    }

    /// Records a scan and returns its id once it is committed. Inside a request the scan is
    /// written in the request's transaction, so it commits (once) with the request's work.
    pub async fn record(&self, scan: NewScan) -> Result<i64> {
        let (done, committed) = oneshot::channel();
        let pending = Pending {
            scan,
            at: now(),
            done,
        };
        if crate::db::request::in_request(&self.db) {
            let ids = insert(&self.db, std::slice::from_ref(&pending)).await?;
            return Ok(ids[0]);
        }
        self.queue
            .send(pending)
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("scan log writer stopped")))?;
        committed
            .await
            .map_err(|_| Error::Internal(anyhow::anyhow!("scan log writer stopped")))?
    }
}

async fn writer(db: Db, mut rx: mpsc::Receiver<Pending>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        match insert(&db, &batch).await {
            Ok(ids) => {
                for (p, id) in batch.into_iter().zip(ids) {
                    let _ = p.done.send(Ok(id));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, scans = batch.len(), "cannot record scans");
                for p in batch {
                    let _ = p.done.send(Err(Error::Busy));
                }
            }
        }
    }
}

async fn insert(db: &Db, batch: &[Pending]) -> Result<Vec<i64>> {
    Ok(in_tx!(db, tx => {
        let mut ids = Vec::with_capacity(batch.len());
        for p in batch {
            let s = &p.scan;
            let id = sqlx::query_scalar::<_, i64>(
                "insert into scans (user_id, device_id, profile, raw, data, kind, symbology, accepted,
                     error, matches, created_at)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id",
            )
            .bind(s.user_id)
            .bind(s.device_id)
            .bind(s.profile.as_deref())
            .bind(&s.raw)
            .bind(&s.data)
            .bind(s.kind)
            .bind(s.symbology.as_deref())
            .bind(s.accepted)
            .bind(s.error.as_deref())
            .bind(&s.matches)
            .bind(p.at)
            .fetch_one(&mut *tx)
            .await?;
            ids.push(id);
        }
        ids
    }))
}

/// One logged scan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScanEntry {
    pub id: i64,
    pub user_id: Option<i64>,
    pub device_id: Option<i64>,
    pub profile: Option<String>,
    /// Exactly what the scanner sent.
    pub raw: String,
    /// After the profile's normalisation.
    pub data: String,
    pub kind: String,
    pub symbology: Option<String>,
    /// False when the scan was refused as invalid.
    pub accepted: bool,
    pub error: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub matches: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct ScanRow {
    id: i64,
    user_id: Option<i64>,
    device_id: Option<i64>,
    profile: Option<String>,
    raw: String,
    data: String,
    kind: String,
    symbology: Option<String>,
    accepted: bool,
    error: Option<String>,
    matches: String,
    created_at: OffsetDateTime,
}

impl From<ScanRow> for ScanEntry {
    fn from(r: ScanRow) -> ScanEntry {
        ScanEntry {
            id: r.id,
            user_id: r.user_id,
            device_id: r.device_id,
            profile: r.profile,
            raw: r.raw,
            data: r.data,
            kind: r.kind,
            symbology: r.symbology,
            accepted: r.accepted,
            error: r.error,
            matches: serde_json::from_str(&r.matches).unwrap_or_default(),
            created_at: r.created_at,
        }
    }
}

#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScanFilter {
    /// `gs1`, `gtin`, `sscc`, `digital_link`, `internal`, `unknown`.
    pub kind: Option<String>,
    pub device_id: Option<i64>,
    pub user_id: Option<i64>,
    /// `false` lists only refused scans.
    pub accepted: Option<bool>,
}

/// The log, newest first; the cursor is the last id seen.
pub async fn list(db: &Db, filter: &ScanFilter, page: Page) -> Result<Paged<ScanEntry>> {
    let before = if page.after == 0 {
        i64::MAX
    } else {
        page.after
    };
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, ScanRow>(
            "select id, user_id, device_id, profile, raw, data, kind, symbology, accepted, error,
                    matches, created_at
             from scans
             where id < $1 and ($2 is null or kind = $2) and ($3 is null or device_id = $3)
               and ($4 is null or user_id = $4) and ($5 is null or accepted = $5)
             order by id desc limit $6",
        )
        .bind(before)
        .bind(filter.kind.as_deref())
        .bind(filter.device_id)
        .bind(filter.user_id)
        .bind(filter.accepted)
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    Ok(Paged::from_rows(rows, page, |r| r.id).map(ScanEntry::from))
}
