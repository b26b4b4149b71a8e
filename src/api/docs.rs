//! `/docs`: a self-contained HTML page rendered from the OpenAPI document. No scripts, no
//! remote styles or fonts, so it works on a warehouse network without internet access.
//!
//! The operations come in sections by tag, in the document's tag order (the flow of the
//! warehouse, [`super::TAGS`]), each with its summary and description (Markdown, rendered; raw
//! HTML in it is shown as text), who may call it, its parameters, its request body's fields, the
//! recorded example request and response, and its error responses. The schemas follow.

use std::fmt::Write;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag};
use serde_json::Value;

/// Renders the OpenAPI document as one HTML page, its paths in the document's order.
pub fn render_html(openapi: &utoipa::openapi::OpenApi) -> String {
    let spec = serde_json::to_value(openapi).unwrap_or_default();
    let paths: Vec<&str> = openapi.paths.paths.keys().map(String::as_str).collect();
    render(&spec, &paths)
}

/// The methods of a path, in the order the page lists them.
const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

/// The page for `spec` (the document as JSON, whose maps are sorted), with its `paths` in order.
fn render(spec: &Value, paths: &[&str]) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let title = text(&spec["info"]["title"]);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} API</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{STYLE}</style></head><body>\
         <h1>{title} API <small>{version}</small></h1>{description}<p>Machine-readable: \
         <a href=\"/openapi.json\">/openapi.json</a>. Every error is \
         <code>application/problem+json</code> (RFC 9457). The examples are real exchanges \
         recorded from the test suite.</p>",
        title = esc(&title),
        version = esc(&text(&spec["info"]["version"])),
        description = markdown(&text(&spec["info"]["description"])),
    );
    let sections = sections(spec, paths);
    out.push_str("<nav><h2>Operations</h2>");
    for section in &sections {
        let _ = write!(
            out,
            "<h3><a href=\"#tag-{}\">{}</a></h3><ul>",
            esc(&section.name),
            esc(&section.name)
        );
        for op in &section.operations {
            let _ = write!(
                out,
                "<li><a href=\"#{}\">{} <code>{}</code></a> {}</li>",
                anchor(op.method, op.path),
                method_badge(op.method),
                esc(op.path),
                markdown_inline(&text(&op.value["summary"]))
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</nav>");
    for section in &sections {
        let _ = write!(
            out,
            "<section class=\"tag\" id=\"tag-{}\"><h2>{}</h2>{}",
            esc(&section.name),
            esc(&section.name),
            markdown(&section.description)
        );
        for op in &section.operations {
            operation(&mut out, spec, op);
        }
        out.push_str("</section>");
    }
    out.push_str("<section class=\"tag\"><h2>Schemas</h2>");
    for (name, schema) in spec["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let _ = write!(
            out,
            "<section id=\"schema-{0}\"><h3>{0}</h3>{1}",
            esc(name),
            markdown(&text(&schema["description"]))
        );
        schema_table(&mut out, spec, schema);
        out.push_str("</section>");
    }
    out.push_str("</section></body></html>");
    out
}

struct Section<'a> {
    name: String,
    description: String,
    operations: Vec<Op<'a>>,
}

struct Op<'a> {
    method: &'a str,
    path: &'a str,
    value: &'a Value,
}

/// The operations by tag, in the document's tag order and then in `paths` order; an operation
/// under no listed tag goes to a last section, "other".
fn sections<'a>(spec: &'a Value, paths: &[&'a str]) -> Vec<Section<'a>> {
    let mut sections: Vec<Section> = spec["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Section {
            name: text(&t["name"]),
            description: text(&t["description"]),
            operations: Vec::new(),
        })
        .collect();
    let mut other = Section {
        name: "other".into(),
        description: String::new(),
        operations: Vec::new(),
    };
    for path in paths {
        let item = &spec["paths"][*path];
        for method in METHODS {
            let Some(value) = item.get(method) else {
                continue;
            };
            let op = Op {
                method,
                path,
                value,
            };
            let tag = text(&value["tags"][0]);
            match sections.iter_mut().find(|s| s.name == tag) {
                Some(section) => section.operations.push(op),
                None => other.operations.push(op),
            }
        }
    }
    sections.push(other);
    sections.retain(|s| !s.operations.is_empty());
    sections
}

fn operation(out: &mut String, spec: &Value, op: &Op) {
    let value = op.value;
    let _ = write!(
        out,
        "<section class=\"op\" id=\"{}\"><h3>{} <code>{}</code></h3><p class=\"summary\">{}</p>{}",
        anchor(op.method, op.path),
        method_badge(op.method),
        esc(op.path),
        markdown_inline(&text(&value["summary"])),
        markdown(&text(&value["description"]))
    );
    out.push_str("<p class=\"auth\">");
    match value["security"].as_array() {
        Some(_) => {
            out.push_str("<strong>Auth:</strong> <code>Authorization: Bearer &lt;token&gt;</code>");
            if let Some(roles) = roles(&text(&value["summary"])) {
                let _ = write!(out, "; <strong>role:</strong> {}", markdown_inline(&roles));
            }
        }
        None => out.push_str("<strong>Auth:</strong> none"),
    }
    out.push_str("</p>");
    parameters(out, value);
    request_body(out, spec, value);
    let example_request = example_request(op);
    let example_response = example_response(value);
    if example_request.is_some() || example_response.is_some() {
        out.push_str("<div class=\"examples\">");
        if let Some(request) = example_request {
            let _ = write!(
                out,
                "<div><h4>Example request</h4><pre>{request}</pre></div>"
            );
        }
        if let Some(response) = example_response {
            let _ = write!(
                out,
                "<div><h4>Example response</h4><pre>{response}</pre></div>"
            );
        }
        out.push_str("</div>");
    }
    responses(out, value);
    out.push_str("</section>");
}

fn parameters(out: &mut String, op: &Value) {
    let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) else {
        return;
    };
    out.push_str(
        "<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>",
    );
    for p in params {
        let _ = write!(
            out,
            "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&text(&p["name"])),
            required_mark(p["required"].as_bool() == Some(true)),
            esc(&text(&p["in"])),
            type_of(&p["schema"]),
            markdown_inline(&text(&p["description"]))
        );
    }
    out.push_str("</table>");
}

/// The request body's media types and, for JSON, the fields of its schema.
fn request_body(out: &mut String, spec: &Value, op: &Value) {
    for (media, body) in op["requestBody"]["content"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let _ = write!(
            out,
            "<h4>Request body <small>{}</small></h4><p>{}</p>",
            esc(media),
            type_of(&body["schema"])
        );
        let schema = resolve(spec, &body["schema"]);
        if schema["properties"].is_object() || schema["allOf"].is_array() {
            schema_table(out, spec, schema);
        }
    }
}

/// `METHOD /path?query` with the recorded parameter values, and the recorded JSON body.
fn example_request(op: &Op) -> Option<String> {
    let value = op.value;
    let body = value["requestBody"]["content"]
        .as_object()
        .into_iter()
        .flatten()
        .find_map(|(_, content)| content.get("example"));
    let params = value["parameters"].as_array();
    let example_of = |place: &str, name: &str| {
        params
            .into_iter()
            .flatten()
            .find(|p| p["in"] == place && p["name"] == name)
            .and_then(|p| p.get("example"))
            .map(text)
    };
    let mut recorded = false;
    let path: Vec<String> = op
        .path
        .split('/')
        .map(|segment| {
            let name = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
            match name.and_then(|n| example_of("path", n)) {
                Some(v) => {
                    recorded = true;
                    v
                }
                None => segment.to_string(),
            }
        })
        .collect();
    let query: Vec<String> = params
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| {
            let v = p.get("example")?;
            Some(format!("{}={}", text(&p["name"]), text(v)))
        })
        .collect();
    recorded |= !query.is_empty();
    if body.is_none() && !recorded && example_response(value).is_none() {
        return None;
    }
    let mut line = format!("{} {}", op.method.to_uppercase(), path.join("/"));
    if !query.is_empty() {
        let _ = write!(line, "?{}", query.join("&"));
    }
    let mut shown = esc(&line);
    if let Some(body) = body {
        let _ = write!(shown, "\n\n{}", esc(&pretty(body)));
    }
    Some(shown)
}

/// The first response with a recorded example: its status, media type and body.
fn example_response(op: &Value) -> Option<String> {
    op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .find_map(|(status, response)| {
            let (media, content) = response["content"]
                .as_object()
                .into_iter()
                .flatten()
                .find(|(_, content)| content.get("example").is_some())?;
            let body = match &content["example"] {
                Value::String(s) => s.clone(),
                other => pretty(other),
            };
            Some(format!("{} {}\n\n{}", esc(status), esc(media), esc(&body)))
        })
}

/// Every documented response: status, body type and media type, description.
fn responses(out: &mut String, op: &Value) {
    let Some(responses) = op["responses"].as_object() else {
        return;
    };
    out.push_str(
        "<h4>Responses</h4><table><tr><th>status</th><th>body</th><th>description</th></tr>",
    );
    for (status, r) in responses {
        let body = r["content"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(media, b)| format!("{} <small>{}</small>", type_of(&b["schema"]), esc(media)))
            .collect::<Vec<_>>()
            .join("<br>");
        let class = if status.starts_with('2') {
            "ok"
        } else {
            "error"
        };
        let _ = write!(
            out,
            "<tr class=\"{class}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(status),
            body,
            markdown_inline(&text(&r["description"]))
        );
    }
    out.push_str("</table>");
}

fn schema_table(out: &mut String, spec: &Value, schema: &Value) {
    if let Some(values) = schema["enum"].as_array() {
        let names: Vec<String> = values
            .iter()
            .map(|v| format!("<code>{}</code>", esc(&text(v))))
            .collect();
        let _ = write!(out, "<p>One of {}</p>", names.join(", "));
        return;
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut parts: Vec<&Value> = vec![schema];
    parts.extend(
        schema["allOf"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|part| resolve(spec, part)),
    );
    let mut rows = String::new();
    for part in parts {
        let part_required: Vec<&str> = part["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (name, prop) in part["properties"].as_object().into_iter().flatten() {
            let _ = write!(
                rows,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                esc(name),
                required_mark(
                    required.contains(&name.as_str()) || part_required.contains(&name.as_str())
                ),
                type_of(prop),
                markdown_inline(&text(&prop["description"]))
            );
        }
    }
    if !rows.is_empty() {
        let _ = write!(
            out,
            "<table><tr><th>field</th><th>type</th><th>description</th></tr>{rows}</table>"
        );
    }
}

/// The schema a `$ref` points to in the document (the schema itself when it is none).
fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/")) {
        Some(pointer) => spec.pointer(&format!("/{pointer}")).unwrap_or(schema),
        None => schema,
    }
}

/// A short human name for a schema: a link for `$ref`s, `array of X`, or the plain type.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    if let Some(options) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
        return options.iter().map(type_of).collect::<Vec<_>>().join(" | ");
    }
    if let Some(all) = schema["allOf"].as_array() {
        return all.iter().map(type_of).collect::<Vec<_>>().join(" &amp; ");
    }
    let ty = match &schema["type"] {
        Value::Array(types) => types.iter().map(text).collect::<Vec<_>>().join(" | "),
        other => text(other),
    };
    if ty.contains("array") {
        return format!("array of {}", type_of(&schema["items"]));
    }
    let mut name = esc(&ty);
    if let Some(format) = schema["format"].as_str() {
        let _ = write!(name, " ({})", esc(format));
    }
    if name.is_empty() { "any".into() } else { name }
}

/// Who may call an operation, as its summary says in a closing parenthesis that starts with a
/// role: "Create an item (admin)." gives "admin", "Change a customer (its owner, or their
/// managers)." gives "its owner, or their managers".
fn roles(summary: &str) -> Option<String> {
    const OPENINGS: [&str; 9] = [
        "admin",
        "head",
        "heads",
        "rep",
        "reps",
        "warehouse",
        "any user",
        "every user",
        "its owner",
    ];
    let inner = summary
        .trim_end_matches('.')
        .strip_suffix(')')?
        .rsplit_once('(')?
        .1;
    OPENINGS
        .iter()
        .any(|opening| {
            inner
                .strip_prefix(opening)
                .is_some_and(|rest| !rest.starts_with(char::is_alphanumeric))
        })
        .then(|| inner.to_string())
}

fn required_mark(required: bool) -> &'static str {
    if required {
        " <span class=\"req\" title=\"required\">*</span>"
    } else {
        ""
    }
}

fn method_badge(method: &str) -> String {
    format!(
        "<code class=\"m {}\">{}</code>",
        esc(method),
        esc(&method.to_uppercase())
    )
}

fn anchor(method: &str, path: &str) -> String {
    let cleaned: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("op-{method}{cleaned}")
}

/// Markdown to HTML. Raw HTML in the text is shown as text, and links go only to this page,
/// this server or the web (no `javascript:`).
fn markdown(source: &str) -> String {
    if source.trim().is_empty() {
        return String::new();
    }
    let events = Parser::new_ext(
        source,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH,
    )
    .map(|event| match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => {
            let safe = ["#", "/", "https://", "http://", "mailto:"]
                .iter()
                .any(|p| dest_url.starts_with(p));
            let dest_url = if safe { dest_url } else { CowStr::from("#") };
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            })
        }
        Event::Start(Tag::Image { dest_url, .. }) => Event::Text(dest_url),
        Event::End(pulldown_cmark::TagEnd::Image) => Event::Text("".into()),
        other => other,
    });
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

/// [`markdown`] for one line of text: without the paragraph around it.
fn markdown_inline(source: &str) -> String {
    let html = markdown(source);
    let trimmed = html.trim_end();
    match trimmed
        .strip_prefix("<p>")
        .and_then(|s| s.strip_suffix("</p>"))
    {
        Some(inner) if !inner.contains("<p>") => inner.to_string(),
        _ => html,
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}\
h1 small{font-size:.6em;color:#777}section.tag{border-top:3px solid #bbb;margin-top:2rem}\
section.tag>h2{text-transform:capitalize}section.op{border-top:1px solid #ddd;padding:.5rem 0}\
nav h3{text-transform:capitalize;margin:.8rem 0 .2rem}nav ul{list-style:none;padding:0;margin:0}\
p.summary{font-weight:600}table{border-collapse:collapse;margin:.3rem 0}\
td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}\
tr.error td:first-child{color:#a00}span.req{color:#c00}\
pre{background:#f6f6f6;border:1px solid #e3e3e3;padding:.5rem;overflow:auto;max-height:28rem;font-size:13px;white-space:pre-wrap}\
div.examples{display:grid;grid-template-columns:repeat(auto-fit,minmax(20rem,1fr));gap:1rem}\
code{background:#f3f3f3;padding:0 .2rem;border-radius:3px}\
code.m{font-weight:bold;padding:0 .3rem;background:#eee}code.get{color:#06c}code.post{color:#080}\
code.patch,code.put{color:#a60}code.delete{color:#c00}";

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        serde_json::json!({
            "info": {"title": "Depot", "version": "1", "description": "<b>x</b> and `code`"},
            "tags": [{"name": "stock", "description": "Stock."}, {"name": "admin", "description": "Admin."}],
            "paths": {
                "/healthz": {"get": {"tags": ["admin"], "summary": "Liveness.",
                    "responses": {"200": {"description": "ok"}}}},
                "/v1/items/{id}": {"patch": {"tags": ["stock"],
                    "summary": "Change an item (admin).",
                    "description": "Lists:\n\n- `gtins` replaces\n- <script>alert(1)</script>",
                    "security": [{"bearer": []}],
                    "parameters": [{"name": "id", "in": "path", "required": true,
                        "schema": {"type": "integer"}, "example": 3}],
                    "requestBody": {"content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Item"}, "example": {"code": "A-1"}}}},
                    "responses": {"200": {"description": "ok", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Item"}, "example": {"code": "A-1"}}}},
                        "404": {"description": "Unknown id.", "content": {"application/problem+json": {}}}}}}
            },
            "components": {"schemas": {"Item": {"type": "object", "required": ["code"],
                "properties": {"code": {"type": "string", "description": "The `code`."}}}}}
        })
    }

    #[test]
    fn the_page_groups_by_tag_and_shows_examples() {
        let html = render(&spec(), &["/healthz", "/v1/items/{id}"]);
        let stock = html.find("id=\"tag-stock\"").unwrap();
        let admin = html.find("id=\"tag-admin\"").unwrap();
        assert!(stock < admin, "sections follow the document's tag order");
        assert!(html.contains("<p class=\"summary\">Change an item (admin).</p>"));
        assert!(html.contains("PATCH /v1/items/3\n\n{\n  &quot;code&quot;: &quot;A-1&quot;\n}"));
        assert!(html.contains("200 application/json\n\n{"));
        assert!(html.contains("<strong>role:</strong> admin"));
        assert!(
            html.contains("<td><code>code</code>"),
            "the request schema's fields"
        );
        assert!(html.contains("tr class=\"error\"><td>404"));
    }

    #[test]
    fn markdown_is_rendered_and_html_in_it_is_text() {
        let html = render(&spec(), &["/healthz", "/v1/items/{id}"]);
        assert!(html.contains("<li><code>gtins</code> replaces</li>"));
        assert!(html.contains("The <code>code</code>."));
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt; and <code>code</code>"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("<b>"));
        assert_eq!(
            markdown("[x](javascript:alert(1)) [y](/docs)"),
            "<p><a href=\"#\">x</a> <a href=\"/docs\">y</a></p>\n"
        );
    }

    #[test]
    fn roles_come_from_the_closing_parenthesis() {
        assert_eq!(roles("Create an item (admin)."), Some("admin".into()));
        assert_eq!(
            roles("Link a barcode (an old label) to an item (admin, warehouse)."),
            Some("admin, warehouse".into())
        );
        assert_eq!(roles("One item (with its GTINs)."), None);
        assert_eq!(roles("Profiles (`devices/*.toml`)."), None);
        assert_eq!(
            roles("Create one (`a_id`: devices of kind `printer`)."),
            None
        );
        assert_eq!(
            roles("Users (admin; heads may read)."),
            Some("admin; heads may read".into())
        );
        assert_eq!(roles("Stages (administration)."), None);
        assert_eq!(roles("One item."), None);
    }
}
