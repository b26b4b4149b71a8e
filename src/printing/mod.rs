//! Printing: label print jobs for printers registered as devices (`kind = printer`).
//!
//! - [`profiles`]: printer profiles (`[printer]` in `devices/*.toml`): language, dpi, geometry.
//! - [`jobs`]: the `print_jobs` table: submission (rendered at once, stored before it is
//!   acknowledged), claiming, outcome.
//! - [`worker`]: the task that sends jobs over raw TCP (ZPL, `~HS` first) with timeouts and
//!   retries with backoff; PDF "printers" just keep the document.
//! - [`api`]: `POST/GET /v1/print-jobs`.

pub mod api;
pub mod jobs;
pub mod profiles;
pub mod worker;

use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::auth::devices::{self, Device};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::labels::Labels;
use profiles::PrinterProfiles;
use profiles::{Language, PrinterProfile};

/// Timeouts, backoff and give-up point of the worker. Not configuration: the defaults are
/// what a site needs; tests shorten them with [`Printing::set_policy`].
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// After this many attempts a job is `failed`.
    pub max_attempts: i64,
    /// Wait before the second attempt; doubled after each failure, up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    pub connect_timeout: Duration,
    /// How long the printer has to answer `~HS` (it stays silent while in an error state).
    pub status_timeout: Duration,
    /// Time allowed for writing all copies of one job.
    pub write_timeout: Duration,
    /// A job in `sending` for longer than this belongs to a crashed instance and is queued
    /// again. Must be well above the longest attempt (connect + status + write timeouts).
    pub stale_after: Duration,
    /// The worker looks for due jobs at least this often (it is also woken on submission).
    pub poll: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_attempts: 8,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(3),
            status_timeout: Duration::from_secs(2),
            write_timeout: Duration::from_secs(30),
            stale_after: Duration::from_secs(120),
            poll: Duration::from_secs(1),
        }
    }
}

impl Policy {
    /// Wait after the `attempts`-th failed attempt: base, 2×base, 4×base … capped.
    pub fn backoff(&self, attempts: i64) -> Duration {
        let doublings = attempts.clamp(1, 31) as u32 - 1;
        self.base_backoff
            .saturating_mul(1u32 << doublings.min(30))
            .min(self.max_backoff)
    }
}

/// Printing state shared by the handlers and the worker (cheap to clone).
#[derive(Clone)]
pub struct Printing {
    inner: Arc<Inner>,
}

struct Inner {
    profiles: PrinterProfiles,
    labels: RwLock<Option<Labels>>,
    wake: Notify,
    policy: RwLock<Policy>,
    stop: watch::Sender<bool>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Printing {
    /// Loads the printer profiles (built in, plus `devices_dir`); jobs are rendered with
    /// `labels`, the application's template set (reloading it is seen here too).
    pub fn load(devices_dir: Option<&Path>, labels: Labels) -> anyhow::Result<Printing> {
        let profiles = PrinterProfiles::load(devices_dir)?;
        Ok(Printing::new(profiles, Some(labels)))
    }

    pub fn new(profiles: PrinterProfiles, labels: Option<Labels>) -> Printing {
        Printing {
            inner: Arc::new(Inner {
                profiles,
                labels: RwLock::new(labels),
                wake: Notify::new(),
                policy: RwLock::new(Policy::default()),
                stop: watch::channel(false).0,
                worker: Mutex::new(None),
            }),
        }
    }

    pub fn profiles(&self) -> &PrinterProfiles {
        &self.inner.profiles
    }

    /// The label templates; loaded again when they failed to load before.
    pub fn labels(&self) -> crate::error::Result<Labels> {
        if let Some(l) = self.inner.labels.read().ok().and_then(|l| l.clone()) {
            return Ok(l);
        }
        let loaded = Labels::load(None).map_err(|e| {
            crate::error::Error::invalid(
                "template",
                format!("the label templates could not be loaded: {e}"),
            )
        })?;
        self.set_labels(loaded.clone());
        Ok(loaded)
    }

    /// Shares a template set loaded elsewhere (for example the one the labels API reloads).
    pub fn set_labels(&self, labels: Labels) {
        if let Ok(mut l) = self.inner.labels.write() {
            *l = Some(labels);
        }
    }

    pub fn policy(&self) -> Policy {
        self.inner.policy.read().map(|p| *p).unwrap_or_default()
    }

    /// Replaces the worker's timeouts and backoff (tests use short ones).
    pub fn set_policy(&self, policy: Policy) {
        if let Ok(mut p) = self.inner.policy.write() {
            *p = policy;
        }
        self.wake();
    }

    /// Tells the worker a job may be due (a permit is kept if it is busy, so none is lost).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Starts the worker on `db` (once; later calls return a guard for the same worker). The
    /// worker stops when the guard is stopped or dropped.
    pub fn start_worker(&self, db: Db) -> WorkerGuard {
        let mut slot = self.inner.worker.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            self.inner.stop.send_replace(false);
            let stop = self.inner.stop.subscribe();
            *slot = Some(tokio::spawn(worker::run(self.clone(), db, stop)));
        }
        WorkerGuard {
            printing: self.clone(),
        }
    }

    /// Stops the worker: it finishes the attempts in progress (up to `grace`), then ends; what
    /// is still running after that is aborted. Queued jobs stay queued for the next start.
    pub async fn stop_worker(&self, grace: Duration) {
        self.inner.stop.send_replace(true);
        let handle = self
            .inner
            .worker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut handle) = handle
            && tokio::time::timeout(grace, &mut handle).await.is_err()
        {
            handle.abort();
        }
    }

    fn abort_worker(&self) {
        let handle = self
            .inner
            .worker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            handle.abort();
        }
    }
}

/// Keeps the print worker running; dropping it aborts the worker (a server task that is
/// cancelled takes its worker with it).
pub struct WorkerGuard {
    printing: Printing,
}

impl WorkerGuard {
    /// Graceful stop: attempts in progress may finish for a few seconds.
    pub async fn stop(self) {
        self.printing.stop_worker(Duration::from_secs(10)).await;
    }
}

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        self.printing.abort_worker();
    }
}

/// A printer ready to take jobs: a device of kind `printer`, not revoked (422 naming `field`
/// otherwise), with a known printer profile and, for ZPL, an address.
pub async fn usable_printer(
    db: &Db,
    printing: &Printing,
    field: &str,
    id: i64,
) -> Result<(Device, PrinterProfile)> {
    let device = devices::check_printer(db, field, id).await?;
    let profile = printing
        .profiles()
        .get(&device.profile)
        .cloned()
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!(
                    "printer {id} has profile '{}', which is not a known printer profile",
                    device.profile
                ),
            )
        })?;
    if profile.printer.language == Language::Zpl
        && device
            .address
            .as_deref()
            .is_none_or(|a| a.trim().is_empty())
    {
        return Err(Error::invalid(
            field,
            format!("printer {id} has no address"),
        ));
    }
    Ok((device, profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = Policy::default();
        let secs: Vec<u64> = (1..=9).map(|n| p.backoff(n).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(p.backoff(1000).as_secs(), 60);
    }
}
