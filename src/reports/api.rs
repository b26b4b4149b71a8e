//! HTTP for reports: `GET /v1/reports/{name}`, as JSON or CSV.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::extract::Query;
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::auth::{Access, Principal, Role};
use crate::crm::visibility::Viewer;
use crate::reports::{self, Name, Report, ReportParams, Scope};

/// Who may read each report. Warehouse staff read what the warehouse works on (every deal's
/// shortages and fill rate, the backlog, purchases, expiring stock without its value), not the
/// pipeline's money; reps read their own deals' shortages, pipeline and fill rate; heads their
/// team's; admins everything.
fn readers(name: Name) -> Access {
    match name {
        Name::Shortages | Name::FillRate => Access::ANY_USER,
        Name::ProductionBacklog | Name::PurchasesOutstanding | Name::ExpiringStock => {
            Access::users(&[Role::Admin, Role::Head, Role::Warehouse])
        }
        Name::Pipeline => Access::SALES,
    }
}

#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Csv,
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatParam {
    /// `json` (default) or `csv` (also chosen by `Accept: text/csv`).
    pub format: Option<Format>,
}

/// A report for heads and managers, as JSON (default) or CSV (`?format=csv` or
/// `Accept: text/csv`, as an attachment). `shortages`: deal lines stock does not cover, with
/// the order that covers them and when, late ones first. `production-backlog`: open production
/// orders by planned date and the components each waits for. `purchases-outstanding`: purchase
/// order lines not yet received, by supplier. `expiring-stock`: batches expiring within
/// `days`, with their value where a price is known. `pipeline`: open deals by stage and rep,
/// won and lost in the period. `fill-rate`: lines of deals won in the period shipped complete
/// and on time. Deals are those the caller may see; docs/data.md defines every column.
#[utoipa::path(get, path = "/v1/reports/{name}", tag = "data",
    params(("name" = String, Path, description = "shortages, production-backlog, purchases-outstanding, expiring-stock, pipeline or fill-rate"),
        FormatParam, ReportParams),
    responses((status = 200, description = "The report: JSON, or CSV (UTF-8, comma-separated, header first)",
        content((Report = "application/json"), (String = "text/csv"))), ErrorResponses),
    security(("bearer" = [])))]
async fn report(
    State(s): State<AppState>,
    p: Principal,
    Path(name): Path<String>,
    Query(format): Query<FormatParam>,
    Query(params): Query<ReportParams>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let name = Name::parse(&name)?;
    let user = p.user_in(readers(name))?;
    let scope = Scope {
        viewer: Viewer::scoped(&p),
        money: user.role != Role::Warehouse,
    };
    let report = reports::run(&s.db, name, scope, &params).await?;
    let csv = match format.format {
        Some(f) => matches!(f, Format::Csv),
        None => headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.to_ascii_lowercase().contains("text/csv")),
    };
    if !csv {
        return Ok(axum::Json::<Report>(report).into_response());
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.csv\"", name.as_str()),
            ),
        ],
        report.csv()?,
    )
        .into_response())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(report))
}
