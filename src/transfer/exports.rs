//! Exports: every record of a kind as CSV, read through the owning domain's own paged listing
//! (the same filters and the same rows the API lists), so a file never holds more than one page
//! in memory however long it is: a million ledger rows stream at the cost of one page.

use std::future::Future;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use std::collections::HashMap;

use crate::catalog::items::{self, BillLine, Item, ItemFilter};
use crate::catalog::suppliers::{self, Supplier};
use crate::catalog::warehouses::{self, LocationFilter, Warehouse};
use crate::crm::customers::{self, Customer, CustomerFilter};
use crate::crm::deals::{self, Deal, DealFilter, DealLine};
use crate::crm::visibility::Viewer;
use crate::db::{Db, Page, Paged};
use crate::error::{Error, Result};
use crate::shipping::{self, ShipmentSummary};
use crate::stock::batches::{self, Batch, BatchFilter};
use crate::stock::ledger::{self, LedgerFilter, Movement};

/// Rows read per page while streaming.
pub const PAGE_ROWS: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Items,
    Boms,
    Suppliers,
    Warehouses,
    Locations,
    Customers,
    Stock,
    Batches,
    Ledger,
    Deals,
    Shipments,
}

impl Kind {
    pub fn parse(raw: &str) -> Result<Kind> {
        match raw {
            "items" => Ok(Kind::Items),
            "boms" => Ok(Kind::Boms),
            "suppliers" => Ok(Kind::Suppliers),
            "warehouses" => Ok(Kind::Warehouses),
            "locations" => Ok(Kind::Locations),
            "customers" => Ok(Kind::Customers),
            "stock" => Ok(Kind::Stock),
            "batches" => Ok(Kind::Batches),
            "ledger" => Ok(Kind::Ledger),
            "deals" => Ok(Kind::Deals),
            "shipments" => Ok(Kind::Shipments),
            _ => Err(Error::invalid(
                "kind",
                "unknown export: items, boms, suppliers, warehouses, locations, customers, \
                 stock, batches, ledger, deals or shipments",
            )),
        }
    }

    /// The header row of an export without rows (the file still says what its columns are).
    /// With rows, the header comes from the rows' own field names; the tests compare the two.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Kind::Items => &[
                "id",
                "code",
                "name",
                "unit",
                "tracking",
                "shelf_life_days",
                "min_remaining_shelf_life_days",
                "source",
                "supplier_id",
                "requires_certificate",
                "lead_time_days",
                "active",
                "gtins",
            ],
            Kind::Boms => &["item_code", "component_code", "quantity"],
            Kind::Suppliers => &[
                "id",
                "code",
                "name",
                "email",
                "phone",
                "lead_time_days",
                "created_at",
                "updated_at",
            ],
            Kind::Warehouses => &[
                "id",
                "code",
                "name",
                "address",
                "responsible_user_id",
                "label_printer_id",
                "document_printer_id",
                "created_at",
                "updated_at",
            ],
            Kind::Locations => &["id", "warehouse_code", "code", "barcode", "pick_sequence"],
            Kind::Customers => &[
                "id",
                "legal_name",
                "tax_id",
                "type",
                "source",
                "tags",
                "phone",
                "email",
                "min_remaining_shelf_life_days",
                "owner_id",
                "address_line1",
                "address_line2",
                "address_postal_code",
                "address_city",
                "address_country",
                "contact_name",
                "contact_position",
                "contact_phone",
                "contact_email",
            ],
            Kind::Stock => &[
                "item_id",
                "item_code",
                "item_name",
                "warehouse_id",
                "location_id",
                "location_code",
                "batch_id",
                "batch_code",
                "expiry_date",
                "batch_status",
                "on_hand",
                "reserved",
                "available",
                "updated_at",
            ],
            Kind::Batches => &[
                "id",
                "item_id",
                "code",
                "expiry_date",
                "production_date",
                "received_at",
                "status",
                "certificate",
                "created_at",
            ],
            Kind::Ledger => &[
                "id",
                "item_id",
                "batch_id",
                "warehouse_id",
                "location_id",
                "quantity",
                "kind",
                "user_id",
                "device_id",
                "document_type",
                "document_id",
                "deal_id",
                "note",
                "reversal_of",
                "posted_at",
            ],
            Kind::Deals => &[
                "deal_id",
                "title",
                "customer_id",
                "owner_id",
                "stage",
                "status",
                "lost_reason",
                "currency",
                "amount",
                "customer_reference",
                "created_at",
                "updated_at",
                "line_no",
                "item_id",
                "quantity",
                "unit_price",
                "line_total",
            ],
            Kind::Shipments => &[
                "id",
                "deal_ids",
                "warehouse_id",
                "status",
                "carrier",
                "service_level",
                "tracking_number",
                "ship_to_name",
                "ship_to_address",
                "cod_amount",
                "cod_currency",
                "paid_by",
                "parcels",
                "created_at",
                "dispatched_at",
                "delivered_at",
            ],
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Items => "items.csv",
            Kind::Boms => "boms.csv",
            Kind::Suppliers => "suppliers.csv",
            Kind::Warehouses => "warehouses.csv",
            Kind::Locations => "locations.csv",
            Kind::Customers => "customers.csv",
            Kind::Stock => "stock.csv",
            Kind::Batches => "batches.csv",
            Kind::Ledger => "ledger.csv",
            Kind::Deals => "deals.csv",
            Kind::Shipments => "shipments.csv",
        }
    }
}

/// An item as one CSV row: its GTINs as `gtin*quantity` joined by `|`.
#[derive(Serialize)]
struct ItemRow {
    id: i64,
    code: String,
    name: String,
    unit: String,
    tracking: String,
    shelf_life_days: Option<i64>,
    min_remaining_shelf_life_days: Option<i64>,
    source: String,
    supplier_id: Option<i64>,
    requires_certificate: bool,
    lead_time_days: Option<i64>,
    active: bool,
    gtins: String,
}

fn text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

impl From<Item> for ItemRow {
    fn from(i: Item) -> Self {
        ItemRow {
            id: i.id,
            gtins: i
                .gtins
                .iter()
                .map(|g| format!("{}*{}", g.gtin, g.quantity))
                .collect::<Vec<_>>()
                .join("|"),
            code: i.code,
            name: i.name,
            unit: i.unit,
            tracking: text(&i.tracking),
            shelf_life_days: i.shelf_life_days,
            min_remaining_shelf_life_days: i.min_remaining_shelf_life_days,
            source: text(&i.source),
            supplier_id: i.supplier_id,
            requires_certificate: i.requires_certificate,
            lead_time_days: i.lead_time_days,
            active: i.active,
        }
    }
}

/// A location as one CSV row, named by its warehouse's code as the import takes it.
#[derive(Serialize)]
struct LocationRow {
    id: i64,
    warehouse_code: String,
    code: String,
    barcode: String,
    pick_sequence: i64,
}

/// A customer as one CSV row, in the import's columns: its preferred shipping address (else its
/// first) and its primary contact.
#[derive(Serialize)]
struct CustomerRow {
    id: i64,
    legal_name: String,
    tax_id: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    source: Option<String>,
    tags: String,
    phone: Option<String>,
    email: Option<String>,
    min_remaining_shelf_life_days: Option<i64>,
    owner_id: Option<i64>,
    address_line1: Option<String>,
    address_line2: Option<String>,
    address_postal_code: Option<String>,
    address_city: Option<String>,
    address_country: Option<String>,
    contact_name: Option<String>,
    contact_position: Option<String>,
    contact_phone: Option<String>,
    contact_email: Option<String>,
}

impl From<Customer> for CustomerRow {
    fn from(c: Customer) -> Self {
        let address = c
            .addresses
            .iter()
            .find(|a| a.preferred_shipping)
            .or(c.addresses.first())
            .cloned();
        let contact = c
            .contacts
            .iter()
            .find(|k| k.is_primary)
            .or(c.contacts.first())
            .cloned();
        CustomerRow {
            id: c.id,
            kind: text(&c.kind),
            tags: c.tags.join("|"),
            legal_name: c.legal_name,
            tax_id: c.tax_id,
            source: c.source,
            phone: c.phone,
            email: c.email,
            min_remaining_shelf_life_days: c.min_remaining_shelf_life_days,
            owner_id: c.owner_id,
            address_line1: address.as_ref().map(|a| a.line1.clone()),
            address_line2: address.as_ref().and_then(|a| a.line2.clone()),
            address_postal_code: address.as_ref().and_then(|a| a.postal_code.clone()),
            address_city: address.as_ref().map(|a| a.city.clone()),
            address_country: address.map(|a| a.country),
            contact_name: contact.as_ref().map(|k| k.name.clone()),
            contact_position: contact.as_ref().and_then(|k| k.position.clone()),
            contact_phone: contact.as_ref().and_then(|k| k.phone.clone()),
            contact_email: contact.and_then(|k| k.email),
        }
    }
}

/// A deal line as one CSV row, with its deal's fields; a deal without lines is one row with
/// the line's cells empty.
#[derive(Serialize)]
struct DealLineRow {
    deal_id: i64,
    title: String,
    customer_id: i64,
    owner_id: i64,
    stage: String,
    status: String,
    lost_reason: Option<String>,
    currency: String,
    amount: i64,
    customer_reference: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: time::OffsetDateTime,
    line_no: Option<i64>,
    item_id: Option<i64>,
    quantity: Option<i64>,
    unit_price: Option<i64>,
    line_total: Option<i64>,
}

fn deal_rows(d: Deal) -> Vec<DealLineRow> {
    let row = |l: Option<&DealLine>| DealLineRow {
        deal_id: d.id,
        title: d.title.clone(),
        customer_id: d.customer_id,
        owner_id: d.owner_id,
        stage: d.stage.clone(),
        status: text(&d.status),
        lost_reason: d.lost_reason.clone(),
        currency: d.currency.clone(),
        amount: d.amount,
        customer_reference: d.customer_reference.clone(),
        created_at: d.created_at,
        updated_at: d.updated_at,
        line_no: l.map(|l| l.line_no),
        item_id: l.map(|l| l.item_id),
        quantity: l.map(|l| l.quantity),
        unit_price: l.map(|l| l.unit_price),
        line_total: l.map(|l| l.line_total),
    };
    if d.lines.is_empty() {
        return vec![row(None)];
    }
    d.lines.iter().map(|l| row(Some(l))).collect()
}

/// The ledger export's date range (RFC 3339; `until` exclusive).
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportFilter {
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub from: Option<time::OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub until: Option<time::OffsetDateTime>,
}

/// The rows of a kind as CSV chunks: the header and first page, then one chunk per page, until
/// the listing ends. `next` yields `None` at the end.
pub struct Export {
    db: Db,
    kind: Kind,
    filter: ExportFilter,
    /// Whose customers (an export of customers shows what the caller may see).
    viewer: Option<Viewer>,
    /// Warehouse codes by id, read as locations name them.
    warehouse_codes: HashMap<i64, String>,
    after: Option<i64>,
    header_written: bool,
}

impl Export {
    pub fn new(db: Db, kind: Kind, filter: ExportFilter, viewer: Option<Viewer>) -> Export {
        Export {
            db,
            kind,
            filter,
            viewer,
            warehouse_codes: HashMap::new(),
            after: Some(0),
            header_written: false,
        }
    }

    /// The next chunk of CSV, or `None` when every row has been written.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>> {
        let Some(after) = self.after else {
            return Ok(None);
        };
        let page = Page {
            limit: PAGE_ROWS,
            after,
        };
        let db = &self.db;
        let header = !self.header_written;
        let (chunk, next) = match self.kind {
            Kind::Items => {
                let filter = ItemFilter::default();
                csv_page(items::list(db, &filter, page), ItemRow::from, header).await?
            }
            Kind::Boms => csv_page(items::bill_lines(db, page), |l: BillLine| l, header).await?,
            Kind::Suppliers => {
                csv_page(suppliers::list(db, None, page), |s: Supplier| s, header).await?
            }
            Kind::Warehouses => {
                csv_page(warehouses::list(db, page), |w: Warehouse| w, header).await?
            }
            Kind::Locations => {
                let paged =
                    warehouses::list_locations(db, &LocationFilter::default(), page).await?;
                let mut rows = Vec::with_capacity(paged.items.len());
                for l in paged.items {
                    if !self.warehouse_codes.contains_key(&l.warehouse_id) {
                        let w = warehouses::get(db, l.warehouse_id).await?;
                        self.warehouse_codes.insert(w.id, w.code);
                    }
                    rows.push(LocationRow {
                        id: l.id,
                        warehouse_code: self.warehouse_codes[&l.warehouse_id].clone(),
                        code: l.code,
                        barcode: l.barcode,
                        pick_sequence: l.pick_sequence,
                    });
                }
                csv_rows(rows, paged.next_after, header).await?
            }
            Kind::Customers => {
                let viewer = self
                    .viewer
                    .ok_or_else(|| Error::forbidden("customers are exported by sales managers"))?;
                csv_page(
                    customers::list(db, viewer, &CustomerFilter::default(), page),
                    CustomerRow::from,
                    header,
                )
                .await?
            }
            Kind::Batches => {
                let today = crate::db::now().date();
                csv_page(
                    batches::page(db, &BatchFilter::default(), today, page),
                    |b: Batch| b,
                    header,
                )
                .await?
            }
            Kind::Ledger => {
                let filter = LedgerFilter {
                    from: self.filter.from,
                    until: self.filter.until,
                    ..LedgerFilter::default()
                };
                csv_page(ledger::ledger(db, &filter, page), |m: Movement| m, header).await?
            }
            Kind::Deals => {
                let viewer = self
                    .viewer
                    .ok_or_else(|| Error::forbidden("deals are exported by sales staff"))?;
                let paged = deals::list(db, viewer, &DealFilter::default(), page).await?;
                let next_after = paged.next_after;
                let rows: Vec<DealLineRow> = paged.items.into_iter().flat_map(deal_rows).collect();
                csv_rows(rows, next_after, header).await?
            }
            Kind::Shipments => {
                csv_page(
                    shipping::summaries(db, page),
                    |s: ShipmentSummary| s,
                    header,
                )
                .await?
            }
            Kind::Stock => {
                // Balances are one row per item, place and batch: read at once.
                let rows = ledger::balances(db, &Default::default()).await?;
                csv_rows(rows, None, header).await?
            }
        };
        self.after = next;
        if !header || !chunk.is_empty() {
            self.header_written = true;
            return Ok(Some(chunk));
        }
        // No rows at all: the header alone.
        self.header_written = true;
        let mut out = csv_writer(false);
        out.write_record(self.kind.columns()).map_err(csv_error)?;
        Ok(Some(
            out.into_inner().map_err(|e| csv_error(e.into_error()))?,
        ))
    }
}

/// One page's rows as CSV (after the header, named by the rows' fields, on the first page)
/// and where the next page starts.
async fn csv_page<T, R: Serialize>(
    page: impl Future<Output = Result<Paged<T>>>,
    row: impl Fn(T) -> R,
    header: bool,
) -> Result<(Vec<u8>, Option<i64>)> {
    let paged = page.await?;
    let mut out = csv_writer(header);
    for item in paged.items {
        out.serialize(row(item)).map_err(csv_error)?;
    }
    let bytes = out.into_inner().map_err(|e| csv_error(e.into_error()))?;
    Ok((bytes, paged.next_after))
}

/// Rows already read, written as [`csv_page`] writes a page.
async fn csv_rows<R: Serialize>(
    rows: Vec<R>,
    next_after: Option<i64>,
    header: bool,
) -> Result<(Vec<u8>, Option<i64>)> {
    let page = Paged {
        items: rows,
        next_after,
    };
    csv_page(async { Ok(page) }, |r| r, header).await
}

fn csv_writer(header: bool) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(header)
        .from_writer(Vec::new())
}

fn csv_error(e: impl std::fmt::Display) -> Error {
    Error::Internal(anyhow::anyhow!("writing CSV: {e}"))
}
