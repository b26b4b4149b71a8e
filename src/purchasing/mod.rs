//! Purchase orders: one open order per supplier and warehouse collects the lines of many deals
//! (`open`); sending it makes it `ordered`; receiving (partly, by line or by scan) posts receipts
//! and reserves the goods for the deals waiting for them, oldest first.

pub mod api;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::catalog::items;
use crate::db::{Db, Page, Paged, Where, now};
use crate::error::{Error, Result};
use crate::stock::receipts::{self, NewReceipt, ReceiptLine};
use crate::stock::reservations::{BalanceKey, Holder};
use crate::{in_tx, on_read};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = PurchaseStatus)]
pub enum Status {
    Open,
    Ordered,
    Received,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Ordered => "ordered",
            Status::Received => "received",
            Status::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "ordered" => Status::Ordered,
            "received" => Status::Received,
            "cancelled" => Status::Cancelled,
            _ => Status::Open,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Line {
    pub id: i64,
    pub item_id: i64,
    pub quantity: i64,
    pub received: i64,
    pub expected_date: Option<Date>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PurchaseOrder {
    pub id: i64,
    pub supplier_id: i64,
    pub warehouse_id: i64,
    pub status: Status,
    pub needs_decision: bool,
    pub decision_note: Option<String>,
    pub expected_date: Option<Date>,
    pub lines: Vec<Line>,
    /// Deal lines (or production orders) each order line serves.
    pub serves: Vec<crate::supply::Serves>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    supplier_id: i64,
    warehouse_id: i64,
    status: String,
    needs_decision: bool,
    decision_note: Option<String>,
    expected_date: Option<Date>,
    created_at: OffsetDateTime,
}

pub async fn get(db: &Db, id: i64) -> Result<PurchaseOrder> {
    let r = on_read!(db, pool => {
        sqlx::query_as::<_, Row>(
            "select id, supplier_id, warehouse_id, status, needs_decision, decision_note,
                    expected_date, created_at
             from purchase_orders where id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
    })
    .ok_or_else(|| Error::not_found("purchase order", id))?;
    let lines = on_read!(db, pool => {
        sqlx::query_as::<_, Line>(
            "select id, item_id, quantity, received, expected_date from purchase_order_lines
             where purchase_order_id = $1 order by id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
    });
    let mut serves = Vec::new();
    for line in &lines {
        let demands = crate::supply::of_supply(db, None, Some(line.id)).await?;
        serves.extend(demands.iter().map(crate::supply::Serves::from));
    }
    Ok(PurchaseOrder {
        id: r.id,
        supplier_id: r.supplier_id,
        warehouse_id: r.warehouse_id,
        status: Status::parse(&r.status),
        needs_decision: r.needs_decision,
        decision_note: r.decision_note,
        expected_date: r.expected_date,
        lines,
        serves,
        created_at: r.created_at,
    })
}

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    pub status: Option<Status>,
    pub supplier_id: Option<i64>,
    pub warehouse_id: Option<i64>,
}

pub async fn list(db: &Db, filter: &Filter, page: Page) -> Result<Paged<PurchaseOrder>> {
    let mut w = Where::default();
    w.text("status = $?", filter.status.map(Status::as_str));
    w.int("supplier_id = $?", filter.supplier_id);
    w.int("warehouse_id = $?", filter.warehouse_id);
    let paged = crate::db::page_ids(db, "purchase_orders", w, page).await?;
    let mut items = Vec::with_capacity(paged.items.len());
    for id in paged.items {
        items.push(get(db, id).await?);
    }
    Ok(Paged {
        items,
        next_after: paged.next_after,
    })
}

/// Orders `quantity` of a purchased item for `holder` on the supplier's open purchase order for
/// the warehouse (created when there is none), in one transaction. Returns the order id.
pub async fn order_for(
    db: &Db,
    holder: Holder,
    item_id: i64,
    supplier_id: i64,
    warehouse_id: i64,
    quantity: i64,
) -> Result<i64> {
    let item = items::get(db, item_id).await?;
    let at = now();
    let expected = item
        .lead_time_days
        .and_then(|d| crate::days::add(at.date(), d));
    let (deal_id, line_id, parent) = holder.columns();
    let order = in_tx!(db, tx => {
        sqlx::query(
            "insert into purchase_orders (supplier_id, warehouse_id, status, needs_decision,
                 expected_date, created_at, updated_at)
             values ($1, $2, 'open', false, $3, $4, $4)
             on conflict (supplier_id, warehouse_id) where status = 'open' do nothing",
        )
        .bind(supplier_id)
        .bind(warehouse_id)
        .bind(expected)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let order: i64 = sqlx::query_scalar(
            "select id from purchase_orders
             where supplier_id = $1 and warehouse_id = $2 and status = 'open'",
        )
        .bind(supplier_id)
        .bind(warehouse_id)
        .fetch_one(&mut *tx)
        .await?;
        let line: i64 = sqlx::query_scalar(
            "insert into purchase_order_lines (purchase_order_id, item_id, quantity, received, expected_date)
             values ($1, $2, $3, 0, $4)
             on conflict (purchase_order_id, item_id)
             do update set quantity = purchase_order_lines.quantity + excluded.quantity
             returning id",
        )
        .bind(order)
        .bind(item_id)
        .bind(quantity)
        .bind(expected)
        .fetch_one(&mut *tx)
        .await?;
        let grown = sqlx::query(
            "update supply_demands set quantity = quantity + $1
             where purchase_order_line_id = $2 and item_id = $3
               and ((deal_line_id = $4 and deal_id = $5) or for_production_order_id = $6)",
        )
        .bind(quantity)
        .bind(line)
        .bind(item_id)
        .bind(line_id)
        .bind(deal_id)
        .bind(parent)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if grown == 0 {
            sqlx::query(
                "insert into supply_demands (purchase_order_line_id, deal_id, deal_line_id,
                     for_production_order_id, item_id, quantity, allocated, created_at)
                 values ($1, $2, $3, $4, $5, $6, 0, $7)",
            )
            .bind(line)
            .bind(deal_id)
            .bind(line_id)
            .bind(parent)
            .bind(item_id)
            .bind(quantity)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        order
    });
    Ok(order)
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(as = PurchaseStatusChange)]
pub struct StatusChange {
    /// `ordered` (sent to the supplier) or `cancelled`.
    pub status: Status,
    #[serde(default)]
    pub decision_note: Option<String>,
}

pub async fn set_status(db: &Db, id: i64, change: StatusChange) -> Result<()> {
    let current = get(db, id).await?.status;
    let allowed = match change.status {
        Status::Ordered => current == Status::Open,
        Status::Cancelled => matches!(current, Status::Open | Status::Ordered),
        _ => false,
    };
    if !allowed && change.status != current {
        return Err(Error::conflict(
            "status",
            format!(
                "an {} purchase order cannot become {}",
                current.as_str(),
                change.status.as_str()
            ),
        ));
    }
    let at = now();
    in_tx!(db, tx => {
        sqlx::query(
            "update purchase_orders set status = $1, updated_at = $2,
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
pub struct PurchaseReceipt {
    pub location_id: i64,
    /// As for `POST /v1/receipts`: `{"item_id","quantity","batch","expiry"}` or `{"scan"}`.
    pub lines: Vec<ReceiptLine>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Received {
    pub order: PurchaseOrder,
    pub movements: Vec<crate::stock::Movement>,
    /// Of what arrived, reserved for waiting deals.
    pub allocated: i64,
}

/// Receives goods of an open or ordered purchase order: a receipt (document: the order), then
/// each line's goods are reserved for the deals waiting for them, oldest first.
pub async fn receive(
    db: &Db,
    id: i64,
    r: PurchaseReceipt,
    user_id: Option<i64>,
    device_id: Option<i64>,
) -> Result<Received> {
    let order = get(db, id).await?;
    if !matches!(order.status, Status::Open | Status::Ordered) {
        return Err(Error::conflict(
            "status",
            format!("purchase order {id} is {}", order.status.as_str()),
        ));
    }
    let receipt = receipts::receive(
        db,
        NewReceipt {
            warehouse_id: order.warehouse_id,
            location_id: r.location_id,
            lines: r.lines,
            quarantine: false,
            purchase_order_id: Some(id),
            production_order_id: None,
            deal_id: None,
            note: r.note,
        },
        user_id,
        device_id,
    )
    .await?;
    for (i, m) in receipt.movements.iter().enumerate() {
        if !order.lines.iter().any(|l| l.item_id == m.item_id) {
            // Posted already; say which line was not on the order (the stock stays, free).
            tracing::warn!(
                purchase_order = id,
                item = m.item_id,
                line = i,
                "received an item not on the order"
            );
        }
    }
    let mut allocated = 0;
    for m in &receipt.movements {
        let Some(line) = order.lines.iter().find(|l| l.item_id == m.item_id) else {
            continue;
        };
        in_tx!(db, tx => {
            sqlx::query("update purchase_order_lines set received = received + $1 where id = $2")
                .bind(m.quantity)
                .bind(line.id)
                .execute(&mut *tx)
                .await?;
        });
        allocated += crate::supply::allocate_output(
            db,
            None,
            Some(line.id),
            BalanceKey {
                item_id: m.item_id,
                warehouse_id: m.warehouse_id,
                location_id: m.location_id,
                batch_id: m.batch_id,
            },
            m.quantity,
        )
        .await?;
    }
    let at = now();
    in_tx!(db, tx => {
        sqlx::query(
            "update purchase_orders set status = 'received', updated_at = $1
             where id = $2 and status in ('open', 'ordered')
               and not exists (select 1 from purchase_order_lines
                               where purchase_order_id = $2 and received < quantity)",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    });
    Ok(Received {
        order: get(db, id).await?,
        movements: receipt.movements,
        allocated,
    })
}
