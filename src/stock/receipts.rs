//! Receiving goods into a location: explicit lines or raw GS1 scans, each becoming a batch (when
//! tracked) and a `receipt` movement, all in one transaction.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::catalog::items::{self, Tracking};
use crate::catalog::warehouses;
use crate::db::{Db, Page, Paged, Tx, Where, now};
use crate::error::{Checks, Error, Result};
use crate::stock::batches::{self, BatchStatus, NewBatch};
use crate::stock::fefo;
use crate::stock::ledger::{self, Movement, MovementType, NewMovement};
use crate::{on_read, on_tx};

/// One received line: either an item with its batch data, or a raw scan of its GS1 barcode.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ReceiptLine {
    pub item_id: Option<i64>,
    /// Base units; with `scan`, the number of scanned packs (default 1; each counts the pack
    /// quantity of its GTIN, or AI (30)/(37) when the barcode carries it).
    pub quantity: Option<i64>,
    pub batch: Option<String>,
    /// ISO date.
    #[schema(value_type = Option<String>, format = Date)]
    pub expiry: Option<Date>,
    #[schema(value_type = Option<String>, format = Date)]
    pub production_date: Option<Date>,
    /// Raw GS1 data as scanned (GS as U+001D, AIM prefix allowed): gives item, batch, expiry,
    /// production date and pack quantity.
    pub scan: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewReceipt {
    pub warehouse_id: i64,
    pub location_id: i64,
    pub lines: Vec<ReceiptLine>,
    /// Receive into quarantine (required for goods already past their expiry date). Quarantine
    /// is a status of the whole batch.
    #[serde(default)]
    pub quarantine: bool,
    pub purchase_order_id: Option<i64>,
    pub production_order_id: Option<i64>,
    pub deal_id: Option<i64>,
    pub note: Option<String>,
}

/// A receipt: where goods came in, against which order or deal, and the movements it posted
/// (each with `document_type` `receipt` and this receipt's id).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Receipt {
    pub id: i64,
    pub warehouse_id: i64,
    pub location_id: i64,
    pub purchase_order_id: Option<i64>,
    pub production_order_id: Option<i64>,
    pub deal_id: Option<i64>,
    pub quarantine: bool,
    pub note: Option<String>,
    pub user_id: Option<i64>,
    pub device_id: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub movements: Vec<Movement>,
}

#[derive(sqlx::FromRow)]
struct ReceiptRow {
    id: i64,
    warehouse_id: i64,
    location_id: i64,
    purchase_order_id: Option<i64>,
    production_order_id: Option<i64>,
    deal_id: Option<i64>,
    quarantine: bool,
    note: Option<String>,
    user_id: Option<i64>,
    device_id: Option<i64>,
    created_at: OffsetDateTime,
}

impl ReceiptRow {
    fn with(self, movements: Vec<Movement>) -> Receipt {
        Receipt {
            id: self.id,
            warehouse_id: self.warehouse_id,
            location_id: self.location_id,
            purchase_order_id: self.purchase_order_id,
            production_order_id: self.production_order_id,
            deal_id: self.deal_id,
            quarantine: self.quarantine,
            note: self.note,
            user_id: self.user_id,
            device_id: self.device_id,
            created_at: self.created_at,
            movements,
        }
    }
}

const COLUMNS: &str = "id, warehouse_id, location_id, purchase_order_id, production_order_id, \
    deal_id, quarantine, note, user_id, device_id, created_at";

/// The `document_type` of every receipt's movements.
pub const DOCUMENT: &str = "receipt";

/// Which receipts to list.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReceiptFilter {
    pub warehouse_id: Option<i64>,
    pub purchase_order_id: Option<i64>,
    pub production_order_id: Option<i64>,
    pub deal_id: Option<i64>,
}

/// Receipts matching `filter`, oldest first, each with its movements.
pub async fn list(db: &Db, filter: &ReceiptFilter, page: Page) -> Result<Paged<Receipt>> {
    let mut w = Where::default();
    w.int("warehouse_id = $?", filter.warehouse_id);
    w.int("purchase_order_id = $?", filter.purchase_order_id);
    w.int("production_order_id = $?", filter.production_order_id);
    w.int("deal_id = $?", filter.deal_id);
    let ids = crate::db::page_ids(db, "receipts", w, page).await?;
    let mut items = Vec::with_capacity(ids.items.len());
    for id in ids.items {
        items.push(get(db, id).await?);
    }
    Ok(Paged {
        items,
        next_after: ids.next_after,
    })
}

/// One receipt with its movements.
pub async fn get(db: &Db, id: i64) -> Result<Receipt> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, ReceiptRow>(&format!("select {COLUMNS} from receipts where id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    })
    .ok_or_else(|| Error::not_found("receipt", id))?;
    let movements = ledger::ledger(
        db,
        &ledger::LedgerFilter {
            document_type: Some(DOCUMENT.into()),
            document_id: Some(id),
            ..Default::default()
        },
        crate::db::Page::first(crate::db::Page::MAX_LIMIT * 2),
    )
    .await?
    .items;
    Ok(row.with(movements))
}

/// What one line resolves to before posting.
struct Resolved {
    item_id: i64,
    quantity: i64,
    batch: Option<(String, Option<Date>, Option<Date>)>,
}

async fn resolve_line(db: &Db, i: usize, line: &ReceiptLine, today: Date) -> Result<Resolved> {
    let field = |name: &str| format!("lines[{i}].{name}");
    let (item_id, quantity, mut batch, mut expiry, mut produced) = match &line.scan {
        Some(raw) => {
            let read = crate::barcode::gs1::interpret(raw).map_err(|e| Error::InvalidBarcode {
                field: field("scan"),
                ai: e.ai,
                position: e.position,
                message: e.message,
            })?;
            let gtin = read
                .gtin
                .clone()
                .ok_or_else(|| Error::invalid(field("scan"), "the barcode carries no GTIN"))?;
            let pack = items::by_gtin(db, &gtin)
                .await?
                .ok_or_else(|| Error::invalid(field("scan"), format!("no item has GTIN {gtin}")))?;
            let packs = line.quantity.unwrap_or(1);
            if packs <= 0 {
                return Err(Error::invalid(
                    field("quantity"),
                    "must be greater than zero",
                ));
            }
            let per_pack = read.count.unwrap_or(pack.quantity);
            (
                pack.item_id,
                packs.saturating_mul(per_pack),
                read.batch.clone().or_else(|| line.batch.clone()),
                read.expiry.or(line.expiry),
                read.production_date.or(line.production_date),
            )
        }
        None => {
            let item_id = line
                .item_id
                .ok_or_else(|| Error::invalid(field("item_id"), "is required without a scan"))?;
            let quantity = line
                .quantity
                .ok_or_else(|| Error::invalid(field("quantity"), "is required"))?;
            (
                item_id,
                quantity,
                line.batch.clone(),
                line.expiry,
                line.production_date,
            )
        }
    };
    let item = items::get(db, item_id).await.map_err(|e| {
        e.missing_as_invalid(field("item_id"), format!("no item with id {item_id}"))
    })?;
    let mut checks = Checks::new();
    checks.positive(&field("quantity"), quantity);
    checks.finish()?;
    if item.tracking == Tracking::None {
        batch = None;
        expiry = None;
        produced = None;
    } else {
        let code = batch.as_deref().map(str::trim).unwrap_or("");
        if code.is_empty() {
            return Err(Error::invalid(
                field("batch"),
                format!(
                    "item {} is tracked by batch: the batch is required",
                    item.code
                ),
            ));
        }
        if expiry.is_none()
            && let Some(days) = item.shelf_life_days
        {
            expiry = crate::days::add(today, days);
        }
    }
    Ok(Resolved {
        item_id,
        quantity,
        batch: batch.map(|b| (b.trim().to_string(), expiry, produced)),
    })
}

/// Receives every line into one location in one transaction.
pub async fn receive(
    db: &Db,
    new: NewReceipt,
    user_id: Option<i64>,
    device_id: Option<i64>,
) -> Result<Receipt> {
    // Checked before the transaction begins: reading master data needs no lock, and on SQLite
    // the one writer is held only for the writes.
    let checked = check(db, new).await?;
    let mut tx = db.begin().await?;
    let receipt = write_in(&mut tx, db, checked, user_id, device_id).await?;
    tx.commit().await?;
    Ok(receipt)
}

/// A receipt whose references and lines have been checked and resolved (GS1 read, item looked
/// up), ready to write.
pub struct Checked {
    new: NewReceipt,
    lines: Vec<Resolved>,
    received_at: OffsetDateTime,
}

/// [`receive`] in the caller's transaction: the receipt, its batches and its movements commit
/// with the rest of the caller's work (a purchase order's receiving). `db` reads master data.
pub async fn receive_in(
    tx: &mut Tx,
    db: &Db,
    new: NewReceipt,
    user_id: Option<i64>,
    device_id: Option<i64>,
) -> Result<Receipt> {
    let checked = check(db, new).await?;
    write_in(tx, db, checked, user_id, device_id).await
}

/// Checks a receipt against master data and resolves its lines, reading only.
pub async fn check(db: &Db, new: NewReceipt) -> Result<Checked> {
    if new.lines.is_empty() {
        return Err(Error::invalid("lines", "at least one line is required"));
    }
    if new.lines.len() > 1000 {
        return Err(Error::invalid("lines", "at most 1000 lines per receipt"));
    }
    let location = warehouses::location(db, new.location_id)
        .await
        .map_err(|e| {
            e.missing_as_invalid(
                "location_id",
                format!("no location with id {}", new.location_id),
            )
        })?;
    if location.warehouse_id != new.warehouse_id {
        return Err(Error::invalid(
            "location_id",
            format!(
                "location {} is not in warehouse {}",
                location.code, new.warehouse_id
            ),
        ));
    }
    check_references(db, &new).await?;
    let received_at: OffsetDateTime = now();
    let today = received_at.date();
    // Lines are resolved (GS1 read, item looked up) before the transaction starts: reading
    // master data needs no lock.
    let mut resolved = Vec::with_capacity(new.lines.len());
    for (i, line) in new.lines.iter().enumerate() {
        let line = resolve_line(db, i, line, today).await?;
        if let Some((_, expiry, _)) = &line.batch
            && fefo::is_expired(*expiry, today)
            && !new.quarantine
        {
            return Err(Error::invalid(
                format!("lines[{i}].expiry"),
                "this batch is expired: receive it with \"quarantine\": true",
            ));
        }
        resolved.push(line);
    }
    Ok(Checked {
        new,
        lines: resolved,
        received_at,
    })
}

/// Writes a checked receipt: the receipt, its batches and its movements commit together or not
/// at all.
async fn write_in(
    tx: &mut Tx,
    db: &Db,
    checked: Checked,
    user_id: Option<i64>,
    device_id: Option<i64>,
) -> Result<Receipt> {
    let Checked {
        new,
        lines: resolved,
        received_at,
    } = checked;
    let row = on_tx!(tx, tx => {
        sqlx::query_as::<_, ReceiptRow>(&format!(
            "insert into receipts (warehouse_id, location_id, purchase_order_id,
                 production_order_id, deal_id, quarantine, note, user_id, device_id, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning {COLUMNS}"
        ))
        .bind(new.warehouse_id)
        .bind(new.location_id)
        .bind(new.purchase_order_id)
        .bind(new.production_order_id)
        .bind(new.deal_id)
        .bind(new.quarantine)
        .bind(new.note.as_deref())
        .bind(user_id)
        .bind(device_id)
        .bind(received_at)
        .fetch_one(&mut *tx)
        .await?
    });
    let mut movements = Vec::with_capacity(resolved.len());
    for (i, line) in resolved.into_iter().enumerate() {
        let batch_id = match line.batch {
            Some((code, expiry, produced)) => {
                let batch = batches::find_or_create_in(
                    tx,
                    db,
                    NewBatch {
                        item_id: line.item_id,
                        code,
                        expiry_date: expiry,
                        production_date: produced,
                        received_at: Some(received_at),
                    },
                )
                .await
                .map_err(|e| relabel(e, i))?;
                if new.quarantine && batch.status == BatchStatus::Available {
                    batches::set_status_in(tx, batch.id, BatchStatus::Quarantine).await?;
                }
                Some(batch.id)
            }
            None => None,
        };
        movements.push(NewMovement {
            item_id: line.item_id,
            batch_id,
            warehouse_id: new.warehouse_id,
            location_id: new.location_id,
            quantity: line.quantity,
            kind: MovementType::Receipt,
            user_id,
            device_id,
            document_type: Some(DOCUMENT.into()),
            document_id: Some(row.id),
            deal_id: new.deal_id,
            note: new.note.clone(),
            reservation_id: None,
        });
    }
    let posted = ledger::post_in(tx, movements).await?;
    Ok(row.with(posted))
}

/// The order and deal a receipt names exist: one round trip.
async fn check_references(db: &Db, new: &NewReceipt) -> Result<()> {
    let (purchase, production, deal) = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64, i64)>(
            "select (select count(*) from purchase_orders where id = $1),
                    (select count(*) from production_orders where id = $2),
                    (select count(*) from deals where id = $3)",
        )
        .bind(new.purchase_order_id)
        .bind(new.production_order_id)
        .bind(new.deal_id)
        .fetch_one(pool)
        .await?
    });
    let mut checks = Checks::new();
    for (field, id, found) in [
        ("purchase_order_id", new.purchase_order_id, purchase),
        ("production_order_id", new.production_order_id, production),
        ("deal_id", new.deal_id, deal),
    ] {
        if let Some(id) = id {
            checks.check(found > 0, field, &format!("no record with id {id}"));
        }
    }
    checks.finish()
}

/// Names a batch error by the receipt line's own field (`lines[2].batch` for the batch's `code`).
fn relabel(e: Error, i: usize) -> Error {
    let field = |f: &str| {
        let name = match f {
            "code" => "batch",
            "expiry_date" => "expiry",
            other => other,
        };
        format!("lines[{i}].{name}")
    };
    match e {
        Error::Validation(mut errors) => {
            for err in &mut errors {
                err.field = field(&err.field);
            }
            Error::Validation(errors)
        }
        Error::Conflict {
            field: Some(f),
            detail,
        } => Error::Conflict {
            field: Some(field(&f)),
            detail,
        },
        other => other,
    }
}
