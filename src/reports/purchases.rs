//! Purchases outstanding: lines of open and ordered purchase orders that have not all arrived,
//! by supplier, with their expected dates and the late ones.

use std::collections::HashMap;

use serde::Serialize;
use time::Date;
use utoipa::ToSchema;

use crate::catalog::{items, suppliers};
use crate::db::{Db, Keys};
use crate::error::Result;
use crate::purchasing::{self, PurchaseOrder, Status};
use crate::reports::{days_late, every_page};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Purchases {
    /// The day lateness is judged on (today, UTC).
    pub as_of: Date,
    /// One entry per supplier with anything outstanding, by supplier code.
    pub suppliers: Vec<SupplierOutstanding>,
    /// By supplier code, then expected date (undated last), order and line.
    pub purchase_lines: Vec<OutstandingLine>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SupplierOutstanding {
    pub supplier_id: i64,
    pub supplier_code: String,
    pub supplier_name: String,
    /// Lines with something outstanding.
    pub lines: i64,
    /// Of them, lines whose expected date has passed.
    pub late_lines: i64,
    /// The earliest expected date of its lines.
    pub next_expected_date: Option<Date>,
}

/// One purchase order line not yet received in full.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OutstandingLine {
    pub supplier_id: i64,
    pub supplier_code: String,
    pub supplier_name: String,
    pub purchase_order_id: i64,
    /// `open` (still collecting lines) or `ordered` (sent to the supplier).
    pub status: Status,
    pub warehouse_id: i64,
    pub line_id: i64,
    pub item_id: i64,
    pub item_code: String,
    pub item_name: String,
    pub quantity: i64,
    pub received: i64,
    /// `quantity - received`.
    pub outstanding: i64,
    /// The line's expected date, else its order's.
    pub expected_date: Option<Date>,
    /// The expected date has passed.
    pub late: bool,
    /// Days since the expected date, when late.
    pub days_late: Option<i64>,
}

/// The CSV columns: the fields of [`OutstandingLine`].
pub const COLUMNS: &[&str] = &[
    "supplier_id",
    "supplier_code",
    "supplier_name",
    "purchase_order_id",
    "status",
    "warehouse_id",
    "line_id",
    "item_id",
    "item_code",
    "item_name",
    "quantity",
    "received",
    "outstanding",
    "expected_date",
    "late",
    "days_late",
];

/// Every open or ordered purchase order.
async fn open_orders(db: &Db) -> Result<Vec<PurchaseOrder>> {
    let mut orders = Vec::new();
    for status in [Status::Open, Status::Ordered] {
        let filter = purchasing::Filter {
            status: Some(status),
            ..Default::default()
        };
        orders.extend(every_page(|page| purchasing::list(db, &filter, page)).await?);
    }
    Ok(orders)
}

pub async fn report(db: &Db, today: Date) -> Result<Purchases> {
    let orders = open_orders(db).await?;
    let mut item_ids: Vec<i64> = orders
        .iter()
        .flat_map(|o| o.lines.iter().map(|l| l.item_id))
        .collect();
    item_ids.sort_unstable();
    item_ids.dedup();
    let items: HashMap<i64, (String, String)> = items::by_ids(db, &Keys::Ids(item_ids))
        .await?
        .into_iter()
        .map(|i| (i.id, (i.code, i.name)))
        .collect();
    let mut supplier_names: HashMap<i64, (String, String)> = HashMap::new();
    let mut lines = Vec::new();
    for o in &orders {
        if !supplier_names.contains_key(&o.supplier_id) {
            let s = suppliers::get(db, o.supplier_id).await?;
            supplier_names.insert(s.id, (s.code, s.name));
        }
        let (supplier_code, supplier_name) = supplier_names[&o.supplier_id].clone();
        for l in o.lines.iter().filter(|l| l.quantity > l.received) {
            let (item_code, item_name) = items.get(&l.item_id).cloned().unwrap_or_default();
            let expected_date = l.expected_date.or(o.expected_date);
            let days_late = days_late(expected_date, today);
            lines.push(OutstandingLine {
                supplier_id: o.supplier_id,
                supplier_code: supplier_code.clone(),
                supplier_name: supplier_name.clone(),
                purchase_order_id: o.id,
                status: o.status,
                warehouse_id: o.warehouse_id,
                line_id: l.id,
                item_id: l.item_id,
                item_code,
                item_name,
                quantity: l.quantity,
                received: l.received,
                outstanding: l.quantity - l.received,
                expected_date,
                late: days_late.is_some(),
                days_late,
            });
        }
    }
    lines.sort_by(|a, b| {
        (&a.supplier_code, a.expected_date.is_none(), a.expected_date)
            .cmp(&(&b.supplier_code, b.expected_date.is_none(), b.expected_date))
            .then((a.purchase_order_id, a.line_id).cmp(&(b.purchase_order_id, b.line_id)))
    });
    let mut suppliers: Vec<SupplierOutstanding> = Vec::new();
    for l in &lines {
        match suppliers.last_mut() {
            Some(s) if s.supplier_id == l.supplier_id => {
                s.lines += 1;
                s.late_lines += i64::from(l.late);
                s.next_expected_date = s.next_expected_date.or(l.expected_date);
            }
            _ => suppliers.push(SupplierOutstanding {
                supplier_id: l.supplier_id,
                supplier_code: l.supplier_code.clone(),
                supplier_name: l.supplier_name.clone(),
                lines: 1,
                late_lines: i64::from(l.late),
                next_expected_date: l.expected_date,
            }),
        }
    }
    Ok(Purchases {
        as_of: today,
        suppliers,
        purchase_lines: lines,
    })
}
