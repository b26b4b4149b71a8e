//! The stock ledger, batches and FEFO against a real database: every test runs on SQLite (a temp
//! file) and on PostgreSQL (a fresh database, dropped afterwards).

use std::sync::Arc;

use depot::auth::Role;
use depot::catalog::{items, warehouses};
use depot::crm::visibility::Viewer;
use depot::db::{Db, Page};
use depot::error::Error;
use depot::shipping::returns::{self, Condition, NewReturn, ReturnLine};
use depot::stock::batches::{self, BatchFilter, BatchStatus, NewBatch};
use depot::stock::counts::{self, NewCount};
use depot::stock::ledger::{self, BalanceFilter, LedgerFilter, MovementType, NewMovement};
use depot::stock::operations::Actor;
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;
use time::Date;
use time::macros::date;

const TODAY: Date = date!(2026 - 06 - 15);

#[path = "common/scratch_db.rs"]
mod scratch_db;

use scratch_db::ScratchDb;

/// A migrated scratch database; `db` is closed before the database is dropped.
struct Env {
    db: Db,
    _scratch: ScratchDb,
}

impl Env {
    async fn open(scratch: ScratchDb) -> Env {
        let db = Db::connect(&scratch.url).await.expect("open test database");
        db.migrate().await.expect("migrate test database");
        Env {
            db,
            _scratch: scratch,
        }
    }

    async fn sqlite() -> Env {
        Env::open(ScratchDb::sqlite()).await
    }

    async fn postgres() -> Env {
        Env::open(ScratchDb::postgres().await).await
    }
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let env = super::Env::sqlite().await;
                    super::$name(&env.db).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let env = super::Env::postgres().await;
                    super::$name(&env.db).await
                }
            }
        )*
    };
}

on_both!(
    receipt_then_balance,
    move_is_two_movements,
    overdraw_conflicts_and_changes_nothing,
    batch_rules,
    batches_find_or_create_and_list,
    fefo_plan_orders_and_excludes,
    plan_matches_pure_rule_over_many_batches,
    reversal_corrects,
    concurrent_takes_never_overdraw,
    random_sequences_stay_consistent,
);

/// A warehouse with `n` locations (pick sequence 10, 20, ...) and a user.
struct Site {
    user: i64,
    warehouse: i64,
    locations: Vec<i64>,
}

async fn site(db: &Db, code: &str, n: usize) -> Site {
    let user = depot::auth::users::create(
        db,
        serde_json::from_value(json!({
            "username": format!("stock-{}", code.to_lowercase()),
            "password": "stock-password-1",
            "role": "warehouse"
        }))
        .unwrap(),
    )
    .await
    .unwrap()
    .id;
    let warehouse = warehouses::create(
        db,
        serde_json::from_value(json!({"code": code, "name": format!("Warehouse {code}")})).unwrap(),
    )
    .await
    .unwrap()
    .id;
    let mut locations = Vec::new();
    for i in 0..n {
        let loc = warehouses::create_location(
            db,
            warehouse,
            serde_json::from_value(
                json!({"code": format!("L{i:02}"), "pick_sequence": (i as i64 + 1) * 10}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
        locations.push(loc.id);
    }
    Site {
        user,
        warehouse,
        locations,
    }
}

async fn item(db: &Db, code: &str, batch: bool, shelf_life: Option<i64>) -> i64 {
    items::create(
        db,
        serde_json::from_value(json!({
            "code": code,
            "name": code,
            "tracking": if batch { "batch" } else { "none" },
            "shelf_life_days": shelf_life,
        }))
        .unwrap(),
    )
    .await
    .unwrap()
    .id
}

fn mv(
    site: &Site,
    item_id: i64,
    batch_id: Option<i64>,
    location_id: i64,
    quantity: i64,
    kind: MovementType,
) -> NewMovement {
    NewMovement {
        item_id,
        batch_id,
        warehouse_id: site.warehouse,
        location_id,
        quantity,
        kind,
        user_id: Some(site.user),
        device_id: None,
        document_type: None,
        document_id: None,
        deal_id: None,
        note: None,
        reservation_id: None,
    }
}

async fn on_hand(db: &Db, item_id: i64, location_id: i64, batch_id: Option<i64>) -> i64 {
    ledger::balances(
        db,
        &BalanceFilter {
            item_id: Some(item_id),
            location_id: Some(location_id),
            include_empty: true,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .into_iter()
    .filter(|b| b.batch_id == batch_id)
    .map(|b| b.on_hand)
    .sum()
}

fn field_of(e: &Error) -> Vec<String> {
    match e {
        Error::Validation(v) => v.iter().map(|f| f.field.clone()).collect(),
        Error::Conflict { field, .. } => field.iter().cloned().collect(),
        _ => Vec::new(),
    }
}

async fn assert_consistent(db: &Db) {
    let mismatches = ledger::consistency(db).await.unwrap();
    assert!(
        mismatches.is_empty(),
        "ledger and balances disagree: {mismatches:?}"
    );
}

async fn receipt_then_balance(db: &Db) {
    let s = site(db, "W1", 2).await;
    let it = item(db, "SCREW", false, None).await;
    let mut m = mv(&s, it, None, s.locations[0], 40, MovementType::Receipt);
    m.document_type = Some("purchase_order".into());
    m.document_id = Some(7);
    let posted = ledger::post(db, vec![m]).await.unwrap();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].quantity, 40);
    assert_eq!(posted[0].kind, MovementType::Receipt);
    ledger::post(
        db,
        vec![mv(&s, it, None, s.locations[0], 2, MovementType::Receipt)],
    )
    .await
    .unwrap();
    let b = ledger::balances(
        db,
        &BalanceFilter {
            item_id: Some(it),
            warehouse_id: Some(s.warehouse),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!((b[0].on_hand, b[0].reserved, b[0].available), (42, 0, 42));
    assert_eq!(b[0].location_code, "L00");
    let page = ledger::ledger(
        db,
        &LedgerFilter {
            item_id: Some(it),
            document_type: Some("purchase_order".into()),
            ..Default::default()
        },
        Page::first(10),
    )
    .await
    .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].document_id, Some(7));
    // A receipt of a negative quantity or of zero is refused.
    let e = ledger::post(
        db,
        vec![mv(&s, it, None, s.locations[0], -1, MovementType::Receipt)],
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Validation(_)), "{e:?}");
    let e = ledger::post(
        db,
        vec![mv(
            &s,
            it,
            None,
            s.locations[0],
            0,
            MovementType::Adjustment,
        )],
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&e), vec!["quantity"]);
    assert_consistent(db).await;
}

async fn move_is_two_movements(db: &Db) {
    let s = site(db, "W2", 2).await;
    let it = item(db, "BOLT", false, None).await;
    let (a, b) = (s.locations[0], s.locations[1]);
    ledger::post(db, vec![mv(&s, it, None, a, 10, MovementType::Receipt)])
        .await
        .unwrap();
    let moved = ledger::post(
        db,
        vec![
            mv(&s, it, None, a, -4, MovementType::Move),
            mv(&s, it, None, b, 4, MovementType::Move),
        ],
    )
    .await
    .unwrap();
    assert_eq!(moved.len(), 2);
    assert_eq!(on_hand(db, it, a, None).await, 6);
    assert_eq!(on_hand(db, it, b, None).await, 4);
    // A move that does not net to zero is refused.
    let e = ledger::post(
        db,
        vec![
            mv(&s, it, None, a, -4, MovementType::Move),
            mv(&s, it, None, b, 3, MovementType::Move),
        ],
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Validation(_)), "{e:?}");
    // A location of another warehouse is refused.
    let other = site(db, "W2X", 1).await;
    let e = ledger::post(
        db,
        vec![mv(
            &s,
            it,
            None,
            other.locations[0],
            1,
            MovementType::Receipt,
        )],
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&e), vec!["location_id"]);
    assert_consistent(db).await;
}

async fn overdraw_conflicts_and_changes_nothing(db: &Db) {
    let s = site(db, "W3", 2).await;
    let it = item(db, "NUT", false, None).await;
    let (a, b) = (s.locations[0], s.locations[1]);
    ledger::post(db, vec![mv(&s, it, None, a, 5, MovementType::Receipt)])
        .await
        .unwrap();
    let before = ledger::ledger(db, &LedgerFilter::default(), Page::first(100))
        .await
        .unwrap()
        .items
        .len();
    // The destination is credited first, the source then fails: all of it rolls back.
    let e = ledger::post(
        db,
        vec![
            mv(&s, it, None, b, 6, MovementType::Move),
            mv(&s, it, None, a, -6, MovementType::Move),
        ],
    )
    .await
    .unwrap_err();
    match &e {
        Error::Conflict { field, detail } => {
            assert_eq!(field.as_deref(), Some("quantity"));
            assert!(detail.contains("only 5 available"), "{detail}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Taking from a place that never had any.
    let e = ledger::post(db, vec![mv(&s, it, None, b, -1, MovementType::Adjustment)])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
    assert_eq!(on_hand(db, it, a, None).await, 5);
    assert_eq!(on_hand(db, it, b, None).await, 0);
    let after = ledger::ledger(db, &LedgerFilter::default(), Page::first(100))
        .await
        .unwrap()
        .items
        .len();
    assert_eq!(before, after, "a refused post leaves no ledger rows");
    // Exactly all of it may go.
    ledger::post(db, vec![mv(&s, it, None, a, -5, MovementType::Ship)])
        .await
        .unwrap();
    assert_eq!(on_hand(db, it, a, None).await, 0);
    assert_consistent(db).await;
}

async fn batch_rules(db: &Db) {
    let s = site(db, "W4", 1).await;
    let loc = s.locations[0];
    let milk = item(db, "MILK", true, Some(10)).await;
    let salt = item(db, "SALT", false, None).await;
    let e = ledger::post(db, vec![mv(&s, milk, None, loc, 5, MovementType::Receipt)])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Validation(_)), "{e:?}");
    assert_eq!(field_of(&e), vec!["batch_id"]);
    // Also when taking stock.
    let e = ledger::post(
        db,
        vec![mv(&s, milk, None, loc, -5, MovementType::Adjustment)],
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&e), vec!["batch_id"]);
    let cheese = item(db, "CHEESE", true, None).await;
    let other = batches::find_or_create(
        db,
        NewBatch {
            item_id: cheese,
            code: "L1".into(),
            expiry_date: None,
            production_date: None,
            received_at: None,
        },
    )
    .await
    .unwrap();
    let e = ledger::post(
        db,
        vec![mv(&s, milk, Some(other.id), loc, 5, MovementType::Receipt)],
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&e), vec!["batch_id"]);
    let e = ledger::post(
        db,
        vec![mv(&s, salt, Some(other.id), loc, 5, MovementType::Receipt)],
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&e), vec!["batch_id"]);
    let e = ledger::post(
        db,
        vec![mv(&s, 999_999, None, loc, 5, MovementType::Receipt)],
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&e), vec!["item_id"]);
    let mut nobody = mv(&s, salt, None, loc, 5, MovementType::Receipt);
    nobody.user_id = None;
    assert!(ledger::post(db, vec![nobody]).await.is_err());
    let mut ghost = mv(&s, salt, None, loc, 5, MovementType::Receipt);
    ghost.deal_id = Some(999_999);
    let e = ledger::post(db, vec![ghost]).await.unwrap_err();
    assert_eq!(field_of(&e), vec!["deal_id"]);
    assert_consistent(db).await;
}

async fn batches_find_or_create_and_list(db: &Db) {
    let milk = item(db, "MILK2", true, Some(10)).await;
    let yoghurt = item(db, "YOG", true, None).await;
    let received = time::macros::datetime!(2026-06-01 08:00 UTC);
    let b = batches::find_or_create(
        db,
        NewBatch {
            item_id: milk,
            code: "LOT-1".into(),
            expiry_date: None,
            production_date: None,
            received_at: Some(received),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        b.expiry_date,
        Some(date!(2026 - 06 - 11)),
        "received date + shelf life"
    );
    assert_eq!(b.status, BatchStatus::Available);
    // Same code again: the same batch; with another expiry: a conflict on expiry.
    let again = batches::find_or_create(
        db,
        NewBatch {
            item_id: milk,
            code: "LOT-1".into(),
            expiry_date: Some(date!(2026 - 06 - 11)),
            production_date: None,
            received_at: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(again.id, b.id);
    let e = batches::find_or_create(
        db,
        NewBatch {
            item_id: milk,
            code: "LOT-1".into(),
            expiry_date: Some(date!(2026 - 07 - 01)),
            production_date: None,
            received_at: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&e), vec!["expiry"]);
    // The same code for another item is another batch.
    let y = batches::find_or_create(
        db,
        NewBatch {
            item_id: yoghurt,
            code: "LOT-1".into(),
            expiry_date: Some(date!(2026 - 09 - 01)),
            production_date: Some(date!(2026 - 06 - 01)),
            received_at: None,
        },
    )
    .await
    .unwrap();
    assert_ne!(y.id, b.id);
    assert_eq!(batches::get(db, y.id).await.unwrap(), y);
    let soon = batches::list(
        db,
        &BatchFilter {
            expiring_within_days: Some(30),
            ..Default::default()
        },
        TODAY,
    )
    .await
    .unwrap();
    assert_eq!(soon.iter().map(|b| b.id).collect::<Vec<_>>(), vec![b.id]);
    batches::set_status(db, y.id, BatchStatus::Quarantine)
        .await
        .unwrap();
    let q = batches::list(
        db,
        &BatchFilter {
            status: Some(BatchStatus::Quarantine),
            ..Default::default()
        },
        TODAY,
    )
    .await
    .unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].id, y.id);
}

async fn fefo_plan_orders_and_excludes(db: &Db) {
    let s = site(db, "W5", 3).await;
    let it = item(db, "JUICE", true, None).await;
    let new_batch = |code: &str, expiry: Option<Date>, day: u8| NewBatch {
        item_id: it,
        code: code.into(),
        expiry_date: expiry,
        production_date: None,
        received_at: Some(
            time::PrimitiveDateTime::new(
                Date::from_calendar_date(2026, time::Month::May, day).unwrap(),
                time::Time::MIDNIGHT,
            )
            .assume_utc(),
        ),
    };
    let expired = batches::find_or_create(db, new_batch("EXP", Some(TODAY), 1))
        .await
        .unwrap();
    let soon = batches::find_or_create(db, new_batch("SOON", Some(date!(2026 - 06 - 20)), 2))
        .await
        .unwrap();
    let later_a = batches::find_or_create(db, new_batch("LATE-A", Some(date!(2026 - 08 - 01)), 5))
        .await
        .unwrap();
    let later_b = batches::find_or_create(db, new_batch("LATE-B", Some(date!(2026 - 08 - 01)), 3))
        .await
        .unwrap();
    let undated = batches::find_or_create(db, new_batch("NONE", None, 1))
        .await
        .unwrap();
    let quarantined =
        batches::find_or_create(db, new_batch("QUAR", Some(date!(2026 - 06 - 18)), 1))
            .await
            .unwrap();
    batches::set_status(db, quarantined.id, BatchStatus::Quarantine)
        .await
        .unwrap();
    let l = &s.locations;
    let receipts = vec![
        mv(&s, it, Some(expired.id), l[0], 10, MovementType::Receipt),
        mv(
            &s,
            it,
            Some(quarantined.id),
            l[0],
            10,
            MovementType::Receipt,
        ),
        mv(&s, it, Some(undated.id), l[0], 10, MovementType::Receipt),
        mv(&s, it, Some(later_a.id), l[0], 10, MovementType::Receipt),
        mv(&s, it, Some(later_b.id), l[2], 10, MovementType::Receipt),
        mv(&s, it, Some(soon.id), l[2], 4, MovementType::Receipt),
        mv(&s, it, Some(soon.id), l[1], 3, MovementType::Receipt),
    ];
    ledger::post(db, receipts).await.unwrap();
    let p = ledger::plan(
        &mut db.snapshot().await.unwrap(),
        it,
        s.warehouse,
        30,
        TODAY,
        None,
    )
    .await
    .unwrap();
    let order: Vec<(Option<i64>, i64, i64)> = p
        .picks
        .iter()
        .map(|k| (k.batch_id, k.location_id, k.quantity))
        .collect();
    assert_eq!(
        order,
        vec![
            (Some(soon.id), l[1], 3), // earliest expiry, pick route: L01 before L02
            (Some(soon.id), l[2], 4),
            (Some(later_b.id), l[2], 10), // same expiry, received earlier
            (Some(later_a.id), l[0], 10),
            (Some(undated.id), l[0], 3), // no expiry last
        ]
    );
    assert_eq!((p.planned, p.short), (30, 0));
    assert_eq!(p.picks[0].batch.as_deref(), Some("SOON"));
    assert_eq!(p.picks[0].location, "L01");
    // Customer needs 30 days left: SOON drops out.
    let p = ledger::plan(
        &mut db.snapshot().await.unwrap(),
        it,
        s.warehouse,
        100,
        TODAY,
        Some(30),
    )
    .await
    .unwrap();
    assert!(p.picks.iter().all(|k| k.batch_id != Some(soon.id)));
    assert_eq!((p.planned, p.short), (30, 70));
    // Expired and quarantined stock is never planned, even when short.
    assert!(
        p.picks
            .iter()
            .all(|k| k.batch_id != Some(expired.id) && k.batch_id != Some(quarantined.id))
    );
    // Candidates list everything available; the rule lives in fefo::plan.
    let c = ledger::candidates(db, it, s.warehouse).await.unwrap();
    assert_eq!(c.len(), 7);
    let e = ledger::plan(
        &mut db.snapshot().await.unwrap(),
        it,
        s.warehouse,
        0,
        TODAY,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&e), vec!["quantity"]);
}

async fn reversal_corrects(db: &Db) {
    let s = site(db, "W6", 1).await;
    let it = item(db, "TAPE", false, None).await;
    let loc = s.locations[0];
    let wrong = ledger::post(db, vec![mv(&s, it, None, loc, 50, MovementType::Receipt)])
        .await
        .unwrap()
        .remove(0);
    ledger::post(db, vec![mv(&s, it, None, loc, 5, MovementType::Receipt)])
        .await
        .unwrap();
    let rev = ledger::reverse(db, wrong.id, Some(s.user), None, Some("typo".into()))
        .await
        .unwrap();
    assert_eq!(rev.quantity, -50);
    assert_eq!(rev.reversal_of, Some(wrong.id));
    assert_eq!(on_hand(db, it, loc, None).await, 5);
    let e = ledger::reverse(db, wrong.id, Some(s.user), None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }), "{e:?}");
    // The original is untouched.
    assert_eq!(ledger::movement(db, wrong.id).await.unwrap(), wrong);
    assert_consistent(db).await;
}

async fn concurrent_takes_never_overdraw(db: &Db) {
    let s = Arc::new(site(db, "W7", 1).await);
    let it = item(db, "GLUE", false, None).await;
    let loc = s.locations[0];
    ledger::post(db, vec![mv(&s, it, None, loc, 100, MovementType::Receipt)])
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let db = db.clone();
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut taken = 0;
            let mut refused = 0;
            for _ in 0..5 {
                match ledger::post(&db, vec![mv(&s, it, None, loc, -10, MovementType::Pick)]).await
                {
                    Ok(_) => taken += 10,
                    Err(Error::Conflict { .. }) => refused += 1,
                    Err(e) => panic!("unexpected error {e:?}"),
                }
            }
            (taken, refused)
        }));
    }
    let mut taken = 0;
    let mut refused = 0;
    for t in tasks {
        let (a, r) = t.await.unwrap();
        taken += a;
        refused += r;
    }
    assert_eq!(taken, 100, "exactly the stock there was is taken");
    assert_eq!(refused, 16 * 5 - 10);
    assert_eq!(on_hand(db, it, loc, None).await, 0);
    assert_consistent(db).await;

    // Moves in opposite directions at once: no deadlock, no lost update.
    let s2 = Arc::new(site(db, "W7B", 2).await);
    let (a, b) = (s2.locations[0], s2.locations[1]);
    ledger::post(
        db,
        vec![
            mv(&s2, it, None, a, 50, MovementType::Receipt),
            mv(&s2, it, None, b, 50, MovementType::Receipt),
        ],
    )
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for t in 0..8 {
        let db = db.clone();
        let s2 = s2.clone();
        let (from, to) = if t % 2 == 0 { (a, b) } else { (b, a) };
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let r = ledger::post(
                    &db,
                    vec![
                        mv(&s2, it, None, from, -3, MovementType::Move),
                        mv(&s2, it, None, to, 3, MovementType::Move),
                    ],
                )
                .await;
                assert!(matches!(r, Ok(_) | Err(Error::Conflict { .. })), "{r:?}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        on_hand(db, it, a, None).await + on_hand(db, it, b, None).await,
        100
    );
    assert_consistent(db).await;
}

#[derive(Debug, Clone)]
enum Op {
    Receipt {
        loc: usize,
        batch: usize,
        qty: i64,
    },
    Move {
        from: usize,
        to: usize,
        batch: usize,
        qty: i64,
    },
    Adjust {
        loc: usize,
        batch: usize,
        qty: i64,
    },
    /// Count a location: `counted` of one batch (the other as it stands), then `after` units
    /// arrive before the count closes.
    Count {
        loc: usize,
        batch: usize,
        counted: i64,
        after: i64,
    },
    Ship {
        loc: usize,
        batch: usize,
        qty: i64,
    },
    Return {
        loc: usize,
        batch: usize,
        qty: i64,
        good: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0usize..3, 0usize..2, 1i64..30).prop_map(|(loc, batch, qty)| Op::Receipt {
            loc,
            batch,
            qty
        }),
        (0usize..3, 0usize..3, 0usize..2, 1i64..40).prop_map(|(from, to, batch, qty)| Op::Move {
            from,
            to,
            batch,
            qty
        }),
        (0usize..3, 0usize..2, -30i64..30).prop_map(|(loc, batch, qty)| Op::Adjust {
            loc,
            batch,
            qty
        }),
        (0usize..3, 0usize..2, 0i64..30, 0i64..5).prop_map(|(loc, batch, counted, after)| {
            Op::Count {
                loc,
                batch,
                counted,
                after,
            }
        }),
        (0usize..3, 0usize..2, 1i64..20).prop_map(|(loc, batch, qty)| Op::Ship { loc, batch, qty }),
        (0usize..3, 0usize..2, 1i64..10, any::<bool>()).prop_map(|(loc, batch, qty, good)| {
            Op::Return {
                loc,
                batch,
                qty,
                good,
            }
        }),
    ]
}

async fn deal(db: &Db, user: i64) -> i64 {
    let viewer = Viewer {
        id: user,
        role: Role::Admin,
    };
    let customer = depot::crm::customers::create(
        db,
        viewer,
        serde_json::from_value(json!({"legal_name": "Property Ltd"})).unwrap(),
    )
    .await
    .unwrap();
    depot::crm::deals::create(
        db,
        viewer,
        serde_json::from_value(json!({"customer_id": customer.id, "title": "Random"})).unwrap(),
    )
    .await
    .unwrap()
    .id
}

async fn record(
    db: &Db,
    count: i64,
    location_id: i64,
    item_id: i64,
    batch_id: Option<i64>,
    quantity: i64,
    actor: Actor,
) {
    counts::record(
        db,
        count,
        counts::Entry {
            location_id,
            item_id,
            batch: counts::BatchRef {
                id: batch_id,
                ..Default::default()
            },
            quantity,
            tally: counts::Tally::Set,
        },
        actor,
        counts::LINE_FIELDS,
    )
    .await
    .unwrap();
}

async fn random_sequences_stay_consistent(db: &Db) {
    let s = site(db, "W8", 3).await;
    let mut runner = TestRunner::new(Config {
        cases: 16,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(op(), 1..30);
    let deal = deal(db, s.user).await;
    for case in 0..16 {
        let ops = strategy.new_tree(&mut runner).unwrap().current();
        let it = item(db, &format!("RND{case}"), true, None).await;
        let mut bs = Vec::new();
        for code in ["A", "B"] {
            bs.push(
                batches::find_or_create(
                    db,
                    NewBatch {
                        item_id: it,
                        code: code.into(),
                        expiry_date: None,
                        production_date: None,
                        received_at: None,
                    },
                )
                .await
                .unwrap()
                .id,
            );
        }
        // The model: on hand per (location, batch), and what the deal may still return.
        let mut model = [[0i64; 2]; 3];
        let mut returnable = [0i64; 2];
        for op in &ops {
            let l = &s.locations;
            let actor = Actor {
                user_id: Some(s.user),
                device_id: None,
            };
            match *op {
                Op::Count {
                    loc,
                    batch,
                    counted,
                    after,
                } => {
                    let count = counts::create(
                        db,
                        NewCount {
                            warehouse_id: s.warehouse,
                            location_ids: Some(vec![l[loc]]),
                            note: None,
                        },
                        Some(s.user),
                    )
                    .await
                    .unwrap();
                    // Earlier cases' items in this location are counted as they stand.
                    let standing = ledger::balances(
                        db,
                        &BalanceFilter {
                            location_id: Some(l[loc]),
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                    for b in standing.iter().filter(|b| b.item_id != it) {
                        record(
                            db, count.id, l[loc], b.item_id, b.batch_id, b.on_hand, actor,
                        )
                        .await;
                    }
                    for (bi, qty) in [(batch, counted), (1 - batch, model[loc][1 - batch])] {
                        record(db, count.id, l[loc], it, Some(bs[bi]), qty, actor).await;
                    }
                    if after > 0 {
                        ledger::post(
                            db,
                            vec![mv(
                                &s,
                                it,
                                Some(bs[batch]),
                                l[loc],
                                after,
                                MovementType::Receipt,
                            )],
                        )
                        .await
                        .unwrap();
                    }
                    counts::close(db, count.id, actor).await.unwrap();
                    model[loc][batch] = counted + after;
                    continue;
                }
                Op::Return {
                    loc,
                    batch,
                    qty,
                    good,
                } => {
                    let ok = returnable[batch] >= qty;
                    let result = returns::create(
                        db,
                        NewReturn {
                            deal_id: Some(deal),
                            shipment_id: None,
                            warehouse_id: Some(s.warehouse),
                            location_id: Some(l[loc]),
                            lines: vec![ReturnLine {
                                item_id: it,
                                batch_id: Some(bs[batch]),
                                batch: None,
                                quantity: qty,
                                condition: if good {
                                    Condition::Good
                                } else {
                                    Condition::Damaged
                                },
                                reason: Some("test".into()),
                            }],
                            note: None,
                        },
                        actor,
                    )
                    .await;
                    assert_eq!(result.is_ok(), ok, "case {case}, {op:?}: {result:?}");
                    if ok {
                        returnable[batch] -= qty;
                        if good {
                            model[loc][batch] += qty;
                        }
                    }
                    continue;
                }
                _ => {}
            }
            let (movements, ok) = match *op {
                Op::Count { .. } | Op::Return { .. } => unreachable!(),
                Op::Ship { loc, batch, qty } => {
                    let ok = model[loc][batch] >= qty;
                    if ok {
                        model[loc][batch] -= qty;
                        returnable[batch] += qty;
                    }
                    let mut m = mv(&s, it, Some(bs[batch]), l[loc], -qty, MovementType::Ship);
                    m.deal_id = Some(deal);
                    (vec![m], ok)
                }
                Op::Receipt { loc, batch, qty } => {
                    model[loc][batch] += qty;
                    (
                        vec![mv(
                            &s,
                            it,
                            Some(bs[batch]),
                            l[loc],
                            qty,
                            MovementType::Receipt,
                        )],
                        true,
                    )
                }
                Op::Move {
                    from,
                    to,
                    batch,
                    qty,
                } => {
                    // The source is debited first, so even a move onto itself needs the stock.
                    let ok = model[from][batch] >= qty;
                    if ok {
                        model[from][batch] -= qty;
                        model[to][batch] += qty;
                    }
                    let ms = vec![
                        mv(&s, it, Some(bs[batch]), l[from], -qty, MovementType::Move),
                        mv(&s, it, Some(bs[batch]), l[to], qty, MovementType::Move),
                    ];
                    (ms, ok)
                }
                Op::Adjust { loc, batch, qty } => {
                    let ok = qty != 0 && model[loc][batch] + qty >= 0;
                    if ok {
                        model[loc][batch] += qty;
                    }
                    (
                        vec![mv(
                            &s,
                            it,
                            Some(bs[batch]),
                            l[loc],
                            qty,
                            MovementType::Adjustment,
                        )],
                        ok,
                    )
                }
            };
            let result = ledger::post(db, movements).await;
            assert_eq!(result.is_ok(), ok, "case {case}, {op:?}: {result:?}");
        }
        for (li, row) in model.iter().enumerate() {
            for (bi, expected) in row.iter().enumerate() {
                assert_eq!(
                    on_hand(db, it, s.locations[li], Some(bs[bi])).await,
                    *expected,
                    "case {case}: {ops:?}"
                );
            }
        }
        let all = ledger::balances(
            db,
            &BalanceFilter {
                item_id: Some(it),
                include_empty: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(all.iter().all(|b| b.on_hand >= 0 && b.available >= 0));
        assert_consistent(db).await;
    }
}

/// `ledger::plan` reads only the prefix of stock it needs; it must plan exactly what the pure rule
/// plans over every candidate.
async fn plan_matches_pure_rule_over_many_batches(db: &Db) {
    let s = site(db, "W9", 5).await;
    let it = item(db, "MANY", true, None).await;
    let mut receipts = Vec::new();
    for i in 0..600i64 {
        // Expiries from 10 days ago to ~200 days ahead, many sharing a day; every 7th undated.
        let expiry = (i % 7 != 0).then(|| TODAY + time::Duration::days((i * 13) % 211 - 10));
        let b = batches::find_or_create(
            db,
            NewBatch {
                item_id: it,
                code: format!("M{i:03}"),
                expiry_date: expiry,
                production_date: None,
                received_at: None,
            },
        )
        .await
        .unwrap();
        if i % 31 == 0 {
            batches::set_status(db, b.id, BatchStatus::Recalled)
                .await
                .unwrap();
        }
        receipts.push(mv(
            &s,
            it,
            Some(b.id),
            s.locations[(i % 5) as usize],
            1 + i % 9,
            MovementType::Receipt,
        ));
    }
    ledger::post(db, receipts).await.unwrap();
    let all = ledger::candidates(db, it, s.warehouse).await.unwrap();
    assert_eq!(all.len(), 600);
    for (quantity, min) in [
        (1, None),
        (50, Some(20)),
        (700, None),
        (1_500, Some(5)),
        (5_000, None),
        (2_000, Some(300)),
    ] {
        let expected = depot::stock::fefo::plan(&all, quantity, TODAY, min);
        let got = ledger::plan(
            &mut db.snapshot().await.unwrap(),
            it,
            s.warehouse,
            quantity,
            TODAY,
            min,
        )
        .await
        .unwrap();
        assert_eq!(got, expected, "quantity {quantity}, min {min:?}");
    }
}
