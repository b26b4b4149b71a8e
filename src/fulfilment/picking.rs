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

use crate::auth::Role;
use crate::catalog::items::{self, Tracking};
use crate::catalog::warehouses;
use crate::db::{Db, Keys, Tx, now, rows_for_keys};
use crate::error::{Error, Result};
use crate::stock::batches::{self, Batch};
use crate::stock::fefo;
use crate::stock::ledger::{self, Movement, MovementType, NewMovement};
use crate::stock::operations::Actor;
use crate::stock::reservations::{self, BalanceKey, Holder};
use crate::{on_read, on_tx};

crate::text_enum!(
    /// Where a pick list is: being picked, everything picked (or reported short), or cancelled.
    pub ListStatus { Open = "open", Done = "done", Cancelled = "cancelled" }
);

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
    /// The picker (an active admin or warehouse user) the list is for; left out, anyone may
    /// pick it. Devices mirror the open lists assigned to their user or to nobody.
    #[serde(default)]
    pub assigned_to: Option<i64>,
}

/// A change of a pick list.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct PickListPatch {
    /// Reassigns the list to another picker; `null`: to nobody (anyone may pick it).
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub assigned_to: Option<Option<i64>>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct PickLine {
    pub id: i64,
    #[serde(skip)]
    pub pick_list_id: i64,
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
    /// `open`, `done` (everything picked or reported short) or `cancelled`.
    pub status: ListStatus,
    pub current_location_id: Option<i64>,
    /// The picker the list is assigned to; `null`: anyone may pick it.
    pub assigned_to: Option<i64>,
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
    status: ListStatus,
    current_location_id: Option<i64>,
    assigned_to: Option<i64>,
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

/// Adds `picks` to pick list `id` as lines numbered from `first`.
async fn insert_lines(tx: &mut Tx, id: i64, picks: &[ToPick], first: i64) -> Result<()> {
    for (i, p) in picks.iter().enumerate() {
        on_tx!(tx, tx => {
            sqlx::query(
                "insert into pick_list_lines (pick_list_id, sequence, deal_id, deal_line_id, item_id,
                     location_id, batch_id, reservation_id, quantity, picked)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0)",
            )
            .bind(id)
            .bind(first + i as i64)
            .bind(p.deal_id)
            .bind(p.deal_line_id)
            .bind(p.item_id)
            .bind(p.location_id)
            .bind(p.batch_id)
            .bind(p.reservation_id)
            .bind(p.quantity)
            .execute(&mut *tx)
            .await?;
        });
    }
    Ok(())
}

/// Marks open list `id` done once every line is picked or short, and answers what is left of it
/// as it stands now (other pickers may have picked meanwhile), in one statement; a conflict
/// when the list is no longer open.
async fn finish_when_picked(tx: &mut Tx, id: i64) -> Result<i64> {
    let at = now();
    let left = on_tx!(tx, tx => {
        sqlx::query_scalar::<_, i64>(
            "update pick_lists set updated_at = $1,
                 status = case when not exists (select 1 from pick_list_lines
                                                where pick_list_id = $2 and picked + short < quantity)
                               then $3 else status end
             where id = $2 and status = $4
             returning (select cast(coalesce(sum(quantity - picked - short), 0) as bigint)
                        from pick_list_lines where pick_list_id = $2)",
        )
        .bind(at)
        .bind(id)
        .bind(ListStatus::Done)
        .bind(ListStatus::Open)
        .fetch_optional(&mut *tx)
        .await?
    });
    left.ok_or_else(|| closed_meanwhile(id))
}

/// Creates a pick list from the deals' reservations in the warehouse that are not at the
/// packing location and not on another open pick list.
pub async fn create(db: &Db, new: NewPickList, user_id: Option<i64>) -> Result<PickList> {
    let warehouse_id = match new.warehouse_id {
        Some(w) => {
            warehouses::get(db, w).await.map_err(|e| {
                e.missing_as_invalid("warehouse_id", format!("no warehouse with id {w}"))
            })?;
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
        .map_err(|e| {
            e.missing_as_invalid(
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
    if let Some(user) = new.assigned_to {
        check_picker(db, "assigned_to", user).await?;
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
    // The deals take their turns (in id order, so two lists of the same deals cannot
    // deadlock): a reservation goes on one open pick list only.
    let mut tx = db.begin().await?;
    let mut locked = deal_ids.clone();
    locked.sort_unstable();
    locked.dedup();
    for deal in &locked {
        crate::crm::deals::lock(&mut tx, *deal, None).await?;
    }
    let picks = to_pick(&mut tx, &deal_ids, warehouse_id, packing_location_id, None).await?;
    if picks.is_empty() {
        return Err(Error::conflict(
            "deal_ids",
            "nothing to pick: the deals hold no reserved stock outside the packing location",
        ));
    }
    let at = now();
    let id = on_tx!(&mut tx, tx => {
        sqlx::query_scalar::<_, i64>(
            "insert into pick_lists (warehouse_id, packing_location_id, status, created_by, assigned_to,
                 created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $6) returning id",
        )
        .bind(warehouse_id)
        .bind(packing_location_id)
        .bind(ListStatus::Open)
        .bind(user_id)
        .bind(new.assigned_to)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?
    });
    insert_lines(&mut tx, id, &picks, 1).await?;
    let list = get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(list)
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
    tx: &mut Tx,
    deal_ids: &[i64],
    warehouse_id: i64,
    packing_location_id: i64,
    deal_line: Option<i64>,
) -> Result<Vec<ToPick>> {
    let mut picks: Vec<ToPick> = Vec::new();
    for deal in deal_ids {
        let rows = on_tx!(tx, tx => {
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
            .fetch_all(&mut *tx)
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

/// A pick list with its lines, read in `tx` (a snapshot for reads).
pub async fn get(tx: &mut Tx, id: i64) -> Result<PickList> {
    let row = on_tx!(tx, tx => {
        sqlx::query_as::<_, ListRow>(&format!("select {LIST_COLUMNS} from pick_lists where id = $1"))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
    })
    .ok_or_else(|| Error::not_found("pick list", id))?;
    let lines = on_tx!(tx, tx => {
        sqlx::query_as::<_, PickLine>(&format!("{LINES} where p.pick_list_id = $1 order by p.sequence"))
        .bind(id)
        .fetch_all(&mut *tx)
        .await?
    });
    Ok(row.into_list(lines))
}

const LIST_COLUMNS: &str =
    "id, warehouse_id, packing_location_id, status, current_location_id, assigned_to, created_at";

/// The lines a scan is checked against.
enum LinesOf {
    /// At a location (a location scan).
    Location(i64),
    /// Of an item, wherever they are (a goods scan: the item may be due at another location).
    Item(i64),
}

/// A pick list with its totals but only the lines a scan concerns, read in `tx`: what a scan
/// costs does not grow with the length of the list.
async fn for_scan(tx: &mut Tx, id: i64, lines: LinesOf) -> Result<PickList> {
    #[derive(sqlx::FromRow)]
    struct WithTotals {
        #[sqlx(flatten)]
        row: ListRow,
        quantity: i64,
        picked: i64,
        short: i64,
    }
    let found = on_tx!(tx, tx => {
        sqlx::query_as::<_, WithTotals>(&format!(
            // The totals in one pass over the list's lines.
            "select {LIST_COLUMNS}, t.quantity, t.picked, t.short
             from pick_lists
             cross join (select cast(coalesce(sum(quantity), 0) as bigint) as quantity,
                                cast(coalesce(sum(picked), 0) as bigint) as picked,
                                cast(coalesce(sum(short), 0) as bigint) as short
                         from pick_list_lines where pick_list_id = $1) t
             where id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
    })
    .ok_or_else(|| Error::not_found("pick list", id))?;
    let (condition, key) = match lines {
        LinesOf::Location(location) => ("p.location_id", location),
        LinesOf::Item(item) => ("p.item_id", item),
    };
    let lines = on_tx!(tx, tx => {
        sqlx::query_as::<_, PickLine>(&format!(
            "{LINES} where p.pick_list_id = $1 and {condition} = $2 order by p.sequence"
        ))
        .bind(id)
        .bind(key)
        .fetch_all(&mut *tx)
        .await?
    });
    let mut list = found.row.into_list(lines);
    (list.quantity, list.picked, list.short) = (found.quantity, found.picked, found.short);
    Ok(list)
}

/// A pick list's lines with the codes and names a picker reads (a `where` follows).
const LINES: &str = "select p.id, p.pick_list_id, p.sequence, p.deal_id, p.deal_line_id, p.item_id,
        i.code as item_code, i.name as item_name, p.location_id, l.code as location_code,
        p.batch_id, b.code as batch_code, b.expiry_date, p.quantity, p.picked, p.short
     from pick_list_lines p
     join items i on i.id = p.item_id
     join locations l on l.id = p.location_id
     left join batches b on b.id = p.batch_id";

impl ListRow {
    fn into_list(self, lines: Vec<PickLine>) -> PickList {
        PickList {
            id: self.id,
            code: format!("DPT-PICK-{}", self.id),
            warehouse_id: self.warehouse_id,
            packing_location_id: self.packing_location_id,
            status: self.status,
            current_location_id: self.current_location_id,
            assigned_to: self.assigned_to,
            quantity: lines.iter().map(|l| l.quantity).sum(),
            picked: lines.iter().map(|l| l.picked).sum(),
            short: lines.iter().map(|l| l.short).sum(),
            lines,
            created_at: self.created_at,
        }
    }
}

/// The pick lists of the ids `keys` with their lines, in id order; an id that names no list is
/// left out. Two reads however many ids (up to a page of the change feed).
pub async fn by_ids(db: &Db, keys: &Keys) -> Result<Vec<PickList>> {
    let rows: Vec<ListRow> = rows_for_keys(
        db,
        &format!("select {LIST_COLUMNS} from pick_lists where {{keys}} order by id"),
        "id",
        keys,
    )
    .await?;
    let lines: Vec<PickLine> = rows_for_keys(
        db,
        &format!("{LINES} where {{keys}} order by p.pick_list_id, p.sequence"),
        "p.pick_list_id",
        keys,
    )
    .await?;
    let mut of_list: std::collections::HashMap<i64, Vec<PickLine>> =
        std::collections::HashMap::new();
    for line in lines {
        of_list.entry(line.pick_list_id).or_default().push(line);
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let lines = of_list.remove(&r.id).unwrap_or_default();
            r.into_list(lines)
        })
        .collect())
}

/// Refuses, naming `field`, anyone but an active admin or warehouse user: who picks.
async fn check_picker(db: &Db, field: &str, user_id: i64) -> Result<()> {
    let user = crate::auth::users::get(db, user_id)
        .await
        .map_err(|e| e.missing_as_invalid(field, format!("no user with id {user_id}")))?;
    if !user.active {
        return Err(Error::invalid(
            field,
            format!("user {user_id} is deactivated"),
        ));
    }
    if !matches!(user.role, Role::Admin | Role::Warehouse) {
        return Err(Error::invalid(
            field,
            format!(
                "user {user_id} has role '{}', not one that picks",
                user.role.as_str()
            ),
        ));
    }
    Ok(())
}

/// Assigns open pick list `id` to another picker, or to nobody (`None`).
pub async fn assign(db: &Db, id: i64, patch: PickListPatch) -> Result<PickList> {
    let Some(assigned_to) = patch.assigned_to else {
        return read(db, id).await;
    };
    if let Some(user) = assigned_to {
        check_picker(db, "assigned_to", user).await?;
    }
    let mut tx = db.begin().await?;
    let changed = on_tx!(&mut tx, tx => {
        sqlx::query("update pick_lists set assigned_to = $1, updated_at = $2 where id = $3 and status = $4")
            .bind(assigned_to)
            .bind(now())
            .bind(id)
            .bind(ListStatus::Open)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    });
    let list = get(&mut tx, id).await?;
    if changed == 0 {
        return Err(Error::conflict(
            "status",
            format!(
                "pick list {id} is {}: only an open list is reassigned",
                list.status.as_str()
            ),
        ));
    }
    tx.commit().await?;
    Ok(list)
}

/// A pick list with its lines, read on its own.
pub async fn read(db: &Db, id: i64) -> Result<PickList> {
    get(&mut db.snapshot().await?, id).await
}

/// The data of the pick list's A4 document (template `pick-list`).
pub async fn document_data(db: &Db, id: i64) -> Result<serde_json::Value> {
    let list = read(db, id).await?;
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

impl From<crate::scanning::Target> for Scanned {
    fn from(target: crate::scanning::Target) -> Scanned {
        match target {
            crate::scanning::Target::Location(id) => Scanned::Location(id),
            crate::scanning::Target::Goods {
                item_id,
                per_pack,
                batch,
                ..
            } => Scanned::Goods {
                item_id,
                per_pack,
                batch,
            },
        }
    }
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

/// Checks and posts one picker's scan, in one transaction: a location scan says what to pick
/// there; a goods scan is checked against the line at the scanned location (item, batch, FEFO,
/// quantity) and either refused with its reason or confirmed: moved to the packing location,
/// still reserved for the deal line.
pub async fn scan(
    db: &Db,
    id: i64,
    scanned: Scanned,
    packs: Option<i64>,
    actor: Actor,
) -> Result<PickScan> {
    // Everything a scan checks is read before its transaction begins, so on SQLite the one
    // writer is held only for the writes. The writes are guarded (a line never counts more
    // than its quantity, reservations and balances change only when they hold enough, the list
    // must still be open), so a change between the reads and the writes is caught there.
    let (lines, master) = match &scanned {
        Scanned::Location(location) => (
            LinesOf::Location(*location),
            Master::Location(warehouses::location(db, *location).await),
        ),
        Scanned::Goods { item_id, .. } => (
            LinesOf::Item(*item_id),
            Master::Item(items::get(db, *item_id).await),
        ),
    };
    let mut read = db.snapshot().await?;
    let list = for_scan(&mut read, id, lines).await?;
    if list.status != ListStatus::Open {
        return Err(Error::conflict(
            "status",
            format!("pick list {id} is {}", list.status.as_str()),
        ));
    }
    let checked = match (scanned, master) {
        (Scanned::Location(location), Master::Location(found)) => {
            match check_location(&list, location, found)? {
                Ok(code) => Checked::Location(location, code),
                Err(refused) => return Ok(refused.answer(&list)),
            }
        }
        (
            Scanned::Goods {
                item_id,
                per_pack,
                batch,
            },
            Master::Item(item),
        ) => {
            let quantity = packs.unwrap_or(1).saturating_mul(per_pack);
            if quantity <= 0 {
                return Err(Error::invalid("quantity", "must be greater than zero"));
            }
            match check_goods(&mut read, &list, item_id, item, batch, quantity).await? {
                Ok(pick) => Checked::Pick(Box::new(pick)),
                Err(refused) => return Ok(refused.answer(&list)),
            }
        }
        _ => unreachable!("master data is read for the kind of scan"),
    };
    // On PostgreSQL the read's connection goes back before the write takes one.
    drop(read);
    let mut tx = db.begin().await?;
    let answer = match checked {
        Checked::Location(location, code) => at_location(&mut tx, &list, location, &code).await?,
        Checked::Pick(pick) => confirm(&mut tx, &list, *pick, actor).await?,
    };
    tx.commit().await?;
    Ok(answer)
}

/// A scan that passed its checks, to be written.
enum Checked {
    /// The picker is at this location (id, code).
    Location(i64, String),
    Pick(Box<Pick>),
}

/// What a scan names, read before the scan's transaction.
enum Master {
    Location(Result<warehouses::Location>),
    Item(Result<items::Item>),
}

/// Checks a location scan (`found`: the location read before, or why not): the location's code,
/// or a refusal when it is in another warehouse.
fn check_location(
    list: &PickList,
    location: i64,
    found: Result<warehouses::Location>,
) -> Result<std::result::Result<String, Refused>> {
    let l = match found {
        Ok(l) => l,
        Err(Error::NotFound { .. }) => {
            return Err(Error::invalid(
                "location_id",
                format!("no location with id {location}"),
            ));
        }
        Err(e) => return Err(e),
    };
    if l.warehouse_id != list.warehouse_id {
        return Ok(Err(Refused::new(
            Refusal::WrongLocation,
            format!("location {} is in another warehouse", l.code),
        )));
    }
    Ok(Ok(l.code))
}

/// The picker is at `location` (`code`): remembered, so goods scans are checked against it.
/// `list` holds the lines at the location.
async fn at_location(tx: &mut Tx, list: &PickList, location: i64, code: &str) -> Result<PickScan> {
    let changed = on_tx!(tx, tx => {
        sqlx::query(
            "update pick_lists set current_location_id = $1 where id = $2 and status = $3",
        )
        .bind(location)
        .bind(list.id)
        .bind(ListStatus::Open)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    if changed != 1 {
        return Err(closed_meanwhile(list.id));
    }
    let left: i64 = list
        .lines
        .iter()
        .filter(|p| p.location_id == location)
        .map(|p| p.remaining())
        .sum();
    Ok(PickScan {
        outcome: "location",
        reason: None,
        message: if left > 0 {
            format!("{left} to pick at {code}")
        } else {
            format!("nothing to pick at {code}")
        },
        line: None,
        line_remaining: None,
        list_remaining: list.remaining(),
        swapped_from_batch: None,
        movements: Vec::new(),
    })
}

fn closed_meanwhile(id: i64) -> Error {
    Error::conflict("status", format!("pick list {id} was closed meanwhile"))
}

/// A refused pick: the reason and what to tell the picker.
struct Refused {
    reason: Refusal,
    message: String,
}

impl Refused {
    fn new(reason: Refusal, message: String) -> Refused {
        Refused { reason, message }
    }

    fn answer(self, list: &PickList) -> PickScan {
        refused(list, self.reason, self.message)
    }
}

/// A pick that passed every check, ready to confirm.
struct Pick {
    line: PickLine,
    quantity: i64,
    /// The scanned batch (batch-tracked items).
    batch: Option<Batch>,
    /// The planned batch, when the scanned one replaces it.
    swapped_from: Option<String>,
}

/// Checks goods scanned at the picker's location: an open line of the item here, the batch
/// given for a batch-tracked item, not expired or held, the planned batch or one as good or
/// better by FEFO that is free here, and no more than is left on the line.
async fn check_goods(
    tx: &mut Tx,
    list: &PickList,
    item_id: i64,
    item: Result<items::Item>,
    batch_code: Option<String>,
    quantity: i64,
) -> Result<std::result::Result<Pick, Refused>> {
    let here = match lines_here(list, item_id) {
        Ok(here) => here,
        Err(refused) => return Ok(Err(refused)),
    };
    // An item on the list exists: `item` is only an error when reading it failed.
    let item = item?;
    let batch = match scanned_batch(tx, &item, batch_code).await? {
        Ok(batch) => batch,
        Err(refused) => return Ok(Err(refused)),
    };
    // The line: the one with the scanned batch, else the first here (a possible swap).
    let line = here
        .iter()
        .find(|p| p.batch_id == batch.as_ref().map(|b| b.id))
        .or(here.first())
        .copied()
        .cloned()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("no line")))?;
    let mut swapped_from = None;
    if let Some(b) = batch.as_ref().filter(|b| line.batch_id != Some(b.id)) {
        if let Err(refused) = check_swap(tx, list, &line, b, quantity).await? {
            return Ok(Err(refused));
        }
        swapped_from = line.batch_code.clone();
    }
    let left = line.remaining();
    if quantity > left {
        return Ok(Err(Refused::new(
            Refusal::MoreThanNeeded,
            format!(
                "only {left} of {} left to pick on this line",
                line.item_code
            ),
        )));
    }
    Ok(Ok(Pick {
        line,
        quantity,
        batch,
        swapped_from,
    }))
}

/// The open lines of the item at the picker's location.
fn lines_here(list: &PickList, item_id: i64) -> std::result::Result<Vec<&PickLine>, Refused> {
    let Some(location) = list.current_location_id else {
        return Err(Refused::new(
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
        return Err(Refused::new(
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
        return Err(Refused::new(
            Refusal::WrongLocation,
            format!("pick item {} at {}", at.item_code, at.location_code),
        ));
    }
    Ok(here)
}

/// The scanned batch of a batch-tracked item (none for other items): given, known, and neither
/// expired nor held (the one FEFO rule, `fefo::hold`).
async fn scanned_batch(
    tx: &mut Tx,
    item: &items::Item,
    batch_code: Option<String>,
) -> Result<std::result::Result<Option<Batch>, Refused>> {
    if item.tracking == Tracking::None {
        return Ok(Ok(None));
    }
    let Some(code) = batch_code else {
        return Ok(Err(Refused::new(
            Refusal::BatchMissing,
            format!(
                "item {} is tracked by batch: scan its GS1 code or give the batch",
                item.code
            ),
        )));
    };
    let Some(batch) = batches::by_code_in(tx, item.id, code.trim()).await? else {
        return Ok(Err(Refused::new(
            Refusal::WrongBatch,
            format!("batch {code} of {} is not in stock here", item.code),
        )));
    };
    let today = now().date();
    if let Some(hold) = fefo::hold(batch.status, batch.expiry_date, today) {
        let why = match hold {
            fefo::Hold::Expired => "expired".to_string(),
            fefo::Hold::Quarantined => batch.status.as_str().to_string(),
        };
        return Ok(Err(Refused::new(
            Refusal::Expired,
            format!("batch {} is {why}: do not pick it", batch.code),
        )));
    }
    Ok(Ok(Some(batch)))
}

/// A batch other than the planned one is picked only when it replaces it by FEFO (as good or
/// better, enough shelf life for the item and the customer) and is free at the location.
async fn check_swap(
    tx: &mut Tx,
    list: &PickList,
    line: &PickLine,
    batch: &Batch,
    quantity: i64,
) -> Result<std::result::Result<(), Refused>> {
    let today = now().date();
    let min = min_remaining(tx, line.deal_id, line.item_id).await?;
    if !fefo::replaces(
        batch.status,
        batch.expiry_date,
        line.expiry_date,
        today,
        min,
    ) {
        return Ok(Err(Refused::new(
            Refusal::WrongBatch,
            format!(
                "pick batch {} (expires {}), not {}",
                line.batch_code.clone().unwrap_or_default(),
                line.expiry_date
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
                batch.code
            ),
        )));
    }
    let (on_hand, reserved) = ledger::on_hand_and_reserved_in(
        tx,
        line.item_id,
        list.warehouse_id,
        line.location_id,
        Some(batch.id),
    )
    .await?;
    if on_hand - reserved < quantity {
        return Ok(Err(Refused::new(
            Refusal::WrongBatch,
            "that batch is not free to pick here (reserved for others or not in stock)".into(),
        )));
    }
    Ok(Ok(()))
}

/// Posts a checked pick: the line counts it (guarded, so racing pickers never pick more than
/// the line), the goods move from the bin (consuming the line's reservation; for a swap, the
/// scanned batch comes from free stock and as much of the planned reservation is released) to
/// the packing location, where they are reserved again for the deal line.
async fn confirm(tx: &mut Tx, list: &PickList, pick: Pick, actor: Actor) -> Result<PickScan> {
    let Pick {
        mut line,
        quantity,
        batch,
        swapped_from,
    } = pick;
    let batch_id = batch.as_ref().map(|b| b.id);
    // The line's reservation and new picked quantity come back with the update: the line is
    // held by this transaction from here, so both stand until it ends.
    let counted = on_tx!(tx, tx => {
        sqlx::query_as::<_, (i64, i64)>(
            "update pick_list_lines set picked = picked + $1, batch_id = $2
             where id = $3 and picked + short + $1 <= quantity
               and exists (select 1 from pick_lists
                           where id = pick_list_lines.pick_list_id and status = $4)
             returning reservation_id, picked",
        )
        .bind(quantity)
        .bind(batch_id)
        .bind(line.id)
        .bind(ListStatus::Open)
        .fetch_optional(&mut *tx)
        .await?
    });
    let Some((planned_reservation, picked)) = counted else {
        return Err(Error::conflict(
            "quantity",
            "the line was picked (or its list closed) meanwhile: scan again",
        ));
    };
    let movement = |location_id, quantity| NewMovement {
        item_id: line.item_id,
        batch_id,
        warehouse_id: list.warehouse_id,
        location_id,
        quantity,
        kind: MovementType::Pick,
        user_id: actor.user_id,
        device_id: actor.device_id,
        document_type: Some("pick_list".into()),
        document_id: Some(list.id),
        deal_id: Some(line.deal_id),
        note: swapped_from
            .as_ref()
            .map(|b| format!("batch swapped for {b} (as good or better by FEFO)")),
        reservation_id: None,
    };
    let location = line.location_id;
    let mut take = movement(location, -quantity);
    if swapped_from.is_some() {
        reservations::release(tx, planned_reservation, quantity)
            .await
            .map_err(|e| {
                e.changed_as_conflict("quantity", "the line was picked meanwhile: scan again")
            })?;
    } else {
        take.reservation_id = Some(planned_reservation);
    }
    let posted =
        ledger::post_in(tx, vec![take, movement(list.packing_location_id, quantity)]).await?;
    let holder = Holder::DealLine {
        deal_id: line.deal_id,
        line_id: line.deal_line_id,
    };
    let at_packing = BalanceKey {
        item_id: line.item_id,
        warehouse_id: list.warehouse_id,
        location_id: list.packing_location_id,
        batch_id,
    };
    if reservations::hold(tx, holder, at_packing, quantity, None).await? != quantity {
        return Err(Error::Internal(anyhow::anyhow!(
            "picked goods could not be reserved at packing"
        )));
    }
    let list_remaining = finish_when_picked(tx, list.id).await?;
    line.picked = picked;
    if let Some(b) = &batch {
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

/// A short pick, in one transaction: the shelf holds only `found` of what is left on the line.
/// The missing part is released from the line and the bin's phantom free stock is booked off
/// (an `adjustment`, so nothing plans it again); then the deal is planned again (other stock by
/// FEFO, else the shortfall goes to production or purchasing, see [`planning`](super::planning))
/// and what was reserved from other stock in this warehouse is added to the pick list.
pub async fn short(db: &Db, id: i64, req: ShortPick, actor: Actor) -> Result<ShortPickResult> {
    let mut tx = db.begin().await?;
    let list = get(&mut tx, id).await?;
    if list.status != ListStatus::Open {
        return Err(Error::conflict(
            "status",
            format!("pick list {id} is {}", list.status.as_str()),
        ));
    }
    let line = short_line(&list, &req)?;
    let left = line.remaining();
    let missing = left - req.found;
    let movements = report_missing(&mut tx, &list, &line, &req, actor).await?;
    // Plan the deal again: other stock by FEFO, else production or purchasing.
    let planned = super::planning::reserve_in(
        &mut tx,
        db,
        line.deal_id,
        list.warehouse_id,
        &super::ReserveOptions::default(),
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
        &mut tx,
        &[line.deal_id],
        list.warehouse_id,
        list.packing_location_id,
        Some(line.deal_line_id),
    )
    .await?;
    let first = list.lines.iter().map(|l| l.sequence).max().unwrap_or(0) + 1;
    insert_lines(&mut tx, id, &picks, first).await?;
    finish_when_picked(&mut tx, id).await?;
    let after = get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(ShortPickResult {
        line: after
            .lines
            .iter()
            .find(|l| l.id == line.id)
            .cloned()
            .unwrap_or(line),
        missing,
        adjusted: movements.iter().map(|m| -m.quantity).sum(),
        added_lines: after
            .lines
            .iter()
            .filter(|l| l.sequence >= first)
            .cloned()
            .collect(),
        replan,
        list_remaining: after.remaining(),
        movements,
    })
}

/// The line a short pick is about, checked: it has something left, and `found` is less.
fn short_line(list: &PickList, req: &ShortPick) -> Result<PickLine> {
    let line = list
        .lines
        .iter()
        .find(|l| l.id == req.line_id)
        .cloned()
        .ok_or_else(|| {
            Error::invalid(
                "line_id",
                format!("pick list {} has no line {}", list.id, req.line_id),
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
    Ok(line)
}

/// Records the missing part on the line (guarded by what was left), releases it from the
/// line's reservation, and books the bin's phantom free stock off. The shelf holds `found` of
/// this batch, all of it the line's: whatever the ledger shows free there once the missing part
/// is released is not there. What others hold stays theirs (their pickers report it).
async fn report_missing(
    tx: &mut Tx,
    list: &PickList,
    line: &PickLine,
    req: &ShortPick,
    actor: Actor,
) -> Result<Vec<Movement>> {
    let left = line.remaining();
    let missing = left - req.found;
    let counted = on_tx!(tx, tx => {
        sqlx::query(
            "update pick_list_lines set short = short + $1
             where id = $2 and quantity - picked - short = $3",
        )
        .bind(missing)
        .bind(line.id)
        .bind(left)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    if counted != 1 {
        return Err(Error::conflict(
            "line_id",
            "the line was picked meanwhile: look again",
        ));
    }
    let reservation = line_reservation(tx, line.id).await?;
    reservations::release(tx, reservation, missing)
        .await
        .map_err(|e| {
            e.changed_as_conflict("line_id", "the line's reservation changed meanwhile")
        })?;
    let (on_hand, reserved) = ledger::on_hand_and_reserved_in(
        tx,
        line.item_id,
        list.warehouse_id,
        line.location_id,
        line.batch_id,
    )
    .await?;
    let adjusted = (on_hand - reserved).max(0);
    if adjusted == 0 {
        return Ok(Vec::new());
    }
    let note = format!(
        "short pick on DPT-PICK-{}: the shelf had {} of {left}{}",
        list.id,
        req.found,
        req.note
            .as_deref()
            .map(|n| format!(" ({})", n.trim()))
            .unwrap_or_default()
    );
    ledger::post_in(
        tx,
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
            document_id: Some(list.id),
            deal_id: Some(line.deal_id),
            note: Some(note),
            reservation_id: None,
        }],
    )
    .await
}

async fn line_reservation(tx: &mut Tx, line_id: i64) -> Result<i64> {
    Ok(on_tx!(tx, tx => {
        sqlx::query_scalar::<_, i64>("select reservation_id from pick_list_lines where id = $1")
            .bind(line_id)
            .fetch_one(&mut *tx)
            .await?
    }))
}

/// The stricter of the item's and the deal's customer's required remaining shelf life.
async fn min_remaining(tx: &mut Tx, deal_id: i64, item_id: i64) -> Result<Option<i64>> {
    let (customer, item) = on_tx!(tx, tx => {
        sqlx::query_as::<_, (Option<i64>, Option<i64>)>(
            "select (select c.min_remaining_shelf_life_days from deals d
                     join customers c on c.id = d.customer_id where d.id = $1),
                    (select min_remaining_shelf_life_days from items where id = $2)",
        )
        .bind(deal_id)
        .bind(item_id)
        .fetch_one(&mut *tx)
        .await?
    });
    Ok(match (customer, item) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    })
}
