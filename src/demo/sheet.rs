//! The barcode sheet: every code a person needs to try Depot with a real scanner or a phone,
//! each on a card with what it is and its human-readable line. Items at each packing level as
//! GS1-128 with a batch and expiry of the stock on hand (plain GTIN for items without batches),
//! every bin, every open or won deal, every open pick list. Made from what the database holds,
//! so it fits the demo data and any other; a PDF of A4 sheets (template `barcode-card`).

use serde_json::{Value, json};
use time::Date;

use crate::barcode::internal::{DocumentCode, DocumentKind};
use crate::catalog::items::{self, Tracking};
use crate::catalog::warehouses::{self, LocationFilter};
use crate::crm::deals::{self, DealFilter, DealStatus};
use crate::crm::visibility::Viewer;
use crate::db::{Db, Page};
use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::stock::batches::{self, Batch, BatchFilter, BatchStatus};

/// The card template, and how many cards go on one A4 sheet.
pub const TEMPLATE: &str = "barcode-card";
const COLUMNS: usize = 1;
const ROWS: usize = 6;

/// Every page of a list, however long.
async fn all<T, F, Fut>(mut page_of: F) -> Result<Vec<T>>
where
    F: FnMut(Page) -> Fut,
    Fut: std::future::Future<Output = Result<crate::db::Paged<T>>>,
{
    let mut out = Vec::new();
    let mut page = Page::first(Page::MAX_LIMIT);
    loop {
        let got = page_of(page).await?;
        out.extend(got.items);
        match got.next_after {
            Some(after) => page.after = after,
            None => return Ok(out),
        }
    }
}

fn yymmdd(date: Date) -> String {
    format!(
        "{:02}{:02}{:02}",
        date.year() % 100,
        u8::from(date.month()),
        date.day()
    )
}

fn level_name(quantity: i64) -> String {
    if quantity == 1 {
        "each".into()
    } else {
        format!("pack of {quantity}")
    }
}

/// The cards' data (fields of the `barcode-card` template), in sheet order.
pub async fn cards(db: &Db, today: Date) -> Result<Vec<Value>> {
    let mut cards = Vec::new();
    let every_item = items::ItemFilter::default();
    let items = all(|page| items::list(db, &every_item, page)).await?;
    for item in &items {
        let mut held: Vec<Batch> = match item.tracking {
            Tracking::Batch => {
                let filter = BatchFilter {
                    item_id: Some(item.id),
                    ..Default::default()
                };
                batches::list(db, &filter, today).await?
            }
            _ => Vec::new(),
        };
        // The freshest batch that may be handed out is the one to receive and pick with.
        held.sort_by_key(|b| std::cmp::Reverse(b.expiry_date));
        let usable = held
            .iter()
            .find(|b| crate::stock::fefo::hold(b.status, b.expiry_date, today).is_none());
        for level in &item.gtins {
            let what = format!(
                "{} {}, {}",
                item.code,
                item.name,
                level_name(level.quantity)
            );
            match usable {
                Some(b) => {
                    let expiry = b.expiry_date.map(yymmdd);
                    cards.push(json!({
                        "caption": format!(
                            "{what}: batch {}{}", b.code,
                            b.expiry_date.map(|d| format!(", expires {d}")).unwrap_or_default()
                        ),
                        "gs1": match expiry {
                            Some(e) => format!("(01){}(17){e}(10){}", level.gtin, b.code),
                            None => format!("(01){}(10){}", level.gtin, b.code),
                        },
                    }));
                }
                None => cards.push(json!({
                    "caption": what,
                    "gs1": format!("(01){}", level.gtin),
                })),
            }
        }
        // The item's other batches, at the base level: what scanning them answers shows the
        // rules (a batch close to expiry, one expired and in quarantine).
        if let Some(base) = item.gtins.iter().find(|g| g.quantity == 1) {
            for b in held.iter().filter(|b| Some(b.id) != usable.map(|u| u.id)) {
                let left = crate::stock::fefo::remaining_days(b.expiry_date, today);
                let state = match crate::stock::fefo::hold(b.status, b.expiry_date, today) {
                    Some(_) if b.status == BatchStatus::Quarantine => "in quarantine",
                    Some(_) => "expired",
                    None if matches!(
                        (left, item.min_remaining_shelf_life_days),
                        (Some(left), Some(min)) if left < min
                    ) =>
                    {
                        "too close to expiry for customers"
                    }
                    None => "in stock",
                };
                let Some(expiry) = b.expiry_date else {
                    continue;
                };
                cards.push(json!({
                    "caption": format!(
                        "{} {}: batch {}, expires {expiry} ({state})",
                        item.code, item.name, b.code
                    ),
                    "gs1": format!("(01){}(17){}(10){}", base.gtin, yymmdd(expiry), b.code),
                }));
            }
        }
    }
    let names: std::collections::HashMap<i64, String> = all(|page| warehouses::list(db, page))
        .await?
        .into_iter()
        .map(|w| (w.id, w.name))
        .collect();
    let every_location = LocationFilter::default();
    for location in all(|page| warehouses::list_locations(db, &every_location, page)).await? {
        cards.push(json!({
            "caption": format!(
                "Bin {} in {}",
                location.code,
                names.get(&location.warehouse_id).map(String::as_str).unwrap_or("?")
            ),
            "code": location.barcode,
        }));
    }
    let everyone = Viewer {
        id: 0,
        role: crate::auth::Role::Admin,
    };
    let every_deal = DealFilter::default();
    for deal in all(|page| deals::list(db, everyone, &every_deal, page)).await? {
        if deal.status == DealStatus::Lost {
            continue;
        }
        let code = DocumentCode {
            kind: DocumentKind::Deal,
            id: deal.id,
        };
        cards.push(json!({
            "caption": format!("Deal: {} ({})", deal.title, deal.status.as_str()),
            "code": code.to_string(),
        }));
    }
    for id in crate::fulfilment::picking::open_ids(db).await? {
        let code = DocumentCode {
            kind: DocumentKind::PickList,
            id,
        };
        cards.push(json!({
            "caption": format!("Pick list {id}: scan to start walking it"),
            "code": code.to_string(),
        }));
    }
    Ok(cards)
}

/// The sheet as a PDF: [`cards`] laid out six to an A4 page.
pub async fn pdf(db: &Db, labels: &Labels) -> Result<Vec<u8>> {
    let cards = cards(db, crate::db::now().date()).await?;
    if cards.is_empty() {
        return Err(Error::conflict(
            "items",
            "there is nothing to put on a barcode sheet yet: no items, bins or deals",
        ));
    }
    let template = labels.get(TEMPLATE).ok_or_else(|| {
        Error::invalid("template", format!("no label template named '{TEMPLATE}'"))
    })?;
    tokio::task::spawn_blocking(move || {
        let mut pages = Vec::with_capacity(cards.len());
        for card in &cards {
            pages.extend(template.lay_out(card)?);
        }
        crate::labels::pdf::sheet(&pages, COLUMNS, ROWS)
    })
    .await
    .map_err(|e| anyhow::anyhow!("rendering the barcode sheet: {e}"))?
}
