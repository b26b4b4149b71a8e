//! Supply demands: what a production order or a purchase order line is for (a deal line or a
//! production order's component), how much, and how much of its output has been allocated.
//! Supply owns `supply_demands` and nothing else: orders change their own rows (production,
//! purchasing), and the planning module in fulfilment is the one that knows both kinds of
//! order. Every change runs in the caller's transaction.

use serde::Serialize;
use time::Date;
use utoipa::ToSchema;

use crate::db::{Db, Tx, now};
use crate::error::{Error, Result};
use crate::on_tx;
use crate::stock::reservations::{self, BalanceKey, Holder};

/// Where a demand's goods come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Production,
    Purchase,
}

crate::text_enum!(
    /// The status of the order behind a demand: a production order's (planned, released,
    /// in progress, done, cancelled) or a purchase order's (open, ordered, received, cancelled).
    pub OrderStatus {
        Planned = "planned",
        Released = "released",
        InProgress = "in_progress",
        Done = "done",
        Cancelled = "cancelled",
        Open = "open",
        Ordered = "ordered",
        Received = "received",
    }
);

impl OrderStatus {
    /// Still making or buying.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            OrderStatus::Planned
                | OrderStatus::Released
                | OrderStatus::InProgress
                | OrderStatus::Open
                | OrderStatus::Ordered
        )
    }

    /// Not started: may still be reduced or cancelled without asking anyone.
    pub fn is_unstarted(self) -> bool {
        matches!(
            self,
            OrderStatus::Planned | OrderStatus::Released | OrderStatus::Open
        )
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Demand {
    pub id: i64,
    pub production_order_id: Option<i64>,
    pub purchase_order_line_id: Option<i64>,
    pub purchase_order_id: Option<i64>,
    pub deal_id: Option<i64>,
    pub deal_line_id: Option<i64>,
    pub for_production_order_id: Option<i64>,
    pub item_id: i64,
    pub quantity: i64,
    pub allocated: i64,
    /// The order's status.
    pub status: OrderStatus,
    pub expected_date: Option<Date>,
}

impl Demand {
    pub fn source(&self) -> Source {
        if self.production_order_id.is_some() {
            Source::Production
        } else {
            Source::Purchase
        }
    }

    pub fn order_id(&self) -> i64 {
        self.production_order_id
            .or(self.purchase_order_id)
            .unwrap_or_default()
    }

    /// Still to come: the order is active and has not delivered all of it.
    pub fn pending(&self) -> i64 {
        if self.status.is_active() {
            (self.quantity - self.allocated).max(0)
        } else {
            0
        }
    }

    pub fn is_unstarted(&self) -> bool {
        self.status.is_unstarted()
    }

    pub fn holder(&self) -> Option<Holder> {
        match (
            self.deal_id,
            self.deal_line_id,
            self.for_production_order_id,
        ) {
            (Some(deal_id), Some(line_id), _) => Some(Holder::DealLine { deal_id, line_id }),
            (_, _, Some(order_id)) => Some(Holder::Component {
                order_id,
                item_id: self.item_id,
            }),
            _ => None,
        }
    }
}

/// What supplies a demand: a production order, or a line of a purchase order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supplier {
    ProductionOrder(i64),
    PurchaseLine(i64),
}

impl Supplier {
    /// (production_order_id, purchase_order_line_id) columns.
    fn columns(self) -> (Option<i64>, Option<i64>) {
        match self {
            Supplier::ProductionOrder(id) => (Some(id), None),
            Supplier::PurchaseLine(id) => (None, Some(id)),
        }
    }
}

const SELECT: &str = "select d.id, d.production_order_id, d.purchase_order_line_id,
        pl.purchase_order_id, d.deal_id, d.deal_line_id, d.for_production_order_id, d.item_id,
        d.quantity, d.allocated,
        coalesce(po.status, pu.status) as status,
        coalesce(po.planned_date, pl.expected_date, pu.expected_date) as expected_date
     from supply_demands d
     left join production_orders po on po.id = d.production_order_id
     left join purchase_order_lines pl on pl.id = d.purchase_order_line_id
     left join purchase_orders pu on pu.id = pl.purchase_order_id";

/// Every demand of a holder, oldest first.
pub async fn of_holder(tx: &mut Tx, holder: Holder) -> Result<Vec<Demand>> {
    let (clause, a, b) = match holder {
        Holder::DealLine { deal_id, line_id } => {
            ("d.deal_id = $1 and d.deal_line_id = $2", deal_id, line_id)
        }
        Holder::Component { order_id, item_id } => (
            "d.for_production_order_id = $1 and d.item_id = $2",
            order_id,
            item_id,
        ),
    };
    Ok(on_tx!(tx, tx => {
        sqlx::query_as::<_, Demand>(&format!("{SELECT} where {clause} order by d.id"))
            .bind(a)
            .bind(b)
            .fetch_all(&mut *tx)
            .await?
    }))
}

/// Every demand of a deal, oldest first.
pub async fn of_deal(tx: &mut Tx, deal_id: i64) -> Result<Vec<Demand>> {
    Ok(on_tx!(tx, tx => {
        sqlx::query_as::<_, Demand>(&format!("{SELECT} where d.deal_id = $1 order by d.id"))
            .bind(deal_id)
            .fetch_all(&mut *tx)
            .await?
    }))
}

/// The demands an order's output serves, oldest waiting first.
pub async fn of_supplier(tx: &mut Tx, supplier: Supplier) -> Result<Vec<Demand>> {
    let (clause, id) = match supplier {
        Supplier::ProductionOrder(id) => ("d.production_order_id = $1", id),
        Supplier::PurchaseLine(id) => ("d.purchase_order_line_id = $1", id),
    };
    Ok(on_tx!(tx, tx => {
        sqlx::query_as::<_, Demand>(&format!("{SELECT} where {clause} order by d.id"))
            .bind(id)
            .fetch_all(&mut *tx)
            .await?
    }))
}

/// The demands of several production orders, by order, oldest first.
pub async fn of_production_orders(tx: &mut Tx, order_ids: &[i64]) -> Result<Vec<Demand>> {
    of_many(tx, "d.production_order_id", order_ids).await
}

/// The demands of several purchase order lines, by line, oldest first.
pub async fn of_purchase_lines(tx: &mut Tx, line_ids: &[i64]) -> Result<Vec<Demand>> {
    of_many(tx, "d.purchase_order_line_id", line_ids).await
}

/// The demands raised for the components of several production orders, by order, oldest
/// first.
pub async fn of_components(tx: &mut Tx, order_ids: &[i64]) -> Result<Vec<Demand>> {
    of_many(tx, "d.for_production_order_id", order_ids).await
}

/// The demands whose `column` is one of `ids`, by that column, oldest first.
async fn of_many(tx: &mut Tx, column: &str, ids: &[i64]) -> Result<Vec<Demand>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::db::placeholders(1, ids.len());
    let sql = format!("{SELECT} where {column} in ({list}) order by {column}, d.id");
    Ok(on_tx!(tx, tx => {
        let mut q = sqlx::query_as::<_, Demand>(&sql);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(&mut *tx).await?
    }))
}

/// [`of_supplier`] on the read pool, for reads outside a transaction.
pub async fn of_supplier_read(db: &Db, supplier: Supplier) -> Result<Vec<Demand>> {
    let mut tx = db.snapshot().await?;
    of_supplier(&mut tx, supplier).await
}

/// Records that `supplier` makes or buys `quantity` of `item_id` for `holder`: the holder's
/// demand on it grows, or a new one starts.
pub async fn add(
    tx: &mut Tx,
    supplier: Supplier,
    holder: Holder,
    item_id: i64,
    quantity: i64,
) -> Result<()> {
    let (order, line) = supplier.columns();
    let (deal_id, deal_line_id, parent) = holder.columns();
    let at = now();
    on_tx!(tx, tx => {
        let grown = sqlx::query(
            "update supply_demands set quantity = quantity + $1
             where ((production_order_id = $2) or (purchase_order_line_id = $3)) and item_id = $4
               and ((deal_id = $5 and deal_line_id = $6) or for_production_order_id = $7)",
        )
        .bind(quantity)
        .bind(order)
        .bind(line)
        .bind(item_id)
        .bind(deal_id)
        .bind(deal_line_id)
        .bind(parent)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if grown == 0 {
            sqlx::query(
                "insert into supply_demands (production_order_id, purchase_order_line_id, deal_id,
                     deal_line_id, for_production_order_id, item_id, quantity, allocated, created_at)
                 values ($1, $2, $3, $4, $5, $6, $7, 0, $8)",
            )
            .bind(order)
            .bind(line)
            .bind(deal_id)
            .bind(deal_line_id)
            .bind(parent)
            .bind(item_id)
            .bind(quantity)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
    });
    Ok(())
}

/// Shrinks a demand by `by` of what it still waits for (goods received beyond what was
/// ordered, for others, must not block it). False when it no longer waits for that much.
pub async fn shrink(tx: &mut Tx, demand_id: i64, by: i64) -> Result<bool> {
    if by <= 0 {
        return Ok(true);
    }
    let changed = on_tx!(tx, tx => {
        sqlx::query(
            "update supply_demands set quantity = quantity - $1
             where id = $2 and quantity - allocated >= $1",
        )
        .bind(by)
        .bind(demand_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    Ok(changed == 1)
}

/// Reserves an order's output for the demands it serves, oldest waiting first, in the
/// caller's transaction (with the receipt or completion that brought it in). Returns how much
/// was reserved; the rest is free stock.
pub async fn allocate_output(
    tx: &mut Tx,
    supplier: Supplier,
    output: BalanceKey,
    quantity: i64,
) -> Result<i64> {
    let mut left = quantity;
    for d in of_supplier(tx, supplier).await? {
        if left <= 0 {
            break;
        }
        let Some(holder) = d.holder() else {
            continue;
        };
        let want = left.min(d.quantity - d.allocated);
        if want <= 0 {
            continue;
        }
        let held = reservations::hold(tx, holder, output, want, None).await?;
        if held == 0 {
            // The output's balance cannot hold it (taken meanwhile): it stays free stock.
            continue;
        }
        let allocated = on_tx!(tx, tx => {
            sqlx::query(
                "update supply_demands set allocated = allocated + $1
                 where id = $2 and allocated + $1 <= quantity",
            )
            .bind(held)
            .bind(d.id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        if allocated != 1 {
            return Err(Error::conflict(
                "quantity",
                format!(
                    "demand {} changed while its output was allocated: try again",
                    d.id
                ),
            ));
        }
        left -= held;
    }
    Ok(quantity - left)
}

/// A deal line (or parent order) this order serves.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Serves {
    pub deal_id: Option<i64>,
    pub deal_line_id: Option<i64>,
    pub production_order_id: Option<i64>,
    pub quantity: i64,
    /// Of the output, reserved for it so far.
    pub allocated: i64,
}

impl From<&Demand> for Serves {
    fn from(d: &Demand) -> Serves {
        Serves {
            deal_id: d.deal_id,
            deal_line_id: d.deal_line_id,
            production_order_id: d.for_production_order_id,
            quantity: d.quantity,
            allocated: d.allocated,
        }
    }
}

/// Leaves out of each list the deal lines `viewer` may not see (a rep sees only their own
/// deals, a head their team's), so an order does not reveal other people's deals. Without a
/// viewer everything stays.
pub async fn hide_unseen_deals<'a>(
    db: &Db,
    viewer: Option<crate::crm::visibility::Viewer>,
    lists: impl IntoIterator<Item = &'a mut Vec<Serves>>,
) -> Result<()> {
    let Some(viewer) = viewer else {
        return Ok(());
    };
    let lists: Vec<&mut Vec<Serves>> = lists.into_iter().collect();
    let mut deal_ids: Vec<i64> = lists
        .iter()
        .flat_map(|l| l.iter().filter_map(|s| s.deal_id))
        .collect();
    deal_ids.sort_unstable();
    deal_ids.dedup();
    let visible = crate::crm::visibility::visible_deals(db, viewer, &deal_ids).await?;
    for list in lists {
        list.retain(|s| s.deal_id.is_none_or(|d| visible.contains(&d)));
    }
    Ok(())
}

/// How `quantity` arriving from an order divides among the deals its demands serve (`demands`
/// in the order [`of_supplier`] reads them, oldest first: the order `allocate_output` reserves
/// in), each getting at most what it still waits for; the rest is for no deal. Parts of the same
/// deal are merged. Used to name the deal on the movement that brings the goods in.
pub fn split_by_deal(demands: &[Demand], quantity: i64) -> Vec<(Option<i64>, i64)> {
    let mut parts: Vec<(Option<i64>, i64)> = Vec::new();
    let mut left = quantity.max(0);
    for d in demands {
        let Some(deal_id) = d.deal_id else {
            continue;
        };
        let take = left.min((d.quantity - d.allocated).max(0));
        if take == 0 {
            continue;
        }
        match parts.iter_mut().find(|(deal, _)| *deal == Some(deal_id)) {
            Some((_, q)) => *q += take,
            None => parts.push((Some(deal_id), take)),
        }
        left -= take;
    }
    if left > 0 || parts.is_empty() {
        parts.push((None, left));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demand(id: i64, deal: Option<i64>, quantity: i64, allocated: i64) -> Demand {
        Demand {
            id,
            production_order_id: Some(1),
            purchase_order_line_id: None,
            purchase_order_id: None,
            deal_id: deal,
            deal_line_id: deal.map(|d| d * 10),
            for_production_order_id: None,
            item_id: 1,
            quantity,
            allocated,
            status: OrderStatus::Released,
            expected_date: None,
        }
    }

    #[test]
    fn output_goes_to_waiting_deals_oldest_first_then_to_no_deal() {
        let demands = [
            demand(1, Some(7), 5, 2),
            demand(2, None, 4, 0),
            demand(3, Some(8), 10, 0),
            demand(4, Some(7), 1, 0),
        ];
        assert_eq!(
            split_by_deal(&demands, 20),
            vec![(Some(7), 4), (Some(8), 10), (None, 6)]
        );
        assert_eq!(split_by_deal(&demands, 2), vec![(Some(7), 2)]);
        assert_eq!(split_by_deal(&[], 3), vec![(None, 3)]);
    }
}
