//! The fill rate: of the lines of deals won in a period, how many shipped complete and on time.
//!
//! Depot records no date promised to the customer, so a line is due by the date Depot itself
//! gave when the deal was won: the day it was won for what stock covered, or the latest planned
//! or expected date of the production and purchase orders raised for the line (cancelled ones
//! left out), whichever is later, plus `grace_days` for picking, packing and dispatch. A line is
//! complete when what shipped for it (less returns) reaches its quantity, and on time when that
//! happened on or before its due day.

use std::collections::HashMap;

use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::crm::deals::LineNeed;
use crate::db::Db;
use crate::error::Result;
use crate::reports::{Period, Scope, deal_lines, every_page};
use crate::stock::ledger::{self, LedgerFilter, MovementType};
use crate::supply::{self, OrderStatus};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FillRate {
    /// The period's first day: deals won on or after it.
    pub from: Date,
    /// The period's last day, included.
    pub until: Date,
    /// Days a line may ship after its due day and still be on time.
    pub grace_days: i64,
    /// Lines of the deals won in the period.
    pub total_lines: i64,
    /// Of them, lines shipped complete (by now).
    pub shipped_complete: i64,
    /// Of them, lines shipped complete by their due day.
    pub on_time: i64,
    /// `on_time / total_lines`, 0 to 1; null without lines.
    pub fill_rate: Option<f64>,
    /// Every line, by deal and line number.
    pub lines: Vec<FillLine>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FillLine {
    pub deal_id: i64,
    pub deal_title: String,
    pub owner_id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    /// The day the deal was won (UTC).
    pub won_on: Date,
    pub line_id: i64,
    pub line_no: i64,
    pub item_id: i64,
    pub item_code: String,
    pub item_name: String,
    pub quantity: i64,
    /// Shipped for the line, less returns.
    pub shipped: i64,
    pub complete: bool,
    /// The day the shipment that completed the line left (UTC).
    pub completed_on: Option<Date>,
    /// The day the line was due, grace included.
    pub due_on: Date,
    /// Complete on or before `due_on`.
    pub on_time: bool,
}

/// The CSV columns: the fields of [`FillLine`].
pub const COLUMNS: &[&str] = &[
    "deal_id",
    "deal_title",
    "owner_id",
    "customer_id",
    "customer_name",
    "won_on",
    "line_id",
    "line_no",
    "item_id",
    "item_code",
    "item_name",
    "quantity",
    "shipped",
    "complete",
    "completed_on",
    "due_on",
    "on_time",
];

/// Deals won in the period.
const WON_IN_PERIOD: &str = "d.status = 'won' and d.closed_at >= $4 and d.closed_at < $5";

pub async fn report(db: &Db, scope: Scope, period: Period, grace_days: i64) -> Result<FillRate> {
    let mut tx = db.snapshot().await?;
    let rows = deal_lines(&mut tx, scope, WON_IN_PERIOD, Some(period)).await?;
    let mut lines = Vec::with_capacity(rows.len());
    for deal in rows.chunk_by(|a, b| a.deal_id == b.deal_id) {
        let deal_id = deal[0].deal_id;
        let needs: Vec<LineNeed> = deal
            .iter()
            .map(|r| LineNeed {
                id: r.line_id,
                item_id: r.item_id,
                quantity: r.quantity,
            })
            .collect();
        let filter = LedgerFilter {
            deal_id: Some(deal_id),
            ..Default::default()
        };
        let shipments: Vec<Shipped> = every_page(|page| ledger::ledger(db, &filter, page))
            .await?
            .into_iter()
            .filter(|m| matches!(m.kind, MovementType::Ship | MovementType::Return))
            .map(|m| Shipped {
                item_id: m.item_id,
                quantity: -m.quantity,
                at: m.posted_at,
            })
            .collect();
        let completed = completion(&needs, &shipments);
        let demands = supply::of_deal(&mut tx, deal_id).await?;
        for r in deal {
            let won_on = r.closed_at.unwrap_or(period.start()).date();
            let ordered_for = demands
                .iter()
                .filter(|d| d.deal_line_id == Some(r.line_id) && d.status != OrderStatus::Cancelled)
                .filter_map(|d| d.expected_date)
                .max();
            let due = ordered_for.map_or(won_on, |d| d.max(won_on));
            let due_on = crate::days::add(due, grace_days).unwrap_or(Date::MAX);
            let (shipped, at) = completed.get(&r.line_id).copied().unwrap_or((0, None));
            let completed_on = at.map(|t| t.date());
            lines.push(FillLine {
                deal_id,
                deal_title: r.deal_title.clone(),
                owner_id: r.owner_id,
                customer_id: r.customer_id,
                customer_name: r.customer_name.clone(),
                won_on,
                line_id: r.line_id,
                line_no: r.line_no,
                item_id: r.item_id,
                item_code: r.item_code.clone(),
                item_name: r.item_name.clone(),
                quantity: r.quantity,
                shipped,
                complete: completed_on.is_some(),
                completed_on,
                due_on,
                on_time: completed_on.is_some_and(|d| d <= due_on),
            });
        }
    }
    let count = |f: fn(&FillLine) -> bool| lines.iter().filter(|l| f(l)).count() as i64;
    let total_lines = lines.len() as i64;
    let on_time = count(|l| l.on_time);
    Ok(FillRate {
        from: period.from,
        until: period.until,
        grace_days,
        total_lines,
        shipped_complete: count(|l| l.complete),
        on_time,
        fill_rate: (total_lines > 0).then(|| on_time as f64 / total_lines as f64),
        lines,
    })
}

/// A ship (positive: out to the customer) or return (negative) of a deal, in posting order.
#[derive(Debug, Clone, Copy)]
struct Shipped {
    item_id: i64,
    quantity: i64,
    at: OffsetDateTime,
}

/// Per line: shipped (less returns, spread over the deal's lines of an item in line order, as
/// the deal's fulfilment counts it) and when it became complete: the moment the item's net
/// shipped last reached the quantity of the lines up to and including it, if it still does.
fn completion(
    lines: &[LineNeed],
    shipments: &[Shipped],
) -> HashMap<i64, (i64, Option<OffsetDateTime>)> {
    let mut totals: HashMap<i64, i64> = HashMap::new();
    for s in shipments {
        *totals.entry(s.item_id).or_default() += s.quantity;
    }
    let shipped = crate::fulfilment::spread(totals.into_iter().collect(), lines);
    let mut before: HashMap<i64, i64> = HashMap::new();
    let mut out = HashMap::new();
    for line in lines {
        let earlier = before.entry(line.item_id).or_default();
        let needed = *earlier + line.quantity;
        *earlier = needed;
        let mut net = 0;
        let mut reached = None;
        for s in shipments.iter().filter(|s| s.item_id == line.item_id) {
            let was = net;
            net += s.quantity;
            if was < needed && net >= needed {
                reached = Some(s.at);
            }
        }
        let at = reached.filter(|_| net >= needed);
        out.insert(line.id, (shipped.get(&line.id).copied().unwrap_or(0), at));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn line(id: i64, item_id: i64, quantity: i64) -> LineNeed {
        LineNeed {
            id,
            item_id,
            quantity,
        }
    }

    #[test]
    fn a_line_completes_when_its_share_has_shipped_and_stays_shipped() {
        let t1 = datetime!(2026-03-01 10:00 UTC);
        let t2 = datetime!(2026-03-02 10:00 UTC);
        let t3 = datetime!(2026-03-03 10:00 UTC);
        let t4 = datetime!(2026-03-04 10:00 UTC);
        // Two lines of item 7 (3 then 2), one of item 8 (5).
        let lines = [line(1, 7, 3), line(2, 7, 2), line(3, 8, 5)];
        let shipments = [
            Shipped {
                item_id: 7,
                quantity: 4,
                at: t1,
            },
            Shipped {
                item_id: 8,
                quantity: 5,
                at: t1,
            },
            Shipped {
                item_id: 7,
                quantity: 1,
                at: t2,
            },
            // Item 8 comes back in part, then goes out again.
            Shipped {
                item_id: 8,
                quantity: -2,
                at: t3,
            },
            Shipped {
                item_id: 8,
                quantity: 2,
                at: t4,
            },
        ];
        let done = completion(&lines, &shipments);
        assert_eq!(done[&1], (3, Some(t1)));
        assert_eq!(done[&2], (2, Some(t2)));
        assert_eq!(done[&3], (5, Some(t4)));
        // Returned and not sent again: not complete.
        let done = completion(&lines, &shipments[..4]);
        assert_eq!(done[&3], (3, None));
    }
}
