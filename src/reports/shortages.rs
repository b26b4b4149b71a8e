//! Shortages: deal lines that stock does not cover, as a reservation run sees them
//! (`fulfilment::planning::standing`), with the order that will cover them and when.

use std::collections::HashMap;

use serde::Serialize;
use time::Date;
use utoipa::ToSchema;

use crate::crm::deals::DealStatus;
use crate::db::Db;
use crate::error::Result;
use crate::fulfilment::planning;
use crate::reports::{Scope, days_late, deal_lines};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shortages {
    /// The day lateness is judged on (today, UTC).
    pub as_of: Date,
    /// Late lines first (longest late first), then lines without an expected date, then by
    /// expected date.
    pub shortages: Vec<Shortage>,
}

/// One deal line that stock does not cover.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shortage {
    pub deal_id: i64,
    pub deal_title: String,
    /// `won`, or `open` for an open deal that has been reserved (a quote).
    pub deal_status: DealStatus,
    pub owner_id: i64,
    pub customer_id: i64,
    pub customer_name: String,
    /// The warehouse the deal is fulfilled from (none before its first reservation run).
    pub warehouse_id: Option<i64>,
    pub line_id: i64,
    pub line_no: i64,
    pub item_id: i64,
    pub item_code: String,
    pub item_name: String,
    /// Ordered on the line.
    pub quantity: i64,
    /// Shipped for the line, less returns.
    pub shipped: i64,
    /// Held from stock for the line now.
    pub reserved: i64,
    /// `quantity - shipped - reserved`: what stock does not cover.
    pub short: i64,
    /// Free stock of the item in the deal's warehouse now (every warehouse before the deal has
    /// one): what running the deal's reservation again could take.
    pub available: i64,
    /// What the line's active production and purchase orders still bring.
    pub coming: i64,
    /// `short - coming` (at least 0): what nothing covers yet (an item without supplier, a won
    /// deal whose reservation has not run).
    pub uncovered: i64,
    /// The latest active production order for the line.
    pub production_order_id: Option<i64>,
    /// The latest active purchase order for the line.
    pub purchase_order_id: Option<i64>,
    /// When what is coming is expected: the latest planned or expected date of the line's
    /// active orders.
    pub expected_date: Option<Date>,
    /// The expected date has passed.
    pub late: bool,
    /// Days since the expected date, when late.
    pub days_late: Option<i64>,
}

/// The CSV columns: the fields of [`Shortage`].
pub const COLUMNS: &[&str] = &[
    "deal_id",
    "deal_title",
    "deal_status",
    "owner_id",
    "customer_id",
    "customer_name",
    "warehouse_id",
    "line_id",
    "line_no",
    "item_id",
    "item_code",
    "item_name",
    "quantity",
    "shipped",
    "reserved",
    "short",
    "available",
    "coming",
    "uncovered",
    "production_order_id",
    "purchase_order_id",
    "expected_date",
    "late",
    "days_late",
];

/// The deals whose stock is being worked out: won deals, and open deals that have been
/// reserved (quotes: they have a warehouse).
const WORKED_ON: &str = "d.status = 'won' or (d.status = 'open' and d.warehouse_id is not null)";

pub async fn report(db: &Db, scope: Scope, today: Date) -> Result<Shortages> {
    let mut tx = db.snapshot().await?;
    let rows = deal_lines(&mut tx, scope, WORKED_ON, None).await?;
    let mut standing: HashMap<i64, planning::Standing> = HashMap::new();
    let mut available: HashMap<(i64, Option<i64>), i64> = HashMap::new();
    let mut shortages = Vec::new();
    for row in rows {
        if !standing.contains_key(&row.line_id) {
            for s in planning::standing(&mut tx, row.deal_id).await? {
                standing.insert(s.outcome.line_id, s);
            }
        }
        let Some(s) = standing.get(&row.line_id) else {
            continue;
        };
        let short = s.outcome.shortfall;
        if short <= 0 {
            continue;
        }
        let key = (row.item_id, row.warehouse_id);
        let free = match available.get(&key) {
            Some(free) => *free,
            None => {
                let free = crate::fulfilment::availability(db, row.item_id, row.warehouse_id)
                    .await?
                    .available;
                available.insert(key, free);
                free
            }
        };
        let expected_date = s.outcome.expected_date;
        let days_late = days_late(expected_date, today);
        shortages.push(Shortage {
            deal_id: row.deal_id,
            deal_title: row.deal_title,
            deal_status: row.deal_status,
            owner_id: row.owner_id,
            customer_id: row.customer_id,
            customer_name: row.customer_name,
            warehouse_id: row.warehouse_id,
            line_id: row.line_id,
            line_no: row.line_no,
            item_id: row.item_id,
            item_code: row.item_code,
            item_name: row.item_name,
            quantity: row.quantity,
            shipped: s.shipped,
            reserved: s.outcome.reserved,
            short,
            available: free,
            coming: s.coming,
            uncovered: (short - s.coming).max(0),
            production_order_id: s.outcome.production_order_id,
            purchase_order_id: s.outcome.purchase_order_id,
            expected_date,
            late: days_late.is_some(),
            days_late,
        });
    }
    shortages.sort_by_key(|s| {
        let rank = match (s.late, s.expected_date) {
            (true, _) => 0,
            (false, None) => 1,
            (false, Some(_)) => 2,
        };
        (rank, s.expected_date, s.deal_id, s.line_no)
    });
    Ok(Shortages {
        as_of: today,
        shortages,
    })
}
