//! Warehouses and their locations (bins), each bin with its own barcode and pick-route position.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::catalog::suppliers::check_code;
use crate::db::{Db, Keys, Page, Paged, now, rows_for_keys};
use crate::error::{Checks, Error, Result};
use crate::{in_tx, on_read};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Warehouse {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub address: String,
    /// The user answerable for this warehouse.
    pub responsible_user_id: Option<i64>,
    /// The printer (a device of kind `printer`) that prints parcels' logistic labels when a
    /// shipment from here is dispatched.
    pub label_printer_id: Option<i64>,
    /// The printer for documents (the delivery note) on dispatch.
    pub document_printer_id: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

const WAREHOUSE_COLUMNS: &str = "id, code, name, address, responsible_user_id, label_printer_id,
    document_printer_id, created_at, updated_at";

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewWarehouse {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub responsible_user_id: Option<i64>,
    /// Prints parcels' logistic labels on dispatch: a device of kind `printer`, not revoked.
    #[serde(default)]
    pub label_printer_id: Option<i64>,
    /// Prints the delivery note on dispatch: a device of kind `printer`, not revoked.
    #[serde(default)]
    pub document_printer_id: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct WarehousePatch {
    pub name: Option<String>,
    pub address: Option<String>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub responsible_user_id: Option<Option<i64>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub label_printer_id: Option<Option<i64>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub document_printer_id: Option<Option<i64>>,
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Location {
    pub id: i64,
    pub warehouse_id: i64,
    pub code: String,
    /// What the bin's label encodes; unique across all warehouses.
    pub barcode: String,
    /// Position on the pick route: pickers walk bins in ascending order.
    pub pick_sequence: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

const LOCATION_COLUMNS: &str =
    "id, warehouse_id, code, barcode, pick_sequence, created_at, updated_at";

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewLocation {
    pub code: String,
    /// Defaults to `<warehouse code>-<location code>`.
    #[serde(default)]
    pub barcode: Option<String>,
    #[serde(default)]
    pub pick_sequence: i64,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LocationPatch {
    pub barcode: Option<String>,
    pub pick_sequence: Option<i64>,
}

async fn check_user(db: &Db, user_id: Option<i64>) -> Result<()> {
    if let Some(id) = user_id {
        crate::auth::users::get(db, id).await.map_err(|e| {
            e.missing_as_invalid("responsible_user_id", format!("no user with id {id}"))
        })?;
    }
    Ok(())
}

async fn check_printers(db: &Db, label: Option<i64>, document: Option<i64>) -> Result<()> {
    for (field, id) in [
        ("label_printer_id", label),
        ("document_printer_id", document),
    ] {
        if let Some(id) = id {
            crate::auth::devices::check_printer(db, field, id).await?;
        }
    }
    Ok(())
}

/// Creates a warehouse (with its dispatch printers, if given).
pub async fn create(db: &Db, new: NewWarehouse) -> Result<Warehouse> {
    let mut checks = Checks::new();
    check_code(&mut checks, "code", &new.code);
    checks.text("name", &new.name, 200);
    checks.max_len("address", &new.address, 1000);
    checks.finish()?;
    check_user(db, new.responsible_user_id).await?;
    check_printers(db, new.label_printer_id, new.document_printer_id).await?;
    let at = now();
    Ok(in_tx!(db, tx => {
        sqlx::query_as::<_, Warehouse>(&format!(
            "insert into warehouses (code, name, address, responsible_user_id, label_printer_id,
                 document_printer_id, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $7) returning {WAREHOUSE_COLUMNS}"
        ))
        .bind(new.code.trim())
        .bind(new.name.trim())
        .bind(new.address.trim())
        .bind(new.responsible_user_id)
        .bind(new.label_printer_id)
        .bind(new.document_printer_id)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| Error::from(e).on_unique("code", "a warehouse with this code already exists"))?
    }))
}

pub async fn get(db: &Db, id: i64) -> Result<Warehouse> {
    on_read!(db, pool => {
        sqlx::query_as::<_, Warehouse>(&format!("select {WAREHOUSE_COLUMNS} from warehouses where id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    })
    .ok_or_else(|| Error::not_found("warehouse", id))
}

/// The warehouse with this code, if any.
pub async fn by_code(db: &Db, code: &str) -> Result<Option<Warehouse>> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, Warehouse>(&format!(
            "select {WAREHOUSE_COLUMNS} from warehouses where code = $1"
        ))
        .bind(code)
        .fetch_optional(pool)
        .await?
    }))
}

pub async fn list(db: &Db, page: Page) -> Result<Paged<Warehouse>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, Warehouse>(&format!(
            "select {WAREHOUSE_COLUMNS} from warehouses where id > $1 order by id limit $2"
        ))
        .bind(page.after)
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    Ok(Paged::from_rows(rows, page, |w| w.id))
}

pub async fn update(db: &Db, id: i64, patch: WarehousePatch) -> Result<Warehouse> {
    let current = get(db, id).await?;
    let name = patch.name.unwrap_or(current.name);
    let address = patch.address.unwrap_or(current.address);
    let responsible = patch
        .responsible_user_id
        .unwrap_or(current.responsible_user_id);
    let mut checks = Checks::new();
    checks.text("name", &name, 200);
    checks.max_len("address", &address, 1000);
    checks.finish()?;
    check_user(db, responsible).await?;
    // Only a printer given now is checked: one configured earlier and revoked since does not
    // block changing the name.
    check_printers(
        db,
        patch.label_printer_id.flatten(),
        patch.document_printer_id.flatten(),
    )
    .await?;
    let label_printer = patch.label_printer_id.unwrap_or(current.label_printer_id);
    let document_printer = patch
        .document_printer_id
        .unwrap_or(current.document_printer_id);
    Ok(in_tx!(db, tx => {
        sqlx::query_as::<_, Warehouse>(&format!(
            "update warehouses set name = $2, address = $3, responsible_user_id = $4,
                 label_printer_id = $5, document_printer_id = $6, updated_at = $7
             where id = $1 returning {WAREHOUSE_COLUMNS}"
        ))
        .bind(id)
        .bind(name.trim())
        .bind(address.trim())
        .bind(responsible)
        .bind(label_printer)
        .bind(document_printer)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?
    }))
}

fn check_barcode(checks: &mut Checks, barcode: &str) {
    checks.text("barcode", barcode, 80);
    checks.check(
        barcode.chars().all(|c| c.is_ascii_graphic()),
        "barcode",
        "must be printable ASCII without spaces",
    );
    // A bin label must never be mistaken for a product or a Depot document when scanned.
    checks.check(
        crate::barcode::gs1::interpret(barcode).is_err(),
        "barcode",
        "reads as GS1 data (a GTIN or AI string); choose a code that cannot be mistaken for a product",
    );
    checks.check(
        crate::barcode::internal::parse(barcode).is_none(),
        "barcode",
        "DPT-<KIND>-<ID> codes are reserved for Depot's documents",
    );
}

pub async fn create_location(db: &Db, warehouse_id: i64, new: NewLocation) -> Result<Location> {
    let warehouse = get(db, warehouse_id).await?;
    let barcode = new
        .barcode
        .clone()
        .map(|b| b.trim().to_string())
        .unwrap_or_else(|| format!("{}-{}", warehouse.code, new.code.trim()));
    let mut checks = Checks::new();
    check_code(&mut checks, "code", &new.code);
    check_barcode(&mut checks, &barcode);
    checks.non_negative("pick_sequence", Some(new.pick_sequence));
    checks.finish()?;
    let at = now();
    let code = new.code.trim().to_string();
    Ok(in_tx!(db, tx => {
        let taken = sqlx::query_scalar::<_, i64>(
            "select count(*) from locations where warehouse_id = $1 and code = $2",
        )
        .bind(warehouse_id)
        .bind(&code)
        .fetch_one(&mut *tx)
        .await?;
        if taken > 0 {
            return Err(Error::conflict("code", "this warehouse already has a location with this code"));
        }
        sqlx::query_as::<_, Location>(&format!(
            "insert into locations (warehouse_id, code, barcode, pick_sequence, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $5) returning {LOCATION_COLUMNS}"
        ))
        .bind(warehouse_id)
        .bind(&code)
        .bind(&barcode)
        .bind(new.pick_sequence)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| Error::from(e).on_unique("barcode", "another location already has this barcode"))?
    }))
}

pub async fn location(db: &Db, id: i64) -> Result<Location> {
    on_read!(db, pool => {
        sqlx::query_as::<_, Location>(&format!("select {LOCATION_COLUMNS} from locations where id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    })
    .ok_or_else(|| Error::not_found("location", id))
}

/// The locations of the ids `keys`, in id order; an id that names no location is left out.
pub async fn locations_by_ids(db: &Db, keys: &Keys) -> Result<Vec<Location>> {
    rows_for_keys(
        db,
        &format!("select {LOCATION_COLUMNS} from locations where {{keys}} order by id"),
        "id",
        keys,
    )
    .await
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LocationFilter {
    pub warehouse_id: Option<i64>,
    pub barcode: Option<String>,
    pub code: Option<String>,
}

/// Locations in pick-route order within a warehouse (then by id); pages by id.
pub async fn list_locations(
    db: &Db,
    filter: &LocationFilter,
    page: Page,
) -> Result<Paged<Location>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, Location>(&format!(
            "select {LOCATION_COLUMNS} from locations
             where id > $1 and ($2 is null or warehouse_id = $2) and ($3 is null or barcode = $3)
               and ($4 is null or code = $4)
             order by id limit $5"
        ))
        .bind(page.after)
        .bind(filter.warehouse_id)
        .bind(filter.barcode.as_deref())
        .bind(filter.code.as_deref())
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    Ok(Paged::from_rows(rows, page, |l| l.id))
}

pub async fn update_location(db: &Db, id: i64, patch: LocationPatch) -> Result<Location> {
    let current = location(db, id).await?;
    let barcode = patch
        .barcode
        .map(|b| b.trim().to_string())
        .unwrap_or(current.barcode);
    let sequence = patch.pick_sequence.unwrap_or(current.pick_sequence);
    let mut checks = Checks::new();
    check_barcode(&mut checks, &barcode);
    checks.non_negative("pick_sequence", Some(sequence));
    checks.finish()?;
    Ok(in_tx!(db, tx => {
        sqlx::query_as::<_, Location>(&format!(
            "update locations set barcode = $2, pick_sequence = $3, updated_at = $4
             where id = $1 returning {LOCATION_COLUMNS}"
        ))
        .bind(id)
        .bind(&barcode)
        .bind(sequence)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| Error::from(e).on_unique("barcode", "another location already has this barcode"))?
    }))
}

/// The location whose label carries `barcode`.
pub async fn location_by_barcode(db: &Db, barcode: &str) -> Result<Option<Location>> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, Location>(&format!(
            "select {LOCATION_COLUMNS} from locations where barcode = $1"
        ))
        .bind(barcode)
        .fetch_optional(pool)
        .await?
    }))
}

/// The id of the only warehouse, when there is exactly one (what callers may leave out).
pub async fn only_warehouse(db: &Db) -> Result<Option<i64>> {
    let ids = on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>("select id from warehouses order by id limit 2")
            .fetch_all(pool)
            .await?
    });
    Ok(if ids.len() == 1 { Some(ids[0]) } else { None })
}
