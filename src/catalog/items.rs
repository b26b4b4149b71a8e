//! Items (product master), their GTINs per packaging level, and bills of materials.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::catalog::gtin;
use crate::catalog::suppliers;
use crate::db::{Db, Keys, Page, Paged, now, rows_for_keys};
use crate::error::{Checks, Error, Result};
use crate::{in_tx, on_read};

crate::text_enum!(
    /// How units of an item are told apart in stock.
    pub Tracking { None = "none", Batch = "batch", Serial = "serial" }
);
crate::text_enum!(
    /// Where more of an item comes from when stock runs short.
    pub Source { Manufactured = "manufactured", Purchased = "purchased" }
);

/// One packaging level: a GTIN and how many base units it holds (each = 1, case = 12, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ItemGtin {
    /// 14 digits, zero-padded.
    pub gtin: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Item {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// Base unit, e.g. `pcs`, `kg`; every quantity of this item counts these.
    pub unit: String,
    pub tracking: Tracking,
    pub shelf_life_days: Option<i64>,
    /// A customer must receive at least this many days of remaining shelf life.
    pub min_remaining_shelf_life_days: Option<i64>,
    pub source: Source,
    pub supplier_id: Option<i64>,
    pub requires_certificate: bool,
    pub lead_time_days: Option<i64>,
    /// `false`: taken out of use (kept for the stock and documents that name it); the change
    /// feed answers it as `delete`.
    pub active: bool,
    pub gtins: Vec<ItemGtin>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
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
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl ItemRow {
    fn into_item(self, gtins: Vec<ItemGtin>) -> Item {
        Item {
            id: self.id,
            code: self.code,
            name: self.name,
            unit: self.unit,
            tracking: Tracking::parse(&self.tracking).unwrap_or(Tracking::None),
            shelf_life_days: self.shelf_life_days,
            min_remaining_shelf_life_days: self.min_remaining_shelf_life_days,
            source: Source::parse(&self.source).unwrap_or(Source::Purchased),
            supplier_id: self.supplier_id,
            requires_certificate: self.requires_certificate,
            lead_time_days: self.lead_time_days,
            active: self.active,
            gtins,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const COLUMNS: &str = "id, code, name, unit, tracking, shelf_life_days, min_remaining_shelf_life_days, \
    source, supplier_id, requires_certificate, lead_time_days, active, created_at, updated_at";

/// A GTIN as given: `"4006381333931"` (one base unit) or `{"gtin": "...", "quantity": 12}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum GtinInput {
    Plain(String),
    Level {
        gtin: String,
        #[serde(default = "one")]
        quantity: i64,
    },
}

fn one() -> i64 {
    1
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewItem {
    pub code: String,
    pub name: String,
    #[serde(default = "default_unit")]
    pub unit: String,
    #[serde(default = "default_tracking")]
    pub tracking: Tracking,
    #[serde(default)]
    pub shelf_life_days: Option<i64>,
    #[serde(default)]
    pub min_remaining_shelf_life_days: Option<i64>,
    #[serde(default = "default_source")]
    pub source: Source,
    #[serde(default)]
    pub supplier_id: Option<i64>,
    #[serde(default)]
    pub requires_certificate: bool,
    #[serde(default)]
    pub lead_time_days: Option<i64>,
    #[serde(default)]
    pub gtins: Vec<GtinInput>,
}

fn default_unit() -> String {
    "pcs".into()
}
fn default_tracking() -> Tracking {
    Tracking::None
}
fn default_source() -> Source {
    Source::Purchased
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ItemPatch {
    pub name: Option<String>,
    pub unit: Option<String>,
    pub tracking: Option<Tracking>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub shelf_life_days: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub min_remaining_shelf_life_days: Option<Option<i64>>,
    pub source: Option<Source>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub supplier_id: Option<Option<i64>>,
    pub requires_certificate: Option<bool>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub lead_time_days: Option<Option<i64>>,
    /// `false` takes the item out of use, `true` puts it back.
    pub active: Option<bool>,
    /// Replaces every GTIN of the item.
    pub gtins: Option<Vec<GtinInput>>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemFilter {
    /// Substring of code or name, case-insensitive.
    pub q: Option<String>,
    pub code: Option<String>,
    /// Any GTIN-8/12/13/14 of the item.
    pub gtin: Option<String>,
    pub source: Option<Source>,
    pub tracking: Option<Tracking>,
    pub supplier_id: Option<i64>,
}

/// The fields an item must satisfy, whether new or patched.
struct ItemFields<'a> {
    name: &'a str,
    unit: &'a str,
    tracking: Tracking,
    shelf_life_days: Option<i64>,
    min_remaining: Option<i64>,
    lead_time_days: Option<i64>,
}

fn check_fields(checks: &mut Checks, f: &ItemFields<'_>) {
    checks.text("name", f.name, 200);
    checks.text("unit", f.unit, 16);
    if let Some(days) = f.shelf_life_days {
        checks.check(days > 0, "shelf_life_days", "must be greater than zero");
        checks.check(
            days <= 36_500,
            "shelf_life_days",
            "must be at most 36500 days",
        );
    }
    checks.days("min_remaining_shelf_life_days", f.min_remaining);
    if let (Some(min), Some(life)) = (f.min_remaining, f.shelf_life_days) {
        checks.check(
            min <= life,
            "min_remaining_shelf_life_days",
            "cannot exceed shelf_life_days",
        );
    }
    if f.shelf_life_days.is_some() && f.tracking == Tracking::None {
        checks.fail(
            "tracking",
            "an item with a shelf life must be tracked by batch (or serial) to know its expiry",
        );
    }
    checks.days_up_to(
        "lead_time_days",
        f.lead_time_days,
        crate::days::MAX_LEAD_TIME_DAYS,
    );
}

/// Validates and normalises GTINs; reports each bad one by its index.
fn parse_gtins(checks: &mut Checks, input: &[GtinInput]) -> Vec<ItemGtin> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (i, g) in input.iter().enumerate() {
        let (raw, quantity) = match g {
            GtinInput::Plain(s) => (s.as_str(), 1),
            GtinInput::Level { gtin, quantity } => (gtin.as_str(), *quantity),
        };
        match gtin::normalize(raw) {
            Ok(norm) => {
                if !seen.insert(norm.clone()) {
                    checks.fail(format!("gtins[{i}].gtin"), "is listed twice");
                }
                out.push(ItemGtin {
                    gtin: norm,
                    quantity,
                });
            }
            Err(e) => checks.fail(format!("gtins[{i}].gtin"), e.to_string()),
        }
        if quantity <= 0 {
            checks.fail(format!("gtins[{i}].quantity"), "must be greater than zero");
        }
    }
    out
}

async fn check_supplier(db: &Db, supplier_id: Option<i64>) -> Result<()> {
    if let Some(id) = supplier_id {
        suppliers::get(db, id).await.map_err(|e| {
            e.missing_as_invalid("supplier_id", format!("no supplier with id {id}"))
        })?;
    }
    Ok(())
}

/// Refuses GTINs that already belong to another item, naming the offending entry.
async fn check_gtins_free(db: &Db, gtins: &[ItemGtin], item_id: Option<i64>) -> Result<()> {
    for (i, g) in gtins.iter().enumerate() {
        if let Some(owner) = owner_of(db, &g.gtin).await?
            && Some(owner) != item_id
        {
            return Err(Error::conflict(
                format!("gtins[{i}].gtin"),
                format!("GTIN {} already belongs to item {owner}", g.gtin),
            ));
        }
    }
    Ok(())
}

async fn owner_of(db: &Db, gtin: &str) -> Result<Option<i64>> {
    Ok(on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>("select item_id from item_gtins where gtin = $1")
            .bind(gtin)
            .fetch_optional(pool)
            .await?
    }))
}

pub async fn create(db: &Db, new: NewItem) -> Result<Item> {
    let mut checks = Checks::new();
    suppliers::check_code(&mut checks, "code", &new.code);
    check_fields(
        &mut checks,
        &ItemFields {
            name: &new.name,
            unit: &new.unit,
            tracking: new.tracking,
            shelf_life_days: new.shelf_life_days,
            min_remaining: new.min_remaining_shelf_life_days,
            lead_time_days: new.lead_time_days,
        },
    );
    let gtins = parse_gtins(&mut checks, &new.gtins);
    checks.finish()?;
    check_supplier(db, new.supplier_id).await?;
    check_gtins_free(db, &gtins, None).await?;
    let at = now();
    let row = in_tx!(db, tx => {
        let row = sqlx::query_as::<_, ItemRow>(&format!(
            "insert into items (code, name, unit, tracking, shelf_life_days, min_remaining_shelf_life_days,
                 source, supplier_id, requires_certificate, lead_time_days, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) returning {COLUMNS}"
        ))
        .bind(new.code.trim())
        .bind(new.name.trim())
        .bind(new.unit.trim())
        .bind(new.tracking.as_str())
        .bind(new.shelf_life_days)
        .bind(new.min_remaining_shelf_life_days)
        .bind(new.source.as_str())
        .bind(new.supplier_id)
        .bind(new.requires_certificate)
        .bind(new.lead_time_days)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| Error::from(e).on_unique("code", "an item with this code already exists"))?;
        for g in &gtins {
            sqlx::query("insert into item_gtins (gtin, item_id, quantity) values ($1, $2, $3)")
                .bind(&g.gtin)
                .bind(row.id)
                .bind(g.quantity)
                .execute(&mut *tx)
                .await
                .map_err(|e| Error::from(e).on_unique("gtins", "a GTIN already belongs to another item"))?;
        }
        row
    });
    Ok(row.into_item(gtins))
}

async fn gtins_between(db: &Db, first: i64, last: i64) -> Result<HashMap<i64, Vec<ItemGtin>>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, (i64, String, i64)>(
            "select item_id, gtin, quantity from item_gtins where item_id between $1 and $2
             order by item_id, quantity, gtin",
        )
        .bind(first)
        .bind(last)
        .fetch_all(pool)
        .await?
    });
    Ok(by_item(rows))
}

/// GTIN rows `(item_id, gtin, quantity)` grouped by item, in the order read.
fn by_item(rows: Vec<(i64, String, i64)>) -> HashMap<i64, Vec<ItemGtin>> {
    let mut map: HashMap<i64, Vec<ItemGtin>> = HashMap::new();
    for (item_id, gtin, quantity) in rows {
        map.entry(item_id)
            .or_default()
            .push(ItemGtin { gtin, quantity });
    }
    map
}

/// The items of the ids `keys` with their GTINs, in id order; an id that names no item is left
/// out. Two reads however many ids (up to a page of the change feed).
pub async fn by_ids(db: &Db, keys: &Keys) -> Result<Vec<Item>> {
    by_keys(db, "id", keys).await
}

/// The items of the codes `codes` with their GTINs, in id order; a code that names no item is
/// left out. Two reads (an import looks up a thousand rows' items at once).
pub async fn by_codes(db: &Db, codes: Vec<String>) -> Result<Vec<Item>> {
    by_keys(db, "code", &Keys::Codes(codes)).await
}

async fn by_keys(db: &Db, column: &str, keys: &Keys) -> Result<Vec<Item>> {
    let rows: Vec<ItemRow> = rows_for_keys(
        db,
        &format!("select {COLUMNS} from items where {{keys}} order by id"),
        column,
        keys,
    )
    .await?;
    let mut gtins = by_item(
        rows_for_keys(
            db,
            "select item_id, gtin, quantity from item_gtins where {keys}
             order by item_id, quantity, gtin",
            "item_id",
            &Keys::Ids(rows.iter().map(|r| r.id).collect()),
        )
        .await?,
    );
    Ok(rows
        .into_iter()
        .map(|r| {
            let g = gtins.remove(&r.id).unwrap_or_default();
            r.into_item(g)
        })
        .collect())
}

pub async fn get(db: &Db, id: i64) -> Result<Item> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, ItemRow>(&format!("select {COLUMNS} from items where id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    })
    .ok_or_else(|| Error::not_found("item", id))?;
    let gtins = gtins_between(db, id, id)
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok(row.into_item(gtins))
}

pub async fn list(db: &Db, filter: &ItemFilter, page: Page) -> Result<Paged<Item>> {
    // A GTIN or a code names at most one item: find it by its unique key first, so the list
    // query below reads one row instead of scanning the catalog (`$n is null or col = $n`
    // cannot use an index).
    let only = match (filter.gtin.as_deref(), filter.code.as_deref()) {
        (Some(raw), _) => {
            let gtin = gtin::normalize(raw).map_err(|e| Error::invalid("gtin", e.to_string()))?;
            Some(by_gtin(db, &gtin).await?.map(|p| p.item_id))
        }
        (None, Some(code)) => Some(on_read!(db, pool => {
            sqlx::query_scalar::<_, i64>("select id from items where code = $1")
                .bind(code)
                .fetch_optional(pool)
                .await?
        })),
        (None, None) => None,
    };
    let (id_clause, id_bound) = match only {
        Some(None) => {
            return Ok(Paged {
                items: Vec::new(),
                next_after: None,
            });
        }
        Some(Some(id)) if id > page.after => ("id = $1", id),
        Some(Some(_)) => {
            return Ok(Paged {
                items: Vec::new(),
                next_after: None,
            });
        }
        None => ("id > $1", page.after),
    };
    let pattern = filter.q.as_ref().map(|q| format!("%{}%", q.to_lowercase()));
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, ItemRow>(&format!(
            "select {COLUMNS} from items
             where {id_clause}
               and ($2 is null or lower(code) like $2 or lower(name) like $2)
               and ($3 is null or source = $3)
               and ($4 is null or tracking = $4)
               and ($5 is null or supplier_id = $5)
               and ($6 is null or code = $6)
             order by id limit $7"
        ))
        .bind(id_bound)
        .bind(pattern)
        .bind(filter.source.map(Source::as_str))
        .bind(filter.tracking.map(Tracking::as_str))
        .bind(filter.supplier_id)
        .bind(filter.code.as_deref())
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    let paged = Paged::from_rows(rows, page, |r| r.id);
    let mut gtins = match (paged.items.first(), paged.items.last()) {
        (Some(first), Some(last)) => gtins_between(db, first.id, last.id).await?,
        _ => HashMap::new(),
    };
    Ok(paged.map(|r| {
        let g = gtins.remove(&r.id).unwrap_or_default();
        r.into_item(g)
    }))
}

pub async fn update(db: &Db, id: i64, patch: ItemPatch) -> Result<Item> {
    let current = get(db, id).await?;
    let name = patch.name.unwrap_or(current.name);
    let unit = patch.unit.unwrap_or(current.unit);
    let tracking = patch.tracking.unwrap_or(current.tracking);
    let shelf_life_days = patch.shelf_life_days.unwrap_or(current.shelf_life_days);
    let min_remaining = patch
        .min_remaining_shelf_life_days
        .unwrap_or(current.min_remaining_shelf_life_days);
    let source = patch.source.unwrap_or(current.source);
    let supplier_id = patch.supplier_id.unwrap_or(current.supplier_id);
    let lead_time_days = patch.lead_time_days.unwrap_or(current.lead_time_days);
    let mut checks = Checks::new();
    check_fields(
        &mut checks,
        &ItemFields {
            name: &name,
            unit: &unit,
            tracking,
            shelf_life_days,
            min_remaining,
            lead_time_days,
        },
    );
    let gtins = patch.gtins.as_deref().map(|g| parse_gtins(&mut checks, g));
    checks.finish()?;
    check_supplier(db, supplier_id).await?;
    if let Some(g) = &gtins {
        check_gtins_free(db, g, Some(id)).await?;
    }
    let row = in_tx!(db, tx => {
        let row = sqlx::query_as::<_, ItemRow>(&format!(
            "update items set name = $2, unit = $3, tracking = $4, shelf_life_days = $5,
                 min_remaining_shelf_life_days = $6, source = $7, supplier_id = $8,
                 requires_certificate = $9, lead_time_days = $10, updated_at = $11, active = $12
             where id = $1 returning {COLUMNS}"
        ))
        .bind(id)
        .bind(name.trim())
        .bind(unit.trim())
        .bind(tracking.as_str())
        .bind(shelf_life_days)
        .bind(min_remaining)
        .bind(source.as_str())
        .bind(supplier_id)
        .bind(patch.requires_certificate.unwrap_or(current.requires_certificate))
        .bind(lead_time_days)
        .bind(now())
        .bind(patch.active.unwrap_or(current.active))
        .fetch_one(&mut *tx)
        .await?;
        if let Some(g) = &gtins {
            sqlx::query("delete from item_gtins where item_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for entry in g {
                sqlx::query("insert into item_gtins (gtin, item_id, quantity) values ($1, $2, $3)")
                    .bind(&entry.gtin)
                    .bind(id)
                    .bind(entry.quantity)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| Error::from(e).on_unique("gtins", "a GTIN already belongs to another item"))?;
            }
        }
        row
    });
    let gtins = match gtins {
        Some(g) => g,
        None => current.gtins,
    };
    Ok(row.into_item(gtins))
}

/// Adds one packaging level to an item.
pub async fn add_gtin(db: &Db, id: i64, input: GtinInput) -> Result<Item> {
    let mut checks = Checks::new();
    let parsed = parse_gtins(&mut checks, std::slice::from_ref(&input));
    if let Err(Error::Validation(mut errors)) = checks.finish() {
        for e in &mut errors {
            e.field = e.field.trim_start_matches("gtins[0].").to_string();
        }
        return Err(Error::Validation(errors));
    }
    let item = get(db, id).await?;
    let entry = parsed
        .into_iter()
        .next()
        .ok_or_else(|| Error::invalid("gtin", "is required"))?;
    if let Some(owner) = owner_of(db, &entry.gtin).await? {
        return Err(Error::conflict(
            "gtin",
            format!("GTIN {} already belongs to item {owner}", entry.gtin),
        ));
    }
    in_tx!(db, tx => {
        sqlx::query("insert into item_gtins (gtin, item_id, quantity) values ($1, $2, $3)")
            .bind(&entry.gtin)
            .bind(item.id)
            .bind(entry.quantity)
            .execute(&mut *tx)
            .await
            .map_err(|e| Error::from(e).on_unique("gtin", "this GTIN already belongs to an item"))?;
    });
    get(db, id).await
}

/// Removes one GTIN from an item.
pub async fn remove_gtin(db: &Db, id: i64, raw: &str) -> Result<Item> {
    let norm = gtin::normalize(raw).map_err(|e| Error::invalid("gtin", e.to_string()))?;
    let removed = in_tx!(db, tx => {
        sqlx::query("delete from item_gtins where item_id = $1 and gtin = $2")
            .bind(id)
            .bind(&norm)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    });
    if removed == 0 {
        get(db, id).await?;
        return Err(Error::not_found("GTIN of this item", norm));
    }
    get(db, id).await
}

/// One component line of a bill of materials.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct BomLine {
    pub component_item_id: i64,
    /// Base units of the component per base unit of the parent.
    pub quantity: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Bom {
    #[serde(default)]
    pub item_id: i64,
    pub lines: Vec<BomLine>,
}

pub async fn bom(db: &Db, item_id: i64) -> Result<Bom> {
    get(db, item_id).await?;
    let lines = on_read!(db, pool => {
        sqlx::query_as::<_, BomLine>(
            "select component_item_id, quantity from bom_lines where parent_item_id = $1
             order by component_item_id",
        )
        .bind(item_id)
        .fetch_all(pool)
        .await?
    });
    Ok(Bom { item_id, lines })
}

/// Replaces an item's bill of materials. Only manufactured items have one, and no item may end
/// up (directly or through sub-assemblies) in its own bill.
pub async fn set_bom(db: &Db, item_id: i64, lines: Vec<BomLine>) -> Result<Bom> {
    let parent = get(db, item_id).await?;
    let mut checks = Checks::new();
    checks.check(
        parent.source == Source::Manufactured || lines.is_empty(),
        "item_id",
        "only manufactured items have a bill of materials",
    );
    let mut seen = HashSet::new();
    for (i, line) in lines.iter().enumerate() {
        checks.positive(&format!("lines[{i}].quantity"), line.quantity);
        if line.component_item_id == item_id {
            checks.fail(
                format!("lines[{i}].component_item_id"),
                "an item cannot contain itself",
            );
        }
        if !seen.insert(line.component_item_id) {
            checks.fail(format!("lines[{i}].component_item_id"), "is listed twice");
        }
    }
    checks.finish()?;
    for (i, line) in lines.iter().enumerate() {
        let field = format!("lines[{i}].component_item_id");
        get(db, line.component_item_id).await.map_err(|e| {
            e.missing_as_invalid(
                &field,
                format!("no item with id {}", line.component_item_id),
            )
        })?;
        if contains(db, line.component_item_id, item_id).await? {
            return Err(Error::invalid(
                field,
                "this component already contains the item: a cycle",
            ));
        }
    }
    in_tx!(db, tx => {
        sqlx::query("delete from bom_lines where parent_item_id = $1")
            .bind(item_id)
            .execute(&mut *tx)
            .await?;
        for line in &lines {
            sqlx::query("insert into bom_lines (parent_item_id, component_item_id, quantity) values ($1, $2, $3)")
                .bind(item_id)
                .bind(line.component_item_id)
                .bind(line.quantity)
                .execute(&mut *tx)
                .await?;
        }
    });
    bom(db, item_id).await
}

/// A bill of materials line as a file holds it: the item and the component by their codes.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BillLine {
    #[serde(skip)]
    pub parent_item_id: i64,
    pub item_code: String,
    pub component_code: String,
    pub quantity: i64,
}

/// Every line of the bills of materials of a page of parent items (in id order, whole bills
/// only), components by code.
pub async fn bill_lines(db: &Db, page: Page) -> Result<Paged<BillLine>> {
    let parents: Vec<i64> = on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>(
            "select distinct parent_item_id from bom_lines where parent_item_id > $1
             order by parent_item_id limit $2",
        )
        .bind(page.after)
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    let parents = Paged::from_rows(parents, page, |id| *id);
    let lines = rows_for_keys(
        db,
        "select b.parent_item_id, p.code as item_code, c.code as component_code, b.quantity
         from bom_lines b join items p on p.id = b.parent_item_id
              join items c on c.id = b.component_item_id
         where {keys} order by b.parent_item_id, c.code",
        "b.parent_item_id",
        &Keys::Ids(parents.items),
    )
    .await?;
    Ok(Paged {
        items: lines,
        next_after: parents.next_after,
    })
}

/// Whether `assembly`'s bill of materials contains `item` at any depth.
async fn contains(db: &Db, assembly: i64, item: i64) -> Result<bool> {
    let found = on_read!(db, pool => {
        sqlx::query_scalar::<_, i64>(
            "with recursive parts(id) as (
                 select component_item_id from bom_lines where parent_item_id = $1
                 union
                 select b.component_item_id from bom_lines b join parts p on b.parent_item_id = p.id
             ) select count(*) from parts where id = $2",
        )
        .bind(assembly)
        .bind(item)
        .fetch_one(pool)
        .await?
    });
    Ok(found > 0)
}

/// What a scanned code says about an item: which item, and how many base units the scanned
/// pack holds.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct PackRef {
    pub item_id: i64,
    pub code: String,
    pub name: String,
    pub unit: String,
    pub tracking: String,
    /// Base units in the scanned pack (1 for an each, 12 for a case of 12...).
    pub quantity: i64,
}

/// The item and pack level behind a 14-digit GTIN: one primary-key read.
pub async fn by_gtin(db: &Db, gtin14: &str) -> Result<Option<PackRef>> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, PackRef>(
            "select i.id as item_id, i.code, i.name, i.unit, i.tracking, g.quantity
             from item_gtins g join items i on i.id = g.item_id where g.gtin = $1",
        )
        .bind(gtin14)
        .fetch_optional(pool)
        .await?
    }))
}

/// The item behind a barcode alias (a non-GTIN code linked to an item).
pub async fn by_alias(db: &Db, code: &str) -> Result<Option<PackRef>> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, PackRef>(
            "select i.id as item_id, i.code, i.name, i.unit, i.tracking, a.quantity
             from barcode_aliases a join items i on i.id = a.item_id where a.code = $1",
        )
        .bind(code)
        .fetch_optional(pool)
        .await?
    }))
}

/// A barcode that is not a GTIN but names an item (an old label, a supplier's own code).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, sqlx::FromRow)]
pub struct BarcodeAlias {
    pub code: String,
    #[serde(default)]
    pub item_id: i64,
    #[serde(default = "one")]
    pub quantity: i64,
}

/// Links a code to an item, e.g. an unknown code from the scan log. A code that is a GTIN
/// belongs in the item's GTINs instead.
pub async fn add_alias(db: &Db, item_id: i64, code: &str, quantity: i64) -> Result<BarcodeAlias> {
    let code = code.trim();
    let mut checks = Checks::new();
    checks.text("code", code, 200);
    checks.positive("quantity", quantity);
    checks.finish()?;
    if gtin::normalize(code).is_ok() {
        return Err(Error::invalid(
            "code",
            "this is a valid GTIN: add it with POST /v1/items/{id}/gtins",
        ));
    }
    get(db, item_id).await?;
    let at = now();
    Ok(in_tx!(db, tx => {
        sqlx::query_as::<_, BarcodeAlias>(
            "insert into barcode_aliases (code, item_id, quantity, created_at) values ($1, $2, $3, $4)
             returning code, item_id, quantity",
        )
        .bind(code)
        .bind(item_id)
        .bind(quantity)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| Error::from(e).on_unique("code", "this code is already linked to an item"))?
    }))
}

/// Unlinks the code `code` from item `item_id`; answers the item's aliases left.
pub async fn remove_alias(db: &Db, item_id: i64, code: &str) -> Result<Vec<BarcodeAlias>> {
    let removed = in_tx!(db, tx => {
        sqlx::query("delete from barcode_aliases where item_id = $1 and code = $2")
            .bind(item_id)
            .bind(code)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    });
    if removed == 0 {
        get(db, item_id).await?;
        return Err(Error::not_found("alias of this item", code));
    }
    aliases(db, item_id).await
}

/// The aliases of the codes `keys`, in code order; a code that is no alias is left out.
pub async fn aliases_by_codes(db: &Db, keys: &Keys) -> Result<Vec<BarcodeAlias>> {
    rows_for_keys(
        db,
        "select code, item_id, quantity from barcode_aliases where {keys} order by code",
        "code",
        keys,
    )
    .await
}

pub async fn aliases(db: &Db, item_id: i64) -> Result<Vec<BarcodeAlias>> {
    get(db, item_id).await?;
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, BarcodeAlias>(
            "select code, item_id, quantity from barcode_aliases where item_id = $1 order by code",
        )
        .bind(item_id)
        .fetch_all(pool)
        .await?
    }))
}
