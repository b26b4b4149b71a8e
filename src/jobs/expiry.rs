//! The expiry job: batches past their date become `expired`, and batches with stock that expire
//! within the horizon raise an alert (once).

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::db::{Db, Page, Paged, now};
use crate::error::Result;
use crate::{on_read, on_tx};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ExpiryReport {
    /// Batches marked expired in this run.
    pub expired: u64,
    /// Alerts raised in this run.
    pub alerts: u64,
}

/// Marks expired batches and raises alerts, as of `today`. Idempotent: a second run on the same
/// day changes nothing. Uses the one expiry rule (`stock::fefo::is_expired`: the expiry day
/// itself counts as expired).
pub async fn run(db: &Db, today: Date, alert_days: i64) -> Result<ExpiryReport> {
    let at = now();
    let horizon =
        crate::days::add(today, alert_days.clamp(0, crate::days::MAX_DAYS)).unwrap_or(today);
    let mut tx = db.begin().await?;
    // Expired batches that still hold stock get an alert before their status changes.
    let expired_alerts = on_tx!(&mut tx, tx => {
        sqlx::query(
            "insert into alerts (kind, batch_id, item_id, message, due_date, created_at)
             select 'expired', b.id, b.item_id,
                    'batch ' || b.code || ' has expired and holds stock: write it off', b.expiry_date, $2
             from batches b
             where b.status = 'available' and b.expiry_date is not null and b.expiry_date <= $1
               and exists (select 1 from stock_balances s where s.batch_id = b.id and s.on_hand > 0)
             on conflict (kind, batch_id) do nothing",
        )
        .bind(today)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    let expired = crate::stock::batches::expire_due(&mut tx, today).await?;
    let expiring_alerts = on_tx!(&mut tx, tx => {
        sqlx::query(
            "insert into alerts (kind, batch_id, item_id, message, due_date, created_at)
             select 'expiring', b.id, b.item_id, 'batch ' || b.code || ' expires soon', b.expiry_date, $3
             from batches b
             where b.status = 'available' and b.expiry_date > $1 and b.expiry_date <= $2
               and exists (select 1 from stock_balances s where s.batch_id = b.id and s.on_hand > 0)
             on conflict (kind, batch_id) do nothing",
        )
        .bind(today)
        .bind(horizon)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected()
    });
    tx.commit().await?;
    Ok(ExpiryReport {
        expired,
        alerts: expired_alerts + expiring_alerts,
    })
}

#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Alert {
    pub id: i64,
    /// `expiring` or `expired`.
    pub kind: String,
    pub batch_id: i64,
    pub item_id: i64,
    pub message: String,
    /// The batch's expiry date (ISO).
    pub due_date: Option<Date>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertFilter {
    /// `expiring` or `expired`.
    pub kind: Option<String>,
    pub item_id: Option<i64>,
}

/// Open alerts, oldest first.
pub async fn list(db: &Db, filter: &AlertFilter, page: Page) -> Result<Paged<Alert>> {
    let rows = on_read!(db, pool => {
        sqlx::query_as::<_, Alert>(
            "select id, kind, batch_id, item_id, message, due_date, created_at from alerts
             where id > $1 and resolved_at is null and ($2 is null or kind = $2)
               and ($3 is null or item_id = $3)
             order by id limit $4",
        )
        .bind(page.after)
        .bind(filter.kind.as_deref())
        .bind(filter.item_id)
        .bind(page.fetch_limit())
        .fetch_all(pool)
        .await?
    });
    Ok(Paged::from_rows(rows, page, |a| a.id))
}
