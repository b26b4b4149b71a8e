//! Request extractors whose every rejection is a problem+json naming the field.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::api::problem::{ApiError, Problem};
use crate::db::Page;

/// A JSON request body.
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json_content = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || v.ends_with("+json")
            })
            .unwrap_or(false);
        if !json_content {
            return Err(ApiError::from(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "the body must be JSON, sent with Content-Type: application/json",
            )));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        parse_json(&bytes).map(JsonBody)
    }
}

pub fn bytes_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::from(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "the request body is larger than the server accepts",
        ))
    } else {
        ApiError::bad_request(None, format!("could not read the body: {rejection}"))
    }
}

/// Parses JSON, reporting the path of a field with the wrong type or a missing field (422) and
/// the position of a syntax error (400).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de);
    if value.is_ok()
        && let Err(e) = de.end()
    {
        return Err(ApiError::bad_request(
            None,
            format!("the body is not valid JSON: {e}"),
        ));
    }
    value.map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Data => {
                let (field, reason) = field_of(&path, &inner.to_string());
                ApiError::unprocessable(&field, reason)
            }
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request(None, format!("the body is not valid JSON: {inner}"))
            }
        }
    })
}

/// serde names a missing field only in its message; lift it into the field path.
fn field_of(path: &str, message: &str) -> (String, String) {
    let message = strip_position(message);
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some(name) = rest.split('`').next()
    {
        let field = if path == "." || path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        };
        return (field, "is required".into());
    }
    let field = if path == "." {
        String::new()
    } else {
        path.to_string()
    };
    (field, message)
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// Query-string parameters.
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|err| {
                let field = err.path().to_string();
                ApiError::bad_request(
                    Some(&field),
                    format!("query parameter '{field}': {}", err.into_inner()),
                )
            })
    }
}

/// A numeric id in the path. One that is not a number cannot name a record: 404.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(path_rejection)?;
        match raw.parse::<i64>() {
            Ok(id) if id > 0 => Ok(Id(id)),
            _ => Err(ApiError::from(Problem::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("no record with id '{raw}'"),
            ))),
        }
    }
}

/// Two numeric ids in the path (`/v1/counts/{id}/locations/{location_id}`); 404 unless both are.
pub struct IdPair(pub i64, pub i64);

impl<S: Send + Sync> FromRequestParts<S> for IdPair {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path((a, b)) =
            axum::extract::Path::<(String, String)>::from_request_parts(parts, state)
                .await
                .map_err(path_rejection)?;
        match (a.parse::<i64>(), b.parse::<i64>()) {
            (Ok(a), Ok(b)) if a > 0 && b > 0 => Ok(IdPair(a, b)),
            _ => Err(ApiError::from(Problem::new(
                StatusCode::NOT_FOUND,
                "not-found",
                format!("no record with ids '{a}', '{b}'"),
            ))),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ApiError {
    ApiError::from(Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("no such resource: {rejection}"),
    ))
}

/// `limit` and `cursor` of every list route.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1–500 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

impl ListParams {
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = self.limit.unwrap_or(Page::DEFAULT_LIMIT);
        if !(1..=Page::MAX_LIMIT).contains(&limit) {
            return Err(ApiError::bad_request(
                Some("limit"),
                format!("limit must be between 1 and {}", Page::MAX_LIMIT),
            ));
        }
        let after = match self.cursor.as_deref() {
            None | Some("") => 0,
            Some(c) => c.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
                ApiError::bad_request(Some("cursor"), "cursor is not one this API issued")
            })?,
        };
        Ok(Page { limit, after })
    }
}

/// One page of a list.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Listing<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> From<crate::db::Paged<T>> for Listing<T> {
    fn from(p: crate::db::Paged<T>) -> Self {
        Listing {
            items: p.items,
            next_cursor: p.next_after.map(|a| a.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Line {
        item_id: i64,
        quantity: i64,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        title: String,
        lines: Vec<Line>,
    }

    #[test]
    fn a_wrong_type_names_the_nested_field() {
        let err = parse_json::<Body>(br#"{"title":"x","lines":[{"item_id":1,"quantity":"two"}]}"#)
            .unwrap_err();
        assert_eq!(err.0.status, 422);
        assert_eq!(err.0.field.as_deref(), Some("lines[0].quantity"));
    }

    #[test]
    fn a_missing_field_is_named() {
        let err = parse_json::<Body>(br#"{"lines":[]}"#).unwrap_err();
        assert_eq!(err.0.status, 422);
        assert_eq!(err.0.field.as_deref(), Some("title"));
        let err = parse_json::<Body>(br#"{"title":"t","lines":[{"item_id":1}]}"#).unwrap_err();
        assert_eq!(err.0.field.as_deref(), Some("lines[0].quantity"));
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        let err = parse_json::<Body>(br#"{"title":"#).unwrap_err();
        assert_eq!(err.0.status, 400);
        let err = parse_json::<Body>(br#"{"title":"x","lines":[]} trailing"#).unwrap_err();
        assert_eq!(err.0.status, 400);
    }
}
