//! The sales pipeline: open deals by stage and rep, and deals won and lost in a period (lost
//! ones by reason), each as a count and an amount per currency.

use serde::Serialize;
use time::Date;
use utoipa::ToSchema;

use crate::crm::visibility::{SCOPE, in_scope};
use crate::db::Db;
use crate::error::Result;
use crate::on_read;
use crate::reports::{Period, Scope};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Pipeline {
    /// The period's first day.
    pub from: Date,
    /// The period's last day, included.
    pub until: Date,
    /// Open deals now, by stage (in stage order), rep and currency.
    pub open: Vec<PipelineGroup>,
    /// Deals won in the period (by the day they closed, UTC), by rep and currency.
    pub won: Vec<PipelineGroup>,
    /// Deals lost in the period, by rep, lost reason and currency.
    pub lost: Vec<PipelineGroup>,
}

/// A group of deals: how many, and what they are worth.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct PipelineGroup {
    /// The stage code (open deals only).
    pub stage: Option<String>,
    /// The rep who owns the deals.
    pub owner_id: i64,
    pub owner: String,
    /// Why they were lost (lost deals only).
    pub lost_reason: Option<String>,
    /// ISO 4217: amounts in different currencies are never added together.
    pub currency: String,
    pub deals: i64,
    /// Sum of the deals' line totals, in minor units.
    pub amount: i64,
}

/// The CSV columns: a `section` (`open`, `won`, `lost`), then the fields of [`PipelineGroup`].
pub const COLUMNS: &[&str] = &[
    "section",
    "stage",
    "owner_id",
    "owner",
    "lost_reason",
    "currency",
    "deals",
    "amount",
];

/// A group as one CSV row, named by its section.
#[derive(Serialize)]
pub struct Row<'a> {
    section: &'static str,
    stage: Option<&'a str>,
    owner_id: i64,
    owner: &'a str,
    lost_reason: Option<&'a str>,
    currency: &'a str,
    deals: i64,
    amount: i64,
}

impl Pipeline {
    /// Every group as a CSV row: open, then won, then lost.
    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        let sections = [
            ("open", &self.open),
            ("won", &self.won),
            ("lost", &self.lost),
        ];
        sections.into_iter().flat_map(|(section, groups)| {
            groups.iter().map(move |g| Row {
                section,
                stage: g.stage.as_deref(),
                owner_id: g.owner_id,
                owner: &g.owner,
                lost_reason: g.lost_reason.as_deref(),
                currency: &g.currency,
                deals: g.deals,
                amount: g.amount,
            })
        })
    }
}

/// Deals grouped by `stage` and `reason` (a column, or a null text) besides rep and currency,
/// where `condition` holds, in the caller's scope (`$1`–`$3`).
fn groups_sql(stage: &str, reason: &str, condition: &str) -> String {
    format!(
        "{SCOPE} select {stage} as stage, d.owner_id, u.username as owner,
                {reason} as lost_reason, d.currency, count(*) as deals,
                cast(coalesce(sum(t.amount), 0) as bigint) as amount
         from deals d
         join users u on u.id = d.owner_id
         join deal_stages st on st.code = d.stage
         left join (select deal_id, sum(quantity * unit_price) as amount
                    from deal_lines group by deal_id) t on t.deal_id = d.id
         where {condition} and {}
         group by 1, 2, 3, 4, 5
         order by min(st.position), 1, 3, 4, 5",
        in_scope("d.owner_id")
    )
}

const NO_TEXT: &str = "cast(null as text)";

pub async fn report(db: &Db, scope: Scope, period: Period) -> Result<Pipeline> {
    let (viewer, team_wide, sees_all) = scope.binds();
    let open = groups_sql("d.stage", NO_TEXT, "d.status = 'open'");
    let open = on_read!(db, pool => {
        sqlx::query_as::<_, PipelineGroup>(&open)
            .bind(viewer)
            .bind(team_wide)
            .bind(sees_all)
            .fetch_all(pool)
            .await?
    });
    let closed = |status: &str, reason: &str| {
        groups_sql(
            NO_TEXT,
            reason,
            &format!("d.status = '{status}' and d.closed_at >= $4 and d.closed_at < $5"),
        )
    };
    let mut out = Pipeline {
        from: period.from,
        until: period.until,
        open,
        won: Vec::new(),
        lost: Vec::new(),
    };
    for (sql, groups) in [
        (closed("won", NO_TEXT), &mut out.won),
        (closed("lost", "d.lost_reason"), &mut out.lost),
    ] {
        *groups = on_read!(db, pool => {
            sqlx::query_as::<_, PipelineGroup>(&sql)
                .bind(viewer)
                .bind(team_wide)
                .bind(sees_all)
                .bind(period.start())
                .bind(period.end())
                .fetch_all(pool)
                .await?
        });
    }
    Ok(out)
}
