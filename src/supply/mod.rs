//! Supply demands: what a production order or purchase order line is for (a deal line or a
//! production order's component), how much, and how much of its output has been allocated.

use serde::Serialize;
use time::Date;
use utoipa::ToSchema;

use crate::db::{Db, now};
use crate::error::Result;
use crate::stock::reservations::{BalanceKey, Holder};
use crate::{in_tx, on_read};

/// Where a demand's goods come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Production,
    Purchase,
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
    pub status: String,
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
        if self.is_active() {
            (self.quantity - self.allocated).max(0)
        } else {
            0
        }
    }

    pub fn is_active(&self) -> bool {
        matches!(
            self.status.as_str(),
            "planned" | "released" | "in_progress" | "open" | "ordered"
        )
    }

    /// Not started: may still be reduced or cancelled without asking anyone.
    pub fn is_unstarted(&self) -> bool {
        matches!(self.status.as_str(), "planned" | "released" | "open")
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
pub async fn of_holder(db: &Db, holder: Holder) -> Result<Vec<Demand>> {
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
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, Demand>(&format!("{SELECT} where {clause} order by d.id"))
            .bind(a)
            .bind(b)
            .fetch_all(pool)
            .await?
    }))
}

/// Every demand of a deal, oldest first.
pub async fn of_deal(db: &Db, deal_id: i64) -> Result<Vec<Demand>> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, Demand>(&format!("{SELECT} where d.deal_id = $1 order by d.id"))
            .bind(deal_id)
            .fetch_all(pool)
            .await?
    }))
}

/// The demands an order's output serves, oldest waiting first.
pub async fn of_supply(
    db: &Db,
    production_order_id: Option<i64>,
    purchase_order_line_id: Option<i64>,
) -> Result<Vec<Demand>> {
    let (clause, id) = match (production_order_id, purchase_order_line_id) {
        (Some(id), _) => ("d.production_order_id = $1", id),
        (None, Some(id)) => ("d.purchase_order_line_id = $1", id),
        (None, None) => return Ok(Vec::new()),
    };
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, Demand>(&format!("{SELECT} where {clause} order by d.id"))
            .bind(id)
            .fetch_all(pool)
            .await?
    }))
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
/// in the order [`of_supply`] reads them, oldest first: the order `allocate_output` reserves
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

/// Shrinks a demand that has not started, with its order (a production order, or a purchase
/// order line) by `by` (what the demand still waits for is not received by definition: goods
/// received beyond what was ordered, for others, must not block it); an order left with nothing to make or buy is cancelled. Returns how
/// much it shrank (0 when the order started meanwhile).
pub async fn shrink(db: &Db, demand: &Demand, by: i64) -> Result<i64> {
    if by <= 0 {
        return Ok(0);
    }
    let at = now();
    let shrunk = in_tx!(db, tx => {
        let changed = sqlx::query(
            "update supply_demands set quantity = quantity - $1
             where id = $2 and quantity - allocated >= $1",
        )
        .bind(by)
        .bind(demand.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(0);
        }
        let order = match (demand.production_order_id, demand.purchase_order_line_id) {
            (Some(order), _) => sqlx::query(
                "update production_orders set quantity = quantity - $1,
                     status = case when quantity - $1 <= produced and produced = 0 then 'cancelled'
                                   when quantity - $1 <= produced then 'done' else status end,
                     updated_at = $2
                 where id = $3 and status in ('planned', 'released') and quantity >= $1",
            )
            .bind(by)
            .bind(at)
            .bind(order)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            (None, Some(line)) => sqlx::query(
                "update purchase_order_lines set quantity = quantity - $1
                 where id = $2 and quantity >= $1
                   and exists (select 1 from purchase_orders p
                               where p.id = purchase_order_lines.purchase_order_id and p.status = 'open')",
            )
            .bind(by)
            .bind(line)
            .execute(&mut *tx)
            .await?
            .rows_affected(),
            (None, None) => 0,
        };
        if order == 0 {
            // The order started meanwhile: roll back, the caller flags it instead.
            return Ok(0);
        }
        by
    });
    Ok(shrunk)
}

/// Flags a started order whose demand shrank: someone decides what happens to its output.
pub async fn flag(db: &Db, demand: &Demand, note: &str) -> Result<()> {
    let at = now();
    in_tx!(db, tx => {
        match (demand.production_order_id, demand.purchase_order_id) {
            (Some(id), _) => {
                sqlx::query(
                    "update production_orders set needs_decision = true, decision_note = $1,
                         updated_at = $2 where id = $3",
                )
                .bind(note)
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            (None, Some(id)) => {
                sqlx::query(
                    "update purchase_orders set needs_decision = true, decision_note = $1,
                         updated_at = $2 where id = $3",
                )
                .bind(note)
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            _ => {}
        }
    });
    Ok(())
}

/// Reserves an order's output for the demands it serves, oldest waiting first. Returns how
/// much was reserved; the rest is free stock.
pub async fn allocate_output(
    db: &Db,
    production_order_id: Option<i64>,
    purchase_order_line_id: Option<i64>,
    output: BalanceKey,
    quantity: i64,
) -> Result<i64> {
    let mut left = quantity;
    for d in of_supply(db, production_order_id, purchase_order_line_id).await? {
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
        left -=
            crate::stock::reservations::hold(db, holder, output, want, None, Some(d.id)).await?;
    }
    Ok(quantity - left)
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
            status: "released".into(),
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
