//! Batches (lots): a code per item, with expiry, production and receipt dates and a status.
//! The same code may exist for different items.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::catalog::items::{self, PackRef, Tracking};
use crate::db::{Arg, Db, Page, Paged, Tx, Where, now};
use crate::error::{Checks, Error, Result};
use crate::{bind_args, in_tx, on_read, on_tx};

crate::text_enum!(
    /// Whether a batch may be handed out. Only `available` batches are (see `fefo`).
    pub BatchStatus {
        Available = "available",
        Quarantine = "quarantine",
        Expired = "expired",
        Recalled = "recalled",
    }
);

impl BatchStatus {
    /// The status of a balance's batch as read from a (left-joined) column: unbatched stock is
    /// `available`; text the column's check constraint cannot hold counts as quarantined, so it
    /// is never handed out.
    pub fn of_column(value: Option<&str>) -> Self {
        match value {
            None => BatchStatus::Available,
            Some(s) => BatchStatus::parse(s).unwrap_or(BatchStatus::Quarantine),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Batch {
    pub id: i64,
    pub item_id: i64,
    pub code: String,
    pub expiry_date: Option<Date>,
    pub production_date: Option<Date>,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    pub status: BatchStatus,
    /// The quality certificate reference: items that require a certificate ship only from a
    /// batch that has one.
    pub certificate: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
pub(crate) struct BatchRow {
    id: i64,
    item_id: i64,
    code: String,
    expiry_date: Option<Date>,
    production_date: Option<Date>,
    received_at: OffsetDateTime,
    status: BatchStatus,
    certificate: Option<String>,
    created_at: OffsetDateTime,
}

impl From<BatchRow> for Batch {
    fn from(r: BatchRow) -> Self {
        Batch {
            id: r.id,
            item_id: r.item_id,
            code: r.code,
            expiry_date: r.expiry_date,
            production_date: r.production_date,
            received_at: r.received_at,
            status: r.status,
            certificate: r.certificate,
            created_at: r.created_at,
        }
    }
}

const COLUMNS: &str =
    "id, item_id, code, expiry_date, production_date, received_at, status, certificate, created_at";

/// A batch as scanned or typed at receipt.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewBatch {
    pub item_id: i64,
    pub code: String,
    /// From the scan (GS1 AI 17). Without it, an item with a shelf life gets
    /// `received date + shelf_life_days`.
    #[serde(default)]
    pub expiry_date: Option<Date>,
    #[serde(default)]
    pub production_date: Option<Date>,
    /// Defaults to now.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub received_at: Option<OffsetDateTime>,
}

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BatchFilter {
    pub item_id: Option<i64>,
    pub status: Option<BatchStatus>,
    /// Only batches whose expiry date is on or before `today + expiring_within_days` (expired ones
    /// included, see `fefo::is_expired`).
    pub expiring_within_days: Option<i64>,
}

/// The batch `code` of `item_id`, created if it does not exist yet. An existing batch with a
/// different expiry date is a conflict on `expiry`; otherwise the existing batch is returned
/// unchanged.
pub async fn find_or_create(db: &Db, new: NewBatch) -> Result<Batch> {
    let mut tx = db.begin().await?;
    let batch = find_or_create_in(&mut tx, db, new).await?;
    tx.commit().await?;
    Ok(batch)
}

/// [`find_or_create`] inside the caller's transaction (`db` reads the item master).
pub async fn find_or_create_in(tx: &mut Tx, db: &Db, new: NewBatch) -> Result<Batch> {
    let code = new.code.trim().to_string();
    let mut checks = Checks::new();
    checks.text("code", &code, 100);
    if let (Some(p), Some(e)) = (new.production_date, new.expiry_date) {
        checks.check(e > p, "expiry_date", "must be after the production date");
    }
    checks.finish()?;
    let item = items::get(db, new.item_id)
        .await
        .map_err(|e| e.missing_as_invalid("item_id", format!("no item with id {}", new.item_id)))?;
    if item.tracking == Tracking::None {
        return Err(Error::invalid(
            "item_id",
            "this item is not tracked by batch; receive it without a batch",
        ));
    }
    check_printable(&code, item.tracking)?;
    let at = now();
    let received_at = new.received_at.unwrap_or(at);
    let expiry = match (new.expiry_date, item.shelf_life_days) {
        (Some(e), _) => Some(e),
        (None, Some(days)) => crate::days::add(received_at.date(), days),
        (None, None) => None,
    };
    let row = on_tx!(tx, tx => {
        sqlx::query(
            "insert into batches (item_id, code, expiry_date, production_date, received_at, status, created_at)
             values ($1, $2, $3, $4, $5, 'available', $6)
             on conflict (item_id, code) do nothing",
        )
        .bind(new.item_id)
        .bind(&code)
        .bind(expiry)
        .bind(new.production_date)
        .bind(received_at)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        sqlx::query_as::<_, BatchRow>(&format!(
            "select {COLUMNS} from batches where item_id = $1 and code = $2"
        ))
        .bind(new.item_id)
        .bind(&code)
        .fetch_one(&mut *tx)
        .await?
    });
    // It may have existed already (or someone else created it first): same expiry or a conflict.
    check_same(row.into(), new.expiry_date)
}

/// A batch code (or, for serial-tracked items, a serial number) is printed on labels under GS1
/// AI 10 (or 21): at most 20 characters of CSET 82. One that breaks those rules could never be
/// labelled, so it never enters Depot.
fn check_printable(code: &str, tracking: Tracking) -> Result<()> {
    let ai = if tracking == Tracking::Serial {
        "21"
    } else {
        "10"
    };
    crate::barcode::gs1::validate_ai_value(ai, code).map_err(|e| {
        let what = if ai == "21" {
            "serial number"
        } else {
            "batch code"
        };
        Error::invalid(
            "code",
            format!(
                "a {what} must be printable as GS1 AI ({ai}): {}",
                e.message.trim_start_matches(&format!("AI ({ai}): "))
            ),
        )
    })
}

fn check_same(existing: Batch, expiry: Option<Date>) -> Result<Batch> {
    match expiry {
        Some(e) if existing.expiry_date != Some(e) => Err(Error::conflict(
            "expiry",
            format!(
                "batch {} of this item already exists with expiry {}",
                existing.code,
                existing
                    .expiry_date
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "none".into())
            ),
        )),
        _ => Ok(existing),
    }
}

/// [`by_code`] in the caller's transaction.
pub async fn by_code_in(tx: &mut Tx, item_id: i64, code: &str) -> Result<Option<Batch>> {
    let row = on_tx!(tx, tx => {
        sqlx::query_as::<_, BatchRow>(&format!(
            "select {COLUMNS} from batches where item_id = $1 and code = $2"
        ))
        .bind(item_id)
        .bind(code)
        .fetch_optional(&mut *tx)
        .await?
    });
    Ok(row.map(Batch::from))
}

/// What a GS1 scan names: the item and pack behind `gtin14` and, when `batch_code` is given,
/// that item's batch of that code, in one read (a scan's hot path; two reads before).
pub async fn pack_and_batch(
    db: &Db,
    gtin14: &str,
    batch_code: Option<&str>,
) -> Result<Option<(PackRef, Option<Batch>)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        pack: PackRef,
        batch_id: Option<i64>,
        batch_code: Option<String>,
        batch_expiry: Option<Date>,
        batch_production: Option<Date>,
        batch_received_at: Option<OffsetDateTime>,
        batch_status: Option<BatchStatus>,
        batch_certificate: Option<String>,
        batch_created_at: Option<OffsetDateTime>,
    }
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, Row>(
            "select i.id as item_id, i.code, i.name, i.unit, i.tracking, g.quantity,
                    b.id as batch_id, b.code as batch_code, b.expiry_date as batch_expiry,
                    b.production_date as batch_production, b.received_at as batch_received_at,
                    b.status as batch_status, b.certificate as batch_certificate,
                    b.created_at as batch_created_at
             from item_gtins g join items i on i.id = g.item_id
             left join batches b on b.item_id = g.item_id and b.code = $2
             where g.gtin = $1",
        )
        .bind(gtin14)
        .bind(batch_code)
        .fetch_optional(pool)
        .await?
    });
    Ok(row.map(|r| {
        let batch = match (
            r.batch_id,
            r.batch_code,
            r.batch_received_at,
            r.batch_status,
            r.batch_created_at,
        ) {
            (Some(id), Some(code), Some(received_at), Some(status), Some(created_at)) => {
                Some(Batch {
                    id,
                    item_id: r.pack.item_id,
                    code,
                    expiry_date: r.batch_expiry,
                    production_date: r.batch_production,
                    received_at,
                    status,
                    certificate: r.batch_certificate,
                    created_at,
                })
            }
            _ => None,
        };
        (r.pack, batch)
    }))
}

/// The batch `code` of an item, if it exists.
pub async fn by_code(db: &Db, item_id: i64, code: &str) -> Result<Option<Batch>> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, BatchRow>(&format!(
            "select {COLUMNS} from batches where item_id = $1 and code = $2"
        ))
        .bind(item_id)
        .bind(code)
        .fetch_optional(pool)
        .await?
    });
    Ok(row.map(Batch::from))
}

pub async fn get(db: &Db, id: i64) -> Result<Batch> {
    on_read!(db, pool => {
        sqlx::query_as::<_, BatchRow>(&format!("select {COLUMNS} from batches where id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    })
    .map(Batch::from)
    .ok_or_else(|| Error::not_found("batch", id))
}

/// The batches of the ids `keys`, in id order; an id that names no batch is left out.
pub async fn by_ids(db: &Db, keys: &crate::db::Keys) -> Result<Vec<Batch>> {
    let rows: Vec<BatchRow> = crate::db::rows_for_keys(
        db,
        &format!("select {COLUMNS} from batches where {{keys}} order by id"),
        "id",
        keys,
    )
    .await?;
    Ok(rows.into_iter().map(Batch::from).collect())
}

/// Batches matching `filter`, earliest expiry first (undated last), then by id. `today` anchors
/// `expiring_within_days`.
pub async fn list(db: &Db, filter: &BatchFilter, today: Date) -> Result<Vec<Batch>> {
    Ok(rows(db, filter, today, None).await?.items)
}

/// One page of [`list`]; the cursor is the last batch's id, so pages keep the expiry order.
pub async fn page(db: &Db, filter: &BatchFilter, today: Date, page: Page) -> Result<Paged<Batch>> {
    rows(db, filter, today, Some(page)).await
}

async fn rows(
    db: &Db,
    filter: &BatchFilter,
    today: Date,
    page: Option<Page>,
) -> Result<Paged<Batch>> {
    let mut checks = Checks::new();
    checks.days("expiring_within_days", filter.expiring_within_days);
    checks.finish()?;
    let mut w = Where::default();
    w.int("item_id = $?", filter.item_id);
    w.text("status = $?", filter.status.map(BatchStatus::as_str));
    if let Some(before) = filter
        .expiring_within_days
        .and_then(|d| crate::days::add(today, d))
    {
        w.add("expiry_date <= $?", Arg::Date(before));
    }
    // Undated batches sort last: after every real date.
    const ORDER: &str = "coalesce(expiry_date, '9999-12-31'), id";
    let mut limit = String::new();
    if let Some(page) = page {
        if page.after > 0 {
            w.add(
                &format!("({ORDER}) > (select {ORDER} from batches where id = $?)"),
                Arg::Int(page.after),
            );
        }
        limit = format!("limit ${}", w.next());
        w.args.push(Arg::Int(page.fetch_limit()));
    }
    let sql = format!(
        "select {COLUMNS} from batches where {} order by {ORDER} {limit}",
        w.sql()
    );
    let rows = on_read!(db, pool => {
        bind_args!(sqlx::query_as::<_, BatchRow>(&sql), &w.args)
            .fetch_all(pool)
            .await?
    });
    let rows = match page {
        Some(page) => Paged::from_rows(rows, page, |r| r.id),
        None => Paged {
            items: rows,
            next_after: None,
        },
    };
    Ok(rows.map(Batch::from))
}

/// Records a batch's quality certificate in the caller's transaction (the production order
/// that made it names one; shipping checks the batch).
pub async fn set_certificate_in(tx: &mut Tx, id: i64, certificate: &str) -> Result<()> {
    let changed = on_tx!(tx, tx => {
        sqlx::query("update batches set certificate = $1 where id = $2")
            .bind(certificate.trim())
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    });
    if changed == 1 {
        Ok(())
    } else {
        Err(Error::not_found("batch", id))
    }
}

/// Puts a batch in quarantine, recalls it, marks it expired, or releases it.
pub async fn set_status(db: &Db, id: i64, status: BatchStatus) -> Result<Batch> {
    let mut tx = db.begin().await?;
    let batch = set_status_in(&mut tx, id, status).await?;
    tx.commit().await?;
    Ok(batch)
}

/// [`set_status`] inside the caller's transaction.
pub async fn set_status_in(tx: &mut Tx, id: i64, status: BatchStatus) -> Result<Batch> {
    let row = on_tx!(tx, tx => {
        sqlx::query_as::<_, BatchRow>(&format!(
            "update batches set status = $2 where id = $1 returning {COLUMNS}"
        ))
        .bind(id)
        .bind(status.as_str())
        .fetch_optional(&mut *tx)
        .await?
    });
    row.map(Batch::from)
        .ok_or_else(|| Error::not_found("batch", id))
}

/// Quality decisions on a batch: release from quarantine (or quarantine, recall) and its
/// certificate reference.
#[derive(Debug, Default, Clone, Deserialize, ToSchema)]
pub struct BatchPatch {
    #[serde(default)]
    pub status: Option<BatchStatus>,
    /// The certificate reference (`null` removes it).
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub certificate: Option<Option<String>>,
}

pub async fn update(db: &Db, id: i64, patch: BatchPatch) -> Result<Batch> {
    let mut checks = Checks::new();
    if let Some(Some(c)) = &patch.certificate {
        checks.text("certificate", c, 200);
    }
    checks.check(
        patch.status != Some(BatchStatus::Expired),
        "status",
        "a batch expires by its date; set quarantine or recalled instead",
    );
    checks.finish()?;
    let row = in_tx!(db, tx => {
        sqlx::query_as::<_, BatchRow>(&format!(
            "update batches set status = coalesce($2, status),
                 certificate = case when $3 then $4 else certificate end
             where id = $1 returning {COLUMNS}"
        ))
        .bind(id)
        .bind(patch.status.map(BatchStatus::as_str))
        .bind(patch.certificate.is_some())
        .bind(patch.certificate.flatten().map(|c| c.trim().to_string()))
        .fetch_optional(&mut *tx)
        .await?
    });
    row.map(Batch::from)
        .ok_or_else(|| Error::not_found("batch", id))
}

/// Marks batches past their expiry date as `expired`, as of `today` (the expiry day itself counts,
/// as `fefo::is_expired` says). Answers how many changed.
pub async fn expire_due(tx: &mut Tx, today: Date) -> Result<u64> {
    Ok(on_tx!(tx, conn => {
        sqlx::query(
            "update batches set status = 'expired'
             where status = 'available' and expiry_date is not null and expiry_date <= $1",
        )
        .bind(today)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    }))
}
