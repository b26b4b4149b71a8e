//! Deals and stock, as reps and the floor see them: reservations planned against stock and
//! orders ([`planning`], the one module that knows both kinds of order), availability of an
//! item, a deal's whole fulfilment and documents, and pick lists with scan-verified picking
//! ([`picking`]).

pub mod api;
pub mod picking;
pub mod planning;

pub use planning::{LineOutcome, ReserveOptions, ReserveResult, reserve_deal};

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;
use time::Date;
use utoipa::ToSchema;

use crate::catalog::items;
use crate::crm::deals::{self, LineNeed};
use crate::db::{Db, Tx, now};
use crate::error::{Error, Result};
use crate::stock::batches::BatchStatus;
use crate::stock::reservations;
use crate::stock::{fefo, ledger};
use crate::supply;
use crate::{on_read, on_tx};

/// Whether a deal holds any reservation or order (so that a change of its lines must be
/// reconciled).
pub async fn has_any(tx: &mut Tx, deal_id: i64) -> Result<bool> {
    let n = on_tx!(tx, conn => {
        sqlx::query_scalar::<_, i64>(
            "select (select count(*) from reservations where deal_id = $1 and quantity > 0)
                  + (select count(*) from supply_demands where deal_id = $1)",
        )
        .bind(deal_id)
        .fetch_one(&mut *conn)
        .await?
    });
    Ok(n > 0)
}

/// Spreads quantities per item over the deal's lines of that item, in line order; the last
/// line of an item takes any excess, so nothing goes uncounted.
pub(crate) fn spread(per_item: Vec<(i64, i64)>, lines: &[LineNeed]) -> HashMap<i64, i64> {
    let mut left: HashMap<i64, i64> = per_item.into_iter().collect();
    let last_of_item: HashMap<i64, i64> = lines.iter().map(|l| (l.item_id, l.id)).collect();
    let mut out = HashMap::new();
    for &LineNeed {
        id: line_id,
        item_id,
        quantity,
    } in lines
    {
        let pool = left.entry(item_id).or_insert(0);
        let take = if last_of_item.get(&item_id) == Some(&line_id) {
            *pool
        } else {
            (*pool).clamp(0, quantity)
        };
        *pool -= take;
        out.insert(line_id, take);
    }
    out
}

/// Delivered per deal line (the contents of the deal's delivered shipments).
pub(crate) async fn delivered_by_line(
    tx: &mut Tx,
    deal_id: i64,
    lines: &[LineNeed],
) -> Result<HashMap<i64, i64>> {
    let per_item = crate::shipping::delivered_by_item(tx, deal_id).await?;
    Ok(spread(per_item, lines))
}

/// Stock of an item for reps: what is on hand, held, free, unusable and on its way.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Availability {
    pub item_id: i64,
    pub warehouse_id: Option<i64>,
    pub on_hand: i64,
    pub reserved: i64,
    /// On hand, not reserved, not expired, quarantined or recalled.
    pub available: i64,
    /// On hand in batches past their expiry day (or marked expired).
    pub expired: i64,
    /// On hand in quarantined or recalled batches.
    pub quarantined: i64,
    pub incoming: Vec<Incoming>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Incoming {
    /// `production` or `purchase`.
    pub source: String,
    pub id: i64,
    pub quantity: i64,
    pub expected_date: Option<Date>,
}

pub async fn availability(
    db: &Db,
    item_id: i64,
    warehouse_id: Option<i64>,
) -> Result<Availability> {
    items::get(db, item_id).await?;
    let today = now().date();
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64, Option<String>, Option<Date>)>(
            "select s.on_hand, s.reserved, b.status, s.expiry_date
             from stock_balances s left join batches b on b.id = s.batch_id
             where s.item_id = $1 and ($2 is null or s.warehouse_id = $2) and s.on_hand > 0",
        )
        .bind(item_id)
        .bind(warehouse_id)
        .fetch_all(pool)
        .await?
    });
    let (mut on_hand, mut reserved, mut available, mut expired, mut quarantined) = (0, 0, 0, 0, 0);
    for (hand, held, status, expiry) in rows {
        on_hand += hand;
        reserved += held;
        let status = BatchStatus::of_column(status.as_deref());
        match fefo::hold(status, expiry, today) {
            Some(fefo::Hold::Quarantined) => quarantined += hand,
            Some(fefo::Hold::Expired) => expired += hand,
            None => available += fefo::available(hand, held, status, expiry, today),
        }
    }
    let incoming = on_read!(db, pool => {
        sqlx::query_as::<_, Incoming>(
            "select 'production' as source, id, quantity - produced as quantity,
                    planned_date as expected_date
             from production_orders
             where item_id = $1 and ($2 is null or warehouse_id = $2)
               and status in ('planned', 'released', 'in_progress') and quantity > produced
             union all
             select 'purchase', p.id, l.quantity - l.received, coalesce(l.expected_date, p.expected_date)
             from purchase_order_lines l join purchase_orders p on p.id = l.purchase_order_id
             where l.item_id = $1 and ($2 is null or p.warehouse_id = $2)
               and p.status in ('open', 'ordered') and l.quantity > l.received
             order by 4, 2",
        )
        .bind(item_id)
        .bind(warehouse_id)
        .fetch_all(pool)
        .await?
    });
    Ok(Availability {
        item_id,
        warehouse_id,
        on_hand,
        reserved,
        available,
        expired,
        quarantined,
        incoming,
    })
}

/// A deal's fulfilment for reps: per line what is reserved (by batch), made, bought, shipped
/// and delivered; its shipments with their status history; every ledger movement and document
/// of the deal.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Fulfilment {
    pub deal_id: i64,
    pub status: deals::DealStatus,
    /// The deal's stage (it moves to the next one when everything is delivered).
    pub stage: String,
    pub warehouse_id: Option<i64>,
    /// Every line delivered in full.
    pub complete: bool,
    pub lines: Vec<LineFulfilment>,
    pub shipments: Vec<crate::shipping::Shipment>,
    pub movements: Vec<ledger::Movement>,
    pub documents: Vec<Document>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineFulfilment {
    pub line_id: i64,
    pub item_id: i64,
    pub item_code: String,
    pub item_name: String,
    pub requested: i64,
    /// Reserved for the line, wherever it is (bins, or packing once picked).
    pub reserved: i64,
    /// Of `reserved`, what is picked and waits at a packing location.
    pub picked: i64,
    pub reservations: Vec<reservations::Reservation>,
    pub in_production: Vec<Incoming>,
    pub on_order: Vec<Incoming>,
    /// Shipped for the line (less returns).
    pub shipped: i64,
    /// In shipments the carrier delivered.
    pub delivered: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq, PartialOrd, Ord)]
pub struct Document {
    /// `production_order`, `purchase_order`, `pick_list`, `parcel`, `shipment`, `return`...
    #[serde(rename = "type")]
    pub kind: String,
    pub id: i64,
    /// Where its documents download from the deal (pick list, delivery note, shipping labels,
    /// parcel label, return note); empty for records without one.
    pub downloads: Vec<Download>,
}

#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq, PartialOrd, Ord)]
pub struct Download {
    /// `pick_list`, `delivery_note`, `shipping_labels`, `parcel_label`, `return_note`.
    pub name: String,
    /// `GET` it (`?format=pdf|zpl|png`, PDF by default).
    pub url: String,
}

/// The documents that download for a record of deal `deal_id`.
fn downloads(deal_id: i64, kind: &str, id: i64) -> Vec<Download> {
    let names: &[&str] = match kind {
        "pick_list" => &["pick_list"],
        "shipment" => &["delivery_note", "shipping_labels"],
        "parcel" => &["parcel_label"],
        "return" => &["return_note"],
        _ => &[],
    };
    names
        .iter()
        .map(|name| Download {
            name: (*name).to_string(),
            url: format!("/v1/deals/{deal_id}/documents/{name}/{id}"),
        })
        .collect()
}

/// Every record of the deal that has a document or is one: orders, pick lists, parcels,
/// shipments, returns, counts (from the ledger), with their downloads.
pub async fn documents(db: &Db, deal_id: i64) -> Result<Vec<Document>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, (String, i64)>(
            "select 'pick_list', pick_list_id from pick_list_lines where deal_id = $1
             union select 'parcel', id from parcels where deal_id = $1
             union select 'parcel', parcel_id from parcel_contents where deal_id = $1
             union select 'shipment', id from shipments where deal_id = $1
             union select 'shipment', shipment_id from shipment_deals where deal_id = $1
             union select 'return', id from stock_returns where deal_id = $1
             union select distinct document_type, document_id from stock_movements
                   where deal_id = $1 and document_type is not null and document_id is not null",
        )
        .bind(deal_id)
        .fetch_all(pool)
        .await?
    });
    let mut records: BTreeSet<(String, i64)> = rows.into_iter().collect();
    for d in supply::of_deal(&mut db.snapshot().await?, deal_id).await? {
        records.insert((
            match d.source() {
                supply::Source::Production => "production_order".into(),
                supply::Source::Purchase => "purchase_order".into(),
            },
            d.order_id(),
        ));
    }
    Ok(records
        .into_iter()
        .map(|(kind, id)| Document {
            downloads: downloads(deal_id, &kind, id),
            kind,
            id,
        })
        .collect())
}

/// Whether `id` is a record of `kind` belonging to deal `deal_id` (404 otherwise), so that a
/// document downloads from the deal only when it is the deal's.
pub async fn check_document(db: &Db, deal_id: i64, kind: &str, id: i64) -> Result<()> {
    let found = documents(db, deal_id)
        .await?
        .iter()
        .any(|d| d.kind == kind && d.id == id);
    if found {
        Ok(())
    } else {
        Err(Error::not_found(
            "document",
            format!("{kind} {id} of deal {deal_id}"),
        ))
    }
}

pub async fn fulfilment(db: &Db, deal_id: i64) -> Result<Fulfilment> {
    // One consistent view of the deal, its reservations, orders and deliveries.
    let mut tx = db.snapshot().await?;
    let deal = deals::terms(&mut tx, deal_id).await?;
    let lines = deals::line_needs(&mut tx, deal_id).await?;
    let held = reservations::of_deal(&mut tx, deal_id).await?;
    let demands = supply::of_deal(&mut tx, deal_id).await?;
    let shipped = planning::shipped_by_line(&mut tx, deal_id, &lines).await?;
    let delivered = delivered_by_line(&mut tx, deal_id, &lines).await?;
    let shipments = crate::shipping::of_deal(db, deal_id).await?;
    let packing: BTreeSet<i64> = on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>(&picking::packing_locations_of("$1"))
        .bind(deal_id)
        .fetch_all(pool)
        .await?
    })
    .into_iter()
    .collect();
    let movements = ledger::ledger(
        db,
        &ledger::LedgerFilter {
            deal_id: Some(deal_id),
            ..Default::default()
        },
        crate::db::Page::first(crate::db::Page::MAX_LIMIT),
    )
    .await?
    .items;
    let documents = documents(db, deal_id).await?;
    let names: HashMap<i64, (String, String)> = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, String, String)>(
            "select distinct i.id, i.code, i.name from deal_lines l join items i on i.id = l.item_id
             where l.deal_id = $1",
        )
        .bind(deal_id)
        .fetch_all(pool)
        .await?
    })
    .into_iter()
    .map(|(id, code, name)| (id, (code, name)))
    .collect();
    let lines: Vec<LineFulfilment> = lines
        .into_iter()
        .map(
            |LineNeed {
                 id: line_id,
                 item_id,
                 quantity: requested,
             }| {
                let (item_code, item_name) = names.get(&item_id).cloned().unwrap_or_default();
                let mine: Vec<_> = held
                    .iter()
                    .filter(|r| r.deal_line_id == Some(line_id))
                    .cloned()
                    .collect();
                let incoming = |source: supply::Source| {
                    demands
                        .iter()
                        .filter(|d| d.deal_line_id == Some(line_id) && d.source() == source)
                        .filter(|d| d.pending() > 0)
                        .map(|d| Incoming {
                            source: match source {
                                supply::Source::Production => "production".into(),
                                supply::Source::Purchase => "purchase".into(),
                            },
                            id: d.order_id(),
                            quantity: d.pending(),
                            expected_date: d.expected_date,
                        })
                        .collect::<Vec<_>>()
                };
                LineFulfilment {
                    line_id,
                    item_id,
                    item_code,
                    item_name,
                    requested,
                    reserved: mine.iter().map(|r| r.quantity).sum(),
                    picked: mine
                        .iter()
                        .filter(|r| packing.contains(&r.location_id))
                        .map(|r| r.quantity)
                        .sum(),
                    reservations: mine,
                    in_production: incoming(supply::Source::Production),
                    on_order: incoming(supply::Source::Purchase),
                    shipped: shipped.get(&line_id).copied().unwrap_or(0),
                    delivered: delivered.get(&line_id).copied().unwrap_or(0),
                }
            },
        )
        .collect();
    Ok(Fulfilment {
        deal_id,
        status: deal.status,
        stage: deal.stage,
        warehouse_id: deal.warehouse_id,
        complete: !lines.is_empty() && lines.iter().all(|l| l.delivered >= l.requested),
        lines,
        shipments,
        movements,
        documents,
    })
}
