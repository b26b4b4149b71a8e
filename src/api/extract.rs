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
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(bytes_rejection)?;
        // No body at all means "every field at its default", whatever the content type says.
        if !json_content && !bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::from(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "the body must be JSON, sent with Content-Type: application/json",
            )));
        }
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
/// the position of a syntax error (400). An empty body stands for `{}` (every field at its
/// default). Every string is checked for control characters ([`text_controls`]) and every
/// field the target type does not know is refused: a typo must never look like success.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    // Every body is an object: serde would otherwise fill a struct from an array, by position
    // (`[]` as "every field at its default"), and a body sent in the wrong shape would look
    // like success.
    if let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace())
        && *first != b'{'
    {
        return Err(ApiError::unprocessable(
            "body",
            "must be a JSON object (`{…}`)".to_string(),
        ));
    }
    if may_hold_controls(bytes)
        && let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes)
    {
        let mut errors = Vec::new();
        text_controls(&value, &mut String::new(), false, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::from(crate::error::Error::Validation(errors)));
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut unknown = Vec::new();
    let mut note_unknown = |path: serde_ignored::Path<'_>| unknown.push(json_path(&path));
    let ignoring = serde_ignored::Deserializer::new(&mut de, &mut note_unknown);
    let value = serde_path_to_error::deserialize(ignoring);
    if value.is_ok()
        && let Err(e) = de.end()
    {
        return Err(ApiError::bad_request(
            None,
            format!("the body is not valid JSON: {e}"),
        ));
    }
    let value = value.map_err(|err| {
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
    })?;
    if !unknown.is_empty() {
        return Err(ApiError::from(crate::error::Error::Validation(
            unknown
                .into_iter()
                .map(|field| crate::error::FieldError {
                    field,
                    reason: "is not a field of this request".into(),
                })
                .collect(),
        )));
    }
    Ok(value)
}

/// The JSON path (`lines[2].quantity`) of a field serde skipped.
fn json_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", json_path(parent)),
        Path::Map { parent, key } => {
            let parent = json_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => json_path(parent),
    }
}

/// Fields whose text is scanned barcode data (or label data bound for a barcode), which keeps the
/// control characters GS1 and ISO/IEC 15434 use.
const SCAN_FIELDS: &[&str] = &["scan", "data", "barcode"];

/// Control characters only reach a JSON string escaped (`\u0000`..`\u001f`, `\b`, `\f`); a
/// body without those escapes needs no walk.
fn may_hold_controls(bytes: &[u8]) -> bool {
    bytes
        .windows(2)
        .any(|w| w[0] == b'\\' && matches!(w[1], b'u' | b'b' | b'f'))
}

/// Why `text` may not be stored, if it may not: NUL never (PostgreSQL cannot store it in text),
/// other C0 controls only tab, CR and LF in free text, and in scan data also GS, RS and EOT.
pub fn control_character(text: &str, scan_data: bool) -> Option<String> {
    let bad = text.chars().find(|c| {
        c.is_ascii_control()
            && *c != '\u{7f}'
            && !matches!(c, '\t' | '\r' | '\n')
            && !(scan_data && matches!(c, '\u{1d}' | '\u{1e}' | '\u{04}'))
    })?;
    Some(if bad == '\0' {
        "contains a NUL character (U+0000), which text may not hold".into()
    } else {
        format!(
            "contains the control character U+{:04X}, which {} may not hold",
            bad as u32,
            if scan_data { "scan data" } else { "text" }
        )
    })
}

/// Collects every string (and object key) under `value` that holds a forbidden control
/// character, by JSON path.
fn text_controls(
    value: &serde_json::Value,
    path: &mut String,
    scan_data: bool,
    errors: &mut Vec<crate::error::FieldError>,
) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Some(reason) = control_character(s, scan_data) {
                errors.push(crate::error::FieldError {
                    field: path.clone(),
                    reason,
                });
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                text_controls(item, path, scan_data, errors);
                path.truncate(len);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                if let Some(reason) = control_character(key, false) {
                    errors.push(crate::error::FieldError {
                        field: path.clone(),
                        reason: format!("the field name {reason}"),
                    });
                }
                text_controls(
                    item,
                    path,
                    scan_data || SCAN_FIELDS.contains(&key.as_str()),
                    errors,
                );
                path.truncate(len);
            }
        }
        _ => {}
    }
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
        let pairs = form_urlencoded::parse(query.as_bytes());
        let mut errors = Vec::new();
        for (name, value) in pairs {
            if let Some(reason) = control_character(&value, SCAN_FIELDS.contains(&&*name)) {
                errors.push(crate::error::FieldError {
                    field: name.into_owned(),
                    reason,
                });
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::from(crate::error::Error::Validation(errors)));
        }
        let de = serde_urlencoded::Deserializer::new(pairs);
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

/// The page a list route is asked for: `limit` and `cursor` checked the same way on every list
/// (400 naming the parameter when either is not one this API accepts).
pub struct Paging(pub Page);

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(params) = Query::<ListParams>::from_request_parts(parts, state).await?;
        params.page().map(Paging)
    }
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

/// An uploaded file: the multipart (`multipart/form-data`) field `field`, or else the whole
/// body. Problems name `field`.
pub async fn upload<S: Send + Sync>(
    state: &S,
    request: Request,
    field: &'static str,
) -> Result<Bytes, ApiError> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    let malformed = |status: StatusCode, text: String| {
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::from(Problem::new(
                status,
                "too-large",
                format!("the {field} is larger than the server accepts"),
            ))
        } else {
            ApiError::bad_request(Some(field), format!("malformed multipart body: {text}"))
        }
    };
    let bytes = if multipart {
        let mut form = axum::extract::Multipart::from_request(request, state)
            .await
            .map_err(|e| malformed(e.status(), e.body_text()))?;
        let mut found = None;
        while let Some(part) = form
            .next_field()
            .await
            .map_err(|e| malformed(e.status(), e.body_text()))?
        {
            if part.name() == Some(field) {
                found = Some(
                    part.bytes()
                        .await
                        .map_err(|e| malformed(e.status(), e.body_text()))?,
                );
                break;
            }
        }
        found.ok_or_else(|| {
            ApiError::unprocessable(
                field,
                format!("the multipart body has no field named '{field}'"),
            )
        })?
    } else {
        Bytes::from_request(request, state)
            .await
            .map_err(bytes_rejection)?
    };
    if bytes.is_empty() {
        return Err(ApiError::unprocessable(
            field,
            format!("no {field} in the request body"),
        ));
    }
    Ok(bytes)
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
    fn a_body_is_an_object() {
        for body in [&b"[]"[..], b" [\"x\", []]", b"1", b"\"x\"", b"null"] {
            let err = parse_json::<Body>(body).unwrap_err();
            assert_eq!(err.0.status, 422, "{:?}", String::from_utf8_lossy(body));
            assert_eq!(err.0.field.as_deref(), Some("body"));
        }
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        let err = parse_json::<Body>(br#"{"title":"#).unwrap_err();
        assert_eq!(err.0.status, 400);
        let err = parse_json::<Body>(br#"{"title":"x","lines":[]} trailing"#).unwrap_err();
        assert_eq!(err.0.status, 400);
    }
}
