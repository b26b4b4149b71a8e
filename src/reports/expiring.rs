//! Expiring stock: batches with stock on hand whose expiry day comes within N days (or has
//! passed), what is on hand and held, and what it is worth where a price is known.
//!
//! Depot keeps no price on items: the only prices are the unit prices of deal lines. A batch is
//! valued at its item's last selling price, the unit price of the item's line in the deal won
//! most recently (a priced line, above 0), in that deal's currency; an item never sold at a
//! price has no value (null).

use std::collections::HashMap;

use serde::Serialize;
use time::Date;
use utoipa::ToSchema;

use crate::db::{Db, placeholders};
use crate::error::Result;
use crate::on_read;
use crate::reports::Scope;
use crate::stock::batches::BatchStatus;
use crate::stock::fefo;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Expiring {
    /// Today (UTC): `days_left` counts from it.
    pub as_of: Date,
    /// The horizon asked for (`?days=`).
    pub days: i64,
    /// The last expiry day included: `as_of + days`.
    pub until: Date,
    /// Earliest expiry first, then by batch and warehouse.
    pub batches: Vec<ExpiringBatch>,
}

/// A batch's stock in one warehouse.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ExpiringBatch {
    pub batch_id: i64,
    pub batch_code: String,
    pub item_id: i64,
    pub item_code: String,
    pub item_name: String,
    pub unit: String,
    pub warehouse_id: i64,
    pub expiry_date: Date,
    /// Days from today to the expiry day; 0 or less: expired (the expiry day itself counts as
    /// expired, as picking has it).
    #[sqlx(default)]
    pub days_left: i64,
    #[sqlx(default)]
    pub expired: bool,
    pub status: BatchStatus,
    pub on_hand: i64,
    /// Of `on_hand`, held for deals or production orders.
    pub reserved: i64,
    /// The item's last selling price in minor units (null: never sold at a price, or the caller
    /// may not see prices).
    #[sqlx(default)]
    pub unit_price: Option<i64>,
    /// ISO 4217 code of the price.
    #[sqlx(default)]
    pub currency: Option<String>,
    /// `on_hand * unit_price`.
    #[sqlx(default)]
    pub value: Option<i64>,
}

/// The CSV columns: the fields of [`ExpiringBatch`].
pub const COLUMNS: &[&str] = &[
    "batch_id",
    "batch_code",
    "item_id",
    "item_code",
    "item_name",
    "unit",
    "warehouse_id",
    "expiry_date",
    "days_left",
    "expired",
    "status",
    "on_hand",
    "reserved",
    "unit_price",
    "currency",
    "value",
];

const BATCHES_SQL: &str = "select b.id as batch_id, b.code as batch_code, b.item_id,
        i.code as item_code, i.name as item_name, i.unit, s.warehouse_id, b.expiry_date,
        b.status, cast(sum(s.on_hand) as bigint) as on_hand,
        cast(sum(s.reserved) as bigint) as reserved
     from stock_balances s
     join batches b on b.id = s.batch_id
     join items i on i.id = b.item_id
     where s.on_hand > 0 and b.expiry_date is not null and b.expiry_date <= $1
     group by b.id, b.code, b.item_id, i.code, i.name, i.unit, s.warehouse_id, b.expiry_date,
        b.status
     order by b.expiry_date, b.id, s.warehouse_id";

pub async fn report(db: &Db, scope: Scope, today: Date, days: i64) -> Result<Expiring> {
    let until = crate::days::add(today, days).unwrap_or(Date::MAX);
    let mut batches = on_read!(db, pool => {
        sqlx::query_as::<_, ExpiringBatch>(BATCHES_SQL)
            .bind(until)
            .fetch_all(pool)
            .await?
    });
    let mut item_ids: Vec<i64> = batches.iter().map(|b| b.item_id).collect();
    item_ids.sort_unstable();
    item_ids.dedup();
    let prices = if scope.money {
        last_prices(db, &item_ids).await?
    } else {
        HashMap::new()
    };
    for b in &mut batches {
        b.days_left = (b.expiry_date - today).whole_days();
        b.expired = fefo::is_expired(Some(b.expiry_date), today);
        if let Some((price, currency)) = prices.get(&b.item_id) {
            b.unit_price = Some(*price);
            b.currency = Some(currency.clone());
            b.value = Some(b.on_hand.saturating_mul(*price));
        }
    }
    Ok(Expiring {
        as_of: today,
        days,
        until,
        batches,
    })
}

/// Each item's last selling price and its currency (see the module's documentation).
async fn last_prices(db: &Db, item_ids: &[i64]) -> Result<HashMap<i64, (i64, String)>> {
    if item_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "select l.item_id, l.unit_price, d.currency
         from deal_lines l join deals d on d.id = l.deal_id
         where d.status = 'won' and l.unit_price > 0 and l.item_id in ({})
         order by d.closed_at desc, l.id desc",
        placeholders(1, item_ids.len())
    );
    let rows = on_read!(db, pool => {
        let mut q = sqlx::query_as::<_, (i64, i64, String)>(&sql);
        for id in item_ids {
            q = q.bind(*id);
        }
        q.fetch_all(pool).await?
    });
    let mut prices = HashMap::new();
    for (item, price, currency) in rows {
        prices.entry(item).or_insert((price, currency));
    }
    Ok(prices)
}
