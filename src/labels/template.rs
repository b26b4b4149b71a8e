//! Label templates: TOML files (data, not code) with the page size in millimetres, the fields
//! the template reads (each with a title and an example), and elements positioned in
//! millimetres: `text`, `barcode`, `rect`, `line`, `image` and, for documents, one `table`
//! whose rows flow over as many pages as they need. Values are bound with
//! `{{ path | filter }}`; see `labels/README.md` for the format.
//!
//! Every template is validated when it is loaded by laying it out with its fields' examples:
//! an unknown field or filter, an element off the page, a barcode too wide for its box, or
//! examples that do not encode, stop the load with the file and the element named.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::labels::barcode;
use crate::labels::fonts;
use crate::labels::layout::{Align, Item, Page, Symbology, TextLine};

/// Built-in templates (files in `labels/`, compiled in); a configured directory adds to them or
/// overrides them by name.
const BUILT_IN: &[(&str, &str)] = &[
    ("item", include_str!("../../labels/item.toml")),
    ("item-gs1", include_str!("../../labels/item-gs1.toml")),
    ("batch", include_str!("../../labels/batch.toml")),
    ("location", include_str!("../../labels/location.toml")),
    (
        "logistic-4x6",
        include_str!("../../labels/logistic-4x6.toml"),
    ),
    ("logistic-a6", include_str!("../../labels/logistic-a6.toml")),
    ("parcel-4x6", include_str!("../../labels/parcel-4x6.toml")),
    (
        "barcode-card",
        include_str!("../../labels/barcode-card.toml"),
    ),
    ("pick-list", include_str!("../../labels/pick-list.toml")),
    (
        "delivery-note",
        include_str!("../../labels/delivery-note.toml"),
    ),
    ("return-note", include_str!("../../labels/return-note.toml")),
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    #[serde(default)]
    name: Option<String>,
    title: String,
    width_mm: f64,
    height_mm: f64,
    #[serde(default)]
    fields: BTreeMap<String, FieldSpec>,
    #[serde(default, rename = "element")]
    elements: Vec<ElementSpec>,
}

/// A field the template reads.
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    pub title: String,
    #[serde(default)]
    pub required: bool,
    /// Used to validate the template on load and as sample data: any JSON value, usually a
    /// string or a number, and for a table's rows a list of objects.
    pub example: Value,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum AlignSpec {
    #[default]
    Left,
    Center,
    Right,
}

fn default_size() -> f64 {
    3.0
}
fn default_module() -> f64 {
    0.33
}
fn default_thickness() -> f64 {
    0.3
}
fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum ElementSpec {
    Text {
        x: f64,
        y: f64,
        width: f64,
        #[serde(default = "default_size")]
        size: f64,
        #[serde(default)]
        bold: bool,
        #[serde(default)]
        align: AlignSpec,
        #[serde(default = "one")]
        max_lines: usize,
        text: String,
        #[serde(default, rename = "if")]
        when: Option<String>,
    },
    Barcode {
        x: f64,
        y: f64,
        width: f64,
        height: f64,
        symbology: Symbology,
        data: String,
        #[serde(default = "default_module")]
        module: f64,
        #[serde(default = "yes")]
        hri: bool,
        #[serde(default, rename = "if")]
        when: Option<String>,
        /// Other GS1 data on the label that this symbol's data is validated with (an SSCC
        /// that (02)/(37) require); not encoded here.
        #[serde(default)]
        gs1_context: Option<String>,
    },
    Rect {
        x: f64,
        y: f64,
        width: f64,
        height: f64,
        #[serde(default = "default_thickness")]
        thickness: f64,
        #[serde(default)]
        fill: bool,
    },
    Line {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        #[serde(default = "default_thickness")]
        thickness: f64,
    },
    Image {
        x: f64,
        y: f64,
        width: f64,
        height: f64,
        /// A PNG or JPEG next to the template file.
        file: String,
    },
    Table {
        x: f64,
        y: f64,
        width: f64,
        #[serde(default = "default_size")]
        size: f64,
        /// The field holding the rows (an array of objects); cells read `row.<key>`.
        rows: String,
        columns: Vec<ColumnSpec>,
        /// Rows stop here (mm from the top); further rows continue on a new page.
        bottom: f64,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnSpec {
    title: String,
    width: f64,
    text: String,
    #[serde(default)]
    align: AlignSpec,
}

/// A loaded, validated template.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    pub title: String,
    pub width_mm: f64,
    pub height_mm: f64,
    pub fields: BTreeMap<String, FieldSpec>,
    elements: Vec<ElementSpec>,
    /// Decoded images by file name (luma, width, height).
    images: BTreeMap<String, (Vec<u8>, u32, u32)>,
}

/// Loads the built-in templates, then every `*.toml` in `dir`.
pub fn load_all(dir: Option<&Path>) -> anyhow::Result<Vec<Template>> {
    let mut by_name: BTreeMap<String, Template> = BTreeMap::new();
    for (name, text) in BUILT_IN {
        let t =
            parse(name, text, None).map_err(|e| anyhow::anyhow!("label template {name}: {e}"))?;
        by_name.insert(t.name.clone(), t);
    }
    if let Some(dir) = dir.filter(|d| d.is_dir()) {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                let stem = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_string();
                let text = std::fs::read_to_string(&path)?;
                let t = parse(&stem, &text, path.parent())
                    .map_err(|e| anyhow::anyhow!("label template {}: {e}", path.display()))?;
                by_name.insert(t.name.clone(), t);
            }
        }
    }
    Ok(by_name.into_values().collect())
}

/// Parses and validates one template (`dir`: where its images are).
pub fn parse(stem: &str, text: &str, dir: Option<&Path>) -> std::result::Result<Template, String> {
    let file: TemplateFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let name = file.name.clone().unwrap_or_else(|| stem.to_string());
    if !(1.0..=1000.0).contains(&file.width_mm) || !(1.0..=1000.0).contains(&file.height_mm) {
        return Err("width_mm and height_mm must be between 1 and 1000".into());
    }
    let mut images = BTreeMap::new();
    for e in &file.elements {
        if let ElementSpec::Image { file: image, .. } = e {
            let Some(dir) = dir else {
                return Err(format!("image {image}: built-in templates carry no images"));
            };
            let bytes =
                std::fs::read(dir.join(image)).map_err(|e| format!("image {image}: {e}"))?;
            let luma = image::load_from_memory(&bytes)
                .map_err(|e| format!("image {image}: {e}"))?
                .to_luma8();
            let (w, h) = luma.dimensions();
            images.insert(image.clone(), (luma.into_raw(), w, h));
        }
    }
    let template = Template {
        name,
        title: file.title,
        width_mm: file.width_mm,
        height_mm: file.height_mm,
        fields: file.fields,
        elements: file.elements,
        images,
    };
    template.check_bindings()?;
    // Lay out the examples: catches elements off the page and barcodes too wide for their box.
    template.lay_out(&template.example()).map_err(|e| match e {
        Error::Validation(v) => v
            .into_iter()
            .map(|f| format!("{}: {}", f.field, f.reason))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    })?;
    Ok(template)
}

/// One `{{ path | filter | … }}` binding.
struct Binding<'a> {
    path: &'a str,
    filters: Vec<&'a str>,
}

const FILTERS: &[&str] = &["date", "date_eu", "yymmdd", "upper", "qty", "gtin13"];

/// Splits a string into literal text and bindings.
fn bindings(
    text: &str,
) -> std::result::Result<Vec<std::result::Result<&str, Binding<'_>>>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Ok(&rest[..start]));
        }
        let Some(end) = rest[start..].find("}}") else {
            return Err(format!("'{{{{' without '}}}}' in \"{text}\""));
        };
        let inner = &rest[start + 2..start + end];
        let mut pieces = inner.split('|').map(str::trim);
        let path = pieces.next().unwrap_or_default();
        if path.is_empty() {
            return Err(format!("an empty binding in \"{text}\""));
        }
        parts.push(Err(Binding {
            path,
            filters: pieces.collect(),
        }));
        rest = &rest[start + end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Ok(rest));
    }
    Ok(parts)
}

/// The value at a dotted path of a JSON object.
fn lookup<'v>(data: &'v Value, path: &str) -> Option<&'v Value> {
    let mut v = data;
    for key in path.split('.') {
        v = v.get(key)?;
    }
    (!v.is_null()).then_some(v)
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Applies a filter; `path` names the field in errors.
fn filter(value: String, name: &str, path: &str) -> Result<String> {
    let bad = |why: &str| Error::invalid(format!("data.{path}"), why.to_string());
    let date = |v: &str| -> Result<(i32, u8, u8)> {
        let d = v.get(..10).unwrap_or(v);
        let parts: Vec<&str> = d.split('-').collect();
        match parts.as_slice() {
            [y, m, dd] if y.len() == 4 && m.len() == 2 && dd.len() == 2 => Ok((
                y.parse().map_err(|_| bad("is not a date (YYYY-MM-DD)"))?,
                m.parse().map_err(|_| bad("is not a date (YYYY-MM-DD)"))?,
                dd.parse().map_err(|_| bad("is not a date (YYYY-MM-DD)"))?,
            )),
            _ => Err(bad("is not a date (YYYY-MM-DD)")),
        }
    };
    if value.is_empty() {
        return Ok(value);
    }
    Ok(match name {
        "date" => {
            let (y, m, d) = date(&value)?;
            format!("{y:04}-{m:02}-{d:02}")
        }
        "date_eu" => {
            let (y, m, d) = date(&value)?;
            format!("{d:02}.{m:02}.{y:04}")
        }
        "yymmdd" => {
            let (y, m, d) = date(&value)?;
            format!("{:02}{m:02}{d:02}", y.rem_euclid(100))
        }
        "upper" => value.to_uppercase(),
        "qty" => {
            let n: i64 = value.parse().map_err(|_| bad("is not a whole number"))?;
            let digits = n.unsigned_abs().to_string();
            let mut out = String::new();
            for (i, c) in digits.chars().enumerate() {
                if i > 0 && (digits.len() - i).is_multiple_of(3) {
                    out.push(' ');
                }
                out.push(c);
            }
            if n < 0 { format!("-{out}") } else { out }
        }
        "gtin13" => match value.strip_prefix('0') {
            Some(rest) if value.len() == 14 => rest.to_string(),
            _ => value,
        },
        other => return Err(Error::Internal(anyhow::anyhow!("unknown filter {other}"))),
    })
}

fn align(a: AlignSpec) -> Align {
    match a {
        AlignSpec::Left => Align::Left,
        AlignSpec::Center => Align::Center,
        AlignSpec::Right => Align::Right,
    }
}

/// Breaks text into lines no wider than `width` (words kept whole when they fit, long words
/// cut); more than `max_lines` end with an ellipsis.
fn wrap(text: &str, width: f64, size: f64, bold: bool, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if fonts::measure(&candidate, size, bold) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A word wider than the box is cut where it stops fitting.
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if fonts::measure(&piece, size, bold) > width && piece.chars().count() > 1 {
                    piece.pop();
                    lines.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            line = piece;
        }
        lines.push(line);
    }
    while lines.len() > 1 && lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            let mut cut = last.clone();
            while !cut.is_empty() && fonts::measure(&format!("{cut}…"), size, bold) > width {
                cut.pop();
            }
            *last = format!("{}…", cut.trim_end());
        }
    }
    lines
}

impl Template {
    /// The examples of every field, as data.
    pub fn example(&self) -> Value {
        let mut root = Value::Object(Default::default());
        for (path, spec) in &self.fields {
            let mut node = &mut root;
            let keys: Vec<&str> = path.split('.').collect();
            for (i, key) in keys.iter().enumerate() {
                let Value::Object(map) = node else { break };
                if i + 1 == keys.len() {
                    map.insert(key.to_string(), spec.example.clone());
                    break;
                }
                node = map
                    .entry(key.to_string())
                    .or_insert_with(|| Value::Object(Default::default()));
            }
        }
        root
    }

    /// Every binding names a declared field (or `row.<key>` of a table's example rows, or
    /// `page`/`pages`) and only known filters.
    fn check_bindings(&self) -> std::result::Result<(), String> {
        let known = |path: &str, row_keys: Option<&Vec<String>>| -> bool {
            if path == "page" || path == "pages" || self.fields.contains_key(path) {
                return true;
            }
            match (path.strip_prefix("row."), row_keys) {
                (Some(k), Some(keys)) => keys.iter().any(|r| r == k),
                _ => false,
            }
        };
        let check = |i: usize, text: &str, row_keys: Option<&Vec<String>>| {
            for part in bindings(text).map_err(|e| format!("element {}: {e}", i + 1))? {
                if let Err(b) = part {
                    if !known(b.path, row_keys) {
                        return Err(format!(
                            "element {}: unknown field '{}' (declare it under [fields])",
                            i + 1,
                            b.path
                        ));
                    }
                    if let Some(f) = b.filters.iter().find(|f| !FILTERS.contains(f)) {
                        return Err(format!(
                            "element {}: unknown filter '{f}' (known: {})",
                            i + 1,
                            FILTERS.join(", ")
                        ));
                    }
                }
            }
            Ok(())
        };
        for (i, e) in self.elements.iter().enumerate() {
            match e {
                ElementSpec::Text { text, when, .. } => {
                    check(i, text, None)?;
                    if let Some(w) = when.as_deref().filter(|w| !known(w, None)) {
                        return Err(format!("element {}: unknown field '{w}' in if", i + 1));
                    }
                }
                ElementSpec::Barcode {
                    data,
                    when,
                    gs1_context,
                    ..
                } => {
                    check(i, data, None)?;
                    if let Some(c) = gs1_context {
                        check(i, c, None)?;
                    }
                    if let Some(w) = when.as_deref().filter(|w| !known(w, None)) {
                        return Err(format!("element {}: unknown field '{w}' in if", i + 1));
                    }
                }
                ElementSpec::Table { rows, columns, .. } => {
                    let spec = self
                        .fields
                        .get(rows)
                        .ok_or_else(|| format!("element {}: unknown field '{rows}'", i + 1))?;
                    let keys: Vec<String> = spec
                        .example
                        .as_array()
                        .and_then(|a| a.first())
                        .and_then(Value::as_object)
                        .map(|o| o.keys().cloned().collect())
                        .ok_or_else(|| {
                            format!(
                                "element {}: the example of '{rows}' must be a list of objects",
                                i + 1
                            )
                        })?;
                    for c in columns {
                        check(i, &c.text, Some(&keys))?;
                    }
                }
                _ => {}
            }
        }
        if self
            .elements
            .iter()
            .filter(|e| matches!(e, ElementSpec::Table { .. }))
            .count()
            > 1
        {
            return Err("a template has at most one table".into());
        }
        Ok(())
    }

    /// Fills in the bindings of `text` from `data`.
    fn bind(&self, text: &str, data: &Value) -> Result<String> {
        let mut out = String::new();
        let parts = bindings(text).map_err(|e| Error::Internal(anyhow::anyhow!(e)))?;
        for part in parts {
            match part {
                Ok(literal) => out.push_str(literal),
                Err(b) => {
                    let value = match lookup(data, b.path) {
                        Some(v) => plain(v),
                        None => {
                            if self.fields.get(b.path).is_some_and(|f| f.required) {
                                return Err(Error::invalid(
                                    format!("data.{}", b.path),
                                    format!("is required by template {}", self.name),
                                ));
                            }
                            String::new()
                        }
                    };
                    let mut value = value;
                    for f in &b.filters {
                        value = filter(value, f, b.path)?;
                    }
                    out.push_str(&value);
                }
            }
        }
        Ok(out)
    }

    fn present(data: &Value, path: Option<&str>) -> bool {
        match path {
            None => true,
            Some(p) => lookup(data, p).is_some_and(|v| !plain(v).trim().is_empty()),
        }
    }

    /// Lays the template out with `data`: one page, or as many as the table needs.
    pub fn lay_out(&self, data: &Value) -> Result<Vec<Page>> {
        self.lay_out_for(data, false)
    }

    /// [`lay_out`](Self::lay_out) for a renderer that draws DataMatrix symbols natively (ZPL):
    /// they are sized from their data without encoding their modules (the slow part of a
    /// label); everything else, validation included, is the same.
    pub fn lay_out_for(&self, data: &Value, native_2d: bool) -> Result<Vec<Page>> {
        if !data.is_object() {
            return Err(Error::invalid("data", "must be a JSON object"));
        }
        for (path, spec) in &self.fields {
            if spec.required && lookup(data, path).is_none() {
                return Err(Error::invalid(
                    format!("data.{path}"),
                    format!("is required by template {}", self.name),
                ));
            }
        }
        // Rows of the table, and how many fit on a page.
        let table = self.elements.iter().find_map(|e| match e {
            ElementSpec::Table {
                y,
                size,
                rows,
                bottom,
                ..
            } => Some((*y, *size, rows.as_str(), *bottom)),
            _ => None,
        });
        let (rows, per_page) = match table {
            Some((y, size, field, bottom)) => {
                let rows = match lookup(data, field) {
                    Some(Value::Array(a)) => a.clone(),
                    Some(_) => {
                        return Err(Error::invalid(
                            format!("data.{field}"),
                            "must be a list of objects",
                        ));
                    }
                    None => Vec::new(),
                };
                let row_height = size * 1.6;
                let fit = ((bottom - y) / row_height).floor() as i64 - 1;
                if fit < 1 {
                    return Err(Error::invalid(
                        "template",
                        "the table has no room for a row",
                    ));
                }
                (rows, fit as usize)
            }
            None => (Vec::new(), usize::MAX),
        };
        let pages = if rows.is_empty() {
            1
        } else {
            rows.len().div_ceil(per_page)
        };
        if pages > 500 {
            return Err(Error::invalid("data", "more than 500 pages"));
        }
        let mut out = Vec::with_capacity(pages);
        for page in 0..pages {
            let mut data = data.clone();
            if let Value::Object(map) = &mut data {
                map.insert("page".into(), Value::from(page + 1));
                map.insert("pages".into(), Value::from(pages));
            }
            let first = page.saturating_mul(per_page);
            let slice = if rows.is_empty() {
                &rows[..]
            } else {
                &rows[first..(first + per_page).min(rows.len())]
            };
            out.push(self.page(&data, slice, native_2d)?);
        }
        Ok(out)
    }

    fn page(&self, data: &Value, rows: &[Value], native_2d: bool) -> Result<Page> {
        let mut items = Vec::new();
        for (i, e) in self.elements.iter().enumerate() {
            let field = |what: &str| format!("element {} ({what})", i + 1);
            let off_page = |x: f64, y: f64, w: f64, h: f64| {
                x < 0.0 || y < 0.0 || x + w > self.width_mm + 1e-6 || y + h > self.height_mm + 1e-6
            };
            match e {
                ElementSpec::Text {
                    x,
                    y,
                    width,
                    size,
                    bold,
                    align: a,
                    max_lines,
                    text,
                    when,
                } => {
                    if !Self::present(data, when.as_deref()) {
                        continue;
                    }
                    let bound = self.bind(text, data)?;
                    let lines = wrap(&bound, *width, *size, *bold, (*max_lines).max(1));
                    let line_height = size * 1.2;
                    if off_page(*x, *y, *width, line_height * (*max_lines).max(1) as f64) {
                        return Err(Error::invalid(field("text"), "runs off the page"));
                    }
                    items.push(Item::Text {
                        x_mm: *x,
                        y_mm: *y,
                        width_mm: *width,
                        size_mm: *size,
                        line_height_mm: line_height,
                        bold: *bold,
                        align: align(*a),
                        lines: lines
                            .into_iter()
                            .map(|text| TextLine {
                                rtl: fonts::is_rtl(&text),
                                text,
                            })
                            .collect(),
                    });
                }
                ElementSpec::Barcode {
                    x,
                    y,
                    width,
                    height,
                    symbology,
                    data: template_data,
                    module,
                    hri,
                    when,
                    gs1_context,
                } => {
                    if !Self::present(data, when.as_deref()) {
                        continue;
                    }
                    if off_page(*x, *y, *width, *height) {
                        return Err(Error::invalid(field("barcode"), "runs off the page"));
                    }
                    let bound = self.bind(template_data, data)?;
                    let context = match gs1_context {
                        Some(c) => self.bind(c, data)?,
                        None => String::new(),
                    };
                    let native = native_2d
                        && matches!(symbology, Symbology::Datamatrix | Symbology::Gs1Datamatrix);
                    let symbol = if native {
                        barcode::size_only(*symbology, &bound, &context)
                    } else {
                        barcode::encode_in(*symbology, &bound, &context)
                    }
                    .map_err(|why| {
                        Error::invalid("data", format!("{}: {why}", field("barcode")))
                    })?;
                    // ZPL lets the printer encode Code 128 itself: its symbol must fit too.
                    let columns = match symbology {
                        Symbology::Code128 | Symbology::Gs1_128 => {
                            symbol.columns.max(crate::labels::zpl::code128_modules(
                                &symbol.data,
                                *symbology == Symbology::Gs1_128,
                            ))
                        }
                        _ => symbol.columns,
                    };
                    let needed = (columns + 2 * symbol.quiet_modules) as f64 * module;
                    if needed > width + 1e-6 {
                        return Err(Error::invalid(
                            field("barcode"),
                            format!(
                                "too wide for its box: {needed:.1} mm with quiet zones at {module} mm per module, the box is {width} mm"
                            ),
                        ));
                    }
                    let left = x + (width - needed) / 2.0 + symbol.quiet_modules as f64 * module;
                    if symbol.is_linear() {
                        let hri_size = 2.5;
                        let text = hri.then(|| match symbology {
                            Symbology::Gs1_128 => symbol
                                .gs1
                                .iter()
                                .map(|(ai, v)| format!("({ai}) {v}"))
                                .collect::<Vec<_>>()
                                .join(" "),
                            _ => symbol.data.clone(),
                        });
                        let bars = height - if text.is_some() { hri_size * 1.3 } else { 0.0 };
                        if bars < 5.0 {
                            return Err(Error::invalid(
                                field("barcode"),
                                "leaves less than 5 mm for the bars",
                            ));
                        }
                        items.push(Item::Barcode {
                            x_mm: left,
                            y_mm: *y,
                            height_mm: bars,
                            module_mm: *module,
                            symbol,
                            hri: text,
                            hri_size_mm: hri_size,
                        });
                    } else {
                        let side = (symbol.rows + 2 * symbol.quiet_modules) as f64 * module;
                        if side > height + 1e-6 {
                            return Err(Error::invalid(
                                field("barcode"),
                                format!(
                                    "too tall for its box: {side:.1} mm, the box is {height} mm"
                                ),
                            ));
                        }
                        items.push(Item::Barcode {
                            x_mm: left,
                            y_mm: y + symbol.quiet_modules as f64 * module,
                            height_mm: symbol.rows as f64 * module,
                            module_mm: *module,
                            symbol,
                            hri: None,
                            hri_size_mm: 0.0,
                        });
                    }
                }
                ElementSpec::Rect {
                    x,
                    y,
                    width,
                    height,
                    thickness,
                    fill,
                } => {
                    if off_page(*x, *y, *width, *height) {
                        return Err(Error::invalid(field("rect"), "runs off the page"));
                    }
                    items.push(Item::Rect {
                        x_mm: *x,
                        y_mm: *y,
                        width_mm: *width,
                        height_mm: *height,
                        thickness_mm: *thickness,
                        fill: *fill,
                    });
                }
                ElementSpec::Line {
                    x1,
                    y1,
                    x2,
                    y2,
                    thickness,
                } => {
                    if off_page(x1.min(*x2), y1.min(*y2), (x2 - x1).abs(), (y2 - y1).abs()) {
                        return Err(Error::invalid(field("line"), "runs off the page"));
                    }
                    items.push(Item::Line {
                        x1_mm: *x1,
                        y1_mm: *y1,
                        x2_mm: *x2,
                        y2_mm: *y2,
                        thickness_mm: *thickness,
                    });
                }
                ElementSpec::Image {
                    x,
                    y,
                    width,
                    height,
                    file,
                } => {
                    if off_page(*x, *y, *width, *height) {
                        return Err(Error::invalid(field("image"), "runs off the page"));
                    }
                    if let Some((luma, w, h)) = self.images.get(file) {
                        items.push(Item::Image {
                            x_mm: *x,
                            y_mm: *y,
                            width_mm: *width,
                            height_mm: *height,
                            pixels_wide: *w,
                            pixels_high: *h,
                            luma: luma.clone(),
                        });
                    }
                }
                ElementSpec::Table {
                    x,
                    y,
                    width,
                    size,
                    columns,
                    bottom,
                    ..
                } => {
                    let total: f64 = columns.iter().map(|c| c.width).sum();
                    if total > width + 1e-6 || off_page(*x, *y, *width, bottom - y) {
                        return Err(Error::invalid(
                            field("table"),
                            "its columns are wider than the table, or it runs off the page",
                        ));
                    }
                    let row_height = size * 1.6;
                    let cell =
                        |cx: f64, cy: f64, w: f64, text: String, bold: bool, a: AlignSpec| {
                            let line = wrap(&text, w - 1.0, *size, bold, 1)
                                .into_iter()
                                .next()
                                .unwrap_or_default();
                            Item::Text {
                                x_mm: cx + 0.5,
                                y_mm: cy + size * 0.3,
                                width_mm: w - 1.0,
                                size_mm: *size,
                                line_height_mm: size * 1.2,
                                bold,
                                align: align(a),
                                lines: vec![TextLine {
                                    rtl: fonts::is_rtl(&line),
                                    text: line,
                                }],
                            }
                        };
                    let mut cx = *x;
                    for c in columns {
                        items.push(cell(cx, *y, c.width, c.title.clone(), true, c.align));
                        cx += c.width;
                    }
                    items.push(Item::Line {
                        x1_mm: *x,
                        y1_mm: y + row_height,
                        x2_mm: x + width,
                        y2_mm: y + row_height,
                        thickness_mm: 0.3,
                    });
                    for (r, row) in rows.iter().enumerate() {
                        let ry = y + row_height * (r + 1) as f64;
                        let mut scope = data.clone();
                        if let Value::Object(map) = &mut scope {
                            map.insert("row".into(), row.clone());
                        }
                        let mut cx = *x;
                        for c in columns {
                            items.push(cell(
                                cx,
                                ry,
                                c.width,
                                self.bind(&c.text, &scope)?,
                                false,
                                c.align,
                            ));
                            cx += c.width;
                        }
                        items.push(Item::Line {
                            x1_mm: *x,
                            y1_mm: ry + row_height,
                            x2_mm: x + width,
                            y2_mm: ry + row_height,
                            thickness_mm: 0.1,
                        });
                    }
                }
            }
        }
        Ok(Page {
            width_mm: self.width_mm,
            height_mm: self.height_mm,
            items,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
title = "Test"
width_mm = 58
height_mm = 40
[fields]
"item.name" = { title = "Name", required = true, example = "Greek yoghurt" }
"item.gtin" = { title = "GTIN", required = true, example = "09506000134352" }
"batch.code" = { title = "Batch", example = "L42" }
"batch.expiry" = { title = "Expiry", example = "2026-12-31" }
[[element]]
kind = "text"
x = 2
y = 2
width = 54
size = 3.5
max_lines = 2
text = "{{ item.name }}"
[[element]]
kind = "barcode"
symbology = "gs1-128"
x = 1
y = 12
width = 56
height = 20
module = 0.2
data = "(01){{ item.gtin }}(17){{ batch.expiry | yymmdd }}(10){{ batch.code }}"
"#;

    #[test]
    fn loads_and_lays_out_with_examples() {
        let t = parse("small", SMALL, None).unwrap();
        let pages = t.lay_out(&t.example()).unwrap();
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].items.len(), 2);
        let Item::Barcode { symbol, hri, .. } = &pages[0].items[1] else {
            panic!()
        };
        assert_eq!(symbol.data, "01095060001343521726123110L42");
        assert_eq!(
            hri.as_deref(),
            Some("(01) 09506000134352 (17) 261231 (10) L42")
        );
    }

    #[test]
    fn bad_templates_are_refused_with_the_element_named() {
        let unknown = SMALL.replace("{{ item.name }}", "{{ item.nmae }}");
        assert!(
            parse("t", &unknown, None)
                .unwrap_err()
                .contains("unknown field 'item.nmae'")
        );
        let filter = SMALL.replace("yymmdd", "ddmmyy");
        assert!(
            parse("t", &filter, None)
                .unwrap_err()
                .contains("unknown filter")
        );
        let off = SMALL.replace("width = 54", "width = 70");
        assert!(
            parse("t", &off, None)
                .unwrap_err()
                .contains("runs off the page")
        );
        let wide = SMALL.replace("module = 0.2", "module = 0.5");
        assert!(parse("t", &wide, None).unwrap_err().contains("too wide"));
        let typo = SMALL.replace("max_lines", "max_line");
        assert!(parse("t", &typo, None).is_err());
    }

    #[test]
    fn data_is_checked_and_optional_fields_drop_out() {
        let t = parse("small", SMALL, None).unwrap();
        let e = t
            .lay_out(&serde_json::json!({"item": {"name": "X"}}))
            .unwrap_err();
        assert!(matches!(e, Error::Validation(v) if v[0].field == "data.item.gtin"));
        let pages = t
            .lay_out(&serde_json::json!({"item": {"name": "X", "gtin": "09506000134352"}}))
            .unwrap();
        let Item::Barcode { symbol, .. } = &pages[0].items[1] else {
            panic!()
        };
        assert_eq!(symbol.data, "0109506000134352");
        let bad = t
            .lay_out(&serde_json::json!({"item": {"name": "X", "gtin": "09506000134353"}}))
            .unwrap_err();
        assert!(matches!(bad, Error::Validation(v) if v[0].field == "data"));
    }

    #[test]
    fn long_text_wraps_and_ends_with_an_ellipsis() {
        let lines = wrap(
            "Natural Greek style yoghurt with honey and walnuts, family pack",
            30.0,
            3.5,
            false,
            2,
        );
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'));
        assert!(lines.iter().all(|l| fonts::measure(l, 3.5, false) <= 30.0));
    }

    #[test]
    fn every_built_in_template_loads() {
        let all = load_all(None).unwrap();
        assert_eq!(all.len(), BUILT_IN.len());
    }
}
