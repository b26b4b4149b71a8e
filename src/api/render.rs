//! Answering with a rendered label or document: the query every label and document route takes.

use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use utoipa::IntoParams;

use crate::api::problem::ApiResult;
use crate::labels::{Format, Labels};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelQuery {
    /// `zpl`, `pdf` (default) or `png`.
    pub format: Option<Format>,
    /// A template other than the default for this kind of record.
    pub template: Option<String>,
    /// Default 203.
    pub dpi: Option<u32>,
}

impl LabelQuery {
    /// Renders `data` with the asked template (else `default`), format (else PDF) and
    /// resolution (else 203 dpi): what every label and document route answers.
    pub fn render(&self, labels: &Labels, default: &str, data: &Value) -> ApiResult<Response> {
        Ok(labels
            .render(
                self.template.as_deref().unwrap_or(default),
                self.format.unwrap_or(Format::Pdf),
                self.dpi.unwrap_or(203),
                data,
            )?
            .into_response())
    }
}
