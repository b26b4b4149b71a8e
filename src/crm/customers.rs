//! Customers (legal entities or people) with their addresses and contacts, their owner, and the
//! history of ownership transfers.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::crm::contacts::{self, Contact, ContactValues, NestedContact};
use crate::crm::visibility::{
    self, Reach, SCOPE, Viewer, check_assignee, check_sales_user, customer_visible, may_assign_to,
};
use crate::crm::{
    NAME_MAX, NOTE_MAX, check_email, check_phone, clean_patch, contains_pattern, normalize_email,
    normalize_phone,
};
use crate::db::placeholders;
use crate::db::{Db, Page, Paged, Tx, now};
use crate::error::{Checks, Error, Result};
use crate::patch::clean;
use crate::{on_read, on_tx};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CustomerType {
    #[default]
    Company,
    Person,
}

impl CustomerType {
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerType::Company => "company",
            CustomerType::Person => "person",
        }
    }

    pub fn parse(value: &str) -> Option<CustomerType> {
        match value {
            "company" => Some(CustomerType::Company),
            "person" => Some(CustomerType::Person),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Address {
    pub id: i64,
    pub label: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: Option<String>,
    pub region: Option<String>,
    pub country: String,
    pub preferred_shipping: bool,
    pub preferred_billing: bool,
    #[serde(skip)]
    #[schema(ignore)]
    pub customer_id: i64,
}

const ADDRESS_COLUMNS: &str = "id, label, line1, line2, city, postal_code, region, country, \
    preferred_shipping, preferred_billing, customer_id";

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Customer {
    pub id: i64,
    pub legal_name: String,
    pub tax_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: CustomerType,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub owner_id: Option<i64>,
    /// Visible (read-only) to every sales user, not only the owner's team.
    pub public: bool,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub addresses: Vec<Address>,
    pub contacts: Vec<Contact>,
    pub preferred_shipping_address_id: Option<i64>,
    pub preferred_billing_address_id: Option<i64>,
    pub primary_contact_id: Option<i64>,
    /// Days of shelf life the customer requires left on delivery: reservations for its deals
    /// only take batches with at least that much left (the item's own minimum applies too).
    pub min_remaining_shelf_life_days: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(sqlx::FromRow)]
struct CustomerRow {
    id: i64,
    legal_name: String,
    tax_id: Option<String>,
    kind: String,
    source: Option<String>,
    tags: String,
    owner_id: Option<i64>,
    public: bool,
    phone: Option<String>,
    email: Option<String>,
    min_remaining_shelf_life_days: Option<i64>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl CustomerRow {
    fn into_customer(self, addresses: Vec<Address>, contacts: Vec<Contact>) -> Customer {
        Customer {
            id: self.id,
            legal_name: self.legal_name,
            tax_id: self.tax_id,
            // The column's check constraint admits only the two kinds.
            kind: CustomerType::parse(&self.kind).unwrap_or_default(),
            source: self.source,
            tags: serde_json::from_str(&self.tags).unwrap_or_default(),
            owner_id: self.owner_id,
            public: self.public,
            min_remaining_shelf_life_days: self.min_remaining_shelf_life_days,
            phone: self.phone,
            email: self.email,
            preferred_shipping_address_id: addresses
                .iter()
                .find(|a| a.preferred_shipping)
                .map(|a| a.id),
            preferred_billing_address_id: addresses
                .iter()
                .find(|a| a.preferred_billing)
                .map(|a| a.id),
            primary_contact_id: contacts.iter().find(|c| c.is_primary).map(|c| c.id),
            addresses,
            contacts,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

const COLUMNS: &str = "c.id, c.legal_name, c.tax_id, c.kind, c.source, c.tags, c.owner_id, c.public, \
    c.phone, c.email, c.min_remaining_shelf_life_days, c.created_at, c.updated_at";

/// An address as given. In a PATCH, an entry with the `id` of an existing address of the customer
/// updates that address; entries without `id` are added; existing addresses left out are removed.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NewAddress {
    #[serde(default)]
    pub id: Option<i64>,
    #[serde(default)]
    pub label: Option<String>,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub country: String,
    /// At most one address is preferred for shipping; a customer's only address is, unless
    /// this says `false`.
    #[serde(default)]
    pub preferred_shipping: Option<bool>,
    /// At most one address is preferred for billing; a customer's only address is, unless
    /// this says `false`.
    #[serde(default)]
    pub preferred_billing: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCustomer {
    pub legal_name: String,
    #[serde(default)]
    pub tax_id: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: CustomerType,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Defaults to the caller. An admin may give anyone, a head someone in their team.
    #[serde(default)]
    pub owner_id: Option<i64>,
    #[serde(default)]
    pub public: bool,
    /// Days of shelf life required left on delivery.
    #[serde(default)]
    pub min_remaining_shelf_life_days: Option<i64>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub addresses: Vec<NewAddress>,
    /// The first is primary unless one says `is_primary: true`.
    #[serde(default)]
    pub contacts: Vec<NestedContact>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CustomerPatch {
    pub legal_name: Option<String>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub tax_id: Option<Option<String>>,
    #[serde(rename = "type")]
    pub kind: Option<CustomerType>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub source: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    /// Transfers the customer (admin or head), recorded in its transfer history; its open deals
    /// move along.
    pub owner_id: Option<i64>,
    pub public: Option<bool>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub min_remaining_shelf_life_days: Option<Option<i64>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// Replaces the customer's addresses (see `NewAddress.id`).
    pub addresses: Option<Vec<NewAddress>>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerFilter {
    /// Substring of the legal name or tax id, case-insensitive.
    pub q: Option<String>,
    pub owner_id: Option<i64>,
    pub public: Option<bool>,
    /// Customers carrying this tag.
    pub tag: Option<String>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<CustomerType>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferRequest {
    pub customer_ids: Vec<i64>,
    pub to_user_id: i64,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferResult {
    /// How many customers changed owner (those already the target's are left as they are).
    pub transferred: i64,
    /// Every customer named, as they are now.
    pub customers: Vec<Customer>,
}

/// One change of a customer's owner.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct CustomerTransfer {
    pub id: i64,
    pub customer_id: i64,
    pub from_user_id: Option<i64>,
    pub to_user_id: i64,
    pub by_user_id: i64,
    pub note: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub transferred_at: OffsetDateTime,
}

/// An address, validated and trimmed.
#[derive(Debug, Clone)]
pub(crate) struct AddressValues {
    pub id: Option<i64>,
    pub label: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: Option<String>,
    pub region: Option<String>,
    pub country: String,
    pub preferred_shipping: bool,
    pub preferred_billing: bool,
}

impl AddressValues {
    fn check_all(checks: &mut Checks, given: &[NewAddress]) -> Vec<AddressValues> {
        let only_one = given.len() == 1;
        let mut shipping = false;
        let mut billing = false;
        let mut ids = HashSet::new();
        let mut out = Vec::with_capacity(given.len());
        for (i, a) in given.iter().enumerate() {
            let f = |name: &str| format!("addresses[{i}].{name}");
            let v = AddressValues {
                id: a.id,
                label: a.label.as_deref().unwrap_or("").trim().to_string(),
                line1: a.line1.trim().to_string(),
                line2: clean(a.line2.clone()),
                city: a.city.trim().to_string(),
                postal_code: clean(a.postal_code.clone()),
                region: clean(a.region.clone()),
                country: a.country.trim().to_string(),
                preferred_shipping: a.preferred_shipping.unwrap_or(only_one),
                preferred_billing: a.preferred_billing.unwrap_or(only_one),
            };
            checks.max_len(&f("label"), &v.label, 100);
            checks.text(&f("line1"), &v.line1, NAME_MAX);
            checks.opt_text(&f("line2"), v.line2.as_deref(), NAME_MAX);
            checks.text(&f("city"), &v.city, 100);
            checks.opt_text(&f("postal_code"), v.postal_code.as_deref(), 20);
            checks.opt_text(&f("region"), v.region.as_deref(), 100);
            checks.text(&f("country"), &v.country, 100);
            if v.preferred_shipping && std::mem::replace(&mut shipping, true) {
                checks.fail(
                    f("preferred_shipping"),
                    "only one address can be preferred for shipping",
                );
            }
            if v.preferred_billing && std::mem::replace(&mut billing, true) {
                checks.fail(
                    f("preferred_billing"),
                    "only one address can be preferred for billing",
                );
            }
            if let Some(id) = v.id
                && !ids.insert(id)
            {
                checks.fail(f("id"), "is listed twice");
            }
            out.push(v);
        }
        out
    }
}

/// A new customer, validated and normalised, ready to insert.
pub(crate) struct CustomerValues {
    pub legal_name: String,
    pub tax_id: Option<String>,
    pub kind: CustomerType,
    pub source: Option<String>,
    pub tags: Vec<String>,
    pub owner_id: i64,
    pub public: bool,
    pub min_remaining_shelf_life_days: Option<i64>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub addresses: Vec<AddressValues>,
    pub contacts: Vec<ContactValues>,
}

/// Lower-cased legal name and tax id, what `q` searches.
fn search_text(legal_name: &str, tax_id: Option<&str>) -> String {
    format!(
        "{}\u{1f}{}",
        legal_name.to_lowercase(),
        tax_id.unwrap_or("").to_lowercase()
    )
}

/// Trimmed, lower-cased, without duplicates; tags compare case-insensitively.
fn check_tags(checks: &mut Checks, tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (i, t) in tags.iter().enumerate() {
        let t = t.trim().to_lowercase();
        checks.text(&format!("tags[{i}]"), &t, 50);
        if !out.contains(&t) {
            out.push(t);
        }
    }
    checks.check(out.len() <= 50, "tags", "at most 50 tags");
    out
}

/// Inserts one address of a customer in the caller's transaction.
async fn insert_address(tx: &mut Tx, customer_id: i64, a: &AddressValues) -> Result<()> {
    on_tx!(tx, conn => {
        sqlx::query(
            "insert into customer_addresses (customer_id, label, line1, line2, city, postal_code,
                 region, country, preferred_shipping, preferred_billing)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(customer_id)
        .bind(&a.label)
        .bind(&a.line1)
        .bind(&a.line2)
        .bind(&a.city)
        .bind(&a.postal_code)
        .bind(&a.region)
        .bind(&a.country)
        .bind(a.preferred_shipping)
        .bind(a.preferred_billing)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

/// Inserts a customer with its addresses and contacts in the caller's transaction; answers
/// `(customer id, id of the primary contact)`.
pub(crate) async fn insert(
    tx: &mut Tx,
    v: &CustomerValues,
    at: OffsetDateTime,
) -> Result<(i64, Option<i64>)> {
    let id = on_tx!(&mut *tx, conn => {
        sqlx::query_scalar::<_, i64>(
            "insert into customers (legal_name, tax_id, kind, source, tags, owner_id, public, phone,
                 phone_norm, email, email_norm, search_text, created_at, updated_at,
                 min_remaining_shelf_life_days)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14) returning id",
        )
        .bind(&v.legal_name)
        .bind(&v.tax_id)
        .bind(v.kind.as_str())
        .bind(&v.source)
        .bind(v.tags_json())
        .bind(v.owner_id)
        .bind(v.public)
        .bind(&v.phone)
        .bind(v.phone.as_deref().and_then(normalize_phone))
        .bind(&v.email)
        .bind(v.email.as_deref().and_then(normalize_email))
        .bind(v.search_text())
        .bind(at)
        .bind(v.min_remaining_shelf_life_days)
        .fetch_one(&mut *conn)
        .await?
    });
    for a in &v.addresses {
        insert_address(tx, id, a).await?;
    }
    let mut primary = None;
    for c in &v.contacts {
        let contact_id = contacts::insert(tx, id, c, at).await?;
        if c.is_primary {
            primary = Some(contact_id);
        }
    }
    Ok((id, primary))
}

/// Records that a customer moved from `from` to `to` in the caller's transaction: its owner,
/// its open deals, and one history row.
async fn move_customer(
    tx: &mut Tx,
    customer_id: i64,
    from: Option<i64>,
    to: i64,
    by: i64,
    note: Option<&str>,
    at: OffsetDateTime,
) -> Result<()> {
    on_tx!(tx, conn => {
        sqlx::query("update customers set owner_id = $2, updated_at = $3 where id = $1")
            .bind(customer_id)
            .bind(to)
            .bind(at)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "update deals set owner_id = $2, updated_at = $3 where customer_id = $1 and status = 'open'",
        )
        .bind(customer_id)
        .bind(to)
        .bind(at)
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "insert into customer_transfers (customer_id, from_user_id, to_user_id, by_user_id, note,
                 transferred_at)
             values ($1, $2, $3, $4, $5, $6)",
        )
        .bind(customer_id)
        .bind(from)
        .bind(to)
        .bind(by)
        .bind(note)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

impl CustomerValues {
    pub(crate) fn tags_json(&self) -> String {
        serde_json::to_string(&self.tags).unwrap_or_else(|_| "[]".into())
    }

    pub(crate) fn search_text(&self) -> String {
        search_text(&self.legal_name, self.tax_id.as_deref())
    }

    /// Validates a new customer; the owner is checked separately (it needs the database).
    pub(crate) fn check(new: NewCustomer, owner_id: i64) -> Result<CustomerValues> {
        let mut checks = Checks::new();
        let v = CustomerValues {
            legal_name: new.legal_name.trim().to_string(),
            tax_id: clean(new.tax_id),
            kind: new.kind,
            source: clean(new.source),
            tags: check_tags(&mut checks, &new.tags),
            owner_id,
            public: new.public,
            min_remaining_shelf_life_days: new.min_remaining_shelf_life_days,
            phone: clean(new.phone),
            email: clean(new.email),
            addresses: AddressValues::check_all(&mut checks, &new.addresses),
            contacts: ContactValues::check_all(&mut checks, &new.contacts),
        };
        checks.text("legal_name", &v.legal_name, NAME_MAX);
        check_shelf_life(&mut checks, v.min_remaining_shelf_life_days);
        checks.opt_text("tax_id", v.tax_id.as_deref(), 50);
        checks.opt_text("source", v.source.as_deref(), NAME_MAX);
        check_phone(&mut checks, "phone", v.phone.as_deref());
        check_email(&mut checks, "email", v.email.as_deref());
        for (i, a) in v.addresses.iter().enumerate() {
            if a.id.is_some() {
                checks.fail(
                    format!("addresses[{i}].id"),
                    "a new customer's addresses have no id yet",
                );
            }
        }
        checks.finish()?;
        Ok(v)
    }
}

pub async fn create(db: &Db, viewer: Viewer, new: NewCustomer) -> Result<Customer> {
    let owner_id = new.owner_id.unwrap_or(viewer.id);
    let values = CustomerValues::check(new, owner_id)?;
    check_assignee(db, viewer, "owner_id", owner_id).await?;
    let at = now();
    let mut tx = db.begin().await?;
    let (id, _) = insert(&mut tx, &values, at).await?;
    tx.commit().await?;
    load(db, id).await
}

/// Fills in addresses and contacts.
async fn complete(db: &Db, rows: Vec<CustomerRow>) -> Result<Vec<Customer>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut addresses = addresses_of(db, &ids).await?;
    let mut contacts = contacts::of_customers(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let a = addresses.remove(&r.id).unwrap_or_default();
            let c = contacts.remove(&r.id).unwrap_or_default();
            r.into_customer(a, c)
        })
        .collect())
}

async fn addresses_of(db: &Db, ids: &[i64]) -> Result<HashMap<i64, Vec<Address>>> {
    let mut map: HashMap<i64, Vec<Address>> = HashMap::new();
    if ids.is_empty() {
        return Ok(map);
    }
    let sql = format!(
        "select {ADDRESS_COLUMNS} from customer_addresses where customer_id in ({}) order by id",
        placeholders(1, ids.len())
    );
    let rows = on_read!(db, pool => {
        let mut q = sqlx::query_as::<_, Address>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await?
    });
    for a in rows {
        map.entry(a.customer_id).or_default().push(a);
    }
    Ok(map)
}

/// Customers by id, in the order given, without a visibility check (the caller has made it).
pub(crate) async fn load_many(db: &Db, ids: &[i64]) -> Result<Vec<Customer>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "select {COLUMNS} from customers c where c.id in ({})",
        placeholders(1, ids.len())
    );
    let rows = on_read!(db, pool => {
        let mut q = sqlx::query_as::<_, CustomerRow>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await?
    });
    let mut by_id: HashMap<i64, Customer> = complete(db, rows)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// One customer without a visibility check (the caller has made it).
pub(crate) async fn load(db: &Db, id: i64) -> Result<Customer> {
    load_many(db, &[id])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("customer", id))
}

/// The customer an import row names: by tax id when it has one, else by its exact legal name
/// (the first such customer). Not limited to what a viewer sees: the caller reads it with
/// [`get`] next, which is.
pub async fn id_by_natural_key(
    db: &Db,
    tax_id: Option<&str>,
    legal_name: &str,
) -> Result<Option<i64>> {
    Ok(on_read!(db, pool => {
        match tax_id {
            Some(tax_id) => {
                sqlx::query_scalar::<_, i64>(
                    "select id from customers where tax_id = $1 order by id limit 1",
                )
                .bind(tax_id)
                .fetch_optional(pool)
                .await?
            }
            None => {
                sqlx::query_scalar::<_, i64>(
                    "select id from customers where legal_name = $1 order by id limit 1",
                )
                .bind(legal_name)
                .fetch_optional(pool)
                .await?
            }
        }
    }))
}

pub async fn get(db: &Db, viewer: Viewer, id: i64) -> Result<Customer> {
    let row = on_read!(db, pool => {
        sqlx::query_as::<_, CustomerRow>(&format!(
            "{SCOPE} select {COLUMNS} from customers c where c.id = $4 and {}",
            customer_visible("c")
        ))
        .bind(viewer.id)
        .bind(viewer.team_wide())
        .bind(viewer.sees_all())
        .bind(id)
        .fetch_optional(pool)
        .await?
    })
    .ok_or_else(|| Error::not_found("customer", id))?;
    Ok(complete(db, vec![row]).await?.remove(0))
}

pub async fn list(
    db: &Db,
    viewer: Viewer,
    filter: &CustomerFilter,
    page: Page,
) -> Result<Paged<Customer>> {
    let q = clean(filter.q.clone()).map(|q| contains_pattern(&q.to_lowercase()));
    let tag = clean(filter.tag.clone()).map(|t| {
        // Tags are stored as a JSON array of lower-case strings: look for the quoted string.
        contains_pattern(&serde_json::to_string(&t.to_lowercase()).unwrap_or_default())
    });
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, CustomerRow>(&format!(
            "{SCOPE} select {COLUMNS} from customers c
             where c.id > $4 and {}
               and ($5 is null or c.search_text like $5 escape '\\')
               and ($6 is null or c.owner_id = $6)
               and ($7 is null or c.public = $7)
               and ($8 is null or c.tags like $8 escape '\\')
               and ($9 is null or c.kind = $9)
             order by c.id limit $10",
            customer_visible("c")
        ))
        .bind(viewer.id)
        .bind(viewer.team_wide())
        .bind(viewer.sees_all())
        .bind(page.after)
        .bind(q)
        .bind(filter.owner_id)
        .bind(filter.public)
        .bind(tag)
        .bind(filter.kind.map(CustomerType::as_str))
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

pub async fn update(db: &Db, viewer: Viewer, id: i64, patch: CustomerPatch) -> Result<Customer> {
    visibility::customer_reach(db, viewer, id)
        .await?
        .require_edit("customer", id)?;
    let current = load(db, id).await?;
    let mut checks = Checks::new();
    let legal_name = patch
        .legal_name
        .map(|n| n.trim().to_string())
        .unwrap_or(current.legal_name);
    let tax_id = clean_patch(patch.tax_id).unwrap_or(current.tax_id);
    let source = clean_patch(patch.source).unwrap_or(current.source);
    let phone = clean_patch(patch.phone).unwrap_or(current.phone);
    let email = clean_patch(patch.email).unwrap_or(current.email);
    let tags = match &patch.tags {
        Some(t) => check_tags(&mut checks, t),
        None => current.tags,
    };
    checks.text("legal_name", &legal_name, NAME_MAX);
    checks.opt_text("tax_id", tax_id.as_deref(), 50);
    checks.opt_text("source", source.as_deref(), NAME_MAX);
    check_phone(&mut checks, "phone", phone.as_deref());
    check_email(&mut checks, "email", email.as_deref());
    let addresses = patch
        .addresses
        .as_deref()
        .map(|a| AddressValues::check_all(&mut checks, a));
    if let Some(list) = &addresses {
        let existing: HashSet<i64> = current.addresses.iter().map(|a| a.id).collect();
        for (i, a) in list.iter().enumerate() {
            if matches!(a.id, Some(aid) if !existing.contains(&aid)) {
                checks.fail(
                    format!("addresses[{i}].id"),
                    "is not an address of this customer",
                );
            }
        }
    }
    checks.finish()?;
    let new_owner = patch.owner_id.filter(|o| Some(*o) != current.owner_id);
    if let Some(owner) = new_owner {
        if !viewer.assigns() {
            return Err(Error::forbidden(
                "only a head or an admin transfers customers",
            ));
        }
        check_assignee(db, viewer, "owner_id", owner).await?;
    }
    let removed: Vec<i64> = match &addresses {
        Some(list) => current
            .addresses
            .iter()
            .map(|a| a.id)
            .filter(|aid| !list.iter().any(|a| a.id == Some(*aid)))
            .collect(),
        None => Vec::new(),
    };
    let tags_json = serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into());
    let min_remaining = match patch.min_remaining_shelf_life_days {
        Some(v) => v,
        None => current.min_remaining_shelf_life_days,
    };
    let mut shelf = Checks::new();
    check_shelf_life(&mut shelf, min_remaining);
    shelf.finish()?;
    let at = now();
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, tx => {
        sqlx::query(
            "update customers set legal_name = $2, tax_id = $3, kind = $4, source = $5, tags = $6,
                 public = $7, phone = $8, phone_norm = $9, email = $10, email_norm = $11,
                 search_text = $12, updated_at = $13, min_remaining_shelf_life_days = $14
             where id = $1",
        )
        .bind(id)
        .bind(&legal_name)
        .bind(&tax_id)
        .bind(patch.kind.unwrap_or(current.kind).as_str())
        .bind(&source)
        .bind(&tags_json)
        .bind(patch.public.unwrap_or(current.public))
        .bind(&phone)
        .bind(phone.as_deref().and_then(normalize_phone))
        .bind(&email)
        .bind(email.as_deref().and_then(normalize_email))
        .bind(search_text(&legal_name, tax_id.as_deref()))
        .bind(at)
        .bind(min_remaining)
        .execute(&mut *tx)
        .await?;
        if let Some(list) = &addresses {
            for aid in &removed {
                sqlx::query("delete from customer_addresses where id = $1 and customer_id = $2")
                    .bind(aid)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| match Error::from(e) {
                        Error::Validation(_) => Error::conflict(
                            "addresses",
                            format!("address {aid} is in use and cannot be removed"),
                        ),
                        other => other,
                    })?;
            }
            // Flags are cleared first so that moving "preferred" between addresses never has two
            // preferred at once (the unique indexes check every statement).
            sqlx::query(
                "update customer_addresses set preferred_shipping = false, preferred_billing = false
                 where customer_id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            // New addresses (without an id) are inserted below.
            for (aid, a) in list.iter().filter_map(|a| a.id.map(|aid| (aid, a))) {
                sqlx::query(
                    "update customer_addresses set label = $3, line1 = $4, line2 = $5,
                         city = $6, postal_code = $7, region = $8, country = $9,
                         preferred_shipping = $10, preferred_billing = $11
                     where id = $1 and customer_id = $2",
                )
                .bind(aid)
                .bind(id)
                .bind(&a.label)
                .bind(&a.line1)
                .bind(&a.line2)
                .bind(&a.city)
                .bind(&a.postal_code)
                .bind(&a.region)
                .bind(&a.country)
                .bind(a.preferred_shipping)
                .bind(a.preferred_billing)
                .execute(&mut *tx)
                .await?;
            }
        }
    });
    for a in addresses.iter().flatten().filter(|a| a.id.is_none()) {
        insert_address(&mut tx, id, a).await?;
    }
    if let Some(owner) = new_owner {
        move_customer(&mut tx, id, current.owner_id, owner, viewer.id, None, at).await?;
    }
    tx.commit().await?;
    load(db, id).await
}

/// Moves customers (and their open deals) to another owner, recording each move.
pub async fn transfer(db: &Db, viewer: Viewer, req: TransferRequest) -> Result<TransferResult> {
    if !viewer.assigns() {
        return Err(Error::forbidden(
            "only a head or an admin transfers customers",
        ));
    }
    let note = clean(req.note);
    let mut checks = Checks::new();
    checks.check(
        !req.customer_ids.is_empty(),
        "customer_ids",
        "must name at least one customer",
    );
    checks.check(
        req.customer_ids.len() <= 500,
        "customer_ids",
        "at most 500 customers at once",
    );
    checks.opt_text("note", note.as_deref(), NOTE_MAX);
    checks.finish()?;
    check_sales_user(db, "to_user_id", req.to_user_id).await?;
    if !may_assign_to(db, viewer, req.to_user_id).await? {
        return Err(Error::forbidden(format!(
            "user {} is outside your team",
            req.to_user_id
        )));
    }
    let mut ids = Vec::with_capacity(req.customer_ids.len());
    for (i, id) in req.customer_ids.iter().copied().enumerate() {
        match visibility::customer_reach(db, viewer, id).await? {
            Reach::Hidden => {
                return Err(Error::invalid(
                    format!("customer_ids[{i}]"),
                    format!("no customer with id {id}"),
                ));
            }
            reach => reach.require_edit("customer", id)?,
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let at = now();
    let mut tx = db.begin().await?;
    let mut transferred = 0i64;
    for &id in &ids {
        let from = on_tx!(&mut tx, conn => {
            sqlx::query_scalar::<_, Option<i64>>("select owner_id from customers where id = $1")
                .bind(id)
                .fetch_one(&mut *conn)
                .await?
        });
        // Already the target's: nothing moves, nothing to record.
        if from != Some(req.to_user_id) {
            move_customer(
                &mut tx,
                id,
                from,
                req.to_user_id,
                viewer.id,
                note.as_deref(),
                at,
            )
            .await?;
            transferred += 1;
        }
    }
    tx.commit().await?;
    Ok(TransferResult {
        transferred,
        customers: load_many(db, &ids).await?,
    })
}

/// A customer's ownership history, oldest first.
pub async fn transfers(
    db: &Db,
    viewer: Viewer,
    id: i64,
    page: Page,
) -> Result<Paged<CustomerTransfer>> {
    if visibility::customer_reach(db, viewer, id).await? == Reach::Hidden {
        return Err(Error::not_found("customer", id));
    }
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, CustomerTransfer>(
            "select id, customer_id, from_user_id, to_user_id, by_user_id, note, transferred_at
             from customer_transfers where customer_id = $1 and id > $2 order by id limit $3",
        )
        .bind(id)
        .bind(page.after)
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    Ok(Paged::from_rows(rows, page, |t| t.id))
}

fn check_shelf_life(checks: &mut Checks, days: Option<i64>) {
    checks.days("min_remaining_shelf_life_days", days);
}
