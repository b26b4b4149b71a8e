//! FEFO: the one rule that decides which stock may be handed out, and in what order.
//!
//! Pure functions, no I/O. Reservation, picking and the dry run all call [`plan`] (through
//! `ledger::plan`), so the rule lives here only.
//!
//! Eligibility ([`eligible`]):
//! - never an expired batch: see [`is_expired`]; the expiry day itself counts as expired;
//! - never a batch whose status is not `available` (quarantine, expired, recalled);
//! - never less remaining shelf life than required: `expiry - today` in whole days must be at
//!   least `min_remaining_days` (stock without an expiry date always qualifies).
//!
//! Order ([`order`]): earliest expiry first, stock without expiry after all dated stock; then the
//! earlier receipt (FIFO; unknown receipt last); then the location's pick-route order
//! (`pick_sequence`); then location code, location id and batch id, so the plan is deterministic.

use std::cmp::Ordering;

use serde::Serialize;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::stock::batches::BatchStatus;

/// Stock of one batch (or unbatched stock) in one location that could be handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Candidate {
    /// `None` for stock of an item that is not batch-tracked.
    pub batch_id: Option<i64>,
    pub batch_code: Option<String>,
    pub expiry: Option<Date>,
    /// When the batch was received; breaks ties between equal expiries (FIFO).
    #[serde(with = "time::serde::rfc3339::option")]
    pub received_at: Option<OffsetDateTime>,
    pub location_id: i64,
    pub location_code: String,
    /// Position of the location on the pick route (lower first).
    pub pick_sequence: i64,
    /// On hand minus reserved, in base units.
    pub available: i64,
    /// `Available` for unbatched stock.
    pub batch_status: BatchStatus,
}

/// One line of a plan: take `quantity` of `batch` from `location`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Pick {
    pub batch_id: Option<i64>,
    /// Batch code.
    pub batch: Option<String>,
    pub location_id: i64,
    /// Location code.
    pub location: String,
    pub quantity: i64,
    pub expiry: Option<Date>,
}

/// The ordered picks for a quantity; `planned + short` is the quantity asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Plan {
    pub picks: Vec<Pick>,
    pub planned: i64,
    /// What eligible stock could not cover.
    pub short: i64,
}

/// Whether stock with this expiry date is expired on `today`. The expiry day itself counts as
/// expired (`today >= expiry`): goods are handed out only before the day printed on them. Stock
/// without an expiry date never expires. This is the one definition used everywhere.
pub fn is_expired(expiry: Option<Date>, today: Date) -> bool {
    matches!(expiry, Some(e) if today >= e)
}

/// Why stock cannot be handed out whatever its quantity, if it cannot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Past its expiry day, or its batch marked expired.
    Expired,
    /// Its batch is in quarantine or recalled.
    Quarantined,
}

/// Whether stock of a batch with this status and expiry is held back on `today` (`None` when it
/// may be handed out). Unbatched stock has status `available` and no expiry.
pub fn hold(status: BatchStatus, expiry: Option<Date>, today: Date) -> Option<Hold> {
    match status {
        BatchStatus::Quarantine | BatchStatus::Recalled => Some(Hold::Quarantined),
        BatchStatus::Expired => Some(Hold::Expired),
        BatchStatus::Available if is_expired(expiry, today) => Some(Hold::Expired),
        BatchStatus::Available => None,
    }
}

/// The one meaning of "available" every read uses: on hand less reserved, of stock that is not
/// expired, quarantined or recalled (zero otherwise).
pub fn available(
    on_hand: i64,
    reserved: i64,
    status: BatchStatus,
    expiry: Option<Date>,
    today: Date,
) -> i64 {
    match hold(status, expiry, today) {
        Some(_) => 0,
        None => (on_hand - reserved).max(0),
    }
}

/// Whole days of shelf life left on `today` (`None` without an expiry date).
pub fn remaining_days(expiry: Option<Date>, today: Date) -> Option<i64> {
    expiry.map(|e| (e - today).whole_days())
}

/// Whether a candidate may be handed out at all: not expired, status `available`, and at least
/// `min_remaining_days` of shelf life left. Says nothing about quantity.
pub fn eligible(c: &Candidate, today: Date, min_remaining_days: Option<i64>) -> bool {
    if hold(c.batch_status, c.expiry, today).is_some() {
        return false;
    }
    match (min_remaining_days, remaining_days(c.expiry, today)) {
        (Some(min), Some(left)) => left >= min,
        _ => true,
    }
}

/// Whether stock of a batch with this status and expiry may be handed out instead of the
/// planned batch (expiring `planned`): it may be handed out at all (not expired, quarantined or
/// recalled; at least `min_remaining_days` of shelf life left) and it expires no later than the
/// planned one, so taking it is as good or better by FEFO. Stock without an expiry date never
/// replaces dated stock.
pub fn replaces(
    status: BatchStatus,
    expiry: Option<Date>,
    planned: Option<Date>,
    today: Date,
    min_remaining_days: Option<i64>,
) -> bool {
    if hold(status, expiry, today).is_some() {
        return false;
    }
    let enough = match (min_remaining_days, remaining_days(expiry, today)) {
        (Some(min), Some(left)) => left >= min,
        _ => true,
    };
    let no_later = match (expiry, planned) {
        (Some(e), Some(p)) => e <= p,
        (None, Some(_)) => false,
        _ => true,
    };
    enough && no_later
}

/// The hand-out order of two candidates (see the module documentation).
pub fn order(a: &Candidate, b: &Candidate) -> Ordering {
    // `None` last: compare (is_none, value).
    (a.expiry.is_none(), a.expiry)
        .cmp(&(b.expiry.is_none(), b.expiry))
        .then_with(|| {
            (a.received_at.is_none(), a.received_at).cmp(&(b.received_at.is_none(), b.received_at))
        })
        .then_with(|| a.pick_sequence.cmp(&b.pick_sequence))
        .then_with(|| a.location_code.cmp(&b.location_code))
        .then_with(|| a.location_id.cmp(&b.location_id))
        .then_with(|| a.batch_id.cmp(&b.batch_id))
}

/// Plans `quantity` base units from `candidates`: drops ineligible ones and those with nothing
/// available, orders the rest by [`order`], and takes greedily. A quantity of zero or less plans
/// nothing. What eligible stock cannot cover is reported as `short`.
pub fn plan(
    candidates: &[Candidate],
    quantity: i64,
    today: Date,
    min_remaining_days: Option<i64>,
) -> Plan {
    let wanted = quantity.max(0);
    let mut usable: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| c.available > 0 && eligible(c, today, min_remaining_days))
        .collect();
    usable.sort_unstable_by(|a, b| order(a, b));
    let mut picks = Vec::new();
    let mut left = wanted;
    for c in usable {
        if left == 0 {
            break;
        }
        let take = left.min(c.available);
        picks.push(Pick {
            batch_id: c.batch_id,
            batch: c.batch_code.clone(),
            location_id: c.location_id,
            location: c.location_code.clone(),
            quantity: take,
            expiry: c.expiry,
        });
        left -= take;
    }
    Plan {
        picks,
        planned: wanted - left,
        short: left,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    const TODAY: Date = date!(2026 - 06 - 15);

    fn cand(
        batch: i64,
        expiry: Option<Date>,
        location: i64,
        seq: i64,
        available: i64,
    ) -> Candidate {
        Candidate {
            batch_id: Some(batch),
            batch_code: Some(format!("B{batch}")),
            expiry,
            received_at: Some(datetime!(2026-01-01 0:00 UTC)),
            location_id: location,
            location_code: format!("L{location}"),
            pick_sequence: seq,
            available,
            batch_status: BatchStatus::Available,
        }
    }

    #[test]
    fn a_batch_replaces_the_planned_one_only_when_as_good_by_fefo() {
        let planned = Some(date!(2026 - 07 - 20));
        let ok = BatchStatus::Available;
        assert!(replaces(
            ok,
            Some(date!(2026 - 07 - 10)),
            planned,
            TODAY,
            None
        ));
        assert!(replaces(ok, planned, planned, TODAY, None));
        assert!(!replaces(
            ok,
            Some(date!(2026 - 07 - 21)),
            planned,
            TODAY,
            None
        ));
        assert!(!replaces(ok, Some(TODAY), planned, TODAY, None), "expired");
        assert!(!replaces(
            BatchStatus::Quarantine,
            Some(date!(2026 - 07 - 10)),
            planned,
            TODAY,
            None
        ));
        assert!(
            !replaces(ok, Some(date!(2026 - 06 - 20)), planned, TODAY, Some(7)),
            "shelf life"
        );
        assert!(
            !replaces(ok, None, planned, TODAY, None),
            "undated for dated"
        );
        assert!(replaces(ok, None, None, TODAY, None));
    }

    #[test]
    fn expiry_day_itself_is_expired() {
        assert!(is_expired(Some(TODAY), TODAY));
        assert!(is_expired(Some(date!(2026 - 06 - 14)), TODAY));
        assert!(!is_expired(Some(date!(2026 - 06 - 16)), TODAY));
        assert!(!is_expired(None, TODAY));
    }

    #[test]
    fn earliest_expiry_first_undated_last() {
        let c = vec![
            cand(1, None, 1, 1, 10),
            cand(2, Some(date!(2026 - 09 - 01)), 2, 9, 10),
            cand(3, Some(date!(2026 - 07 - 01)), 3, 5, 10),
        ];
        let p = plan(&c, 25, TODAY, None);
        let order: Vec<_> = p.picks.iter().map(|p| p.batch_id.unwrap()).collect();
        assert_eq!(order, vec![3, 2, 1]);
        assert_eq!(p.picks[2].quantity, 5);
        assert_eq!((p.planned, p.short), (25, 0));
    }

    #[test]
    fn excludes_expired_quarantined_and_short_shelf_life() {
        let mut quarantined = cand(4, Some(date!(2026 - 06 - 20)), 1, 1, 10);
        quarantined.batch_status = BatchStatus::Quarantine;
        let c = vec![
            cand(1, Some(TODAY), 1, 1, 10), // expires today: expired
            cand(2, Some(date!(2026 - 06 - 25)), 1, 1, 10), // 10 days left
            cand(3, Some(date!(2026 - 08 - 01)), 1, 1, 10), // 47 days left
            quarantined,
        ];
        let p = plan(&c, 100, TODAY, Some(30));
        assert_eq!(p.picks.len(), 1);
        assert_eq!(p.picks[0].batch_id, Some(3));
        assert_eq!((p.planned, p.short), (10, 90));
        let p = plan(&c, 100, TODAY, Some(10));
        assert_eq!(p.picks.len(), 2, "exactly 10 days left is enough for 10");
    }

    #[test]
    fn receipt_then_pick_route_break_ties() {
        let e = Some(date!(2026 - 12 - 01));
        let mut late = cand(1, e, 1, 1, 5);
        late.received_at = Some(datetime!(2026-03-01 0:00 UTC));
        let early = cand(2, e, 2, 50, 5);
        let same_far = cand(3, e, 3, 40, 5);
        let p = plan(&[late, early, same_far], 15, TODAY, None);
        let order: Vec<_> = p.picks.iter().map(|p| p.batch_id.unwrap()).collect();
        assert_eq!(order, vec![3, 2, 1]);
    }

    #[test]
    fn zero_or_negative_quantity_plans_nothing() {
        let c = vec![cand(1, None, 1, 1, 10)];
        assert_eq!(plan(&c, 0, TODAY, None), Plan::default());
        assert_eq!(plan(&c, -5, TODAY, None), Plan::default());
    }

    fn arb_candidate() -> impl Strategy<Value = Candidate> {
        (
            1i64..50,
            proptest::option::of(-10i64..60),
            0i64..5,
            1i64..20,
            -3i64..30,
            0usize..4,
            0i64..100,
        )
            .prop_map(|(batch, exp, loc, seq, available, status, recv_day)| {
                let status = [
                    BatchStatus::Available,
                    BatchStatus::Quarantine,
                    BatchStatus::Expired,
                    BatchStatus::Recalled,
                ][status];
                Candidate {
                    batch_id: Some(batch),
                    batch_code: Some(format!("B{batch}")),
                    expiry: exp.map(|d| TODAY + time::Duration::days(d)),
                    received_at: Some(
                        datetime!(2026-01-01 0:00 UTC) + time::Duration::days(recv_day),
                    ),
                    location_id: loc,
                    location_code: format!("L{loc}"),
                    pick_sequence: seq,
                    available,
                    batch_status: status,
                }
            })
    }

    proptest! {
        #[test]
        fn plan_properties(
            cands in proptest::collection::vec(arb_candidate(), 0..40),
            quantity in 0i64..400,
            min in proptest::option::of(0i64..40),
        ) {
            let p = plan(&cands, quantity, TODAY, min);
            let eligible_total: i64 = cands
                .iter()
                .filter(|c| c.available > 0 && eligible(c, TODAY, min))
                .map(|c| c.available)
                .sum();
            prop_assert_eq!(p.planned, quantity.min(eligible_total));
            prop_assert_eq!(p.planned + p.short, quantity);
            prop_assert_eq!(p.picks.iter().map(|k| k.quantity).sum::<i64>(), p.planned);
            for k in &p.picks {
                prop_assert!(k.quantity > 0);
                prop_assert!(!is_expired(k.expiry, TODAY));
                // The pick comes from an eligible candidate and takes no more than it holds.
                let source = cands.iter().find(|c| {
                    c.batch_id == k.batch_id && c.location_id == k.location_id
                        && c.expiry == k.expiry && c.available >= k.quantity
                        && eligible(c, TODAY, min)
                });
                prop_assert!(source.is_some(), "pick {:?} has no eligible source", k);
                if let (Some(m), Some(left)) = (min, remaining_days(k.expiry, TODAY)) {
                    prop_assert!(left >= m);
                }
            }
            // Picks are in FEFO order: expiry never decreases, undated last.
            for w in p.picks.windows(2) {
                let key = |k: &Pick| (k.expiry.is_none(), k.expiry);
                prop_assert!(key(&w[0]) <= key(&w[1]));
            }
            // Every pick but the last takes its candidate whole (greedy).
            let usable: Vec<&Candidate> = {
                let mut u: Vec<&Candidate> = cands
                    .iter()
                    .filter(|c| c.available > 0 && eligible(c, TODAY, min))
                    .collect();
                u.sort_by(|a, b| order(a, b));
                u
            };
            for (k, c) in p.picks.iter().zip(usable.iter()).rev().skip(1) {
                prop_assert_eq!(k.quantity, c.available);
            }
        }
    }
}
