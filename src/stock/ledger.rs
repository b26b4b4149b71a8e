//! The stock ledger: every change of stock is a movement row, never updated or deleted, and the
//! balance per (item, warehouse, location, batch) changes in the same transaction, so reads never
//! sum the ledger. Corrections are new movements ([`reverse`]), never edits.
//!
//! No balance goes negative, whatever runs concurrently: a movement that takes stock is a
//! conditional `update ... where on_hand + quantity >= reserved` whose row count says whether
//! it happened (on PostgreSQL the row lock makes a waiting update re-check the condition; on
//! SQLite writes are serialised). The check constraints on `stock_balances` back this up.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::db::{Arg, Db, Page, Paged, Tx, Where, now};
use crate::error::{Checks, Error, Result};
use crate::stock::batches::BatchStatus;
use crate::stock::fefo::{self, Candidate, Plan};
use crate::{bind_args, on_read, on_tx};

/// The largest quantity one movement may carry (keeps every sum far from overflow).
pub const MAX_QUANTITY: i64 = 1_000_000_000_000;

/// Why stock changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementType {
    Receipt,
    Move,
    Adjustment,
    Count,
    Pick,
    Ship,
    Return,
    WriteOff,
    ProductionOutput,
    ProductionConsumption,
}

impl MovementType {
    pub const ALL: [MovementType; 10] = [
        MovementType::Receipt,
        MovementType::Move,
        MovementType::Adjustment,
        MovementType::Count,
        MovementType::Pick,
        MovementType::Ship,
        MovementType::Return,
        MovementType::WriteOff,
        MovementType::ProductionOutput,
        MovementType::ProductionConsumption,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MovementType::Receipt => "receipt",
            MovementType::Move => "move",
            MovementType::Adjustment => "adjustment",
            MovementType::Count => "count",
            MovementType::Pick => "pick",
            MovementType::Ship => "ship",
            MovementType::Return => "return",
            MovementType::WriteOff => "write_off",
            MovementType::ProductionOutput => "production_output",
            MovementType::ProductionConsumption => "production_consumption",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        MovementType::ALL.into_iter().find(|t| t.as_str() == value)
    }

    /// The sign a movement of this type must have: `Some(1)` only adds stock (receipt, return,
    /// production output), `Some(-1)` only takes it (ship, write-off, production consumption),
    /// `None` either (move, adjustment, count, pick). A reversal has the opposite sign.
    pub fn sign(self) -> Option<i64> {
        match self {
            MovementType::Receipt | MovementType::Return | MovementType::ProductionOutput => {
                Some(1)
            }
            MovementType::Ship | MovementType::WriteOff | MovementType::ProductionConsumption => {
                Some(-1)
            }
            MovementType::Move
            | MovementType::Adjustment
            | MovementType::Count
            | MovementType::Pick => None,
        }
    }
}

/// One change of stock to post.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewMovement {
    pub item_id: i64,
    /// Required exactly when the item is tracked by batch.
    #[serde(default)]
    pub batch_id: Option<i64>,
    pub warehouse_id: i64,
    /// Must belong to `warehouse_id`.
    pub location_id: i64,
    /// Signed, in base units; never zero.
    pub quantity: i64,
    pub kind: MovementType,
    /// Who did it: a user, a device, or both (at least one).
    #[serde(default)]
    pub user_id: Option<i64>,
    #[serde(default)]
    pub device_id: Option<i64>,
    #[serde(default)]
    pub document_type: Option<String>,
    #[serde(default)]
    pub document_id: Option<i64>,
    #[serde(default)]
    pub deal_id: Option<i64>,
    /// Free text: the reason of an adjustment or write-off.
    #[serde(default)]
    pub note: Option<String>,
    /// Takes reserved stock: the movement (negative) also consumes this much of the
    /// reservation, which must hold the same item, location and batch (shipping reserved goods,
    /// consuming a production order's components, moving picked goods).
    #[serde(skip)]
    pub reservation_id: Option<i64>,
}

/// A posted movement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Movement {
    pub id: i64,
    pub item_id: i64,
    pub batch_id: Option<i64>,
    pub warehouse_id: i64,
    pub location_id: i64,
    pub quantity: i64,
    pub kind: MovementType,
    pub user_id: Option<i64>,
    pub device_id: Option<i64>,
    pub document_type: Option<String>,
    pub document_id: Option<i64>,
    pub deal_id: Option<i64>,
    pub note: Option<String>,
    /// The movement this one reverses.
    pub reversal_of: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub posted_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct MovementRow {
    id: i64,
    item_id: i64,
    batch_id: Option<i64>,
    warehouse_id: i64,
    location_id: i64,
    quantity: i64,
    movement_type: String,
    user_id: Option<i64>,
    device_id: Option<i64>,
    document_type: Option<String>,
    document_id: Option<i64>,
    deal_id: Option<i64>,
    note: Option<String>,
    reversal_of: Option<i64>,
    posted_at: OffsetDateTime,
}

impl From<MovementRow> for Movement {
    fn from(r: MovementRow) -> Self {
        Movement {
            id: r.id,
            item_id: r.item_id,
            batch_id: r.batch_id,
            warehouse_id: r.warehouse_id,
            location_id: r.location_id,
            quantity: r.quantity,
            // The column's check constraint admits only known types.
            kind: MovementType::parse(&r.movement_type).unwrap_or(MovementType::Adjustment),
            user_id: r.user_id,
            device_id: r.device_id,
            document_type: r.document_type,
            document_id: r.document_id,
            deal_id: r.deal_id,
            note: r.note,
            reversal_of: r.reversal_of,
            posted_at: r.posted_at,
        }
    }
}

const MOVEMENT_COLUMNS: &str = "id, item_id, batch_id, warehouse_id, location_id, quantity, \
    movement_type, user_id, device_id, document_type, document_id, deal_id, note, reversal_of, \
    posted_at";

/// Field names stay plain (`quantity`, `batch_id`) so that callers can map them; when a post
/// holds several movements the reason starts with `"movement 2 of 3: "`.
fn which(i: usize, n: usize) -> String {
    if n > 1 {
        format!("movement {} of {n}: ", i + 1)
    } else {
        String::new()
    }
}

/// Prefixes every reason of a validation error with [`which`].
fn in_movement(e: Error, i: usize, n: usize) -> Error {
    match e {
        Error::Validation(mut v) if n > 1 => {
            for f in &mut v {
                f.reason = format!("{}{}", which(i, n), f.reason);
            }
            Error::Validation(v)
        }
        other => other,
    }
}

/// Checks that need no database: quantity, sign, who, text lengths, and that moves net to zero.
fn check_movements(movements: &[(NewMovement, Option<i64>)]) -> Result<()> {
    let n = movements.len();
    let mut all = Checks::new();
    if n == 0 {
        all.fail("movements", "must not be empty");
    }
    let mut moved: HashMap<(i64, Option<i64>), i64> = HashMap::new();
    for (i, (m, reversal_of)) in movements.iter().enumerate() {
        let mut checks = Checks::new();
        if m.quantity == 0 {
            checks.fail("quantity", "must not be zero");
        } else if m.quantity.unsigned_abs() > MAX_QUANTITY as u64 {
            checks.fail(
                "quantity",
                format!("must be at most {MAX_QUANTITY} in size"),
            );
        } else if let Some(sign) = m.kind.sign() {
            let sign = if reversal_of.is_some() { -sign } else { sign };
            if m.quantity.signum() != sign {
                checks.fail(
                    "quantity",
                    format!(
                        "a {} {} stock: quantity must be {}",
                        m.kind.as_str(),
                        if sign > 0 { "adds" } else { "takes" },
                        if sign > 0 { "positive" } else { "negative" },
                    ),
                );
            }
        }
        if m.user_id.is_none() && m.device_id.is_none() {
            checks.fail(
                "user_id",
                "a movement needs the user or device that made it",
            );
        }
        if let Some(t) = &m.document_type {
            checks.text("document_type", t, 50);
        }
        checks.check(
            m.document_id.is_none() || m.document_type.is_some(),
            "document_type",
            "is required with document_id",
        );
        checks.opt_text("note", m.note.as_deref(), 1000);
        if m.kind == MovementType::Move && reversal_of.is_none() {
            *moved.entry((m.item_id, m.batch_id)).or_default() += m.quantity;
        }
        if let Err(Error::Validation(v)) = checks.finish().map_err(|e| in_movement(e, i, n)) {
            for e in v {
                all.fail(e.field, e.reason);
            }
        }
    }
    let mut checks = all;
    if moved.values().any(|&net| net != 0) {
        checks.fail(
            "quantity",
            "a move takes from one location exactly what it puts into another (its movements must sum to zero)",
        );
    }
    checks.finish()
}

/// What the posting transaction learns about one movement's references, in one round trip.
#[derive(sqlx::FromRow)]
struct Refs {
    tracking: Option<String>,
    location_warehouse: Option<i64>,
    batch_item: Option<i64>,
    batch_expiry: Option<Date>,
    users: i64,
    devices: i64,
    deals: i64,
}

const REFS_SQL: &str = "select
    (select tracking from items where id = $1) as tracking,
    (select warehouse_id from locations where id = $2) as location_warehouse,
    (select item_id from batches where id = $3) as batch_item,
    (select expiry_date from batches where id = $3) as batch_expiry,
    (select count(*) from users where id = $4) as users,
    (select count(*) from devices where id = $5) as devices,
    (select count(*) from deals where id = $6) as deals";

fn check_refs(m: &NewMovement, r: &Refs) -> Result<()> {
    let mut checks = Checks::new();
    match r.tracking.as_deref() {
        None => checks.fail("item_id", format!("no item with id {}", m.item_id)),
        Some("batch") if m.batch_id.is_none() => checks.fail(
            "batch_id",
            format!(
                "item {} is tracked by batch: a batch is required",
                m.item_id
            ),
        ),
        Some("none") if m.batch_id.is_some() => checks.fail(
            "batch_id",
            format!(
                "item {} is not tracked by batch: leave the batch out",
                m.item_id
            ),
        ),
        _ => {}
    }
    match r.location_warehouse {
        None => checks.fail(
            "location_id",
            format!("no location with id {}", m.location_id),
        ),
        Some(w) if w != m.warehouse_id => checks.fail(
            "location_id",
            format!(
                "location {} belongs to warehouse {w}, not {}",
                m.location_id, m.warehouse_id
            ),
        ),
        _ => {}
    }
    if let Some(batch) = m.batch_id
        && r.tracking.as_deref() != Some("none")
    {
        match r.batch_item {
            None => checks.fail("batch_id", format!("no batch with id {batch}")),
            Some(item) if item != m.item_id => checks.fail(
                "batch_id",
                format!("batch {batch} belongs to item {item}, not {}", m.item_id),
            ),
            _ => {}
        }
    }
    if let Some(u) = m.user_id {
        checks.check(r.users > 0, "user_id", &format!("no user with id {u}"));
    }
    if let Some(d) = m.device_id {
        checks.check(
            r.devices > 0,
            "device_id",
            &format!("no device with id {d}"),
        );
    }
    if let Some(d) = m.deal_id {
        checks.check(r.deals > 0, "deal_id", &format!("no deal with id {d}"));
    }
    checks.finish()
}

fn short_error(m: &NewMovement, i: usize, n: usize, on_hand: i64, reserved: i64) -> Error {
    let available = (on_hand - reserved).max(0);
    let batch = m
        .batch_id
        .map(|b| format!(" batch {b}"))
        .unwrap_or_default();
    Error::conflict(
        "quantity",
        format!(
            "{}cannot take {} of item {}{batch} from location {}: only {available} available \
             ({on_hand} on hand, {reserved} reserved)",
            which(i, n),
            -m.quantity,
            m.item_id,
            m.location_id
        ),
    )
}

/// Posts all `movements` in one transaction (a move is two movements: minus at the source, plus
/// at the destination): each is validated, its balance changes, and its ledger row is written.
/// Any failure rolls back all of them. The result is in the order given. Taking more than is
/// available (on hand minus reserved) is a conflict on `quantity` that says how much is
/// available.
pub async fn post(db: &Db, movements: Vec<NewMovement>) -> Result<Vec<Movement>> {
    let mut tx = db.begin().await?;
    let posted = post_all_in(&mut tx, movements.into_iter().map(|m| (m, None)).collect()).await?;
    tx.commit().await?;
    Ok(posted)
}

/// [`post`] inside the caller's transaction: the movements commit with the rest of its work (a
/// count closing, a return booked, a shipment dispatched), or not at all. A document may post
/// nothing (a count without variances).
pub async fn post_in(tx: &mut Tx, movements: Vec<NewMovement>) -> Result<Vec<Movement>> {
    if movements.is_empty() {
        return Ok(Vec::new());
    }
    post_all_in(tx, movements.into_iter().map(|m| (m, None)).collect()).await
}

/// Posts the correction of movement `id`: the same movement with the opposite quantity, linked
/// by `reversal_of`. A movement is reversed at most once.
pub async fn reverse(
    db: &Db,
    id: i64,
    user_id: Option<i64>,
    device_id: Option<i64>,
    note: Option<String>,
) -> Result<Movement> {
    let original = movement(db, id).await?;
    if original.reversal_of.is_some() {
        return Err(Error::conflict(
            "reversal_of",
            format!("movement {id} is itself a reversal; post a new movement instead"),
        ));
    }
    let new = NewMovement {
        item_id: original.item_id,
        batch_id: original.batch_id,
        warehouse_id: original.warehouse_id,
        location_id: original.location_id,
        quantity: -original.quantity,
        kind: original.kind,
        user_id,
        device_id,
        document_type: original.document_type,
        document_id: original.document_id,
        deal_id: original.deal_id,
        note,
        reservation_id: None,
    };
    let mut tx = db.begin().await?;
    let mut posted = post_all_in(&mut tx, vec![(new, Some(id))])
        .await
        .map_err(|e| e.on_unique("reversal_of", &format!("movement {id} is already reversed")))?;
    tx.commit().await?;
    posted
        .pop()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("reversal posted nothing")))
}

/// Posts each movement in balance-key order (stable, so movements of one balance keep their
/// order): concurrent posts then lock rows in the same order and cannot deadlock. Answers them
/// in the order given.
async fn post_all_in(
    tx: &mut Tx,
    movements: Vec<(NewMovement, Option<i64>)>,
) -> Result<Vec<Movement>> {
    check_movements(&movements)?;
    let n = movements.len();
    let at = now();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| {
        let m = &movements[i].0;
        (
            m.item_id,
            m.warehouse_id,
            m.location_id,
            m.batch_id.unwrap_or(0),
        )
    });
    let mut posted: Vec<Option<Movement>> = vec![None; n];
    for i in order {
        let (m, reversal_of) = &movements[i];
        let refs = refs_of(tx, m).await?;
        check_refs(m, &refs).map_err(|e| in_movement(e, i, n))?;
        if m.quantity > 0 {
            add_on_hand(tx, m, refs.batch_expiry, at).await?;
        } else if let Some(reservation) = m.reservation_id {
            if !take_reserved(tx, m, reservation, at).await? {
                return Err(Error::conflict(
                    "quantity",
                    format!(
                        "{}reservation {reservation} does not hold {} of item {} at location {}",
                        which(i, n),
                        -m.quantity,
                        m.item_id,
                        m.location_id
                    ),
                ));
            }
        } else if let Err((on_hand, reserved)) = take_free(tx, m, at).await? {
            return Err(short_error(m, i, n, on_hand, reserved));
        }
        posted[i] = Some(insert_movement(tx, m, *reversal_of, at).await?);
    }
    Ok(posted.into_iter().flatten().collect())
}

/// What a movement refers to, read in one statement.
async fn refs_of(tx: &mut Tx, m: &NewMovement) -> Result<Refs> {
    Ok(on_tx!(tx, conn => {
        sqlx::query_as::<_, Refs>(REFS_SQL)
            .bind(m.item_id)
            .bind(m.location_id)
            .bind(m.batch_id)
            .bind(m.user_id)
            .bind(m.device_id)
            .bind(m.deal_id)
            .fetch_one(&mut *conn)
            .await?
    }))
}

/// Goods arrive: the balance grows (created on first arrival).
async fn add_on_hand(
    tx: &mut Tx,
    m: &NewMovement,
    expiry: Option<time::Date>,
    at: OffsetDateTime,
) -> Result<()> {
    on_tx!(tx, conn => {
        sqlx::query(
            "insert into stock_balances
                 (item_id, warehouse_id, location_id, batch_id, batch_key, on_hand, reserved,
                  expiry_date, updated_at)
             values ($1, $2, $3, $4, $5, $6, 0, $8, $7)
             on conflict (item_id, warehouse_id, location_id, batch_key)
             do update set on_hand = stock_balances.on_hand + excluded.on_hand,
                           updated_at = excluded.updated_at",
        )
        .bind(m.item_id)
        .bind(m.warehouse_id)
        .bind(m.location_id)
        .bind(m.batch_id)
        .bind(m.batch_id.unwrap_or(0))
        .bind(m.quantity)
        .bind(at)
        .bind(expiry)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

/// Reserved stock leaves with its reservation: both shrink together, or neither (false when
/// the reservation does not hold that much there).
async fn take_reserved(
    tx: &mut Tx,
    m: &NewMovement,
    reservation: i64,
    at: OffsetDateTime,
) -> Result<bool> {
    let batch_key = m.batch_id.unwrap_or(0);
    let (held, changed) = on_tx!(tx, conn => {
        let held = sqlx::query(
            "update reservations set quantity = quantity + $1, updated_at = $2
             where id = $3 and quantity + $1 >= 0 and item_id = $4 and warehouse_id = $5
               and location_id = $6 and batch_key = $7",
        )
        .bind(m.quantity)
        .bind(at)
        .bind(reservation)
        .bind(m.item_id)
        .bind(m.warehouse_id)
        .bind(m.location_id)
        .bind(batch_key)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        let changed = sqlx::query(
            "update stock_balances set on_hand = on_hand + $1, reserved = reserved + $1,
                 updated_at = $2
             where item_id = $3 and warehouse_id = $4 and location_id = $5 and batch_key = $6
               and reserved + $1 >= 0",
        )
        .bind(m.quantity)
        .bind(at)
        .bind(m.item_id)
        .bind(m.warehouse_id)
        .bind(m.location_id)
        .bind(batch_key)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        (held, changed)
    });
    Ok(held == 1 && changed == 1)
}

/// Unreserved stock leaves: the conditional update never lets `on_hand` fall below
/// `reserved`. When it would, answers the balance as it stands, `Err((on_hand, reserved))`.
async fn take_free(
    tx: &mut Tx,
    m: &NewMovement,
    at: OffsetDateTime,
) -> Result<std::result::Result<(), (i64, i64)>> {
    let batch_key = m.batch_id.unwrap_or(0);
    Ok(on_tx!(tx, conn => {
        let changed = sqlx::query(
            "update stock_balances set on_hand = on_hand + $1, updated_at = $2
             where item_id = $3 and warehouse_id = $4 and location_id = $5 and batch_key = $6
               and on_hand + $1 >= reserved",
        )
        .bind(m.quantity)
        .bind(at)
        .bind(m.item_id)
        .bind(m.warehouse_id)
        .bind(m.location_id)
        .bind(batch_key)
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if changed == 1 {
            Ok(())
        } else {
            Err(sqlx::query_as::<_, (i64, i64)>(
                "select on_hand, reserved from stock_balances
                 where item_id = $1 and warehouse_id = $2 and location_id = $3 and batch_key = $4",
            )
            .bind(m.item_id)
            .bind(m.warehouse_id)
            .bind(m.location_id)
            .bind(batch_key)
            .fetch_optional(&mut *conn)
            .await?
            .unwrap_or((0, 0)))
        }
    }))
}

/// The ledger row of a movement.
async fn insert_movement(
    tx: &mut Tx,
    m: &NewMovement,
    reversal_of: Option<i64>,
    at: OffsetDateTime,
) -> Result<Movement> {
    let row = on_tx!(tx, conn => {
        sqlx::query_as::<_, MovementRow>(&format!(
            "insert into stock_movements (item_id, batch_id, warehouse_id, location_id, quantity,
                 movement_type, user_id, device_id, document_type, document_id, deal_id, note,
                 reversal_of, posted_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             returning {MOVEMENT_COLUMNS}"
        ))
        .bind(m.item_id)
        .bind(m.batch_id)
        .bind(m.warehouse_id)
        .bind(m.location_id)
        .bind(m.quantity)
        .bind(m.kind.as_str())
        .bind(m.user_id)
        .bind(m.device_id)
        .bind(m.document_type.as_deref().map(str::trim))
        .bind(m.document_id)
        .bind(m.deal_id)
        .bind(m.note.as_deref())
        .bind(reversal_of)
        .bind(at)
        .fetch_one(&mut *conn)
        .await?
    });
    Ok(Movement::from(row))
}

/// What left the shelf for a deal, less what came back, per item: the sum of its `ship` and
/// `return` movements, as (item, quantity).
pub async fn shipped_to_deal(tx: &mut Tx, deal_id: i64) -> Result<Vec<(i64, i64)>> {
    Ok(on_tx!(tx, tx => {
        sqlx::query_as::<_, (i64, i64)>(
            "select item_id, cast(-sum(quantity) as bigint) from stock_movements
             where deal_id = $1 and movement_type in ('ship', 'return') group by item_id",
        )
        .bind(deal_id)
        .fetch_all(&mut *tx)
        .await?
    }))
}

/// One movement by id.
pub async fn movement(db: &Db, id: i64) -> Result<Movement> {
    on_read!(db, pool => {
        sqlx::query_as::<_, MovementRow>(&format!(
            "select {MOVEMENT_COLUMNS} from stock_movements where id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await?
    })
    .map(Movement::from)
    .ok_or_else(|| Error::not_found("movement", id))
}

/// Which balances to read. Without `include_empty`, rows with nothing on hand are left out.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BalanceFilter {
    pub item_id: Option<i64>,
    pub warehouse_id: Option<i64>,
    pub location_id: Option<i64>,
    pub batch_id: Option<i64>,
    #[serde(default)]
    pub include_empty: bool,
}

/// Stock of one item, batch and location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Balance {
    pub item_id: i64,
    pub item_code: String,
    pub item_name: String,
    pub warehouse_id: i64,
    pub location_id: i64,
    pub location_code: String,
    pub batch_id: Option<i64>,
    pub batch_code: Option<String>,
    pub expiry_date: Option<Date>,
    /// The batch's status (`null` for stock of an item not tracked by batch).
    pub batch_status: Option<BatchStatus>,
    pub on_hand: i64,
    pub reserved: i64,
    /// What may still be handed out: `on_hand - reserved`, and 0 when the stock is expired,
    /// quarantined or recalled (the one definition every read uses, `fefo::available`).
    pub available: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct BalanceRow {
    id: i64,
    item_id: i64,
    item_code: String,
    item_name: String,
    warehouse_id: i64,
    location_id: i64,
    location_code: String,
    batch_id: Option<i64>,
    batch_code: Option<String>,
    expiry_date: Option<Date>,
    batch_status: Option<String>,
    on_hand: i64,
    reserved: i64,
    updated_at: OffsetDateTime,
}

impl BalanceRow {
    fn into_balance(self, today: Date) -> Balance {
        let status = BatchStatus::of_column(self.batch_status.as_deref());
        Balance {
            available: fefo::available(
                self.on_hand,
                self.reserved,
                status,
                self.expiry_date,
                today,
            ),
            item_id: self.item_id,
            item_code: self.item_code,
            item_name: self.item_name,
            warehouse_id: self.warehouse_id,
            location_id: self.location_id,
            location_code: self.location_code,
            batch_id: self.batch_id,
            batch_code: self.batch_code,
            expiry_date: self.expiry_date,
            batch_status: self.batch_id.map(|_| status),
            on_hand: self.on_hand,
            reserved: self.reserved,
            updated_at: self.updated_at,
        }
    }
}

/// One balance's `(on_hand, reserved)` in the caller's transaction; `(0, 0)` when it has
/// never been posted to.
pub async fn on_hand_and_reserved_in(
    tx: &mut Tx,
    item_id: i64,
    warehouse_id: i64,
    location_id: i64,
    batch_id: Option<i64>,
) -> Result<(i64, i64)> {
    Ok(on_tx!(tx, tx => {
        sqlx::query_as::<_, (i64, i64)>(
            "select on_hand, reserved from stock_balances
             where item_id = $1 and warehouse_id = $2 and location_id = $3 and batch_key = $4",
        )
        .bind(item_id)
        .bind(warehouse_id)
        .bind(location_id)
        .bind(batch_id.unwrap_or(0))
        .fetch_optional(&mut *tx)
        .await?
    })
    .unwrap_or((0, 0)))
}

/// Every balance matching `filter`, in pick-route order of their locations. Reads
/// `stock_balances` only (through its (item_id, warehouse_id, ...) key), never the ledger.
pub async fn balances(db: &Db, filter: &BalanceFilter) -> Result<Vec<Balance>> {
    Ok(balance_rows(db, filter, None).await?.items)
}

/// One page of [`balances`]; the cursor is the last row's balance id, so pages keep the
/// pick-route order.
pub async fn balance_page(db: &Db, filter: &BalanceFilter, page: Page) -> Result<Paged<Balance>> {
    balance_rows(db, filter, Some(page)).await
}

async fn balance_rows(
    db: &Db,
    filter: &BalanceFilter,
    page: Option<Page>,
) -> Result<Paged<Balance>> {
    let mut w = Where::default();
    w.int("s.item_id = $?", filter.item_id);
    w.int("s.warehouse_id = $?", filter.warehouse_id);
    w.int("s.location_id = $?", filter.location_id);
    w.int("s.batch_id = $?", filter.batch_id);
    if !filter.include_empty {
        w.clauses.push("s.on_hand > 0".into());
    }
    let mut limit = String::new();
    if let Some(page) = page {
        if page.after > 0 {
            w.add(
                "(l.pick_sequence, l.code, s.batch_key, s.id) >
                 (select l2.pick_sequence, l2.code, s2.batch_key, s2.id
                  from stock_balances s2 join locations l2 on l2.id = s2.location_id
                  where s2.id = $?)",
                Arg::Int(page.after),
            );
        }
        limit = format!("limit ${}", w.next());
        w.args.push(Arg::Int(page.fetch_limit()));
    }
    let sql = format!(
        "select s.id, s.item_id, i.code as item_code, i.name as item_name, s.warehouse_id,
                s.location_id, l.code as location_code, s.batch_id, b.code as batch_code,
                b.expiry_date, b.status as batch_status, s.on_hand, s.reserved, s.updated_at
         from stock_balances s
         join items i on i.id = s.item_id
         join locations l on l.id = s.location_id
         left join batches b on b.id = s.batch_id
         where {}
         order by l.pick_sequence, l.code, s.batch_key, s.id
         {limit}",
        w.sql()
    );
    let rows = on_read!(db, pool => {
        bind_args!(sqlx::query_as::<_, BalanceRow>(&sql), &w.args)
            .fetch_all(pool)
            .await?
    });
    let today = now().date();
    let rows = match page {
        Some(page) => Paged::from_rows(rows, page, |r| r.id),
        None => Paged {
            items: rows,
            next_after: None,
        },
    };
    Ok(rows.map(|r| r.into_balance(today)))
}

/// Which ledger rows to read.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerFilter {
    pub item_id: Option<i64>,
    pub warehouse_id: Option<i64>,
    pub location_id: Option<i64>,
    pub batch_id: Option<i64>,
    pub deal_id: Option<i64>,
    pub document_type: Option<String>,
    pub document_id: Option<i64>,
    pub kind: Option<MovementType>,
    /// Posted at or after.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub from: Option<OffsetDateTime>,
    /// Posted before.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<OffsetDateTime>,
}

/// Ledger rows matching `filter`, oldest first, paged by id.
pub async fn ledger(db: &Db, filter: &LedgerFilter, page: Page) -> Result<Paged<Movement>> {
    let mut w = Where::default();
    w.add("id > $?", Arg::Int(page.after));
    w.int("item_id = $?", filter.item_id);
    w.int("warehouse_id = $?", filter.warehouse_id);
    w.int("location_id = $?", filter.location_id);
    w.int("batch_id = $?", filter.batch_id);
    w.int("deal_id = $?", filter.deal_id);
    if let Some(t) = &filter.document_type {
        w.add("document_type = $?", Arg::Text(t.clone()));
    }
    w.int("document_id = $?", filter.document_id);
    if let Some(k) = filter.kind {
        w.add("movement_type = $?", Arg::Text(k.as_str().into()));
    }
    if let Some(t) = filter.from {
        w.add("posted_at >= $?", Arg::Time(t));
    }
    if let Some(t) = filter.until {
        w.add("posted_at < $?", Arg::Time(t));
    }
    let limit = w.next();
    w.args.push(Arg::Int(page.fetch_limit()));
    let sql = format!(
        "select {MOVEMENT_COLUMNS} from stock_movements where {} order by id limit ${limit}",
        w.sql()
    );
    let rows = on_read!(db, pool => {
        bind_args!(sqlx::query_as::<_, MovementRow>(&sql), &w.args)
            .fetch_all(pool)
            .await?
    });
    Ok(Paged::from_rows(rows, page, |r| r.id).map(Movement::from))
}

#[derive(sqlx::FromRow)]
struct CandidateRow {
    batch_id: Option<i64>,
    batch_code: Option<String>,
    expiry_date: Option<Date>,
    received_at: Option<OffsetDateTime>,
    status: Option<String>,
    location_id: i64,
    location_code: String,
    pick_sequence: i64,
    available: i64,
}

impl From<CandidateRow> for Candidate {
    fn from(r: CandidateRow) -> Self {
        Candidate {
            batch_id: r.batch_id,
            batch_code: r.batch_code,
            expiry: r.expiry_date,
            received_at: r.received_at,
            location_id: r.location_id,
            location_code: r.location_code,
            pick_sequence: r.pick_sequence,
            available: r.available,
            batch_status: BatchStatus::of_column(r.status.as_deref()),
        }
    }
}

const CANDIDATES_SQL: &str =
    "where s.item_id = $1 and s.warehouse_id = $2 and s.on_hand > s.reserved";

/// Every balance of an item in a warehouse with something available, as FEFO candidates
/// (unordered, ineligible ones included: [`fefo::plan`] decides).
pub async fn candidates(db: &Db, item_id: i64, warehouse_id: i64) -> Result<Vec<Candidate>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, CandidateRow>(&format!("{FEFO_SELECT} {CANDIDATES_SQL}"))
            .bind(item_id)
            .bind(warehouse_id)
            .fetch_all(pool)
            .await?
    });
    Ok(rows.into_iter().map(Candidate::from).collect())
}

/// Dry run of FEFO: the ordered picks for `quantity` of an item in a warehouse on `today`,
/// read in `tx` (a write transaction about to reserve the plan, or a snapshot).
/// `min_remaining` is the customer's requirement in days; the stricter of it and the item's
/// own `min_remaining_shelf_life_days` applies.
pub async fn plan(
    tx: &mut Tx,
    item_id: i64,
    warehouse_id: i64,
    quantity: i64,
    today: Date,
    min_remaining: Option<i64>,
) -> Result<Plan> {
    let mut checks = Checks::new();
    checks.positive("quantity", quantity);
    checks.check(
        quantity <= MAX_QUANTITY,
        "quantity",
        "is larger than any stock can be",
    );
    checks.days("min_remaining_days", min_remaining);
    checks.finish()?;
    // The item's own minimum, and whether item and warehouse exist: one round trip.
    let (items_found, item_min, warehouses_found) = on_tx!(tx, tx => {
        sqlx::query_as::<_, (i64, Option<i64>, i64)>(
            "select (select count(*) from items where id = $1),
                    (select min_remaining_shelf_life_days from items where id = $1),
                    (select count(*) from warehouses where id = $2)",
        )
        .bind(item_id)
        .bind(warehouse_id)
        .fetch_one(&mut *tx)
        .await?
    });
    let mut checks = Checks::new();
    checks.check(
        items_found > 0,
        "item_id",
        &format!("no item with id {item_id}"),
    );
    checks.check(
        warehouses_found > 0,
        "warehouse_id",
        &format!("no warehouse with id {warehouse_id}"),
    );
    checks.finish()?;
    let min = match (min_remaining, item_min) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    // Only as much stock is read as the plan can use. Dated stock of available batches comes
    // in expiry order from the stock_balances_fefo index (balances with something available,
    // by item, warehouse, expiry) and is read as a stream, stopped once it covers the quantity
    // and the last expiry date read is complete: fefo::plan orders everything before a later
    // expiry date ahead of it, so planning over this prefix gives the same plan as planning over
    // all candidates. Undated stock is read only if dated stock falls short. SQL leaves out only
    // what can never qualify; fefo::plan applies the whole rule again.
    let cutoff = crate::days::add(today, min.unwrap_or(0).max(1));
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut covered = 0i64;
    if let Some(cutoff) = cutoff {
        let mut from = cutoff;
        let mut limit = FIRST_CHUNK;
        loop {
            let chunk =
                dated_candidates(tx, item_id, warehouse_id, from, limit, quantity - covered)
                    .await?;
            covered = covered.saturating_add(chunk.rows.iter().map(|c| c.available).sum::<i64>());
            candidates.extend(chunk.rows);
            match chunk.next_from {
                Some(next) if covered < quantity => {
                    from = next;
                    limit = limit.saturating_mul(8);
                }
                _ => break,
            }
        }
    }
    if covered < quantity {
        let rows = on_tx!(tx, tx => {
            sqlx::query_as::<_, CandidateRow>(&format!(
                "{FEFO_SELECT}
                 where s.item_id = $1 and s.warehouse_id = $2 and s.expiry_date is null
                   and s.on_hand > s.reserved and (s.batch_id is null or b.status = 'available')"
            ))
            .bind(item_id)
            .bind(warehouse_id)
            .fetch_all(&mut *tx)
            .await?
        });
        candidates.extend(rows.into_iter().map(Candidate::from));
    }
    Ok(fefo::plan(&candidates, quantity, today, min))
}

/// Rows the first read of [`plan`] may return; each further read may return eight times more.
const FIRST_CHUNK: i64 = 64;

const FEFO_SELECT: &str =
    "select s.batch_id, b.code as batch_code, s.expiry_date, b.received_at, b.status,
            s.location_id, l.code as location_code, l.pick_sequence,
            s.on_hand - s.reserved as available
     from stock_balances s
     join locations l on l.id = s.location_id
     left join batches b on b.id = s.batch_id";

/// One read of dated candidates.
struct Chunk {
    rows: Vec<Candidate>,
    /// Where the next read starts (inclusive), when this one did not reach the end of the
    /// dated stock and did not cover the quantity; its rows of that date were left out.
    next_from: Option<Date>,
}

/// Available stock of `available` batches of an item in a warehouse expiring on or after
/// `from`, in expiry order, read as a stream: it stops after the row that covers `wanted` and
/// every other row of that expiry date, or after `limit` rows.
async fn dated_candidates(
    tx: &mut Tx,
    item_id: i64,
    warehouse_id: i64,
    from: Date,
    limit: i64,
    wanted: i64,
) -> Result<Chunk> {
    use futures_util::TryStreamExt;
    // The WHERE repeats the partial index's condition (on_hand > reserved) word for word, so
    // both databases may use it; the range on expiry_date keeps the index order.
    let sql = format!(
        "{FEFO_SELECT}
         where s.item_id = $1 and s.warehouse_id = $2 and s.expiry_date >= $3
           and s.on_hand > s.reserved and b.status = 'available'
         order by s.expiry_date
         limit $4"
    );
    let mut rows: Vec<Candidate> = Vec::new();
    let mut covered = 0i64;
    let mut covered_on: Option<Date> = None;
    let mut read = 0i64;
    let mut complete = false;
    on_tx!(tx, tx => {
        let mut stream = sqlx::query_as::<_, CandidateRow>(&sql)
            .bind(item_id)
            .bind(warehouse_id)
            .bind(from)
            .bind(limit)
            .fetch(&mut *tx);
        while let Some(row) = stream.try_next().await? {
            read += 1;
            if let Some(day) = covered_on
                && row.expiry_date != Some(day)
            {
                complete = true;
                break;
            }
            covered = covered.saturating_add(row.available);
            if covered >= wanted && covered_on.is_none() {
                covered_on = row.expiry_date;
            }
            rows.push(Candidate::from(row));
        }
    });
    if complete || read < limit {
        // Covered with its last date complete, or the end of the dated stock.
        return Ok(Chunk {
            rows,
            next_from: None,
        });
    }
    // The limit cut the read: the last date may be incomplete, so it is read again next time.
    let last = rows.last().and_then(|c| c.expiry);
    rows.retain(|c| c.expiry != last);
    Ok(Chunk {
        rows,
        next_from: last,
    })
}

/// A balance whose `reserved` disagrees with the sum of the reservations on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct ReservedMismatch {
    pub item_id: i64,
    pub warehouse_id: i64,
    pub location_id: i64,
    pub batch_key: i64,
    pub reserved: i64,
    pub reservations: i64,
}

/// Balances whose `reserved` is not the sum of their reservations (or reservations without a
/// balance). Empty when all is well.
pub async fn reserved_consistency(db: &Db) -> Result<Vec<ReservedMismatch>> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, ReservedMismatch>(
            "with r as (
                 select item_id, warehouse_id, location_id, batch_key,
                        cast(sum(quantity) as bigint) as total
                 from reservations
                 group by item_id, warehouse_id, location_id, batch_key
             )
             select s.item_id, s.warehouse_id, s.location_id, s.batch_key, s.reserved,
                    coalesce(r.total, 0) as reservations
             from stock_balances s
             left join r on r.item_id = s.item_id and r.warehouse_id = s.warehouse_id
                        and r.location_id = s.location_id and r.batch_key = s.batch_key
             where s.reserved <> coalesce(r.total, 0)
             union all
             select r.item_id, r.warehouse_id, r.location_id, r.batch_key, 0, r.total
             from r
             where r.total <> 0 and not exists (
                 select 1 from stock_balances s
                 where s.item_id = r.item_id and s.warehouse_id = r.warehouse_id
                   and s.location_id = r.location_id and s.batch_key = r.batch_key
             )
             order by 1, 2, 3, 4",
        )
        .fetch_all(pool)
        .await?
    }))
}

/// A balance that disagrees with the sum of its ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Mismatch {
    pub item_id: i64,
    pub warehouse_id: i64,
    pub location_id: i64,
    pub batch_id: Option<i64>,
    /// `None` when movements exist but no balance row does.
    pub on_hand: Option<i64>,
    /// The sum of the movements (0 when there are none).
    pub ledger: i64,
}

#[derive(sqlx::FromRow)]
struct MismatchRow {
    item_id: i64,
    warehouse_id: i64,
    location_id: i64,
    batch_key: i64,
    on_hand: Option<i64>,
    ledger: i64,
}

/// Re-derives every balance from the ledger and reports each disagreement, both ways: balance
/// rows whose on-hand differs from their movements' sum (or that hold stock without any
/// movement), and movements without a balance row. Empty when all is well.
pub async fn consistency(db: &Db) -> Result<Vec<Mismatch>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, MismatchRow>(
            "with m as (
                 select item_id, warehouse_id, location_id, coalesce(batch_id, 0) as batch_key,
                        cast(sum(quantity) as bigint) as total
                 from stock_movements
                 group by item_id, warehouse_id, location_id, coalesce(batch_id, 0)
             )
             select s.item_id, s.warehouse_id, s.location_id, s.batch_key, s.on_hand,
                    coalesce(m.total, 0) as ledger
             from stock_balances s
             left join m on m.item_id = s.item_id and m.warehouse_id = s.warehouse_id
                        and m.location_id = s.location_id and m.batch_key = s.batch_key
             where (m.total is null and s.on_hand <> 0) or m.total <> s.on_hand
             union all
             select m.item_id, m.warehouse_id, m.location_id, m.batch_key, null, m.total
             from m
             where not exists (
                 select 1 from stock_balances s
                 where s.item_id = m.item_id and s.warehouse_id = m.warehouse_id
                   and s.location_id = m.location_id and s.batch_key = m.batch_key
             )
             order by 1, 2, 3, 4",
        )
        .fetch_all(pool)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|r| Mismatch {
            item_id: r.item_id,
            warehouse_id: r.warehouse_id,
            location_id: r.location_id,
            batch_id: (r.batch_key != 0).then_some(r.batch_key),
            on_hand: r.on_hand,
            ledger: r.ledger,
        })
        .collect())
}
