//! HTTP handlers: list templates, render a template with data, labels filled from an item, a
//! batch or a location, and SSCCs.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::api::AppState;
use crate::api::extract::{Id, JsonBody, Query};
use crate::api::problem::{ApiResult, ErrorResponses};
use crate::api::render::LabelQuery;
use crate::api::schemas::{Binary, routes};
use crate::auth::{Access, DeviceKind, Principal, Role};
use crate::error::{Checks, Error};
use crate::labels::records::{self, EntityKind, EntityRef};
use crate::labels::template::FieldSpec;
use crate::labels::{Format, Rendered, pdf, sscc};

const READERS: Access = Access {
    roles: &[Role::Admin, Role::Head, Role::Rep, Role::Warehouse],
    devices: &[DeviceKind::Scanner, DeviceKind::Printer],
};
const LABELLERS: Access = Access::WAREHOUSE_FLOOR;

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateInfo {
    pub name: String,
    pub title: String,
    pub width_mm: f64,
    pub height_mm: f64,
    /// The data the template reads, by dotted path.
    pub fields: BTreeMap<String, FieldSpec>,
    /// The fields' examples, as data: what `POST /v1/labels/render` takes.
    #[schema(value_type = Object)]
    pub example: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Templates {
    pub items: Vec<TemplateInfo>,
}

/// The label and document templates (built in and added in `labels/`).
#[utoipa::path(get, path = "/v1/labels/templates", tag = "labels",
    responses((status = 200, body = Templates), ErrorResponses), security(("bearer" = [])))]
async fn templates(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Templates>> {
    p.check(READERS)?;
    Ok(Json(Templates {
        items: s
            .labels
            .all()
            .into_iter()
            .map(|t| TemplateInfo {
                name: t.name.clone(),
                title: t.title.clone(),
                width_mm: t.width_mm,
                height_mm: t.height_mm,
                fields: t.fields.clone(),
                example: t.example(),
            })
            .collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Reloaded {
    pub templates: usize,
}

/// Read the templates again (admin): an added or changed file in the labels directory takes
/// effect without a restart. A template that does not validate is 422 and nothing changes.
#[utoipa::path(post, path = "/v1/labels/templates/reload", tag = "labels",
    responses((status = 200, body = Reloaded), ErrorResponses), security(("bearer" = [])))]
async fn reload(State(s): State<AppState>, p: Principal) -> ApiResult<Json<Reloaded>> {
    p.check(Access::ADMIN)?;
    let n = s
        .labels
        .reload()
        .map_err(|e| Error::invalid("template", format!("{e:#}")))?;
    Ok(Json(Reloaded { templates: n }))
}

/// A sheet of labels on A4 paper.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub struct Sheet {
    pub columns: usize,
    pub rows: usize,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RenderRequest {
    pub template: String,
    pub format: Format,
    /// The printer's resolution for ZPL (203, 300, 600) and the PNG's; default 203.
    #[serde(default)]
    pub dpi: Option<u32>,
    /// The template's fields (see `GET /v1/labels/templates`); a list renders one label each
    /// (ZPL formats one after the other; PDF pages, or a sheet).
    #[schema(value_type = Object)]
    pub data: Value,
    /// PDF only: lay the labels out on A4 sheets, `columns` × `rows` per sheet.
    #[serde(default)]
    pub sheet: Option<Sheet>,
}

/// Rendered bytes answer with their own content type.
impl IntoResponse for Rendered {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::OK, self.bytes).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        response
    }
}

/// Render a template to ZPL, PDF or PNG; answers the bytes with their content type. Barcode
/// data is checked (GTIN check digits, GS1 element strings) and every text value escaped.
#[utoipa::path(post, path = "/v1/labels/render", tag = "labels", request_body = RenderRequest,
    responses((status = 200, description = "application/x-zpl, application/pdf or image/png",
        content((Binary = "application/x-zpl"), (Binary = "application/pdf"), (Binary = "image/png"))), ErrorResponses),
    security(("bearer" = [])))]
async fn render(
    State(s): State<AppState>,
    p: Principal,
    JsonBody(body): JsonBody<RenderRequest>,
) -> ApiResult<Response> {
    p.check(READERS)?;
    let dpi = body.dpi.unwrap_or(203);
    let many = match &body.data {
        Value::Array(list) => {
            if list.is_empty() || list.len() > 1000 {
                return Err(Error::invalid("data", "a list of 1 to 1000 labels").into());
            }
            list.clone()
        }
        other => vec![other.clone()],
    };
    let template = s.labels.get(&body.template).ok_or_else(|| {
        Error::invalid(
            "template",
            format!("no label template named '{}'", body.template),
        )
    })?;
    if many.len() == 1 && body.sheet.is_none() {
        return Ok(crate::labels::render(&template, body.format, dpi, &many[0])?.into_response());
    }
    let mut pages = Vec::new();
    for (i, data) in many.iter().enumerate() {
        pages.extend(template.lay_out(data).map_err(|e| prefix(e, i))?);
    }
    let rendered = match (body.format, body.sheet) {
        (Format::Pdf, Some(sheet)) => {
            let mut checks = Checks::new();
            checks.check(
                (1..=20).contains(&sheet.columns) && (1..=40).contains(&sheet.rows),
                "sheet",
                "columns 1-20 and rows 1-40",
            );
            checks.finish()?;
            Rendered {
                content_type: Format::Pdf.content_type(),
                bytes: pdf::sheet(&pages, sheet.columns, sheet.rows)?,
            }
        }
        (_, Some(_)) => {
            return Err(Error::invalid("sheet", "sheets are PDF only").into());
        }
        (Format::Pdf, None) => Rendered {
            content_type: Format::Pdf.content_type(),
            bytes: pdf::render(&pages)?,
        },
        (Format::Zpl, None) => Rendered {
            content_type: Format::Zpl.content_type(),
            bytes: crate::labels::zpl::render(&pages, dpi).into_bytes(),
        },
        (Format::Png, None) => {
            return Err(
                Error::invalid("data", "a PNG preview shows one label: send one object").into(),
            );
        }
    };
    Ok(rendered.into_response())
}

/// Puts the label's index in front of a data error's field (`data[2].item.gtin`).
fn prefix(e: Error, i: usize) -> Error {
    match e {
        Error::Validation(mut v) => {
            for f in &mut v {
                f.field = match f.field.strip_prefix("data") {
                    Some(rest) => format!("data[{i}]{rest}"),
                    None => f.field.clone(),
                };
            }
            Error::Validation(v)
        }
        other => other,
    }
}

fn label(s: &AppState, q: &LabelQuery, default: &str, data: &Value) -> ApiResult<Response> {
    q.render(&s.labels, default, data)
}

async fn record_label(s: &AppState, q: &LabelQuery, entity: EntityRef) -> ApiResult<Response> {
    let (default, data) = records::data_for(&s.db, entity).await?;
    label(s, q, default, &data)
}

/// The item's label (template `item`: name, code, GTIN as EAN-13; or `?template=`), filled
/// from the item. The GTIN is the item's base-unit GTIN (or its first).
#[utoipa::path(get, path = "/v1/items/{id}/label", tag = "labels", params(("id" = i64, Path), LabelQuery),
    responses((status = 200, description = "the label", content((Binary = "application/pdf"), (Binary = "application/x-zpl"), (Binary = "image/png"))), ErrorResponses), security(("bearer" = [])))]
async fn item_label(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    Query(q): Query<LabelQuery>,
) -> ApiResult<Response> {
    p.check(READERS)?;
    record_label(
        &s,
        &q,
        EntityRef {
            kind: EntityKind::Item,
            id,
        },
    )
    .await
}

/// The batch's label (template `batch`: item, batch, expiry and production date, GS1-128
/// (01)(17)(10); or `?template=item-gs1`).
#[utoipa::path(get, path = "/v1/batches/{id}/label", tag = "labels", params(("id" = i64, Path), LabelQuery),
    responses((status = 200, description = "the label", content((Binary = "application/pdf"), (Binary = "application/x-zpl"), (Binary = "image/png"))), ErrorResponses), security(("bearer" = [])))]
async fn batch_label(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    Query(q): Query<LabelQuery>,
) -> ApiResult<Response> {
    p.check(READERS)?;
    record_label(
        &s,
        &q,
        EntityRef {
            kind: EntityKind::Batch,
            id,
        },
    )
    .await
}

/// The location's (bin's) label with its barcode (template `location`).
#[utoipa::path(get, path = "/v1/locations/{id}/label", tag = "labels", params(("id" = i64, Path), LabelQuery),
    responses((status = 200, description = "the label", content((Binary = "application/pdf"), (Binary = "application/x-zpl"), (Binary = "image/png"))), ErrorResponses), security(("bearer" = [])))]
async fn location_label(
    State(s): State<AppState>,
    p: Principal,
    Id(id): Id,
    Query(q): Query<LabelQuery>,
) -> ApiResult<Response> {
    p.check(READERS)?;
    record_label(
        &s,
        &q,
        EntityRef {
            kind: EntityKind::Location,
            id,
        },
    )
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewSscc {
    /// 18 digits: extension digit, GS1 company prefix, serial reference, check digit.
    pub sscc: String,
}

/// Take a fresh SSCC (from the configured GS1 company prefix and a serial counter that never
/// repeats), e.g. for a logistic label.
#[utoipa::path(post, path = "/v1/sscc", tag = "labels",
    responses((status = 201, body = NewSscc), ErrorResponses), security(("bearer" = [])))]
async fn new_sscc(
    State(s): State<AppState>,
    p: Principal,
) -> ApiResult<(StatusCode, Json<NewSscc>)> {
    p.check(LABELLERS)?;
    let code = sscc::next(
        &s.db,
        s.config.gs1_company_prefix.as_deref(),
        s.config.sscc_extension_digit,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(NewSscc { sscc: code })))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(templates))
        .routes(routes!(reload))
        .routes(routes!(render))
        .routes(routes!(item_label))
        .routes(routes!(batch_label))
        .routes(routes!(location_label))
        .routes(routes!(new_sscc))
}
