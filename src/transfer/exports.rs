//! Exports: every record of a kind as CSV, read through the owning domain's own paged listing
//! (the same filters and the same rows the API lists), so a file never holds more than one page
//! in memory however long it is: a million ledger rows stream at the cost of one page.

use std::future::Future;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::catalog::items::{self, Item, ItemFilter};
use crate::db::{Db, Page, Paged};
use crate::error::{Error, Result};
use crate::stock::batches::{self, Batch, BatchFilter};
use crate::stock::ledger::{self, LedgerFilter, Movement};

/// Rows read per page while streaming.
pub const PAGE_ROWS: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Items,
    Stock,
    Batches,
    Ledger,
}

impl Kind {
    pub fn parse(raw: &str) -> Result<Kind> {
        match raw {
            "items" => Ok(Kind::Items),
            "stock" => Ok(Kind::Stock),
            "batches" => Ok(Kind::Batches),
            "ledger" => Ok(Kind::Ledger),
            _ => Err(Error::invalid(
                "kind",
                "unknown export: items, stock, batches or ledger",
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
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            Kind::Items => "items.csv",
            Kind::Stock => "stock.csv",
            Kind::Batches => "batches.csv",
            Kind::Ledger => "ledger.csv",
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
    after: Option<i64>,
    header_written: bool,
}

impl Export {
    pub fn new(db: Db, kind: Kind, filter: ExportFilter) -> Export {
        Export {
            db,
            kind,
            filter,
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
            Kind::Stock => {
                // Balances are one row per item, place and batch: read at once.
                let rows = ledger::balances(db, &Default::default()).await?;
                let paged = Paged {
                    items: rows,
                    next_after: None,
                };
                csv_page(async { Ok(paged) }, |b| b, header).await?
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

fn csv_writer(header: bool) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(header)
        .from_writer(Vec::new())
}

fn csv_error(e: impl std::fmt::Display) -> Error {
    Error::Internal(anyhow::anyhow!("writing CSV: {e}"))
}
