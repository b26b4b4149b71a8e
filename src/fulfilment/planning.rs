//! Planning: the one module that knows both kinds of order. It decides, for every deal line
//! and every production order's component, what is reserved from stock (by the FEFO rule, with
//! the customer's required shelf life), what is made (a production order, its components in
//! turn reserved, made or bought) and what is bought (a purchase order line), and keeps that in
//! line when a deal changes, an order is completed or cancelled, or goods arrive.
//!
//! A reservation run is a reconciliation: for each line it compares what is wanted with what is
//! held (reservations) and what is coming (the pending part of its orders), and applies the
//! difference. The whole run is ONE write transaction: it takes the deal's turn
//! (`crm::deals::lock`), reads and writes in that transaction, and commits everything or
//! nothing. Running it twice changes nothing the second time. Runs of one deal go one after
//! another; runs of different deals meet only at the balances' conditional updates, which never
//! let `reserved` pass `on_hand`.
//!
//! The workflows that cross modules live here too, each one transaction: completing a
//! production order (then its leftover component reservations go back), changing an order's
//! status, receiving a purchase order, releasing expired quotes.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::catalog::items::{self, Source};
use crate::crm::deals::{self, Deal, DealPatch, DealStatus};
use crate::crm::visibility::Viewer;
use crate::db::{Db, Tx, now};
use crate::error::{Error, Result};
use crate::production::{self, Completed, Completion};
use crate::purchasing::{self, PurchaseReceipt, Received};
use crate::shipping;
use crate::stock::ledger;
use crate::stock::operations::Actor;
use crate::stock::reservations::{self, BalanceKey, Holder};
use crate::supply::{self, Demand, Source as SupplySource};

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

/// Reserves a deal in one transaction: every line decided (reserved, produced or bought),
/// orders for lines that shrank or vanished reduced, everything of a lost deal released.
pub async fn reserve_deal(db: &Db, deal_id: i64, options: ReserveOptions) -> Result<ReserveResult> {
    let warehouse_id = warehouse_for(db, deal_id, options.warehouse_id).await?;
    let mut tx = db.begin().await?;
    let result = reserve_in(&mut tx, db, deal_id, warehouse_id, &options).await?;
    tx.commit().await?;
    Ok(result)
}

/// Changes a deal and, in the same transaction, what follows from it: winning it reserves it,
/// losing it releases everything, and changed lines of a deal that holds stock or orders are
/// reconciled. The deal change stands even when the reservation cannot run now (several
/// warehouses and none chosen yet): the rep can call `POST /v1/deals/{id}/reserve`.
pub async fn update_deal(db: &Db, viewer: Viewer, id: i64, patch: DealPatch) -> Result<Deal> {
    let mut tx = db.begin().await?;
    let change = deals::update_in(&mut tx, db, viewer, id, patch).await?;
    let won = change.after == DealStatus::Won && change.before != DealStatus::Won;
    let lost = change.after == DealStatus::Lost && change.before != DealStatus::Lost;
    if won || lost || (change.lines_changed && super::has_any(&mut tx, id).await?) {
        let ran = match warehouse_for(db, id, None).await {
            Ok(warehouse_id) => {
                let options = ReserveOptions::default();
                tx.attempt(async |tx| reserve_in(tx, db, id, warehouse_id, &options).await)
                    .await?
                    .map(|_| ())
            }
            Err(e) => Err(e),
        };
        if let Err(e) = ran {
            tracing::warn!(deal = id, error = %e, "reserving after a deal change did not run");
        }
    }
    tx.commit().await?;
    deals::load(db, id).await
}

/// The warehouse a deal is fulfilled from: the one asked for (it must exist), else the deal's,
/// else the only one.
async fn warehouse_for(db: &Db, deal_id: i64, asked: Option<i64>) -> Result<i64> {
    if let Some(w) = asked {
        return match crate::catalog::warehouses::get(db, w).await {
            Ok(_) => Ok(w),
            Err(Error::NotFound { .. }) => Err(Error::invalid(
                "warehouse_id",
                format!("no warehouse with id {w}"),
            )),
            Err(e) => Err(e),
        };
    }
    let recorded = deals::terms(&mut db.snapshot().await?, deal_id)
        .await?
        .warehouse_id;
    match recorded {
        Some(w) => Ok(w),
        None => crate::catalog::warehouses::only_warehouse(db)
            .await?
            .ok_or_else(|| {
                Error::invalid(
                    "warehouse_id",
                    "there are several warehouses: say which one the deal is fulfilled from",
                )
            }),
    }
}

/// The reservation run in the caller's transaction (see the module documentation).
pub async fn reserve_in(
    tx: &mut Tx,
    db: &Db,
    deal_id: i64,
    warehouse_id: i64,
    options: &ReserveOptions,
) -> Result<ReserveResult> {
    let deal = deals::lock(tx, deal_id, Some(warehouse_id)).await?;
    let lost = deal.status == DealStatus::Lost;
    let lines = deals::line_needs(tx, deal_id).await?;
    let orphans = orphaned_holders(tx, deal_id, &lines).await?;
    let shipped = shipped_by_line(tx, deal_id, &lines).await?;
    let mut outcomes = Vec::with_capacity(lines.len());
    // Lines of one item in item order, so concurrent runs touch balances in the same order.
    let mut by_item = lines.clone();
    by_item.sort_by_key(|l| (l.item_id, l.id));
    let planner = Planner {
        db,
        warehouse_id,
        expires_at: options.expires_at,
    };
    for line in by_item {
        let sent = shipped.get(&line.id).copied().unwrap_or(0);
        let want = wanted(lost, line.quantity, sent);
        let holder = Holder::DealLine {
            deal_id,
            line_id: line.id,
        };
        let mut outcome = planner
            .reconcile(tx, holder, line.item_id, want, deal.min_remaining, 0)
            .await?;
        outcome.requested = line.quantity;
        outcome.shortfall = if lost { 0 } else { want - outcome.reserved };
        outcomes.push(outcome);
    }
    for (holder, item_id) in orphans {
        planner.reconcile(tx, holder, item_id, 0, None, 0).await?;
    }
    // The outcomes in line order, as the deal lists its lines.
    outcomes.sort_by_key(|o| lines.iter().position(|l| l.id == o.line_id));
    Ok(ReserveResult {
        deal_id,
        warehouse_id: Some(warehouse_id),
        lines: outcomes,
    })
}

/// Where one deal line stands, as a reservation run finds it before it acts.
#[derive(Debug, Clone)]
pub struct Standing {
    /// What the line wants (`requested`: ordered less shipped, nothing once lost), holds and
    /// waits for, as the run reports it.
    pub outcome: LineOutcome,
    /// Shipped for the line (less returns).
    pub shipped: i64,
    /// What the line's active orders still bring.
    pub coming: i64,
}

/// Every line of a deal as it stands now, in line order, read in the caller's transaction and
/// changing nothing: the shortfall a reservation run would start from, and the orders that
/// cover it.
pub async fn standing(tx: &mut Tx, deal_id: i64) -> Result<Vec<Standing>> {
    let lost = deals::terms(tx, deal_id).await?.status == DealStatus::Lost;
    let lines = deals::line_needs(tx, deal_id).await?;
    let held = reservations::of_deal(tx, deal_id).await?;
    let demands = supply::of_deal(tx, deal_id).await?;
    let shipped = shipped_by_line(tx, deal_id, &lines).await?;
    Ok(lines
        .iter()
        .map(|line| {
            let sent = shipped.get(&line.id).copied().unwrap_or(0);
            let want = wanted(lost, line.quantity, sent);
            let reserved = held
                .iter()
                .filter(|r| r.deal_line_id == Some(line.id))
                .map(|r| r.quantity)
                .sum();
            let mine: Vec<Demand> = demands
                .iter()
                .filter(|d| d.deal_line_id == Some(line.id))
                .cloned()
                .collect();
            let holder = Holder::DealLine {
                deal_id,
                line_id: line.id,
            };
            Standing {
                outcome: outcome_of(holder, line.item_id, want, reserved, &mine, None),
                shipped: sent,
                coming: mine.iter().map(Demand::pending).sum(),
            }
        })
        .collect())
}

/// What a line still wants from stock: what has shipped (less returns) is no longer wanted,
/// and nothing once the deal is lost.
fn wanted(lost: bool, quantity: i64, shipped: i64) -> i64 {
    if lost { 0 } else { (quantity - shipped).max(0) }
}

/// Lines that are gone but still hold stock or orders: they want 0.
async fn orphaned_holders(
    tx: &mut Tx,
    deal_id: i64,
    lines: &[deals::LineNeed],
) -> Result<BTreeSet<(Holder, i64)>> {
    let known: BTreeSet<i64> = lines.iter().map(|l| l.id).collect();
    let mut orphans = BTreeSet::new();
    let gone = |line: Option<i64>| line.filter(|l| !known.contains(l));
    for r in reservations::of_deal(tx, deal_id).await? {
        if let Some(line_id) = gone(r.deal_line_id) {
            orphans.insert((Holder::DealLine { deal_id, line_id }, r.item_id));
        }
    }
    for d in supply::of_deal(tx, deal_id).await? {
        if let Some(line_id) = gone(d.deal_line_id) {
            orphans.insert((Holder::DealLine { deal_id, line_id }, d.item_id));
        }
    }
    Ok(orphans)
}

/// Shipped per deal line, less returns (the deal's `ship` and `return` movements), spread over
/// the deal's lines of each item in line order.
pub async fn shipped_by_line(
    tx: &mut Tx,
    deal_id: i64,
    lines: &[deals::LineNeed],
) -> Result<std::collections::HashMap<i64, i64>> {
    let per_item = ledger::shipped_to_deal(tx, deal_id).await?;
    Ok(super::spread(per_item, lines))
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// One run's settings: where stock comes from and how long what it reserves is held.
struct Planner<'a> {
    db: &'a Db,
    warehouse_id: i64,
    expires_at: Option<OffsetDateTime>,
}

impl<'a> Planner<'a> {
    /// Brings one holder's reservations and orders in line with `want`: too little held or
    /// coming, reserve from stock and order the rest; too much, release reservations (freshest
    /// first), then shrink orders not yet started, and flag started ones for a decision.
    fn reconcile<'t>(
        &'t self,
        tx: &'t mut Tx,
        holder: Holder,
        item_id: i64,
        want: i64,
        min_remaining: Option<i64>,
        depth: usize,
    ) -> Boxed<'t, LineOutcome> {
        Box::pin(async move {
            if depth > MAX_DEPTH {
                return Err(Error::conflict(
                    "bom",
                    format!("bills of materials nest deeper than {MAX_DEPTH} levels"),
                ));
            }
            let held = reservations::held(tx, holder).await?;
            let demands = supply::of_holder(tx, holder).await?;
            let reserved: i64 = held.iter().map(|r| r.quantity).sum();
            let pending: i64 = demands.iter().map(|d| d.pending()).sum();
            let mut message = None;
            if reserved + pending < want {
                let missing = want - reserved - pending;
                let got = self
                    .reserve_from_stock(tx, holder, item_id, missing, min_remaining)
                    .await?;
                if got == missing {
                    // Nothing else changed (the deal is locked): the outcome needs no second
                    // read, so a hot balance's row lock is held for fewer round trips.
                    return Ok(outcome_of(
                        holder,
                        item_id,
                        want,
                        reserved + got,
                        &demands,
                        None,
                    ));
                }
                message = self
                    .raise(tx, holder, item_id, missing - got, depth)
                    .await?;
            } else {
                release_excess(tx, &held, (reserved - want).max(0)).await?;
                let excess = pending - (want - reserved.min(want));
                if let Some(m) = self
                    .reduce_orders(tx, holder, &demands, excess, depth)
                    .await?
                {
                    message = Some(m);
                }
            }
            outcome(tx, holder, item_id, want, message).await
        })
    }

    /// Holds up to `quantity` from stock by the FEFO plan, in the run's transaction. Returns
    /// how much it held.
    async fn reserve_from_stock(
        &self,
        tx: &mut Tx,
        holder: Holder,
        item_id: i64,
        quantity: i64,
        min_remaining: Option<i64>,
    ) -> Result<i64> {
        let today = now().date();
        let mut got = 0;
        // The plan reads in this transaction, so it is what the holds find; a hold can still
        // miss on PostgreSQL when another transaction took the balance meanwhile: plan again.
        for _round in 0..4 {
            let left = quantity - got;
            if left <= 0 {
                break;
            }
            let plan =
                ledger::plan(tx, item_id, self.warehouse_id, left, today, min_remaining).await?;
            if plan.planned == 0 {
                break;
            }
            let mut this_round = 0;
            for pick in &plan.picks {
                let key = BalanceKey {
                    item_id,
                    warehouse_id: self.warehouse_id,
                    location_id: pick.location_id,
                    batch_id: pick.batch_id,
                };
                this_round +=
                    reservations::hold(tx, holder, key, pick.quantity, self.expires_at).await?;
            }
            got += this_round;
            if this_round == plan.planned {
                break;
            }
        }
        Ok(got)
    }

    /// Orders the shortfall: a production order for a manufactured item (the holder's planned
    /// order grows when it has one), a purchase order line for a purchased one. Returns a
    /// message when nothing could be ordered.
    async fn raise(
        &self,
        tx: &mut Tx,
        holder: Holder,
        item_id: i64,
        quantity: i64,
        depth: usize,
    ) -> Result<Option<String>> {
        let item = items::get(self.db, item_id).await?;
        match item.source {
            Source::Manufactured => {
                let planned = supply::of_holder(tx, holder).await?.into_iter().find(|d| {
                    d.status == supply::OrderStatus::Planned && d.production_order_id.is_some()
                });
                let grown = match planned.and_then(|d| d.production_order_id) {
                    Some(order) => production::grow(tx, order, holder, item_id, quantity)
                        .await?
                        .then_some(order),
                    None => None,
                };
                let order = match grown {
                    Some(order) => order,
                    None => {
                        production::create(
                            tx,
                            self.db,
                            item_id,
                            self.warehouse_id,
                            quantity,
                            Some(holder),
                        )
                        .await?
                    }
                };
                self.reconcile_components(tx, order, depth + 1).await?;
                Ok(None)
            }
            Source::Purchased => match item.supplier_id {
                Some(supplier) => {
                    purchasing::order_for(
                        tx,
                        self.db,
                        holder,
                        item_id,
                        supplier,
                        self.warehouse_id,
                        quantity,
                    )
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

    /// Takes `excess` off what the holder's orders still bring, latest order first: an order
    /// not yet started shrinks (and so do its components' reservations and orders); a started
    /// one is flagged for a decision. Returns a message when one was flagged.
    async fn reduce_orders(
        &self,
        tx: &mut Tx,
        holder: Holder,
        demands: &[Demand],
        mut excess: i64,
        depth: usize,
    ) -> Result<Option<String>> {
        let mut message = None;
        for d in demands.iter().rev().filter(|d| d.pending() > 0) {
            if excess <= 0 {
                break;
            }
            let by = excess.min(d.pending());
            if d.is_unstarted() && shrink_order(tx, d, by).await? {
                if let Some(order) = d.production_order_id {
                    self.reconcile_components(tx, order, depth + 1).await?;
                }
            } else {
                let note = format!(
                    "{} no longer needs {by} of it: decide what happens to the output",
                    describe(holder)
                );
                match d.source() {
                    SupplySource::Production => production::flag(tx, d.order_id(), &note).await?,
                    SupplySource::Purchase => purchasing::flag(tx, d.order_id(), &note).await?,
                }
                message = Some(format!(
                    "{:?} order {} has started: it is flagged for a decision",
                    d.source(),
                    d.order_id()
                ));
            }
            excess -= by;
        }
        Ok(message)
    }

    /// Brings a production order's component reservations and orders in line with what is
    /// left to make (none once it is done or cancelled).
    fn reconcile_components<'t>(
        &'t self,
        tx: &'t mut Tx,
        order_id: i64,
        depth: usize,
    ) -> Boxed<'t, ()> {
        Box::pin(async move {
            for (component, need, _) in production::component_needs(tx, order_id).await? {
                let holder = Holder::Component {
                    order_id,
                    item_id: component,
                };
                self.reconcile(tx, holder, component, need, None, depth)
                    .await?;
            }
            Ok(())
        })
    }
}

/// Releases `amount` of a holder's reservations, freshest stock first (`held` comes latest
/// expiry first: the customer keeps the earliest).
async fn release_excess(
    tx: &mut Tx,
    held: &[reservations::Reservation],
    amount: i64,
) -> Result<()> {
    let mut left = amount;
    for r in held {
        if left == 0 {
            break;
        }
        let take = left.min(r.quantity);
        reservations::release(tx, r.id, take).await?;
        left -= take;
    }
    Ok(())
}

/// Shrinks a demand and its order together, when the order has not started: false (nothing
/// changed) when it has.
async fn shrink_order(tx: &mut Tx, demand: &Demand, by: i64) -> Result<bool> {
    let order_shrunk = match (demand.production_order_id, demand.purchase_order_line_id) {
        (Some(order), _) => production::shrink(tx, order, by).await?,
        (None, Some(line)) => purchasing::shrink_line(tx, line, by).await?,
        (None, None) => false,
    };
    if !order_shrunk {
        return Ok(false);
    }
    if !supply::shrink(tx, demand.id, by).await? {
        // Its output was allocated meanwhile: the whole run starts again.
        return Err(Error::conflict(
            "quantity",
            format!(
                "an order of {} changed while it was reduced: try again",
                demand.order_id()
            ),
        ));
    }
    Ok(true)
}

fn describe(holder: Holder) -> String {
    match holder {
        Holder::DealLine { deal_id, line_id } => format!("deal {deal_id} (line {line_id})"),
        Holder::Component { order_id, .. } => format!("production order {order_id}"),
    }
}

/// What the run leaves the holder with.
async fn outcome(
    tx: &mut Tx,
    holder: Holder,
    item_id: i64,
    want: i64,
    message: Option<String>,
) -> Result<LineOutcome> {
    let reserved: i64 = reservations::held(tx, holder)
        .await?
        .iter()
        .map(|r| r.quantity)
        .sum();
    let demands = supply::of_holder(tx, holder).await?;
    Ok(outcome_of(
        holder, item_id, want, reserved, &demands, message,
    ))
}

/// A holder's outcome from what it holds (`reserved`) and its orders: the latest active order
/// of each kind, and the latest date any of them expects.
pub fn outcome_of(
    holder: Holder,
    item_id: i64,
    want: i64,
    reserved: i64,
    demands: &[Demand],
    message: Option<String>,
) -> LineOutcome {
    let active: Vec<&Demand> = demands.iter().filter(|d| d.pending() > 0).collect();
    let line_id = match holder {
        Holder::DealLine { line_id, .. } => line_id,
        Holder::Component { order_id, .. } => order_id,
    };
    LineOutcome {
        line_id,
        item_id,
        requested: want,
        reserved,
        shortfall: (want - reserved).max(0),
        production_order_id: active.iter().rev().find_map(|d| d.production_order_id),
        purchase_order_id: active.iter().rev().find_map(|d| d.purchase_order_id),
        expected_date: active.iter().filter_map(|d| d.expected_date).max(),
        message,
    }
}

/// A production order's component reservations and orders brought in line with what is left
/// to make, in the caller's transaction (its warehouse's stock).
pub async fn reconcile_components(tx: &mut Tx, db: &Db, order_id: i64) -> Result<()> {
    let warehouse_id = match production::component_needs(tx, order_id).await?.first() {
        Some(&(_, _, warehouse)) => warehouse,
        None => return Ok(()),
    };
    let planner = Planner {
        db,
        warehouse_id,
        expires_at: None,
    };
    planner.reconcile_components(tx, order_id, 1).await
}

/// A production order planned by hand (make to stock), its components reserved, made or bought:
/// one transaction. Returns the order.
pub async fn plan_production(
    db: &Db,
    item_id: i64,
    warehouse_id: i64,
    quantity: i64,
) -> Result<production::ProductionOrder> {
    match crate::catalog::warehouses::get(db, warehouse_id).await {
        Ok(_) => {}
        Err(Error::NotFound { .. }) => {
            return Err(Error::invalid(
                "warehouse_id",
                format!("no warehouse with id {warehouse_id}"),
            ));
        }
        Err(e) => return Err(e),
    }
    let mut tx = db.begin().await?;
    let id = production::create(&mut tx, db, item_id, warehouse_id, quantity, None).await?;
    reconcile_components(&mut tx, db, id).await?;
    let order = production::get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(order)
}

/// Releases, starts or cancels a production order; its components follow (a cancelled order's
/// reservations go back and the orders raised for them shrink): one transaction.
pub async fn set_production_status(
    db: &Db,
    id: i64,
    change: &production::StatusChange,
) -> Result<production::ProductionOrder> {
    let mut tx = db.begin().await?;
    production::set_status(&mut tx, id, change).await?;
    reconcile_components(&mut tx, db, id).await?;
    let order = production::get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(order)
}

/// Completes (part of) a production order: components consumed, output received and reserved
/// for the deals waiting for it, a finished order's leftover component reservations released:
/// one transaction.
pub async fn complete_production(
    db: &Db,
    id: i64,
    completion: &Completion,
    actor: Actor,
) -> Result<Completed> {
    let mut tx = db.begin().await?;
    let output = production::complete(&mut tx, db, id, completion, actor).await?;
    reconcile_components(&mut tx, db, id).await?;
    let order = production::get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Completed {
        order,
        movements: output.movements,
        allocated: output.allocated,
    })
}

/// Sends or cancels a purchase order: one transaction.
pub async fn set_purchase_status(
    db: &Db,
    id: i64,
    change: &purchasing::StatusChange,
) -> Result<purchasing::PurchaseOrder> {
    let mut tx = db.begin().await?;
    purchasing::set_status(&mut tx, id, change).await?;
    let order = purchasing::get(&mut tx, id).await?;
    tx.commit().await?;
    Ok(order)
}

/// Receives goods of a purchase order and reserves them for the deals waiting for them: one
/// transaction.
pub async fn receive_purchase(
    db: &Db,
    id: i64,
    receipt: PurchaseReceipt,
    actor: Actor,
) -> Result<Received> {
    let mut tx = db.begin().await?;
    let received =
        purchasing::receive(&mut tx, db, id, receipt, actor.user_id, actor.device_id).await?;
    tx.commit().await?;
    Ok(received)
}

/// Releases reservations whose hold has run out (quotes), each in a transaction of its own so
/// one that was released meanwhile does not stop the others. Returns how many.
pub async fn release_expired(db: &Db) -> Result<usize> {
    let due = reservations::expired(db, now()).await?;
    for (id, quantity) in &due {
        let mut tx = db.begin().await?;
        match reservations::release(&mut tx, *id, *quantity).await {
            Ok(()) => tx.commit().await?,
            // Released meanwhile by someone else: nothing to do.
            Err(Error::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(due.len())
}

/// A shipment's status change after dispatch, from the API or its carrier, in one transaction
/// with what follows from it: a failed delivery that the warehouse takes back is booked as a return of
/// its deals; once everything of a won deal is delivered, the deal moves on to its next stage (each
/// deal of a shipment that carries several).
pub async fn set_shipment_status(
    db: &Db,
    id: i64,
    change: ShipmentChange,
    actor: Actor,
) -> Result<()> {
    let mut tx = db.begin().await?;
    let deal_ids = if change.to == shipping::Status::Returned && change.book_return {
        shipping::return_whole_in(&mut tx, db, id, change.location_id, change.note, actor).await?
    } else {
        shipping::set_status_in(
            &mut tx,
            id,
            change.to,
            change.source,
            change.note.as_deref(),
        )
        .await?
    };
    if change.to == shipping::Status::Delivered {
        // Every deal the shipment carries moves on once all of it is delivered.
        for deal_id in deal_ids {
            advance_when_delivered(&mut tx, deal_id).await?;
        }
    }
    tx.commit().await
}

/// A status change reported for a shipment.
pub struct ShipmentChange {
    pub to: shipping::Status,
    /// `api` or `carrier`: kept in the shipment's history.
    pub source: &'static str,
    pub note: Option<String>,
    /// Whether goods that come back are booked into stock now (by the warehouse, which has
    /// them in hand) rather than only reported on their way (by the carrier).
    pub book_return: bool,
    /// Where goods that come back are put away (a return's location).
    pub location_id: Option<i64>,
}

/// After a delivery, in the caller's transaction: once every line of a won deal is delivered in
/// full, the deal moves on to its next active stage (once). Answers the new stage, if it moved.
pub async fn advance_when_delivered(tx: &mut Tx, deal_id: i64) -> Result<Option<String>> {
    let deal = deals::terms(tx, deal_id).await?;
    let lines = deals::line_needs(tx, deal_id).await?;
    if deal.status != DealStatus::Won || lines.is_empty() {
        return Ok(None);
    }
    let delivered = super::delivered_by_line(tx, deal_id, &lines).await?;
    if lines
        .iter()
        .any(|l| delivered.get(&l.id).copied().unwrap_or(0) < l.quantity)
    {
        return Ok(None);
    }
    deals::advance_stage(tx, deal_id, &deal.stage).await
}
