//! Suppliers that purchased items are bought from.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::db::{Db, Page, Paged, now};
use crate::error::{Checks, Error, Result};
use crate::{in_tx, on_read};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Supplier {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Usual days from order to delivery.
    pub lead_time_days: Option<i64>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

const COLUMNS: &str = "id, code, name, email, phone, lead_time_days, created_at, updated_at";

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewSupplier {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub lead_time_days: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SupplierPatch {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::patch::nullable")]
    #[schema(value_type = Option<i64>)]
    pub lead_time_days: Option<Option<i64>>,
}

pub fn check_code(checks: &mut Checks, field: &str, code: &str) {
    checks.text(field, code, 64);
    checks.check(
        !code.chars().any(char::is_whitespace) || code.trim().is_empty(),
        field,
        "must not contain spaces",
    );
}

fn check_contact(checks: &mut Checks, email: Option<&str>, phone: Option<&str>, lead: Option<i64>) {
    if let Some(e) = email {
        checks.max_len("email", e, 254);
        checks.check(e.contains('@'), "email", "must be an e-mail address");
    }
    checks.opt_text("phone", phone, 50);
    checks.days_up_to("lead_time_days", lead, crate::days::MAX_LEAD_TIME_DAYS);
}

pub async fn create(db: &Db, new: NewSupplier) -> Result<Supplier> {
    let mut checks = Checks::new();
    check_code(&mut checks, "code", &new.code);
    checks.text("name", &new.name, 200);
    check_contact(
        &mut checks,
        new.email.as_deref(),
        new.phone.as_deref(),
        new.lead_time_days,
    );
    checks.finish()?;
    let at = now();
    Ok(in_tx!(db, tx => {
        sqlx::query_as::<_, Supplier>(&format!(
            "insert into suppliers (code, name, email, phone, lead_time_days, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $6) returning {COLUMNS}"
        ))
        .bind(new.code.trim())
        .bind(new.name.trim())
        .bind(new.email)
        .bind(new.phone)
        .bind(new.lead_time_days)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| Error::from(e).on_unique("code", "a supplier with this code already exists"))?
    }))
}

pub async fn get(db: &Db, id: i64) -> Result<Supplier> {
    on_read!(db, pool => {
        sqlx::query_as::<_, Supplier>(&format!("select {COLUMNS} from suppliers where id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?
    })
    .ok_or_else(|| Error::not_found("supplier", id))
}

/// The supplier with this code, if any.
pub async fn by_code(db: &Db, code: &str) -> Result<Option<Supplier>> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, Supplier>(&format!("select {COLUMNS} from suppliers where code = $1"))
            .bind(code)
            .fetch_optional(pool)
            .await?
    }))
}

pub async fn list(db: &Db, q: Option<&str>, page: Page) -> Result<Paged<Supplier>> {
    let pattern = q.map(|q| format!("%{}%", q.to_lowercase()));
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, Supplier>(&format!(
            "select {COLUMNS} from suppliers
             where id > $1 and ($2 is null or lower(code) like $2 or lower(name) like $2)
             order by id limit $3"
        ))
        .bind(page.after)
        .bind(pattern)
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    Ok(Paged::from_rows(rows, page, |s| s.id))
}

pub async fn update(db: &Db, id: i64, patch: SupplierPatch) -> Result<Supplier> {
    let current = get(db, id).await?;
    let name = patch.name.unwrap_or(current.name);
    let email = patch.email.unwrap_or(current.email);
    let phone = patch.phone.unwrap_or(current.phone);
    let lead = patch.lead_time_days.unwrap_or(current.lead_time_days);
    let mut checks = Checks::new();
    checks.text("name", &name, 200);
    check_contact(&mut checks, email.as_deref(), phone.as_deref(), lead);
    checks.finish()?;
    Ok(in_tx!(db, tx => {
        sqlx::query_as::<_, Supplier>(&format!(
            "update suppliers set name = $2, email = $3, phone = $4, lead_time_days = $5, updated_at = $6
             where id = $1 returning {COLUMNS}"
        ))
        .bind(id)
        .bind(name.trim())
        .bind(email)
        .bind(phone)
        .bind(lead)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?
    }))
}
