//! Imports: a CSV file of one kind of record, every row checked, applied all or none. Rows match
//! existing records by their natural key (an item's code, a warehouse's code, a location's
//! warehouse and code): a matching row that differs updates the record, one that agrees changes
//! nothing, so importing the same file twice changes nothing. Each row goes through the owning
//! domain's own create and update, so an import refuses exactly what the API refuses.
//!
//! In a request, the rows are applied in its one transaction. A dry run, or a file with any bad
//! row, is applied just the same and then discarded ([`crate::db::request::discard`]): the
//! answer tells what would happen, including refusals only the database finds, and nothing is
//! kept.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::catalog::items::{self, BomLine, GtinInput, Item, ItemFilter, ItemPatch, NewItem};
use crate::catalog::suppliers::{self, NewSupplier, SupplierPatch};
use crate::catalog::warehouses::{
    self, Location, LocationFilter, LocationPatch, NewLocation, NewWarehouse, Warehouse,
    WarehousePatch,
};
use crate::crm::customers::{self, CustomerPatch, NewCustomer};
use crate::crm::visibility::Viewer;
use crate::db::{Db, Page};
use crate::error::{Error, FieldError, Result};
use crate::stock::ledger::{self as stock_ledger, LedgerFilter};
use crate::stock::operations::Actor;
use crate::stock::receipts::{self, NewReceipt, ReceiptLine};
use crate::transfer::csv_in::Table;

/// The note every opening-stock receipt carries: how a row finds what it posted before.
pub const OPENING_NOTE: &str = "opening stock";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Items,
    Boms,
    Suppliers,
    Customers,
    Warehouses,
    Locations,
    OpeningStock,
}

/// A documented column: its name, whether every row needs it, what it holds.
pub struct Column {
    pub name: &'static str,
    pub required: bool,
    pub about: &'static str,
    pub example: &'static str,
}

const fn col(
    name: &'static str,
    required: bool,
    about: &'static str,
    example: &'static str,
) -> Column {
    Column {
        name,
        required,
        about,
        example,
    }
}

const ITEM_COLUMNS: &[Column] = &[
    col("code", true, "the item's code, its natural key", "YOG-500"),
    col("name", true, "", "Greek yoghurt 500 g"),
    col("unit", false, "base unit (default pcs)", "pcs"),
    col(
        "tracking",
        false,
        "none, batch or serial (default none)",
        "batch",
    ),
    col("shelf_life_days", false, "", "28"),
    col("min_remaining_shelf_life_days", false, "", "7"),
    col(
        "source",
        false,
        "purchased or manufactured (default purchased)",
        "manufactured",
    ),
    col(
        "supplier_id",
        false,
        "the supplier's id (or give supplier_code)",
        "",
    ),
    col(
        "supplier_code",
        false,
        "the supplier by its code, instead of supplier_id",
        "",
    ),
    col("requires_certificate", false, "true or false", "false"),
    col("lead_time_days", false, "", "2"),
    col(
        "gtins",
        false,
        "GTINs per packaging level: gtin*quantity joined by |, a bare GTIN counts 1",
        "09506000134352*1|09506000134369*12",
    ),
];

/// One component line per row; an item's rows together are its whole bill of materials.
const BOM_COLUMNS: &[Column] = &[
    col(
        "item_code",
        true,
        "the manufactured item the bill belongs to",
        "MUESLI-BAR",
    ),
    col(
        "component_code",
        true,
        "a component item's code",
        "OATS-1KG",
    ),
    col(
        "quantity",
        true,
        "base units of the component per base unit of the item",
        "2",
    ),
];

const SUPPLIER_COLUMNS: &[Column] = &[
    col("code", true, "the supplier's code, its natural key", "ACME"),
    col("name", true, "", "Acme Dairy Ltd"),
    col("email", false, "", "orders@acme.example"),
    col("phone", false, "", "+49 40 123456"),
    col(
        "lead_time_days",
        false,
        "usual days from order to delivery",
        "3",
    ),
];

const CUSTOMER_COLUMNS: &[Column] = &[
    col(
        "legal_name",
        true,
        "matched by tax_id when given, else by legal_name",
        "Rudi's Deli GmbH",
    ),
    col("tax_id", false, "the natural key when given", "DE123456789"),
    col(
        "type",
        false,
        "company or person (default company)",
        "company",
    ),
    col("source", false, "", "trade fair"),
    col("tags", false, "joined by |", "deli|north"),
    col("phone", false, "", "+49 40 555 0101"),
    col("email", false, "", "einkauf@rudis.example"),
    col("min_remaining_shelf_life_days", false, "", "10"),
    col(
        "address_line1",
        false,
        "a shipping and billing address, with city and country",
        "Marktplatz 5",
    ),
    col("address_line2", false, "", ""),
    col("address_postal_code", false, "", "20095"),
    col("address_city", false, "", "Hamburg"),
    col("address_country", false, "ISO 3166 code", "DE"),
    col("contact_name", false, "the primary contact", "Rudi Meier"),
    col("contact_position", false, "", "Purchasing"),
    col("contact_phone", false, "", "+49 40 555 0102"),
    col("contact_email", false, "", "rudi@rudis.example"),
];

const OPENING_STOCK_COLUMNS: &[Column] = &[
    col("item_code", true, "", "YOG-500"),
    col("warehouse_code", true, "", "HH"),
    col("location_code", true, "", "A-01-03"),
    col(
        "batch",
        false,
        "required for items tracked by batch",
        "L2611-42",
    ),
    col("expiry", false, "ISO date (YYYY-MM-DD)", "2027-01-31"),
    col("quantity", true, "base units, positive", "120"),
];

const WAREHOUSE_COLUMNS: &[Column] = &[
    col("code", true, "the warehouse's code, its natural key", "HH"),
    col("name", true, "", "Hamburg"),
    col("address", false, "", "Kaiweg 7, 20457 Hamburg"),
];

const LOCATION_COLUMNS: &[Column] = &[
    col("warehouse_code", true, "the warehouse's code", "HH"),
    col(
        "code",
        true,
        "the location's code within its warehouse",
        "A-01-03",
    ),
    col(
        "barcode",
        false,
        "what its label encodes (default <warehouse>-<code>)",
        "HH-A-01-03",
    ),
    col("pick_sequence", false, "its place on the pick route", "103"),
];

impl Kind {
    pub fn parse(raw: &str) -> Result<Kind> {
        match raw {
            "items" => Ok(Kind::Items),
            "boms" => Ok(Kind::Boms),
            "suppliers" => Ok(Kind::Suppliers),
            "customers" => Ok(Kind::Customers),
            "warehouses" => Ok(Kind::Warehouses),
            "locations" => Ok(Kind::Locations),
            "opening-stock" => Ok(Kind::OpeningStock),
            _ => Err(Error::invalid(
                "kind",
                "unknown import: items, boms, suppliers, customers, warehouses, locations \
                 or opening-stock",
            )),
        }
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Kind::Items => ITEM_COLUMNS,
            Kind::Boms => BOM_COLUMNS,
            Kind::Suppliers => SUPPLIER_COLUMNS,
            Kind::Customers => CUSTOMER_COLUMNS,
            Kind::Warehouses => WAREHOUSE_COLUMNS,
            Kind::Locations => LOCATION_COLUMNS,
            Kind::OpeningStock => OPENING_STOCK_COLUMNS,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Items => "items",
            Kind::Boms => "boms",
            Kind::Suppliers => "suppliers",
            Kind::Customers => "customers",
            Kind::Warehouses => "warehouses",
            Kind::Locations => "locations",
            Kind::OpeningStock => "opening-stock",
        }
    }

    /// A template file: the header and one example row.
    pub fn template(self) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record(self.columns().iter().map(|c| c.name));
        let _ = w.write_record(self.columns().iter().map(|c| c.example));
        w.into_inner().unwrap_or_default()
    }
}

/// One bad cell (or row): the spreadsheet row (the header is row 1), the column, the value.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// What an import did, or would do.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Outcome {
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Every bad row of the file; a run with any applies nothing.
    pub errors: Vec<RowError>,
}

impl Outcome {
    /// The bad rows as a problem's field errors (`rows[7].code`), for a refused real run.
    pub fn refusal(&self) -> Error {
        Error::Validation(
            self.errors
                .iter()
                .map(|e| FieldError {
                    field: format!("rows[{}].{}", e.row, e.column),
                    reason: format!("{} (value {:?})", e.reason, e.value),
                })
                .collect(),
        )
    }
}

enum Applied {
    Created,
    Updated,
    Unchanged,
}

/// Imports `table` as records of `kind` (see [`apply`]); a real run with bad rows is refused,
/// naming every bad cell.
pub async fn run(
    db: &Db,
    kind: Kind,
    table: &Table,
    dry_run: bool,
    actor: Actor,
    viewer: Viewer,
) -> Result<Outcome> {
    let outcome = apply(
        db,
        kind,
        table,
        dry_run,
        actor,
        viewer,
        &AtomicUsize::new(0),
    )
    .await?;
    if !dry_run && !outcome.errors.is_empty() {
        return Err(outcome.refusal());
    }
    Ok(outcome)
}

/// Imports `table` as records of `kind` in the running request's (or job's) transaction,
/// counting the rows done in `progress`. Without `dry_run` and without bad rows, everything is
/// applied; otherwise nothing is kept (see the module's documentation). Answers what happened,
/// or would have.
pub async fn apply(
    db: &Db,
    kind: Kind,
    table: &Table,
    dry_run: bool,
    actor: Actor,
    viewer: Viewer,
    progress: &AtomicUsize,
) -> Result<Outcome> {
    let mut outcome = Outcome {
        rows: table.rows.len(),
        ..Outcome::default()
    };
    let mut header_ok = true;
    for c in kind.columns().iter().filter(|c| c.required) {
        if table.column(c.name).is_none() {
            header_ok = false;
            outcome.errors.push(RowError {
                row: 1,
                column: c.name.into(),
                value: String::new(),
                reason: "this column is required: add it to the header".into(),
            });
        }
    }
    // A bill of materials is all the rows of its item: rows are gathered first.
    let mut bills: Vec<(String, Vec<Row>)> = Vec::new();
    let mut known = if header_ok && kind == Kind::Items {
        known_items(db, table).await?
    } else {
        Known::new()
    };
    if header_ok {
        for (row, values) in &table.rows {
            let cells = cells(kind, table, values);
            let missing: Vec<RowError> = kind
                .columns()
                .iter()
                .filter(|c| c.required)
                .filter(|c| {
                    cells
                        .get(c.name)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .is_empty()
                })
                .map(|c| RowError {
                    row: *row,
                    column: c.name.into(),
                    value: String::new(),
                    reason: "is required".into(),
                })
                .collect();
            if !missing.is_empty() {
                outcome.errors.extend(missing);
                progress.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let applied = match kind {
                Kind::Boms => {
                    let parent = text_cell(&cells, "item_code");
                    match bills.iter_mut().find(|(code, _)| *code == parent) {
                        Some((_, rows)) => rows.push((*row, cells)),
                        None => bills.push((parent, vec![(*row, cells)])),
                    }
                    continue;
                }
                Kind::Items => item(db, &cells, &mut known).await,
                Kind::Suppliers => supplier(db, &cells).await,
                Kind::Customers => customer(db, &cells, viewer).await,
                Kind::Warehouses => warehouse(db, &cells).await,
                Kind::Locations => location(db, &cells).await,
                Kind::OpeningStock => opening_stock(db, &cells, actor).await,
            };
            outcome.count(*row, &cells, applied);
            progress.fetch_add(1, Ordering::Relaxed);
        }
    }
    for (parent, rows) in bills {
        match bill(db, &parent, &rows).await {
            Ok(applied) => {
                for ((row, cells), applied) in rows.iter().zip(applied) {
                    outcome.count(*row, cells, Ok(applied));
                }
            }
            Err(errors) => outcome.errors.extend(errors),
        }
        progress.fetch_add(rows.len(), Ordering::Relaxed);
    }
    if dry_run || !outcome.errors.is_empty() {
        crate::db::request::discard(db);
    }
    Ok(outcome)
}

impl Outcome {
    fn count(&mut self, row: usize, cells: &Map<String, Value>, applied: Result<Applied>) {
        match applied {
            Ok(Applied::Created) => self.created += 1,
            Ok(Applied::Updated) => self.updated += 1,
            Ok(Applied::Unchanged) => self.unchanged += 1,
            Err(e) => self.errors.extend(row_errors(row, cells, e)),
        }
    }
}

fn text_cell(cells: &Map<String, Value>, column: &str) -> String {
    cells
        .get(column)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// A row of the file: its spreadsheet row number and its cells.
type Row = (usize, Map<String, Value>);

/// An item's bill of materials from its rows (each a component and its quantity): the rows
/// are the whole bill, so a component the file leaves out is taken off it. Answers each row's
/// outcome, or every bad row.
async fn bill(
    db: &Db,
    parent_code: &str,
    rows: &[Row],
) -> std::result::Result<Vec<Applied>, Vec<RowError>> {
    let all_rows = |column: &str, reason: String| -> Vec<RowError> {
        rows.iter()
            .map(|(row, cells)| RowError {
                row: *row,
                column: column.into(),
                value: text_cell(cells, column),
                reason: reason.clone(),
            })
            .collect()
    };
    let parent = match item_by_code(db, parent_code).await {
        Ok(Some(parent)) => parent,
        Ok(None) => return Err(all_rows("item_code", "no item has this code".into())),
        Err(e) => return Err(all_rows("row", e.to_string())),
    };
    let mut lines = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    for (row, cells) in rows {
        let quantity = text_cell(cells, "quantity").parse::<i64>();
        let component = item_by_code(db, &text_cell(cells, "component_code")).await;
        match (component, quantity) {
            (Ok(Some(component)), Ok(quantity)) => lines.push(BomLine {
                component_item_id: component.id,
                quantity,
            }),
            (component, quantity) => {
                if quantity.is_err() {
                    errors.extend(row_errors(
                        *row,
                        cells,
                        Error::invalid("quantity", "must be a whole number"),
                    ));
                }
                match component {
                    Ok(Some(_)) => {}
                    Ok(None) => errors.extend(row_errors(
                        *row,
                        cells,
                        Error::invalid("component_code", "no item has this code"),
                    )),
                    Err(e) => errors.extend(row_errors(*row, cells, e)),
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let current = items::bom(db, parent.id)
        .await
        .map_err(|e| all_rows("row", e.to_string()))?;
    let mut applied: Vec<Applied> = lines
        .iter()
        .map(|line| {
            match current
                .lines
                .iter()
                .find(|c| c.component_item_id == line.component_item_id)
            {
                None => Applied::Created,
                Some(c) if c.quantity != line.quantity => Applied::Updated,
                Some(_) => Applied::Unchanged,
            }
        })
        .collect();
    // The file's lines are not the bill's plus the new ones: a component was taken off (or is
    // listed twice, which `set_bom` refuses).
    let removed = current.lines.len()
        + applied
            .iter()
            .filter(|a| matches!(a, Applied::Created))
            .count()
        != lines.len();
    if applied.iter().all(|a| matches!(a, Applied::Unchanged)) {
        if !removed {
            return Ok(applied);
        }
        // Only components taken off: the bill changed, so its first row tells.
        applied[0] = Applied::Updated;
    }
    match items::set_bom(db, parent.id, lines).await {
        Ok(_) => Ok(applied),
        Err(e) => {
            // `lines[2].quantity` is the third row's `quantity` cell.
            let mut out = Vec::new();
            let fields = match e {
                Error::Validation(fields) => fields,
                other => return Err(all_rows("row", other.to_string())),
            };
            for f in fields {
                let index = f
                    .field
                    .strip_prefix("lines[")
                    .and_then(|rest| rest.split(']').next())
                    .and_then(|i| i.parse::<usize>().ok());
                let column = match f.field.rsplit('.').next() {
                    Some("quantity") => "quantity",
                    Some("component_item_id") => "component_code",
                    _ => "item_code",
                };
                match index.and_then(|i| rows.get(i)) {
                    Some((row, cells)) => out.push(RowError {
                        row: *row,
                        column: column.into(),
                        value: text_cell(cells, column),
                        reason: f.reason,
                    }),
                    None => out.extend(all_rows(column, f.reason)),
                }
            }
            Err(out)
        }
    }
}

/// A row's cells by documented column name, empty cells left out (a column the file does not
/// have is not touched on update).
fn cells(kind: Kind, table: &Table, values: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    for c in kind.columns() {
        if let Some(i) = table.column(c.name)
            && let Some(v) = values.get(i)
        {
            out.insert(c.name.into(), Value::String(v.clone()));
        }
    }
    out
}

fn row_errors(row: usize, cells: &Map<String, Value>, e: Error) -> Vec<RowError> {
    let value_of = |column: &str| {
        cells
            .get(column)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let one = |field: String, reason: String| {
        // A field of the domain's input (`gtins[1].gtin`) is the cell of its column (`gtins`).
        let column = field
            .split(['[', '.'])
            .next()
            .filter(|c| !c.is_empty())
            .unwrap_or("row")
            .to_string();
        RowError {
            row,
            value: value_of(&column),
            column,
            reason,
        }
    };
    match e {
        Error::Validation(fields) => fields.into_iter().map(|f| one(f.field, f.reason)).collect(),
        Error::Conflict { field, detail } => {
            vec![one(field.unwrap_or_else(|| "row".into()), detail)]
        }
        Error::InvalidBarcode { field, message, .. } => vec![one(field, message)],
        other => vec![one("row".into(), other.to_string())],
    }
}

/// A cell as a JSON value for the domain's input: empty cells are absent, numbers and booleans
/// typed, everything else text. A cell that cannot be what its column is names itself.
fn typed(
    cells: &Map<String, Value>,
    integers: &[&str],
    booleans: &[&str],
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    let mut bad = Vec::new();
    for (k, v) in cells {
        let s = v.as_str().unwrap_or("");
        if s.is_empty() {
            continue;
        }
        let value = if integers.contains(&k.as_str()) {
            match s.parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    bad.push(FieldError {
                        field: k.clone(),
                        reason: "must be a whole number".into(),
                    });
                    continue;
                }
            }
        } else if booleans.contains(&k.as_str()) {
            match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" | "y" => Value::Bool(true),
                "false" | "no" | "0" | "n" => Value::Bool(false),
                _ => {
                    bad.push(FieldError {
                        field: k.clone(),
                        reason: "must be true or false".into(),
                    });
                    continue;
                }
            }
        } else {
            Value::String(s.to_string())
        };
        out.insert(k.clone(), value);
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(Error::Validation(bad))
    }
}

/// The domain's input type from typed cells; a value the type refuses names its column.
fn input<T: serde::de::DeserializeOwned>(fields: Map<String, Value>) -> Result<T> {
    serde_path_to_error::deserialize(Value::Object(fields)).map_err(|e| {
        let column = e.path().to_string();
        Error::invalid(
            if column == "." { "row".into() } else { column },
            e.into_inner().to_string(),
        )
    })
}

/// `gtin*quantity|gtin` → the domain's GTIN inputs.
fn gtins(cell: &str) -> Result<Vec<GtinInput>> {
    cell.split('|')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| match part.split_once('*') {
            None => Ok(GtinInput::Plain(part.to_string())),
            Some((gtin, quantity)) => quantity
                .trim()
                .parse::<i64>()
                .map(|quantity| GtinInput::Level {
                    gtin: gtin.trim().to_string(),
                    quantity,
                })
                .map_err(|_| {
                    Error::invalid(
                        "gtins",
                        format!("{part}: the quantity after * must be a whole number"),
                    )
                }),
        })
        .collect()
}

/// The item with this code (the catalog's listing finds a code by its unique index).
async fn item_by_code(db: &Db, code: &str) -> Result<Option<Item>> {
    let filter = ItemFilter {
        code: Some(code.to_string()),
        ..ItemFilter::default()
    };
    Ok(items::list(db, &filter, Page::first(1)).await?.items.pop())
}

async fn warehouse_by_code(db: &Db, code: &str) -> Result<Warehouse> {
    warehouses::by_code(db, code)
        .await?
        .ok_or_else(|| Error::invalid("warehouse_code", "no warehouse has this code"))
}

async fn location_by_code(db: &Db, warehouse_id: i64, code: &str) -> Result<Option<Location>> {
    let filter = LocationFilter {
        warehouse_id: Some(warehouse_id),
        code: Some(code.to_string()),
        ..LocationFilter::default()
    };
    Ok(warehouses::list_locations(db, &filter, Page::first(1))
        .await?
        .items
        .pop())
}

/// The items a file's codes name as the import begins (`None`: no such item), read a thousand
/// codes at a time instead of one query per row. A row takes its code's entry out, so a code
/// met again (after its row has created or changed the item) is read afresh.
type Known = HashMap<String, Option<Item>>;

/// Codes looked up per read.
const CODES_PER_READ: usize = 1000;

async fn known_items(db: &Db, table: &Table) -> Result<Known> {
    let mut known = Known::new();
    let Some(column) = table.column("code") else {
        return Ok(known);
    };
    let codes: Vec<String> = table
        .rows
        .iter()
        .filter_map(|(_, values)| values.get(column))
        .filter(|code| !code.is_empty())
        .cloned()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    for chunk in codes.chunks(CODES_PER_READ) {
        for code in chunk {
            known.insert(code.clone(), None);
        }
        for item in items::by_codes(db, chunk.to_vec()).await? {
            known.insert(item.code.clone(), Some(item));
        }
    }
    Ok(known)
}

async fn item(db: &Db, cells: &Map<String, Value>, known: &mut Known) -> Result<Applied> {
    let mut fields = typed(
        cells,
        &[
            "shelf_life_days",
            "min_remaining_shelf_life_days",
            "supplier_id",
            "lead_time_days",
        ],
        &["requires_certificate"],
    )?;
    if let Some(Value::String(code)) = fields.remove("supplier_code") {
        let supplier = suppliers::by_code(db, &code)
            .await?
            .ok_or_else(|| Error::invalid("supplier_code", "no supplier has this code"))?;
        fields.insert("supplier_id".into(), Value::from(supplier.id));
    }
    let levels = match fields.remove("gtins") {
        Some(Value::String(s)) => Some(gtins(&s)?),
        _ => cells.contains_key("gtins").then(Vec::new),
    };
    let code = fields.get("code").and_then(Value::as_str).unwrap_or("");
    let current = match known.remove(code) {
        Some(known) => known,
        None => item_by_code(db, code).await?,
    };
    let Some(current) = current else {
        let mut new: NewItem = input(fields)?;
        new.gtins = levels.unwrap_or_default();
        items::create(db, new).await?;
        return Ok(Applied::Created);
    };
    // Only what the file says: a column it lacks, or an empty cell, leaves the field alone.
    let wanted: NewItem = input(fields.clone())?;
    let mut patch = ItemPatch::default();
    let given = |k: &str| fields.contains_key(k);
    let mut changed = false;
    changed |= differs(true, &mut patch.name, wanted.name, &current.name);
    changed |= differs(given("unit"), &mut patch.unit, wanted.unit, &current.unit);
    changed |= differs(
        given("tracking"),
        &mut patch.tracking,
        wanted.tracking,
        &current.tracking,
    );
    changed |= differs(
        given("shelf_life_days"),
        &mut patch.shelf_life_days,
        wanted.shelf_life_days,
        &current.shelf_life_days,
    );
    changed |= differs(
        given("min_remaining_shelf_life_days"),
        &mut patch.min_remaining_shelf_life_days,
        wanted.min_remaining_shelf_life_days,
        &current.min_remaining_shelf_life_days,
    );
    changed |= differs(
        given("source"),
        &mut patch.source,
        wanted.source,
        &current.source,
    );
    changed |= differs(
        given("supplier_id"),
        &mut patch.supplier_id,
        wanted.supplier_id,
        &current.supplier_id,
    );
    changed |= differs(
        given("requires_certificate"),
        &mut patch.requires_certificate,
        wanted.requires_certificate,
        &current.requires_certificate,
    );
    changed |= differs(
        given("lead_time_days"),
        &mut patch.lead_time_days,
        wanted.lead_time_days,
        &current.lead_time_days,
    );
    if let Some(levels) = levels {
        let mut have: Vec<(String, i64)> = current
            .gtins
            .iter()
            .map(|g| (g.gtin.clone(), g.quantity))
            .collect();
        let mut want = Vec::new();
        for level in &levels {
            let (raw, quantity) = match level {
                GtinInput::Plain(g) => (g.as_str(), 1),
                GtinInput::Level { gtin, quantity } => (gtin.as_str(), *quantity),
            };
            let gtin = crate::catalog::gtin::normalize(raw)
                .map_err(|e| Error::invalid("gtins", e.to_string()))?;
            want.push((gtin, quantity));
        }
        have.sort();
        want.sort();
        if have != want {
            patch.gtins = Some(levels);
            changed = true;
        }
    }
    if !changed {
        return Ok(Applied::Unchanged);
    }
    items::update(db, current.id, patch).await?;
    Ok(Applied::Updated)
}

/// Puts `wanted` into the patch's `slot` when the file gives the column and the record holds
/// something else; answers whether it did.
fn differs<T: PartialEq>(given: bool, slot: &mut Option<T>, wanted: T, current: &T) -> bool {
    if given && wanted != *current {
        *slot = Some(wanted);
        return true;
    }
    false
}

async fn warehouse(db: &Db, cells: &Map<String, Value>) -> Result<Applied> {
    let fields = typed(cells, &[], &[])?;
    let wanted: NewWarehouse = input(fields.clone())?;
    let Some(current) = warehouses::by_code(db, &wanted.code).await? else {
        warehouses::create(db, wanted).await?;
        return Ok(Applied::Created);
    };
    let mut patch = WarehousePatch::default();
    let changed = differs(true, &mut patch.name, wanted.name, &current.name)
        | differs(
            fields.contains_key("address"),
            &mut patch.address,
            wanted.address,
            &current.address,
        );
    if !changed {
        return Ok(Applied::Unchanged);
    }
    warehouses::update(db, current.id, patch).await?;
    Ok(Applied::Updated)
}

async fn location(db: &Db, cells: &Map<String, Value>) -> Result<Applied> {
    let mut fields = typed(cells, &["pick_sequence"], &[])?;
    let warehouse_code = match fields.remove("warehouse_code") {
        Some(Value::String(s)) => s,
        _ => return Err(Error::invalid("warehouse_code", "is required")),
    };
    let warehouse = warehouse_by_code(db, &warehouse_code).await?;
    let wanted: NewLocation = input(fields.clone())?;
    let Some(current) = location_by_code(db, warehouse.id, &wanted.code).await? else {
        warehouses::create_location(db, warehouse.id, wanted).await?;
        return Ok(Applied::Created);
    };
    let mut patch = LocationPatch::default();
    let changed = match wanted.barcode {
        Some(barcode) => differs(true, &mut patch.barcode, barcode, &current.barcode),
        None => false,
    } | differs(
        fields.contains_key("pick_sequence"),
        &mut patch.pick_sequence,
        wanted.pick_sequence,
        &current.pick_sequence,
    );
    if !changed {
        return Ok(Applied::Unchanged);
    }
    warehouses::update_location(db, current.id, patch).await?;
    Ok(Applied::Updated)
}

async fn supplier(db: &Db, cells: &Map<String, Value>) -> Result<Applied> {
    let fields = typed(cells, &["lead_time_days"], &[])?;
    let wanted: NewSupplier = input(fields.clone())?;
    let Some(current) = suppliers::by_code(db, &wanted.code).await? else {
        suppliers::create(db, wanted).await?;
        return Ok(Applied::Created);
    };
    let given = |k: &str| fields.contains_key(k);
    let mut patch = SupplierPatch::default();
    let changed = differs(true, &mut patch.name, wanted.name, &current.name)
        | differs(
            given("email"),
            &mut patch.email,
            wanted.email,
            &current.email,
        )
        | differs(
            given("phone"),
            &mut patch.phone,
            wanted.phone,
            &current.phone,
        )
        | differs(
            given("lead_time_days"),
            &mut patch.lead_time_days,
            wanted.lead_time_days,
            &current.lead_time_days,
        );
    if !changed {
        return Ok(Applied::Unchanged);
    }
    suppliers::update(db, current.id, patch).await?;
    Ok(Applied::Updated)
}

/// Opening stock: a receipt noted "opening stock" per row, so balances still derive from the
/// ledger. A row whose item, location and batch already have opening stock is unchanged when
/// the quantity agrees; another quantity is refused (correct stock with a count).
async fn opening_stock(db: &Db, cells: &Map<String, Value>, actor: Actor) -> Result<Applied> {
    let fields = typed(cells, &["quantity"], &[])?;
    let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
    let item = item_by_code(db, &text("item_code").unwrap_or_default())
        .await?
        .ok_or_else(|| Error::invalid("item_code", "no item has this code"))?;
    let warehouse = warehouse_by_code(db, &text("warehouse_code").unwrap_or_default()).await?;
    let location = location_by_code(db, warehouse.id, &text("location_code").unwrap_or_default())
        .await?
        .ok_or_else(|| {
            Error::invalid(
                "location_code",
                "no location of that warehouse has this code",
            )
        })?;
    let quantity = fields.get("quantity").and_then(Value::as_i64).unwrap_or(0);
    let expiry = match text("expiry") {
        Some(raw) => Some(
            time::Date::parse(&raw, &time::format_description::well_known::Iso8601::DATE)
                .map_err(|_| Error::invalid("expiry", "must be a date, YYYY-MM-DD"))?,
        ),
        None => None,
    };
    let batch = text("batch");
    // What earlier runs posted here.
    let batch_id = match &batch {
        Some(code) => crate::stock::batches::by_code(db, item.id, code)
            .await?
            .map(|b| b.id),
        None => None,
    };
    if batch.is_none() || batch_id.is_some() {
        let filter = LedgerFilter {
            item_id: Some(item.id),
            location_id: Some(location.id),
            batch_id,
            document_type: Some("receipt".into()),
            ..LedgerFilter::default()
        };
        let posted: i64 = stock_ledger::ledger(db, &filter, Page::first(1000))
            .await?
            .items
            .iter()
            .filter(|m| m.note.as_deref() == Some(OPENING_NOTE) && m.batch_id == batch_id)
            .map(|m| m.quantity)
            .sum();
        if posted == quantity {
            return Ok(Applied::Unchanged);
        }
        if posted != 0 {
            return Err(Error::invalid(
                "quantity",
                format!(
                    "opening stock of {posted} is posted here already: correct it with a count"
                ),
            ));
        }
    }
    receipts::receive(
        db,
        NewReceipt {
            warehouse_id: warehouse.id,
            location_id: location.id,
            lines: vec![ReceiptLine {
                item_id: Some(item.id),
                quantity: Some(quantity),
                batch,
                expiry,
                production_date: None,
                scan: None,
            }],
            quarantine: false,
            purchase_order_id: None,
            production_order_id: None,
            deal_id: None,
            note: Some(OPENING_NOTE.into()),
        },
        actor.user_id,
        actor.device_id,
    )
    .await
    // The receipt names its one line's fields `lines[0].…`: here they are the row's.
    .map_err(|e| {
        renamed(e, |field| match field.rsplit('.').next() {
            Some(column @ ("quantity" | "batch" | "expiry")) => column.to_string(),
            _ => field.to_string(),
        })
    })?;
    Ok(Applied::Created)
}

/// A customer with (on creation) its one address and primary contact. An existing customer's
/// own fields are updated from the row; its addresses and contacts are left as they are (edit
/// those in the app: a file has no way to say which address a row means).
async fn customer(db: &Db, cells: &Map<String, Value>, viewer: Viewer) -> Result<Applied> {
    let mut fields = typed(cells, &["min_remaining_shelf_life_days"], &[])?;
    let mut take = |prefix: &str| {
        let keys: Vec<String> = fields
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        let mut part = Map::new();
        for k in keys {
            if let Some(v) = fields.remove(&k) {
                part.insert(k[prefix.len()..].to_string(), v);
            }
        }
        part
    };
    let address = take("address_");
    let contact = take("contact_");
    if let Some(Value::String(tags)) = fields.get("tags").cloned() {
        let list: Vec<Value> = tags
            .split('|')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| Value::String(t.into()))
            .collect();
        fields.insert("tags".into(), Value::Array(list));
    }
    let legal_name = fields
        .get("legal_name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let tax_id = fields
        .get("tax_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let existing = customers::id_by_natural_key(db, tax_id.as_deref(), &legal_name).await?;
    let Some(id) = existing else {
        let mut new = fields.clone();
        if !address.is_empty() {
            // An address needs these three; say which cell lacks one.
            let missing: Vec<FieldError> = ["line1", "city", "country"]
                .into_iter()
                .filter(|k| !address.contains_key(*k))
                .map(|k| FieldError {
                    field: format!("address_{k}"),
                    reason: "is required with an address".into(),
                })
                .collect();
            if !missing.is_empty() {
                return Err(Error::Validation(missing));
            }
            new.insert(
                "addresses".into(),
                Value::Array(vec![Value::Object(address)]),
            );
        }
        if !contact.is_empty() {
            new.insert(
                "contacts".into(),
                Value::Array(vec![Value::Object(contact)]),
            );
        }
        // `addresses[0].city` is the cell `address_city`.
        let new: NewCustomer = input(new).map_err(|e| renamed(e, nested_column))?;
        customers::create(db, viewer, new)
            .await
            .map_err(|e| renamed(e, nested_column))?;
        return Ok(Applied::Created);
    };
    let current = customers::get(db, viewer, id).await.map_err(|e| {
        e.missing_as_invalid(
            "legal_name",
            "a customer with this key exists and is not yours to change",
        )
    })?;
    let wanted: NewCustomer = input(fields.clone())?;
    let given = |k: &str| fields.contains_key(k);
    let mut patch = CustomerPatch::default();
    let changed = differs(
        true,
        &mut patch.legal_name,
        wanted.legal_name,
        &current.legal_name,
    ) | differs(
        given("tax_id"),
        &mut patch.tax_id,
        wanted.tax_id,
        &current.tax_id,
    ) | differs(given("type"), &mut patch.kind, wanted.kind, &current.kind)
        | differs(
            given("source"),
            &mut patch.source,
            wanted.source,
            &current.source,
        )
        | differs(given("tags"), &mut patch.tags, wanted.tags, &current.tags)
        | differs(
            given("phone"),
            &mut patch.phone,
            wanted.phone,
            &current.phone,
        )
        | differs(
            given("email"),
            &mut patch.email,
            wanted.email,
            &current.email,
        )
        | differs(
            given("min_remaining_shelf_life_days"),
            &mut patch.min_remaining_shelf_life_days,
            wanted.min_remaining_shelf_life_days,
            &current.min_remaining_shelf_life_days,
        );
    if !changed {
        return Ok(Applied::Unchanged);
    }
    customers::update(db, viewer, id, patch).await?;
    Ok(Applied::Updated)
}

/// A domain's validation error with its fields named as the file's columns.
fn renamed(e: Error, column: impl Fn(&str) -> String) -> Error {
    match e {
        Error::Validation(fields) => Error::Validation(
            fields
                .into_iter()
                .map(|f| FieldError {
                    field: column(&f.field),
                    reason: f.reason,
                })
                .collect(),
        ),
        other => other,
    }
}

/// `addresses[0].city` → `address_city`, `contacts[0].email` → `contact_email`.
fn nested_column(field: &str) -> String {
    let rest = field.rsplit('.').next().unwrap_or(field);
    if field.starts_with("addresses") {
        format!("address_{rest}")
    } else if field.starts_with("contacts") {
        format!("contact_{rest}")
    } else {
        field.to_string()
    }
}
