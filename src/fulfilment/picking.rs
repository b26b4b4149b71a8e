//! Pick lists and scan-verified picking.
//!
//! A pick list takes the deals' reservations in a warehouse (each already pinned to a batch and
//! location by the FEFO rule when it was made) as its lines, in pick-route order
//! (`locations.pick_sequence`), so a picker walks the warehouse once. Scanning checks every
//! pick: the location first, then the goods (a GS1 code carrying GTIN and batch, or an
//! EAN/alias with the batch given). A confirmed pick posts two `pick` movements in one
//! transaction, from the bin (consuming the line's reservation) to the packing location, where
//! the goods stay reserved for the deal line: a new reservation is made there in the same
//! transaction. A different batch is accepted only when it is as good or better by FEFO (not
//! expired, enough shelf life left, expiring no later than the planned one); the swap is
//! recorded by moving the reservation to the scanned batch.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::catalog::warehouses;
use crate::db::{Arg, Db, now};
use crate::error::{Error, Result};
use crate::stock::batches;
use crate::stock::fefo;
use crate::stock::ledger::{self, Guard, Movement, MovementType, NewMovement};
use crate::stock::operations::Actor;
use crate::stock::reservations::{self, BalanceKey, Holder};
use crate::{in_tx, on_read};

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewPickList {
    /// The deals to pick; or all won deals with reservations in `warehouse_id`.
    #[serde(default)]
    pub deal_ids: Option<Vec<i64>>,
    /// Default: the warehouse the deals' reservations are in (or the only warehouse).
    #[serde(default)]
    pub warehouse_id: Option<i64>,
    /// Where picked goods go (still reserved for their deals) until they are packed; default:
    /// the warehouse's location `PACKING`, created on first use.
    #[serde(default)]
    pub packing_location_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct PickLine {
    pub id: i64,
    pub sequence: i64,
    pub deal_id: i64,
    pub deal_line_id: i64,
    pub item_id: i64,
    pub item_code: String,
    pub item_name: String,
    pub location_id: i64,
    pub location_code: String,
    pub batch_id: Option<i64>,
    pub batch_code: Option<String>,
    pub expiry_date: Option<Date>,
    pub quantity: i64,
    pub picked: i64,
    /// Missing from the shelf (reported as a short pick, re-planned from other stock).
    pub short: i64,
}

impl PickLine {
    /// Left to pick on the line.
    pub fn remaining(&self) -> i64 {
        self.quantity - self.picked - self.short
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PickList {
    pub id: i64,
    /// The pick list's own barcode (`DPT-PICK-<id>`).
    pub code: String,
    pub warehouse_id: i64,
    pub packing_location_id: i64,
    /// `open`, `done` (everything picked) or `cancelled`.
    pub status: String,
    pub current_location_id: Option<i64>,
    pub lines: Vec<PickLine>,
    pub quantity: i64,
    pub picked: i64,
    /// Reported missing on short picks.
    pub short: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl PickList {
    /// Left to pick on the whole list.
    pub fn remaining(&self) -> i64 {
        self.quantity - self.picked - self.short
    }
}

/// A reservation still to pick: what becomes a line.
#[derive(sqlx::FromRow)]
struct ToPick {
    reservation_id: i64,
    deal_id: i64,
    deal_line_id: i64,
    item_id: i64,
    location_id: i64,
    batch_id: Option<i64>,
    quantity: i64,
    /// The location's place on the pick route, then its code: the walking order.
    pick_sequence: i64,
    location_code: String,
}

#[derive(sqlx::FromRow)]
struct ListRow {
    id: i64,
    warehouse_id: i64,
    packing_location_id: i64,
    status: String,
    current_location_id: Option<i64>,
    created_at: OffsetDateTime,
}

/// The warehouse of a pick list given no `warehouse_id`: the one the deals' reservations are in
/// (they must agree), or the only warehouse.
async fn default_warehouse(db: &Db, deal_ids: Option<&[i64]>) -> Result<i64> {
    let mut found = std::collections::BTreeSet::new();
    for deal in deal_ids.unwrap_or_default() {
        let rows = on_read!(db, pool => {
            sqlx::query_scalar::<_, i64>(
                "select distinct warehouse_id from reservations where deal_id = $1 and quantity > 0",
            )
            .bind(deal)
            .fetch_all(pool)
            .await?
        });
        found.extend(rows);
    }
    match found.len() {
        1 => Ok(found.into_iter().next().unwrap_or_default()),
        0 => crate::catalog::warehouses::only_warehouse(db)
            .await?
            .ok_or_else(|| {
                Error::invalid(
                    "warehouse_id",
                    "is required: there are several warehouses and the deals hold no stock yet",
                )
            }),
        _ => Err(Error::invalid(
            "warehouse_id",
            "is required: the deals hold stock in several warehouses",
        )),
    }
}

/// The code of the location picked goods go to when a pick list names none.
pub const PACKING_CODE: &str = "PACKING";

/// The warehouse's `PACKING` location, created on first use (a concurrent creation is found
/// again).
async fn packing_location(db: &Db, warehouse_id: i64) -> Result<i64> {
    let find = || async {
        Ok::<_, Error>(on_read!(db, pool => {
            sqlx::query_scalar::<_, i64>(
                "select id from locations where warehouse_id = $1 and code = $2",
            )
            .bind(warehouse_id)
            .bind(PACKING_CODE)
            .fetch_optional(pool)
            .await?
        }))
    };
    if let Some(id) = find().await? {
        return Ok(id);
    }
    match warehouses::create_location(
        db,
        warehouse_id,
        warehouses::NewLocation {
            code: PACKING_CODE.into(),
            barcode: None,
            pick_sequence: 0,
        },
    )
    .await
    {
        Ok(l) => Ok(l.id),
        Err(e) => find().await?.ok_or(e),
    }
}

/// Adds `picks` to pick list `id` as lines numbered from `first`, in the transaction `tx` (a
/// macro: the transaction's type differs per backend).
macro_rules! insert_lines {
    ($tx:ident, $id:expr, $picks:expr, $first:expr) => {
        for (i, p) in $picks.iter().enumerate() {
            sqlx::query(
                "insert into pick_list_lines (pick_list_id, sequence, deal_id, deal_line_id, item_id,
                     location_id, batch_id, reservation_id, quantity, picked)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)",
            )
            .bind($id)
            .bind($first + i as i64)
            .bind(p.deal_id)
            .bind(p.deal_line_id)
            .bind(p.item_id)
            .bind(p.location_id)
            .bind(p.batch_id)
            .bind(p.reservation_id)
            .bind(p.quantity)
            .execute(&mut *$tx)
            .await?;
        }
    };
}

/// Creates a pick list from the deals' reservations in the warehouse that are not at the
/// packing location and not on another open pick list.
pub async fn create(db: &Db, new: NewPickList, user_id: Option<i64>) -> Result<PickList> {
    let warehouse_id = match new.warehouse_id {
        Some(w) => {
            warehouses::get(db, w)
                .await
                .map_err(|_| Error::invalid("warehouse_id", format!("no warehouse with id {w}")))?;
            w
        }
        None => default_warehouse(db, new.deal_ids.as_deref()).await?,
    };
    let packing_location_id = match new.packing_location_id {
        Some(l) => l,
        None => packing_location(db, warehouse_id).await?,
    };
    let packing = warehouses::location(db, packing_location_id)
        .await
        .map_err(|_| {
            Error::invalid(
                "packing_location_id",
                format!("no location with id {packing_location_id}"),
            )
        })?;
    if packing.warehouse_id != warehouse_id {
        return Err(Error::invalid(
            "packing_location_id",
            format!(
                "location {} is not in warehouse {warehouse_id}",
                packing.code
            ),
        ));
    }
    let deal_ids: Vec<i64> = match new.deal_ids {
        Some(ids) if ids.is_empty() => {
            return Err(Error::invalid("deal_ids", "must not be empty"));
        }
        Some(ids) => {
            for (i, id) in ids.iter().enumerate() {
                if crate::crm::deals::title_of(db, *id).await?.is_none() {
                    return Err(Error::invalid(
                        format!("deal_ids[{i}]"),
                        format!("no deal with id {id}"),
                    ));
                }
            }
            ids
        }
        None => on_read!(db, pool => {
            sqlx::query_scalar::<_, i64>(
                "select distinct r.deal_id from reservations r join deals d on d.id = r.deal_id
                 where d.status = 'won' and r.warehouse_id = $1 and r.quantity > 0
                   and r.location_id <> $2 order by r.deal_id",
            )
            .bind(warehouse_id)
            .bind(packing_location_id)
            .fetch_all(pool)
            .await?
        }),
    };
    let picks = to_pick(db, &deal_ids, warehouse_id, packing_location_id, None).await?;
    if picks.is_empty() {
        return Err(Error::conflict(
            "deal_ids",
            "nothing to pick: the deals hold no reserved stock outside the packing location",
        ));
    }
    let at = now();
    let id = in_tx!(db, tx => {
        let id: i64 = sqlx::query_scalar(
            "insert into pick_lists (warehouse_id, packing_location_id, status, created_by, created_at, updated_at)
             values ($1, $2, 'open', $3, $4, $4) returning id",
        )
        .bind(warehouse_id)
        .bind(packing_location_id)
        .bind(user_id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        insert_lines!(tx, id, picks, 1);
        id
    });
    get(db, id).await
}

/// The locations where a deal's picked goods wait: the packing locations of its pick lists.
/// What a deal holds there is picked (the one definition, used by pick lists and the fulfilment
/// view). `deal` is the SQL expression of the deal's id.
pub(crate) fn packing_locations_of(deal: &str) -> String {
    format!(
        "select pl.packing_location_id from pick_lists pl
         join pick_list_lines p on p.pick_list_id = pl.id where p.deal_id = {deal}"
    )
}

/// The deals' reservations in the warehouse still to pick (outside the packing location and
/// outside every location where goods picked for the deal wait, less what open pick lists
/// already hold of them), in pick-route order; `deal_line` narrows to one line.
async fn to_pick(
    db: &Db,
    deal_ids: &[i64],
    warehouse_id: i64,
    packing_location_id: i64,
    deal_line: Option<i64>,
) -> Result<Vec<ToPick>> {
    let mut picks: Vec<ToPick> = Vec::new();
    for deal in deal_ids {
        let rows = on_read!(db, pool => {
            sqlx::query_as::<_, ToPick>(&format!(
                "select r.id as reservation_id, r.deal_id, r.deal_line_id, r.item_id, r.location_id,
                        r.batch_id,
                        r.quantity - coalesce((select cast(sum(p.quantity - p.picked - p.short) as bigint)
                                               from pick_list_lines p
                                               join pick_lists pl on pl.id = p.pick_list_id
                                               where p.reservation_id = r.id and pl.status = 'open'), 0)
                        as quantity,
                        l.pick_sequence, l.code as location_code
                 from reservations r join locations l on l.id = r.location_id
                 where r.deal_id = $1 and r.warehouse_id = $2 and r.quantity > 0
                   and r.location_id <> $3 and r.deal_line_id is not null
                   and ($4 is null or r.deal_line_id = $4)
                   and r.location_id not in ({})",
                packing_locations_of("$1")
            ))
            .bind(deal)
            .bind(warehouse_id)
            .bind(packing_location_id)
            .bind(deal_line)
            .fetch_all(pool)
            .await?
        });
        picks.extend(rows.into_iter().filter(|r| r.quantity > 0));
    }
    picks.sort_by(|a, b| {
        (
            a.pick_sequence,
            &a.location_code,
            a.item_id,
            a.reservation_id,
        )
            .cmp(&(
                b.pick_sequence,
                &b.location_code,
                b.item_id,
                b.reservation_id,
            ))
    });
    Ok(picks)
}

/// The ids of the open pick lists, oldest first.
pub async fn open_ids(db: &Db) -> Result<Vec<i64>> {
    Ok(on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>("select id from pick_lists where status = 'open' order by id")
            .fetch_all(pool)
            .await?
    }))
}

pub async fn get(db: &Db, id: i64) -> Result<PickList> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, ListRow>(
            "select id, warehouse_id, packing_location_id, status, current_location_id, created_at
             from pick_lists where id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
    })
    .ok_or_else(|| Error::not_found("pick list", id))?;
    let lines = on_read!(db, pool => {
        sqlx::query_as::<_, PickLine>(
            "select p.id, p.sequence, p.deal_id, p.deal_line_id, p.item_id, i.code as item_code,
                    i.name as item_name, p.location_id, l.code as location_code, p.batch_id, b.code as batch_code,
                    b.expiry_date, p.quantity, p.picked, p.short
             from pick_list_lines p
             join items i on i.id = p.item_id
             join locations l on l.id = p.location_id
             left join batches b on b.id = p.batch_id
             where p.pick_list_id = $1 order by p.sequence",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
    });
    Ok(PickList {
        id: row.id,
        code: format!("DPT-PICK-{}", row.id),
        warehouse_id: row.warehouse_id,
        packing_location_id: row.packing_location_id,
        status: row.status,
        current_location_id: row.current_location_id,
        quantity: lines.iter().map(|l| l.quantity).sum(),
        picked: lines.iter().map(|l| l.picked).sum(),
        short: lines.iter().map(|l| l.short).sum(),
        lines,
        created_at: row.created_at,
    })
}

/// The data of the pick list's A4 document (template `pick-list`).
pub async fn document_data(db: &Db, id: i64) -> Result<serde_json::Value> {
    let list = get(db, id).await?;
    let warehouse = warehouses::get(db, list.warehouse_id).await?;
    let deals: std::collections::BTreeSet<String> = list
        .lines
        .iter()
        .map(|l| format!("DPT-DEAL-{}", l.deal_id))
        .collect();
    let mut lines = Vec::with_capacity(list.lines.len());
    for l in &list.lines {
        lines.push(serde_json::json!({
            "location": l.location_code, "item_code": l.item_code, "item_name": l.item_name,
            "batch": l.batch_code, "expiry": l.expiry_date.map(|d| d.to_string()),
            "quantity": l.quantity,
        }));
    }
    Ok(serde_json::json!({
        "pick_list": {"code": list.code, "id": list.id},
        "warehouse": {"name": warehouse.name},
        "deal": {"reference": deals.into_iter().collect::<Vec<_>>().join(", ")},
        "created_at": list.created_at.date().to_string(),
        "lines": lines,
    }))
}

/// What a picker scanned, as the scanning layer resolved it.
#[derive(Debug, Clone)]
pub enum Scanned {
    Location(i64),
    Goods {
        item_id: i64,
        /// Base units in one pack.
        per_pack: i64,
        /// From the barcode (or typed).
        batch: Option<String>,
    },
}

/// Why a pick was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    /// No location scanned yet, or the goods are not at the location scanned.
    WrongLocation,
    /// The item is not on the pick list (or nothing of it is left to pick).
    WrongItem,
    /// A batch expiring later than the planned one (FEFO), or one without enough shelf life.
    WrongBatch,
    /// The scanned batch is expired.
    Expired,
    /// More than is left to pick on the line.
    MoreThanNeeded,
    /// The batch of a batch-tracked item was not given.
    BatchMissing,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PickScan {
    /// `location`, `confirmed` or `refused`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Refusal>,
    /// What to do, in words, for the picker's screen.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<PickLine>,
    /// Left to pick on the line (confirmed) and on the whole list.
    pub line_remaining: Option<i64>,
    pub list_remaining: i64,
    /// A batch swapped for the planned one (as good or better by FEFO).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swapped_from_batch: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub movements: Vec<Movement>,
}

fn refused(list: &PickList, reason: Refusal, message: String) -> PickScan {
    PickScan {
        outcome: "refused",
        reason: Some(reason),
        message,
        line: None,
        line_remaining: None,
        list_remaining: list.remaining(),
        swapped_from_batch: None,
        movements: Vec::new(),
    }
}

/// Whether pick list `id` exists (404 otherwise).
pub async fn exists(db: &Db, id: i64) -> Result<()> {
    let found = on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>("select id from pick_lists where id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
    });
    found
        .map(|_| ())
        .ok_or_else(|| Error::not_found("pick list", id))
}

/// Checks and posts one picker's scan.
pub async fn scan(
    db: &Db,
    id: i64,
    scanned: Scanned,
    packs: Option<i64>,
    actor: Actor,
) -> Result<PickScan> {
    let list = get(db, id).await?;
    if list.status != "open" {
        return Err(Error::conflict(
            "status",
            format!("pick list {id} is {}", list.status),
        ));
    }
    let (item_id, per_pack, batch_code) = match scanned {
        Scanned::Location(location) => {
            let l = warehouses::location(db, location).await.map_err(|_| {
                Error::invalid("location_id", format!("no location with id {location}"))
            })?;
            if l.warehouse_id != list.warehouse_id {
                return Ok(refused(
                    &list,
                    Refusal::WrongLocation,
                    format!("location {} is in another warehouse", l.code),
                ));
            }
            in_tx!(db, tx => {
                sqlx::query("update pick_lists set current_location_id = $1 where id = $2")
                    .bind(location)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            });
            let left: i64 = list
                .lines
                .iter()
                .filter(|p| p.location_id == location)
                .map(|p| p.remaining())
                .sum();
            return Ok(PickScan {
                outcome: "location",
                reason: None,
                message: if left > 0 {
                    format!("{left} to pick at {}", l.code)
                } else {
                    format!("nothing to pick at {}", l.code)
                },
                line: None,
                line_remaining: None,
                list_remaining: list.remaining(),
                swapped_from_batch: None,
                movements: Vec::new(),
            });
        }
        Scanned::Goods {
            item_id,
            per_pack,
            batch,
        } => (item_id, per_pack, batch),
    };
    let Some(location) = list.current_location_id else {
        return Ok(refused(
            &list,
            Refusal::WrongLocation,
            "scan the location first".into(),
        ));
    };
    let open: Vec<&PickLine> = list
        .lines
        .iter()
        .filter(|p| p.item_id == item_id && p.remaining() > 0)
        .collect();
    if open.is_empty() {
        return Ok(refused(
            &list,
            Refusal::WrongItem,
            format!("item {item_id} is not (or no longer) on this pick list"),
        ));
    }
    let here: Vec<&PickLine> = open
        .iter()
        .copied()
        .filter(|p| p.location_id == location)
        .collect();
    if here.is_empty() {
        let at = &open[0];
        return Ok(refused(
            &list,
            Refusal::WrongLocation,
            format!("pick item {} at {}", at.item_code, at.location_code),
        ));
    }
    let quantity = packs.unwrap_or(1).saturating_mul(per_pack);
    if quantity <= 0 {
        return Err(Error::invalid("quantity", "must be greater than zero"));
    }
    let today = now().date();
    let item = crate::catalog::items::get(db, item_id).await?;
    let tracked = item.tracking != crate::catalog::items::Tracking::None;
    // The line: the one with the scanned batch, else the first here (a possible swap).
    let scanned_batch = match (&batch_code, tracked) {
        (Some(code), true) => batches::by_code(db, item_id, code.trim()).await?,
        (None, true) => {
            return Ok(refused(
                &list,
                Refusal::BatchMissing,
                format!(
                    "item {} is tracked by batch: scan its GS1 code or give the batch",
                    item.code
                ),
            ));
        }
        (_, false) => None,
    };
    if tracked && scanned_batch.is_none() {
        return Ok(refused(
            &list,
            Refusal::WrongBatch,
            format!(
                "batch {} of {} is not in stock here",
                batch_code.unwrap_or_default(),
                item.code
            ),
        ));
    }
    if let Some(b) = &scanned_batch
        && (fefo::is_expired(b.expiry_date, today) || b.status != batches::BatchStatus::Available)
    {
        return Ok(refused(
            &list,
            Refusal::Expired,
            format!(
                "batch {} is {}: do not pick it",
                b.code,
                if fefo::is_expired(b.expiry_date, today) {
                    "expired".to_string()
                } else {
                    b.status.as_str().to_string()
                }
            ),
        ));
    }
    let line = here
        .iter()
        .find(|p| p.batch_id == scanned_batch.as_ref().map(|b| b.id))
        .or(here.first())
        .copied()
        .cloned()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("no line")))?;
    let mut swapped_from = None;
    if line.batch_id != scanned_batch.as_ref().map(|b| b.id) {
        // A swap: as good or better by FEFO (expires no later; enough shelf life for the item
        // and the customer).
        let b = scanned_batch
            .as_ref()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("batch")))?;
        let min = min_remaining(db, line.deal_id, item_id).await?;
        let enough = match (b.expiry_date, min) {
            (Some(e), Some(days)) => crate::days::add(today, days).is_some_and(|d| e >= d),
            _ => true,
        };
        let no_later = match (b.expiry_date, line.expiry_date) {
            (Some(e), Some(planned)) => e <= planned,
            (None, Some(_)) => false,
            _ => true,
        };
        if !(enough && no_later) {
            return Ok(refused(
                &list,
                Refusal::WrongBatch,
                format!(
                    "pick batch {} (expires {}), not {}",
                    line.batch_code.clone().unwrap_or_default(),
                    line.expiry_date
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "-".into()),
                    b.code
                ),
            ));
        }
        swapped_from = line.batch_code.clone();
    }
    let left = line.remaining();
    if quantity > left {
        return Ok(refused(
            &list,
            Refusal::MoreThanNeeded,
            format!(
                "only {left} of {} left to pick on this line",
                line.item_code
            ),
        ));
    }
    let batch_id = scanned_batch.as_ref().map(|b| b.id);
    let planned_reservation = line_reservation(db, line.id).await?;
    if swapped_from.is_some() {
        let (on_hand, reserved) =
            ledger::on_hand_and_reserved(db, item_id, list.warehouse_id, location, batch_id)
                .await?;
        if on_hand - reserved < quantity {
            return Ok(refused(
                &list,
                Refusal::WrongBatch,
                "that batch is not free to pick here (reserved for others or not in stock)".into(),
            ));
        }
    }
    let movement = |location_id, quantity| NewMovement {
        item_id,
        batch_id,
        warehouse_id: list.warehouse_id,
        location_id,
        quantity,
        kind: MovementType::Pick,
        user_id: actor.user_id,
        device_id: actor.device_id,
        document_type: Some("pick_list".into()),
        document_id: Some(id),
        deal_id: Some(line.deal_id),
        note: swapped_from
            .as_ref()
            .map(|b| format!("batch swapped for {b} (as good or better by FEFO)")),
        reservation_id: None,
    };
    let at = now();
    let mut take = movement(location, -quantity);
    // A swap takes the scanned batch from free stock (the ledger refuses it if it is not free)
    // and releases as much of the planned batch's reservation, in the same transaction.
    let swap = if swapped_from.is_some() {
        reservations::release_guards(
            planned_reservation,
            BalanceKey {
                item_id,
                warehouse_id: list.warehouse_id,
                location_id: line.location_id,
                batch_id: line.batch_id,
            },
            quantity,
            at,
            Error::conflict("quantity", "the line was picked meanwhile: scan again"),
        )
    } else {
        take.reservation_id = Some(planned_reservation);
        Vec::new()
    };
    // At the packing location the goods stay reserved for the deal line.
    let reserve_at_packing = reservations::hold_guards(
        Holder::DealLine {
            deal_id: line.deal_id,
            line_id: line.deal_line_id,
        },
        BalanceKey {
            item_id,
            warehouse_id: list.warehouse_id,
            location_id: list.packing_location_id,
            batch_id,
        },
        quantity,
        at,
        Error::Internal(anyhow::anyhow!(
            "picked goods could not be reserved at packing"
        )),
    );
    let posted = ledger::post_with(
        db,
        vec![take, movement(list.packing_location_id, quantity)],
        [vec![
            Guard::before(
                "update pick_list_lines set picked = picked + $1,
                     batch_id = $2
                 where id = $3 and picked + short + $1 <= quantity",
                vec![Arg::Int(quantity), Arg::OptInt(batch_id), Arg::Int(line.id)],
                Error::conflict("quantity", "the line was picked meanwhile: scan again"),
            ),
            Guard::after(
                "update pick_lists set updated_at = $1,
                     status = case when not exists (select 1 from pick_list_lines
                                                    where pick_list_id = $2 and picked + short < quantity)
                                   then 'done' else status end
                 where id = $2",
                vec![Arg::Time(at), Arg::Int(id)],
                Error::Internal(anyhow::anyhow!("pick list {id} vanished")),
            ),
        ], swap, reserve_at_packing]
        .into_iter()
        .flatten()
        .collect(),
    )
    .await?;
    // What is left, as committed (other pickers may have picked meanwhile); one small read
    // rather than the whole list again.
    let (picked, list_remaining) = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64)>(
            "select (select picked from pick_list_lines where id = $1),
                    (select cast(coalesce(sum(quantity - picked - short), 0) as bigint)
                     from pick_list_lines where pick_list_id = $2)",
        )
        .bind(line.id)
        .bind(id)
        .fetch_one(pool)
        .await?
    });
    let mut line = line;
    line.picked = picked;
    if let Some(b) = &scanned_batch {
        line.batch_id = Some(b.id);
        line.batch_code = Some(b.code.clone());
        line.expiry_date = b.expiry_date;
    }
    Ok(PickScan {
        outcome: "confirmed",
        reason: None,
        message: format!("{quantity} picked"),
        line_remaining: Some(line.remaining()),
        line: Some(line),
        list_remaining,
        swapped_from_batch: swapped_from,
        movements: posted,
    })
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ShortPick {
    /// The pick line whose shelf holds less than is left to pick.
    pub line_id: i64,
    /// What the shelf does hold of the line's batch (picked as usual afterwards); default 0.
    #[serde(default)]
    pub found: i64,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShortPickResult {
    pub line: PickLine,
    /// Missing from the shelf: released from the line and planned again.
    pub missing: i64,
    /// Booked off the bin's balance as an `adjustment`: what the ledger showed free there once
    /// the missing part was released (the shelf holds only `found` of the batch). Stock
    /// reserved for others is left for their pickers to find.
    pub adjusted: i64,
    /// Lines added to this pick list for the same deal line, from other stock by FEFO.
    pub added_lines: Vec<PickLine>,
    /// The deal line after planning again: `shortfall` is what stock could not cover, with the
    /// production or purchase order raised for it.
    pub replan: super::LineOutcome,
    pub list_remaining: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub movements: Vec<Movement>,
}

/// A short pick: the shelf holds only `found` of what is left on the line. The missing part
/// is released from the line and the bin's phantom free stock is booked off (an `adjustment`,
/// so nothing plans it again), in one transaction; then the deal is planned again (other stock by FEFO, else the
/// shortfall goes to production or purchasing, see [`super::reserve_deal`]) and what was
/// reserved from other stock in this warehouse is added to the pick list.
pub async fn short(db: &Db, id: i64, req: ShortPick, actor: Actor) -> Result<ShortPickResult> {
    let list = get(db, id).await?;
    if list.status != "open" {
        return Err(Error::conflict(
            "status",
            format!("pick list {id} is {}", list.status),
        ));
    }
    let line = list
        .lines
        .iter()
        .find(|l| l.id == req.line_id)
        .cloned()
        .ok_or_else(|| {
            Error::invalid(
                "line_id",
                format!("pick list {id} has no line {}", req.line_id),
            )
        })?;
    let left = line.remaining();
    if left == 0 {
        return Err(Error::conflict(
            "line_id",
            format!("line {} has nothing left to pick", line.id),
        ));
    }
    if req.found < 0 || req.found >= left {
        return Err(Error::invalid(
            "found",
            format!(
                "must be between 0 and {} (less than the {left} left to pick on the line)",
                left - 1
            ),
        ));
    }
    if let Some(n) = &req.note
        && n.chars().count() > 500
    {
        return Err(Error::invalid("note", "must be at most 500 characters"));
    }
    let missing = left - req.found;
    let reservation = line_reservation(db, line.id).await?;
    let (on_hand, reserved) = ledger::on_hand_and_reserved(
        db,
        line.item_id,
        list.warehouse_id,
        line.location_id,
        line.batch_id,
    )
    .await?;
    // The shelf holds `found` of this batch, all of it the line's: whatever the ledger shows
    // free there once the missing part is released is not there. What others hold stays
    // theirs (their pickers report it).
    let adjusted = (on_hand - (reserved - missing)).max(0);
    let note = format!(
        "short pick on DPT-PICK-{id}: the shelf had {} of {left}{}",
        req.found,
        req.note
            .as_deref()
            .map(|n| format!(" ({})", n.trim()))
            .unwrap_or_default()
    );
    let movements = if adjusted > 0 {
        vec![NewMovement {
            item_id: line.item_id,
            batch_id: line.batch_id,
            warehouse_id: list.warehouse_id,
            location_id: line.location_id,
            quantity: -adjusted,
            kind: MovementType::Adjustment,
            user_id: actor.user_id,
            device_id: actor.device_id,
            document_type: Some("pick_list".into()),
            document_id: Some(id),
            deal_id: Some(line.deal_id),
            note: Some(note),
            reservation_id: None,
        }]
    } else {
        Vec::new()
    };
    let at = now();
    let release = reservations::release_guards(
        reservation,
        BalanceKey {
            item_id: line.item_id,
            warehouse_id: list.warehouse_id,
            location_id: line.location_id,
            batch_id: line.batch_id,
        },
        missing,
        at,
        Error::conflict("line_id", "the line's reservation changed meanwhile"),
    );
    let posted = ledger::post_with(
        db,
        movements,
        [
            vec![Guard::before(
                "update pick_list_lines set short = short + $1
                 where id = $2 and quantity - picked - short = $3",
                vec![Arg::Int(missing), Arg::Int(line.id), Arg::Int(left)],
                Error::conflict("line_id", "the line was picked meanwhile: look again"),
            )],
            release,
        ]
        .into_iter()
        .flatten()
        .collect(),
    )
    .await?;
    // Plan the deal again: other stock by FEFO, else production or purchasing.
    let planned = super::reserve_deal(
        db,
        line.deal_id,
        super::ReserveOptions {
            warehouse_id: Some(list.warehouse_id),
            expires_at: None,
        },
    )
    .await?;
    let replan = planned
        .lines
        .into_iter()
        .find(|l| l.line_id == line.deal_line_id)
        .ok_or_else(|| {
            Error::Internal(anyhow::anyhow!("deal line {} vanished", line.deal_line_id))
        })?;
    let picks = to_pick(
        db,
        &[line.deal_id],
        list.warehouse_id,
        list.packing_location_id,
        Some(line.deal_line_id),
    )
    .await?;
    let first = list.lines.iter().map(|l| l.sequence).max().unwrap_or(0) + 1;
    let at = now();
    in_tx!(db, tx => {
        insert_lines!(tx, id, picks, first);
        sqlx::query(
            "update pick_lists set updated_at = $1,
                 status = case when not exists (select 1 from pick_list_lines
                                                where pick_list_id = $2 and picked + short < quantity)
                               then 'done' else status end
             where id = $2 and status = 'open'",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    });
    let after = get(db, id).await?;
    Ok(ShortPickResult {
        line: after
            .lines
            .iter()
            .find(|l| l.id == line.id)
            .cloned()
            .unwrap_or(line),
        missing,
        adjusted,
        added_lines: after
            .lines
            .iter()
            .filter(|l| l.sequence >= first)
            .cloned()
            .collect(),
        replan,
        list_remaining: after.remaining(),
        movements: posted,
    })
}

async fn line_reservation(db: &Db, line_id: i64) -> Result<i64> {
    Ok(on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>("select reservation_id from pick_list_lines where id = $1")
            .bind(line_id)
            .fetch_one(pool)
            .await?
    }))
}

/// The stricter of the item's and the deal's customer's required remaining shelf life.
async fn min_remaining(db: &Db, deal_id: i64, item_id: i64) -> Result<Option<i64>> {
    let (customer, item) = on_read!(db, pool => {
        sqlx::query_as::<_, (Option<i64>, Option<i64>)>(
            "select (select c.min_remaining_shelf_life_days from deals d
                     join customers c on c.id = d.customer_id where d.id = $1),
                    (select min_remaining_shelf_life_days from items where id = $2)",
        )
        .bind(deal_id)
        .bind(item_id)
        .fetch_one(pool)
        .await?
    });
    Ok(match (customer, item) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    })
}
