//! Deals to stock: reserve what stock covers (by the FEFO rule, with the customer's required
//! shelf life), raise a production order (manufactured items, with their components in turn
//! reserved, made or bought) or a purchase order line (purchased items) for every shortfall, and
//! keep all of it in line when the deal changes.
//!
//! A reservation run is a reconciliation: for each deal line it compares what is wanted with
//! what is held (reservations) and what is coming (the pending part of its orders) and applies
//! the difference in short transactions, each keeping the invariants on its own (see
//! [`reservations`]). Running it twice changes nothing the second time; a run interrupted half
//! way is completed by the next. Runs of one deal take turns through a lease on the deal row;
//! runs of different deals proceed in parallel and meet only at the balances' conditional
//! updates, which never let `reserved` pass `on_hand`.

pub mod api;
pub mod picking;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::catalog::items::{self, Source};
use crate::db::{Db, now};
use crate::error::{Error, Result};
use crate::stock::batches::BatchStatus;
use crate::stock::reservations::{self, BalanceKey, Holder};
use crate::stock::{fefo, ledger};
use crate::supply;
use crate::{in_tx, on_read};

/// How long a reservation run may hold a deal's lease before another may take it over.
const LEASE_SECONDS: i64 = 60;
/// Bills of materials nest at most this deep.
const MAX_DEPTH: usize = 16;

/// What a reservation run decided for one deal line.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineOutcome {
    pub line_id: i64,
    pub item_id: i64,
    pub requested: i64,
    /// Held from stock for the line now.
    pub reserved: i64,
    /// `requested - reserved`: what orders must bring.
    pub shortfall: i64,
    /// The active production order for the line's shortfall, if any.
    pub production_order_id: Option<i64>,
    /// The active purchase order for the line's shortfall, if any.
    pub purchase_order_id: Option<i64>,
    /// When what is not reserved is expected (the latest of its orders), if known.
    #[schema(value_type = Option<String>, format = Date)]
    pub expected_date: Option<Date>,
    /// Anything the rep should know (no supplier, an order waiting for a decision).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReserveResult {
    pub deal_id: i64,
    pub warehouse_id: Option<i64>,
    pub lines: Vec<LineOutcome>,
}

#[derive(Debug, Clone, Default)]
pub struct ReserveOptions {
    pub warehouse_id: Option<i64>,
    /// The reservations of this run end then (quotes); released by the expiry job.
    pub expires_at: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct DealRow {
    status: String,
    stage: String,
    warehouse_id: Option<i64>,
    min_remaining: Option<i64>,
}

async fn deal_row(db: &Db, deal_id: i64) -> Result<DealRow> {
    on_read!(db, pool => {
        sqlx::query_as::<_, DealRow>(
            "select d.status, d.stage, d.warehouse_id,
                    c.min_remaining_shelf_life_days as min_remaining
             from deals d join customers c on c.id = d.customer_id where d.id = $1",
        )
        .bind(deal_id)
        .fetch_optional(pool)
        .await?
    })
    .ok_or_else(|| Error::not_found("deal", deal_id))
}

/// Unique per run: the process, the time and a counter.
fn lease_token(deal_id: i64) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static RUNS: AtomicU64 = AtomicU64::new(0);
    format!(
        "{deal_id}:{}:{}:{}",
        std::process::id(),
        now().unix_timestamp_nanos(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether a deal holds any reservation or order (so that a change of its lines must be
/// reconciled).
pub async fn has_any(db: &Db, deal_id: i64) -> Result<bool> {
    let n = on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>(
            "select (select count(*) from reservations where deal_id = $1 and quantity > 0)
                  + (select count(*) from supply_demands where deal_id = $1)",
        )
        .bind(deal_id)
        .fetch_one(pool)
        .await?
    });
    Ok(n > 0)
}

/// A deal's reservation lease, held by one run at a time. Dropped without [`Lease::release`]
/// (the run panicked, or the request was cancelled by a timeout or a hung-up client), it is
/// released in the background, so the deal is not blocked until the lease times out.
struct Lease {
    db: Db,
    deal_id: i64,
    token: String,
    held: bool,
}

impl Lease {
    async fn take(db: &Db, deal_id: i64) -> Result<Lease> {
        let token = lease_token(deal_id);
        let at = now();
        let until = at + time::Duration::seconds(LEASE_SECONDS);
        let taken = in_tx!(db, tx => {
            sqlx::query(
                "update deals set fulfilment_lease = $1, fulfilment_lease_until = $2
                 where id = $3 and (fulfilment_lease is null or fulfilment_lease_until < $4)",
            )
            .bind(&token)
            .bind(until)
            .bind(deal_id)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
        });
        if taken != 1 {
            return Err(Error::conflict(
                "deal_id",
                format!("deal {deal_id} is being reserved by another request: retry in a moment"),
            ));
        }
        Ok(Lease {
            db: db.clone(),
            deal_id,
            token,
            held: true,
        })
    }

    async fn release(mut self) -> Result<()> {
        self.held = false;
        drop_lease(&self.db, self.deal_id, &self.token).await
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.held {
            return;
        }
        let (db, deal_id, token) = (
            self.db.clone(),
            self.deal_id,
            std::mem::take(&mut self.token),
        );
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = drop_lease(&db, deal_id, &token).await {
                    tracing::warn!(deal_id, error = %e, "could not release an abandoned reservation lease");
                }
            });
        }
    }
}

async fn drop_lease(db: &Db, deal_id: i64, token: &str) -> Result<()> {
    in_tx!(db, tx => {
        sqlx::query(
            "update deals set fulfilment_lease = null, fulfilment_lease_until = null
             where id = $1 and fulfilment_lease = $2",
        )
        .bind(deal_id)
        .bind(token)
        .execute(&mut *tx)
        .await?;
    });
    Ok(())
}

/// Reserves a deal: every line decided (reserved, produced or bought), orders for lines that
/// shrank or vanished reduced, everything of a lost deal released.
pub async fn reserve_deal(db: &Db, deal_id: i64, options: ReserveOptions) -> Result<ReserveResult> {
    let deal = deal_row(db, deal_id).await?;
    let warehouse_id = match options.warehouse_id.or(deal.warehouse_id) {
        Some(w) => Some(w),
        None => crate::catalog::warehouses::only_warehouse(db).await?,
    };
    let Some(warehouse_id) = warehouse_id else {
        return Err(Error::invalid(
            "warehouse_id",
            "there are several warehouses: say which one the deal is fulfilled from",
        ));
    };
    if let Some(w) = options.warehouse_id
        && crate::catalog::warehouses::get(db, w).await.is_err()
    {
        return Err(Error::invalid(
            "warehouse_id",
            format!("no warehouse with id {w}"),
        ));
    }
    let lease = Lease::take(db, deal_id).await?;
    let result = run(db, deal_id, &deal, warehouse_id, &options).await;
    lease.release().await?;
    result
}

async fn run(
    db: &Db,
    deal_id: i64,
    deal: &DealRow,
    warehouse_id: i64,
    options: &ReserveOptions,
) -> Result<ReserveResult> {
    if deal.warehouse_id != Some(warehouse_id) {
        in_tx!(db, tx => {
            sqlx::query("update deals set warehouse_id = $1 where id = $2")
                .bind(warehouse_id)
                .bind(deal_id)
                .execute(&mut *tx)
                .await?;
        });
    }
    let lost = deal.status == "lost";
    let lines = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64, i64)>(
            "select id, item_id, quantity from deal_lines where deal_id = $1 order by item_id, id",
        )
        .bind(deal_id)
        .fetch_all(pool)
        .await?
    });
    // Lines that are gone but still hold stock or orders: wanted 0.
    let known: BTreeSet<i64> = lines.iter().map(|l| l.0).collect();
    let mut orphans: BTreeSet<(i64, i64)> = BTreeSet::new();
    for r in reservations::of_deal(db, deal_id).await? {
        if let Some(line) = r.deal_line_id.filter(|l| !known.contains(l)) {
            orphans.insert((line, r.item_id));
        }
    }
    for d in supply::of_deal(db, deal_id).await? {
        if let Some(line) = d.deal_line_id.filter(|l| !known.contains(l)) {
            orphans.insert((line, d.item_id));
        }
    }
    let shipped = shipped_by_line(db, deal_id, &deal_lines(db, deal_id).await?).await?;
    let mut outcomes = Vec::with_capacity(lines.len());
    for (line_id, item_id, quantity) in lines {
        // What has shipped (less returns) is no longer wanted from stock.
        let sent = shipped.get(&line_id).copied().unwrap_or(0);
        let want = if lost { 0 } else { (quantity - sent).max(0) };
        let mut outcome = reconcile(
            db,
            Holder::DealLine { deal_id, line_id },
            item_id,
            warehouse_id,
            want,
            deal.min_remaining,
            options.expires_at,
            0,
        )
        .await?;
        outcome.requested = quantity;
        outcome.shortfall = if lost { 0 } else { want - outcome.reserved };
        outcomes.push(outcome);
    }
    for (line_id, item_id) in orphans {
        reconcile(
            db,
            Holder::DealLine { deal_id, line_id },
            item_id,
            warehouse_id,
            0,
            None,
            None,
            0,
        )
        .await?;
    }
    Ok(ReserveResult {
        deal_id,
        warehouse_id: Some(warehouse_id),
        lines: outcomes,
    })
}

/// The deal's lines as (line id, item id, quantity), in line order.
async fn deal_lines(db: &Db, deal_id: i64) -> Result<Vec<(i64, i64, i64)>> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64, i64)>(
            "select id, item_id, quantity from deal_lines where deal_id = $1 order by line_no, id",
        )
        .bind(deal_id)
        .fetch_all(pool)
        .await?
    }))
}

/// Spreads quantities per item over the deal's lines of that item, in line order; the last
/// line of an item takes any excess, so nothing goes uncounted.
fn spread(per_item: Vec<(i64, i64)>, lines: &[(i64, i64, i64)]) -> HashMap<i64, i64> {
    let mut left: HashMap<i64, i64> = per_item.into_iter().collect();
    let last_of_item: HashMap<i64, i64> = lines.iter().map(|l| (l.1, l.0)).collect();
    let mut out = HashMap::new();
    for &(line_id, item_id, quantity) in lines {
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

/// Shipped per deal line (`lines`: the deal's, in line order), less returns (the deal's `ship`
/// and `return` movements).
async fn shipped_by_line(
    db: &Db,
    deal_id: i64,
    lines: &[(i64, i64, i64)],
) -> Result<HashMap<i64, i64>> {
    let per_item = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64)>(
            "select item_id, cast(-sum(quantity) as bigint) from stock_movements
             where deal_id = $1 and movement_type in ('ship', 'return') group by item_id",
        )
        .bind(deal_id)
        .fetch_all(pool)
        .await?
    });
    Ok(spread(per_item, lines))
}

/// Delivered per deal line (the contents of the deal's delivered shipments).
async fn delivered_by_line(
    db: &Db,
    deal_id: i64,
    lines: &[(i64, i64, i64)],
) -> Result<HashMap<i64, i64>> {
    let per_item = crate::shipping::delivered_by_item(db, deal_id).await?;
    Ok(spread(per_item, lines))
}

/// After a delivery: once every line of a won deal is delivered in full, the deal moves on to
/// its next active stage (by position). Guarded by the stage it had, so it moves once.
/// Answers the new stage, if it moved.
pub async fn advance_when_delivered(db: &Db, deal_id: i64) -> Result<Option<String>> {
    let deal = deal_row(db, deal_id).await?;
    let lines = deal_lines(db, deal_id).await?;
    if deal.status != "won" || lines.is_empty() {
        return Ok(None);
    }
    let delivered = delivered_by_line(db, deal_id, &lines).await?;
    if lines
        .iter()
        .any(|(id, _, q)| delivered.get(id).copied().unwrap_or(0) < *q)
    {
        return Ok(None);
    }
    let stage = deal.stage;
    let next = on_read!(db, pool => {
        sqlx::query_scalar::<_, String>(
            "select n.code from deal_stages n join deal_stages c on c.code = $1
             where n.active and n.position > c.position order by n.position, n.code limit 1",
        )
        .bind(&stage)
        .fetch_optional(pool)
        .await?
    });
    let Some(next) = next else {
        return Ok(None);
    };
    let at = now();
    let moved = in_tx!(db, tx => {
        sqlx::query("update deals set stage = $1, updated_at = $2 where id = $3 and stage = $4")
            .bind(&next)
            .bind(at)
            .bind(deal_id)
            .bind(&stage)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    });
    Ok((moved == 1).then_some(next))
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Brings one holder's reservations and orders in line with `want` (see the module doc).
#[allow(clippy::too_many_arguments)]
fn reconcile(
    db: &Db,
    holder: Holder,
    item_id: i64,
    warehouse_id: i64,
    want: i64,
    min_remaining: Option<i64>,
    expires_at: Option<OffsetDateTime>,
    depth: usize,
) -> Boxed<'_, LineOutcome> {
    Box::pin(async move {
        if depth > MAX_DEPTH {
            return Err(Error::conflict(
                "bom",
                format!("bills of materials nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        let mut message = None;
        let held = reservations::held(db, holder).await?;
        let demands = supply::of_holder(db, holder).await?;
        let reserved: i64 = held.iter().map(|r| r.quantity).sum();
        let pending: i64 = demands.iter().map(|d| d.pending()).sum();
        if reserved + pending < want {
            let missing = want - reserved - pending;
            let got = reserve_from_stock(
                db,
                holder,
                item_id,
                warehouse_id,
                missing,
                min_remaining,
                expires_at,
            )
            .await?;
            if got < missing {
                message = raise(db, holder, item_id, warehouse_id, missing - got, depth).await?;
            }
        } else {
            // Stock in hand is kept first (up to what is wanted), then what is coming.
            let mut release = (reserved - want).max(0);
            for r in &held {
                if release == 0 {
                    break;
                }
                let take = release.min(r.quantity);
                reservations::release(db, r.id, take).await?;
                release -= take;
            }
            let mut excess = pending - (want - reserved.min(want));
            for d in demands.iter().rev().filter(|d| d.pending() > 0) {
                if excess <= 0 {
                    break;
                }
                let by = excess.min(d.pending());
                let shrunk = if d.is_unstarted() {
                    supply::shrink(db, d, by).await?
                } else {
                    0
                };
                if shrunk > 0 {
                    if let Some(order) = d.production_order_id {
                        reconcile_components_at(db, order, depth + 1).await?;
                    }
                    excess -= shrunk;
                } else {
                    supply::flag(
                        db,
                        d,
                        &format!(
                            "{} no longer needs {by} of it: decide what happens to the output",
                            describe(holder)
                        ),
                    )
                    .await?;
                    message = Some(format!(
                        "{:?} order {} has started: it is flagged for a decision",
                        d.source(),
                        d.order_id()
                    ));
                    excess -= by;
                }
            }
        }
        let reserved: i64 = reservations::held(db, holder)
            .await?
            .iter()
            .map(|r| r.quantity)
            .sum();
        let demands = supply::of_holder(db, holder).await?;
        let active: Vec<&supply::Demand> = demands.iter().filter(|d| d.pending() > 0).collect();
        let line_id = match holder {
            Holder::DealLine { line_id, .. } => line_id,
            Holder::Component { order_id, .. } => order_id,
        };
        Ok(LineOutcome {
            line_id,
            item_id,
            requested: want,
            reserved,
            shortfall: (want - reserved).max(0),
            production_order_id: active.iter().rev().find_map(|d| d.production_order_id),
            purchase_order_id: active.iter().rev().find_map(|d| d.purchase_order_id),
            expected_date: active.iter().filter_map(|d| d.expected_date).max(),
            message,
        })
    })
}

fn describe(holder: Holder) -> String {
    match holder {
        Holder::DealLine { deal_id, line_id } => format!("deal {deal_id} (line {line_id})"),
        Holder::Component { order_id, .. } => format!("production order {order_id}"),
    }
}

/// Holds up to `quantity` from stock by the FEFO plan; plans again when another request took a
/// planned balance first. Returns how much it held.
async fn reserve_from_stock(
    db: &Db,
    holder: Holder,
    item_id: i64,
    warehouse_id: i64,
    quantity: i64,
    min_remaining: Option<i64>,
    expires_at: Option<OffsetDateTime>,
) -> Result<i64> {
    let today = now().date();
    let mut got = 0;
    for _round in 0..4 {
        let left = quantity - got;
        if left <= 0 {
            break;
        }
        let plan = ledger::plan(db, item_id, warehouse_id, left, today, min_remaining).await?;
        if plan.planned == 0 {
            break;
        }
        let mut this_round = 0;
        for pick in &plan.picks {
            this_round += reservations::hold(
                db,
                holder,
                BalanceKey {
                    item_id,
                    warehouse_id,
                    location_id: pick.location_id,
                    batch_id: pick.batch_id,
                },
                pick.quantity,
                expires_at,
                None,
            )
            .await?;
        }
        got += this_round;
        if this_round == plan.planned {
            break;
        }
    }
    Ok(got)
}

/// Orders the shortfall: a production order for a manufactured item (grown when the holder's
/// order has not been released yet), a purchase order line for a purchased one. Returns a
/// message when nothing could be ordered.
async fn raise(
    db: &Db,
    holder: Holder,
    item_id: i64,
    warehouse_id: i64,
    quantity: i64,
    depth: usize,
) -> Result<Option<String>> {
    let item = items::get(db, item_id).await?;
    match item.source {
        Source::Manufactured => {
            let planned = supply::of_holder(db, holder)
                .await?
                .into_iter()
                .find(|d| d.status == "planned" && d.production_order_id.is_some());
            let order = match planned {
                Some(d) => {
                    let order = d.production_order_id.unwrap_or_default();
                    if crate::production::grow(db, order, d.id, quantity).await? {
                        order
                    } else {
                        crate::production::create(db, item_id, warehouse_id, quantity, Some(holder))
                            .await?
                    }
                }
                None => {
                    crate::production::create(db, item_id, warehouse_id, quantity, Some(holder))
                        .await?
                }
            };
            reconcile_components_at(db, order, depth + 1).await?;
            Ok(None)
        }
        Source::Purchased => match item.supplier_id {
            Some(supplier) => {
                crate::purchasing::order_for(db, holder, item_id, supplier, warehouse_id, quantity)
                    .await?;
                Ok(None)
            }
            None => Ok(Some(format!(
                "item {} has no supplier: nothing was ordered for {quantity}",
                item.code
            ))),
        },
    }
}

/// Brings a production order's component reservations and orders in line with what is left
/// to make (none once it is done or cancelled).
pub async fn reconcile_components(db: &Db, order_id: i64) -> Result<()> {
    reconcile_components_at(db, order_id, 1).await
}

fn reconcile_components_at(db: &Db, order_id: i64, depth: usize) -> Boxed<'_, ()> {
    Box::pin(async move {
        for (component, need, warehouse) in crate::production::component_needs(db, order_id).await?
        {
            reconcile(
                db,
                Holder::Component {
                    order_id,
                    item_id: component,
                },
                component,
                warehouse,
                need,
                None,
                None,
                depth,
            )
            .await?;
        }
        Ok(())
    })
}

/// Releases reservations whose hold has run out (quotes). Returns how many.
pub async fn release_expired(db: &Db) -> Result<usize> {
    let due = reservations::expired(db, now()).await?;
    for (id, quantity) in &due {
        // Released meanwhile by someone else: nothing to do.
        match reservations::release(db, *id, *quantity).await {
            Ok(()) | Err(Error::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(due.len())
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
    pub status: String,
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
             union select 'shipment', id from shipments where deal_id = $1
             union select 'return', id from stock_returns where deal_id = $1
             union select distinct document_type, document_id from stock_movements
                   where deal_id = $1 and document_type is not null and document_id is not null",
        )
        .bind(deal_id)
        .fetch_all(pool)
        .await?
    });
    let mut records: BTreeSet<(String, i64)> = rows.into_iter().collect();
    for d in supply::of_deal(db, deal_id).await? {
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
    let deal = deal_row(db, deal_id).await?;
    let lines = deal_lines(db, deal_id).await?;
    let held = reservations::of_deal(db, deal_id).await?;
    let demands = supply::of_deal(db, deal_id).await?;
    let shipped = shipped_by_line(db, deal_id, &lines).await?;
    let delivered = delivered_by_line(db, deal_id, &lines).await?;
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
        .map(|(line_id, item_id, requested)| {
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
        })
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
