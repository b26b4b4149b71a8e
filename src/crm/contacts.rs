//! People at a customer. A customer with contacts has exactly one primary contact. Who may see a
//! contact, or change it, follows its customer.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::crm::visibility::{self, Reach, SCOPE, Viewer, customer_visible};
use crate::crm::{NAME_MAX, check_email, check_phone, clean_patch, contains_pattern};
use crate::db::placeholders;
use crate::db::{Db, Page, Paged, Tx, now};
use crate::error::{Checks, Error, Result};
use crate::patch::clean;
use crate::{on_read, on_tx};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Contact {
    pub id: i64,
    pub customer_id: i64,
    pub name: String,
    pub position: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub is_primary: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "k.id, k.customer_id, k.name, k.position, k.phone, k.email, k.is_primary, \
    k.created_at, k.updated_at";

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewContact {
    pub customer_id: i64,
    pub name: String,
    #[serde(default)]
    pub position: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Makes this the customer's primary contact (un-setting the previous one). The first
    /// contact of a customer is always primary.
    #[serde(default)]
    pub is_primary: Option<bool>,
}

/// A contact given inside a customer (`POST /v1/customers`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct NestedContact {
    pub name: String,
    #[serde(default)]
    pub position: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// At most one contact may say `true`; when none does, the first is primary.
    #[serde(default)]
    pub is_primary: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ContactPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub position: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// `true` makes this the primary contact. To move "primary" elsewhere, set it on the other
    /// contact; `false` on the primary contact is refused.
    pub is_primary: Option<bool>,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactFilter {
    pub customer_id: Option<i64>,
    /// Substring of the name or e-mail, case-insensitive.
    pub q: Option<String>,
}

/// A contact's values, validated and trimmed, ready to insert.
#[derive(Debug, Clone)]
pub(crate) struct ContactValues {
    pub name: String,
    pub position: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub is_primary: bool,
}

impl ContactValues {
    /// Validates one contact; `prefix` is its JSON path (`contacts[0].`) or empty.
    pub(crate) fn check(checks: &mut Checks, prefix: &str, c: &NestedContact) -> ContactValues {
        let v = ContactValues {
            name: c.name.trim().to_string(),
            position: clean(c.position.clone()),
            phone: clean(c.phone.clone()),
            email: clean(c.email.clone()),
            is_primary: c.is_primary.unwrap_or(false),
        };
        checks.text(&format!("{prefix}name"), &v.name, NAME_MAX);
        checks.opt_text(
            &format!("{prefix}position"),
            v.position.as_deref(),
            NAME_MAX,
        );
        check_phone(checks, &format!("{prefix}phone"), v.phone.as_deref());
        check_email(checks, &format!("{prefix}email"), v.email.as_deref());
        v
    }

    /// Validates the contacts of a new customer: at most one primary, the first one when none is.
    pub(crate) fn check_all(checks: &mut Checks, given: &[NestedContact]) -> Vec<ContactValues> {
        let mut out: Vec<ContactValues> = given
            .iter()
            .enumerate()
            .map(|(i, c)| ContactValues::check(checks, &format!("contacts[{i}]."), c))
            .collect();
        let mut seen_primary = false;
        for (i, c) in out.iter().enumerate() {
            if c.is_primary && std::mem::replace(&mut seen_primary, true) {
                checks.fail(
                    format!("contacts[{i}].is_primary"),
                    "only one contact can be the primary one",
                );
            }
        }
        if !seen_primary && let Some(first) = out.first_mut() {
            first.is_primary = true;
        }
        out
    }
}

/// Inserts one contact of a customer in the caller's transaction; answers its id.
pub(crate) async fn insert(
    tx: &mut Tx,
    customer_id: i64,
    c: &ContactValues,
    at: OffsetDateTime,
) -> Result<i64> {
    Ok(on_tx!(tx, conn => {
        sqlx::query_scalar::<_, i64>(
            "insert into contacts (customer_id, name, position, phone, phone_norm, email, email_norm,
                 is_primary, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) returning id",
        )
        .bind(customer_id)
        .bind(&c.name)
        .bind(&c.position)
        .bind(&c.phone)
        .bind(c.phone.as_deref().and_then(crate::crm::normalize_phone))
        .bind(&c.email)
        .bind(c.email.as_deref().and_then(crate::crm::normalize_email))
        .bind(c.is_primary)
        .bind(at)
        .fetch_one(&mut *conn)
        .await?
    }))
}

/// Whether the customer has a primary contact.
async fn has_primary(tx: &mut Tx, customer_id: i64) -> Result<bool> {
    Ok(on_tx!(tx, conn => {
        sqlx::query_scalar::<_, bool>(
            "select exists(select 1 from contacts where customer_id = $1 and is_primary)",
        )
        .bind(customer_id)
        .fetch_one(&mut *conn)
        .await?
    }))
}

/// Clears the primary flag of every contact of a customer (before setting a new one).
async fn unset_primary(tx: &mut Tx, customer_id: i64, at: OffsetDateTime) -> Result<()> {
    on_tx!(tx, conn => {
        sqlx::query(
            "update contacts set is_primary = false, updated_at = $2 where customer_id = $1 and is_primary",
        )
        .bind(customer_id)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

pub async fn create(db: &Db, viewer: Viewer, new: NewContact) -> Result<Contact> {
    let mut checks = Checks::new();
    let values = ContactValues::check(
        &mut checks,
        "",
        &NestedContact {
            name: new.name,
            position: new.position,
            phone: new.phone,
            email: new.email,
            is_primary: new.is_primary,
        },
    );
    checks.finish()?;
    let customer_id = new.customer_id;
    match visibility::customer_reach(db, viewer, customer_id).await? {
        Reach::Hidden => {
            return Err(Error::invalid(
                "customer_id",
                format!("no customer with id {customer_id}"),
            ));
        }
        reach => reach.require_edit("customer", customer_id)?,
    }
    let at = now();
    let mut tx = db.begin().await?;
    let has_primary = has_primary(&mut tx, customer_id).await?;
    // The first contact is primary whatever was asked: a customer with contacts has one.
    let primary = new.is_primary == Some(true) || !has_primary;
    if primary && has_primary {
        unset_primary(&mut tx, customer_id, at).await?;
    }
    let values = ContactValues {
        is_primary: primary,
        ..values
    };
    let id = insert(&mut tx, customer_id, &values, at).await?;
    tx.commit().await?;
    load(db, id).await
}

/// One contact, without a visibility check (the caller has made it).
pub(crate) async fn load(db: &Db, id: i64) -> Result<Contact> {
    on_read!(db, pool => {
        sqlx::query_as::<_, Contact>(&format!("select {COLUMNS} from contacts k where k.id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    })
    .ok_or_else(|| Error::not_found("contact", id))
}

pub async fn get(db: &Db, viewer: Viewer, id: i64) -> Result<Contact> {
    on_read!(db, pool => {
        sqlx::query_as::<_, Contact>(&format!(
            "{SCOPE} select {COLUMNS} from contacts k join customers c on c.id = k.customer_id
             where k.id = $4 and {}",
            customer_visible("c")
        ))
        .bind(viewer.id)
        .bind(viewer.team_wide())
        .bind(viewer.sees_all())
        .bind(id)
        .fetch_optional(pool)
        .await?
    })
    .ok_or_else(|| Error::not_found("contact", id))
}

pub async fn list(
    db: &Db,
    viewer: Viewer,
    filter: &ContactFilter,
    page: Page,
) -> Result<Paged<Contact>> {
    let pattern = clean(filter.q.clone()).map(|q| contains_pattern(&q.to_lowercase()));
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, Contact>(&format!(
            "{SCOPE} select {COLUMNS} from contacts k join customers c on c.id = k.customer_id
             where k.id > $4 and {}
               and ($5 is null or k.customer_id = $5)
               and ($6 is null or lower(k.name) like $6 escape '\\' or k.email_norm like $6 escape '\\')
             order by k.id limit $7",
            customer_visible("c")
        ))
        .bind(viewer.id)
        .bind(viewer.team_wide())
        .bind(viewer.sees_all())
        .bind(page.after)
        .bind(filter.customer_id)
        .bind(pattern)
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    Ok(Paged::from_rows(rows, page, |c| c.id))
}

/// Contacts of the given customers (no visibility check: the caller filtered the customers).
pub(crate) async fn of_customers(db: &Db, ids: &[i64]) -> Result<HashMap<i64, Vec<Contact>>> {
    let mut map: HashMap<i64, Vec<Contact>> = HashMap::new();
    if ids.is_empty() {
        return Ok(map);
    }
    let sql = format!(
        "select {COLUMNS} from contacts k where k.customer_id in ({}) order by k.id",
        placeholders(1, ids.len())
    );
    let rows = on_read!(db, pool => {
        let mut q = sqlx::query_as::<_, Contact>(&sql);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await?
    });
    for c in rows {
        map.entry(c.customer_id).or_default().push(c);
    }
    Ok(map)
}

pub async fn update(db: &Db, viewer: Viewer, id: i64, patch: ContactPatch) -> Result<Contact> {
    visibility::contact_reach(db, viewer, id)
        .await?
        .require_edit("contact", id)?;
    let current = load(db, id).await?;
    let name = patch
        .name
        .map(|n| n.trim().to_string())
        .unwrap_or(current.name);
    let position = clean_patch(patch.position).unwrap_or(current.position);
    let phone = clean_patch(patch.phone).unwrap_or(current.phone);
    let email = clean_patch(patch.email).unwrap_or(current.email);
    let mut checks = Checks::new();
    checks.text("name", &name, NAME_MAX);
    checks.opt_text("position", position.as_deref(), NAME_MAX);
    check_phone(&mut checks, "phone", phone.as_deref());
    check_email(&mut checks, "email", email.as_deref());
    if patch.is_primary == Some(false) && current.is_primary {
        checks.fail(
            "is_primary",
            "a customer keeps one primary contact: make another contact primary instead",
        );
    }
    checks.finish()?;
    let make_primary = patch.is_primary == Some(true) && !current.is_primary;
    let at = now();
    let mut tx = db.begin().await?;
    if make_primary {
        unset_primary(&mut tx, current.customer_id, at).await?;
    }
    on_tx!(&mut tx, tx => {
        sqlx::query(
            "update contacts set name = $2, position = $3, phone = $4, phone_norm = $5, email = $6,
                 email_norm = $7, is_primary = $8, updated_at = $9
             where id = $1",
        )
        .bind(id)
        .bind(&name)
        .bind(&position)
        .bind(&phone)
        .bind(phone.as_deref().and_then(crate::crm::normalize_phone))
        .bind(&email)
        .bind(email.as_deref().and_then(crate::crm::normalize_email))
        .bind(current.is_primary || make_primary)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    });
    tx.commit().await?;
    load(db, id).await
}
