//! The production backlog: open production orders by planned date, which are late, and what
//! each waits for (the components of its bill of materials that stock does not cover).

use std::collections::HashMap;

use serde::Serialize;
use time::Date;
use utoipa::ToSchema;

use crate::catalog::items;
use crate::db::{Db, Keys};
use crate::error::Result;
use crate::fulfilment::planning;
use crate::production::{self, ProductionOrder, Status};
use crate::reports::{Scope, days_late, every_page};
use crate::stock::reservations::Holder;
use crate::supply::{self, Demand};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Backlog {
    /// The day lateness is judged on (today, UTC).
    pub as_of: Date,
    /// By planned date (orders without one last), then by id.
    pub orders: Vec<BacklogOrder>,
}

/// One production order still to make (planned, released or in progress).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BacklogOrder {
    pub production_order_id: i64,
    pub item_id: i64,
    pub item_code: String,
    pub item_name: String,
    pub warehouse_id: i64,
    pub status: Status,
    pub quantity: i64,
    pub produced: i64,
    /// `quantity - produced`.
    pub remaining: i64,
    pub planned_date: Option<Date>,
    /// The planned date has passed.
    pub late: bool,
    /// Days since the planned date, when late.
    pub days_late: Option<i64>,
    /// A started order lost (some of) its demand: someone must decide.
    pub needs_decision: bool,
    /// The deals the order makes goods for (those the caller may see).
    pub deal_ids: Vec<i64>,
    /// The components it waits for: those whose reservations do not cover what is left to make.
    pub components_short: Vec<ComponentShort>,
}

/// A component of an order that stock does not cover.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComponentShort {
    pub item_id: i64,
    pub item_code: String,
    pub item_name: String,
    /// Per finished unit times what is left to make.
    pub needed: i64,
    /// Held for the order now.
    pub reserved: i64,
    /// `needed - reserved`.
    pub short: i64,
    /// What the orders raised for the component still bring.
    pub coming: i64,
    /// The latest active production order making the component.
    pub production_order_id: Option<i64>,
    /// The latest active purchase order buying it.
    pub purchase_order_id: Option<i64>,
    /// The latest date those orders expect.
    pub expected_date: Option<Date>,
}

/// The CSV columns: [`Row`].
pub const COLUMNS: &[&str] = &[
    "production_order_id",
    "item_id",
    "item_code",
    "item_name",
    "warehouse_id",
    "status",
    "quantity",
    "produced",
    "remaining",
    "planned_date",
    "late",
    "days_late",
    "needs_decision",
    "deal_ids",
    "components_short",
    "components_expected",
];

/// An order as one CSV row: its deals joined by `|`, its short components as
/// `code*short` joined by `|`, and the latest date their orders expect.
#[derive(Serialize)]
pub struct Row {
    production_order_id: i64,
    item_id: i64,
    item_code: String,
    item_name: String,
    warehouse_id: i64,
    status: &'static str,
    quantity: i64,
    produced: i64,
    remaining: i64,
    planned_date: Option<Date>,
    late: bool,
    days_late: Option<i64>,
    needs_decision: bool,
    deal_ids: String,
    components_short: String,
    components_expected: Option<Date>,
}

impl From<&BacklogOrder> for Row {
    fn from(o: &BacklogOrder) -> Row {
        Row {
            production_order_id: o.production_order_id,
            item_id: o.item_id,
            item_code: o.item_code.clone(),
            item_name: o.item_name.clone(),
            warehouse_id: o.warehouse_id,
            status: o.status.as_str(),
            quantity: o.quantity,
            produced: o.produced,
            remaining: o.remaining,
            planned_date: o.planned_date,
            late: o.late,
            days_late: o.days_late,
            needs_decision: o.needs_decision,
            deal_ids: joined(o.deal_ids.iter().map(i64::to_string)),
            components_short: joined(
                o.components_short
                    .iter()
                    .map(|c| format!("{}*{}", c.item_code, c.short)),
            ),
            components_expected: o
                .components_short
                .iter()
                .filter_map(|c| c.expected_date)
                .max(),
        }
    }
}

fn joined(parts: impl Iterator<Item = String>) -> String {
    parts.collect::<Vec<_>>().join("|")
}

/// Every order still to make.
async fn open_orders(db: &Db) -> Result<Vec<ProductionOrder>> {
    let mut orders = Vec::new();
    for status in [Status::Planned, Status::Released, Status::InProgress] {
        let filter = production::Filter {
            status: Some(status),
            ..Default::default()
        };
        orders.extend(every_page(|page| production::list(db, &filter, page)).await?);
    }
    Ok(orders)
}

pub async fn report(db: &Db, scope: Scope, today: Date) -> Result<Backlog> {
    let mut orders = open_orders(db).await?;
    supply::hide_unseen_deals(db, scope.viewer, orders.iter_mut().map(|o| &mut o.serves)).await?;
    let ids: Vec<i64> = orders.iter().map(|o| o.id).collect();
    let mut for_components: HashMap<(i64, i64), Vec<Demand>> = HashMap::new();
    for d in supply::of_components(&mut db.snapshot().await?, &ids).await? {
        if let Some(order) = d.for_production_order_id {
            for_components
                .entry((order, d.item_id))
                .or_default()
                .push(d);
        }
    }
    let mut item_ids: Vec<i64> = orders
        .iter()
        .flat_map(|o| std::iter::once(o.item_id).chain(o.components.iter().map(|c| c.item_id)))
        .collect();
    item_ids.sort_unstable();
    item_ids.dedup();
    let names: HashMap<i64, (String, String)> = items::by_ids(db, &Keys::Ids(item_ids))
        .await?
        .into_iter()
        .map(|i| (i.id, (i.code, i.name)))
        .collect();
    let name = |id: i64| names.get(&id).cloned().unwrap_or_default();
    let mut rows: Vec<BacklogOrder> = orders
        .into_iter()
        .map(|o| {
            let remaining = (o.quantity - o.produced).max(0);
            let components_short = o
                .components
                .iter()
                .filter_map(|c| {
                    let needed = c.quantity_per.saturating_mul(remaining);
                    let holder = Holder::Component {
                        order_id: o.id,
                        item_id: c.item_id,
                    };
                    let demands = for_components
                        .get(&(o.id, c.item_id))
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    let outcome =
                        planning::outcome_of(holder, c.item_id, needed, c.reserved, demands, None);
                    (outcome.shortfall > 0).then(|| {
                        let (item_code, item_name) = name(c.item_id);
                        ComponentShort {
                            item_id: c.item_id,
                            item_code,
                            item_name,
                            needed,
                            reserved: c.reserved,
                            short: outcome.shortfall,
                            coming: demands.iter().map(Demand::pending).sum(),
                            production_order_id: outcome.production_order_id,
                            purchase_order_id: outcome.purchase_order_id,
                            expected_date: outcome.expected_date,
                        }
                    })
                })
                .collect();
            let mut deal_ids: Vec<i64> = o.serves.iter().filter_map(|s| s.deal_id).collect();
            deal_ids.sort_unstable();
            deal_ids.dedup();
            let (item_code, item_name) = name(o.item_id);
            let days_late = days_late(o.planned_date, today);
            BacklogOrder {
                production_order_id: o.id,
                item_id: o.item_id,
                item_code,
                item_name,
                warehouse_id: o.warehouse_id,
                status: o.status,
                quantity: o.quantity,
                produced: o.produced,
                remaining,
                planned_date: o.planned_date,
                late: days_late.is_some(),
                days_late,
                needs_decision: o.needs_decision,
                deal_ids,
                components_short,
            }
        })
        .collect();
    rows.sort_by_key(|o| {
        (
            o.planned_date.is_none(),
            o.planned_date,
            o.production_order_id,
        )
    });
    Ok(Backlog {
        as_of: today,
        orders: rows,
    })
}
