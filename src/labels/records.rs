//! Label data filled from a record (an item, a batch, a location), for the record label routes
//! and for print jobs that name an entity instead of giving data.

use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::db::Db;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    Item,
    Batch,
    Location,
}

/// A record whose label to print: `{"type": "batch", "id": 7}`.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub struct EntityRef {
    #[serde(rename = "type")]
    pub kind: EntityKind,
    pub id: i64,
}

/// The item's base-unit GTIN (or its first).
fn gtin_of(item: &crate::catalog::items::Item) -> Result<String> {
    item.gtins
        .iter()
        .find(|g| g.quantity == 1)
        .or(item.gtins.first())
        .map(|g| g.gtin.clone())
        .ok_or_else(|| Error::conflict("gtins", format!("item {} has no GTIN to print", item.code)))
}

/// The default template for a record, and its data.
pub async fn data_for(db: &Db, entity: EntityRef) -> Result<(&'static str, Value)> {
    match entity.kind {
        EntityKind::Item => {
            let item = crate::catalog::items::get(db, entity.id).await?;
            let gtin = gtin_of(&item)?;
            Ok((
                "item",
                json!({"item": {"name": item.name, "code": item.code, "gtin": gtin, "unit": item.unit}}),
            ))
        }
        EntityKind::Batch => {
            let batch = crate::stock::batches::get(db, entity.id).await?;
            let item = crate::catalog::items::get(db, batch.item_id).await?;
            let gtin = gtin_of(&item)?;
            Ok((
                "batch",
                json!({
                    "item": {"name": item.name, "code": item.code, "gtin": gtin},
                    "batch": {
                        "code": batch.code,
                        "expiry": batch.expiry_date.map(|d| d.to_string()),
                        "production_date": batch.production_date.map(|d| d.to_string()),
                    }
                }),
            ))
        }
        EntityKind::Location => {
            let location = crate::catalog::warehouses::location(db, entity.id).await?;
            let warehouse = crate::catalog::warehouses::get(db, location.warehouse_id).await?;
            Ok((
                "location",
                json!({
                    "location": {"code": location.code, "barcode": location.barcode},
                    "warehouse": {"name": warehouse.name},
                }),
            ))
        }
    }
}
