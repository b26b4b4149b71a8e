//! Moves between locations, adjustments and write-offs: each one posting to the ledger.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::catalog::warehouses;
use crate::db::Db;
use crate::error::{Checks, Error, Result};
use crate::stock::batches;
use crate::stock::ledger::{self, Movement, MovementType, NewMovement};

/// Who posts: a user, a device, or both.
#[derive(Debug, Clone, Copy, Default)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub device_id: Option<i64>,
}

/// Names the stock: an item and, when it is tracked by batch, the batch (by id or code).
#[derive(Debug, Clone)]
pub struct StockRef {
    pub item_id: i64,
    pub batch_id: Option<i64>,
    pub batch: Option<String>,
}

macro_rules! stock_ref {
    ($r:expr) => {
        StockRef {
            item_id: $r.item_id,
            batch_id: $r.batch_id,
            batch: $r.batch.clone(),
        }
    };
}

impl StockRef {
    async fn batch_id(&self, db: &Db) -> Result<Option<i64>> {
        match (self.batch_id, self.batch.as_deref()) {
            (Some(id), _) => Ok(Some(id)),
            (None, Some(code)) => batches::by_code(db, self.item_id, code.trim())
                .await?
                .map(|b| Some(b.id))
                .ok_or_else(|| {
                    Error::invalid(
                        "batch",
                        format!("item {} has no batch '{code}'", self.item_id),
                    )
                }),
            (None, None) => Ok(None),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MoveRequest {
    pub item_id: i64,
    #[serde(default)]
    pub batch_id: Option<i64>,
    /// Batch code, instead of `batch_id`.
    #[serde(default)]
    pub batch: Option<String>,
    pub from_location_id: i64,
    /// In the same warehouse or another one.
    pub to_location_id: i64,
    pub quantity: i64,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AdjustmentRequest {
    pub item_id: i64,
    #[serde(default)]
    pub batch_id: Option<i64>,
    /// Batch code, instead of `batch_id`.
    #[serde(default)]
    pub batch: Option<String>,
    pub location_id: i64,
    /// Signed, never zero.
    pub quantity: i64,
    /// Why (a reason code or a sentence); required.
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct WriteOffRequest {
    pub item_id: i64,
    #[serde(default)]
    pub batch_id: Option<i64>,
    /// Batch code, instead of `batch_id`.
    #[serde(default)]
    pub batch: Option<String>,
    pub location_id: i64,
    /// How much is written off (positive).
    pub quantity: i64,
    /// Why: damaged, expired, recalled...; required.
    pub reason: String,
}

async fn warehouse_of(db: &Db, field: &str, location_id: i64) -> Result<i64> {
    warehouses::location(db, location_id)
        .await
        .map(|l| l.warehouse_id)
        .map_err(|e| e.missing_as_invalid(field, format!("no location with id {location_id}")))
}

/// One movement of `(item_id, batch_id)`.
fn movement(
    (item_id, batch_id): (i64, Option<i64>),
    warehouse_id: i64,
    location_id: i64,
    quantity: i64,
    kind: MovementType,
    actor: Actor,
    note: Option<String>,
) -> NewMovement {
    NewMovement {
        item_id,
        batch_id,
        warehouse_id,
        location_id,
        quantity,
        kind,
        user_id: actor.user_id,
        device_id: actor.device_id,
        document_type: None,
        document_id: None,
        deal_id: None,
        note,
        reservation_id: None,
    }
}

/// Moves stock between two locations: two movements in one transaction.
pub async fn move_stock(db: &Db, r: MoveRequest, actor: Actor) -> Result<Vec<Movement>> {
    let mut checks = Checks::new();
    checks.positive("quantity", r.quantity);
    checks.check(
        r.from_location_id != r.to_location_id,
        "to_location_id",
        "must differ from from_location_id",
    );
    checks.opt_text("note", r.note.as_deref(), 2000);
    checks.finish()?;
    let from_wh = warehouse_of(db, "from_location_id", r.from_location_id).await?;
    let to_wh = warehouse_of(db, "to_location_id", r.to_location_id).await?;
    let stock = stock_ref!(r);
    let batch_id = stock.batch_id(db).await?;
    ledger::post(
        db,
        vec![
            movement(
                (stock.item_id, batch_id),
                from_wh,
                r.from_location_id,
                -r.quantity,
                MovementType::Move,
                actor,
                r.note.clone(),
            ),
            movement(
                (stock.item_id, batch_id),
                to_wh,
                r.to_location_id,
                r.quantity,
                MovementType::Move,
                actor,
                r.note,
            ),
        ],
    )
    .await
}

/// Corrects a balance up or down, with a reason.
pub async fn adjust(db: &Db, r: AdjustmentRequest, actor: Actor) -> Result<Movement> {
    let mut checks = Checks::new();
    checks.check(r.quantity != 0, "quantity", "must not be zero");
    checks.text("reason", &r.reason, 200);
    checks.finish()?;
    let wh = warehouse_of(db, "location_id", r.location_id).await?;
    let stock = stock_ref!(r);
    let batch_id = stock.batch_id(db).await?;
    one(ledger::post(
        db,
        vec![movement(
            (stock.item_id, batch_id),
            wh,
            r.location_id,
            r.quantity,
            MovementType::Adjustment,
            actor,
            Some(r.reason),
        )],
    )
    .await?)
}

/// Writes off damaged or expired stock, with a reason.
pub async fn write_off(db: &Db, r: WriteOffRequest, actor: Actor) -> Result<Movement> {
    let mut checks = Checks::new();
    checks.positive("quantity", r.quantity);
    checks.text("reason", &r.reason, 200);
    checks.finish()?;
    let wh = warehouse_of(db, "location_id", r.location_id).await?;
    let stock = stock_ref!(r);
    let batch_id = stock.batch_id(db).await?;
    one(ledger::post(
        db,
        vec![movement(
            (stock.item_id, batch_id),
            wh,
            r.location_id,
            -r.quantity,
            MovementType::WriteOff,
            actor,
            Some(r.reason),
        )],
    )
    .await?)
}

fn one(mut movements: Vec<Movement>) -> Result<Movement> {
    movements
        .pop()
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("posting returned no movement")))
}
