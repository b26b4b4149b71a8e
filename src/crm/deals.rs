//! Deals: what a customer wants (lines of goods at a price), where it stands (stage), and how it
//! ended (won, or lost with a reason). Everything that moves in the warehouse points back to one.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::crm::visibility::{self, Reach, SCOPE, Viewer, check_assignee, in_scope};
use crate::crm::{NAME_MAX, NOTE_MAX, customers, stages};
use crate::db::placeholders;
use crate::db::{Db, Page, Paged, Tx, now};
use crate::error::{Checks, Error, Result};
use crate::patch::clean;
use crate::{on_read, on_tx};

crate::text_enum!(
    /// Where a deal stands: open, or closed as won or lost.
    pub DealStatus { Open = "open", Won = "won", Lost = "lost" }
);

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct DealLine {
    pub id: i64,
    /// 1, 2, ... in the order the lines were given.
    pub line_no: i64,
    pub item_id: i64,
    /// Base units of the item.
    pub quantity: i64,
    /// Minor units of the deal's currency per base unit.
    pub unit_price: i64,
    /// `quantity * unit_price`.
    pub line_total: i64,
    #[serde(skip)]
    #[schema(ignore)]
    pub deal_id: i64,
}

const LINE_COLUMNS: &str =
    "id, line_no, item_id, quantity, unit_price, quantity * unit_price as line_total, deal_id";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Deal {
    pub id: i64,
    pub customer_id: i64,
    pub owner_id: i64,
    pub title: String,
    /// A deal stage code (see `GET /v1/deal-stages`).
    pub stage: String,
    pub status: DealStatus,
    pub lost_reason: Option<String>,
    /// ISO 4217 code.
    pub currency: String,
    /// Sum of the line totals, in minor units.
    pub amount: i64,
    /// The lead this deal was converted from.
    pub lead_id: Option<i64>,
    /// Where the deal's goods go: one of the customer's addresses (default: its preferred
    /// shipping address).
    pub ship_to_address_id: Option<i64>,
    /// The customer's own reference for the deal (their order number), printed on delivery
    /// notes.
    pub customer_reference: Option<String>,
    pub lines: Vec<DealLine>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When the deal was won or lost.
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct DealRow {
    id: i64,
    customer_id: i64,
    owner_id: i64,
    title: String,
    stage: String,
    status: DealStatus,
    lost_reason: Option<String>,
    currency: String,
    lead_id: Option<i64>,
    ship_to_address_id: Option<i64>,
    customer_reference: Option<String>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    closed_at: Option<OffsetDateTime>,
}

impl DealRow {
    fn into_deal(self, lines: Vec<DealLine>) -> Deal {
        Deal {
            id: self.id,
            customer_id: self.customer_id,
            owner_id: self.owner_id,
            title: self.title,
            stage: self.stage,
            status: self.status,
            lost_reason: self.lost_reason,
            currency: self.currency,
            amount: lines
                .iter()
                .fold(0i64, |sum, l| sum.saturating_add(l.line_total)),
            lead_id: self.lead_id,
            ship_to_address_id: self.ship_to_address_id,
            customer_reference: self.customer_reference,
            lines,
            created_at: self.created_at,
            updated_at: self.updated_at,
            closed_at: self.closed_at,
        }
    }
}

const COLUMNS: &str = "d.id, d.customer_id, d.owner_id, d.title, d.stage, d.status, d.lost_reason, \
    d.currency, d.lead_id, d.ship_to_address_id, d.customer_reference, d.created_at, d.updated_at, \
    d.closed_at";

/// A line as given. In a PATCH, a line with the `id` of an existing line of the deal updates it,
/// lines without `id` are added, existing lines left out are removed.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewDealLine {
    #[serde(default)]
    pub id: Option<i64>,
    pub item_id: i64,
    /// Base units, greater than zero.
    pub quantity: i64,
    /// Minor units per base unit, zero or more (default 0: not priced yet).
    #[serde(default)]
    pub unit_price: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDeal {
    /// A customer the caller can see.
    pub customer_id: i64,
    /// Defaults to the caller; an admin may give anyone, a head someone in their team.
    #[serde(default)]
    pub owner_id: Option<i64>,
    /// Defaults to "Deal: <customer's legal name>".
    #[serde(default)]
    pub title: Option<String>,
    /// Default `selection`.
    #[serde(default)]
    pub stage: Option<String>,
    /// Default `open`.
    #[serde(default)]
    pub status: Option<DealStatus>,
    /// Required when `status` is `lost`.
    #[serde(default)]
    pub lost_reason: Option<String>,
    /// Three upper-case letters, default `EUR`.
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub lines: Vec<NewDealLine>,
    /// One of the customer's addresses the goods go to (default: its preferred shipping
    /// address).
    #[serde(default)]
    pub ship_to_address_id: Option<i64>,
    /// The customer's own reference for the deal (up to 40 characters).
    #[serde(default)]
    pub customer_reference: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DealPatch {
    pub title: Option<String>,
    pub stage: Option<String>,
    /// `won` or `lost` closes the deal (sets `closed_at`); `open` reopens it.
    pub status: Option<DealStatus>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub lost_reason: Option<Option<String>>,
    /// Only while the deal is open.
    pub currency: Option<String>,
    /// Hands the deal to someone else (admin or head).
    pub owner_id: Option<i64>,
    /// Replaces the lines (see `NewDealLine.id`); only while the deal is open.
    pub lines: Option<Vec<NewDealLine>>,
    /// One of the customer's addresses; `null`: its preferred shipping address.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub ship_to_address_id: Option<Option<i64>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub customer_reference: Option<Option<String>>,
}

/// The longest customer reference.
const REFERENCE_MAX: usize = 40;

/// Sets where the deal's goods go and the customer's reference, in the caller's transaction
/// (`None`: unchanged; `Some(None)`: cleared). The address must be one of the customer's (422
/// on `ship_to_address_id`).
async fn set_delivery(
    tx: &mut Tx,
    deal_id: i64,
    customer_id: i64,
    ship_to_address_id: Option<Option<i64>>,
    customer_reference: Option<Option<String>>,
) -> Result<()> {
    let reference =
        customer_reference.map(|r| r.map(|r| r.trim().to_string()).filter(|r| !r.is_empty()));
    if let Some(Some(r)) = &reference {
        let mut checks = Checks::new();
        checks.max_len("customer_reference", r, REFERENCE_MAX);
        checks.finish()?;
    }
    if let Some(Some(address)) = ship_to_address_id {
        let owner = on_tx!(&mut *tx, conn => {
            sqlx::query_scalar::<_, i64>("select customer_id from customer_addresses where id = $1")
                .bind(address)
                .fetch_optional(&mut *conn)
                .await?
        });
        if owner != Some(customer_id) {
            return Err(Error::invalid(
                "ship_to_address_id",
                format!("customer {customer_id} has no address with id {address}"),
            ));
        }
    }
    if let Some(address) = ship_to_address_id {
        on_tx!(&mut *tx, conn => {
            sqlx::query("update deals set ship_to_address_id = $2 where id = $1")
                .bind(deal_id)
                .bind(address)
                .execute(&mut *conn)
                .await?;
        });
    }
    if let Some(reference) = reference {
        on_tx!(&mut *tx, conn => {
            sqlx::query("update deals set customer_reference = $2 where id = $1")
                .bind(deal_id)
                .bind(reference)
                .execute(&mut *conn)
                .await?;
        });
    }
    Ok(())
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DealFilter {
    pub status: Option<DealStatus>,
    pub stage: Option<String>,
    pub customer_id: Option<i64>,
    pub owner_id: Option<i64>,
}

/// A line, validated.
#[derive(Debug, Clone)]
pub(crate) struct LineValues {
    pub id: Option<i64>,
    pub item_id: i64,
    pub quantity: i64,
    pub unit_price: i64,
}

pub(crate) fn check_lines(checks: &mut Checks, lines: &[NewDealLine]) -> Vec<LineValues> {
    checks.check(lines.len() <= 500, "lines", "at most 500 lines");
    let mut total: Option<i64> = Some(0);
    let mut ids = HashSet::new();
    for (i, l) in lines.iter().enumerate() {
        checks.positive(&format!("lines[{i}].quantity"), l.quantity);
        checks.non_negative(&format!("lines[{i}].unit_price"), Some(l.unit_price));
        match l.quantity.checked_mul(l.unit_price) {
            Some(t) => total = total.and_then(|sum| sum.checked_add(t)),
            None => checks.fail(
                format!("lines[{i}].unit_price"),
                "the line total is too large",
            ),
        }
        if let Some(id) = l.id
            && !ids.insert(id)
        {
            checks.fail(format!("lines[{i}].id"), "is listed twice");
        }
    }
    checks.check(total.is_some(), "lines", "the deal amount is too large");
    lines
        .iter()
        .map(|l| LineValues {
            id: l.id,
            item_id: l.item_id,
            quantity: l.quantity,
            unit_price: l.unit_price,
        })
        .collect()
}

/// Refuses lines naming items that do not exist (422 on `lines[i].item_id`).
pub(crate) async fn check_items(db: &Db, lines: &[LineValues]) -> Result<()> {
    let wanted: Vec<i64> = lines
        .iter()
        .map(|l| l.item_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "select id from items where id in ({})",
        placeholders(1, wanted.len())
    );
    let found: HashSet<i64> = on_read!(db, pool => {
        let mut q = sqlx::query_scalar::<_, i64>(&sql);
        for id in &wanted {
            q = q.bind(id);
        }
        q.fetch_all(pool).await?
    })
    .into_iter()
    .collect();
    let mut checks = Checks::new();
    for (i, l) in lines.iter().enumerate() {
        if !found.contains(&l.item_id) {
            checks.fail(
                format!("lines[{i}].item_id"),
                format!("no item with id {}", l.item_id),
            );
        }
    }
    checks.finish()
}

pub(crate) fn check_currency(checks: &mut Checks, currency: Option<&str>) -> String {
    let c = currency.map(str::trim).unwrap_or("EUR");
    checks.check(
        c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase()),
        "currency",
        "must be an ISO 4217 code: three upper-case letters",
    );
    c.to_string()
}

fn check_lost_reason(checks: &mut Checks, status: DealStatus, lost_reason: Option<&str>) {
    if status == DealStatus::Lost && lost_reason.is_none() {
        checks.fail("lost_reason", "is required when a deal is lost");
    }
    checks.opt_text("lost_reason", lost_reason, NOTE_MAX);
}

/// The optional parts of a new deal, as given to `POST /v1/deals` or a lead's conversion.
pub(crate) struct DealInput {
    pub title: Option<String>,
    pub stage: Option<String>,
    pub status: Option<DealStatus>,
    pub lost_reason: Option<String>,
    pub currency: Option<String>,
    pub lines: Vec<NewDealLine>,
}

/// A new deal, validated, ready to insert.
pub(crate) struct DealValues {
    pub customer_id: i64,
    pub owner_id: i64,
    pub title: String,
    pub stage: String,
    pub status: DealStatus,
    pub lost_reason: Option<String>,
    pub currency: String,
    pub lead_id: Option<i64>,
    pub lines: Vec<LineValues>,
}

impl DealValues {
    /// Validates a new deal's own fields (stage and items need the database: [`Self::verify`]).
    /// `customer_id` may be 0 while the customer is still to be created.
    pub(crate) fn check(
        input: DealInput,
        owner_id: i64,
        default_title: String,
    ) -> Result<DealValues> {
        let mut checks = Checks::new();
        let title = match clean(input.title) {
            Some(t) => {
                checks.max_len("title", &t, NAME_MAX);
                t
            }
            None => default_title,
        };
        let status = input.status.unwrap_or(DealStatus::Open);
        let lost_reason = clean(input.lost_reason).filter(|_| status == DealStatus::Lost);
        check_lost_reason(&mut checks, status, lost_reason.as_deref());
        let currency = check_currency(&mut checks, input.currency.as_deref());
        let lines = check_lines(&mut checks, &input.lines);
        for (i, l) in lines.iter().enumerate() {
            if l.id.is_some() {
                checks.fail(
                    format!("lines[{i}].id"),
                    "a new deal's lines have no id yet",
                );
            }
        }
        checks.finish()?;
        Ok(DealValues {
            customer_id: 0,
            owner_id,
            title,
            stage: clean(input.stage).unwrap_or_else(|| stages::DEFAULT_STAGE.into()),
            status,
            lost_reason,
            currency,
            lead_id: None,
            lines,
        })
    }

    /// Checks what needs the database: the stage and the items.
    pub(crate) async fn verify(&self, db: &Db) -> Result<()> {
        stages::check(db, &self.stage).await?;
        check_items(db, &self.lines).await
    }
}

/// Inserts line number `line_no` of a deal in the caller's transaction.
async fn insert_line(tx: &mut Tx, deal_id: i64, line_no: i64, l: &LineValues) -> Result<()> {
    on_tx!(tx, conn => {
        sqlx::query(
            "insert into deal_lines (deal_id, line_no, item_id, quantity, unit_price)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(deal_id)
        .bind(line_no)
        .bind(l.item_id)
        .bind(l.quantity)
        .bind(l.unit_price)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

/// Inserts a deal with its lines in the caller's transaction; answers its id.
pub(crate) async fn insert(tx: &mut Tx, v: &DealValues, at: OffsetDateTime) -> Result<i64> {
    let id = on_tx!(&mut *tx, conn => {
        sqlx::query_scalar::<_, i64>(
            "insert into deals (customer_id, owner_id, title, stage, status, lost_reason, currency,
                 lead_id, created_at, updated_at, closed_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) returning id",
        )
        .bind(v.customer_id)
        .bind(v.owner_id)
        .bind(&v.title)
        .bind(&v.stage)
        .bind(v.status.as_str())
        .bind(&v.lost_reason)
        .bind(&v.currency)
        .bind(v.lead_id)
        .bind(at)
        .bind((v.status != DealStatus::Open).then_some(at))
        .fetch_one(&mut *conn)
        .await?
    });
    for (i, l) in v.lines.iter().enumerate() {
        insert_line(tx, id, i as i64 + 1, l).await?;
    }
    Ok(id)
}

pub async fn create(db: &Db, viewer: Viewer, new: NewDeal) -> Result<Deal> {
    let owner_id = new.owner_id.unwrap_or(viewer.id);
    let customer_id = new.customer_id;
    let missing = || format!("no customer with id {customer_id}");
    let customer = match visibility::customer_reach(db, viewer, customer_id).await? {
        Reach::Hidden => return Err(Error::invalid("customer_id", missing())),
        _ => customers::load(db, customer_id)
            .await
            .map_err(|e| e.missing_as_invalid("customer_id", missing()))?,
    };
    let input = DealInput {
        title: new.title,
        stage: new.stage,
        status: new.status,
        lost_reason: new.lost_reason,
        currency: new.currency,
        lines: new.lines,
    };
    let mut values = DealValues::check(input, owner_id, format!("Deal: {}", customer.legal_name))?;
    values.customer_id = customer_id;
    values.verify(db).await?;
    check_assignee(db, viewer, "owner_id", owner_id).await?;
    let at = now();
    let mut tx = db.begin().await?;
    let id = insert(&mut tx, &values, at).await?;
    if new.ship_to_address_id.is_some() || new.customer_reference.is_some() {
        set_delivery(
            &mut tx,
            id,
            customer_id,
            new.ship_to_address_id.map(Some),
            new.customer_reference.map(Some),
        )
        .await?;
    }
    tx.commit().await?;
    load(db, id).await
}

async fn lines_of(db: &Db, ids: &[i64]) -> Result<HashMap<i64, Vec<DealLine>>> {
    let mut map: HashMap<i64, Vec<DealLine>> = HashMap::new();
    if ids.is_empty() {
        return Ok(map);
    }
    let sql = format!(
        "select {LINE_COLUMNS} from deal_lines where deal_id in ({}) order by deal_id, line_no",
        placeholders(1, ids.len())
    );
    let rows = on_read!(db, pool => {
        let mut q = sqlx::query_as::<_, DealLine>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await?
    });
    for l in rows {
        map.entry(l.deal_id).or_default().push(l);
    }
    Ok(map)
}

async fn complete(db: &Db, rows: Vec<DealRow>) -> Result<Vec<Deal>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut lines = lines_of(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let l = lines.remove(&r.id).unwrap_or_default();
            r.into_deal(l)
        })
        .collect())
}

/// One deal without a visibility check (the caller has made it).
pub(crate) async fn load(db: &Db, id: i64) -> Result<Deal> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, DealRow>(&format!("select {COLUMNS} from deals d where d.id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    })
    .ok_or_else(|| Error::not_found("deal", id))?;
    Ok(complete(db, vec![row]).await?.remove(0))
}

pub async fn get(db: &Db, viewer: Viewer, id: i64) -> Result<Deal> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, DealRow>(&format!(
            "{SCOPE} select {COLUMNS} from deals d where d.id = $4 and {}",
            in_scope("d.owner_id")
        ))
        .bind(viewer.id)
        .bind(viewer.team_wide())
        .bind(viewer.sees_all())
        .bind(id)
        .fetch_optional(pool)
        .await?
    })
    .ok_or_else(|| Error::not_found("deal", id))?;
    Ok(complete(db, vec![row]).await?.remove(0))
}

pub async fn list(db: &Db, viewer: Viewer, filter: &DealFilter, page: Page) -> Result<Paged<Deal>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, DealRow>(&format!(
            "{SCOPE} select {COLUMNS} from deals d
             where d.id > $4 and {}
               and ($5 is null or d.status = $5)
               and ($6 is null or d.stage = $6)
               and ($7 is null or d.customer_id = $7)
               and ($8 is null or d.owner_id = $8)
             order by d.id limit $9",
            in_scope("d.owner_id")
        ))
        .bind(viewer.id)
        .bind(viewer.team_wide())
        .bind(viewer.sees_all())
        .bind(page.after)
        .bind(filter.status.map(DealStatus::as_str))
        .bind(filter.stage.as_deref())
        .bind(filter.customer_id)
        .bind(filter.owner_id)
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    let paged = Paged::from_rows(rows, page, |r| r.id);
    let next_after = paged.next_after;
    Ok(Paged {
        items: complete(db, paged.items).await?,
        next_after,
    })
}

/// What a change of a deal changed, for what follows it (reserving, releasing).
#[derive(Debug, Clone, Copy)]
pub struct DealChange {
    pub before: DealStatus,
    pub after: DealStatus,
    pub lines_changed: bool,
}

pub async fn update(db: &Db, viewer: Viewer, id: i64, patch: DealPatch) -> Result<Deal> {
    let mut tx = db.begin().await?;
    update_in(&mut tx, db, viewer, id, patch).await?;
    tx.commit().await?;
    load(db, id).await
}

/// [`update`] in the caller's transaction.
pub async fn update_in(
    tx: &mut Tx,
    db: &Db,
    viewer: Viewer,
    id: i64,
    patch: DealPatch,
) -> Result<DealChange> {
    // A deal one may see is a deal one may change: both mean "owned within one's scope".
    let current = get(db, viewer, id).await?;
    let mut checks = Checks::new();
    let title = match patch.title {
        Some(t) => t.trim().to_string(),
        None => current.title.clone(),
    };
    if title != current.title {
        checks.text("title", &title, NAME_MAX);
    }
    let status = patch.status.unwrap_or(current.status);
    let lost_reason = match status {
        DealStatus::Lost => {
            crate::crm::clean_patch(patch.lost_reason).unwrap_or(current.lost_reason.clone())
        }
        _ => None,
    };
    check_lost_reason(&mut checks, status, lost_reason.as_deref());
    let currency = match &patch.currency {
        Some(c) => check_currency(&mut checks, Some(c)),
        None => current.currency.clone(),
    };
    let lines = patch.lines.as_deref().map(|l| check_lines(&mut checks, l));
    if let Some(list) = &lines {
        let existing: HashSet<i64> = current.lines.iter().map(|l| l.id).collect();
        for (i, l) in list.iter().enumerate() {
            if matches!(l.id, Some(lid) if !existing.contains(&lid)) {
                checks.fail(format!("lines[{i}].id"), "is not a line of this deal");
            }
        }
    }
    checks.finish()?;
    if current.status != DealStatus::Open {
        if lines.is_some() {
            return Err(Error::conflict(
                "lines",
                "the lines of a closed deal cannot change",
            ));
        }
        if currency != current.currency {
            return Err(Error::conflict(
                "currency",
                "the currency of a closed deal cannot change",
            ));
        }
    }
    let stage = patch
        .stage
        .map(|s| s.trim().to_string())
        .unwrap_or(current.stage.clone());
    if stage != current.stage {
        stages::check(db, &stage).await?;
    }
    if let Some(list) = &lines {
        check_items(db, list).await?;
    }
    let new_owner = patch.owner_id.filter(|o| *o != current.owner_id);
    if let Some(owner) = new_owner {
        if !viewer.assigns() {
            return Err(Error::forbidden(
                "only a head or an admin hands deals to others",
            ));
        }
        check_assignee(db, viewer, "owner_id", owner).await?;
    }
    let at = now();
    let closed_at = if status == current.status {
        current.closed_at
    } else {
        (status != DealStatus::Open).then_some(at)
    };
    on_tx!(&mut *tx, conn => {
        sqlx::query(
            "update deals set title = $2, stage = $3, status = $4, lost_reason = $5, currency = $6,
                 owner_id = $7, closed_at = $8, updated_at = $9
             where id = $1",
        )
        .bind(id)
        .bind(&title)
        .bind(&stage)
        .bind(status.as_str())
        .bind(&lost_reason)
        .bind(&currency)
        .bind(new_owner.unwrap_or(current.owner_id))
        .bind(closed_at)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    });
    if let Some(list) = &lines {
        replace_lines(tx, id, list).await?;
    }
    if patch.ship_to_address_id.is_some() || patch.customer_reference.is_some() {
        set_delivery(
            tx,
            id,
            current.customer_id,
            patch.ship_to_address_id,
            patch.customer_reference,
        )
        .await?;
    }
    Ok(DealChange {
        before: current.status,
        after: status,
        lines_changed: lines.is_some(),
    })
}

/// Makes `list` the deal's lines: kept lines (with an id) are updated and renumbered, new ones
/// inserted, the rest removed (refused when a reservation or order still uses them).
async fn replace_lines(tx: &mut Tx, deal_id: i64, list: &[LineValues]) -> Result<()> {
    // Negative numbers first keep (deal_id, line_no) unique while lines are renumbered.
    on_tx!(&mut *tx, conn => {
        sqlx::query("update deal_lines set line_no = -line_no where deal_id = $1")
            .bind(deal_id)
            .execute(&mut *conn)
            .await?;
    });
    for (i, l) in list.iter().enumerate() {
        let line_no = i as i64 + 1;
        let Some(line_id) = l.id else {
            insert_line(tx, deal_id, line_no, l).await?;
            continue;
        };
        on_tx!(&mut *tx, conn => {
            sqlx::query(
                "update deal_lines set line_no = $3, item_id = $4, quantity = $5, unit_price = $6
                 where id = $1 and deal_id = $2",
            )
            .bind(line_id)
            .bind(deal_id)
            .bind(line_no)
            .bind(l.item_id)
            .bind(l.quantity)
            .bind(l.unit_price)
            .execute(&mut *conn)
            .await?;
        });
    }
    on_tx!(tx, conn => {
        sqlx::query("delete from deal_lines where deal_id = $1 and line_no < 0")
            .bind(deal_id)
            .execute(&mut *conn)
            .await
            .map_err(|e| match Error::from(e) {
                Error::Validation(_) => Error::conflict(
                    "lines",
                    "a removed line is already in use (reserved or ordered) and cannot be removed",
                ),
                other => other,
            })?;
    });
    Ok(())
}

/// Whether a deal with this id exists, and its title: for resolving a scanned deal barcode,
/// which devices may do without seeing the deal itself.
pub async fn title_of(db: &Db, id: i64) -> Result<Option<String>> {
    Ok(crate::on_read!(db, pool => {
        sqlx::query_scalar::<_, String>("select title from deals where id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?
    }))
}

/// What fulfilling a deal needs to know of it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FulfilmentTerms {
    pub status: DealStatus,
    pub stage: String,
    pub warehouse_id: Option<i64>,
    /// The customer's required remaining shelf life, in days.
    pub min_remaining: Option<i64>,
}

/// Takes the deal's turn in the caller's transaction: its row is locked until the transaction
/// ends (a row lock on PostgreSQL; SQLite has one writer), so runs that fulfil, pack or take back
/// the same deal go one after another and each sees what the one before committed. Records
/// `warehouse_id` as the warehouse the deal is fulfilled from, when given.
pub async fn lock(tx: &mut Tx, deal_id: i64, warehouse_id: Option<i64>) -> Result<FulfilmentTerms> {
    let locked = on_tx!(tx, tx => {
        sqlx::query("update deals set warehouse_id = coalesce($2, warehouse_id) where id = $1")
            .bind(deal_id)
            .bind(warehouse_id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    });
    if locked != 1 {
        return Err(Error::not_found("deal", deal_id));
    }
    Ok(on_tx!(tx, tx => {
        sqlx::query_as::<_, FulfilmentTerms>(
            "select d.status, d.stage, d.warehouse_id,
                    c.min_remaining_shelf_life_days as min_remaining
             from deals d join customers c on c.id = d.customer_id where d.id = $1",
        )
        .bind(deal_id)
        .fetch_one(&mut *tx)
        .await?
    }))
}

/// The deal's terms without taking its turn (for reads).
pub async fn terms(tx: &mut Tx, deal_id: i64) -> Result<FulfilmentTerms> {
    on_tx!(tx, tx => {
        sqlx::query_as::<_, FulfilmentTerms>(
            "select d.status, d.stage, d.warehouse_id,
                    c.min_remaining_shelf_life_days as min_remaining
             from deals d join customers c on c.id = d.customer_id where d.id = $1",
        )
        .bind(deal_id)
        .fetch_optional(&mut *tx)
        .await?
    })
    .ok_or_else(|| Error::not_found("deal", deal_id))
}

/// One line as fulfilment sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct LineNeed {
    pub id: i64,
    pub item_id: i64,
    pub quantity: i64,
}

/// The deal's lines in line order.
pub async fn line_needs(tx: &mut Tx, deal_id: i64) -> Result<Vec<LineNeed>> {
    Ok(on_tx!(tx, tx => {
        sqlx::query_as::<_, LineNeed>(
            "select id, item_id, quantity from deal_lines where deal_id = $1 order by line_no, id",
        )
        .bind(deal_id)
        .fetch_all(&mut *tx)
        .await?
    }))
}

/// Moves a deal from `stage` on to the next active stage (by position), once: guarded by the
/// stage it had. Answers the new stage, if it moved.
pub async fn advance_stage(tx: &mut Tx, deal_id: i64, stage: &str) -> Result<Option<String>> {
    let next = on_tx!(tx, tx => {
        sqlx::query_scalar::<_, String>(
            "select n.code from deal_stages n join deal_stages c on c.code = $1
             where n.active and n.position > c.position order by n.position, n.code limit 1",
        )
        .bind(stage)
        .fetch_optional(&mut *tx)
        .await?
    });
    let Some(next) = next else {
        return Ok(None);
    };
    let at = now();
    let moved = on_tx!(tx, tx => {
        sqlx::query("update deals set stage = $1, updated_at = $2 where id = $3 and stage = $4")
            .bind(&next)
            .bind(at)
            .bind(deal_id)
            .bind(stage)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    });
    Ok((moved == 1).then_some(next))
}
