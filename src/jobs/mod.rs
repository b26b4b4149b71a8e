//! Scheduled jobs (tokio-cron-scheduler), each guarded by a lease in the database so that with
//! several Depot instances on one database a job runs once, not once per instance.
//!
//! The lease is a row per job: an instance takes it when it is free or expired (one portable
//! `insert … on conflict … do update … where` statement, atomic on both backends), runs the
//! job, and lets it expire. A crashed holder blocks the job only until its lease runs out.

pub mod expiry;

use std::time::Duration;

use time::OffsetDateTime;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::db::{Db, now};
use crate::error::Result;
use crate::in_tx;

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

/// A name for this process in leases: host and pid are enough to tell instances apart.
pub fn holder_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "depot".into());
    format!("{host}:{}", std::process::id())
}

/// Starts the scheduler: the expiry job at minute 5 of every hour (UTC), and once at start;
/// releasing reservations whose hold ran out (quotes), every five minutes.
pub async fn start(db: Db, alert_days: i64) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await?;
    let holder = holder_id();
    let job_db = db.clone();
    let job_holder = holder.clone();
    // croner wants seconds: "sec min hour dom month dow".
    scheduler
        .add(Job::new_async("0 5 * * * *", move |_, _| {
            let (db, holder) = (job_db.clone(), job_holder.clone());
            Box::pin(async move { run_expiry_once(&db, &holder, alert_days).await })
        })?)
        .await?;
    let job_db = db.clone();
    let job_holder = holder.clone();
    scheduler
        .add(Job::new_async("30 */5 * * * *", move |_, _| {
            let (db, holder) = (job_db.clone(), job_holder.clone());
            Box::pin(async move { run_reservation_expiry_once(&db, &holder).await })
        })?)
        .await?;
    scheduler.start().await?;
    tokio::spawn(async move {
        // Let the service come up before the first run.
        tokio::time::sleep(Duration::from_secs(2)).await;
        run_expiry_once(&db, &holder, alert_days).await;
    });
    Ok(scheduler)
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
        Ok(true) => match crate::fulfilment::release_expired(db).await {
            Ok(n) => tracing::info!(released = n, "reservation expiry job done"),
            Err(e) => tracing::warn!(error = %e, "reservation expiry job failed"),
        },
        Ok(false) => tracing::debug!("reservation expiry job runs on another instance"),
        Err(e) => tracing::warn!(error = %e, "cannot take the reservation expiry job lease"),
    }
}
