//! Reservations: stock on one balance held for a deal line or for a production order's
//! component. Stock owns them with the balances they hold: every change runs in the caller's
//! transaction and changes the reservation row and the balance's `reserved` together, through
//! conditional updates whose row counts are checked, so `reserved <= on_hand` (also a check
//! constraint) and "reserved equals the sum of its reservations" (checked by
//! `ledger::reserved_consistency`) hold whatever runs concurrently.

use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::db::{Db, Tx, now};
use crate::error::{Error, Result};
use crate::{on_read, on_tx};

/// Whom stock is held for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Holder {
    DealLine {
        deal_id: i64,
        line_id: i64,
    },
    /// A component of a production order.
    Component {
        order_id: i64,
        item_id: i64,
    },
}

impl Holder {
    /// (deal_id, deal_line_id, production_order_id) columns.
    pub fn columns(self) -> (Option<i64>, Option<i64>, Option<i64>) {
        match self {
            Holder::DealLine { deal_id, line_id } => (Some(deal_id), Some(line_id), None),
            Holder::Component { order_id, .. } => (None, None, Some(order_id)),
        }
    }
}

/// One balance: item, warehouse, location and batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BalanceKey {
    pub item_id: i64,
    pub warehouse_id: i64,
    pub location_id: i64,
    pub batch_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Reservation {
    pub id: i64,
    pub deal_id: Option<i64>,
    pub deal_line_id: Option<i64>,
    pub production_order_id: Option<i64>,
    pub item_id: i64,
    pub item_code: String,
    pub item_name: String,
    pub warehouse_id: i64,
    pub location_id: i64,
    pub location_code: String,
    pub batch_id: Option<i64>,
    pub batch_code: Option<String>,
    pub expiry_date: Option<Date>,
    pub quantity: i64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl Reservation {
    /// The balance it holds stock of.
    pub fn key(&self) -> BalanceKey {
        BalanceKey {
            item_id: self.item_id,
            warehouse_id: self.warehouse_id,
            location_id: self.location_id,
            batch_id: self.batch_id,
        }
    }
}

const SELECT: &str = "select r.id, r.deal_id, r.deal_line_id, r.production_order_id, r.item_id,
        i.code as item_code, i.name as item_name, r.warehouse_id, r.location_id,
        l.code as location_code, r.batch_id, b.code as batch_code, b.expiry_date, r.quantity,
        r.expires_at
     from reservations r
     join items i on i.id = r.item_id
     join locations l on l.id = r.location_id
     left join batches b on b.id = r.batch_id";

/// Adds $1 to a balance's `reserved` if that much is available ($2 time, $3–$6 the key).
const HOLD_BALANCE: &str = "update stock_balances set reserved = reserved + $1, updated_at = $2
     where item_id = $3 and warehouse_id = $4 and location_id = $5 and batch_key = $6
       and on_hand - reserved >= $1";

/// A new reservation: $1–$3 the holder's columns, $4–$8 the key, $9 quantity, $10 expiry,
/// $11 time.
const INSERT: &str = "insert into reservations (deal_id, deal_line_id, production_order_id,
         item_id, warehouse_id, location_id, batch_id, batch_key, quantity, expires_at,
         created_at, updated_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) returning id";

/// Takes $1 off reservation $3 if it holds that much ($2 time); answers its balance's key.
const RELEASE_ROW: &str = "update reservations set quantity = quantity - $1, updated_at = $2
     where id = $3 and quantity >= $1
     returning item_id, warehouse_id, location_id, batch_key";

/// Takes $1 off a balance's `reserved` ($2 time, $3–$6 the key).
const RELEASE_BALANCE: &str = "update stock_balances set reserved = reserved - $1, updated_at = $2
     where item_id = $3 and warehouse_id = $4 and location_id = $5 and batch_key = $6
       and reserved >= $1";

/// Holds `quantity` of one balance for `holder` in the caller's transaction; returns how much it
/// held: all of it, or 0 when the balance no longer has that much available (the caller plans
/// again).
pub async fn hold(
    tx: &mut Tx,
    holder: Holder,
    key: BalanceKey,
    quantity: i64,
    expires_at: Option<OffsetDateTime>,
) -> Result<i64> {
    if quantity <= 0 {
        return Ok(0);
    }
    let (deal_id, line_id, order_id) = holder.columns();
    let at = now();
    let batch_key = key.batch_id.unwrap_or(0);
    // The reservation row first, the balance last: on PostgreSQL the balance's row lock (the
    // one concurrent reservations of a hot item queue for) is then held from this update to
    // the commit, not across the insert's round trip too.
    Ok(on_tx!(tx, tx => {
        let id = sqlx::query_scalar::<_, i64>(INSERT)
            .bind(deal_id)
            .bind(line_id)
            .bind(order_id)
            .bind(key.item_id)
            .bind(key.warehouse_id)
            .bind(key.location_id)
            .bind(key.batch_id)
            .bind(batch_key)
            .bind(quantity)
            .bind(expires_at)
            .bind(at)
            .fetch_one(&mut *tx)
            .await?;
        let changed = sqlx::query(HOLD_BALANCE)
            .bind(quantity)
            .bind(at)
            .bind(key.item_id)
            .bind(key.warehouse_id)
            .bind(key.location_id)
            .bind(batch_key)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 1 {
            quantity
        } else {
            // Not that much available any more: the row goes again, in this transaction.
            sqlx::query("delete from reservations where id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            0
        }
    }))
}

/// Releases `quantity` of reservation `id` in the caller's transaction (its balance's
/// `reserved` shrinks with it); a conflict on `quantity` when it no longer holds that much.
pub async fn release(tx: &mut Tx, id: i64, quantity: i64) -> Result<()> {
    if quantity <= 0 {
        return Ok(());
    }
    let at = now();
    on_tx!(tx, tx => {
        let key = sqlx::query_as::<_, (i64, i64, i64, i64)>(RELEASE_ROW)
            .bind(quantity)
            .bind(at)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| {
                Error::conflict(
                    "quantity",
                    format!("reservation {id} does not hold {quantity} (released meanwhile)"),
                )
            })?;
        let changed = sqlx::query(RELEASE_BALANCE)
            .bind(quantity)
            .bind(at)
            .bind(key.0)
            .bind(key.1)
            .bind(key.2)
            .bind(key.3)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed != 1 {
            return Err(Error::Internal(anyhow::anyhow!(
                "reservation {id}: its balance holds less reserved than it does"
            )));
        }
    });
    Ok(())
}

/// Live reservations (quantity > 0) of a holder, latest expiry first (the order they are
/// released in when a line shrinks: the freshest stock goes back first... to others, the
/// customer keeps the earliest).
pub async fn held(tx: &mut Tx, holder: Holder) -> Result<Vec<Reservation>> {
    let (clause, a, b) = match holder {
        Holder::DealLine { deal_id, line_id } => {
            ("r.deal_id = $1 and r.deal_line_id = $2", deal_id, line_id)
        }
        Holder::Component { order_id, item_id } => (
            "r.production_order_id = $1 and r.item_id = $2",
            order_id,
            item_id,
        ),
    };
    Ok(on_tx!(tx, tx => {
        sqlx::query_as::<_, Reservation>(&format!(
            "{SELECT} where {clause} and r.quantity > 0
             order by case when b.expiry_date is null then 1 else 0 end desc, b.expiry_date desc, r.id desc"
        ))
        .bind(a)
        .bind(b)
        .fetch_all(&mut *tx)
        .await?
    }))
}

/// Live reservations of a deal (every line), earliest expiry first.
pub async fn of_deal(tx: &mut Tx, deal_id: i64) -> Result<Vec<Reservation>> {
    Ok(on_tx!(tx, tx => {
        sqlx::query_as::<_, Reservation>(&format!(
            "{SELECT} where r.deal_id = $1 and r.quantity > 0
             order by r.deal_line_id, b.expiry_date, r.id"
        ))
        .bind(deal_id)
        .fetch_all(&mut *tx)
        .await?
    }))
}

/// Live reservations of a production order's components.
pub async fn of_order(tx: &mut Tx, order_id: i64) -> Result<Vec<Reservation>> {
    Ok(on_tx!(tx, tx => {
        sqlx::query_as::<_, Reservation>(&format!(
            "{SELECT} where r.production_order_id = $1 and r.quantity > 0
             order by r.item_id, b.expiry_date, r.id"
        ))
        .bind(order_id)
        .fetch_all(&mut *tx)
        .await?
    }))
}

/// Live reservations of the components of several production orders, by order.
pub async fn of_orders(tx: &mut Tx, order_ids: &[i64]) -> Result<Vec<Reservation>> {
    if order_ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = crate::db::placeholders(1, order_ids.len());
    let sql = format!(
        "{SELECT} where r.production_order_id in ({list}) and r.quantity > 0
             order by r.production_order_id, r.item_id, b.expiry_date, r.id"
    );
    Ok(on_tx!(tx, tx => {
        let mut q = sqlx::query_as::<_, Reservation>(&sql);
        for id in order_ids {
            q = q.bind(*id);
        }
        q.fetch_all(&mut *tx).await?
    }))
}

/// Reservations whose hold has run out at `at` (quotes): (id, quantity).
pub async fn expired(db: &Db, at: OffsetDateTime) -> Result<Vec<(i64, i64)>> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64)>(
            "select id, quantity from reservations
             where expires_at is not null and expires_at <= $1 and quantity > 0
             order by id limit 10000",
        )
        .bind(at)
        .fetch_all(pool)
        .await?
    }))
}
