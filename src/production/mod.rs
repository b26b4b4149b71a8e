//! Production orders: make an item, with the components of its bill of materials, for the deal
//! lines (or parent orders) waiting for it. `planned` → `released` → `in_progress` → `done`, or
//! `cancelled`. Completing (fully or partly) consumes the components and receives the output as
//! a `production_output` movement in one transaction; the output is then reserved for the
//! waiting deals, oldest first.

pub mod api;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::catalog::items::{self, Source, Tracking};
use crate::catalog::warehouses;
use crate::db::{Arg, Db, Page, Paged, Where, now};
use crate::error::{Checks, Error, Result};
use crate::stock::batches::{self, NewBatch};
use crate::stock::ledger::{self, Guard, Movement, MovementType, NewMovement};
use crate::stock::operations::Actor;
use crate::stock::reservations::{self, Holder};
use crate::supply::Serves;
use crate::{in_tx, on_read};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ProductionStatus)]
pub enum Status {
    Planned,
    Released,
    InProgress,
    Done,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Planned => "planned",
            Status::Released => "released",
            Status::InProgress => "in_progress",
            Status::Done => "done",
            Status::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "released" => Status::Released,
            "in_progress" => Status::InProgress,
            "done" => Status::Done,
            "cancelled" => Status::Cancelled,
            _ => Status::Planned,
        }
    }
}

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
    status: String,
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

async fn row(db: &Db, id: i64) -> Result<Row> {
    on_read!(db, pool => {
        sqlx::query_as::<_, Row>(&format!("select {COLUMNS} from production_orders where id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    })
    .ok_or_else(|| Error::not_found("production order", id))
}

pub async fn get(db: &Db, id: i64) -> Result<ProductionOrder> {
    let r = row(db, id).await?;
    let components = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64, i64)>(
            "select item_id, quantity_per, consumed from production_components
             where production_order_id = $1 order by item_id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
    });
    let held = reservations::of_order(db, id).await?;
    let serves = crate::supply::of_supply(db, Some(id), None).await?;
    Ok(ProductionOrder {
        components: components
            .into_iter()
            .map(|(item_id, quantity_per, consumed)| Component {
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
        serves: serves.iter().map(Serves::from).collect(),
        id: r.id,
        item_id: r.item_id,
        warehouse_id: r.warehouse_id,
        quantity: r.quantity,
        produced: r.produced,
        status: Status::parse(&r.status),
        needs_decision: r.needs_decision,
        decision_note: r.decision_note,
        planned_date: r.planned_date,
        started_at: r.started_at,
        finished_at: r.finished_at,
        certificate: r.certificate,
        created_at: r.created_at,
    })
}

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    pub status: Option<Status>,
    pub item_id: Option<i64>,
    pub warehouse_id: Option<i64>,
    pub needs_decision: Option<bool>,
}

pub async fn list(db: &Db, filter: &Filter, page: Page) -> Result<Paged<ProductionOrder>> {
    let mut w = Where::default();
    w.text("status = $?", filter.status.map(Status::as_str));
    w.int("item_id = $?", filter.item_id);
    w.int("warehouse_id = $?", filter.warehouse_id);
    if let Some(flag) = filter.needs_decision {
        w.clauses.push(format!("needs_decision = {flag}"));
    }
    let paged = crate::db::page_ids(db, "production_orders", w, page).await?;
    let mut items = Vec::with_capacity(paged.items.len());
    for id in paged.items {
        items.push(get(db, id).await?);
    }
    Ok(Paged {
        items,
        next_after: paged.next_after,
    })
}

/// A new order for `quantity` of a manufactured item, with its bill of materials, serving
/// `demand` (when given): one transaction. Returns the order id.
pub async fn create(
    db: &Db,
    item_id: i64,
    warehouse_id: i64,
    quantity: i64,
    demand: Option<Holder>,
) -> Result<i64> {
    let item = items::get(db, item_id)
        .await
        .map_err(|_| Error::invalid("item_id", format!("no item with id {item_id}")))?;
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
    let id = in_tx!(db, tx => {
        let id: i64 = sqlx::query_scalar(
            "insert into production_orders (item_id, warehouse_id, quantity, produced, status,
                 needs_decision, planned_date, created_at, updated_at)
             values ($1, $2, $3, 0, 'planned', false, $4, $5, $5) returning id",
        )
        .bind(item_id)
        .bind(warehouse_id)
        .bind(quantity)
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
        if let Some(holder) = demand {
            let (deal_id, line_id, parent) = match holder {
                Holder::DealLine { deal_id, line_id } => (Some(deal_id), Some(line_id), None),
                Holder::Component { order_id, .. } => (None, None, Some(order_id)),
            };
            sqlx::query(
                "insert into supply_demands (production_order_id, deal_id, deal_line_id,
                     for_production_order_id, item_id, quantity, allocated, created_at)
                 values ($1, $2, $3, $4, $5, $6, 0, $7)",
            )
            .bind(id)
            .bind(deal_id)
            .bind(line_id)
            .bind(parent)
            .bind(item_id)
            .bind(quantity)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        id
    });
    Ok(id)
}

/// Adds `quantity` to a planned order and to its demand (a line grew before production
/// started). Returns false when the order is no longer planned.
pub async fn grow(db: &Db, order_id: i64, demand_id: i64, quantity: i64) -> Result<bool> {
    let at = now();
    let grown = in_tx!(db, tx => {
        let changed = sqlx::query(
            "update production_orders set quantity = quantity + $1, updated_at = $2
             where id = $3 and status = 'planned'",
        )
        .bind(quantity)
        .bind(at)
        .bind(order_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 1 {
            sqlx::query("update supply_demands set quantity = quantity + $1 where id = $2")
                .bind(quantity)
                .bind(demand_id)
                .execute(&mut *tx)
                .await?;
        }
        changed == 1
    });
    Ok(grown)
}

/// What each component still needs reserved for an order: quantity_per × what is left to make.
pub async fn component_needs(db: &Db, order_id: i64) -> Result<Vec<(i64, i64, i64)>> {
    let r = row(db, order_id).await?;
    let left = match Status::parse(&r.status) {
        Status::Done | Status::Cancelled => 0,
        _ => (r.quantity - r.produced).max(0),
    };
    let components = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64)>(
            "select item_id, quantity_per from production_components where production_order_id = $1",
        )
        .bind(order_id)
        .fetch_all(pool)
        .await?
    });
    Ok(components
        .into_iter()
        .map(|(item, per)| (item, per.saturating_mul(left), r.warehouse_id))
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

/// Moves an order along: planned → released → in_progress; any not done → cancelled.
pub async fn set_status(db: &Db, id: i64, change: StatusChange) -> Result<()> {
    let current = Status::parse(&row(db, id).await?.status);
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
    in_tx!(db, tx => {
        sqlx::query(
            "update production_orders set status = $1, updated_at = $2,
                 started_at = case when $1 = 'in_progress' and started_at is null then $2 else started_at end,
                 needs_decision = case when $3 is null then needs_decision else false end,
                 decision_note = coalesce($3, decision_note)
             where id = $4 and status = $5",
        )
        .bind(change.status.as_str())
        .bind(at)
        .bind(change.decision_note.as_deref())
        .bind(id)
        .bind(current.as_str())
        .execute(&mut *tx)
        .await?;
    });
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

/// Completes (part of) an order: consumes components (from what is reserved for the order,
/// then from free stock by FEFO), receives the output, all in one transaction; then reserves
/// the output for the deals waiting for it, oldest first.
pub async fn complete(db: &Db, id: i64, c: Completion, actor: Actor) -> Result<Completed> {
    let mut checks = Checks::new();
    checks.positive("quantity", c.quantity);
    checks.check(
        c.quantity <= ledger::MAX_QUANTITY,
        "quantity",
        "is larger than any stock can be",
    );
    checks.opt_text("certificate", c.certificate.as_deref(), 200);
    checks.finish()?;
    let order = row(db, id).await?;
    let status = Status::parse(&order.status);
    if matches!(status, Status::Done | Status::Cancelled) {
        return Err(Error::conflict(
            "status",
            format!("production order {id} is {}", status.as_str()),
        ));
    }
    let location = warehouses::location(db, c.location_id).await.map_err(|_| {
        Error::invalid(
            "location_id",
            format!("no location with id {}", c.location_id),
        )
    })?;
    if location.warehouse_id != order.warehouse_id {
        return Err(Error::invalid(
            "location_id",
            format!(
                "location {} is not in the order's warehouse {}",
                location.code, order.warehouse_id
            ),
        ));
    }
    let item = items::get(db, order.item_id).await?;
    let today = now().date();
    let mut movements = Vec::new();
    let movement = |item_id, batch_id, warehouse_id, location_id, quantity, kind| NewMovement {
        item_id,
        batch_id,
        warehouse_id,
        location_id,
        quantity,
        kind,
        user_id: actor.user_id,
        device_id: actor.device_id,
        document_type: Some("production_order".into()),
        document_id: Some(id),
        deal_id: None,
        note: None,
        reservation_id: None,
    };
    // Components: what is reserved for this order first (earliest expiry first), then free
    // stock in FEFO order.
    let held = reservations::of_order(db, id).await?;
    for (component, needed, warehouse) in component_needs_for(db, id, c.quantity).await? {
        let mut left = needed;
        for r in held.iter().filter(|r| r.item_id == component) {
            let take = left.min(r.quantity);
            if take == 0 {
                break;
            }
            let mut m = movement(
                component,
                r.batch_id,
                r.warehouse_id,
                r.location_id,
                -take,
                MovementType::ProductionConsumption,
            );
            m.reservation_id = Some(r.id);
            movements.push(m);
            left -= take;
        }
        if left > 0 {
            let plan = ledger::plan(db, component, warehouse, left, today, None).await?;
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
                movements.push(movement(
                    component,
                    pick.batch_id,
                    warehouse,
                    pick.location_id,
                    -pick.quantity,
                    MovementType::ProductionConsumption,
                ));
            }
        }
    }
    let batch_id = match item.tracking {
        Tracking::None => None,
        _ => {
            let code = c
                .batch
                .clone()
                .filter(|b| !b.trim().is_empty())
                .unwrap_or_else(|| format!("PO-{id}"));
            let batch = batches::find_or_create(
                db,
                NewBatch {
                    item_id: item.id,
                    code,
                    expiry_date: c.expiry,
                    production_date: Some(today),
                    received_at: None,
                },
            )
            .await
            .map_err(|e| match e {
                Error::Validation(mut v) => {
                    for f in &mut v {
                        f.field = "batch".into();
                    }
                    Error::Validation(v)
                }
                other => other,
            })?;
            Some(batch.id)
        }
    };
    // The output names the deals it is made for (one movement per deal), as every movement made
    // for a deal does; what no deal waits for is made to stock.
    let demands = crate::supply::of_supply(db, Some(id), None).await?;
    for (deal_id, quantity) in crate::supply::split_by_deal(&demands, c.quantity) {
        let mut m = movement(
            item.id,
            batch_id,
            order.warehouse_id,
            c.location_id,
            quantity,
            MovementType::ProductionOutput,
        );
        m.deal_id = deal_id;
        movements.push(m);
    }
    let at = now();
    let mut guards = vec![Guard::before(
        "update production_orders set produced = produced + $1,
                 status = case when produced + $1 >= quantity then 'done' else 'in_progress' end,
                 started_at = coalesce(started_at, $2),
                 finished_at = case when produced + $1 >= quantity then $2 else finished_at end,
                 certificate = coalesce($3, certificate),
                 updated_at = $2
             where id = $4 and produced = $5 and status in ('planned', 'released', 'in_progress')",
        vec![
            Arg::Int(c.quantity),
            Arg::Time(at),
            match &c.certificate {
                Some(t) => Arg::Text(t.trim().to_string()),
                None => Arg::OptText(None),
            },
            Arg::Int(id),
            Arg::Int(order.produced),
        ],
        Error::conflict(
            "status",
            format!("production order {id} changed meanwhile: complete it again"),
        ),
    )];
    if let (Some(batch), Some(certificate)) = (batch_id, &c.certificate) {
        // The output batch carries the certificate too: shipping checks the batch.
        guards.push(Guard::after(
            "update batches set certificate = $1 where id = $2",
            vec![Arg::Text(certificate.trim().to_string()), Arg::Int(batch)],
            Error::Internal(anyhow::anyhow!("batch {batch} vanished")),
        ));
    }
    let posted = ledger::post_with(db, movements, guards).await?;
    // Consumed components are recorded on the order.
    for m in posted
        .iter()
        .filter(|m| m.kind == MovementType::ProductionConsumption)
    {
        in_tx!(db, tx => {
            sqlx::query(
                "update production_components set consumed = consumed + $1
                 where production_order_id = $2 and item_id = $3",
            )
            .bind(-m.quantity)
            .bind(id)
            .bind(m.item_id)
            .execute(&mut *tx)
            .await?;
        });
    }
    let output = crate::stock::reservations::BalanceKey {
        item_id: item.id,
        warehouse_id: order.warehouse_id,
        location_id: c.location_id,
        batch_id,
    };
    let allocated = crate::supply::allocate_output(db, Some(id), None, output, c.quantity).await?;
    // A finished order's leftover component reservations go back.
    crate::fulfilment::reconcile_components(db, id).await?;
    Ok(Completed {
        order: get(db, id).await?,
        movements: posted,
        allocated,
    })
}

/// (component item, needed for `quantity` finished units, warehouse).
async fn component_needs_for(
    db: &Db,
    order_id: i64,
    quantity: i64,
) -> Result<Vec<(i64, i64, i64)>> {
    let r = row(db, order_id).await?;
    let components = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64)>(
            "select item_id, quantity_per from production_components where production_order_id = $1
             order by item_id",
        )
        .bind(order_id)
        .fetch_all(pool)
        .await?
    });
    Ok(components
        .into_iter()
        .map(|(item, per)| (item, per.saturating_mul(quantity), r.warehouse_id))
        .collect())
}
