//! The examples in the API reference are real exchanges of this suite. With
//! `DEPOT_RECORD_EXAMPLES=1`, every successful response a test gets on SQLite through
//! `TestApp::send_with` is offered to [`record`], which keeps one exchange per operation and
//! writes them to `src/api/examples.json`; `depot::api::reference` adds them to the OpenAPI
//! document (request body, response body, parameter values), and `/docs` shows them.
//!
//! - Only requests that fit the document count. Of the exchanges of one operation, the one kept
//!   is the first by a fixed order (a request body when the operation takes one, then a response
//!   body that can be shown (ZPL over PDF), then fewest empty lists in the response, then the
//!   most values set in the request, then the shortest, then the text), so that recording twice
//!   gives the same file, whatever order the tests ran in.
//! - Long lists are cut to two entries; tokens are replaced by stand-ins, passwords by
//!   `correct horse battery staple` and the test's local addresses by a documentation address; time stamps within two days of the recording are moved to
//!   the same distance from 2026-03-02T09:30:00Z; binary bodies (PDF, PNG) are noted by media
//!   type only and text (ZPL, metrics) is cut to its first lines.
//! - Operations that no test of this run reached keep the example the file had, and examples of
//!   operations the document no longer has are dropped.
//!
//! [`every_operation_has_an_example`] fails when an operation has none, so a new route comes with
//! a test that calls it; [`the_examples_match_the_document`] when an example no longer fits its
//! schema.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::{LazyLock, Mutex};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// path template → method → example, as in `src/api/examples.json`.
type Examples = BTreeMap<String, BTreeMap<String, Value>>;

const FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/examples.json");
const PASSWORD: &str = "correct horse battery staple";
const USER_TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIiwiZ2VuIjoxLCJleHAiOjE3NzI0NDM5MDB9.c2lnbmF0dXJlLW5vdC1hLXJlYWwtdG9rZW4";
const DEVICE_TOKEN: &str = "dpt_3xAmPl3dEv1c3T0k3nN0tR3aL0000000000000000";
/// What stands for a local address of the test (a documentation address, the raw print port).
const PRINTER_ADDRESS: &str = "192.0.2.10:9100";
/// Where the recording's "now" lands in the examples.
const EPOCH: &str = "2026-03-02T09:30:00Z";
/// Entries kept of a longer list.
const LIST: usize = 2;
/// Lines kept of a text body.
const TEXT_LINES: usize = 12;

struct Recorder {
    /// The committed examples, with this run's recordings over them.
    examples: Examples,
    /// The operations recorded in this run (their committed example is replaced).
    recorded: Vec<(String, String)>,
}

static RECORDER: LazyLock<Mutex<Recorder>> = LazyLock::new(|| {
    let examples = std::fs::read_to_string(FILE)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    Mutex::new(Recorder {
        examples,
        recorded: Vec::new(),
    })
});

/// Whether this run records examples (`DEPOT_RECORD_EXAMPLES=1`).
pub fn recording() -> bool {
    std::env::var("DEPOT_RECORD_EXAMPLES").is_ok_and(|v| v == "1")
}

/// Offers one exchange: kept when it is the operation's first success of this run, or comes
/// before the one kept (see the module's documentation).
pub fn record(
    method: &str,
    path_and_query: &str,
    request: Option<&Value>,
    status: u16,
    content_type: Option<&str>,
    body: &str,
) {
    if !recording() || !(200..300).contains(&status) {
        return;
    }
    let Some((template, operation)) = crate::contract::operation(method, path_and_query) else {
        return;
    };
    let method = method.to_ascii_lowercase();
    let request_schema = &operation["requestBody"]["content"]["application/json"]["schema"];
    let takes_body = request_schema.is_object();
    // A body the server let through but the document does not describe (`[]` for a patch whose
    // fields are all optional) is not an example.
    if let (Some(request), true) = (request, takes_body)
        && !crate::contract::value_errors(request_schema, request).is_empty()
    {
        return;
    }
    let example = exchange(path_and_query, request, status, content_type, body);
    let mut recorder = RECORDER.lock().unwrap();
    let key = (template.clone(), method.clone());
    let first = !recorder.recorded.contains(&key);
    let kept = recorder
        .examples
        .get(&template)
        .and_then(|m| m.get(&method));
    let better = match kept {
        Some(kept) if !first => rank(&example, takes_body) < rank(kept, takes_body),
        _ => true,
    };
    if !better {
        return;
    }
    if first {
        recorder.recorded.push(key);
    }
    recorder
        .examples
        .entry(template)
        .or_default()
        .insert(method, example);
    write(&recorder.examples);
}

/// The example of one exchange, tidied (see the module's documentation).
fn exchange(
    path_and_query: &str,
    request: Option<&Value>,
    status: u16,
    content_type: Option<&str>,
    body: &str,
) -> Value {
    let now = OffsetDateTime::now_utc();
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|_| !body.is_empty());
    let mut example = json!({"path": path_and_query, "status": status});
    if let Some(request) = request {
        example["request"] = tidy(request.clone(), now);
    }
    if let Some(media) = media {
        let response = if media == "application/json" || media.ends_with("+json") {
            serde_json::from_str(body).ok().map(|v| tidy(v, now))
        } else if media.starts_with("text/") || media == "application/x-zpl" {
            Some(Value::String(first_lines(body)))
        } else {
            None
        };
        example["content_type"] = media.into();
        if let Some(response) = response {
            example["response"] = response;
        }
    }
    example
}

/// Lists cut, secrets replaced, time stamps of the recording moved to [`EPOCH`].
fn tidy(value: Value, now: OffsetDateTime) -> Value {
    match value {
        Value::Array(items) => {
            Value::Array(items.into_iter().take(LIST).map(|v| tidy(v, now)).collect())
        }
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(key, value)| {
                    let value = match value {
                        Value::String(_) if key.ends_with("password") => PASSWORD.into(),
                        value => tidy(value, now),
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::String(s) => Value::String(tidy_text(s, now)),
        other => other,
    }
}

fn tidy_text(s: String, now: OffsetDateTime) -> String {
    if s.starts_with("dpt_") {
        return DEVICE_TOKEN.into();
    }
    if s.starts_with("eyJ") && s.matches('.').count() == 2 {
        return USER_TOKEN.into();
    }
    // The test's own listeners (a fake printer) answer on a random local port.
    if let Some(port) = s.strip_prefix("127.0.0.1:")
        && port.parse::<u16>().is_ok()
    {
        return PRINTER_ADDRESS.into();
    }
    if let Ok(t) = OffsetDateTime::parse(&s, &Rfc3339) {
        let offset = t - now;
        if offset.abs() < time::Duration::days(2) {
            let minutes = (offset.as_seconds_f64() / 60.0).round() as i64;
            let epoch = OffsetDateTime::parse(EPOCH, &Rfc3339).unwrap();
            return (epoch + time::Duration::minutes(minutes))
                .format(&Rfc3339)
                .unwrap();
        }
    }
    s
}

fn first_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= TEXT_LINES {
        return text.to_string();
    }
    format!("{}\n…", lines[..TEXT_LINES].join("\n"))
}

/// The order examples of one operation are kept in: smaller first.
fn rank(example: &Value, takes_body: bool) -> (bool, bool, usize, Reverse<usize>, usize, String) {
    let text = example.to_string();
    (
        takes_body && example.get("request").is_none(),
        example.get("response").is_none(),
        empty_lists(&example["response"]),
        Reverse(values(&example["request"])),
        text.len(),
        text,
    )
}

/// How many values (not null) a request sets: the more, the more the example shows.
fn values(value: &Value) -> usize {
    match value {
        Value::Null => 0,
        Value::Array(items) => items.iter().map(values).sum(),
        Value::Object(fields) => fields.values().map(values).sum(),
        _ => 1,
    }
}

fn empty_lists(value: &Value) -> usize {
    match value {
        Value::Array(items) if items.is_empty() => 1,
        Value::Array(items) => items.iter().map(empty_lists).sum(),
        Value::Object(fields) => fields.values().map(empty_lists).sum(),
        _ => 0,
    }
}

/// Writes the examples of the operations the document has, sorted, pretty-printed.
fn write(examples: &Examples) {
    /// One example, its fields in the order of an exchange.
    #[derive(serde::Serialize)]
    struct Ordered<'a> {
        path: &'a Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        request: Option<&'a Value>,
        status: &'a Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        content_type: Option<&'a Value>,
        #[serde(skip_serializing_if = "Option::is_none")]
        response: Option<&'a Value>,
    }
    let kept: BTreeMap<&String, BTreeMap<&String, Ordered>> = examples
        .iter()
        .filter_map(|(path, methods)| {
            let methods: BTreeMap<&String, Ordered> = methods
                .iter()
                .filter(|(method, _)| known(path, method))
                .map(|(method, e)| {
                    let ordered = Ordered {
                        path: &e["path"],
                        request: e.get("request"),
                        status: &e["status"],
                        content_type: e.get("content_type"),
                        response: e.get("response"),
                    };
                    (method, ordered)
                })
                .collect();
            (!methods.is_empty()).then_some((path, methods))
        })
        .collect();
    let text = serde_json::to_string_pretty(&kept).unwrap() + "\n";
    // Whole or not at all: written beside, then renamed over.
    let partial = format!("{FILE}.{}.partial", std::process::id());
    std::fs::write(&partial, text).unwrap();
    std::fs::rename(&partial, FILE).unwrap();
}

/// The operations of the document: (path, method, operation).
static OPERATIONS: LazyLock<Vec<(String, String, Value)>> = LazyLock::new(|| {
    let doc = serde_json::to_value(depot::app::openapi()).unwrap();
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            all.push((path.clone(), method.clone(), operation.clone()));
        }
    }
    all
});

fn known(path: &str, method: &str) -> bool {
    OPERATIONS.iter().any(|(p, m, _)| p == path && m == method)
}

/// The success responses of an operation: (status, response).
fn successes(operation: &Value) -> impl Iterator<Item = (&String, &Value)> {
    operation["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(status, _)| status.starts_with('2'))
}

#[test]
fn every_operation_has_an_example() {
    let mut missing = Vec::new();
    for (path, method, operation) in OPERATIONS.iter() {
        let op = format!("{} {path}", method.to_uppercase());
        let mut documented = successes(operation).peekable();
        let response_example = documented.peek().is_some()
            && successes(operation).any(|(_, response)| {
                match response["content"].as_object().filter(|c| !c.is_empty()) {
                    Some(content) => content.values().any(|media| media.get("example").is_some()),
                    // No body to show: the recorded status is the example.
                    None => depot::api::reference::EXAMPLES
                        .get(path)
                        .is_some_and(|m| m.contains_key(method)),
                }
            });
        if !response_example {
            missing.push(format!("{op}: no response example"));
        }
        let request = &operation["requestBody"]["content"]["application/json"];
        if request.is_object() && request.get("example").is_none() {
            missing.push(format!("{op}: no request example"));
        }
    }
    assert!(
        missing.is_empty(),
        "{} operations lack examples. Record them with `DEPOT_RECORD_EXAMPLES=1 cargo test --test \
         api`; an operation that no test calls successfully on SQLite needs a test that does:\n{}",
        missing.len(),
        missing.join("\n")
    );
}

#[test]
fn the_examples_match_the_document() {
    let mut wrong = Vec::new();
    let mut check = |what: String, schema: &Value, example: &Value| {
        for error in crate::contract::value_errors(schema, example) {
            wrong.push(format!("{what} {error}"));
        }
    };
    for (path, method, operation) in OPERATIONS.iter() {
        let op = format!("{} {path}", method.to_uppercase());
        let request = &operation["requestBody"]["content"]["application/json"];
        if let Some(example) = request.get("example") {
            check(format!("{op} request"), &request["schema"], example);
        }
        for (status, response) in operation["responses"].as_object().into_iter().flatten() {
            for (media, content) in response["content"].as_object().into_iter().flatten() {
                let json = media == "application/json" || media.ends_with("+json");
                if let (true, Some(example)) = (json, content.get("example")) {
                    check(format!("{op} {status}"), &content["schema"], example);
                }
            }
        }
    }
    for (path, methods) in depot::api::reference::EXAMPLES.iter() {
        for method in methods.keys() {
            if !known(path, method) {
                wrong.push(format!("{method} {path}: an example of no operation"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "examples in src/api/examples.json that do not fit the document (record them again with \
         `DEPOT_RECORD_EXAMPLES=1 cargo test --test api`):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn examples_are_tidied() {
    let now = OffsetDateTime::now_utc();
    let created = (now - time::Duration::seconds(3)).format(&Rfc3339).unwrap();
    let expires = (now + time::Duration::minutes(15))
        .format(&Rfc3339)
        .unwrap();
    let tidied = tidy(
        json!({"password": "admin-password-1", "token": "dpt_abcdef", "items": [1, 2, 3],
               "access_token": "eyJa.eyJb.sig", "created_at": created, "expires_at": expires,
               "expiry": "2027-01-31", "due": "2031-05-01T00:00:00Z",
               "address": "127.0.0.1:40211"}),
        now,
    );
    assert_eq!(
        tidied,
        json!({"password": PASSWORD, "token": DEVICE_TOKEN, "items": [1, 2],
               "access_token": USER_TOKEN, "created_at": EPOCH,
               "expires_at": "2026-03-02T09:45:00Z", "expiry": "2027-01-31",
               "due": "2031-05-01T00:00:00Z", "address": PRINTER_ADDRESS})
    );
}
