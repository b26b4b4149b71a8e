//! Reports for heads and managers (issue 18): shortages, the production backlog, purchases
//! outstanding, expiring stock, the sales pipeline and the fill rate, each as one JSON document
//! or as CSV rows. Every report reads; none writes. Each reuses its owners' notions (a deal
//! line's shortfall as planning sees it, an order's components and what they wait for) and
//! narrows deals to the caller's CRM scope in SQL (`crm::visibility`).
//!
//! Definitions of every column: docs/data.md, "Reports".

pub mod api;
pub mod backlog;
pub mod expiring;
pub mod fill_rate;
pub mod pipeline;
pub mod purchases;
pub mod shortages;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;

use crate::crm::deals::DealStatus;
use crate::crm::visibility::{SCOPE, Viewer, in_scope};
use crate::db::{Db, Page, Paged, Tx, now};
use crate::error::{Checks, Error, Result};
use crate::on_tx;

/// The reports there are, by the name in their route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    Shortages,
    ProductionBacklog,
    PurchasesOutstanding,
    ExpiringStock,
    Pipeline,
    FillRate,
}

impl Name {
    pub const ALL: [Name; 6] = [
        Name::Shortages,
        Name::ProductionBacklog,
        Name::PurchasesOutstanding,
        Name::ExpiringStock,
        Name::Pipeline,
        Name::FillRate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Name::Shortages => "shortages",
            Name::ProductionBacklog => "production-backlog",
            Name::PurchasesOutstanding => "purchases-outstanding",
            Name::ExpiringStock => "expiring-stock",
            Name::Pipeline => "pipeline",
            Name::FillRate => "fill-rate",
        }
    }

    /// The report named `raw` (422 on `name` for any other).
    pub fn parse(raw: &str) -> Result<Name> {
        Name::ALL
            .into_iter()
            .find(|n| n.as_str() == raw)
            .ok_or_else(|| {
                Error::invalid(
                    "name",
                    "unknown report: shortages, production-backlog, purchases-outstanding, \
                     expiring-stock, pipeline or fill-rate",
                )
            })
    }
}

/// What a report may show its reader: whose deals, and whether money.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    /// Deals of this viewer's CRM scope only; `None`: every deal.
    pub viewer: Option<Viewer>,
    /// Prices and values (expiring stock); amounts of the pipeline are its whole point, so it is
    /// simply not shown to those who may not see money.
    pub money: bool,
}

impl Scope {
    /// The binds of `crm::visibility::SCOPE`: `$1` viewer, `$2` team-wide, `$3` sees all.
    fn binds(&self) -> (i64, bool, bool) {
        match self.viewer {
            Some(v) => (v.id, v.team_wide(), v.sees_all()),
            None => (0, false, true),
        }
    }
}

/// Days a report looks ahead for expiring stock when `days` is not given.
pub const DEFAULT_EXPIRY_DAYS: i64 = 30;
/// Days a period spans when `from` is not given (`until` and the 29 days before it).
pub const DEFAULT_PERIOD_DAYS: i64 = 30;
/// Days a line may ship after its due day and still count as on time, when not given: the
/// warehouse's time to pick, pack and dispatch.
pub const DEFAULT_GRACE_DAYS: i64 = 2;
/// The longest grace a fill rate accepts.
pub const MAX_GRACE_DAYS: i64 = 365;

/// A report's parameters; each report reads the ones it needs, and every one given is checked.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// `expiring-stock`: batches whose expiry day is at most this many days from today
    /// (default 30; 0–36500).
    pub days: Option<i64>,
    /// `pipeline`, `fill-rate`: the period's first day, `YYYY-MM-DD` (default: 29 days before
    /// `until`).
    pub from: Option<Date>,
    /// `pipeline`, `fill-rate`: the period's last day, included (default: today, UTC).
    pub until: Option<Date>,
    /// `fill-rate`: days a line may ship after its due day and still be on time (default 2;
    /// 0–365).
    pub grace_days: Option<i64>,
}

/// A period of whole days, `from` and `until` included.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub from: Date,
    pub until: Date,
}

impl Period {
    /// The first instant of the period (midnight UTC of `from`).
    pub fn start(&self) -> OffsetDateTime {
        self.from.midnight().assume_utc()
    }

    /// The first instant after the period (midnight UTC after `until`).
    pub fn end(&self) -> OffsetDateTime {
        self.until
            .next_day()
            .unwrap_or(self.until)
            .midnight()
            .assume_utc()
    }
}

/// The parameters checked (every bad one named at once), with their defaults.
#[derive(Debug, Clone, Copy)]
pub struct Checked {
    pub today: Date,
    pub days: i64,
    pub period: Period,
    pub grace_days: i64,
}

impl ReportParams {
    pub fn check(&self, today: Date) -> Result<Checked> {
        let mut checks = Checks::new();
        checks.days("days", self.days);
        checks.days_up_to("grace_days", self.grace_days, MAX_GRACE_DAYS);
        let until = self.until.unwrap_or(today);
        checks.check(
            until.next_day().is_some(),
            "until",
            "is past the last day there is",
        );
        let from = match self.from {
            Some(from) => from,
            None => crate::days::add(until, 1 - DEFAULT_PERIOD_DAYS).unwrap_or(Date::MIN),
        };
        checks.check(from <= until, "from", "must not be after until");
        checks.finish()?;
        Ok(Checked {
            today,
            days: self.days.unwrap_or(DEFAULT_EXPIRY_DAYS),
            period: Period { from, until },
            grace_days: self.grace_days.unwrap_or(DEFAULT_GRACE_DAYS),
        })
    }
}

/// One report, as JSON. Each kind has a list of its own name (`shortages`, `orders`,
/// `purchase_lines`, `batches`, `open`, `lines`), so a document says which report it is.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Report {
    Shortages(shortages::Shortages),
    ProductionBacklog(backlog::Backlog),
    PurchasesOutstanding(purchases::Purchases),
    ExpiringStock(expiring::Expiring),
    Pipeline(pipeline::Pipeline),
    FillRate(fill_rate::FillRate),
}

/// Runs report `name` for `scope`.
pub async fn run(db: &Db, name: Name, scope: Scope, params: &ReportParams) -> Result<Report> {
    let p = params.check(now().date())?;
    Ok(match name {
        Name::Shortages => Report::Shortages(shortages::report(db, scope, p.today).await?),
        Name::ProductionBacklog => {
            Report::ProductionBacklog(backlog::report(db, scope, p.today).await?)
        }
        Name::PurchasesOutstanding => {
            Report::PurchasesOutstanding(purchases::report(db, p.today).await?)
        }
        Name::ExpiringStock => {
            Report::ExpiringStock(expiring::report(db, scope, p.today, p.days).await?)
        }
        Name::Pipeline => Report::Pipeline(pipeline::report(db, scope, p.period).await?),
        Name::FillRate => {
            Report::FillRate(fill_rate::report(db, scope, p.period, p.grace_days).await?)
        }
    })
}

impl Report {
    /// The report's rows as CSV: UTF-8, comma-separated, the header first (also without rows).
    pub fn csv(&self) -> Result<Vec<u8>> {
        match self {
            Report::Shortages(r) => csv_rows(shortages::COLUMNS, r.shortages.iter()),
            Report::ProductionBacklog(r) => {
                csv_rows(backlog::COLUMNS, r.orders.iter().map(backlog::Row::from))
            }
            Report::PurchasesOutstanding(r) => {
                csv_rows(purchases::COLUMNS, r.purchase_lines.iter())
            }
            Report::ExpiringStock(r) => csv_rows(expiring::COLUMNS, r.batches.iter()),
            Report::Pipeline(r) => csv_rows(pipeline::COLUMNS, r.rows()),
            Report::FillRate(r) => csv_rows(fill_rate::COLUMNS, r.lines.iter()),
        }
    }
}

/// Rows as CSV, headed by their field names; `columns` heads a file without rows (the tests
/// check that both agree).
fn csv_rows<R: Serialize>(columns: &[&str], rows: impl Iterator<Item = R>) -> Result<Vec<u8>> {
    let mut rows = rows.peekable();
    let empty = rows.peek().is_none();
    let mut out = csv::WriterBuilder::new()
        .has_headers(!empty)
        .from_writer(Vec::new());
    if empty {
        out.write_record(columns).map_err(csv_error)?;
    }
    for row in rows {
        out.serialize(row).map_err(csv_error)?;
    }
    out.into_inner().map_err(|e| csv_error(e.into_error()))
}

fn csv_error(e: impl std::fmt::Display) -> Error {
    Error::Internal(anyhow::anyhow!("writing CSV: {e}"))
}

/// A deal line with what the reports name it by: its deal, customer and item.
#[derive(Debug, sqlx::FromRow)]
struct DealLineRow {
    deal_id: i64,
    deal_title: String,
    deal_status: DealStatus,
    owner_id: i64,
    customer_id: i64,
    customer_name: String,
    warehouse_id: Option<i64>,
    closed_at: Option<OffsetDateTime>,
    line_id: i64,
    line_no: i64,
    item_id: i64,
    item_code: String,
    item_name: String,
    quantity: i64,
}

/// The lines of the deals in `scope` for which `condition` (on `d`, the deal) holds, by deal
/// and line, in the caller's transaction. With a period, `condition` may use its bounds as `$4`
/// (first instant) and `$5` (first instant after).
async fn deal_lines(
    tx: &mut Tx,
    scope: Scope,
    condition: &str,
    period: Option<Period>,
) -> Result<Vec<DealLineRow>> {
    let sql = format!(
        "{SCOPE} select d.id as deal_id, d.title as deal_title, d.status as deal_status,
                d.owner_id, d.customer_id, c.legal_name as customer_name, d.warehouse_id,
                d.closed_at, l.id as line_id, l.line_no, l.item_id, i.code as item_code,
                i.name as item_name, l.quantity
         from deals d
         join customers c on c.id = d.customer_id
         join deal_lines l on l.deal_id = d.id
         join items i on i.id = l.item_id
         where ({condition}) and {}
         order by d.id, l.line_no",
        in_scope("d.owner_id")
    );
    let (viewer, team_wide, sees_all) = scope.binds();
    Ok(on_tx!(tx, tx => {
        let mut q = sqlx::query_as::<_, DealLineRow>(&sql)
            .bind(viewer)
            .bind(team_wide)
            .bind(sees_all);
        if let Some(p) = period {
            q = q.bind(p.start()).bind(p.end());
        }
        q.fetch_all(&mut *tx).await?
    }))
}

/// Every page of a listing, read one after another from the start.
async fn every_page<T, F>(mut list: impl FnMut(Page) -> F) -> Result<Vec<T>>
where
    F: std::future::Future<Output = Result<Paged<T>>>,
{
    let mut all = Vec::new();
    let mut after = Some(0);
    while let Some(from) = after {
        let paged = list(Page {
            limit: Page::MAX_LIMIT,
            after: from,
        })
        .await?;
        all.extend(paged.items);
        after = paged.next_after;
    }
    Ok(all)
}

/// Days from `due` to `today` when `due` has passed; `None` otherwise.
pub fn days_late(due: Option<Date>, today: Date) -> Option<i64> {
    due.filter(|d| *d < today).map(|d| (today - d).whole_days())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn names_parse_and_print_alike() {
        for n in Name::ALL {
            assert_eq!(Name::parse(n.as_str()).unwrap(), n);
        }
        assert!(Name::parse("everything").is_err());
    }

    #[test]
    fn params_default_and_name_every_bad_one() {
        let today = date!(2026 - 03 - 02);
        let p = ReportParams::default().check(today).unwrap();
        assert_eq!(p.days, 30);
        assert_eq!(p.period.until, today);
        assert_eq!(p.period.from, date!(2026 - 02 - 01));
        assert_eq!(p.period.end(), time::macros::datetime!(2026-03-03 0:00 UTC));
        let bad = ReportParams {
            days: Some(-1),
            from: Some(date!(2026 - 03 - 05)),
            until: None,
            grace_days: Some(400),
        };
        match bad.check(today) {
            Err(Error::Validation(errors)) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["days", "grace_days", "from"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lateness_counts_whole_days_past_the_due_day() {
        let today = date!(2026 - 03 - 02);
        assert_eq!(days_late(Some(date!(2026 - 02 - 27)), today), Some(3));
        assert_eq!(days_late(Some(today), today), None);
        assert_eq!(days_late(None, today), None);
    }
}
