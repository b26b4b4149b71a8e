//! The stages a deal moves through (selection, production, sale from stock, ...).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::Db;
use crate::error::{Checks, Error, Result};
use crate::{in_tx, on_read};

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct DealStage {
    pub code: String,
    pub name: String,
    /// Sort order, ascending.
    pub position: i64,
    /// Only active stages can be given to deals.
    pub active: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDealStage {
    /// 1–64 characters of a-z, 0-9 and `_`.
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub position: i64,
}

/// The stage of a deal that names none.
pub const DEFAULT_STAGE: &str = "selection";

pub async fn list(db: &Db) -> Result<Vec<DealStage>> {
    Ok(on_read!(db, pool => {
        sqlx::query_as::<_, DealStage>(
            "select code, name, position, active from deal_stages order by position, code",
        )
        .fetch_all(pool)
        .await?
    }))
}

pub async fn create(db: &Db, new: NewDealStage) -> Result<DealStage> {
    let code = new.code.trim().to_string();
    let mut checks = Checks::new();
    checks.check(
        !code.is_empty()
            && code.len() <= 64
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "code",
        "must be 1-64 characters of a-z, 0-9 or '_'",
    );
    checks.text("name", &new.name, super::NAME_MAX);
    checks.finish()?;
    Ok(in_tx!(db, tx => {
        sqlx::query_as::<_, DealStage>(
            "insert into deal_stages (code, name, position, active) values ($1, $2, $3, true)
             returning code, name, position, active",
        )
        .bind(&code)
        .bind(new.name.trim())
        .bind(new.position)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| Error::from(e).on_unique("code", "a deal stage with this code already exists"))?
    }))
}

/// Refuses a stage code that names no active stage (422 on `stage`).
pub async fn check(db: &Db, code: &str) -> Result<()> {
    let active = on_read!(db, pool => {
        sqlx::query_scalar::<_, bool>("select active from deal_stages where code = $1")
            .bind(code)
            .fetch_optional(pool)
            .await?
    });
    match active {
        Some(true) => Ok(()),
        Some(false) => Err(Error::invalid(
            "stage",
            format!("stage '{code}' is no longer in use"),
        )),
        None => Err(Error::invalid(
            "stage",
            format!("no deal stage '{code}' (see GET /v1/deal-stages)"),
        )),
    }
}
