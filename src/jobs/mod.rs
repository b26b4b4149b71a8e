//! Scheduled jobs (tokio-cron-scheduler), each guarded by a lease in the database so that with
//! several Depot instances on one database a job runs once, not once per instance.
//!
//! The lease is a row per job: an instance takes it when it is free or expired (one portable
//! `insert … on conflict … do update … where` statement, atomic on both backends), runs the
//! job, and lets it expire. A crashed holder blocks the job only until its lease runs out; a
//! holder that shuts down gracefully gives its leases back at once.

pub mod expiry;

use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use time::OffsetDateTime;
use tokio::sync::RwLock;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::db::{Db, now};
use crate::error::Result;
use crate::{in_tx, on_read};

/// Takes the lease `name` for `ttl` if nobody else holds a live one. True when taken.
pub async fn try_lease(db: &Db, name: &str, holder: &str, ttl: time::Duration) -> Result<bool> {
    let at: OffsetDateTime = now();
    let taken = in_tx!(db, tx => {
        sqlx::query(
            "insert into job_leases (name, holder, expires_at) values ($1, $2, $3)
             on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at
             where job_leases.expires_at < $4 or job_leases.holder = $2",
        )
        .bind(name)
        .bind(holder)
        .bind(at + ttl)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    Ok(taken == 1)
}

/// Who holds a live lease on `name`, if anyone.
pub async fn lease_holder(db: &Db, name: &str) -> Result<Option<String>> {
    Ok(on_read!(db, pool => {
        sqlx::query_scalar::<_, String>(
            "select holder from job_leases where name = $1 and expires_at >= $2",
        )
        .bind(name)
        .bind(now())
        .fetch_optional(pool)
        .await?
    }))
}

/// Gives back every lease `holder` has, so other instances may run those jobs at once.
pub async fn release_leases(db: &Db, holder: &str) -> Result<u64> {
    Ok(in_tx!(db, tx => {
        sqlx::query("delete from job_leases where holder = $1")
            .bind(holder)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    }))
}

/// This process's name in leases, made once at start: the host name (or `depot`) and a random
/// suffix. Host and pid are not enough: containers without `HOSTNAME` all run as pid 1.
pub fn new_instance_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.trim().is_empty())
        .unwrap_or_else(|| "depot".into());
    let mut suffix = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    format!("{host}-{suffix}")
}

/// The running scheduler. Job runs hold the gate shared; shutting down takes it exclusively, so
/// it waits for a run in progress before giving the leases back.
pub struct Jobs {
    scheduler: JobScheduler,
    gate: Arc<RwLock<bool>>,
    db: Db,
    holder: Arc<str>,
}

/// How long shutdown waits for a running job before leaving its lease to expire.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(30);

/// Runs `job` unless the scheduler is stopping.
async fn gated<F: std::future::Future<Output = ()>>(gate: &RwLock<bool>, job: F) {
    let stopping = gate.read().await;
    if !*stopping {
        job.await;
    }
}

/// Starts the scheduler under the lease holder name `holder`: the expiry job at minute 5 of
/// every hour (UTC), and once at start; releasing reservations whose hold ran out (quotes),
/// every five minutes.
pub async fn start(db: Db, alert_days: i64, holder: Arc<str>) -> anyhow::Result<Jobs> {
    let scheduler = JobScheduler::new().await?;
    let gate = Arc::new(RwLock::new(false));
    let (job_db, job_holder, job_gate) = (db.clone(), holder.clone(), gate.clone());
    // croner wants seconds: "sec min hour dom month dow".
    scheduler
        .add(Job::new_async("0 5 * * * *", move |_, _| {
            let (db, holder, gate) = (job_db.clone(), job_holder.clone(), job_gate.clone());
            Box::pin(async move { gated(&gate, run_expiry_once(&db, &holder, alert_days)).await })
        })?)
        .await?;
    let (job_db, job_holder, job_gate) = (db.clone(), holder.clone(), gate.clone());
    scheduler
        .add(Job::new_async("30 */5 * * * *", move |_, _| {
            let (db, holder, gate) = (job_db.clone(), job_holder.clone(), job_gate.clone());
            Box::pin(async move { gated(&gate, run_reservation_expiry_once(&db, &holder)).await })
        })?)
        .await?;
    scheduler.start().await?;
    let (job_db, job_holder, job_gate) = (db.clone(), holder.clone(), gate.clone());
    tokio::spawn(async move {
        // Let the service come up before the first run.
        tokio::time::sleep(Duration::from_secs(2)).await;
        gated(&job_gate, run_expiry_once(&job_db, &job_holder, alert_days)).await;
    });
    Ok(Jobs {
        scheduler,
        gate,
        db,
        holder,
    })
}

impl Jobs {
    /// Stops scheduling, waits for a run in progress, and gives this instance's leases back so
    /// that another instance (or this one restarted) can run the jobs without waiting.
    pub async fn shutdown(mut self) {
        let _ = self.scheduler.shutdown().await;
        match tokio::time::timeout(SHUTDOWN_WAIT, self.gate.write()).await {
            Ok(mut stopping) => {
                *stopping = true;
                match release_leases(&self.db, &self.holder).await {
                    Ok(n) => tracing::debug!(released = n, "job leases released"),
                    Err(e) => tracing::warn!(error = %e, "cannot release job leases"),
                }
            }
            Err(_) => tracing::warn!("a job is still running; its lease is left to expire"),
        }
    }
}

async fn run_expiry_once(db: &Db, holder: &str, alert_days: i64) {
    match try_lease(db, "expiry", holder, time::Duration::minutes(10)).await {
        Ok(true) => match expiry::run(db, now().date(), alert_days).await {
            Ok(report) => tracing::info!(
                expired = report.expired,
                alerts = report.alerts,
                "expiry job done"
            ),
            Err(e) => tracing::warn!(error = %e, "expiry job failed"),
        },
        Ok(false) => tracing::debug!("expiry job runs on another instance"),
        Err(e) => tracing::warn!(error = %e, "cannot take the expiry job lease"),
    }
}

/// Releases expired reservations, on one instance per run (lease shorter than the interval).
pub async fn run_reservation_expiry_once(db: &Db, holder: &str) {
    match try_lease(db, "reservation-expiry", holder, time::Duration::minutes(4)).await {
        Ok(true) => match crate::fulfilment::planning::release_expired(db).await {
            Ok(n) => tracing::info!(released = n, "reservation expiry job done"),
            Err(e) => tracing::warn!(error = %e, "reservation expiry job failed"),
        },
        Ok(false) => tracing::debug!("reservation expiry job runs on another instance"),
        Err(e) => tracing::warn!(error = %e, "cannot take the reservation expiry job lease"),
    }
}

/// Every lease row: the job, its holder and how long until it expires (negative: expired and
/// free to take), for `/metrics`.
pub async fn leases(db: &Db) -> Result<Vec<(String, String, f64)>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, (String, String, OffsetDateTime)>(
            "select name, holder, expires_at from job_leases order by name",
        )
        .fetch_all(pool)
        .await?
    });
    let at = now();
    Ok(rows
        .into_iter()
        .map(|(name, holder, expires)| (name, holder, (expires - at).as_seconds_f64()))
        .collect())
}
