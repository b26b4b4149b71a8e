//! Every response the HTTP suite receives through `TestApp::send_with` (and the documents the
//! download helpers fetch, through [`check_bytes`]) is checked against the published OpenAPI
//! document (`depot::app::openapi()`, what `/openapi.json` serves), so every test is also a
//! contract test:
//!
//! - The operation is found by matching the request path against the path templates
//!   (`/v1/items/{id}`), the one with the most literal segments winning, and the method.
//! - The status is looked up as `201`, then `2XX`, then `default`; an undocumented status fails.
//! - JSON bodies (`application/json`, `application/problem+json`, any `+json`) must match the
//!   response's schema for that media type, with no undocumented fields (every object is closed
//!   with `unevaluatedProperties: false`). `$ref`s resolve against the document's `components`;
//!   each distinct schema is compiled once and reused by every test.
//! - Other bodies (PDF, PNG, ZPL, text) are not validated, but the status and the media type
//!   must be documented; a documented body that does not come fails too.
//! - Requests that reach no documented operation (an unknown route, a method the route does not
//!   have, `/openapi.json`, `/docs`) are not part of the contract, but a problem+json body they
//!   get must still be a `Problem`.
//!
//! A mismatch panics with the operation, the status, each error's instance path and a snippet
//! of the body; with `DEPOT_CONTRACT_REPORT=<file>` it is appended to that file instead.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use jsonschema::{Draft, Validator};
use serde_json::{Value, json};

/// The document, and compiled validators.
struct Contract {
    components: Value,
    /// (template segments, template, path item)
    paths: Vec<(Vec<String>, String, Value)>,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

static CONTRACT: LazyLock<Contract> = LazyLock::new(|| {
    let doc = serde_json::to_value(depot::app::openapi()).expect("the OpenAPI document");
    let paths = doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(template, item)| (segments(template), template.clone(), item.clone()))
        .collect();
    let mut components = doc["components"].clone();
    close_objects(&mut components);
    Contract {
        components,
        paths,
        validators: Mutex::new(HashMap::new()),
    }
});

/// Closes every documented object (`unevaluatedProperties: false`), so that a field the API
/// sends but the document does not describe is a mismatch too. An `allOf` (a
/// `#[serde(flatten)]`) is closed as a whole: its parts refer to open copies (`Name.part`).
fn close_objects(components: &mut Value) {
    let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) else {
        return;
    };
    let mut copies = Vec::new();
    for (name, schema) in schemas.iter_mut() {
        open_all_of_parts(schema);
        let mut copy = schema.clone();
        close(&mut copy, true);
        copies.push((format!("{name}.part"), copy));
        close(schema, false);
    }
    schemas.extend(copies);
}

/// Points the `$ref`s that are parts of an `allOf` to the open copies.
fn open_all_of_parts(schema: &mut Value) {
    match schema {
        Value::Object(o) => {
            if let Some(parts) = o.get_mut("allOf").and_then(Value::as_array_mut) {
                for part in parts {
                    if let Some(target) = part["$ref"].as_str().map(|r| format!("{r}.part")) {
                        part["$ref"] = target.into();
                    }
                }
            }
            o.values_mut().for_each(open_all_of_parts);
        }
        Value::Array(a) => a.iter_mut().for_each(open_all_of_parts),
        _ => {}
    }
}

fn close(schema: &mut Value, open: bool) {
    let Some(o) = schema.as_object_mut() else {
        return;
    };
    let is_object = o.contains_key("properties") || o.contains_key("allOf");
    if is_object
        && !open
        && !o.contains_key("additionalProperties")
        && !o.contains_key("unevaluatedProperties")
    {
        o.insert("unevaluatedProperties".into(), Value::Bool(false));
    }
    if let Some(props) = o.get_mut("properties").and_then(Value::as_object_mut) {
        props.values_mut().for_each(|p| close(p, false));
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub) = o.get_mut(key) {
            close(sub, false);
        }
    }
    // The parts of an allOf are open (the allOf is closed); the alternatives of a oneOf are
    // whole values, closed unless the oneOf is itself part of an allOf.
    for (key, part_open) in [
        ("allOf", true),
        ("oneOf", open),
        ("anyOf", open),
        ("prefixItems", false),
    ] {
        if let Some(parts) = o.get_mut(key).and_then(Value::as_array_mut) {
            parts.iter_mut().for_each(|p| close(p, part_open));
        }
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .map(str::to_string)
        .collect()
}

impl Contract {
    /// The path template matching `path` and its path item, preferring literal segments
    /// (`/v1/scans/decode` over `/v1/scans/{id}`).
    fn operation_path(&self, path: &str) -> Option<(&str, &Value)> {
        let actual = segments(path);
        self.paths
            .iter()
            .filter(|(template, _, _)| {
                template.len() == actual.len()
                    && template.iter().zip(&actual).all(|(t, a)| {
                        (t.starts_with('{') && t.ends_with('}') && !a.is_empty()) || t == a
                    })
            })
            .max_by_key(|(template, _, _)| template.iter().filter(|t| !t.starts_with('{')).count())
            .map(|(_, template, item)| (template.as_str(), item))
    }

    /// The validator for `schema` (a response's schema in the document), compiled once per
    /// distinct schema: every error response shares the one for `Problem`.
    fn validator(&self, schema: &Value) -> Arc<Validator> {
        let key = schema.to_string();
        if let Some(v) = self.validators.lock().unwrap().get(&key) {
            return v.clone();
        }
        // The schema at the root with the document's components beside it, so that
        // `#/components/schemas/...` resolves.
        let mut root = schema.clone();
        open_all_of_parts(&mut root);
        close(&mut root, false);
        let Value::Object(mut root) = root else {
            panic!("contract: the schema is not an object: {key}");
        };
        root.insert("components".into(), self.components.clone());
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .unwrap_or_else(|e| panic!("contract: {key}: the schema does not compile: {e}"));
        let mut cache = self.validators.lock().unwrap();
        cache.entry(key).or_insert(Arc::new(validator)).clone()
    }
}

/// The path template and the operation a request reaches, if it reaches one.
pub fn operation(method: &str, path_and_query: &str) -> Option<(String, Value)> {
    let path = path_and_query.split(['?', '#']).next().unwrap_or_default();
    let (template, item) = CONTRACT.operation_path(path)?;
    let operation = item.get(method.to_ascii_lowercase())?;
    Some((template.to_string(), operation.clone()))
}

/// What does not match between a value (an example in the document) and a schema of the
/// document, with every object closed as for responses: one line per error.
pub fn value_errors(schema: &Value, value: &Value) -> Vec<String> {
    CONTRACT
        .validator(schema)
        .iter_errors(value)
        .map(|e| format!("at '{}': {}", e.instance_path(), snippet(&e.to_string())))
        .collect()
}

fn is_json(media_type: &str) -> bool {
    media_type == "application/json" || media_type.ends_with("+json")
}

/// Checks one response against the document and fails the test on a mismatch (see
/// [`mismatch`]).
pub fn check(
    method: &str,
    path_and_query: &str,
    status: u16,
    content_type: Option<&str>,
    body: &str,
) {
    if let Err(message) = verdict(method, path_and_query, status, content_type, body) {
        mismatch(message);
    }
}

/// [`check`] for a body read as bytes (documents, labels).
pub fn check_bytes(
    method: &str,
    path_and_query: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) {
    check(
        method,
        path_and_query,
        status,
        content_type,
        &String::from_utf8_lossy(body),
    );
}

/// What does not match between one response and the document, if anything.
pub fn verdict(
    method: &str,
    path_and_query: &str,
    status: u16,
    content_type: Option<&str>,
    body: &str,
) -> Result<(), String> {
    let contract = &*CONTRACT;
    let path = path_and_query.split(['?', '#']).next().unwrap_or_default();
    let media_type = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|_| !body.is_empty());
    let method_key = method.to_ascii_lowercase();
    let operation = contract
        .operation_path(path)
        .and_then(|(template, item)| item.get(&method_key).map(|op| (template, op)));
    let Some((template, operation)) = operation else {
        // Not an operation of the document (unknown route, 405, /openapi.json, /docs): only
        // a problem body is checked.
        if media_type.as_deref() == Some("application/problem+json") {
            let schema = json!({"$ref": "#/components/schemas/Problem"});
            let validator = contract.validator(&schema);
            let op = format!("{method} {path} (no operation)");
            return validate(&validator, &op, status, body);
        }
        return Ok(());
    };
    let op = format!("{method} {template}");
    let responses = &operation["responses"];
    let code = status.to_string();
    let range = format!("{}XX", status / 100);
    let Some((_, response)) = [code.as_str(), range.as_str(), "default"]
        .into_iter()
        .find_map(|k| responses.get(k).map(|r| (k, r)))
    else {
        let documented: Vec<&String> = responses
            .as_object()
            .map(|r| r.keys().collect())
            .unwrap_or_default();
        return Err(format!(
            "contract: {op} answered {status}, which it does not document \
             (documented: {documented:?}); body: {}",
            snippet(body)
        ));
    };
    let content = response
        .get("content")
        .and_then(Value::as_object)
        .filter(|c| !c.is_empty());
    let Some(media_type) = media_type else {
        // No body. A documented body that never comes is a mismatch too.
        return match content {
            Some(content) => Err(format!(
                "contract: {op} answered {status} with no body, but documents one as {:?}",
                content.keys().collect::<Vec<_>>()
            )),
            None => Ok(()),
        };
    };
    let Some(content) = content else {
        return Err(format!(
            "contract: {op} answered {status} with a {media_type} body, but documents none; \
             body: {}",
            snippet(body)
        ));
    };
    let Some(media) = content.get(&media_type) else {
        return Err(format!(
            "contract: {op} answered {status} as {media_type}, but documents {:?}; body: {}",
            content.keys().collect::<Vec<_>>(),
            snippet(body)
        ));
    };
    match media.get("schema") {
        Some(schema) if is_json(&media_type) => {
            let validator = contract.validator(schema);
            validate(&validator, &op, status, body)
        }
        // Binary and text bodies: their status and media type are what the document says.
        _ => Ok(()),
    }
}

fn validate(validator: &Validator, op: &str, status: u16, body: &str) -> Result<(), String> {
    let instance: Value = serde_json::from_str(body).map_err(|e| {
        format!(
            "contract: {op} answered {status} with a JSON media type, but the body is not JSON \
             ({e}): {}",
            snippet(body)
        )
    })?;
    const SHOWN: usize = 20;
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| {
            format!(
                "  at '{}' (schema {}): {}",
                e.instance_path(),
                e.schema_path(),
                snippet(&e.to_string())
            )
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    let more = match errors.len().saturating_sub(SHOWN) {
        0 => String::new(),
        n => format!("\n  ... and {n} more"),
    };
    Err(format!(
        "contract: {op} answered {status} with a body that does not match its schema:\n{}{more}\nbody: {}",
        errors[..errors.len().min(SHOWN)].join("\n"),
        snippet(body)
    ))
}

/// Fails the test. With `DEPOT_CONTRACT_REPORT=<file>` the mismatch is appended to that file
/// instead, so that one run of the suite lists every mismatch (the tests then go on).
fn mismatch(message: String) {
    match std::env::var_os("DEPOT_CONTRACT_REPORT") {
        Some(file) => {
            use std::io::Write;
            let mut out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)
                .expect("DEPOT_CONTRACT_REPORT file");
            // One write, so that reports of tests running at once do not interleave.
            out.write_all(format!("{message}\n\n").as_bytes()).unwrap();
        }
        None => panic!("{message}"),
    }
}

fn snippet(text: &str) -> String {
    const MAX: usize = 600;
    if text.len() <= MAX {
        return text.to_string();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::verdict;

    fn item() -> Value {
        json!({"id": 1, "code": "A", "name": "A", "unit": "pcs", "tracking": "none",
            "source": "purchased", "requires_certificate": false, "gtins": [], "active": true,
            "shelf_life_days": null, "supplier_id": null,
            "created_at": "2026-11-26T10:08:19.123456Z", "updated_at": "2026-11-26T10:08:19Z"})
    }

    fn get_item(status: u16, content_type: &str, body: &Value) -> Result<(), String> {
        verdict(
            "GET",
            "/v1/items/1?x=1",
            status,
            Some(content_type),
            &body.to_string(),
        )
    }

    /// The checker itself: it passes what matches and catches what does not.
    #[test]
    fn the_contract_checker_catches_mismatches() {
        get_item(200, "application/json", &item()).unwrap();
        let problem = json!({"type": "/problems/not-found", "title": "Not Found", "status": 404,
                             "detail": "no item 1"});
        get_item(404, "application/problem+json", &problem).unwrap();

        let mut extra = item();
        extra["surprise"] = 1.into();
        let err = get_item(200, "application/json", &extra).unwrap_err();
        assert!(err.contains("surprise"), "{err}");

        let mut wrong = item();
        wrong["id"] = "1".into();
        wrong["created_at"] = "yesterday".into();
        let err = get_item(200, "application/json", &wrong).unwrap_err();
        assert!(
            err.contains("'/id'") && err.contains("'/created_at'"),
            "{err}"
        );

        let err = get_item(418, "application/problem+json", &problem).unwrap_err();
        assert!(err.contains("does not document"), "{err}");
        let err = get_item(200, "text/csv", &json!("a,b")).unwrap_err();
        assert!(err.contains("documents [\"application/json\"]"), "{err}");
        let err = verdict("GET", "/v1/items/1", 200, None, "").unwrap_err();
        assert!(err.contains("no body"), "{err}");

        // Outside the document: only problem bodies are checked.
        verdict("GET", "/nowhere", 404, Some("text/plain"), "nothing").unwrap();
        let err = verdict(
            "GET",
            "/nowhere",
            404,
            Some("application/problem+json"),
            "{}",
        );
        assert!(err.unwrap_err().contains("required"));
    }
}
