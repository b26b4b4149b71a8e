//! Cycle counts: count a set of locations while the warehouse keeps working, then post the
//! differences as `count` movements.
//!
//! **Counted against the balance at the time each location was counted, no locks.** When counting
//! of a location starts (its first scan or entry), its balances are copied into the count as
//! `expected`, in one statement, so the copy is one consistent moment. Closing posts
//! `counted - expected` for each line as a movement on top of whatever the balance is then, so
//! receipts, picks and moves that happened after the location was counted are kept. Stock moved
//! in or out of a location *while* it is being counted cannot be told apart from a counting
//! error: recount the location (`recount` starts it again from a fresh copy). A started location's
//! stock that nobody counted is counted as zero (the bin was counted and it was not there);
//! locations nobody started post nothing and are reported as not counted.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::catalog::items::{self, Tracking};
use crate::catalog::warehouses;
use crate::db::{Arg, Db, Page, Paged, Where, now};
use crate::error::{Checks, Error, Result};
use crate::stock::batches::{self, NewBatch};
use crate::stock::ledger::{self, Movement, MovementType, NewMovement};
use crate::stock::operations::Actor;
use crate::{bind_args, in_tx, on_read, on_tx};

/// The most locations one count may hold.
pub const MAX_LOCATIONS: usize = 5_000;

crate::text_enum!(
    /// Where a count is: open (locations being counted), closed (variances posted) or
    /// cancelled (nothing posted).
    pub CountStatus {
        Open = "open",
        Closed = "closed",
        Cancelled = "cancelled",
    }
);

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewCount {
    pub warehouse_id: i64,
    /// The locations to count; all locations of the warehouse when left out.
    #[serde(default)]
    pub location_ids: Option<Vec<i64>>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A location of a count.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct CountLocation {
    pub location_id: i64,
    pub location_code: String,
    /// When counting it started: its balances were copied as `expected` then. `null`: not
    /// started (not counted).
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
}

/// What was expected and what was counted of one item (and batch) in one location.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CountLine {
    pub location_id: i64,
    pub item_id: i64,
    pub batch_id: Option<i64>,
    pub batch_code: Option<String>,
    pub expiry_date: Option<Date>,
    /// On hand when counting of the location started.
    pub expected: i64,
    /// `null` until counted.
    pub counted: Option<i64>,
    /// `counted - expected`; once closed, uncounted stock of a counted location counts as 0.
    pub variance: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub counted_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Count {
    pub id: i64,
    pub warehouse_id: i64,
    pub status: CountStatus,
    pub note: Option<String>,
    pub created_by: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub closed_by: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    pub locations: Vec<CountLocation>,
    pub lines: Vec<CountLine>,
}

/// A count in a list (without its locations and lines).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CountSummary {
    pub id: i64,
    pub warehouse_id: i64,
    pub status: CountStatus,
    pub note: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}

/// The result of closing a count: the count with its variances, the `count` movements posted,
/// and the locations nobody counted (nothing was posted for them).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClosedCount {
    pub count: Count,
    pub movements: Vec<Movement>,
    pub not_counted: Vec<i64>,
}

#[derive(sqlx::FromRow)]
struct CountRow {
    id: i64,
    warehouse_id: i64,
    status: CountStatus,
    note: Option<String>,
    version: i64,
    created_by: Option<i64>,
    created_at: OffsetDateTime,
    closed_by: Option<i64>,
    closed_at: Option<OffsetDateTime>,
}

const COUNT_COLUMNS: &str =
    "id, warehouse_id, status, note, version, created_by, created_at, closed_by, closed_at";

#[derive(sqlx::FromRow)]
struct LineRow {
    location_id: i64,
    item_id: i64,
    batch_id: Option<i64>,
    batch_code: Option<String>,
    expiry_date: Option<Date>,
    expected: i64,
    counted: Option<i64>,
    counted_at: Option<OffsetDateTime>,
}

/// Opens a count of some (or all) locations of a warehouse. A location can be in one open
/// count at a time.
pub async fn create(db: &Db, new: NewCount, user_id: Option<i64>) -> Result<Count> {
    let mut checks = Checks::new();
    checks.opt_text("note", new.note.as_deref(), 2000);
    if let Some(ids) = &new.location_ids {
        checks.check(!ids.is_empty(), "location_ids", "must not be empty");
        checks.check(
            ids.len() <= MAX_LOCATIONS,
            "location_ids",
            &format!("at most {MAX_LOCATIONS} locations per count"),
        );
    }
    checks.finish()?;
    warehouses::get(db, new.warehouse_id).await.map_err(|e| {
        e.missing_as_invalid(
            "warehouse_id",
            format!("no warehouse with id {}", new.warehouse_id),
        )
    })?;
    let location_ids: Vec<i64> = match new.location_ids {
        Some(ids) => {
            let mut seen = std::collections::HashSet::new();
            for (i, id) in ids.iter().enumerate() {
                if !seen.insert(*id) {
                    return Err(Error::invalid(
                        format!("location_ids[{i}]"),
                        format!("location {id} is listed twice"),
                    ));
                }
                let location = warehouses::location(db, *id).await.map_err(|e| {
                    e.missing_as_invalid(
                        format!("location_ids[{i}]"),
                        format!("no location with id {id}"),
                    )
                })?;
                if location.warehouse_id != new.warehouse_id {
                    return Err(Error::invalid(
                        format!("location_ids[{i}]"),
                        format!(
                            "location {} is not in warehouse {}",
                            location.code, new.warehouse_id
                        ),
                    ));
                }
            }
            ids
        }
        None => on_read!(db, pool => {
            sqlx::query_scalar::<_, i64>(
                "select id from locations where warehouse_id = $1 order by id limit $2",
            )
            .bind(new.warehouse_id)
            .bind(MAX_LOCATIONS as i64 + 1)
            .fetch_all(pool)
            .await?
        }),
    };
    if location_ids.is_empty() {
        return Err(Error::invalid(
            "warehouse_id",
            "this warehouse has no locations to count",
        ));
    }
    if location_ids.len() > MAX_LOCATIONS {
        return Err(Error::invalid(
            "location_ids",
            format!(
                "the warehouse has more than {MAX_LOCATIONS} locations: list the ones to count"
            ),
        ));
    }
    let at = now();
    let id = in_tx!(db, tx => {
        let id: i64 = sqlx::query_scalar(
            "insert into stock_counts (warehouse_id, status, note, version, created_by, created_at)
             values ($1, 'open', $2, 0, $3, $4) returning id",
        )
        .bind(new.warehouse_id)
        .bind(new.note.as_deref().map(str::trim))
        .bind(user_id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        for location_id in &location_ids {
            sqlx::query(
                "insert into stock_count_locations (count_id, location_id, is_open) values ($1, $2, 1)",
            )
            .bind(id)
            .bind(location_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                Error::from(e).on_unique(
                    "location_ids",
                    &format!("location {location_id} is already in an open count"),
                )
            })?;
        }
        id
    });
    get(db, id).await
}

async fn row(db: &Db, id: i64) -> Result<CountRow> {
    on_read!(db, pool => {
        sqlx::query_as::<_, CountRow>(&format!(
            "select {COUNT_COLUMNS} from stock_counts where id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await?
    })
    .ok_or_else(|| Error::not_found("count", id))
}

async fn locations(db: &Db, id: i64) -> Result<Vec<CountLocation>> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, CountLocation>(
            "select c.location_id, l.code as location_code, c.started_at
             from stock_count_locations c join locations l on l.id = c.location_id
             where c.count_id = $1
             order by l.pick_sequence, l.code",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
    }))
}

async fn lines(db: &Db, id: i64) -> Result<Vec<LineRow>> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, LineRow>(
            "select c.location_id, c.item_id, c.batch_id, b.code as batch_code, b.expiry_date,
                    c.expected, c.counted, c.counted_at
             from stock_count_lines c
             join locations l on l.id = c.location_id
             left join batches b on b.id = c.batch_id
             where c.count_id = $1
             order by l.pick_sequence, l.code, c.item_id, c.batch_key",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
    }))
}

fn view(row: CountRow, locations: Vec<CountLocation>, lines: Vec<LineRow>) -> Count {
    let status = row.status;
    Count {
        id: row.id,
        warehouse_id: row.warehouse_id,
        status,
        note: row.note,
        created_by: row.created_by,
        created_at: row.created_at,
        closed_by: row.closed_by,
        closed_at: row.closed_at,
        locations,
        lines: lines
            .into_iter()
            .map(|l| {
                let counted = match (l.counted, status) {
                    (None, CountStatus::Closed) => Some(0),
                    (c, _) => c,
                };
                CountLine {
                    location_id: l.location_id,
                    item_id: l.item_id,
                    batch_id: l.batch_id,
                    batch_code: l.batch_code,
                    expiry_date: l.expiry_date,
                    expected: l.expected,
                    counted,
                    variance: counted.map(|c| c - l.expected),
                    counted_at: l.counted_at,
                }
            })
            .collect(),
    }
}

/// One count with its locations and lines.
pub async fn get(db: &Db, id: i64) -> Result<Count> {
    let count = row(db, id).await?;
    Ok(view(count, locations(db, id).await?, lines(db, id).await?))
}

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountFilter {
    pub warehouse_id: Option<i64>,
    pub status: Option<CountStatus>,
}

/// Counts, newest last, paged by id.
pub async fn list(db: &Db, filter: &CountFilter, page: Page) -> Result<Paged<CountSummary>> {
    let mut w = Where::default();
    w.add("id > $?", Arg::Int(page.after));
    w.int("warehouse_id = $?", filter.warehouse_id);
    w.text("status = $?", filter.status.map(CountStatus::as_str));
    let limit = w.next();
    w.args.push(Arg::Int(page.fetch_limit()));
    let sql = format!(
        "select {COUNT_COLUMNS} from stock_counts where {} order by id limit ${limit}",
        w.sql()
    );
    let rows = on_read!(db, pool => {
        bind_args!(sqlx::query_as::<_, CountRow>(&sql), &w.args)
            .fetch_all(pool)
            .await?
    });
    Ok(
        Paged::from_rows(rows, page, |r| r.id).map(|r| CountSummary {
            id: r.id,
            warehouse_id: r.warehouse_id,
            status: r.status,
            note: r.note,
            created_at: r.created_at,
            closed_at: r.closed_at,
        }),
    )
}

fn not_open(id: i64, status: CountStatus) -> Error {
    Error::conflict("status", format!("count {id} is {status}, not open"))
}

async fn open_row(db: &Db, id: i64) -> Result<CountRow> {
    let count = row(db, id).await?;
    if count.status != CountStatus::Open {
        return Err(not_open(id, count.status));
    }
    Ok(count)
}

/// Starts counting a location of an open count (once): copies its balances as `expected`.
/// Returns `false` when it had started already. `field` names the location in errors.
async fn start_location(db: &Db, id: i64, location_id: i64, field: &str) -> Result<bool> {
    let at = now();
    let started = in_tx!(db, tx => {
        let changed = sqlx::query(
            "update stock_count_locations set started_at = $1
             where count_id = $2 and location_id = $3 and started_at is null
               and exists (select 1 from stock_counts where id = $2 and status = 'open')",
        )
        .bind(at)
        .bind(id)
        .bind(location_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            // One statement: the copy is a single consistent moment on both databases.
            sqlx::query(
                "insert into stock_count_lines (count_id, location_id, item_id, batch_id, batch_key, expected)
                 select $1, location_id, item_id, batch_id, batch_key, on_hand
                 from stock_balances where location_id = $2 and on_hand > 0",
            )
            .bind(id)
            .bind(location_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("update stock_counts set version = version + 1 where id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        changed == 1
    });
    if !started {
        let count = open_row(db, id).await?;
        let member = on_read!(db, pool => {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from stock_count_locations where count_id = $1 and location_id = $2",
            )
            .bind(count.id)
            .bind(location_id)
            .fetch_one(pool)
            .await?
        });
        if member == 0 {
            return Err(Error::invalid(
                field,
                format!("location {location_id} is not part of count {id}"),
            ));
        }
    }
    Ok(started)
}

/// The batch a counter names: by id, or by code (created when the count finds a batch Depot
/// has not seen, with the expiry the scan gives).
#[derive(Debug, Clone, Default)]
pub struct BatchRef {
    pub id: Option<i64>,
    pub code: Option<String>,
    pub expiry: Option<Date>,
    pub production_date: Option<Date>,
}

/// How a counted quantity applies to its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tally {
    /// Adds to what was counted so far (one scan per pack).
    Add,
    /// Replaces it (a counter typing the total).
    Set,
}

/// One counted quantity of an item (and batch) in a location.
#[derive(Debug, Clone)]
pub struct Entry {
    pub location_id: i64,
    pub item_id: i64,
    pub batch: BatchRef,
    /// Base units.
    pub quantity: i64,
    pub tally: Tally,
}

/// Field names of an entry in errors: the API's names for the way it was given.
#[derive(Debug, Clone, Copy)]
pub struct EntryFields {
    pub location: &'static str,
    pub item: &'static str,
    pub batch: &'static str,
    pub quantity: &'static str,
}

pub const LINE_FIELDS: EntryFields = EntryFields {
    location: "location_id",
    item: "item_id",
    batch: "batch",
    quantity: "quantity",
};

pub const SCAN_FIELDS: EntryFields = EntryFields {
    location: "location_id",
    item: "scan",
    batch: "batch",
    quantity: "quantity",
};

async fn resolve_batch(
    db: &Db,
    item_id: i64,
    batch: &BatchRef,
    fields: EntryFields,
) -> Result<Option<i64>> {
    let item = items::get(db, item_id)
        .await
        .map_err(|e| e.missing_as_invalid(fields.item, format!("no item with id {item_id}")))?;
    if item.tracking == Tracking::None {
        // A GS1 code may carry a batch the item is not tracked by: it is counted as the item.
        return Ok(None);
    }
    if let Some(id) = batch.id {
        let found = batches::get(db, id)
            .await
            .map_err(|e| e.missing_as_invalid(fields.batch, format!("no batch with id {id}")))?;
        if found.item_id != item_id {
            return Err(Error::invalid(
                fields.batch,
                format!(
                    "batch {id} belongs to item {}, not {item_id}",
                    found.item_id
                ),
            ));
        }
        return Ok(Some(id));
    }
    let code = batch.code.as_deref().map(str::trim).unwrap_or("");
    if code.is_empty() {
        return Err(Error::invalid(
            fields.batch,
            format!(
                "item {} is tracked by batch: count it with its batch (scan its GS1 code or give the batch)",
                item.code
            ),
        ));
    }
    let found = batches::find_or_create(
        db,
        NewBatch {
            item_id,
            code: code.to_string(),
            expiry_date: batch.expiry,
            production_date: batch.production_date,
            received_at: None,
        },
    )
    .await
    .map_err(|e| match e {
        Error::Validation(mut v) => {
            for f in &mut v {
                f.field = fields.batch.to_string();
            }
            Error::Validation(v)
        }
        other => other,
    })?;
    Ok(Some(found.id))
}

/// Records a counted quantity (starting the location if needed) and returns the line.
pub async fn record(
    db: &Db,
    id: i64,
    entry: Entry,
    actor: Actor,
    fields: EntryFields,
) -> Result<CountLine> {
    let mut checks = Checks::new();
    match entry.tally {
        Tally::Add => checks.positive(fields.quantity, entry.quantity),
        Tally::Set => checks.non_negative(fields.quantity, Some(entry.quantity)),
    }
    checks.check(
        entry.quantity <= ledger::MAX_QUANTITY,
        fields.quantity,
        "is larger than any stock can be",
    );
    checks.finish()?;
    open_row(db, id).await?;
    start_location(db, id, entry.location_id, fields.location).await?;
    let batch_id = resolve_batch(db, entry.item_id, &entry.batch, fields).await?;
    let at = now();
    let add = i64::from(entry.tally == Tally::Add);
    in_tx!(db, tx => {
        // First: the version bump, which also takes the count's row lock on PostgreSQL, so a
        // close running now either sees this line or is refused and retried.
        let open = sqlx::query(
            "update stock_counts set version = version + 1 where id = $1 and status = 'open'",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if open == 0 {
            return Err(Error::conflict("status", format!("count {id} is no longer open")));
        }
        sqlx::query(
            "insert into stock_count_lines (count_id, location_id, item_id, batch_id, batch_key,
                 expected, counted, counted_at, counted_by, counted_by_device)
             values ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9)
             on conflict (count_id, location_id, item_id, batch_key) do update set
                 counted = case when $10 = 1
                                then coalesce(stock_count_lines.counted, 0) + excluded.counted
                                else excluded.counted end,
                 counted_at = excluded.counted_at,
                 counted_by = excluded.counted_by,
                 counted_by_device = excluded.counted_by_device",
        )
        .bind(id)
        .bind(entry.location_id)
        .bind(entry.item_id)
        .bind(batch_id)
        .bind(batch_id.unwrap_or(0))
        .bind(entry.quantity)
        .bind(at)
        .bind(actor.user_id)
        .bind(actor.device_id)
        .bind(add)
        .execute(&mut *tx)
        .await
        .map_err(|e| Error::from(e).on_reference(fields.quantity, "is out of range"))?;
    });
    let line = lines(db, id)
        .await?
        .into_iter()
        .find(|l| {
            l.location_id == entry.location_id
                && l.item_id == entry.item_id
                && l.batch_id == batch_id
        })
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("recorded count line not found")))?;
    Ok(CountLine {
        variance: line.counted.map(|c| c - line.expected),
        location_id: line.location_id,
        item_id: line.item_id,
        batch_id: line.batch_id,
        batch_code: line.batch_code,
        expiry_date: line.expiry_date,
        expected: line.expected,
        counted: line.counted,
        counted_at: line.counted_at,
    })
}

/// What a counter scanned, as the scanning layer resolved it.
#[derive(Debug, Clone)]
pub enum Scanned {
    Location(i64),
    Goods {
        item_id: i64,
        /// Base units in one scanned pack.
        per_pack: i64,
        batch: BatchRef,
    },
}

/// The answer to one count scan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CountScan {
    /// `location`: counting continues in this location; `counted`: goods counted there.
    pub outcome: &'static str,
    pub location_id: i64,
    /// The line as it stands after this scan (for `counted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<CountLine>,
}

fn counter_key(actor: Actor) -> String {
    match (actor.device_id, actor.user_id) {
        (Some(d), _) => format!("device:{d}"),
        (None, Some(u)) => format!("user:{u}"),
        (None, None) => "anonymous".into(),
    }
}

/// A counter's scan: a location starts (or continues) counting there; goods are counted in the
/// counter's current location (or `location_id` when given), `packs` packs at a time (1 when
/// left out).
pub async fn scan(
    db: &Db,
    id: i64,
    scanned: Scanned,
    packs: Option<i64>,
    location_id: Option<i64>,
    actor: Actor,
) -> Result<CountScan> {
    let count = open_row(db, id).await?;
    let counter = counter_key(actor);
    match scanned {
        Scanned::Location(location_id) => {
            let location = warehouses::location(db, location_id).await?;
            if location.warehouse_id != count.warehouse_id {
                return Err(Error::invalid(
                    "scan",
                    format!(
                        "location {} is in another warehouse than count {id}",
                        location.code
                    ),
                ));
            }
            start_location(db, id, location_id, "scan").await?;
            in_tx!(db, tx => {
                sqlx::query(
                    "insert into stock_count_cursors (count_id, counter, location_id) values ($1, $2, $3)
                     on conflict (count_id, counter) do update set location_id = excluded.location_id",
                )
                .bind(id)
                .bind(&counter)
                .bind(location_id)
                .execute(&mut *tx)
                .await?;
            });
            Ok(CountScan {
                outcome: "location",
                location_id,
                line: None,
            })
        }
        Scanned::Goods {
            item_id,
            per_pack,
            batch,
        } => {
            let location_id = match location_id {
                Some(l) => l,
                None => on_read!(db, pool => {
                    sqlx::query_scalar::<_, i64>(
                        "select location_id from stock_count_cursors where count_id = $1 and counter = $2",
                    )
                    .bind(id)
                    .bind(&counter)
                    .fetch_optional(pool)
                    .await?
                })
                .ok_or_else(|| {
                    Error::conflict(
                        "scan",
                        "scan the location first: goods are counted in the location scanned last",
                    )
                })?,
            };
            let packs = packs.unwrap_or(1);
            if packs <= 0 {
                return Err(Error::invalid("quantity", "must be greater than zero"));
            }
            let line = record(
                db,
                id,
                Entry {
                    location_id,
                    item_id,
                    batch,
                    quantity: packs.saturating_mul(per_pack),
                    tally: Tally::Add,
                },
                actor,
                SCAN_FIELDS,
            )
            .await?;
            Ok(CountScan {
                outcome: "counted",
                location_id,
                line: Some(line),
            })
        }
    }
}

/// Starts a location again: drops what was counted there and copies its balances afresh (for
/// stock that moved while it was being counted).
pub async fn recount(db: &Db, id: i64, location_id: i64) -> Result<Count> {
    open_row(db, id).await?;
    let member = in_tx!(db, tx => {
        let changed = sqlx::query(
            "update stock_count_locations set started_at = null
             where count_id = $1 and location_id = $2",
        )
        .bind(id)
        .bind(location_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("delete from stock_count_lines where count_id = $1 and location_id = $2")
            .bind(id)
            .bind(location_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("update stock_counts set version = version + 1 where id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        changed
    });
    if member == 0 {
        return Err(Error::not_found("count location", location_id));
    }
    start_location(db, id, location_id, "location_id").await?;
    get(db, id).await
}

/// Closes a count: posts every variance of its started locations as a `count` movement (with
/// the count as document) and closes it, in one transaction. A line recorded meanwhile makes
/// the close fail with a conflict (close again); nothing is posted twice.
pub async fn close(db: &Db, id: i64, actor: Actor) -> Result<ClosedCount> {
    let count = open_row(db, id).await?;
    let locations = locations(db, id).await?;
    let lines = lines(db, id).await?;
    let started: HashMap<i64, bool> = locations
        .iter()
        .map(|l| (l.location_id, l.started_at.is_some()))
        .collect();
    let movements: Vec<NewMovement> = lines
        .iter()
        .filter(|l| started.get(&l.location_id).copied().unwrap_or(false))
        .filter_map(|l| {
            let variance = l.counted.unwrap_or(0) - l.expected;
            (variance != 0).then(|| NewMovement {
                item_id: l.item_id,
                batch_id: l.batch_id,
                warehouse_id: count.warehouse_id,
                location_id: l.location_id,
                quantity: variance,
                kind: MovementType::Count,
                user_id: actor.user_id,
                device_id: actor.device_id,
                document_type: Some("count".into()),
                document_id: Some(id),
                deal_id: None,
                note: Some(format!(
                    "count {id}: expected {}, counted {}",
                    l.expected,
                    l.counted.unwrap_or(0)
                )),
                reservation_id: None,
            })
        })
        .collect();
    let at = now();
    let mut tx = db.begin().await?;
    // The count closes first, at the version its lines were read at: a line recorded meanwhile
    // (or a second close) finds it changed, and nothing is posted.
    let closed = on_tx!(&mut tx, conn => {
        let closed = sqlx::query(
            "update stock_counts set status = 'closed', closed_at = $1, closed_by = $2
             where id = $3 and status = 'open' and version = $4",
        )
        .bind(at)
        .bind(actor.user_id)
        .bind(id)
        .bind(count.version)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        sqlx::query("update stock_count_locations set is_open = null where count_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        closed
    });
    if closed == 0 {
        return Err(Error::conflict(
            "status",
            format!(
                "count {id} changed while closing (a line was recorded, or it was closed): \
                 close it again"
            ),
        ));
    }
    let posted = ledger::post_in(&mut tx, movements)
        .await
        .map_err(|e| match e {
            Error::Conflict {
                field: Some(f),
                detail,
            } if f == "quantity" => Error::Conflict {
                field: Some("lines".into()),
                detail: format!(
                    "{detail}. Stock left this location after it was counted, or is reserved: \
                     recount the location"
                ),
            },
            other => other,
        })?;
    tx.commit().await?;
    let not_counted = locations
        .iter()
        .filter(|l| l.started_at.is_none())
        .map(|l| l.location_id)
        .collect();
    Ok(ClosedCount {
        count: get(db, id).await?,
        movements: posted,
        not_counted,
    })
}

/// Cancels an open count: nothing is posted and its locations are free for another count.
pub async fn cancel(db: &Db, id: i64) -> Result<Count> {
    let count = row(db, id).await?;
    let at = now();
    let changed = in_tx!(db, tx => {
        let changed = sqlx::query(
            "update stock_counts set status = 'cancelled', closed_at = $1 where id = $2 and status = 'open'",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("update stock_count_locations set is_open = null where count_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        changed
    });
    if changed == 0 {
        return Err(not_open(id, count.status));
    }
    get(db, id).await
}
