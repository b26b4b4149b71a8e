//! From a normalised scan to what it means: interpret it (GS1, GTIN, SSCC, Digital Link, one of
//! Depot's own codes) and find what it refers to.

use serde::Serialize;
use utoipa::ToSchema;

use crate::barcode::gs1::{self, Gs1Error, Gs1ErrorKind, InputForm, Interpretation};
use crate::barcode::internal::{self, DocumentKind};
use crate::catalog::{items, warehouses};
use crate::db::Db;
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    Gs1,
    Gtin,
    Sscc,
    DigitalLink,
    Internal,
    Unknown,
}

impl ScanKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanKind::Gs1 => "gs1",
            ScanKind::Gtin => "gtin",
            ScanKind::Sscc => "sscc",
            ScanKind::DigitalLink => "digital_link",
            ScanKind::Internal => "internal",
            ScanKind::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ElementView {
    pub ai: String,
    pub title: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeasureView {
    pub ai: String,
    pub title: String,
    /// Exact decimal, e.g. `"1.250"`.
    pub value: String,
    pub unit: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// What the GS1 data says, element by element and in the fields warehouse work needs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Gs1View {
    pub elements: Vec<ElementView>,
    /// 14 digits.
    pub gtin: Option<String>,
    pub sscc: Option<String>,
    pub batch: Option<String>,
    pub serial: Option<String>,
    /// ISO date (`2026-12-31`); a DD of 00 means the last day of the month.
    #[schema(value_type = Option<String>, format = Date)]
    pub expiry: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub best_before: Option<String>,
    #[schema(value_type = Option<String>, format = Date)]
    pub production_date: Option<String>,
    pub count: Option<i64>,
    /// From AI 310n, for display; `measures` carries the exact decimal.
    pub net_weight_kg: Option<f64>,
    pub measures: Vec<MeasureView>,
}

/// One thing in Depot that a scan refers to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Match {
    /// `item`, `batch`, `location`, `parcel`, `deal`, `pick_list`, `production_order`,
    /// `purchase_order`, `shipment`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For an item: base units in the scanned pack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse_id: Option<i64>,
    /// For a batch: its expiry date (ISO).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    /// For a batch: `available`, `quarantine`, `expired`, `recalled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl Match {
    fn new(kind: &'static str, id: i64) -> Match {
        Match {
            kind,
            id,
            code: None,
            name: None,
            quantity: None,
            unit: None,
            item_id: None,
            warehouse_id: None,
            expiry: None,
            status: None,
        }
    }

    fn item(pack: items::PackRef) -> Match {
        Match {
            code: Some(pack.code),
            name: Some(pack.name),
            quantity: Some(pack.quantity),
            unit: Some(pack.unit),
            ..Match::new("item", pack.item_id)
        }
    }
}

/// The meaning of a scan, before lookups.
pub enum Reading {
    Gs1 {
        kind: ScanKind,
        interpretation: Box<Interpretation>,
    },
    Document(internal::DocumentCode),
    /// Not GS1 and not a document code: look it up as a bin or alias barcode.
    Other,
}

/// Interprets normalised scan data. Data that claims to be GS1 (symbology identifier, leading
/// GS, brackets, Digital Link) and fails validation is an error; unprefixed data is GS1 only
/// when it reads completely and validly.
pub fn read(data: &str) -> Result<Reading, Gs1Error> {
    if let Some(code) = internal::parse(payload(data)) {
        return Ok(Reading::Document(code));
    }
    match gs1::interpret(data) {
        Ok(interpretation) => {
            let kind = match interpretation.form {
                InputForm::ElementString | InputForm::Bracketed => ScanKind::Gs1,
                InputForm::DigitalLink => ScanKind::DigitalLink,
                InputForm::PlainGtin => ScanKind::Gtin,
                InputForm::PlainSscc => ScanKind::Sscc,
            };
            Ok(Reading::Gs1 {
                kind,
                interpretation: Box::new(interpretation),
            })
        }
        Err(e) if e.kind == Gs1ErrorKind::NotGs1 => Ok(Reading::Other),
        Err(e) => Err(e),
    }
}

/// The AIM symbology identifier at the start of the data, if any (`]C1`, `]d2`...).
pub fn symbology_of(data: &str) -> Option<String> {
    let b = data.as_bytes();
    (b.len() >= 3 && b[0] == b']' && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphanumeric())
        .then(|| data[..3].to_string())
}

/// The data without its AIM symbology identifier: what a bin or document label encodes.
pub fn payload(data: &str) -> &str {
    match symbology_of(data) {
        Some(_) => &data[3..],
        None => data,
    }
}

pub fn gs1_view(i: &Interpretation) -> Gs1View {
    let iso = |d: Option<time::Date>| d.map(|d| d.to_string());
    Gs1View {
        elements: i
            .elements
            .iter()
            .map(|e| ElementView {
                ai: e.ai.clone(),
                title: e.title.to_string(),
                value: e.value.clone(),
            })
            .collect(),
        gtin: i.gtin.clone(),
        sscc: i.sscc.clone(),
        batch: i.batch.clone(),
        serial: i.serial.clone(),
        expiry: iso(i.expiry),
        best_before: iso(i.best_before),
        production_date: iso(i.production_date),
        count: i.count,
        net_weight_kg: i
            .measures
            .iter()
            .find(|m| m.ai.starts_with("310"))
            .and_then(|m| m.display.parse::<f64>().ok()),
        measures: i
            .measures
            .iter()
            .map(|m| MeasureView {
                ai: m.ai.clone(),
                title: m.title.to_string(),
                value: m.display.clone(),
                unit: m.unit.to_string(),
                currency: m.currency.clone(),
            })
            .collect(),
    }
}

/// Finds what a reading refers to in Depot.
pub async fn matches(db: &Db, data: &str, reading: &Reading) -> Result<Vec<Match>> {
    let mut found = Vec::new();
    match reading {
        Reading::Gs1 { interpretation, .. } => {
            if let Some(gtin) = &interpretation.gtin
                && let Some((pack, batch)) =
                    crate::stock::batches::pack_and_batch(db, gtin, interpretation.batch.as_deref())
                        .await?
            {
                let item_id = pack.item_id;
                found.push(Match::item(pack));
                if let Some(batch) = batch {
                    found.push(Match {
                        code: Some(batch.code),
                        item_id: Some(item_id),
                        expiry: batch.expiry_date.map(|d| d.to_string()),
                        status: Some(batch.status.as_str().to_string()),
                        ..Match::new("batch", batch.id)
                    });
                }
            }
            if let Some(sscc) = &interpretation.sscc
                && let Some((id, deal)) = parcel_by_sscc(db, sscc).await?
            {
                found.push(Match {
                    code: Some(sscc.clone()),
                    name: Some(format!("parcel of deal {deal}")),
                    ..Match::new("parcel", id)
                });
            }
        }
        Reading::Document(code) => {
            let name = match code.kind {
                DocumentKind::Deal => crate::crm::deals::title_of(db, code.id).await?,
                other => document_exists(db, other, code.id)
                    .await?
                    .then(|| code.to_string()),
            };
            if let Some(name) = name {
                found.push(Match {
                    code: Some(code.to_string()),
                    name: Some(name),
                    ..Match::new(code.kind.match_type(), code.id)
                });
            }
        }
        Reading::Other => {
            let data = payload(data);
            if let Some(location) = warehouses::location_by_barcode(db, data).await? {
                found.push(Match {
                    code: Some(location.code),
                    warehouse_id: Some(location.warehouse_id),
                    ..Match::new("location", location.id)
                });
            }
            if let Some(pack) = items::by_alias(db, data).await? {
                found.push(Match::item(pack));
            }
        }
    }
    Ok(found)
}

/// The parcel carrying an SSCC, and its deal.
async fn parcel_by_sscc(db: &Db, sscc: &str) -> Result<Option<(i64, i64)>> {
    Ok(crate::on_read!(db, pool => {
        sqlx::query_as::<_, (i64, i64)>("select id, deal_id from parcels where sscc = $1")
            .bind(sscc)
            .fetch_optional(pool)
            .await?
    }))
}

/// Whether one of Depot's documents exists (a pick list, an order, a shipment).
async fn document_exists(db: &Db, kind: DocumentKind, id: i64) -> Result<bool> {
    let table = match kind {
        DocumentKind::Deal => "deals",
        DocumentKind::PickList => "pick_lists",
        DocumentKind::ProductionOrder => "production_orders",
        DocumentKind::PurchaseOrder => "purchase_orders",
        DocumentKind::Shipment => "shipments",
        DocumentKind::Return => "stock_returns",
        DocumentKind::Parcel => "parcels",
    };
    let n = crate::on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>(&format!("select count(*) from {table} where id = $1"))
            .bind(id)
            .fetch_one(pool)
            .await?
    });
    Ok(n > 0)
}

/// The kind reported for a reading.
pub fn kind_of(reading: &Reading) -> ScanKind {
    match reading {
        Reading::Gs1 { kind, .. } => *kind,
        Reading::Document(_) => ScanKind::Internal,
        Reading::Other => ScanKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_symbologies_are_stripped_for_lookups() {
        assert_eq!(payload("]C0LOC-A-01"), "LOC-A-01");
        assert_eq!(payload("LOC-A-01"), "LOC-A-01");
        assert!(matches!(read("]C0DPT-DEAL-4"), Ok(Reading::Document(_))));
        assert!(matches!(read("]C0LOC-A-01"), Ok(Reading::Other)));
        assert!(matches!(read("]Q1LOC-A-01"), Ok(Reading::Other)));
    }
}
