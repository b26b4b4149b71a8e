//! Production orders: make an item, with the components of its bill of materials, for the deal
//! lines (or parent orders) waiting for it. `planned` → `released` → `in_progress` → `done`, or
//! `cancelled`. Production owns its orders and their components and makes every change to them
//! in the caller's transaction; what an order serves is supply's, and deciding when to make
//! something is the planning module's (`fulfilment::planning`).

pub mod api;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::catalog::items::{self, Source, Tracking};
use crate::catalog::warehouses;
use crate::db::{Arg, Db, Page, Paged, Tx, Where, now};
use crate::error::{Checks, Error, Result};
use crate::stock::batches::{self, NewBatch};
use crate::stock::ledger::{self, Movement, MovementType, NewMovement};
use crate::stock::operations::Actor;
use crate::stock::reservations::{self, BalanceKey, Holder, Reservation};
use crate::supply::{self, Demand, Serves, Supplier};
use crate::{bind_args, on_tx};

crate::text_enum!(
    /// Where a production order is.
    #[schema(as = ProductionStatus)]
    pub Status {
        Planned = "planned",
        Released = "released",
        InProgress = "in_progress",
        Done = "done",
        Cancelled = "cancelled",
    }
);

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Component {
    pub item_id: i64,
    pub quantity_per: i64,
    /// For the whole order: `quantity_per * quantity`.
    pub required: i64,
    pub consumed: i64,
    /// Held for this order now.
    pub reserved: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductionOrder {
    pub id: i64,
    pub item_id: i64,
    pub warehouse_id: i64,
    pub quantity: i64,
    pub produced: i64,
    pub status: Status,
    /// A started order lost (some of) its demand: someone must decide.
    pub needs_decision: bool,
    pub decision_note: Option<String>,
    /// When the goods are expected.
    pub planned_date: Option<Date>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub certificate: Option<String>,
    pub components: Vec<Component>,
    pub serves: Vec<Serves>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    item_id: i64,
    warehouse_id: i64,
    quantity: i64,
    produced: i64,
    status: Status,
    needs_decision: bool,
    decision_note: Option<String>,
    planned_date: Option<Date>,
    started_at: Option<OffsetDateTime>,
    finished_at: Option<OffsetDateTime>,
    certificate: Option<String>,
    created_at: OffsetDateTime,
}

const COLUMNS: &str = "id, item_id, warehouse_id, quantity, produced, status, needs_decision, \
    decision_note, planned_date, started_at, finished_at, certificate, created_at";

async fn row(tx: &mut Tx, id: i64) -> Result<Row> {
    on_tx!(tx, tx => {
        sqlx::query_as::<_, Row>(&format!("select {COLUMNS} from production_orders where id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
    })
    .ok_or_else(|| Error::not_found("production order", id))
}

/// One order, read on its own ([`get`]).
pub async fn read(db: &Db, id: i64) -> Result<ProductionOrder> {
    get(&mut db.snapshot().await?, id).await
}

/// One order with its components (required, consumed, reserved) and what it serves.
pub async fn get(tx: &mut Tx, id: i64) -> Result<ProductionOrder> {
    let row = row(tx, id).await?;
    Ok(complete_rows(tx, vec![row]).await?.remove(0))
}

/// Orders by status, item, warehouse or need of a decision, paged by id; each page is read
/// with four queries however many orders it holds.
pub async fn list(db: &Db, filter: &Filter, page: Page) -> Result<Paged<ProductionOrder>> {
    let mut w = Where::default();
    w.add("id > $?", Arg::Int(page.after));
    w.text("status = $?", filter.status.map(Status::as_str));
    w.int("item_id = $?", filter.item_id);
    w.int("warehouse_id = $?", filter.warehouse_id);
    if let Some(flag) = filter.needs_decision {
        w.clauses.push(format!("needs_decision = {flag}"));
    }
    let limit = w.next();
    w.args.push(Arg::Int(page.fetch_limit()));
    let sql = format!(
        "select {COLUMNS} from production_orders where {} order by id limit ${limit}",
        w.sql()
    );
    let mut tx = db.snapshot().await?;
    let rows = on_tx!(&mut tx, tx => {
        bind_args!(sqlx::query_as::<_, Row>(&sql), &w.args)
            .fetch_all(&mut *tx)
            .await?
    });
    let paged = Paged::from_rows(rows, page, |r| r.id);
    Ok(Paged {
        items: complete_rows(&mut tx, paged.items).await?,
        next_after: paged.next_after,
    })
}

/// Components, reservations and demands of the orders, each read once for all of them.
async fn complete_rows(tx: &mut Tx, rows: Vec<Row>) -> Result<Vec<ProductionOrder>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let sql = format!(
        "select production_order_id, item_id, quantity_per, consumed from production_components
         where production_order_id in ({}) order by production_order_id, item_id",
        crate::db::placeholders(1, ids.len())
    );
    let components = on_tx!(tx, tx => {
        let mut q = sqlx::query_as::<_, (i64, i64, i64, i64)>(&sql);
        for id in &ids {
            q = q.bind(*id);
        }
        q.fetch_all(&mut *tx).await?
    });
    let mut held: HashMap<i64, Vec<Reservation>> = HashMap::new();
    for r in reservations::of_orders(tx, &ids).await? {
        held.entry(r.production_order_id.unwrap_or_default())
            .or_default()
            .push(r);
    }
    let mut serves: HashMap<i64, Vec<Demand>> = HashMap::new();
    for d in supply::of_production_orders(tx, &ids).await? {
        serves
            .entry(d.production_order_id.unwrap_or_default())
            .or_default()
            .push(d);
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let held = held.remove(&r.id).unwrap_or_default();
            ProductionOrder {
                components: components
                    .iter()
                    .filter(|c| c.0 == r.id)
                    .map(|&(_, item_id, quantity_per, consumed)| Component {
                        item_id,
                        quantity_per,
                        required: quantity_per.saturating_mul(r.quantity),
                        consumed,
                        reserved: held
                            .iter()
                            .filter(|h| h.item_id == item_id)
                            .map(|h| h.quantity)
                            .sum(),
                    })
                    .collect(),
                serves: serves
                    .remove(&r.id)
                    .unwrap_or_default()
                    .iter()
                    .map(Serves::from)
                    .collect(),
                id: r.id,
                item_id: r.item_id,
                warehouse_id: r.warehouse_id,
                quantity: r.quantity,
                produced: r.produced,
                status: r.status,
                needs_decision: r.needs_decision,
                decision_note: r.decision_note,
                planned_date: r.planned_date,
                started_at: r.started_at,
                finished_at: r.finished_at,
                certificate: r.certificate,
                created_at: r.created_at,
            }
        })
        .collect())
}

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    pub status: Option<Status>,
    pub item_id: Option<i64>,
    pub warehouse_id: Option<i64>,
    pub needs_decision: Option<bool>,
}

/// A new order for `quantity` of a manufactured item, with its bill of materials, serving
/// `demand` (when given), in the caller's transaction. `db` reads the item master. Refuses,
/// naming the field, an item that is not manufactured and a quantity that is not positive.
/// Returns the order id.
pub async fn create(
    tx: &mut Tx,
    db: &Db,
    item_id: i64,
    warehouse_id: i64,
    quantity: i64,
    demand: Option<Holder>,
) -> Result<i64> {
    let mut checks = Checks::new();
    checks.positive("quantity", quantity);
    checks.check(
        quantity <= ledger::MAX_QUANTITY,
        "quantity",
        "is larger than any stock can be",
    );
    checks.finish()?;
    let item = match items::get(db, item_id).await {
        Ok(item) => item,
        Err(Error::NotFound { .. }) => {
            return Err(Error::invalid(
                "item_id",
                format!("no item with id {item_id}"),
            ));
        }
        Err(e) => return Err(e),
    };
    if item.source != Source::Manufactured {
        return Err(Error::invalid(
            "item_id",
            format!("item {} is purchased, not manufactured", item.code),
        ));
    }
    let bom = items::bom(db, item_id).await?;
    let at = now();
    let planned = item
        .lead_time_days
        .and_then(|d| crate::days::add(at.date(), d));
    let id = on_tx!(tx, tx => {
        let id: i64 = sqlx::query_scalar(
            "insert into production_orders (item_id, warehouse_id, quantity, produced, status,
                 needs_decision, planned_date, created_at, updated_at)
             values ($1, $2, $3, 0, $4, false, $5, $6, $6) returning id",
        )
        .bind(item_id)
        .bind(warehouse_id)
        .bind(quantity)
        .bind(Status::Planned)
        .bind(planned)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        for line in &bom.lines {
            sqlx::query(
                "insert into production_components (production_order_id, item_id, quantity_per, consumed)
                 values ($1, $2, $3, 0)",
            )
            .bind(id)
            .bind(line.component_item_id)
            .bind(line.quantity)
            .execute(&mut *tx)
            .await?;
        }
        id
    });
    if let Some(holder) = demand {
        supply::add(tx, Supplier::ProductionOrder(id), holder, item_id, quantity).await?;
    }
    Ok(id)
}

/// Adds `quantity` to a planned order for `holder` (a line grew before production started).
/// False when the order is no longer planned.
pub async fn grow(
    tx: &mut Tx,
    order_id: i64,
    holder: Holder,
    item_id: i64,
    quantity: i64,
) -> Result<bool> {
    let at = now();
    let changed = on_tx!(tx, tx => {
        sqlx::query(
            "update production_orders set quantity = quantity + $1, updated_at = $2
             where id = $3 and status = $4",
        )
        .bind(quantity)
        .bind(at)
        .bind(order_id)
        .bind(Status::Planned)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    if changed == 1 {
        supply::add(
            tx,
            Supplier::ProductionOrder(order_id),
            holder,
            item_id,
            quantity,
        )
        .await?;
    }
    Ok(changed == 1)
}

/// Takes `by` off an order that has not started (planned or released); an order left with
/// nothing to make is cancelled (done, when some was made). False when it started meanwhile.
pub async fn shrink(tx: &mut Tx, order_id: i64, by: i64) -> Result<bool> {
    let at = now();
    let changed = on_tx!(tx, tx => {
        sqlx::query(
            "update production_orders set quantity = quantity - $1,
                 status = case when quantity - $1 <= produced and produced = 0 then $5
                               when quantity - $1 <= produced then $6 else status end,
                 updated_at = $2
             where id = $3 and status in ($4, $7) and quantity >= $1",
        )
        .bind(by)
        .bind(at)
        .bind(order_id)
        .bind(Status::Planned)
        .bind(Status::Cancelled)
        .bind(Status::Done)
        .bind(Status::Released)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    Ok(changed == 1)
}

/// Flags a started order whose demand shrank: someone decides what happens to its output.
pub async fn flag(tx: &mut Tx, order_id: i64, note: &str) -> Result<()> {
    let at = now();
    on_tx!(tx, tx => {
        sqlx::query(
            "update production_orders set needs_decision = true, decision_note = $1, updated_at = $2
             where id = $3",
        )
        .bind(note)
        .bind(at)
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
    });
    Ok(())
}

/// What each component still needs reserved for an order: (component item, quantity_per ×
/// what is left to make, warehouse); nothing once it is done or cancelled.
pub async fn component_needs(tx: &mut Tx, order_id: i64) -> Result<Vec<(i64, i64, i64)>> {
    let r = row(tx, order_id).await?;
    let left = match r.status {
        Status::Done | Status::Cancelled => 0,
        _ => (r.quantity - r.produced).max(0),
    };
    components_for(tx, &r, left).await
}

/// (component item, needed for `quantity` finished units, warehouse), in item order.
async fn components_for(tx: &mut Tx, r: &Row, quantity: i64) -> Result<Vec<(i64, i64, i64)>> {
    let components = on_tx!(tx, tx => {
        sqlx::query_as::<_, (i64, i64)>(
            "select item_id, quantity_per from production_components where production_order_id = $1
             order by item_id",
        )
        .bind(r.id)
        .fetch_all(&mut *tx)
        .await?
    });
    Ok(components
        .into_iter()
        .map(|(item, per)| (item, per.saturating_mul(quantity), r.warehouse_id))
        .collect())
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(as = ProductionStatusChange)]
pub struct StatusChange {
    /// `released`, `in_progress` or `cancelled` (done comes from completing).
    pub status: Status,
    /// Clears `needs_decision` with this note.
    #[serde(default)]
    pub decision_note: Option<String>,
}

/// Moves an order along: planned → released → in_progress; any not done → cancelled. The
/// change is conditional on the status it was read with: a change that lost a race is a
/// conflict, never a silent success.
pub async fn set_status(tx: &mut Tx, id: i64, change: &StatusChange) -> Result<()> {
    let current = row(tx, id).await?.status;
    let allowed = match change.status {
        Status::Released => current == Status::Planned,
        Status::InProgress => matches!(current, Status::Planned | Status::Released),
        Status::Cancelled => !matches!(current, Status::Done | Status::Cancelled),
        Status::Planned | Status::Done => false,
    };
    if !allowed && change.status != current {
        return Err(Error::conflict(
            "status",
            format!(
                "a {} order cannot become {} (done comes from completing it)",
                current.as_str(),
                change.status.as_str()
            ),
        ));
    }
    let at = now();
    let changed = on_tx!(tx, tx => {
        sqlx::query(
            "update production_orders set status = $1, updated_at = $2,
                 started_at = case when $1 = $6 and started_at is null then $2 else started_at end,
                 needs_decision = case when $3 is null then needs_decision else false end,
                 decision_note = coalesce($3, decision_note)
             where id = $4 and status = $5",
        )
        .bind(change.status)
        .bind(at)
        .bind(change.decision_note.as_deref())
        .bind(id)
        .bind(current)
        .bind(Status::InProgress)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    if changed != 1 {
        return Err(Error::conflict(
            "status",
            format!("production order {id} changed meanwhile: read it again"),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Completion {
    /// Produced now (base units); may be part of the order.
    pub quantity: i64,
    /// Where the output is put.
    pub location_id: i64,
    /// Batch of the output (batch-tracked items; default `PO-<order id>`).
    #[serde(default)]
    pub batch: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date)]
    pub expiry: Option<Date>,
    /// A quality certificate reference, recorded against the order and the batch.
    #[serde(default)]
    pub certificate: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Completed {
    pub order: ProductionOrder,
    /// Consumption of components and the output.
    pub movements: Vec<Movement>,
    /// How much of the output was reserved for waiting deals (oldest first).
    pub allocated: i64,
}

/// What completing an order posted: its movements and how much of the output went to waiting
/// demands.
pub struct Output {
    pub movements: Vec<Movement>,
    pub allocated: i64,
}

/// Completes (part of) an order in the caller's transaction: consumes components (from what
/// is reserved for the order, then from free stock by FEFO), receives the output (naming the
/// deals it is for), records what was made and consumed, and reserves the output for the
/// demands waiting for it, oldest first. `db` reads master data.
pub async fn complete(
    tx: &mut Tx,
    db: &Db,
    id: i64,
    c: &Completion,
    actor: Actor,
) -> Result<Output> {
    check_completion(c)?;
    let order = row(tx, id).await?;
    if matches!(order.status, Status::Done | Status::Cancelled) {
        return Err(Error::conflict(
            "status",
            format!("production order {id} is {}", order.status.as_str()),
        ));
    }
    check_location(db, c.location_id, order.warehouse_id).await?;
    let item = items::get(db, order.item_id).await?;
    let posting = Posting {
        order_id: id,
        actor,
    };
    let mut movements = consumption(tx, &posting, &order, c.quantity).await?;
    let batch_id = output_batch(tx, db, &order, &item, c).await?;
    movements.extend(output(tx, &posting, &order, c, batch_id).await?);
    record_made(tx, &order, c).await?;
    if let (Some(batch), Some(certificate)) = (batch_id, &c.certificate) {
        // The output batch carries the certificate too: shipping checks the batch.
        batches::set_certificate_in(tx, batch, certificate).await?;
    }
    let posted = ledger::post_in(tx, movements).await?;
    record_consumed(tx, id, &posted).await?;
    let allocated = supply::allocate_output(
        tx,
        Supplier::ProductionOrder(id),
        BalanceKey {
            item_id: item.id,
            warehouse_id: order.warehouse_id,
            location_id: c.location_id,
            batch_id,
        },
        c.quantity,
    )
    .await?;
    Ok(Output {
        movements: posted,
        allocated,
    })
}

fn check_completion(c: &Completion) -> Result<()> {
    let mut checks = Checks::new();
    checks.positive("quantity", c.quantity);
    checks.check(
        c.quantity <= ledger::MAX_QUANTITY,
        "quantity",
        "is larger than any stock can be",
    );
    checks.opt_text("certificate", c.certificate.as_deref(), 200);
    checks.finish()
}

/// The output goes to a location of the order's warehouse.
async fn check_location(db: &Db, location_id: i64, warehouse_id: i64) -> Result<()> {
    let location = match warehouses::location(db, location_id).await {
        Ok(location) => location,
        Err(Error::NotFound { .. }) => {
            return Err(Error::invalid(
                "location_id",
                format!("no location with id {location_id}"),
            ));
        }
        Err(e) => return Err(e),
    };
    if location.warehouse_id != warehouse_id {
        return Err(Error::invalid(
            "location_id",
            format!(
                "location {} is not in the order's warehouse {warehouse_id}",
                location.code
            ),
        ));
    }
    Ok(())
}

/// Who completes which order: what every movement of a completion carries.
struct Posting {
    order_id: i64,
    actor: Actor,
}

impl Posting {
    fn movement(
        &self,
        key: BalanceKey,
        quantity: i64,
        kind: MovementType,
        deal_id: Option<i64>,
    ) -> NewMovement {
        NewMovement {
            item_id: key.item_id,
            batch_id: key.batch_id,
            warehouse_id: key.warehouse_id,
            location_id: key.location_id,
            quantity,
            kind,
            user_id: self.actor.user_id,
            device_id: self.actor.device_id,
            document_type: Some("production_order".into()),
            document_id: Some(self.order_id),
            deal_id,
            note: None,
            reservation_id: None,
        }
    }
}

/// The components `quantity` finished units consume: what is reserved for the order first
/// (earliest expiry first), then free stock in FEFO order; a conflict naming the component
/// when the warehouse is short.
async fn consumption(
    tx: &mut Tx,
    posting: &Posting,
    order: &Row,
    quantity: i64,
) -> Result<Vec<NewMovement>> {
    let today = now().date();
    let held = reservations::of_order(tx, order.id).await?;
    let mut movements = Vec::new();
    for (component, needed, warehouse) in components_for(tx, order, quantity).await? {
        let mut left = needed;
        for r in held.iter().filter(|r| r.item_id == component) {
            let take = left.min(r.quantity);
            if take == 0 {
                break;
            }
            let mut m = posting.movement(r.key(), -take, MovementType::ProductionConsumption, None);
            m.reservation_id = Some(r.id);
            movements.push(m);
            left -= take;
        }
        if left == 0 {
            continue;
        }
        let plan = ledger::plan(tx, component, warehouse, left, today, None).await?;
        if plan.short > 0 {
            return Err(Error::conflict(
                "quantity",
                format!(
                    "component item {component}: {needed} needed, {} short in warehouse {warehouse}",
                    plan.short
                ),
            ));
        }
        for pick in plan.picks {
            let key = BalanceKey {
                item_id: component,
                warehouse_id: warehouse,
                location_id: pick.location_id,
                batch_id: pick.batch_id,
            };
            movements.push(posting.movement(
                key,
                -pick.quantity,
                MovementType::ProductionConsumption,
                None,
            ));
        }
    }
    Ok(movements)
}

/// The batch the output goes into (batch-tracked items): the one given, else `PO-<order id>`.
async fn output_batch(
    tx: &mut Tx,
    db: &Db,
    order: &Row,
    item: &items::Item,
    c: &Completion,
) -> Result<Option<i64>> {
    if item.tracking == Tracking::None {
        return Ok(None);
    }
    let code = c
        .batch
        .clone()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| format!("PO-{}", order.id));
    let new = NewBatch {
        item_id: item.id,
        code,
        expiry_date: c.expiry,
        production_date: Some(now().date()),
        received_at: None,
    };
    match batches::find_or_create_in(tx, db, new).await {
        Ok(batch) => Ok(Some(batch.id)),
        Err(Error::Validation(mut errors)) => {
            for e in &mut errors {
                e.field = "batch".into();
            }
            Err(Error::Validation(errors))
        }
        Err(e) => Err(e),
    }
}

/// The output, one movement per deal it is made for (what each still waits for, oldest
/// demand first, as it is allocated) and one for what no deal waits for: every movement made
/// for a deal names the deal.
async fn output(
    tx: &mut Tx,
    posting: &Posting,
    order: &Row,
    c: &Completion,
    batch_id: Option<i64>,
) -> Result<Vec<NewMovement>> {
    let demands = supply::of_supplier(tx, Supplier::ProductionOrder(order.id)).await?;
    let key = BalanceKey {
        item_id: order.item_id,
        warehouse_id: order.warehouse_id,
        location_id: c.location_id,
        batch_id,
    };
    Ok(supply::split_by_deal(&demands, c.quantity)
        .into_iter()
        .map(|(deal_id, quantity)| {
            posting.movement(key, quantity, MovementType::ProductionOutput, deal_id)
        })
        .collect())
}

/// What was made: `produced` grows (the order is done once it reaches its quantity), guarded
/// by the quantity read, so two completions of one order never both count.
async fn record_made(tx: &mut Tx, order: &Row, c: &Completion) -> Result<()> {
    let at = now();
    let changed = on_tx!(tx, tx => {
        sqlx::query(
            "update production_orders set produced = produced + $1,
                 status = case when produced + $1 >= quantity then $6 else $7 end,
                 started_at = coalesce(started_at, $2),
                 finished_at = case when produced + $1 >= quantity then $2 else finished_at end,
                 certificate = coalesce($3, certificate),
                 updated_at = $2
             where id = $4 and produced = $5 and status in ($8, $9, $7)",
        )
        .bind(c.quantity)
        .bind(at)
        .bind(c.certificate.as_deref().map(str::trim))
        .bind(order.id)
        .bind(order.produced)
        .bind(Status::Done)
        .bind(Status::InProgress)
        .bind(Status::Planned)
        .bind(Status::Released)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    if changed != 1 {
        return Err(Error::conflict(
            "status",
            format!(
                "production order {} changed meanwhile: complete it again",
                order.id
            ),
        ));
    }
    Ok(())
}

/// Consumed components are recorded on the order.
async fn record_consumed(tx: &mut Tx, order_id: i64, posted: &[Movement]) -> Result<()> {
    for m in posted
        .iter()
        .filter(|m| m.kind == MovementType::ProductionConsumption)
    {
        on_tx!(tx, tx => {
            sqlx::query(
                "update production_components set consumed = consumed + $1
                 where production_order_id = $2 and item_id = $3",
            )
            .bind(-m.quantity)
            .bind(order_id)
            .bind(m.item_id)
            .execute(&mut *tx)
            .await?;
        });
    }
    Ok(())
}
