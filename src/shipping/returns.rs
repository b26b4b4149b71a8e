//! Customer returns: goods shipped for a deal coming back. Each line goes back into the batch it
//! was shipped from (`return` movement) when in good condition, or comes back and is written off
//! with its reason (`return` then `write_off`, so the ledger shows both). Nothing can be returned
//! that was not shipped for the deal: the ledger's `ship` movements for the deal, less what was
//! already returned, are the limit per item and batch.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::catalog::warehouses;
use crate::db::{Arg, Db, Page, Paged, Tx, Where, now};
use crate::error::{Checks, Error, Result};
use crate::stock::batches;
use crate::stock::ledger::{self, LedgerFilter, Movement, MovementType, NewMovement};
use crate::stock::operations::Actor;
use crate::{bind_args, on_read, on_tx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// Back to stock, into its batch.
    Good,
    /// Written off with the line's reason.
    Damaged,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ReturnLine {
    pub item_id: i64,
    #[serde(default)]
    pub batch_id: Option<i64>,
    /// Batch code, instead of `batch_id`. May be left out when the deal received one batch of
    /// the item.
    #[serde(default)]
    pub batch: Option<String>,
    /// Base units, positive.
    pub quantity: i64,
    pub condition: Condition,
    /// Why it came back; required when damaged.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewReturn {
    /// The deal the goods were shipped for; default: the shipment's.
    #[serde(default)]
    pub deal_id: Option<i64>,
    /// The shipment the goods came from (one of the deal's).
    #[serde(default)]
    pub shipment_id: Option<i64>,
    /// Default: the shipment's warehouse.
    #[serde(default)]
    pub warehouse_id: Option<i64>,
    /// Where good goods are put back (and damaged ones are booked before the write-off);
    /// default: where the shipment left from (its packing location).
    #[serde(default)]
    pub location_id: Option<i64>,
    pub lines: Vec<ReturnLine>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A return as the API takes it: a [`NewReturn`] whose lines may each name their deal.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ReturnRequest {
    /// The deal the goods were shipped for; default: the shipment's (against a shipment of
    /// several deals, each line's).
    #[serde(default)]
    pub deal_id: Option<i64>,
    /// The shipment the goods came from (one of the deal's).
    #[serde(default)]
    pub shipment_id: Option<i64>,
    /// Default: the shipment's warehouse.
    #[serde(default)]
    pub warehouse_id: Option<i64>,
    /// Where good goods are put back (and damaged ones are booked before the write-off);
    /// default: where the shipment left from (its packing location).
    #[serde(default)]
    pub location_id: Option<i64>,
    pub lines: Vec<RequestedLine>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A returned line that may name its deal.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RequestedLine {
    /// The deal the goods were shipped for. Default: the return's `deal_id`; against a
    /// shipment of several deals, the one deal that shipped this item (and batch) in it
    /// (422 naming `lines[i].deal_id` when several did).
    #[serde(default)]
    pub deal_id: Option<i64>,
    #[serde(flatten)]
    pub line: ReturnLine,
}

impl ReturnRequest {
    /// The return and each line's deal, when named.
    pub fn split(self) -> (NewReturn, Vec<Option<i64>>) {
        let deals = self.lines.iter().map(|l| l.deal_id).collect();
        (
            NewReturn {
                deal_id: self.deal_id,
                shipment_id: self.shipment_id,
                warehouse_id: self.warehouse_id,
                location_id: self.location_id,
                lines: self.lines.into_iter().map(|l| l.line).collect(),
                note: self.note,
            },
            deals,
        )
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Return {
    pub id: i64,
    /// The deal the return was booked for (the first of `deal_ids`).
    pub deal_id: i64,
    /// Every deal whose goods came back in it, in id order.
    pub deal_ids: Vec<i64>,
    pub shipment_id: Option<i64>,
    pub warehouse_id: i64,
    pub location_id: i64,
    pub note: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// `return` movements (and `write_off` for damaged goods), in line order.
    pub movements: Vec<Movement>,
}

#[derive(sqlx::FromRow)]
struct ReturnRow {
    id: i64,
    deal_id: i64,
    shipment_id: Option<i64>,
    warehouse_id: i64,
    location_id: i64,
    note: Option<String>,
    created_at: OffsetDateTime,
}

const COLUMNS: &str = "id, deal_id, shipment_id, warehouse_id, location_id, note, created_at";

/// What a deal may still return, per (item, batch key): shipped less returned.
async fn returnable(tx: &mut Tx, deal_id: i64) -> Result<HashMap<(i64, i64), i64>> {
    let rows = on_tx!(tx, tx => {
        sqlx::query_as::<_, (i64, i64, i64)>(
            "select item_id, coalesce(batch_id, 0), cast(sum(-quantity) as bigint)
             from stock_movements
             where deal_id = $1 and movement_type in ('ship', 'return')
             group by item_id, coalesce(batch_id, 0)",
        )
        .bind(deal_id)
        .fetch_all(&mut *tx)
        .await?
    });
    Ok(rows.into_iter().map(|(i, b, q)| ((i, b), q)).collect())
}

/// Books a return and posts its movements, in one transaction.
pub async fn create(db: &Db, new: NewReturn, actor: Actor) -> Result<Return> {
    create_requested(db, new, &[], actor).await
}

/// [`create`] with each line's deal where named (`deals[i]` for `new.lines[i]`).
pub async fn create_requested(
    db: &Db,
    new: NewReturn,
    deals: &[Option<i64>],
    actor: Actor,
) -> Result<Return> {
    let mut tx = db.begin().await?;
    let r = create_in(&mut tx, db, new, deals, actor).await?;
    tx.commit().await?;
    Ok(r)
}

/// [`create`] in the caller's transaction: the deal takes its turn (returns of one deal go one
/// after another), so what it may still return is read as it stands and nothing comes back
/// more than it was shipped; the return and its movements are written together.
pub async fn create_in(
    tx: &mut Tx,
    db: &Db,
    new: NewReturn,
    deals: &[Option<i64>],
    actor: Actor,
) -> Result<Return> {
    check_lines(&new)?;
    let named = |i: usize| deals.get(i).copied().flatten();
    let mut origin = origin(tx, db, &new, named(0)).await?;
    let line_deals = line_deals(tx, &new, deals, &origin).await?;
    if new.deal_id.is_none() {
        // Booked for the first deal whose goods came back, not for a deal of the shipment none
        // of whose lines are in it.
        origin.deal_id = line_deals.iter().copied().min().unwrap_or(origin.deal_id);
    }
    let mut locked: Vec<i64> = line_deals.clone();
    locked.push(origin.deal_id);
    locked.sort_unstable();
    locked.dedup();
    // Deals take their turns in id order, so two returns of the same deals never wait crosswise.
    let mut left = HashMap::new();
    for deal_id in locked {
        match crate::crm::deals::lock(tx, deal_id, None).await {
            Ok(_) => {}
            Err(Error::NotFound { .. }) => {
                let field = match deals.iter().position(|d| *d == Some(deal_id)) {
                    Some(i) => format!("lines[{i}].deal_id"),
                    None => "deal_id".into(),
                };
                return Err(Error::invalid(field, format!("no deal with id {deal_id}")));
            }
            Err(e) => return Err(e),
        }
        left.insert(deal_id, returnable(tx, deal_id).await?);
    }
    let mut batches_of_lines = Vec::with_capacity(new.lines.len());
    for (i, line) in new.lines.iter().enumerate() {
        let deal_id = line_deals[i];
        let of_deal = left.entry(deal_id).or_default();
        batches_of_lines.push(returned_batch(tx, i, line, deal_id, of_deal).await?);
    }
    let at = now();
    let id = on_tx!(tx, tx => {
        sqlx::query_scalar::<_, i64>(
            "insert into stock_returns (deal_id, shipment_id, warehouse_id, location_id, status,
                 note, created_by, created_by_device, created_at)
             values ($1, $2, $3, $4, 'posted', $5, $6, $7, $8) returning id",
        )
        .bind(origin.deal_id)
        .bind(new.shipment_id)
        .bind(origin.warehouse_id)
        .bind(origin.location_id)
        .bind(new.note.as_deref().map(str::trim))
        .bind(actor.user_id)
        .bind(actor.device_id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?
    });
    let movements = return_movements(&new, &batches_of_lines, &line_deals, &origin, id, actor);
    let posted = ledger::post_in(tx, movements).await.map_err(relabel)?;
    let mut deal_ids = line_deals.clone();
    deal_ids.push(origin.deal_id);
    deal_ids.sort_unstable();
    deal_ids.dedup();
    Ok(Return {
        id,
        deal_id: origin.deal_id,
        deal_ids,
        shipment_id: new.shipment_id,
        warehouse_id: origin.warehouse_id,
        location_id: origin.location_id,
        note: new.note,
        created_at: at,
        movements: posted,
    })
}

fn check_lines(new: &NewReturn) -> Result<()> {
    let mut checks = Checks::new();
    checks.check(
        !new.lines.is_empty(),
        "lines",
        "at least one line is required",
    );
    checks.check(
        new.lines.len() <= 1000,
        "lines",
        "at most 1000 lines per return",
    );
    checks.opt_text("note", new.note.as_deref(), 2000);
    for (i, line) in new.lines.iter().enumerate() {
        checks.positive(&format!("lines[{i}].quantity"), line.quantity);
        checks.check(
            line.quantity <= ledger::MAX_QUANTITY,
            &format!("lines[{i}].quantity"),
            "is larger than any stock can be",
        );
        match line.condition {
            Condition::Damaged => checks.text(
                &format!("lines[{i}].reason"),
                line.reason.as_deref().unwrap_or(""),
                200,
            ),
            Condition::Good => {
                checks.opt_text(&format!("lines[{i}].reason"), line.reason.as_deref(), 200)
            }
        }
    }
    checks.finish()
}

/// Where a return comes from and goes to.
struct Origin {
    deal_id: i64,
    warehouse_id: i64,
    location_id: i64,
    /// The deals of the shipment it comes back from (empty without one).
    shipment_deals: Vec<i64>,
}

/// The deal, warehouse and location of a return: as given, else (against a shipment) the
/// shipment's deal and warehouse and the location it left from.
async fn origin(
    tx: &mut Tx,
    db: &Db,
    new: &NewReturn,
    first_line_deal: Option<i64>,
) -> Result<Origin> {
    let shipped = match new.shipment_id {
        Some(shipment) => {
            let row = on_tx!(tx, tx => {
                sqlx::query_as::<_, (i64, i64, Option<i64>)>(
                    "select s.deal_id, s.warehouse_id,
                            (select m.location_id from stock_movements m
                             where m.document_type = 'shipment' and m.document_id = s.id
                             order by m.id limit 1)
                     from shipments s where s.id = $1",
                )
                .bind(shipment)
                .fetch_optional(&mut *tx)
                .await?
            })
            .ok_or_else(|| {
                Error::invalid("shipment_id", format!("no shipment with id {shipment}"))
            })?;
            let deals = on_tx!(tx, tx => {
                sqlx::query_scalar::<_, i64>(
                    "select deal_id from shipment_deals where shipment_id = $1
                     union select deal_id from shipments where id = $1 order by 1",
                )
                .bind(shipment)
                .fetch_all(&mut *tx)
                .await?
            });
            if let Some(d) = new.deal_id
                && !deals.contains(&d)
            {
                return Err(Error::invalid(
                    "shipment_id",
                    format!("shipment {shipment} is not deal {d}'s"),
                ));
            }
            Some((row, deals))
        }
        None => None,
    };
    let (shipped, shipment_deals) = match shipped {
        Some((row, deals)) => (Some(row), deals),
        None => (None, Vec::new()),
    };
    // A return against a shipment of several deals needs no deal of its own: it is booked for
    // the deal its first line names, else the shipment's first.
    let required = |given: Option<i64>, default: Option<i64>, field: &str| {
        given
            .or(default)
            .ok_or_else(|| Error::invalid(field, "is required (or shipment_id, whose it then is)"))
    };
    let origin = Origin {
        deal_id: required(
            new.deal_id,
            if shipment_deals.len() > 1 {
                first_line_deal.or(shipped.map(|s| s.0))
            } else {
                shipped.map(|s| s.0).or(first_line_deal)
            },
            "deal_id",
        )?,
        warehouse_id: required(new.warehouse_id, shipped.map(|s| s.1), "warehouse_id")?,
        location_id: required(new.location_id, shipped.and_then(|s| s.2), "location_id")?,
        shipment_deals,
    };
    let location = match warehouses::location(db, origin.location_id).await {
        Ok(location) => location,
        Err(Error::NotFound { .. }) => {
            return Err(Error::invalid(
                "location_id",
                format!("no location with id {}", origin.location_id),
            ));
        }
        Err(e) => return Err(e),
    };
    if location.warehouse_id != origin.warehouse_id {
        return Err(Error::invalid(
            "location_id",
            format!(
                "location {} is not in warehouse {}",
                location.code, origin.warehouse_id
            ),
        ));
    }
    Ok(origin)
}

/// The deal of each line: as named (one of the shipment's deals), else the return's own deal
/// when it names one or its shipment carries one deal, else the one deal of the shipment that
/// shipped the line's item (and batch) in it.
async fn line_deals(
    tx: &mut Tx,
    new: &NewReturn,
    named: &[Option<i64>],
    origin: &Origin,
) -> Result<Vec<i64>> {
    let several = origin.shipment_deals.len() > 1;
    let mut out = Vec::with_capacity(new.lines.len());
    for (i, line) in new.lines.iter().enumerate() {
        let field = format!("lines[{i}].deal_id");
        let deal_id = match named.get(i).copied().flatten() {
            Some(d) => {
                if new.shipment_id.is_some() && !origin.shipment_deals.contains(&d) {
                    return Err(Error::invalid(
                        field,
                        format!(
                            "deal {d} did not ship in shipment {}",
                            new.shipment_id.unwrap_or_default()
                        ),
                    ));
                }
                if new.shipment_id.is_none() && d != origin.deal_id {
                    return Err(Error::invalid(
                        field,
                        format!("is not the return's deal {}", origin.deal_id),
                    ));
                }
                d
            }
            None if new.deal_id.is_some() || !several => origin.deal_id,
            None => {
                let shipment = new.shipment_id.unwrap_or_default();
                let batch = match (line.batch_id, line.batch.as_deref().map(str::trim)) {
                    (Some(id), _) => Some(id),
                    (None, Some(code)) if !code.is_empty() => {
                        batches::by_code_in(tx, line.item_id, code)
                            .await?
                            .map(|b| b.id)
                    }
                    _ => None,
                };
                let shippers = on_tx!(tx, tx => {
                    sqlx::query_scalar::<_, i64>(
                        "select distinct deal_id from stock_movements
                         where document_type = 'shipment' and document_id = $1
                           and movement_type = 'ship' and item_id = $2
                           and ($3 is null or batch_id = $3) and deal_id is not null
                         order by deal_id",
                    )
                    .bind(shipment)
                    .bind(line.item_id)
                    .bind(batch)
                    .fetch_all(&mut *tx)
                    .await?
                });
                match shippers.as_slice() {
                    [one] => *one,
                    [] => {
                        return Err(Error::invalid(
                            format!("lines[{i}].item_id"),
                            format!(
                                "shipment {shipment} shipped no item {} of that batch",
                                line.item_id
                            ),
                        ));
                    }
                    several => {
                        return Err(Error::invalid(
                            field,
                            format!(
                                "deals {several:?} shipped item {} in shipment {shipment}: name the deal",
                                line.item_id
                            ),
                        ));
                    }
                }
            }
        };
        out.push(deal_id);
    }
    Ok(out)
}

/// The batch line `i` goes back into (given, or the deal's only batch of the item), checked
/// against what the deal may still return, which it then uses up.
async fn returned_batch(
    tx: &mut Tx,
    i: usize,
    line: &ReturnLine,
    deal_id: i64,
    left: &mut HashMap<(i64, i64), i64>,
) -> Result<Option<i64>> {
    let field = |name: &str| format!("lines[{i}].{name}");
    let batch_id = match (line.batch_id, line.batch.as_deref().map(str::trim)) {
        (Some(id), _) => Some(id),
        (None, Some(code)) if !code.is_empty() => Some(
            batches::by_code_in(tx, line.item_id, code)
                .await?
                .ok_or_else(|| {
                    Error::invalid(
                        field("batch"),
                        format!("item {} has no batch '{code}'", line.item_id),
                    )
                })?
                .id,
        ),
        _ => {
            // The deal's only batch of this item, when there is exactly one.
            let shipped: Vec<i64> = left
                .iter()
                .filter(|((item, _), q)| *item == line.item_id && **q > 0)
                .map(|((_, b), _)| *b)
                .collect();
            match shipped.as_slice() {
                [0] | [] => None,
                [b] => Some(*b),
                _ => {
                    return Err(Error::invalid(
                        field("batch"),
                        format!(
                            "deal {deal_id} received several batches of item {}: name the batch",
                            line.item_id
                        ),
                    ));
                }
            }
        }
    };
    let key = (line.item_id, batch_id.unwrap_or(0));
    let available = left.get(&key).copied().unwrap_or(0);
    if line.quantity > available {
        let what = batch_id
            .map(|b| format!("item {} batch {b}", line.item_id))
            .unwrap_or_else(|| format!("item {}", line.item_id));
        return Err(Error::invalid(
            field("quantity"),
            format!(
                "deal {deal_id} can return at most {available} of {what} (shipped less returned)"
            ),
        ));
    }
    left.insert(key, available - line.quantity);
    Ok(batch_id)
}

/// Each line comes back (`return`), and damaged goods are written off with their reason.
fn return_movements(
    new: &NewReturn,
    batches_of_lines: &[Option<i64>],
    deals_of_lines: &[i64],
    origin: &Origin,
    id: i64,
    actor: Actor,
) -> Vec<NewMovement> {
    let movement =
        |line: &ReturnLine, deal_id: i64, batch_id: Option<i64>, quantity: i64, kind| NewMovement {
            item_id: line.item_id,
            batch_id,
            warehouse_id: origin.warehouse_id,
            location_id: origin.location_id,
            quantity,
            kind,
            user_id: actor.user_id,
            device_id: actor.device_id,
            document_type: Some("return".into()),
            document_id: Some(id),
            deal_id: Some(deal_id),
            note: line.reason.as_deref().map(str::trim).map(str::to_string),
            reservation_id: None,
        };
    let mut movements = Vec::new();
    for ((line, batch_id), deal_id) in new.lines.iter().zip(batches_of_lines).zip(deals_of_lines) {
        movements.push(movement(
            line,
            *deal_id,
            *batch_id,
            line.quantity,
            MovementType::Return,
        ));
        if line.condition == Condition::Damaged {
            movements.push(movement(
                line,
                *deal_id,
                *batch_id,
                -line.quantity,
                MovementType::WriteOff,
            ));
        }
    }
    movements
}

/// Ledger errors name plain fields (`batch_id`); a return's lines are `lines[i]`.
fn relabel(e: Error) -> Error {
    match e {
        Error::Validation(mut v) => {
            for f in &mut v {
                if !f.field.starts_with("lines") {
                    f.field = format!("lines.{}", f.field);
                }
            }
            Error::Validation(v)
        }
        other => other,
    }
}

async fn with_movements(db: &Db, row: ReturnRow) -> Result<Return> {
    let movements = ledger::ledger(
        db,
        &LedgerFilter {
            document_type: Some("return".into()),
            document_id: Some(row.id),
            ..Default::default()
        },
        Page::first(Page::MAX_LIMIT),
    )
    .await?
    .items;
    let mut deal_ids: Vec<i64> = movements.iter().filter_map(|m| m.deal_id).collect();
    deal_ids.push(row.deal_id);
    deal_ids.sort_unstable();
    deal_ids.dedup();
    Ok(Return {
        id: row.id,
        deal_id: row.deal_id,
        deal_ids,
        shipment_id: row.shipment_id,
        warehouse_id: row.warehouse_id,
        location_id: row.location_id,
        note: row.note,
        created_at: row.created_at,
        movements,
    })
}

pub async fn get(db: &Db, id: i64) -> Result<Return> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, ReturnRow>(&format!(
            "select {COLUMNS} from stock_returns where id = $1 and status = 'posted'"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await?
    })
    .ok_or_else(|| Error::not_found("return", id))?;
    with_movements(db, row).await
}

/// The data of the return's A4 return note (template `return-note`): its number `RN-<id>`, its
/// barcode `DPT-RET-<id>`, the deal, the shipment, the customer, the warehouse and one line per
/// returned line (a `return` movement, `damaged` when a write-off of it follows) with its deal.
pub async fn document_data(db: &Db, id: i64) -> Result<serde_json::Value> {
    let ret = get(db, id).await?;
    let warehouse = warehouses::get(db, ret.warehouse_id).await?;
    let location = warehouses::location(db, ret.location_id).await?;
    let customer = on_read!(db, pool => {
        sqlx::query_scalar::<_, String>(
            "select c.legal_name from deals d join customers c on c.id = d.customer_id
             where d.id = $1",
        )
        .bind(ret.deal_id)
        .fetch_one(pool)
        .await?
    });
    let shipment = match ret.shipment_id {
        Some(shipment) => {
            let tracking = on_read!(db, pool => {
                sqlx::query_scalar::<_, Option<String>>(
                    "select tracking_number from shipments where id = $1",
                )
                .bind(shipment)
                .fetch_optional(pool)
                .await?
            })
            .flatten();
            serde_json::json!({"reference": format!("DPT-SHIP-{shipment}"), "tracking": tracking})
        }
        None => serde_json::json!({}),
    };
    // Movements come in line order: each line's `return`, then its `write_off` when damaged.
    let mut lines: Vec<serde_json::Value> = Vec::new();
    let mut items = HashMap::new();
    for m in &ret.movements {
        match m.kind {
            MovementType::Return => {
                if let std::collections::hash_map::Entry::Vacant(e) = items.entry(m.item_id) {
                    e.insert(crate::catalog::items::get(db, m.item_id).await?);
                }
                let item = &items[&m.item_id];
                let batch = match m.batch_id {
                    Some(b) => Some(batches::get(db, b).await?),
                    None => None,
                };
                // Against a shipment of several deals each line names its own.
                let deal = m.deal_id.unwrap_or(ret.deal_id);
                lines.push(serde_json::json!({
                    "deal": format!("DPT-DEAL-{deal}"),
                    "item_code": item.code, "item_name": item.name,
                    "batch": batch.as_ref().map(|b| b.code.clone()),
                    "expiry": batch.as_ref().and_then(|b| b.expiry_date).map(|d| d.to_string()),
                    "quantity": m.quantity, "unit": item.unit,
                    "condition": "good", "reason": m.note,
                }));
            }
            MovementType::WriteOff => {
                if let Some(line) = lines.last_mut() {
                    line["condition"] = "damaged".into();
                }
            }
            _ => {}
        }
    }
    Ok(serde_json::json!({
        "document": {
            "number": format!("RN-{id}"),
            "code": format!("DPT-RET-{id}"),
            "date": ret.created_at.date().to_string(),
        },
        "deal": {"reference": format!("DPT-DEAL-{}", ret.deal_id)},
        "shipment": shipment,
        "customer": {"name": customer},
        "warehouse": {"name": warehouse.name, "address": warehouse.address},
        "location": {"code": location.code},
        "note": ret.note,
        "lines": lines,
    }))
}

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReturnFilter {
    pub deal_id: Option<i64>,
    pub shipment_id: Option<i64>,
}

/// Posted returns, oldest first, paged by id.
pub async fn list(db: &Db, filter: &ReturnFilter, page: Page) -> Result<Paged<Return>> {
    let mut w = Where::default();
    w.add("id > $?", Arg::Int(page.after));
    w.clauses.push("status = 'posted'".into());
    w.int("deal_id = $?", filter.deal_id);
    w.int("shipment_id = $?", filter.shipment_id);
    let limit = w.next();
    w.args.push(Arg::Int(page.fetch_limit()));
    let sql = format!(
        "select {COLUMNS} from stock_returns where {} order by id limit ${limit}",
        w.sql()
    );
    let rows = on_read!(db, pool => {
        bind_args!(sqlx::query_as::<_, ReturnRow>(&sql), &w.args)
            .fetch_all(pool)
            .await?
    });
    let paged = Paged::from_rows(rows, page, |r| r.id);
    let mut items = Vec::with_capacity(paged.items.len());
    for row in paged.items {
        items.push(with_movements(db, row).await?);
    }
    Ok(Paged {
        items,
        next_after: paged.next_after,
    })
}
