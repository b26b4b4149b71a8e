//! Packing and shipping: parcels (each with a fresh SSCC; pallets hold parcels) filled with a
//! deal's picked goods, and shipments that carry them to the customer through a carrier.
//! Dispatching posts `ship` movements that consume the deal's reservations, in one
//! transaction with the status change; every status change is kept as an event.

pub mod api;
pub mod carriers;
pub mod documents;
pub mod returns;

pub use documents::{label_data, labels};

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::db::{Db, Tx, now};
use crate::error::{Checks, Error, Result};
use crate::stock::ledger::{self, Movement, MovementType, NewMovement};
use crate::stock::operations::Actor;
use crate::{in_tx, on_read, on_tx};

/// Goods going into a parcel: scanned (`scan`: a GS1 code with GTIN and batch, or an
/// EAN/alias with `batch`; `quantity` counts packs, default 1) or given (`item_id`, `batch` or
/// `batch_id`, `quantity` in base units).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ContentLine {
    #[serde(default)]
    pub item_id: Option<i64>,
    #[serde(default)]
    pub batch_id: Option<i64>,
    #[serde(default)]
    pub batch: Option<String>,
    #[serde(default)]
    pub quantity: Option<i64>,
    /// What the packer scanned; resolved by the scanning layer before packing. Also accepted
    /// as `data` or `barcode`.
    #[serde(default, alias = "data", alias = "barcode")]
    pub scan: Option<String>,
    /// The scanner's profile (symbology prefixes), as for `POST /v1/scans`.
    #[serde(default)]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
pub struct Dimensions {
    #[serde(alias = "length")]
    pub length_cm: f64,
    #[serde(alias = "width")]
    pub width_cm: f64,
    #[serde(alias = "height")]
    pub height_cm: f64,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewParcel {
    /// The deal whose picked goods go in (or the shipment's deal).
    #[serde(default)]
    pub deal_id: Option<i64>,
    /// Default: the shipment's warehouse, else the deal's (or the only one).
    #[serde(default)]
    pub warehouse_id: Option<i64>,
    /// Packs the parcel straight into this shipment (`draft` or `packed`; it becomes `packed`).
    #[serde(default)]
    pub shipment_id: Option<i64>,
    /// `box` (default), `envelope`, `pallet`...
    #[serde(default = "default_package_type")]
    pub package_type: String,
    #[serde(default)]
    pub weight_kg: Option<f64>,
    #[serde(default)]
    pub dimensions: Option<Dimensions>,
    /// The pallet this parcel goes on.
    #[serde(default)]
    pub parent_id: Option<i64>,
    /// What goes in: picked goods of the deal (reserved for it in the warehouse).
    #[serde(default)]
    pub contents: Vec<ContentLine>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct ParcelContent {
    pub item_id: i64,
    pub batch_id: Option<i64>,
    pub quantity: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Parcel {
    pub id: i64,
    pub deal_id: i64,
    pub warehouse_id: i64,
    pub shipment_id: Option<i64>,
    pub parent_id: Option<i64>,
    /// The parcel's barcode: its SSCC when it has one, else Depot's own `DPT-PARCEL-<id>`.
    /// Either scans back to this parcel.
    pub code: String,
    /// The Serial Shipping Container Code, made when a GS1 Company Prefix is configured
    /// (`DEPOT_GS1_COMPANY_PREFIX`); `null` without one.
    pub sscc: Option<String>,
    pub package_type: String,
    pub weight_kg: Option<f64>,
    pub dimensions: Option<Dimensions>,
    pub contents: Vec<ParcelContent>,
}

#[derive(sqlx::FromRow)]
struct ParcelRow {
    id: i64,
    deal_id: i64,
    warehouse_id: i64,
    shipment_id: Option<i64>,
    parent_id: Option<i64>,
    sscc: Option<String>,
    package_type: String,
    weight_g: Option<i64>,
    length_mm: Option<i64>,
    width_mm: Option<i64>,
    height_mm: Option<i64>,
}

/// What a deal holds reserved in a warehouse of an item and batch key, less what is already in
/// its parcels that have not shipped ($1 deal, $2 warehouse, $3 item, $4 batch key).
const PACKABLE: &str = "select coalesce((select cast(sum(quantity) as bigint) from reservations
                              where deal_id = $1 and warehouse_id = $2 and item_id = $3
                                and batch_key = $4), 0)
                  - coalesce((select cast(sum(c.quantity) as bigint) from parcel_contents c
                              join parcels p on p.id = c.parcel_id
                              left join shipments s on s.id = p.shipment_id
                              where p.deal_id = $1 and p.warehouse_id = $2 and c.item_id = $3
                                and c.batch_key = $4
                                and (s.id is null or s.status in ('draft', 'packed'))), 0)";

/// [`PACKABLE`], read before packing to name the offending line.
async fn packable(
    db: &Db,
    deal_id: i64,
    warehouse_id: i64,
    item_id: i64,
    batch_key: i64,
) -> Result<i64> {
    Ok(on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>(PACKABLE)
        .bind(deal_id)
        .bind(warehouse_id)
        .bind(item_id)
        .bind(batch_key)
        .fetch_one(pool)
        .await?
    }))
}

fn mm(cm: f64) -> i64 {
    (cm * 10.0).round() as i64
}

/// Puts `contents` ((item, batch, quantity)) into parcel `id` in the caller's transaction; the
/// same item and batch add up. Packers of one deal take turns (the deal's row), so the check
/// after inserting sees every other parcel of the deal and no two packers pack the same goods.
async fn insert_contents(
    tx: &mut Tx,
    id: i64,
    deal_id: i64,
    warehouse_id: i64,
    contents: &[(i64, Option<i64>, i64)],
) -> Result<()> {
    crate::crm::deals::lock(tx, deal_id, None).await?;
    for (item, batch, quantity) in contents {
        on_tx!(&mut *tx, conn => {
            sqlx::query(
                "insert into parcel_contents (parcel_id, item_id, batch_id, batch_key, quantity)
                 values ($1, $2, $3, $4, $5)
                 on conflict (parcel_id, item_id, batch_key) do update
                 set quantity = parcel_contents.quantity + excluded.quantity",
            )
            .bind(id)
            .bind(item)
            .bind(batch)
            .bind(batch.unwrap_or(0))
            .bind(quantity)
            .execute(&mut *conn)
            .await?;
        });
    }
    for (i, (item, batch, _)) in contents.iter().enumerate() {
        let left: i64 = on_tx!(&mut *tx, conn => {
            sqlx::query_scalar(PACKABLE)
                .bind(deal_id)
                .bind(warehouse_id)
                .bind(item)
                .bind(batch.unwrap_or(0))
                .fetch_one(&mut *conn)
                .await?
        });
        if left < 0 {
            return Err(Error::conflict(
                format!("contents[{i}].quantity"),
                "another parcel of the deal took these goods meanwhile: scan again",
            ));
        }
    }
    Ok(())
}

/// Puts parcel `id` into shipment `shipment_id` (which must not have left), which becomes
/// `packed` with its first parcel.
async fn join_shipment(tx: &mut Tx, id: i64, shipment_id: i64, at: OffsetDateTime) -> Result<()> {
    let joined = on_tx!(&mut *tx, conn => {
        sqlx::query(
            "update parcels set shipment_id = $1 where id = $2
               and exists (select 1 from shipments where id = $1 and status in ('draft', 'packed'))",
        )
        .bind(shipment_id)
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if joined != 1 {
        return Err(Error::conflict(
            "shipment_id",
            format!("shipment {shipment_id} was dispatched meanwhile"),
        ));
    }
    let packed = on_tx!(&mut *tx, conn => {
        sqlx::query(
            "update shipments set status = 'packed', updated_at = $1 where id = $2 and status = 'draft'",
        )
        .bind(at)
        .bind(shipment_id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if packed == 1 {
        record_event(tx, shipment_id, Status::Packed, "api", None, at).await?;
    }
    Ok(())
}

/// Turns scanned contents into items, batches and base units (packs × units per pack), with
/// errors named `contents[i].…`.
pub async fn resolve_scans(
    scanning: &crate::scanning::Scanning,
    db: &Db,
    caller: &crate::scanning::Caller,
    contents: &mut [ContentLine],
) -> Result<()> {
    for (i, c) in contents.iter_mut().enumerate() {
        let Some(scan) = c.scan.take() else {
            continue;
        };
        let prefix = format!("contents[{i}]");
        if c.item_id.is_some() || c.batch_id.is_some() {
            return Err(Error::invalid(
                format!("{prefix}.scan"),
                "give either scan (with batch) or item_id",
            ));
        }
        let result = scanning
            .scan_field(db, caller, scan, c.profile.take())
            .await
            .map_err(|e| e.within(&prefix))?;
        match result
            .target(c.batch.take(), "packed")
            .map_err(|e| e.within(&prefix))?
        {
            crate::scanning::Target::Goods {
                item_id,
                per_pack,
                batch,
                ..
            } => {
                c.item_id = Some(item_id);
                c.batch = batch;
                c.quantity = Some(c.quantity.unwrap_or(1).saturating_mul(per_pack));
            }
            crate::scanning::Target::Location(_) => {
                return Err(Error::invalid(
                    format!("{prefix}.scan"),
                    "a location barcode cannot be packed: scan the goods",
                ));
            }
        }
    }
    Ok(())
}

/// Creates a parcel with its contents, and a fresh SSCC when a GS1 Company Prefix is given.
pub async fn create_parcel(
    db: &Db,
    new: NewParcel,
    prefix: Option<&str>,
    extension: u8,
) -> Result<Parcel> {
    let mut checks = Checks::new();
    checks.text("package_type", &new.package_type, 50);
    if let Some(w) = new.weight_kg {
        checks.check(
            w > 0.0 && w <= 100_000.0,
            "weight_kg",
            "must be between 0 and 100000",
        );
    }
    if let Some(d) = new.dimensions {
        for (f, v) in [
            ("dimensions.length_cm", d.length_cm),
            ("dimensions.width_cm", d.width_cm),
            ("dimensions.height_cm", d.height_cm),
        ] {
            checks.check(v > 0.0 && v <= 10_000.0, f, "must be between 0 and 10000");
        }
    }
    checks.finish()?;
    let shipment = match new.shipment_id {
        Some(sid) => {
            let row = shipment_row(db, sid)
                .await
                .map_err(|_| Error::invalid("shipment_id", format!("no shipment with id {sid}")))?;
            if !matches!(row.status, Status::Draft | Status::Packed) {
                return Err(Error::conflict(
                    "shipment_id",
                    format!("shipment {sid} is {}: it takes no more parcels", row.status),
                ));
            }
            for (field, given, own) in [
                ("deal_id", new.deal_id, row.deal_id),
                ("warehouse_id", new.warehouse_id, row.warehouse_id),
            ] {
                if given.is_some_and(|g| g != own) {
                    return Err(Error::invalid(
                        field,
                        format!("shipment {sid} has {field} {own}"),
                    ));
                }
            }
            Some(row)
        }
        None => None,
    };
    let deal_id = new
        .deal_id
        .or(shipment.as_ref().map(|s| s.deal_id))
        .ok_or_else(|| Error::invalid("deal_id", "is required (or shipment_id)"))?;
    let warehouse_id = match new
        .warehouse_id
        .or(shipment.as_ref().map(|s| s.warehouse_id))
    {
        Some(w) => w,
        None => default_warehouse(db, deal_id, &[]).await?,
    };
    if crate::crm::deals::title_of(db, deal_id).await?.is_none() {
        return Err(Error::invalid(
            "deal_id",
            format!("no deal with id {deal_id}"),
        ));
    }
    crate::catalog::warehouses::get(db, warehouse_id)
        .await
        .map_err(|_| {
            Error::invalid(
                "warehouse_id",
                format!("no warehouse with id {warehouse_id}"),
            )
        })?;
    let contents = checked_contents(db, deal_id, warehouse_id, &new.contents).await?;
    if let Some(parent) = new.parent_id {
        let p = parcel_row(db, parent)
            .await
            .map_err(|_| Error::invalid("parent_id", format!("no parcel with id {parent}")))?;
        if p.deal_id != deal_id {
            return Err(Error::invalid(
                "parent_id",
                "the pallet belongs to another deal",
            ));
        }
    }
    let at = now();
    let mut tx = db.begin().await?;
    // Without a GS1 Company Prefix the parcel still has its identity (`DPT-PARCEL-<id>`).
    let sscc = match prefix {
        Some(_) => Some(crate::labels::sscc::next_in(&mut tx, prefix, extension).await?),
        None => None,
    };
    let id = on_tx!(&mut tx, conn => {
        sqlx::query_scalar::<_, i64>(
            "insert into parcels (deal_id, warehouse_id, parent_id, sscc, package_type, weight_g,
                 length_mm, width_mm, height_mm, created_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id",
        )
        .bind(deal_id)
        .bind(warehouse_id)
        .bind(new.parent_id)
        .bind(&sscc)
        .bind(new.package_type.trim())
        .bind(new.weight_kg.map(|w| (w * 1000.0).round() as i64))
        .bind(new.dimensions.map(|d| mm(d.length_cm)))
        .bind(new.dimensions.map(|d| mm(d.width_cm)))
        .bind(new.dimensions.map(|d| mm(d.height_cm)))
        .bind(at)
        .fetch_one(&mut *conn)
        .await?
    });
    insert_contents(&mut tx, id, deal_id, warehouse_id, &contents).await?;
    if let Some(shipment_id) = new.shipment_id {
        join_shipment(&mut tx, id, shipment_id, at).await?;
    }
    tx.commit().await?;
    parcel(db, id).await
}

/// Adds goods to a parcel that has not shipped (scanned in one by one at the packing table).
pub async fn add_contents(db: &Db, id: i64, lines: &[ContentLine]) -> Result<Parcel> {
    let p = parcel_row(db, id).await?;
    if let Some(sid) = p.shipment_id {
        let status = shipment_row(db, sid).await?.status;
        if !matches!(status, Status::Draft | Status::Packed) {
            return Err(Error::conflict(
                "status",
                format!("parcel {id} is in a {status} shipment: it is closed"),
            ));
        }
    }
    if lines.is_empty() {
        return Err(Error::invalid("contents", "must not be empty"));
    }
    let contents = checked_contents(db, p.deal_id, p.warehouse_id, lines).await?;
    let mut tx = db.begin().await?;
    insert_contents(&mut tx, id, p.deal_id, p.warehouse_id, &contents).await?;
    tx.commit().await?;
    parcel(db, id).await
}

/// The contents as (item, batch, quantity), each within what the deal holds reserved in the
/// warehouse and has not packed yet (lines of one request counted together).
async fn checked_contents(
    db: &Db,
    deal_id: i64,
    warehouse_id: i64,
    lines: &[ContentLine],
) -> Result<Vec<(i64, Option<i64>, i64)>> {
    let mut contents: Vec<(i64, Option<i64>, i64)> = Vec::new();
    for (i, c) in lines.iter().enumerate() {
        let field = |f: &str| format!("contents[{i}].{f}");
        let item_id = c
            .item_id
            .ok_or_else(|| Error::invalid(field("item_id"), "is required (or scan)"))?;
        let quantity = c
            .quantity
            .ok_or_else(|| Error::invalid(field("quantity"), "is required"))?;
        if quantity <= 0 {
            return Err(Error::invalid(
                field("quantity"),
                "must be greater than zero",
            ));
        }
        let batch_id = match (c.batch_id, c.batch.as_deref()) {
            (Some(id), _) => Some(id),
            (None, Some(code)) => Some(
                crate::stock::batches::by_code(db, item_id, code.trim())
                    .await?
                    .ok_or_else(|| {
                        Error::invalid(
                            field("batch"),
                            format!("item {item_id} has no batch '{code}'"),
                        )
                    })?
                    .id,
            ),
            (None, None) => None,
        };
        let earlier: i64 = contents
            .iter()
            .filter(|(it, b, _)| *it == item_id && *b == batch_id)
            .map(|c| c.2)
            .sum();
        let free =
            packable(db, deal_id, warehouse_id, item_id, batch_id.unwrap_or(0)).await? - earlier;
        if quantity > free {
            return Err(Error::invalid(
                field("quantity"),
                format!(
                    "deal {deal_id} has {} of this item and batch picked and not yet packed",
                    free.max(0)
                ),
            ));
        }
        contents.push((item_id, batch_id, quantity));
    }
    Ok(contents)
}

async fn parcel_row(db: &Db, id: i64) -> Result<ParcelRow> {
    on_read!(db, pool => {
        sqlx::query_as::<_, ParcelRow>(
            "select id, deal_id, warehouse_id, shipment_id, parent_id, sscc, package_type, weight_g,
                    length_mm, width_mm, height_mm from parcels where id = $1",
        )
        .bind(id)
        .fetch_optional(pool)
        .await?
    })
    .ok_or_else(|| Error::not_found("parcel", id))
}

pub async fn parcel(db: &Db, id: i64) -> Result<Parcel> {
    let r = parcel_row(db, id).await?;
    let contents = on_read!(db, pool => {
        sqlx::query_as::<_, ParcelContent>(
            "select item_id, batch_id, quantity from parcel_contents where parcel_id = $1 order by id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
    });
    Ok(to_parcel(r, contents))
}

/// A parcel's barcode: the SSCC when it has one, else `DPT-PARCEL-<id>`.
pub fn parcel_code(id: i64, sscc: Option<&str>) -> String {
    match sscc {
        Some(sscc) => sscc.to_string(),
        None => crate::barcode::internal::DocumentCode {
            kind: crate::barcode::internal::DocumentKind::Parcel,
            id,
        }
        .to_string(),
    }
}

fn to_parcel(r: ParcelRow, contents: Vec<ParcelContent>) -> Parcel {
    Parcel {
        id: r.id,
        deal_id: r.deal_id,
        warehouse_id: r.warehouse_id,
        shipment_id: r.shipment_id,
        parent_id: r.parent_id,
        code: parcel_code(r.id, r.sscc.as_deref()),
        sscc: r.sscc,
        package_type: r.package_type,
        weight_kg: r.weight_g.map(|g| g as f64 / 1000.0),
        dimensions: match (r.length_mm, r.width_mm, r.height_mm) {
            (Some(l), Some(w), Some(h)) => Some(Dimensions {
                length_cm: l as f64 / 10.0,
                width_cm: w as f64 / 10.0,
                height_cm: h as f64 / 10.0,
            }),
            _ => None,
        },
        contents,
    }
}

/// A shipment's parcels with their contents, in id order: two queries however many parcels.
/// The parcels of the given shipments (with their contents), by shipment: two queries.
async fn parcels_of(db: &Db, shipment_ids: &[i64]) -> Result<HashMap<i64, Vec<Parcel>>> {
    let mut out: HashMap<i64, Vec<Parcel>> = HashMap::new();
    if shipment_ids.is_empty() {
        return Ok(out);
    }
    let list = crate::db::placeholders(1, shipment_ids.len());
    let rows = on_read!(db, pool => {
        let sql = format!(
            "select id, deal_id, warehouse_id, shipment_id, parent_id, sscc, package_type, weight_g,
                    length_mm, width_mm, height_mm from parcels where shipment_id in ({list})
             order by id"
        );
        let mut q = sqlx::query_as::<_, ParcelRow>(&sql);
        for id in shipment_ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await?
    });
    let contents = on_read!(db, pool => {
        let sql = format!(
            "select c.parcel_id, c.item_id, c.batch_id, c.quantity
             from parcel_contents c join parcels p on p.id = c.parcel_id
             where p.shipment_id in ({list}) order by c.parcel_id, c.id"
        );
        let mut q = sqlx::query_as::<_, (i64, i64, Option<i64>, i64)>(&sql);
        for id in shipment_ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await?
    });
    let mut by_parcel: HashMap<i64, Vec<ParcelContent>> = HashMap::new();
    for (parcel_id, item_id, batch_id, quantity) in contents {
        by_parcel.entry(parcel_id).or_default().push(ParcelContent {
            item_id,
            batch_id,
            quantity,
        });
    }
    for r in rows {
        let contents = by_parcel.remove(&r.id).unwrap_or_default();
        if let Some(shipment_id) = r.shipment_id {
            out.entry(shipment_id)
                .or_default()
                .push(to_parcel(r, contents));
        }
    }
    Ok(out)
}

crate::text_enum!(
    /// Where a shipment is: being packed, on its way, and how it ended.
    #[schema(as = ShipmentStatus)]
    pub Status {
        Draft = "draft",
        Packed = "packed",
        Dispatched = "dispatched",
        InTransit = "in_transit",
        Delivered = "delivered",
        FailedDelivery = "failed_delivery",
        Returned = "returned",
    }
);

impl Status {
    /// The statuses a shipment may go to from this one (after dispatch, through the API or the
    /// carrier's webhook).
    fn next(self) -> &'static [Status] {
        match self {
            Status::Dispatched => &[Status::InTransit, Status::Delivered, Status::FailedDelivery],
            Status::InTransit => &[Status::Delivered, Status::FailedDelivery],
            Status::FailedDelivery => &[Status::InTransit, Status::Delivered, Status::Returned],
            _ => &[],
        }
    }
}

crate::text_enum!(
    /// How fast the carrier delivers.
    pub ServiceLevel { Express = "express", Economy = "economy" }
);

crate::text_enum!(
    /// Who pays for the shipping.
    pub PaidBy { Sender = "sender", Recipient = "recipient" }
);

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct ShipTo {
    pub name: String,
    /// Lines separated by newlines.
    pub address: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewShipment {
    pub deal_id: i64,
    /// Default: the parcels' warehouse, else the deal's (or the only one).
    #[serde(default)]
    pub warehouse_id: Option<i64>,
    /// Default: the customer and its preferred shipping address.
    #[serde(default)]
    pub ship_to: Option<ShipTo>,
    /// Default `own_fleet`.
    #[serde(default)]
    pub carrier: Option<String>,
    /// Default `economy`.
    #[serde(default = "default_service_level")]
    pub service_level: ServiceLevel,
    /// Cash on delivery, in minor units of the deal's currency.
    #[serde(default)]
    pub cod_amount: Option<i64>,
    /// Default `sender`.
    #[serde(default = "default_paid_by")]
    pub paid_by: PaidBy,
    /// Parcels of the deal not yet in a shipment; the shipment is `packed` when given.
    #[serde(default, alias = "parcels")]
    pub parcel_ids: Vec<i64>,
}

fn default_package_type() -> String {
    "box".into()
}

fn default_service_level() -> ServiceLevel {
    ServiceLevel::Economy
}

fn default_paid_by() -> PaidBy {
    PaidBy::Sender
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Event {
    pub status: String,
    pub source: String,
    pub note: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shipment {
    pub id: i64,
    pub deal_id: i64,
    pub warehouse_id: i64,
    pub status: Status,
    pub carrier: String,
    pub service_level: ServiceLevel,
    pub tracking_number: Option<String>,
    pub ship_to: ShipTo,
    pub cod_amount: Option<i64>,
    pub cod_currency: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub cod_collected_at: Option<OffsetDateTime>,
    pub paid_by: PaidBy,
    pub parcels: Vec<Parcel>,
    pub events: Vec<Event>,
}

#[derive(sqlx::FromRow)]
struct ShipmentRow {
    id: i64,
    deal_id: i64,
    warehouse_id: i64,
    status: Status,
    carrier: String,
    service_level: ServiceLevel,
    tracking_number: Option<String>,
    ship_to_name: String,
    ship_to_address: String,
    cod_amount: Option<i64>,
    cod_currency: Option<String>,
    cod_collected_at: Option<OffsetDateTime>,
    paid_by: PaidBy,
}

/// The warehouse of a shipment given none: its first parcel's, else the deal's (set when it
/// was reserved), else the only warehouse.
async fn default_warehouse(db: &Db, deal_id: i64, parcel_ids: &[i64]) -> Result<i64> {
    if let Some(first) = parcel_ids.first()
        && let Ok(p) = parcel_row(db, *first).await
    {
        return Ok(p.warehouse_id);
    }
    let of_deal = on_read!(db, pool => {
        sqlx::query_scalar::<_, Option<i64>>("select warehouse_id from deals where id = $1")
            .bind(deal_id)
            .fetch_optional(pool)
            .await?
    })
    .flatten();
    match of_deal {
        Some(w) => Ok(w),
        None => crate::catalog::warehouses::only_warehouse(db)
            .await?
            .ok_or_else(|| {
                Error::invalid("warehouse_id", "is required: there are several warehouses")
            }),
    }
}

/// The customer's name and preferred shipping address (or its first), as label lines.
async fn default_ship_to(db: &Db, deal_id: i64) -> Result<ShipTo> {
    let (name, line1, line2, postal, city, country) = on_read!(db, pool => {
        sqlx::query_as::<_, (String, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>)>(
            "select c.legal_name, a.line1, a.line2, a.postal_code, a.city, a.country
             from deals d join customers c on c.id = d.customer_id
             left join customer_addresses a on a.id = (
                 select id from customer_addresses where customer_id = c.id
                 order by case when preferred_shipping then 0 else 1 end, id limit 1)
             where d.id = $1",
        )
        .bind(deal_id)
        .fetch_optional(pool)
        .await?
    })
    .ok_or_else(|| Error::invalid("deal_id", format!("no deal with id {deal_id}")))?;
    let Some(line1) = line1 else {
        return Err(Error::invalid(
            "ship_to",
            "the customer has no address: give ship_to",
        ));
    };
    let mut lines = vec![line1];
    lines.extend(line2);
    lines.push(
        [postal.unwrap_or_default(), city.unwrap_or_default()]
            .join(" ")
            .trim()
            .to_string(),
    );
    lines.extend(country);
    Ok(ShipTo {
        name,
        address: lines.join("\n"),
    })
}

pub async fn create(db: &Db, mut new: NewShipment, user_id: Option<i64>) -> Result<Shipment> {
    let warehouse_id = match new.warehouse_id {
        Some(w) => w,
        None => default_warehouse(db, new.deal_id, &new.parcel_ids).await?,
    };
    new.warehouse_id = Some(warehouse_id);
    let carrier = new.carrier.clone().unwrap_or_else(|| "own_fleet".into());
    carriers::by_name(&carrier)
        .ok_or_else(|| Error::invalid("carrier", format!("no carrier named '{carrier}'")))?;
    if let Some(a) = new.cod_amount
        && a <= 0
    {
        return Err(Error::invalid("cod_amount", "must be greater than zero"));
    }
    let currency = on_read!(db, pool => {
        sqlx::query_scalar::<_, String>("select currency from deals where id = $1")
            .bind(new.deal_id)
            .fetch_optional(pool)
            .await?
    })
    .ok_or_else(|| Error::invalid("deal_id", format!("no deal with id {}", new.deal_id)))?;
    let ship_to = match new.ship_to.clone() {
        Some(t) => {
            let mut checks = Checks::new();
            checks.text("ship_to.name", &t.name, 200);
            checks.text("ship_to.address", &t.address, 1000);
            checks.finish()?;
            t
        }
        None => default_ship_to(db, new.deal_id).await?,
    };
    for (i, id) in new.parcel_ids.iter().enumerate() {
        let p = parcel_row(db, *id).await.map_err(|_| {
            Error::invalid(
                format!("parcel_ids[{i}]"),
                format!("no parcel with id {id}"),
            )
        })?;
        if p.deal_id != new.deal_id || p.warehouse_id != warehouse_id {
            return Err(Error::invalid(
                format!("parcel_ids[{i}]"),
                "belongs to another deal or warehouse",
            ));
        }
        if p.shipment_id.is_some() {
            return Err(Error::conflict(
                format!("parcel_ids[{i}]"),
                format!("parcel {id} is already in a shipment"),
            ));
        }
    }
    let at = now();
    let status = if new.parcel_ids.is_empty() {
        Status::Draft
    } else {
        Status::Packed
    };
    let id = in_tx!(db, tx => {
        let id: i64 = sqlx::query_scalar(
            "insert into shipments (deal_id, warehouse_id, status, carrier, service_level,
                 ship_to_name, ship_to_address, cod_amount, cod_currency, paid_by, created_by,
                 created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) returning id",
        )
        .bind(new.deal_id)
        .bind(new.warehouse_id)
        .bind(status.as_str())
        .bind(&carrier)
        .bind(new.service_level)
        .bind(ship_to.name.trim())
        .bind(ship_to.address.trim())
        .bind(new.cod_amount)
        .bind(new.cod_amount.map(|_| currency.clone()))
        .bind(new.paid_by)
        .bind(user_id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        for parcel in &new.parcel_ids {
            let changed = sqlx::query(
                "update parcels set shipment_id = $1 where id = $2 and shipment_id is null",
            )
            .bind(id)
            .bind(parcel)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed != 1 {
                return Err(Error::conflict("parcel_ids", format!("parcel {parcel} joined another shipment meanwhile")));
            }
        }
        sqlx::query("insert into shipment_events (shipment_id, status, source, note, at) values ($1, $2, 'api', null, $3)")
            .bind(id)
            .bind(status.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        id
    });
    get(db, id).await
}

const SHIPMENT_COLUMNS: &str = "id, deal_id, warehouse_id, status, carrier, service_level,
    tracking_number, ship_to_name, ship_to_address, cod_amount, cod_currency, cod_collected_at,
    paid_by";

async fn shipment_row(db: &Db, id: i64) -> Result<ShipmentRow> {
    on_read!(db, pool => {
        sqlx::query_as::<_, ShipmentRow>(&format!(
            "select {SHIPMENT_COLUMNS} from shipments where id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await?
    })
    .ok_or_else(|| Error::not_found("shipment", id))
}

pub async fn get(db: &Db, id: i64) -> Result<Shipment> {
    let row = shipment_row(db, id).await?;
    complete(db, vec![row])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("shipment", id))
}

/// Shipments with their parcels and status history, in the order of `rows`: three queries
/// whatever their number.
async fn complete(db: &Db, rows: Vec<ShipmentRow>) -> Result<Vec<Shipment>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut parcels = parcels_of(db, &ids).await?;
    let mut events: HashMap<i64, Vec<Event>> = HashMap::new();
    if !ids.is_empty() {
        let list = crate::db::placeholders(1, ids.len());
        let found = on_read!(db, pool => {
            let sql = format!(
                "select shipment_id, status, source, note, at from shipment_events
                 where shipment_id in ({list}) order by id"
            );
            let mut q = sqlx::query_as::<_, (i64, String, String, Option<String>, OffsetDateTime)>(&sql);
            for id in &ids {
                q = q.bind(id);
            }
            q.fetch_all(pool).await?
        });
        for (shipment_id, status, source, note, at) in found {
            events.entry(shipment_id).or_default().push(Event {
                status,
                source,
                note,
                at,
            });
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| Shipment {
            parcels: parcels.remove(&r.id).unwrap_or_default(),
            events: events.remove(&r.id).unwrap_or_default(),
            id: r.id,
            deal_id: r.deal_id,
            warehouse_id: r.warehouse_id,
            status: r.status,
            carrier: r.carrier,
            service_level: r.service_level,
            tracking_number: r.tracking_number,
            ship_to: ShipTo {
                name: r.ship_to_name,
                address: r.ship_to_address,
            },
            cod_amount: r.cod_amount,
            cod_currency: r.cod_currency,
            cod_collected_at: r.cod_collected_at,
            paid_by: r.paid_by,
        })
        .collect())
}

/// Dispatches a packed shipment: the carrier issues the tracking number; every parcel's
/// contents leave the warehouse as `ship` movements consuming the deal's reservations, in one
/// transaction with the status change. Items that need a certificate must have one recorded
/// (on the production order that made their batch).
pub async fn dispatch(db: &Db, id: i64, actor: Actor) -> Result<(Shipment, Vec<Movement>)> {
    let shipment = get(db, id).await?;
    if shipment.status != Status::Packed {
        return Err(Error::conflict(
            "status",
            format!(
                "shipment {id} is {}: only a packed shipment is dispatched",
                shipment.status.as_str()
            ),
        ));
    }
    let carrier = carriers::by_name(&shipment.carrier)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("carrier {} vanished", shipment.carrier)))?;
    // Every reservation the deal holds in the warehouse, read once; each content line takes
    // from its item and batch's reservations, largest first, what earlier lines left.
    let mut held = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64, i64, i64, i64)>(
            "select id, item_id, batch_key, location_id, quantity from reservations
             where deal_id = $1 and warehouse_id = $2 and quantity > 0
             order by quantity desc, id",
        )
        .bind(shipment.deal_id)
        .bind(shipment.warehouse_id)
        .fetch_all(pool)
        .await?
    });
    let mut checked = std::collections::HashSet::new();
    let mut movements = Vec::new();
    for parcel in &shipment.parcels {
        for c in &parcel.contents {
            if checked.insert((c.item_id, c.batch_id)) {
                certificate_check(db, c.item_id, c.batch_id).await?;
            }
            let batch_key = c.batch_id.unwrap_or(0);
            let mut left = c.quantity;
            for (reservation, item, key, location, quantity) in held.iter_mut() {
                if left == 0 {
                    break;
                }
                if *item != c.item_id || *key != batch_key || *quantity == 0 {
                    continue;
                }
                let take = left.min(*quantity);
                movements.push(NewMovement {
                    item_id: c.item_id,
                    batch_id: c.batch_id,
                    warehouse_id: shipment.warehouse_id,
                    location_id: *location,
                    quantity: -take,
                    kind: MovementType::Ship,
                    user_id: actor.user_id,
                    device_id: actor.device_id,
                    document_type: Some("shipment".into()),
                    document_id: Some(id),
                    deal_id: Some(shipment.deal_id),
                    note: Some(format!("parcel {}", parcel.code)),
                    reservation_id: Some(*reservation),
                });
                *quantity -= take;
                left -= take;
            }
            if left > 0 {
                return Err(Error::conflict(
                    "parcels",
                    format!(
                        "parcel {} holds {left} more of item {} than the deal has reserved",
                        parcel.code, c.item_id
                    ),
                ));
            }
        }
    }
    let tracking = carrier.book(&shipment).await?;
    let at = now();
    let mut tx = db.begin().await?;
    let changed = on_tx!(&mut tx, conn => {
        sqlx::query(
            "update shipments set status = 'dispatched', tracking_number = $1, updated_at = $2
             where id = $3 and status = 'packed'",
        )
        .bind(&tracking)
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if changed == 0 {
        return Err(Error::conflict(
            "status",
            format!("shipment {id} changed meanwhile"),
        ));
    }
    record_event(&mut tx, id, Status::Dispatched, "api", None, at).await?;
    let posted = ledger::post_in(&mut tx, movements).await?;
    tx.commit().await?;
    Ok((get(db, id).await?, posted))
}

/// Refuses to ship an item that needs a certificate unless its batch has one recorded (by
/// quality release, `PATCH /v1/batches/{id}`, or the production order that made it). An item
/// not tracked by batch needs a certificate on a production order of it.
async fn certificate_check(db: &Db, item_id: i64, batch_id: Option<i64>) -> Result<()> {
    let (needed, recorded) = on_read!(db, pool => {
        sqlx::query_as::<_, (bool, i64)>(
            "select i.requires_certificate,
                    (select count(*) from batches b where b.id = $2 and b.certificate is not null)
                  + (select count(*) from stock_movements m
                     join production_orders o on o.id = m.document_id
                     where m.movement_type = 'production_output'
                       and m.document_type = 'production_order' and m.item_id = i.id
                       and (m.batch_id = $2 or $2 is null) and o.certificate is not null)
             from items i where i.id = $1",
        )
        .bind(item_id)
        .bind(batch_id)
        .fetch_one(pool)
        .await?
    });
    if needed && recorded == 0 {
        return Err(Error::conflict(
            "parcels",
            format!(
                "item {item_id} needs a certificate before shipping and none is recorded for its batch"
            ),
        ));
    }
    Ok(())
}

/// A status change after dispatch, from the API or the carrier, in the caller's transaction.
/// Delivering a cash-on-delivery shipment records the payment as collected. Answers the deal
/// the shipment belongs to: what follows (the deal moving on when all is delivered) is the
/// caller's.
pub async fn set_status_in(
    tx: &mut Tx,
    id: i64,
    to: Status,
    source: &str,
    note: Option<&str>,
) -> Result<i64> {
    let (from, deal_id) = on_tx!(&mut *tx, conn => {
        sqlx::query_as::<_, (Status, i64)>("select status, deal_id from shipments where id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
    })
    .ok_or_else(|| Error::not_found("shipment", id))?;
    if !from.next().contains(&to) {
        return Err(Error::conflict(
            "status",
            format!("a {} shipment cannot become {}", from.as_str(), to.as_str()),
        ));
    }
    let at = now();
    let changed = on_tx!(&mut *tx, conn => {
        sqlx::query(
            "update shipments set status = $1, updated_at = $2,
                 cod_collected_at = case when $1 = 'delivered' and cod_amount is not null
                                         then $2 else cod_collected_at end
             where id = $3 and status = $4",
        )
        .bind(to.as_str())
        .bind(at)
        .bind(id)
        .bind(from.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if changed == 0 {
        return Err(Error::conflict(
            "status",
            format!("shipment {id} changed meanwhile"),
        ));
    }
    record_event(tx, id, to, source, note, at).await?;
    Ok(deal_id)
}

/// Keeps a status change in the shipment's history.
async fn record_event(
    tx: &mut Tx,
    id: i64,
    status: Status,
    source: &str,
    note: Option<&str>,
    at: time::OffsetDateTime,
) -> Result<()> {
    on_tx!(tx, conn => {
        sqlx::query(
            "insert into shipment_events (shipment_id, status, source, note, at)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(source)
        .bind(note)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

/// The shipment a carrier's tracking number belongs to.
pub async fn by_tracking(db: &Db, carrier: &str, tracking: &str) -> Result<i64> {
    on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>(
            "select id from shipments where carrier = $1 and tracking_number = $2",
        )
        .bind(carrier)
        .bind(tracking)
        .fetch_optional(pool)
        .await?
    })
    .ok_or_else(|| {
        Error::invalid(
            "tracking_number",
            format!("no {carrier} shipment with tracking number {tracking}"),
        )
    })
}

/// A parcel's label, its template and data: the GS1 logistic label with ship-from (the
/// warehouse), ship-to (its shipment's), the SSCC, its number in the shipment, and the content's
/// GTIN, count and batch when it holds one item; or, for a parcel without an SSCC, the shipping
/// label with Depot's own parcel code (see [`documents::label_data`]).
pub async fn parcel_label(db: &Db, id: i64) -> Result<documents::ParcelLabel> {
    let parcel = parcel_row(db, id).await?;
    let Some(shipment_id) = parcel.shipment_id else {
        return Err(Error::conflict(
            "shipment_id",
            "put the parcel in a shipment first: its label needs the ship-to address",
        ));
    };
    documents::label_data(db, shipment_id)
        .await?
        .into_iter()
        .find(|l| l.parcel_id == id)
        .ok_or_else(|| Error::not_found("parcel", id))
}

/// The data of a shipment's delivery note (template `delivery-note`).
pub async fn delivery_note_data(db: &Db, id: i64) -> Result<serde_json::Value> {
    let shipment = shipment_row(db, id).await?;
    let warehouse = crate::catalog::warehouses::get(db, shipment.warehouse_id).await?;
    // Every content line with its item and batch, in parcel and line order: one query.
    type Line = (
        String,
        String,
        String,
        Option<String>,
        Option<time::Date>,
        i64,
    );
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, Line>(
            "select i.code, i.name, i.unit, b.code, b.expiry_date, c.quantity
             from parcel_contents c join parcels p on p.id = c.parcel_id
             join items i on i.id = c.item_id left join batches b on b.id = c.batch_id
             where p.shipment_id = $1 order by p.id, c.id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
    });
    let lines: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|(code, name, unit, batch, expiry, quantity)| {
            serde_json::json!({
                "item_code": code, "item_name": name, "batch": batch,
                "expiry": expiry.map(|d| d.to_string()), "quantity": quantity, "unit": unit,
            })
        })
        .collect();
    Ok(serde_json::json!({
        "document": {"number": format!("DN-{id}"), "date": crate::db::now().date().to_string()},
        "deal": {"reference": format!("DPT-DEAL-{}", shipment.deal_id)},
        "ship_from": {"name": warehouse.name, "address": warehouse.address},
        "ship_to": {"name": shipment.ship_to_name, "address": shipment.ship_to_address},
        "shipment": {"tracking": shipment.tracking_number},
        "lines": lines,
    }))
}

/// A failed delivery comes back whole, in the caller's transaction: the shipment becomes
/// `returned` and every parcel's contents go back into their batches at `location_id`, booked
/// as one return of the deal against the shipment.
pub async fn return_whole_in(
    tx: &mut Tx,
    db: &Db,
    id: i64,
    location_id: Option<i64>,
    note: Option<String>,
    actor: Actor,
) -> Result<i64> {
    let shipment = get(db, id).await?;
    if shipment.status != Status::FailedDelivery {
        return Err(Error::conflict(
            "status",
            format!(
                "a {} shipment cannot become returned",
                shipment.status.as_str()
            ),
        ));
    }
    // The status changes first: a second return of the same shipment loses the race here.
    let deal_id = set_status_in(tx, id, Status::Returned, "api", note.as_deref()).await?;
    let lines = shipment
        .parcels
        .iter()
        .flat_map(|p| p.contents.iter())
        .map(|c| returns::ReturnLine {
            item_id: c.item_id,
            batch_id: c.batch_id,
            batch: None,
            quantity: c.quantity,
            condition: returns::Condition::Good,
            reason: Some("failed delivery".into()),
        })
        .collect();
    returns::create_in(
        tx,
        db,
        returns::NewReturn {
            deal_id: Some(shipment.deal_id),
            shipment_id: Some(id),
            warehouse_id: Some(shipment.warehouse_id),
            location_id,
            lines,
            note,
        },
        actor,
    )
    .await?;
    Ok(deal_id)
}

/// The deal's shipments, oldest first, with parcels and status history.
pub async fn of_deal(db: &Db, deal_id: i64) -> Result<Vec<Shipment>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, ShipmentRow>(&format!(
            "select {SHIPMENT_COLUMNS} from shipments where deal_id = $1 order by id"
        ))
        .bind(deal_id)
        .fetch_all(pool)
        .await?
    });
    complete(db, rows).await
}

/// Delivered per item for the deal: the contents of its delivered shipments.
pub async fn delivered_by_item(tx: &mut Tx, deal_id: i64) -> Result<Vec<(i64, i64)>> {
    Ok(on_tx!(tx, tx => {
        sqlx::query_as::<_, (i64, i64)>(
            "select c.item_id, cast(sum(c.quantity) as bigint) from parcel_contents c
             join parcels p on p.id = c.parcel_id join shipments s on s.id = p.shipment_id
             where s.deal_id = $1 and s.status = 'delivered' group by c.item_id",
        )
        .bind(deal_id)
        .fetch_all(&mut *tx)
        .await?
    }))
}
