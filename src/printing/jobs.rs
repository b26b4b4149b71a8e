//! The `print_jobs` table: submission, reading, and the worker's claim / outcome updates.
//!
//! A job is rendered when it is submitted (a bad template or bad data is refused at once, and
//! the job prints what was asked even if templates change later) and stored with status
//! `queued` before the API acknowledges it. The worker moves it to `sending` with a conditional
//! update, so of several instances on one database exactly one sends it, and then to `done`,
//! back to `queued` (with a later `next_attempt_at`) or to `failed`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::db::{Arg, Db, Page, Paged, Where, now};
use crate::error::{Checks, Error, Result};
use crate::labels::Format;
use crate::printing::Printing;
use crate::printing::profiles::Language;
use crate::{bind_args, in_tx, on_read};

pub const MAX_COPIES: i64 = 100;
/// Largest raw ZPL accepted.
pub const MAX_ZPL_BYTES: usize = 512 * 1024;

crate::text_enum!(
    /// Where a print job is: `queued` (waiting for its next attempt at `next_attempt_at`),
    /// `sending` (a worker is sending it now), `done`, or `failed` (gave up after the last
    /// attempt; `last_error` says why).
    #[schema(as = PrintJobStatus)]
    pub Status {
        Queued = "queued",
        Sending = "sending",
        Done = "done",
        Failed = "failed",
    }
);

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewPrintJob {
    /// A device of kind `printer`.
    pub printer_id: i64,
    /// Label template name (with `data`).
    #[serde(default)]
    pub template: Option<String>,
    /// The template's fields (a JSON object).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    /// Instead of `data`: the record to print (`{"type":"item"|"batch"|"location","id"}`); the
    /// template defaults to the record's (`item`, `batch`, `location`).
    #[serde(default)]
    pub entity: Option<crate::labels::records::EntityRef>,
    /// Raw ZPL instead of template and data (admins only; ZPL printers only).
    #[serde(default)]
    pub zpl: Option<String>,
    /// 1–100, default 1.
    #[serde(default)]
    pub copies: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrintJob {
    pub id: i64,
    pub printer_id: i64,
    /// The template printed; `null` for raw ZPL.
    pub template: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    pub format: Format,
    pub copies: i64,
    pub status: Status,
    /// Attempts made so far (a claimed attempt counts).
    pub attempts: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub next_attempt_at: OffsetDateTime,
    pub created_by: Option<i64>,
    pub created_by_device: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub done_at: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    printer_id: i64,
    template: Option<String>,
    data: Option<String>,
    format: String,
    copies: i64,
    status: Status,
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: OffsetDateTime,
    created_by: Option<i64>,
    created_by_device: Option<i64>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    done_at: Option<OffsetDateTime>,
}

const COLUMNS: &str =
    "id, printer_id, template, data, format, copies, status, attempts, last_error,
    next_attempt_at, created_by, created_by_device, created_at, updated_at, done_at";

fn parse_format(value: &str) -> Format {
    if value == "pdf" {
        Format::Pdf
    } else {
        Format::Zpl
    }
}

fn format_str(format: Format) -> &'static str {
    match format {
        Format::Pdf => "pdf",
        _ => "zpl",
    }
}

impl From<JobRow> for PrintJob {
    fn from(r: JobRow) -> PrintJob {
        PrintJob {
            id: r.id,
            printer_id: r.printer_id,
            template: r.template,
            data: r.data.and_then(|d| serde_json::from_str(&d).ok()),
            format: parse_format(&r.format),
            copies: r.copies,
            status: r.status,
            attempts: r.attempts,
            last_error: r.last_error,
            next_attempt_at: r.next_attempt_at,
            created_by: r.created_by,
            created_by_device: r.created_by_device,
            created_at: r.created_at,
            updated_at: r.updated_at,
            done_at: r.done_at,
        }
    }
}

/// Who submits a job; `may_send_raw` admits raw ZPL (admins).
#[derive(Debug, Clone, Copy)]
pub struct Submitter {
    pub user_id: Option<i64>,
    pub device_id: Option<i64>,
    pub may_send_raw: bool,
}

/// Checks, renders and stores a job (status `queued`), then wakes the worker.
pub async fn submit(
    db: &Db,
    printing: &Printing,
    new: NewPrintJob,
    by: Submitter,
) -> Result<PrintJob> {
    let copies = new.copies.unwrap_or(1);
    let mut checks = Checks::new();
    checks.check(
        (1..=MAX_COPIES).contains(&copies),
        "copies",
        "must be between 1 and 100",
    );
    match (&new.template, &new.zpl) {
        (None, None) => checks.fail("template", "is required (or, for admins, zpl)"),
        (Some(_), Some(_)) => checks.fail("zpl", "give either template (with data) or zpl"),
        (Some(t), None) => checks.text("template", t, 100),
        (None, Some(z)) => {
            if z.trim().is_empty() {
                checks.fail("zpl", "must not be empty");
            } else if z.len() > MAX_ZPL_BYTES {
                checks.fail("zpl", format!("must be at most {MAX_ZPL_BYTES} bytes"));
            }
            if new.data.is_some() {
                checks.fail("data", "goes with template, not with zpl");
            }
        }
    }
    if let Some(data) = &new.data
        && !data.is_object()
    {
        checks.fail("data", "must be a JSON object");
    }
    checks.finish()?;
    if new.zpl.is_some() && !by.may_send_raw {
        return Err(Error::forbidden("only admins may print raw ZPL"));
    }

    let (printer, profile) =
        super::usable_printer(db, printing, "printer_id", new.printer_id).await?;
    let language = profile.printer.language;

    let format = language.format();
    let (payload, data_text) = match (&new.template, &new.zpl) {
        (_, Some(zpl)) => {
            if language != Language::Zpl {
                return Err(Error::invalid(
                    "zpl",
                    format!(
                        "printer {} does not take ZPL (profile '{}')",
                        printer.id, printer.profile
                    ),
                ));
            }
            (zpl.clone().into_bytes(), None)
        }
        (Some(template), None) => {
            let data = new.data.clone().unwrap_or_else(|| serde_json::json!({}));
            let rendered = printing.labels()?.render_for(
                template.trim(),
                format,
                profile.printer.dpi,
                &data,
                &profile.printer.complex_text(),
            )?;
            if rendered.bytes.is_empty() {
                return Err(Error::invalid(
                    "template",
                    format!("template '{}' rendered nothing", template.trim()),
                ));
            }
            (rendered.bytes, Some(data.to_string()))
        }
        (None, None) => unreachable!("checked above"),
    };

    let at = now();
    let row = in_tx!(db, tx => {
        sqlx::query_as::<_, JobRow>(&format!(
            "insert into print_jobs (printer_id, template, data, format, copies, status, attempts,
                 next_attempt_at, payload, created_by, created_by_device, created_at, updated_at)
             values ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $9, $6, $6)
             returning {COLUMNS}"
        ))
        .bind(printer.id)
        .bind(new.template.as_deref().map(str::trim))
        .bind(data_text)
        .bind(format_str(format))
        .bind(copies)
        .bind(at)
        .bind(BASE64.encode(&payload))
        .bind(by.user_id)
        .bind(by.device_id)
        .fetch_one(&mut *tx)
        .await?
    });
    let printing = printing.clone();
    crate::db::request::after_commit(db, move || printing.wake());
    Ok(row.into())
}

pub async fn get(db: &Db, id: i64) -> Result<PrintJob> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, JobRow>(&format!("select {COLUMNS} from print_jobs where id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    row.map(PrintJob::from)
        .ok_or_else(|| Error::not_found("print job", id))
}

/// The rendered document of a job and its format.
pub async fn document(db: &Db, id: i64) -> Result<(Format, Vec<u8>)> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, (String, String)>("select format, payload from print_jobs where id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    let (format, payload) = row.ok_or_else(|| Error::not_found("print job", id))?;
    let bytes = BASE64
        .decode(payload)
        .map_err(|e| anyhow::anyhow!("print job {id}: stored payload is not base64: {e}"))?;
    Ok((parse_format(&format), bytes))
}

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobFilter {
    pub status: Option<Status>,
    pub printer_id: Option<i64>,
}

/// Jobs, oldest first, paged by id.
pub async fn list(db: &Db, filter: &JobFilter, page: Page) -> Result<Paged<PrintJob>> {
    let mut w = Where::default();
    w.add("id > $?", Arg::Int(page.after));
    w.text("status = $?", filter.status.map(Status::as_str));
    w.int("printer_id = $?", filter.printer_id);
    let limit = w.next();
    w.args.push(Arg::Int(page.fetch_limit()));
    let sql = format!(
        "select {COLUMNS} from print_jobs where {} order by id limit ${limit}",
        w.sql()
    );
    let rows = on_read!(db, pool => {
        bind_args!(sqlx::query_as::<_, JobRow>(&sql), &w.args)
            .fetch_all(pool)
            .await?
    });
    Ok(Paged::from_rows(rows, page, |r| r.id).map(PrintJob::from))
}

// ---- the worker's side ----

/// A job claimed for one attempt, with what is needed to send it.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub printer_id: i64,
    pub copies: i64,
    /// This attempt's number (1 for the first).
    pub attempts: i64,
    pub payload: Vec<u8>,
}

/// Queued jobs whose time has come, oldest first: (id, printer_id).
pub async fn due(db: &Db, at: OffsetDateTime, limit: i64) -> Result<Vec<(i64, i64)>> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64)>(
            "select id, printer_id from print_jobs
             where status = 'queued' and next_attempt_at <= $1
             order by next_attempt_at, id limit $2",
        )
        .bind(at)
        .bind(limit)
        .fetch_all(pool)
        .await?
    }))
}

/// Takes a due job for one attempt: `queued` → `sending`, attempts + 1. Conditional, so when
/// several workers (instances) race for a job exactly one gets it; `None` for the others.
pub async fn claim(db: &Db, id: i64) -> Result<Option<Claimed>> {
    let at = now();
    let row = in_tx!(db, tx => {
        sqlx::query_as::<_, (i64, i64, i64, i64, String)>(
            "update print_jobs set status = 'sending', attempts = attempts + 1, updated_at = $2
             where id = $1 and status = 'queued' and next_attempt_at <= $2
             returning id, printer_id, copies, attempts, payload",
        )
        .bind(id)
        .bind(at)
        .fetch_optional(&mut *tx)
        .await?
    });
    let Some((id, printer_id, copies, attempts, payload)) = row else {
        return Ok(None);
    };
    let payload = BASE64
        .decode(payload)
        .map_err(|e| anyhow::anyhow!("print job {id}: stored payload is not base64: {e}"))?;
    Ok(Some(Claimed {
        id,
        printer_id,
        copies,
        attempts,
        payload,
    }))
}

/// The attempt succeeded.
pub async fn mark_done(db: &Db, id: i64) -> Result<()> {
    let at = now();
    in_tx!(db, tx => {
        sqlx::query(
            "update print_jobs set status = 'done', done_at = $2, updated_at = $2
             where id = $1 and status = 'sending'",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    });
    Ok(())
}

/// The attempt failed: queued again for `retry_at`, or `failed` when there is none.
pub async fn mark_failed(
    db: &Db,
    id: i64,
    error: &str,
    retry_at: Option<OffsetDateTime>,
) -> Result<()> {
    let at = now();
    let error: String = error.chars().take(1000).collect();
    in_tx!(db, tx => {
        match retry_at {
            Some(next) => sqlx::query(
                "update print_jobs set status = 'queued', last_error = $2, next_attempt_at = $3,
                     updated_at = $4
                 where id = $1 and status = 'sending'",
            )
            .bind(id)
            .bind(&error)
            .bind(next)
            .bind(at)
            .execute(&mut *tx)
            .await?,
            None => sqlx::query(
                "update print_jobs set status = 'failed', last_error = $2, done_at = $3,
                     updated_at = $3
                 where id = $1 and status = 'sending'",
            )
            .bind(id)
            .bind(&error)
            .bind(at)
            .execute(&mut *tx)
            .await?,
        };
    });
    Ok(())
}

/// Puts jobs left in `sending` for longer than `stale_after` back in the queue: their worker
/// died (a crashed or killed instance). Returns how many.
///
/// Why this does not print twice in the normal restart case: a job is `sending` only while an
/// attempt runs, and every attempt ends (connect, `~HS` and writes all have timeouts) well
/// within `stale_after`; a graceful shutdown lets the attempts in progress finish. So a job
/// still `sending` after `stale_after` was abandoned before its outcome was recorded, and a
/// live instance never has its job taken away. Requeued jobs are claimed again with the
/// conditional update, so only one instance resends them.
///
/// The residual risk: an instance that dies after the printer received the label but before
/// the `done` update committed (a crash, kill -9 or power loss in that window of
/// milliseconds, or a database that is unreachable right then) leaves a printed job in
/// `sending`; it is requeued and printed a second time. Raw TCP printing offers no
/// acknowledgement to make this exactly-once; the window is kept as small as possible by
/// writing the `done` update right after the socket is flushed and closed.
pub async fn requeue_stale(db: &Db, stale_after: std::time::Duration) -> Result<u64> {
    let at = now();
    let before = at - stale_after;
    let n = in_tx!(db, tx => {
        sqlx::query(
            "update print_jobs set status = 'queued', next_attempt_at = $2, updated_at = $2,
                 last_error = coalesce(last_error, 'the instance sending it stopped')
             where status = 'sending' and updated_at < $1",
        )
        .bind(before)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    Ok(n)
}

/// The print queue at a glance, for `/metrics`.
#[derive(Debug, Default)]
pub struct QueueStats {
    pub queued: i64,
    pub sending: i64,
    /// Jobs given up on after their last attempt.
    pub failed: i64,
    /// Age of the oldest queued job, 0 when none waits.
    pub oldest_queued_secs: f64,
    /// Printers with a queued job that has failed at least once: offline or refusing.
    pub failing_printers: i64,
}

pub async fn queue_stats(db: &Db) -> Result<QueueStats> {
    let mut view = db.snapshot().await?;
    let stats = crate::on_tx!(&mut view, conn => {
        let counts = sqlx::query_as::<_, (String, i64)>(
            "select status, count(*) from print_jobs
             where status in ('queued', 'sending', 'failed') group by status",
        )
        .fetch_all(&mut *conn)
        .await?;
        let oldest = sqlx::query_scalar::<_, OffsetDateTime>(
            "select created_at from print_jobs where status = 'queued' order by id limit 1",
        )
        .fetch_optional(&mut *conn)
        .await?;
        let failing_printers = sqlx::query_scalar::<_, i64>(
            "select count(distinct printer_id) from print_jobs
             where status = 'queued' and attempts > 0",
        )
        .fetch_one(&mut *conn)
        .await?;
        let mut stats = QueueStats {
            failing_printers,
            oldest_queued_secs: oldest.map_or(0.0, |t| (now() - t).as_seconds_f64().max(0.0)),
            ..QueueStats::default()
        };
        for (status, n) in counts {
            match status.as_str() {
                "queued" => stats.queued = n,
                "sending" => stats.sending = n,
                _ => stats.failed = n,
            }
        }
        stats
    });
    Ok(stats)
}
