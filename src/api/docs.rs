//! `/openapi.json` and a self-contained HTML page rendered from it: no scripts, no CDN, so it
//! works on a warehouse network without internet access.

use std::fmt::Write;

use serde_json::Value;

/// Renders the OpenAPI document as one HTML page: each operation with its parameters, body and
/// responses, then each schema with its properties.
pub fn render_html(spec: &Value) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = text(&spec["info"]["title"]);
    let version = text(&spec["info"]["version"]);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} API</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{STYLE}</style></head><body>\
         <h1>{} API <small>{}</small></h1><p>{}</p><p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a>. \
         Every error is <code>application/problem+json</code> (RFC 9457).</p>",
        esc(&title),
        esc(&title),
        esc(&version),
        esc(&text(&spec["info"]["description"]))
    );
    out.push_str("<nav><h2>Operations</h2><ul>");
    let paths = spec["paths"].as_object().cloned().unwrap_or_default();
    for (path, ops) in &paths {
        for (method, op) in ops.as_object().into_iter().flatten() {
            let _ = write!(
                out,
                "<li><a href=\"#{}\"><code class=\"m {m}\">{}</code> {}</a> {}</li>",
                anchor(method, path),
                method.to_uppercase(),
                esc(path),
                esc(&first_line(&text(&op["summary"]))),
                m = esc(method)
            );
        }
    }
    out.push_str("</ul></nav>");
    for (path, ops) in &paths {
        for (method, op) in ops.as_object().into_iter().flatten() {
            operation(&mut out, method, path, op);
        }
    }
    out.push_str("<h2>Schemas</h2>");
    for (name, schema) in spec["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
    {
        let _ = write!(
            out,
            "<section id=\"schema-{}\"><h3>{}</h3>",
            esc(name),
            esc(name)
        );
        schema_table(&mut out, schema);
        out.push_str("</section>");
    }
    out.push_str("</body></html>");
    out
}

fn operation(out: &mut String, method: &str, path: &str, op: &Value) {
    let _ = write!(
        out,
        "<section id=\"{}\"><h3><code class=\"m {m}\">{}</code> <code>{}</code></h3>",
        anchor(method, path),
        method.to_uppercase(),
        esc(path),
        m = esc(method)
    );
    let summary = text(&op["summary"]);
    let description = text(&op["description"]);
    let _ = write!(out, "<p>{}</p>", esc(&summary));
    if !description.is_empty() && description != summary {
        let _ = write!(out, "<p>{}</p>", esc(&description));
    }
    if op["security"].is_array() {
        out.push_str("<p><em>Requires <code>Authorization: Bearer &lt;token&gt;</code>.</em></p>");
    }
    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        out.push_str("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr>");
        for p in params {
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&text(&p["name"])),
                if p["required"].as_bool() == Some(true) {
                    " *"
                } else {
                    ""
                },
                esc(&text(&p["in"])),
                type_of(&p["schema"]),
                esc(&text(&p["description"]))
            );
        }
        out.push_str("</table>");
    }
    if let Some(content) = op["requestBody"]["content"].as_object() {
        for (media, body) in content {
            let _ = write!(
                out,
                "<h4>Body <small>{}</small></h4><p>{}</p>",
                esc(media),
                type_of(&body["schema"])
            );
        }
    }
    if let Some(responses) = op["responses"].as_object() {
        out.push_str(
            "<h4>Responses</h4><table><tr><th>status</th><th>body</th><th>description</th></tr>",
        );
        for (status, r) in responses {
            let body = r["content"]
                .as_object()
                .and_then(|c| c.iter().next())
                .map(|(media, b)| {
                    format!("{} <small>{}</small>", type_of(&b["schema"]), esc(media))
                })
                .unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(status),
                body,
                esc(&text(&r["description"]))
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</section>");
}

fn schema_table(out: &mut String, schema: &Value) {
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
    parts.extend(schema["allOf"].as_array().into_iter().flatten());
    out.push_str("<table><tr><th>field</th><th>type</th><th>description</th></tr>");
    for part in parts {
        for (name, prop) in part["properties"].as_object().into_iter().flatten() {
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                esc(name),
                if required.contains(&name.as_str()) {
                    " *"
                } else {
                    ""
                },
                type_of(prop),
                esc(&text(&prop["description"]))
            );
        }
    }
    out.push_str("</table>");
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
        return all.iter().map(type_of).collect::<Vec<_>>().join(" & ");
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

fn anchor(method: &str, path: &str) -> String {
    let cleaned: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("op-{method}{cleaned}")
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
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

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}\
h1 small{font-size:.6em;color:#777}section{border-top:1px solid #ddd;padding:.5rem 0}\
table{border-collapse:collapse;margin:.3rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}\
code.m{font-weight:bold;padding:0 .3rem;border-radius:3px;background:#eee}code.get{color:#06c}code.post{color:#080}\
code.patch,code.put{color:#a60}code.delete{color:#c00}nav ul{columns:2;list-style:none;padding:0}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_lists_operations_and_escapes_text() {
        let spec = serde_json::json!({
            "info": {"title": "Depot", "version": "1", "description": "<b>x</b>"},
            "paths": {"/v1/items": {"get": {"summary": "List items", "responses": {"200": {"description": "ok",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}}}}},
            "components": {"schemas": {"Item": {"type": "object", "required": ["code"],
                "properties": {"code": {"type": "string"}}}}}
        });
        let html = render_html(&spec);
        assert!(html.contains("/v1/items"));
        assert!(html.contains("List items"));
        assert!(html.contains("schema-Item"));
        assert!(html.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(!html.contains("<script"));
    }
}
