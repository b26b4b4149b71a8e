//! Receiving goods into a location: explicit lines or raw GS1 scans, each becoming a batch (when
//! tracked) and a `receipt` movement, all in one transaction.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::catalog::items::{self, Tracking};
use crate::catalog::warehouses;
use crate::db::{Db, now};
use crate::error::{Checks, Error, Result};
use crate::stock::batches::{self, BatchStatus, NewBatch};
use crate::stock::fefo;
use crate::stock::ledger::{self, Movement, MovementType, NewMovement};

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

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Receipt {
    pub movements: Vec<Movement>,
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
    let item = items::get(db, item_id)
        .await
        .map_err(|_| Error::invalid(field("item_id"), format!("no item with id {item_id}")))?;
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
            expiry = Some(today.saturating_add(time::Duration::days(days)));
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
    if new.lines.is_empty() {
        return Err(Error::invalid("lines", "at least one line is required"));
    }
    if new.lines.len() > 1000 {
        return Err(Error::invalid("lines", "at most 1000 lines per receipt"));
    }
    let location = warehouses::location(db, new.location_id)
        .await
        .map_err(|_| {
            Error::invalid(
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
    let received_at: OffsetDateTime = now();
    let today = received_at.date();
    let mut movements = Vec::with_capacity(new.lines.len());
    for (i, line) in new.lines.iter().enumerate() {
        let resolved = resolve_line(db, i, line, today).await?;
        let batch_id = match resolved.batch {
            Some((code, expiry, produced)) => {
                if fefo::is_expired(expiry, today) && !new.quarantine {
                    return Err(Error::invalid(
                        format!("lines[{i}].expiry"),
                        "this batch is expired: receive it with \"quarantine\": true",
                    ));
                }
                let batch = batches::find_or_create(
                    db,
                    NewBatch {
                        item_id: resolved.item_id,
                        code,
                        expiry_date: expiry,
                        production_date: produced,
                        received_at: Some(received_at),
                    },
                )
                .await
                .map_err(|e| relabel(e, i))?;
                if new.quarantine && batch.status == BatchStatus::Available {
                    batches::set_status(db, batch.id, BatchStatus::Quarantine).await?;
                }
                Some(batch.id)
            }
            None => None,
        };
        let (document_type, document_id) = match (new.purchase_order_id, new.production_order_id) {
            (Some(id), _) => (Some("purchase_order".to_string()), Some(id)),
            (None, Some(id)) => (Some("production_order".to_string()), Some(id)),
            _ => (Some("receipt".to_string()), None),
        };
        movements.push(NewMovement {
            item_id: resolved.item_id,
            batch_id,
            warehouse_id: new.warehouse_id,
            location_id: new.location_id,
            quantity: resolved.quantity,
            kind: MovementType::Receipt,
            user_id,
            device_id,
            document_type,
            document_id,
            deal_id: new.deal_id,
            note: new.note.clone(),
            reservation_id: None,
        });
    }
    Ok(Receipt {
        movements: ledger::post(db, movements).await?,
    })
}

/// Puts a line index in front of a batch error's field.
fn relabel(e: Error, i: usize) -> Error {
    match e {
        Error::Validation(mut errors) => {
            for err in &mut errors {
                err.field = format!("lines[{i}].{}", err.field);
            }
            Error::Validation(errors)
        }
        Error::Conflict {
            field: Some(f),
            detail,
        } => Error::Conflict {
            field: Some(format!("lines[{i}].{f}")),
            detail,
        },
        other => other,
    }
}
