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
    /// The deal the goods are packed for: one of the shipment's deals. Left out, the goods go
    /// to the parcel's deal, or (in a shipment of several deals) to the first of its deals
    /// that has them picked and not yet packed, split across its deals when one holds too few.
    #[serde(default)]
    pub deal_id: Option<i64>,
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
    /// The deal these goods are for (a parcel of a shipment of several deals may hold goods of
    /// several of them).
    pub deal_id: i64,
    pub item_id: i64,
    pub batch_id: Option<i64>,
    pub quantity: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Parcel {
    pub id: i64,
    /// The deal the parcel was opened for.
    pub deal_id: i64,
    /// Every deal whose goods it holds (its own deal while it is empty), in id order.
    pub deal_ids: Vec<i64>,
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
                              where c.deal_id = $1 and p.warehouse_id = $2 and c.item_id = $3
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

/// One content line as it is packed: goods of one deal, item and batch, from line `line` of the
/// request (a line may be split across the deals of a shipment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Packed {
    line: usize,
    deal_id: i64,
    item_id: i64,
    batch_id: Option<i64>,
    quantity: i64,
}

/// Puts `contents` into parcel `id` in the caller's transaction; the same deal, item and batch
/// add up. Packers of one deal take turns (the deal's row; several deals are taken in id order,
/// so two packers of the same deals never wait for each other crosswise), so the check after
/// inserting sees every other parcel of each deal and no two packers pack the same goods.
async fn insert_contents(
    tx: &mut Tx,
    id: i64,
    warehouse_id: i64,
    contents: &[Packed],
) -> Result<()> {
    let deals: std::collections::BTreeSet<i64> = contents.iter().map(|c| c.deal_id).collect();
    for deal_id in deals {
        crate::crm::deals::lock(tx, deal_id, None).await?;
    }
    for c in contents {
        on_tx!(&mut *tx, conn => {
            sqlx::query(
                "insert into parcel_contents (parcel_id, deal_id, item_id, batch_id, batch_key, quantity)
                 values ($1, $2, $3, $4, $5, $6)
                 on conflict (parcel_id, deal_id, item_id, batch_key) do update
                 set quantity = parcel_contents.quantity + excluded.quantity",
            )
            .bind(id)
            .bind(c.deal_id)
            .bind(c.item_id)
            .bind(c.batch_id)
            .bind(c.batch_id.unwrap_or(0))
            .bind(c.quantity)
            .execute(&mut *conn)
            .await?;
        });
    }
    for c in contents {
        let left: i64 = on_tx!(&mut *tx, conn => {
            sqlx::query_scalar(PACKABLE)
                .bind(c.deal_id)
                .bind(warehouse_id)
                .bind(c.item_id)
                .bind(c.batch_id.unwrap_or(0))
                .fetch_one(&mut *conn)
                .await?
        });
        if left < 0 {
            return Err(Error::conflict(
                format!("contents[{}].quantity", c.line),
                format!(
                    "another parcel of deal {} took these goods meanwhile: scan again",
                    c.deal_id
                ),
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
            let row = shipment_row(db, sid).await.map_err(|e| {
                e.missing_as_invalid("shipment_id", format!("no shipment with id {sid}"))
            })?;
            if !matches!(row.status, Status::Draft | Status::Packed) {
                return Err(Error::conflict(
                    "shipment_id",
                    format!("shipment {sid} is {}: it takes no more parcels", row.status),
                ));
            }
            let deals = deals_of(db, sid).await?;
            if let Some(given) = new.deal_id
                && !deals.contains(&given)
            {
                return Err(Error::invalid(
                    "deal_id",
                    format!("shipment {sid} carries deals {deals:?}, not deal {given}"),
                ));
            }
            if new.warehouse_id.is_some_and(|g| g != row.warehouse_id) {
                return Err(Error::invalid(
                    "warehouse_id",
                    format!("shipment {sid} has warehouse_id {}", row.warehouse_id),
                ));
            }
            Some((row, deals))
        }
        None => None,
    };
    let deal_id = new
        .deal_id
        .or(shipment.as_ref().map(|(s, _)| s.deal_id))
        .ok_or_else(|| Error::invalid("deal_id", "is required (or shipment_id)"))?;
    let warehouse_id = match new
        .warehouse_id
        .or(shipment.as_ref().map(|(s, _)| s.warehouse_id))
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
        .map_err(|e| {
            e.missing_as_invalid(
                "warehouse_id",
                format!("no warehouse with id {warehouse_id}"),
            )
        })?;
    // The deals whose goods may go in: the shipment's (its own deal first), else the parcel's.
    let candidates = match &shipment {
        Some((_, deals)) => {
            let mut c = vec![deal_id];
            c.extend(deals.iter().copied().filter(|d| *d != deal_id));
            c
        }
        None => vec![deal_id],
    };
    let contents = checked_contents(db, &candidates, warehouse_id, &new.contents).await?;
    if let Some(parent) = new.parent_id {
        let p = parcel_row(db, parent).await.map_err(|e| {
            e.missing_as_invalid("parent_id", format!("no parcel with id {parent}"))
        })?;
        if !candidates.contains(&p.deal_id) {
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
    insert_contents(&mut tx, id, warehouse_id, &contents).await?;
    if let Some(shipment_id) = new.shipment_id {
        join_shipment(&mut tx, id, shipment_id, at).await?;
    }
    tx.commit().await?;
    parcel(db, id).await
}

/// Adds goods to a parcel that has not shipped (scanned in one by one at the packing table).
/// In a shipment of several deals, goods of any of them may go in.
pub async fn add_contents(db: &Db, id: i64, lines: &[ContentLine]) -> Result<Parcel> {
    let p = parcel_row(db, id).await?;
    let mut candidates = vec![p.deal_id];
    if let Some(sid) = p.shipment_id {
        let status = shipment_row(db, sid).await?.status;
        if !matches!(status, Status::Draft | Status::Packed) {
            return Err(Error::conflict(
                "status",
                format!("parcel {id} is in a {status} shipment: it is closed"),
            ));
        }
        candidates.extend(
            deals_of(db, sid)
                .await?
                .into_iter()
                .filter(|d| *d != p.deal_id),
        );
    }
    if lines.is_empty() {
        return Err(Error::invalid("contents", "must not be empty"));
    }
    let contents = checked_contents(db, &candidates, p.warehouse_id, lines).await?;
    let mut tx = db.begin().await?;
    insert_contents(&mut tx, id, p.warehouse_id, &contents).await?;
    tx.commit().await?;
    parcel(db, id).await
}

/// The contents as packed lines, each within what its deal holds reserved in the warehouse and
/// has not packed yet (lines of one request counted together). A line naming no deal goes to
/// the first of `deals` that has the goods, split over the next ones when it holds too few.
async fn checked_contents(
    db: &Db,
    deals: &[i64],
    warehouse_id: i64,
    lines: &[ContentLine],
) -> Result<Vec<Packed>> {
    let mut contents: Vec<Packed> = Vec::new();
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
        let line_deals: Vec<i64> = match c.deal_id {
            Some(d) if deals.contains(&d) => vec![d],
            Some(d) => {
                return Err(Error::invalid(
                    field("deal_id"),
                    format!(
                        "deal {d} is not packed here: the parcel takes goods of deals {deals:?}"
                    ),
                ));
            }
            None => deals.to_vec(),
        };
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
        let mut left = quantity;
        let mut free_total = 0;
        let mut taken = Vec::new();
        for deal_id in &line_deals {
            let earlier: i64 = contents
                .iter()
                .filter(|p| p.deal_id == *deal_id && p.item_id == item_id && p.batch_id == batch_id)
                .map(|p| p.quantity)
                .sum();
            let free = packable(db, *deal_id, warehouse_id, item_id, batch_id.unwrap_or(0)).await?
                - earlier;
            free_total += free.max(0);
            let take = left.min(free.max(0));
            if take > 0 {
                taken.push(Packed {
                    line: i,
                    deal_id: *deal_id,
                    item_id,
                    batch_id,
                    quantity: take,
                });
                left -= take;
            }
            if left == 0 {
                break;
            }
        }
        if left > 0 {
            let whose = match line_deals.as_slice() {
                [one] => format!("deal {one} has"),
                _ => format!("deals {line_deals:?} have"),
            };
            return Err(Error::invalid(
                field("quantity"),
                format!("{whose} {free_total} of this item and batch picked and not yet packed"),
            ));
        }
        contents.extend(taken);
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
            "select deal_id, item_id, batch_id, quantity from parcel_contents where parcel_id = $1
             order by id",
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
    let mut deal_ids: Vec<i64> = contents.iter().map(|c| c.deal_id).collect();
    if deal_ids.is_empty() {
        deal_ids.push(r.deal_id);
    }
    deal_ids.sort_unstable();
    deal_ids.dedup();
    Parcel {
        id: r.id,
        deal_id: r.deal_id,
        deal_ids,
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
            "select c.parcel_id, c.deal_id, c.item_id, c.batch_id, c.quantity
             from parcel_contents c join parcels p on p.id = c.parcel_id
             where p.shipment_id in ({list}) order by c.parcel_id, c.id"
        );
        let mut q = sqlx::query_as::<_, (i64, i64, i64, Option<i64>, i64)>(&sql);
        for id in shipment_ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await?
    });
    let mut by_parcel: HashMap<i64, Vec<ParcelContent>> = HashMap::new();
    for (parcel_id, deal_id, item_id, batch_id, quantity) in contents {
        by_parcel.entry(parcel_id).or_default().push(ParcelContent {
            deal_id,
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
    /// The deal shipped; with `deal_ids`, one of them (the shipment's `deal_id`).
    #[serde(default)]
    pub deal_id: Option<i64>,
    /// Several deals shipped together: one customer's, from one warehouse, to one address
    /// (422 naming `deal_ids[i]` for the deal that differs).
    #[serde(default)]
    pub deal_ids: Vec<i64>,
    /// With `ready: true` and no deals given: the shipment takes every deal of this customer
    /// whose reserved goods in the warehouse are all packed, with their parcels that are in no
    /// shipment yet (the answer's `deal_ids` says which).
    #[serde(default)]
    pub customer_id: Option<i64>,
    #[serde(default)]
    pub ready: bool,
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
    /// Cash on delivery, in minor units of the deals' currency: the total collected. With
    /// several deals it is shared in proportion to the deals' values (unless `cod_shares`).
    #[serde(default)]
    pub cod_amount: Option<i64>,
    /// What each deal asks on delivery; the shipment collects their sum (which `cod_amount`,
    /// when also given, must equal).
    #[serde(default)]
    pub cod_shares: Vec<CodShare>,
    /// `true`: cash on delivery of what the deals are worth (each deal asks the sum of its
    /// lines, quantity × unit price).
    #[serde(default)]
    pub cash_on_delivery: bool,
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

/// One deal's part of a shipment's cash on delivery, in minor units of its currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub struct CodShare {
    pub deal_id: i64,
    pub cod_amount: i64,
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
    /// The deal shipped; for a shipment of several deals, the one it was created for first
    /// (all of them are in `deal_ids`).
    pub deal_id: i64,
    /// Every deal the shipment carries, in id order.
    pub deal_ids: Vec<i64>,
    pub warehouse_id: i64,
    pub status: Status,
    pub carrier: String,
    pub service_level: ServiceLevel,
    pub tracking_number: Option<String>,
    pub ship_to: ShipTo,
    pub cod_amount: Option<i64>,
    pub cod_currency: Option<String>,
    /// Each deal's part of `cod_amount` (empty without cash on delivery); the collection,
    /// `cod_collected_at`, is recorded once for the shipment and counts for every share.
    pub cod_shares: Vec<CodShare>,
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

/// A shipment in one line (exports): its deals joined by `|`, its parcels counted, and when it
/// was created, dispatched and delivered.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct ShipmentSummary {
    pub id: i64,
    #[sqlx(skip)]
    pub deal_ids: String,
    pub warehouse_id: i64,
    pub status: Status,
    pub carrier: String,
    pub service_level: ServiceLevel,
    pub tracking_number: Option<String>,
    pub ship_to_name: String,
    pub ship_to_address: String,
    pub cod_amount: Option<i64>,
    pub cod_currency: Option<String>,
    pub paid_by: PaidBy,
    pub parcels: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub dispatched_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
}

/// Shipments in id order, a page at a time, as [`ShipmentSummary`]s: two reads a page.
pub async fn summaries(
    db: &Db,
    page: crate::db::Page,
) -> Result<crate::db::Paged<ShipmentSummary>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, ShipmentSummary>(
            "select s.id, s.warehouse_id, s.status, s.carrier, s.service_level, s.tracking_number,
                    s.ship_to_name, s.ship_to_address, s.cod_amount, s.cod_currency, s.paid_by,
                    (select count(*) from parcels p where p.shipment_id = s.id) as parcels,
                    s.created_at,
                    (select min(e.at) from shipment_events e
                      where e.shipment_id = s.id and e.status = 'dispatched') as dispatched_at,
                    (select min(e.at) from shipment_events e
                      where e.shipment_id = s.id and e.status = 'delivered') as delivered_at
             from shipments s where s.id > $1 order by s.id limit $2",
        )
        .bind(page.after)
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    let mut paged = crate::db::Paged::from_rows(rows, page, |r| r.id);
    let keys = crate::db::Keys::Ids(paged.items.iter().map(|s| s.id).collect());
    let deals: Vec<(i64, i64)> = crate::db::rows_for_keys(
        db,
        "select shipment_id, deal_id from shipment_deals where {keys} order by shipment_id, deal_id",
        "shipment_id",
        &keys,
    )
    .await?;
    let mut by_shipment: HashMap<i64, Vec<String>> = HashMap::new();
    for (shipment, deal) in deals {
        by_shipment
            .entry(shipment)
            .or_default()
            .push(deal.to_string());
    }
    for s in &mut paged.items {
        s.deal_ids = by_shipment.remove(&s.id).unwrap_or_default().join("|");
    }
    Ok(paged)
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

/// The customer's name and the deal's address (else the customer's preferred shipping address,
/// else its first), as label lines.
async fn default_ship_to(db: &Db, deal_id: i64) -> Result<ShipTo> {
    let (name, line1, line2, postal, city, country) = on_read!(db, pool => {
        sqlx::query_as::<_, (String, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>)>(
            "select c.legal_name, a.line1, a.line2, a.postal_code, a.city, a.country
             from deals d join customers c on c.id = d.customer_id
             left join customer_addresses a on a.id = coalesce(d.ship_to_address_id, (
                 select id from customer_addresses where customer_id = c.id
                 order by case when preferred_shipping then 0 else 1 end, id limit 1))
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

/// The most deals one shipment carries.
pub const MAX_DEALS: usize = 100;

/// A deal as a shipment sees it.
#[derive(sqlx::FromRow)]
struct DealTerms {
    id: i64,
    customer_id: i64,
    currency: String,
    warehouse_id: Option<i64>,
    /// What the deal is worth: its lines, quantity × unit price.
    value: i64,
}

/// The deals to ship (the first is the shipment's `deal_id`) and the field each came from.
fn requested_deals(new: &NewShipment) -> Result<Vec<(i64, String)>> {
    if new.deal_ids.is_empty() {
        let deal_id = new.deal_id.ok_or_else(|| {
            Error::invalid(
                "deal_id",
                "is required (or deal_ids, or customer_id with ready)",
            )
        })?;
        return Ok(vec![(deal_id, "deal_id".into())]);
    }
    if new.deal_ids.len() > MAX_DEALS {
        return Err(Error::invalid(
            "deal_ids",
            format!("at most {MAX_DEALS} deals per shipment"),
        ));
    }
    let mut out: Vec<(i64, String)> = Vec::with_capacity(new.deal_ids.len());
    for (i, id) in new.deal_ids.iter().enumerate() {
        if out.iter().any(|(d, _)| d == id) {
            return Err(Error::invalid(
                format!("deal_ids[{i}]"),
                format!("deal {id} is listed twice"),
            ));
        }
        out.push((*id, format!("deal_ids[{i}]")));
    }
    if let Some(first) = new.deal_id {
        let at = out.iter().position(|(d, _)| *d == first).ok_or_else(|| {
            Error::invalid("deal_id", format!("deal {first} is not one of deal_ids"))
        })?;
        out.swap(0, at);
    }
    Ok(out)
}

async fn deal_terms(db: &Db, ids: &[i64]) -> Result<HashMap<i64, DealTerms>> {
    let list = crate::db::placeholders(1, ids.len());
    let rows = on_read!(db, pool => {
        let sql = format!(
            "select d.id, d.customer_id, d.currency, d.warehouse_id,
                    cast(coalesce((select sum(l.quantity * l.unit_price) from deal_lines l
                                   where l.deal_id = d.id), 0) as bigint) as value
             from deals d where d.id in ({list})"
        );
        let mut q = sqlx::query_as::<_, DealTerms>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await?
    });
    Ok(rows.into_iter().map(|d| (d.id, d)).collect())
}

/// The customer's deals that are ready to ship from a warehouse: every unit a deal holds
/// reserved there is packed, in parcels of which at least one is in no shipment yet. Answers
/// the warehouse, the deals (in id order) and those parcels.
async fn ready_deals(
    db: &Db,
    customer_id: i64,
    warehouse_id: Option<i64>,
) -> Result<(i64, Vec<i64>, Vec<i64>)> {
    let waiting = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64)>(
            "select distinct c.deal_id, p.warehouse_id from parcel_contents c
             join parcels p on p.id = c.parcel_id join deals d on d.id = c.deal_id
             where d.customer_id = $1 and p.shipment_id is null
               and ($2 is null or p.warehouse_id = $2)
             order by c.deal_id",
        )
        .bind(customer_id)
        .bind(warehouse_id)
        .fetch_all(pool)
        .await?
    });
    let mut ready: Vec<(i64, i64)> = Vec::new();
    for (deal_id, warehouse_id) in waiting {
        // Reserved there less packed there (in parcels not yet dispatched): nothing left.
        let unpacked = on_read!(db, pool => {
            sqlx::query_scalar::<_, i64>(
                "select coalesce((select cast(sum(quantity) as bigint) from reservations
                                  where deal_id = $1 and warehouse_id = $2), 0)
                      - coalesce((select cast(sum(c.quantity) as bigint) from parcel_contents c
                                  join parcels p on p.id = c.parcel_id
                                  left join shipments s on s.id = p.shipment_id
                                  where c.deal_id = $1 and p.warehouse_id = $2
                                    and (s.id is null or s.status in ('draft', 'packed'))), 0)",
            )
            .bind(deal_id)
            .bind(warehouse_id)
            .fetch_one(pool)
            .await?
        });
        if unpacked <= 0 {
            ready.push((deal_id, warehouse_id));
        }
    }
    let Some(&(_, warehouse)) = ready.first() else {
        return Err(Error::invalid(
            "customer_id",
            format!(
                "no deal of customer {customer_id} is ready: packed in full, in parcels that are in no shipment"
            ),
        ));
    };
    if ready.iter().any(|(_, w)| *w != warehouse) {
        let mut warehouses: Vec<i64> = ready.iter().map(|r| r.1).collect();
        warehouses.sort_unstable();
        warehouses.dedup();
        return Err(Error::invalid(
            "warehouse_id",
            format!(
                "customer {customer_id} has deals ready in warehouses {warehouses:?}: give warehouse_id"
            ),
        ));
    }
    let deals: Vec<i64> = ready.iter().map(|r| r.0).collect();
    let list = crate::db::placeholders(2, deals.len());
    let parcels = on_read!(db, pool => {
        let sql = format!(
            "select id from parcels where shipment_id is null and warehouse_id = $1
               and deal_id in ({list}) order by id"
        );
        let mut q = sqlx::query_scalar::<_, i64>(&sql).bind(warehouse);
        for id in &deals {
            q = q.bind(id);
        }
        q.fetch_all(pool).await?
    });
    Ok((warehouse, deals, parcels))
}

/// Each deal's part of the cash on delivery: as asked (`cod_shares`), what the deals are worth
/// (`cash_on_delivery`), or a total (`cod_amount`) shared in proportion to the deals' values
/// (evenly when they are worth nothing), the last deal taking what rounding leaves.
fn cod_split(new: &NewShipment, deals: &[&DealTerms]) -> Result<Option<Vec<(i64, i64)>>> {
    let total = new.cod_amount;
    if let Some(a) = total
        && a <= 0
    {
        return Err(Error::invalid("cod_amount", "must be greater than zero"));
    }
    let shares: Vec<(i64, i64)> = if !new.cod_shares.is_empty() {
        let mut out = Vec::with_capacity(deals.len());
        for (i, share) in new.cod_shares.iter().enumerate() {
            if !deals.iter().any(|d| d.id == share.deal_id) {
                return Err(Error::invalid(
                    format!("cod_shares[{i}].deal_id"),
                    format!("deal {} is not shipped here", share.deal_id),
                ));
            }
            if out.iter().any(|(d, _)| *d == share.deal_id) {
                return Err(Error::invalid(
                    format!("cod_shares[{i}].deal_id"),
                    format!("deal {} is listed twice", share.deal_id),
                ));
            }
            if share.cod_amount < 0 {
                return Err(Error::invalid(
                    format!("cod_shares[{i}].cod_amount"),
                    "must not be negative",
                ));
            }
            out.push((share.deal_id, share.cod_amount));
        }
        for d in deals {
            if !out.iter().any(|(id, _)| *id == d.id) {
                out.push((d.id, 0));
            }
        }
        let sum: i64 = out.iter().map(|s| s.1).sum();
        if total.is_some_and(|t| t != sum) {
            return Err(Error::invalid(
                "cod_amount",
                format!("is not the sum of cod_shares ({sum})"),
            ));
        }
        out
    } else if let Some(total) = total {
        let worth: i64 = deals.iter().map(|d| d.value.max(0)).sum();
        let mut left = total;
        let mut out = Vec::with_capacity(deals.len());
        for (i, d) in deals.iter().enumerate() {
            let share = if i + 1 == deals.len() {
                left
            } else if worth > 0 {
                (i128::from(total) * i128::from(d.value.max(0)) / i128::from(worth)) as i64
            } else {
                total / deals.len() as i64
            };
            left -= share;
            out.push((d.id, share));
        }
        out
    } else if new.cash_on_delivery {
        deals.iter().map(|d| (d.id, d.value.max(0))).collect()
    } else {
        return Ok(None);
    };
    if shares.iter().map(|s| s.1).sum::<i64>() <= 0 {
        return Err(Error::invalid(
            "cod_amount",
            "cash on delivery must come to more than zero",
        ));
    }
    Ok(Some(shares))
}

pub async fn create(db: &Db, mut new: NewShipment, user_id: Option<i64>) -> Result<Shipment> {
    if new.ready && new.deal_id.is_none() && new.deal_ids.is_empty() {
        let customer_id = new
            .customer_id
            .ok_or_else(|| Error::invalid("customer_id", "is required with ready"))?;
        let (warehouse, deals, parcels) = ready_deals(db, customer_id, new.warehouse_id).await?;
        new.warehouse_id = Some(warehouse);
        new.deal_ids = deals;
        if new.parcel_ids.is_empty() {
            new.parcel_ids = parcels;
        }
    }
    let requested = requested_deals(&new)?;
    let ids: Vec<i64> = requested.iter().map(|r| r.0).collect();
    let terms = deal_terms(db, &ids).await?;
    let mut deals: Vec<&DealTerms> = Vec::with_capacity(requested.len());
    for (id, field) in &requested {
        deals.push(
            terms
                .get(id)
                .ok_or_else(|| Error::invalid(field.clone(), format!("no deal with id {id}")))?,
        );
    }
    let first = deals[0];
    let warehouse_id = match new.warehouse_id {
        Some(w) => w,
        None => default_warehouse(db, first.id, &new.parcel_ids).await?,
    };
    new.warehouse_id = Some(warehouse_id);
    let ship_to_of_first = default_ship_to(db, first.id).await;
    if let Some(customer) = new.customer_id
        && first.customer_id != customer
    {
        return Err(Error::invalid(
            requested[0].1.clone(),
            format!("deal {} is not customer {customer}'s", first.id),
        ));
    }
    for ((id, field), deal) in requested.iter().zip(&deals).skip(1) {
        if deal.customer_id != first.customer_id {
            return Err(Error::invalid(
                field.clone(),
                format!(
                    "deal {id} is customer {}'s, deal {} customer {}'s: a shipment carries one customer's deals",
                    deal.customer_id, first.id, first.customer_id
                ),
            ));
        }
        if let Some(w) = deal.warehouse_id
            && w != warehouse_id
        {
            return Err(Error::invalid(
                field.clone(),
                format!(
                    "deal {id} is fulfilled from warehouse {w}, the shipment leaves from warehouse {warehouse_id}"
                ),
            ));
        }
        if let (Ok(a), Ok(b)) = (&ship_to_of_first, default_ship_to(db, *id).await)
            && a.address != b.address
        {
            return Err(Error::invalid(
                field.clone(),
                format!(
                    "deal {id} goes to another address than deal {}: a shipment goes to one address",
                    first.id
                ),
            ));
        }
        if deal.currency != first.currency
            && (new.cod_amount.is_some() || new.cash_on_delivery || !new.cod_shares.is_empty())
        {
            return Err(Error::invalid(
                field.clone(),
                format!(
                    "deal {id} is in {}, deal {} in {}: cash on delivery is collected in one currency",
                    deal.currency, first.id, first.currency
                ),
            ));
        }
    }
    let carrier = new.carrier.clone().unwrap_or_else(|| "own_fleet".into());
    carriers::by_name(&carrier)
        .ok_or_else(|| Error::invalid("carrier", format!("no carrier named '{carrier}'")))?;
    let shares = cod_split(&new, &deals)?;
    let cod_amount = shares.as_ref().map(|s| s.iter().map(|s| s.1).sum::<i64>());
    let currency = first.currency.clone();
    let ship_to = match new.ship_to.clone() {
        Some(t) => {
            let mut checks = Checks::new();
            checks.text("ship_to.name", &t.name, 200);
            checks.text("ship_to.address", &t.address, 1000);
            checks.finish()?;
            t
        }
        None => ship_to_of_first?,
    };
    for (i, id) in new.parcel_ids.iter().enumerate() {
        let p = parcel_row(db, *id).await.map_err(|e| {
            e.missing_as_invalid(
                format!("parcel_ids[{i}]"),
                format!("no parcel with id {id}"),
            )
        })?;
        if !ids.contains(&p.deal_id) || p.warehouse_id != warehouse_id {
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
        .bind(first.id)
        .bind(new.warehouse_id)
        .bind(status.as_str())
        .bind(&carrier)
        .bind(new.service_level)
        .bind(ship_to.name.trim())
        .bind(ship_to.address.trim())
        .bind(cod_amount)
        .bind(cod_amount.map(|_| currency.clone()))
        .bind(new.paid_by)
        .bind(user_id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await?;
        for deal in &ids {
            let share = shares
                .as_ref()
                .and_then(|s| s.iter().find(|s| s.0 == *deal))
                .map(|s| s.1);
            sqlx::query(
                "insert into shipment_deals (shipment_id, deal_id, cod_amount) values ($1, $2, $3)",
            )
            .bind(id)
            .bind(deal)
            .bind(share)
            .execute(&mut *tx)
            .await?;
        }
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

/// The deals shipment `id` carries, in id order.
pub async fn deals_of(db: &Db, id: i64) -> Result<Vec<i64>> {
    Ok(on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>(
            "select deal_id from shipment_deals where shipment_id = $1
             union select deal_id from shipments where id = $1 order by 1",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
    }))
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
    let mut deals: HashMap<i64, Vec<(i64, Option<i64>)>> = HashMap::new();
    if !ids.is_empty() {
        let list = crate::db::placeholders(1, ids.len());
        let found = on_read!(db, pool => {
            let sql = format!(
                "select shipment_id, deal_id, cod_amount from shipment_deals
                 where shipment_id in ({list}) order by shipment_id, deal_id"
            );
            let mut q = sqlx::query_as::<_, (i64, i64, Option<i64>)>(&sql);
            for id in &ids {
                q = q.bind(id);
            }
            q.fetch_all(pool).await?
        });
        for (shipment_id, deal_id, cod) in found {
            deals.entry(shipment_id).or_default().push((deal_id, cod));
        }
    }
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
        .map(|r| {
            let carried = deals
                .remove(&r.id)
                .unwrap_or_else(|| vec![(r.deal_id, r.cod_amount)]);
            (r, carried)
        })
        .map(|(r, carried)| Shipment {
            parcels: parcels.remove(&r.id).unwrap_or_default(),
            events: events.remove(&r.id).unwrap_or_default(),
            id: r.id,
            deal_id: r.deal_id,
            deal_ids: carried.iter().map(|d| d.0).collect(),
            cod_shares: match r.cod_amount {
                Some(_) => carried
                    .iter()
                    .filter_map(|&(deal_id, cod)| {
                        cod.map(|cod_amount| CodShare {
                            deal_id,
                            cod_amount,
                        })
                    })
                    .collect(),
                None => Vec::new(),
            },
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
    // Every reservation the shipment's deals hold in the warehouse, read once; each content
    // line takes from its own deal's reservations of its item and batch, largest first, what
    // earlier lines left.
    let list = crate::db::placeholders(2, shipment.deal_ids.len());
    let mut held = on_read!(db, pool => {
        let sql = format!(
            "select id, deal_id, item_id, batch_key, location_id, quantity from reservations
             where warehouse_id = $1 and deal_id in ({list}) and quantity > 0
             order by quantity desc, id"
        );
        let mut q = sqlx::query_as::<_, (i64, i64, i64, i64, i64, i64)>(&sql)
            .bind(shipment.warehouse_id);
        for deal in &shipment.deal_ids {
            q = q.bind(deal);
        }
        q.fetch_all(pool).await?
    });
    certificates_check(db, &shipment.parcels).await?;
    let mut movements = Vec::new();
    for parcel in &shipment.parcels {
        for c in &parcel.contents {
            let batch_key = c.batch_id.unwrap_or(0);
            let mut left = c.quantity;
            for (reservation, deal, item, key, location, quantity) in held.iter_mut() {
                if left == 0 {
                    break;
                }
                if *deal != c.deal_id || *item != c.item_id || *key != batch_key || *quantity == 0 {
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
                    deal_id: Some(c.deal_id),
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
                        "parcel {} holds {left} more of item {} than deal {} has reserved",
                        parcel.code, c.item_id, c.deal_id
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
    // The answer is the shipment read above with what this transaction changed, not a second
    // read of its 100 parcels: a packed shipment's parcels no longer change, and the
    // conditional update proved nothing else did.
    let mut shipment = shipment;
    shipment.status = Status::Dispatched;
    shipment.tracking_number = Some(tracking);
    shipment.events.push(Event {
        status: Status::Dispatched.as_str().into(),
        source: "api".into(),
        note: None,
        at,
    });
    Ok((shipment, posted))
}

/// The certificate check for every item and batch the parcels hold: one query finds which of
/// the items need a certificate (usually none), and only those are checked one by one.
async fn certificates_check(db: &Db, parcels: &[Parcel]) -> Result<()> {
    let mut items: Vec<i64> = parcels
        .iter()
        .flat_map(|p| p.contents.iter().map(|c| c.item_id))
        .collect();
    items.sort_unstable();
    items.dedup();
    if items.is_empty() {
        return Ok(());
    }
    let list = crate::db::placeholders(1, items.len());
    let needing: Vec<i64> = on_read!(db, pool => {
        let sql = format!("select id from items where requires_certificate and id in ({list})");
        let mut q = sqlx::query_scalar::<_, i64>(&sql);
        for item in &items {
            q = q.bind(item);
        }
        q.fetch_all(pool).await?
    });
    let mut checked = std::collections::HashSet::new();
    for c in parcels.iter().flat_map(|p| &p.contents) {
        if needing.contains(&c.item_id) && checked.insert((c.item_id, c.batch_id)) {
            certificate_check(db, c.item_id, c.batch_id).await?;
        }
    }
    Ok(())
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
/// Delivering a cash-on-delivery shipment records the payment as collected (once, for every
/// deal's share). Answers the deals the shipment carries: what follows (each deal moving on
/// when all of it is delivered) is the caller's.
pub async fn set_status_in(
    tx: &mut Tx,
    id: i64,
    to: Status,
    source: &str,
    note: Option<&str>,
) -> Result<Vec<i64>> {
    let from = on_tx!(&mut *tx, conn => {
        sqlx::query_scalar::<_, Status>("select status from shipments where id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
    })
    .ok_or_else(|| Error::not_found("shipment", id))?;
    let deal_ids = on_tx!(&mut *tx, conn => {
        sqlx::query_scalar::<_, i64>(
            "select deal_id from shipment_deals where shipment_id = $1
             union select deal_id from shipments where id = $1 order by 1",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
    });
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
    Ok(deal_ids)
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

/// The data of a shipment's delivery note (template `delivery-note`): its lines grouped by deal
/// (in deal order, parcel and line order within a deal). With several deals, each deal's lines
/// follow a heading row naming the deal's reference and title, and `deals` lists them.
pub async fn delivery_note_data(db: &Db, id: i64) -> Result<serde_json::Value> {
    let shipment = shipment_row(db, id).await?;
    let warehouse = crate::catalog::warehouses::get(db, shipment.warehouse_id).await?;
    // Every content line with its deal, item and batch, by deal: one query.
    type Line = (
        i64,
        String,
        Option<String>,
        String,
        String,
        String,
        Option<String>,
        Option<time::Date>,
        i64,
    );
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, Line>(
            "select c.deal_id, d.title, d.customer_reference, i.code, i.name, i.unit, b.code,
                    b.expiry_date, c.quantity
             from parcel_contents c join parcels p on p.id = c.parcel_id
             join deals d on d.id = c.deal_id
             join items i on i.id = c.item_id left join batches b on b.id = c.batch_id
             where p.shipment_id = $1 order by c.deal_id, p.id, c.id",
        )
        .bind(id)
        .fetch_all(pool)
        .await?
    });
    let mut deals: Vec<serde_json::Value> = Vec::new();
    type Group = (i64, String, Option<String>, Vec<serde_json::Value>);
    let mut groups: Vec<Group> = Vec::new();
    for (deal_id, title, customer_reference, code, name, unit, batch, expiry, quantity) in rows {
        if groups.last().is_none_or(|g| g.0 != deal_id) {
            groups.push((deal_id, title, customer_reference, Vec::new()));
        }
        if let Some(group) = groups.last_mut() {
            group.3.push(serde_json::json!({
                "item_code": code, "item_name": name, "batch": batch,
                "expiry": expiry.map(|d| d.to_string()), "quantity": quantity, "unit": unit,
                "deal_reference": format!("DPT-DEAL-{deal_id}"),
            }));
        }
    }
    let several = groups.len() > 1;
    let mut lines: Vec<serde_json::Value> = Vec::new();
    for (deal_id, title, customer_reference, group) in groups {
        let reference = format!("DPT-DEAL-{deal_id}");
        if several {
            let heading = match &customer_reference {
                Some(r) => format!("{title} (your ref. {r})"),
                None => title.clone(),
            };
            lines.push(serde_json::json!({"item_code": reference, "item_name": heading}));
        }
        deals.push(serde_json::json!({
            "reference": reference, "title": title, "customer_reference": customer_reference,
            "lines": group.clone(),
        }));
        lines.extend(group);
    }
    Ok(serde_json::json!({
        "document": {"number": format!("DN-{id}"), "date": crate::db::now().date().to_string()},
        "deal": {"reference": format!("DPT-DEAL-{}", shipment.deal_id)},
        "deals": deals,
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
) -> Result<Vec<i64>> {
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
    let deal_ids = set_status_in(tx, id, Status::Returned, "api", note.as_deref()).await?;
    let contents: Vec<&ParcelContent> = shipment
        .parcels
        .iter()
        .flat_map(|p| p.contents.iter())
        .collect();
    let deals: Vec<Option<i64>> = contents.iter().map(|c| Some(c.deal_id)).collect();
    let lines = contents
        .iter()
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
        &deals,
        actor,
    )
    .await?;
    Ok(deal_ids)
}

/// The deal's shipments, oldest first, with parcels and status history, including shipments it
/// shares with other deals of its customer: of those, only the parcels that hold its goods,
/// only its own content lines, and only its share of the cash on delivery.
pub async fn of_deal(db: &Db, deal_id: i64) -> Result<Vec<Shipment>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, ShipmentRow>(&format!(
            "select {SHIPMENT_COLUMNS} from shipments
             where deal_id = $1 or id in (select shipment_id from shipment_deals where deal_id = $1)
             order by id"
        ))
        .bind(deal_id)
        .fetch_all(pool)
        .await?
    });
    let mut shipments = complete(db, rows).await?;
    for s in shipments.iter_mut().filter(|s| s.deal_ids.len() > 1) {
        s.cod_shares.retain(|c| c.deal_id == deal_id);
        s.parcels.retain_mut(|p| {
            p.contents.retain(|c| c.deal_id == deal_id);
            !p.contents.is_empty() || p.deal_id == deal_id
        });
    }
    Ok(shipments)
}

/// Delivered per item for the deal: the contents of its delivered shipments.
pub async fn delivered_by_item(tx: &mut Tx, deal_id: i64) -> Result<Vec<(i64, i64)>> {
    Ok(on_tx!(tx, tx => {
        sqlx::query_as::<_, (i64, i64)>(
            "select c.item_id, cast(sum(c.quantity) as bigint) from parcel_contents c
             join parcels p on p.id = c.parcel_id join shipments s on s.id = p.shipment_id
             where c.deal_id = $1 and s.status = 'delivered' group by c.item_id",
        )
        .bind(deal_id)
        .fetch_all(&mut *tx)
        .await?
    }))
}
