//! Purchase orders: one open order per supplier and warehouse collects the lines of many deals
//! (`open`); sending it makes it `ordered`; receiving (partly, by line or by scan) posts a
//! receipt and reserves the goods for the deals waiting for them, oldest first. Purchasing owns
//! its orders and lines and changes them in the caller's transaction; what a line serves is
//! supply's, and when to buy is the planning module's (`fulfilment::planning`).

pub mod api;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::catalog::items;
use crate::db::{Arg, Db, Page, Paged, Tx, Where, now};
use crate::error::{Error, Result};
use crate::stock::receipts::{self, NewReceipt, ReceiptLine};
use crate::stock::reservations::{BalanceKey, Holder};
use crate::supply::{self, Demand, Serves, Supplier};
use crate::{bind_args, on_tx};

crate::text_enum!(
    /// Where a purchase order is.
    #[schema(as = PurchaseStatus)]
    pub Status {
        Open = "open",
        Ordered = "ordered",
        Received = "received",
        Cancelled = "cancelled",
    }
);

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
    pub serves: Vec<Serves>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    supplier_id: i64,
    warehouse_id: i64,
    status: Status,
    needs_decision: bool,
    decision_note: Option<String>,
    expected_date: Option<Date>,
    created_at: OffsetDateTime,
}

const COLUMNS: &str = "id, supplier_id, warehouse_id, status, needs_decision, decision_note, \
    expected_date, created_at";

async fn row(tx: &mut Tx, id: i64) -> Result<Row> {
    on_tx!(tx, tx => {
        sqlx::query_as::<_, Row>(&format!("select {COLUMNS} from purchase_orders where id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
    })
    .ok_or_else(|| Error::not_found("purchase order", id))
}

/// One order, read on its own ([`get`]).
pub async fn read(db: &Db, id: i64) -> Result<PurchaseOrder> {
    get(&mut db.snapshot().await?, id).await
}

/// One purchase order with its lines and what they serve.
pub async fn get(tx: &mut Tx, id: i64) -> Result<PurchaseOrder> {
    let row = row(tx, id).await?;
    Ok(complete_rows(tx, vec![row]).await?.remove(0))
}

#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filter {
    pub status: Option<Status>,
    pub supplier_id: Option<i64>,
    pub warehouse_id: Option<i64>,
}

/// Orders by status, supplier or warehouse, paged by id; each page is read with three queries
/// however many orders it holds.
pub async fn list(db: &Db, filter: &Filter, page: Page) -> Result<Paged<PurchaseOrder>> {
    let mut w = Where::default();
    w.add("id > $?", Arg::Int(page.after));
    w.text("status = $?", filter.status.map(Status::as_str));
    w.int("supplier_id = $?", filter.supplier_id);
    w.int("warehouse_id = $?", filter.warehouse_id);
    let limit = w.next();
    w.args.push(Arg::Int(page.fetch_limit()));
    let sql = format!(
        "select {COLUMNS} from purchase_orders where {} order by id limit ${limit}",
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

/// Lines and demands of the orders, each read once for all of them.
async fn complete_rows(tx: &mut Tx, rows: Vec<Row>) -> Result<Vec<PurchaseOrder>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let sql = format!(
        "select purchase_order_id, id, item_id, quantity, received, expected_date
         from purchase_order_lines where purchase_order_id in ({})
         order by purchase_order_id, id",
        crate::db::placeholders(1, ids.len())
    );
    let lines = on_tx!(tx, tx => {
        let mut q = sqlx::query_as::<_, (i64, i64, i64, i64, i64, Option<Date>)>(&sql);
        for id in &ids {
            q = q.bind(*id);
        }
        q.fetch_all(&mut *tx).await?
    });
    let line_ids: Vec<i64> = lines.iter().map(|l| l.1).collect();
    let mut serves: HashMap<i64, Vec<Demand>> = HashMap::new();
    for d in supply::of_purchase_lines(tx, &line_ids).await? {
        serves
            .entry(d.purchase_order_id.unwrap_or_default())
            .or_default()
            .push(d);
    }
    Ok(rows
        .into_iter()
        .map(|r| PurchaseOrder {
            lines: lines
                .iter()
                .filter(|l| l.0 == r.id)
                .map(
                    |&(_, id, item_id, quantity, received, expected_date)| Line {
                        id,
                        item_id,
                        quantity,
                        received,
                        expected_date,
                    },
                )
                .collect(),
            serves: serves
                .remove(&r.id)
                .unwrap_or_default()
                .iter()
                .map(Serves::from)
                .collect(),
            id: r.id,
            supplier_id: r.supplier_id,
            warehouse_id: r.warehouse_id,
            status: r.status,
            needs_decision: r.needs_decision,
            decision_note: r.decision_note,
            expected_date: r.expected_date,
            created_at: r.created_at,
        })
        .collect())
}

/// Orders `quantity` of a purchased item for `holder` on the supplier's open purchase order for
/// the warehouse (created when there is none), in the caller's transaction. `db` reads the item
/// master. Returns the order id.
pub async fn order_for(
    tx: &mut Tx,
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
    let (order, line) = on_tx!(tx, tx => {
        sqlx::query(
            "insert into purchase_orders (supplier_id, warehouse_id, status, needs_decision,
                 expected_date, created_at, updated_at)
             values ($1, $2, $3, false, $4, $5, $5)
             on conflict (supplier_id, warehouse_id) where status = 'open' do nothing",
        )
        .bind(supplier_id)
        .bind(warehouse_id)
        .bind(Status::Open)
        .bind(expected)
        .bind(at)
        .execute(&mut *tx)
        .await?;
        let order: i64 = sqlx::query_scalar(
            "select id from purchase_orders
             where supplier_id = $1 and warehouse_id = $2 and status = $3",
        )
        .bind(supplier_id)
        .bind(warehouse_id)
        .bind(Status::Open)
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
        (order, line)
    });
    supply::add(tx, Supplier::PurchaseLine(line), holder, item_id, quantity).await?;
    Ok(order)
}

/// Takes `by` off a line of an order that is still open (not yet sent). False when the order
/// was sent meanwhile.
pub async fn shrink_line(tx: &mut Tx, line_id: i64, by: i64) -> Result<bool> {
    let changed = on_tx!(tx, tx => {
        sqlx::query(
            "update purchase_order_lines set quantity = quantity - $1
             where id = $2 and quantity >= $1
               and exists (select 1 from purchase_orders p
                           where p.id = purchase_order_lines.purchase_order_id and p.status = $3)",
        )
        .bind(by)
        .bind(line_id)
        .bind(Status::Open)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    Ok(changed == 1)
}

/// Flags an order whose demand shrank after it was sent: someone decides.
pub async fn flag(tx: &mut Tx, order_id: i64, note: &str) -> Result<()> {
    let at = now();
    on_tx!(tx, tx => {
        sqlx::query(
            "update purchase_orders set needs_decision = true, decision_note = $1, updated_at = $2
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

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(as = PurchaseStatusChange)]
pub struct StatusChange {
    /// `ordered` (sent to the supplier) or `cancelled`.
    pub status: Status,
    #[serde(default)]
    pub decision_note: Option<String>,
}

/// Sends an open order (`ordered`) or cancels one, in the caller's transaction; conditional on
/// the status it was read with, so a change that lost a race is a conflict.
pub async fn set_status(tx: &mut Tx, id: i64, change: &StatusChange) -> Result<()> {
    let current = row(tx, id).await?.status;
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
    let changed = on_tx!(tx, tx => {
        sqlx::query(
            "update purchase_orders set status = $1, updated_at = $2,
                 needs_decision = case when $3 is null then needs_decision else false end,
                 decision_note = coalesce($3, decision_note)
             where id = $4 and status = $5",
        )
        .bind(change.status)
        .bind(at)
        .bind(change.decision_note.as_deref())
        .bind(id)
        .bind(current)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    if changed != 1 {
        return Err(Error::conflict(
            "status",
            format!("purchase order {id} changed meanwhile: read it again"),
        ));
    }
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

/// Receives goods of an open or ordered purchase order in the caller's transaction: a receipt
/// naming the order, the lines' received quantities, the goods reserved for the deals waiting
/// for them (oldest first), and the order `received` once every line is. `db` reads master
/// data.
pub async fn receive(
    tx: &mut Tx,
    db: &Db,
    id: i64,
    r: PurchaseReceipt,
    user_id: Option<i64>,
    device_id: Option<i64>,
) -> Result<Received> {
    let order = get(tx, id).await?;
    if !matches!(order.status, Status::Open | Status::Ordered) {
        return Err(Error::conflict(
            "status",
            format!("purchase order {id} is {}", order.status.as_str()),
        ));
    }
    let receipt = receipts::receive_in(
        tx,
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
    let mut allocated = 0;
    for m in &receipt.movements {
        let Some(line) = order.lines.iter().find(|l| l.item_id == m.item_id) else {
            // Posted all the same (the goods are here); they stay free stock.
            tracing::warn!(
                purchase_order = id,
                item = m.item_id,
                "received an item not on the order"
            );
            continue;
        };
        on_tx!(tx, tx => {
            sqlx::query("update purchase_order_lines set received = received + $1 where id = $2")
                .bind(m.quantity)
                .bind(line.id)
                .execute(&mut *tx)
                .await?;
        });
        allocated += supply::allocate_output(
            tx,
            Supplier::PurchaseLine(line.id),
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
    on_tx!(tx, tx => {
        sqlx::query(
            "update purchase_orders set status = $1, updated_at = $2
             where id = $3 and status in ($4, $5)
               and not exists (select 1 from purchase_order_lines
                               where purchase_order_id = $3 and received < quantity)",
        )
        .bind(Status::Received)
        .bind(at)
        .bind(id)
        .bind(Status::Open)
        .bind(Status::Ordered)
        .execute(&mut *tx)
        .await?;
    });
    Ok(Received {
        order: get(tx, id).await?,
        movements: receipt.movements,
        allocated,
    })
}
