//! HTTP handler of the change feed: read by every user and device.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::extract::Query;
use crate::api::problem::{ApiError, ApiResult, ErrorResponses};
use crate::api::schemas::routes;
use crate::auth::{Access, Principal};
use crate::sync::changes::{self, ChangeFeed, DEFAULT_LIMIT, MAX_LIMIT, Read, Reader};

/// Where to read from and how much.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// `next_cursor` of the previous answer (decimal digits); `0` or left out reads the feed
    /// from its beginning.
    pub since: Option<String>,
    /// Changes per answer, 1–1000 (default 500).
    pub limit: Option<i64>,
}

impl FeedParams {
    /// `(since, limit)`, or 400 naming the parameter that is not one this feed accepts.
    fn parse(&self) -> Result<(i64, i64), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                Some("limit"),
                format!("limit must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let since = match self.since.as_deref() {
            None | Some("") => 0,
            Some(s) => s
                .parse::<i64>()
                .ok()
                .filter(|v| *v >= 0 && s.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        Some("since"),
                        "since must be 0 or a next_cursor this feed answered",
                    )
                })?,
        };
        Ok((since, limit))
    }
}

/// The change feed a device mirrors to resolve scans offline: items (with GTINs and pack
/// quantities), aliases, locations, batches, printers, and for pickers (admin, warehouse,
/// scanners) the open pick lists assigned to the caller or to nobody; each as `upsert` with its
/// current state or `delete`. Read from
/// `since=0` while `more` is true, keep `next_cursor`, then poll with it; no change is ever
/// skipped, whatever order concurrent writers commit in (docs/offline.md).
#[utoipa::path(get, path = "/v1/sync/changes", tag = "scan", params(FeedParams),
    responses((status = 200, body = ChangeFeed), ErrorResponses), security(("bearer" = [])))]
async fn changes(
    State(s): State<AppState>,
    p: Principal,
    Query(params): Query<FeedParams>,
) -> ApiResult<Json<ChangeFeed>> {
    p.check(Access::ANYONE)?;
    let (since, limit) = params.parse()?;
    let reader = Reader {
        user_id: p.user_id(),
        picks: p.check(Access::WAREHOUSE_FLOOR).is_ok(),
    };
    match changes::read(&s.db, reader, since, limit).await? {
        Read::Page(feed) => Ok(Json(feed)),
        Read::Ahead { head } => Err(ApiError::bad_request(
            Some("since"),
            format!(
                "since is beyond the feed's head ({head}): not a cursor this feed answered; read again from since=0"
            ),
        )),
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(changes))
}
