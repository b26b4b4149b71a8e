//! The OpenAPI document's finishing pass, made once over the whole document rather than in each
//! handler's doc comment: every operation under one domain tag, in the order goods move through
//! the warehouse ([`TAGS`]); summaries that are whole sentences; and an example request and
//! response for every operation, recorded from the HTTP suite into `examples.json`
//! (`DEPOT_RECORD_EXAMPLES=1 cargo test --test api`, see docs/api.md).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{OpenApi, RefOr};

/// A section of the API reference: a domain of the warehouse.
pub struct Tag {
    pub name: &'static str,
    pub description: &'static str,
}

/// The domains, in the order of the flow: goods are scanned, received, stocked, promised to
/// deals, picked, packed, shipped and labelled along the way; administration comes last.
pub const TAGS: &[Tag] = &[
    Tag {
        name: "scan",
        description: "Resolve scans and photos of barcodes; the scan log, scanner profiles and the barcode sheet; the change feed devices mirror to resolve scans offline.",
    },
    Tag {
        name: "receive",
        description: "Goods coming in: suppliers, purchase orders, production orders and receipts.",
    },
    Tag {
        name: "stock",
        description: "Items, warehouses and bins; balances, the ledger, batches, moves, adjustments and cycle counts.",
    },
    Tag {
        name: "deals",
        description: "Customers, contacts, leads and deals; reservations, availability and a deal's documents.",
    },
    Tag {
        name: "pick",
        description: "Pick lists: where to go and which batch to take, confirmed by scanning.",
    },
    Tag {
        name: "pack",
        description: "Parcels with SSCCs, and what is packed into them.",
    },
    Tag {
        name: "ship",
        description: "Shipments, dispatch, carrier tracking, and the returns that come back.",
    },
    Tag {
        name: "labels",
        description: "Label templates rendered to ZPL, PDF and PNG; SSCCs; print jobs and printers.",
    },
    Tag {
        name: "data",
        description: "Whole record kinds out as CSV (and, next, in with a dry run); reports.",
    },
    Tag {
        name: "admin",
        description: "Log in, users and roles, devices, health, readiness and metrics.",
    },
];

/// Which domain an operation belongs to: `(the tag its handler gives, a path prefix or "" for
/// any path, the domain)`; the first rule that matches wins. A handler may also name a domain
/// of [`TAGS`] itself (`stock` is both).
const DOMAINS: &[(&str, &str, &str)] = &[
    ("scanning", "", "scan"),
    ("sync", "", "scan"),
    ("purchasing", "", "receive"),
    ("production", "", "receive"),
    ("stock", "/v1/receipts", "receive"),
    ("catalog", "/v1/suppliers", "receive"),
    ("stock", "/v1/admin/", "admin"),
    ("stock", "", "stock"),
    ("counts", "", "stock"),
    ("catalog", "", "stock"),
    ("warehouses", "", "stock"),
    ("crm", "", "deals"),
    ("fulfilment", "/v1/pick-lists", "pick"),
    ("fulfilment", "", "deals"),
    ("shipping", "/v1/parcels", "pack"),
    ("shipping", "", "ship"),
    ("returns", "", "ship"),
    ("labels", "", "labels"),
    ("printing", "", "labels"),
    ("auth", "", "admin"),
    ("users", "", "admin"),
    ("devices", "", "admin"),
    ("ops", "", "admin"),
];

/// One recorded exchange: the request the suite sent and the successful answer it got.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// The request's path and query, e.g. `/v1/items/3` or `/v1/items?limit=2`.
    pub path: String,
    /// The JSON request body, if the request had one.
    #[serde(default)]
    pub request: Option<Value>,
    pub status: u16,
    /// The response's media type; none when the response has no body.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The JSON (or text) response body; none for binary bodies (PDF, PNG) and empty ones.
    #[serde(default)]
    pub response: Option<Value>,
}

/// `examples.json`: path template → method → example.
pub type Examples = BTreeMap<String, BTreeMap<String, Example>>;

/// The recorded examples, as committed.
pub static EXAMPLES: LazyLock<Examples> = LazyLock::new(|| {
    serde_json::from_str(include_str!("examples.json")).expect("src/api/examples.json is valid")
});

/// Finishes the document the routers built: tags, whole-sentence summaries, examples.
pub fn finish(openapi: &mut OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        let operations = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
            ("head", &mut item.head),
            ("options", &mut item.options),
            ("trace", &mut item.trace),
        ];
        for (method, operation) in operations {
            let Some(operation) = operation else { continue };
            assign_domain(path, operation);
            whole_sentence_summary(operation);
            if let Some(example) = EXAMPLES.get(path).and_then(|m| m.get(method)) {
                add_example(path, operation, example);
            }
        }
    }
    // Paths grouped by domain in the order of TAGS, in the routers' order within each.
    let mut paths: Vec<_> = std::mem::take(&mut openapi.paths.paths)
        .into_iter()
        .collect();
    paths.sort_by_key(|(_, item)| {
        [&item.get, &item.post, &item.put, &item.patch, &item.delete]
            .into_iter()
            .flatten()
            .filter_map(|op| op.tags.as_ref()?.first())
            .filter_map(|tag| TAGS.iter().position(|t| t.name == tag))
            .min()
            .unwrap_or(TAGS.len())
    });
    openapi.paths.paths = paths.into_iter().collect();
    openapi.tags = Some(
        TAGS.iter()
            .map(|t| {
                TagBuilder::new()
                    .name(t.name)
                    .description(Some(t.description))
                    .build()
            })
            .collect(),
    );
}

/// The domain of an operation whose handler gives `tag`, at `path`.
fn domain(tag: &str, path: &str) -> Option<&'static str> {
    DOMAINS
        .iter()
        .find(|(t, prefix, _)| *t == tag && path.starts_with(prefix))
        .map(|(_, _, domain)| *domain)
        .or_else(|| TAGS.iter().find(|t| t.name == tag).map(|t| t.name))
}

/// Puts the operation under its domain alone (an unknown tag stays, and fails the tests).
fn assign_domain(path: &str, operation: &mut Operation) {
    let Some(tags) = &mut operation.tags else {
        return;
    };
    if let Some(domain) = tags.iter().find_map(|t| domain(t, path)) {
        *tags = vec![domain.to_string()];
    }
}

/// utoipa makes a doc comment's first paragraph the summary and the rest the description, so a
/// first sentence running over two lines reads as a broken line, and a first paragraph of several
/// sentences as a long summary. The summary becomes the first sentence, on one line and ending in
/// a full stop; whatever followed it opens the description.
fn whole_sentence_summary(operation: &mut Operation) {
    let Some(first) = operation.summary.take() else {
        return;
    };
    let (summary, rest) = split_summary(&first);
    let description = operation.description.take().unwrap_or_default();
    let description = [rest.trim(), description.trim()]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n");
    operation.summary = Some(summary).filter(|s| !s.is_empty());
    operation.description = Some(description).filter(|d| !d.is_empty());
}

/// A paragraph's first sentence (its lines joined, ending in a full stop) and the rest of it.
fn split_summary(paragraph: &str) -> (String, String) {
    let lines: Vec<&str> = paragraph.lines().map(str::trim).collect();
    // Prose runs until a list, a table or a code block starts.
    let prose_lines = lines
        .iter()
        .position(|line| starts_block(line))
        .unwrap_or(lines.len());
    let prose = lines[..prose_lines].join(" ");
    let block = lines[prose_lines..].join("\n");
    let (mut summary, rest) = match sentence_end(&prose) {
        Some(end) => (
            prose[..end].trim().to_string(),
            prose[end..].trim().to_string(),
        ),
        None => (prose.trim().to_string(), String::new()),
    };
    if summary.ends_with(':') || summary.ends_with(';') || summary.ends_with(',') {
        summary.pop();
    }
    if !summary.is_empty() && !summary.ends_with(['.', '?', '!']) {
        summary.push('.');
    }
    let rest = [rest, block]
        .into_iter()
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    (summary, rest)
}

/// Whether a line starts a Markdown list, table, quote or code block.
fn starts_block(line: &str) -> bool {
    let ordered = line
        .split_once(". ")
        .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    ordered
        || ["- ", "* ", "+ ", "|", "```", "> "]
            .iter()
            .any(|p| line.starts_with(p))
}

/// The byte offset just past the first sentence of `text`: a `.`, `?` or `!` outside inline
/// code, followed by the end or by a space and a word that does not start in lower case (so
/// "e.g. the" goes on).
fn sentence_end(text: &str) -> Option<usize> {
    let mut in_code = false;
    let mut depth = 0i32;
    for (i, c) in text.char_indices() {
        match c {
            '`' => in_code = !in_code,
            '(' if !in_code => depth += 1,
            ')' if !in_code => depth -= 1,
            '.' | '?' | '!' if !in_code && depth <= 0 => {
                let after = &text[i + 1..];
                // A full stop closing a parenthesis or quote belongs with it.
                let close = after
                    .char_indices()
                    .take_while(|(_, c)| matches!(c, ')' | '"' | '\''))
                    .last()
                    .map_or(0, |(j, c)| j + c.len_utf8());
                let after = &after[close..];
                if after.is_empty() {
                    return Some(text.len());
                }
                if let Some(next) = after.strip_prefix(' ')
                    && !next.starts_with(|c: char| c.is_lowercase())
                {
                    return Some(i + 1 + close);
                }
            }
            _ => {}
        }
    }
    None
}

/// Adds a recorded example: the request body, the response body under its status and media
/// type, and the parameters' values in the request's path and query.
fn add_example(template: &str, operation: &mut Operation, example: &Example) {
    if let (Some(body), Some(request)) = (&example.request, &mut operation.request_body)
        && let Some(content) = request.content.get_mut("application/json")
    {
        content.example = Some(body.clone());
    }
    let status = example.status.to_string();
    let range = format!("{}XX", example.status / 100);
    let responses = &mut operation.responses.responses;
    let key = [status.as_str(), range.as_str(), "default"]
        .into_iter()
        .find(|key| responses.contains_key(*key));
    let response = key.and_then(|key| responses.get_mut(key));
    if let Some(RefOr::T(response)) = response {
        let media = example
            .content_type
            .as_deref()
            .and_then(|c| c.split(';').next())
            .map(str::trim)
            .unwrap_or_default();
        let content = match response.content.get_index_of(media) {
            Some(i) => response.content.get_index_mut(i).map(|(_, c)| c),
            None => response.content.values_mut().next(),
        };
        if let Some(content) = content {
            content.example = Some(
                example
                    .response
                    .clone()
                    .unwrap_or_else(|| Value::String(binary_placeholder(media))),
            );
        }
    }
    let values = parameter_values(template, &example.path);
    if let Some(parameters) = &mut operation.parameters {
        for parameter in parameters.iter_mut() {
            let value = values.iter().find(|(place, name, _)| {
                *place == parameter.parameter_in && *name == parameter.name
            });
            if let Some((_, _, value)) = value {
                let typed = typed_value(value, parameter.schema.as_ref());
                *parameter = ParameterBuilder::from(parameter.clone())
                    .example(Some(typed))
                    .build();
            }
        }
    }
}

/// What stands in for a binary body (a PDF, a PNG) in the document.
fn binary_placeholder(media: &str) -> String {
    format!("(binary {media})")
}

/// The path parameters (matched against the template) and query parameters of a request.
fn parameter_values(template: &str, path_and_query: &str) -> Vec<(ParameterIn, String, String)> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut values: Vec<(ParameterIn, String, String)> = template
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(t, actual)| {
            let name = t.strip_prefix('{')?.strip_suffix('}')?;
            Some((ParameterIn::Path, name.to_string(), actual.to_string()))
        })
        .collect();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if !values
            .iter()
            .any(|(p, n, _)| *p == ParameterIn::Query && *n == name)
        {
            values.push((ParameterIn::Query, name.into_owned(), value.into_owned()));
        }
    }
    values
}

/// A parameter's example as the type its schema says (`3`, not `"3"`, for an integer).
fn typed_value(value: &str, schema: Option<&RefOr<utoipa::openapi::schema::Schema>>) -> Value {
    let schema = schema
        .and_then(|s| serde_json::to_value(s).ok())
        .unwrap_or_default();
    let is = |ty: &str| match &schema["type"] {
        Value::String(t) => t == ty,
        Value::Array(types) => types.iter().any(|t| t == ty),
        _ => false,
    };
    if is("integer")
        && let Ok(n) = value.parse::<i64>()
    {
        return n.into();
    }
    if is("boolean")
        && let Ok(b) = value.parse::<bool>()
    {
        return b.into();
    }
    Value::String(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_the_first_whole_sentence() {
        let cases = [
            (
                "Link a non-GTIN barcode (an old label, a supplier's code) to an\nitem (admin, warehouse).",
                "Link a non-GTIN barcode (an old label, a supplier's code) to an item (admin, warehouse).",
                "",
            ),
            (
                "Close the count. Posts every variance\nas an adjustment.",
                "Close the count.",
                "Posts every variance as an adjustment.",
            ),
            (
                "List items, e.g. by `code`. Then more",
                "List items, e.g. by `code`.",
                "Then more",
            ),
            ("One item with its GTINs", "One item with its GTINs.", ""),
            (
                "A version like `1.2. X` stays (see A. B.) whole.",
                "A version like `1.2. X` stays (see A. B.) whole.",
                "",
            ),
            ("Steps:\n- scan\n- post", "Steps.", "- scan\n- post"),
        ];
        for (paragraph, summary, rest) in cases {
            assert_eq!(
                split_summary(paragraph),
                (summary.to_string(), rest.to_string()),
                "{paragraph}"
            );
        }
    }

    #[test]
    fn examples_json_parses() {
        assert!(!EXAMPLES.is_empty());
    }

    /// (METHOD path, operation) of a document, in its order.
    fn operations(openapi: &OpenApi) -> Vec<(String, Value)> {
        let mut all = Vec::new();
        for (path, item) in &openapi.paths.paths {
            let item = serde_json::to_value(item).unwrap();
            for (method, op) in item.as_object().unwrap() {
                all.push((format!("{} {path}", method.to_uppercase()), op.clone()));
            }
        }
        all
    }

    #[test]
    fn every_operation_is_under_one_domain_in_the_order_of_the_flow() {
        let openapi = crate::app::openapi();
        let doc = serde_json::to_value(&openapi).unwrap();
        let names: Vec<&str> = TAGS.iter().map(|t| t.name).collect();
        assert_eq!(
            doc["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["name"].as_str().unwrap())
                .collect::<Vec<_>>(),
            names
        );
        let mut last = 0;
        for (op, value) in operations(&openapi) {
            let tags: Vec<&str> = value["tags"]
                .as_array()
                .map(|t| t.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let [tag] = tags[..] else {
                panic!("{op} has tags {tags:?}, not exactly one");
            };
            let position = names.iter().position(|n| *n == tag).unwrap_or_else(|| {
                panic!("{op} has tag {tag}, which is no domain: map it in api::reference::DOMAINS")
            });
            assert!(
                position >= last,
                "{op} ({tag}) comes after the next domain's paths"
            );
            last = position;
        }
    }

    #[test]
    fn every_summary_is_a_whole_sentence_and_nothing_is_lost() {
        let (_, described) = crate::app::described_routes(&Default::default());
        let before: BTreeMap<String, Value> = operations(&described).into_iter().collect();
        let words = |op: &Value| -> Vec<String> {
            format!("{} {}", text(&op["summary"]), text(&op["description"]))
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect()
        };
        for (op, value) in operations(&crate::app::openapi()) {
            let summary = text(&value["summary"]);
            assert!(!summary.is_empty(), "{op} has no summary");
            assert!(!summary.contains('\n'), "{op}: {summary:?} runs over lines");
            assert!(
                summary.ends_with(['.', '?', '!']),
                "{op}: {summary:?} does not end a sentence"
            );
            assert!(
                summary.starts_with(|c: char| c.is_uppercase() || c == '`'),
                "{op}: {summary:?} does not start a sentence"
            );
            let balanced = summary.matches('(').count() == summary.matches(')').count()
                && summary.matches('`').count().is_multiple_of(2);
            assert!(balanced, "{op}: {summary:?} stops inside brackets or code");
            assert_eq!(words(&value), words(&before[&op]), "{op}: words were lost");
        }
    }

    fn text(v: &Value) -> String {
        v.as_str().unwrap_or_default().to_string()
    }

    #[test]
    fn domains_name_tags() {
        for (_, _, domain) in DOMAINS {
            assert!(TAGS.iter().any(|t| t.name == *domain), "{domain}");
        }
    }

    #[test]
    fn parameters_are_read_from_the_request() {
        let values: Vec<String> = parameter_values(
            "/v1/items/{id}/gtins/{gtin}",
            "/v1/items/3/gtins/0614?x=1&x=2",
        )
        .into_iter()
        .map(|(place, name, value)| {
            format!("{} {name}={value}", serde_json::to_value(place).unwrap())
        })
        .collect();
        assert_eq!(
            values,
            ["\"path\" id=3", "\"path\" gtin=0614", "\"query\" x=1"]
        );
    }
}
