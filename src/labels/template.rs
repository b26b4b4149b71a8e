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
use crate::labels::layout::{Align, Fit, Item, Page, Symbology, TextLine};

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
    /// The longest value, in characters, that the template prints whole (for a value with
    /// `max_lines`, such as an address: the longest line). Longer data is refused with a 422
    /// naming the field, unless `overflow` is `cut`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    /// The most lines (separated by `\n`) of a multi-line value printed whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lines: Option<usize>,
    /// What happens to data beyond `max_length`/`max_lines`: `refuse` (the default: 422) or
    /// `cut` (free text such as a name: it prints cut, its last line ending with `…`).
    #[serde(default)]
    pub overflow: Overflow,
    /// For a list field (a table's rows): the same limits for the keys of a row.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub row: BTreeMap<String, RowField>,
    /// Used to validate the template on load and as sample data: any JSON value, usually a
    /// string or a number, and for a table's rows a list of objects.
    pub example: Value,
}

/// The limits of one key of a table's rows (see [`FieldSpec`]).
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RowField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lines: Option<usize>,
    #[serde(default)]
    pub overflow: Overflow,
}

/// What a template does with data longer than a field's `max_length` (or with more lines than
/// its `max_lines`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Overflow {
    /// Refuse to render: 422 naming the field (codes, numbers, dates: a cut one is wrong).
    #[default]
    Refuse,
    /// Print it cut, the last line ending with `…` (free text: names, addresses, notes).
    Cut,
}

/// Why `value` breaks a field's limits, if it does.
fn over_limit(
    value: &str,
    max_length: Option<usize>,
    max_lines: Option<usize>,
    template: &str,
) -> Option<String> {
    if let Some(n) = max_lines {
        let lines = value.trim_end().split('\n').count();
        if lines > n {
            return Some(format!(
                "has {lines} lines; template {template} prints at most {n}"
            ));
        }
        if let Some(max) = max_length
            && let Some(long) = value.split('\n').map(|l| l.chars().count()).max()
            && long > max
        {
            return Some(format!(
                "has a line of {long} characters; template {template} prints at most {max} per line"
            ));
        }
        return None;
    }
    let length = value.chars().count();
    match max_length {
        Some(max) if length > max => Some(format!(
            "is {length} characters long; template {template} prints at most {max}"
        )),
        _ => None,
    }
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
    /// A cell wraps at word boundaries onto this many lines; a row is as tall as its tallest
    /// cell.
    #[serde(default = "one")]
    max_lines: usize,
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

const FILTERS: &[&str] = &[
    "date", "date_eu", "yymmdd", "upper", "qty", "gtin13", "oneline",
];

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
        "oneline" => value
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(", "),
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

/// Breaks text into lines no wider than `width` (words kept whole when they fit, a word wider
/// than the box broken where it stops fitting); more than `max_lines` are cut, the last one
/// ending with an ellipsis. Says how the text fits.
fn wrap(text: &str, width: f64, size: f64, bold: bool, max_lines: usize) -> (Vec<String>, Fit) {
    let mut fit = Fit::Whole;
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
            // A word wider than the box is broken where it stops fitting.
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if fonts::measure(&piece, size, bold) > width && piece.chars().count() > 1 {
                    piece.pop();
                    lines.push(std::mem::take(&mut piece));
                    piece.push(c);
                    fit = Fit::Broken;
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
        fit = Fit::Cut;
    }
    (lines, fit)
}

/// The narrowest and widest module a symbol of `module` mm is drawn with: as given (PDF, PNG)
/// or rounded to whole dots by a 203, 300 or 600 dpi printer (ZPL).
fn printed_modules(module: f64) -> (f64, f64) {
    [203.0, 300.0, 600.0]
        .iter()
        .map(|dpi: &f64| (module * dpi / 25.4).round().max(1.0) * 25.4 / dpi)
        .fold((module, module), |(lo, hi), m| (lo.min(m), hi.max(m)))
}

/// Space left and right of the text in a table cell (two columns' texts are twice this apart).
const CELL_PADDING: f64 = 1.0;

/// A table's geometry: the header row and every body row are `size * 1.6` high for one line,
/// plus `size * 1.2` per further line.
fn row_height(size: f64, lines: usize) -> f64 {
    size * 1.6 + size * 1.2 * lines.saturating_sub(1) as f64
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
        for (path, spec) in &self.fields {
            if spec.row.is_empty() {
                continue;
            }
            let first = spec
                .example
                .as_array()
                .and_then(|a| a.first())
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    format!("field '{path}': `row` limits need an example list of objects")
                })?;
            if let Some(key) = spec.row.keys().find(|k| !first.contains_key(k.as_str())) {
                return Err(format!(
                    "field '{path}': row key '{key}' is not in the example rows"
                ));
            }
        }
        Ok(())
    }

    /// Data beyond a field's `max_length`/`max_lines` is refused (unless the field says
    /// `overflow = "cut"`), naming the field: `data.item.gtin`, `data.lines[3].batch`.
    fn check_limits(&self, data: &Value) -> Result<()> {
        for (path, spec) in &self.fields {
            if spec.overflow == Overflow::Refuse
                && let Some(v) = lookup(data, path)
                && let Some(why) =
                    over_limit(&plain(v), spec.max_length, spec.max_lines, &self.name)
            {
                return Err(Error::invalid(format!("data.{path}"), why));
            }
            if spec.row.is_empty() {
                continue;
            }
            let Some(Value::Array(rows)) = lookup(data, path) else {
                continue;
            };
            for (i, row) in rows.iter().enumerate() {
                for (key, limit) in &spec.row {
                    if limit.overflow == Overflow::Refuse
                        && let Some(v) = row.get(key).filter(|v| !v.is_null())
                        && let Some(why) =
                            over_limit(&plain(v), limit.max_length, limit.max_lines, &self.name)
                    {
                        return Err(Error::invalid(format!("data.{path}[{i}].{key}"), why));
                    }
                }
            }
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
        self.check_limits(data)?;
        // Rows of the table, as tall as their tallest cell, and the rows of each page.
        let table = self.elements.iter().find_map(|e| match e {
            ElementSpec::Table {
                y,
                size,
                rows,
                bottom,
                columns,
                ..
            } => Some((*y, *size, rows.as_str(), *bottom, columns)),
            _ => None,
        });
        let (rows, ranges) = match table {
            Some((y, size, field, bottom, columns)) => {
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
                // Below the header row.
                let room = bottom - y - row_height(size, 1);
                if room < row_height(size, 1) - 1e-9 {
                    return Err(Error::invalid(
                        "template",
                        "the table has no room for a row",
                    ));
                }
                let mut ranges = Vec::new();
                let (mut first, mut used) = (0, 0.0);
                let mut scope = data.clone();
                for (r, row) in rows.iter().enumerate() {
                    let cells = self.row_cells(columns, size, &mut scope, row)?;
                    let lines = cells.iter().map(|(l, _)| l.len()).max().unwrap_or(1);
                    let h = row_height(size, lines);
                    if h > room + 1e-9 {
                        return Err(Error::invalid(
                            "template",
                            "the table has no room for a row of that many lines",
                        ));
                    }
                    if used + h > room + 1e-9 {
                        ranges.push(first..r);
                        (first, used) = (r, 0.0);
                    }
                    used += h;
                }
                if first < rows.len() {
                    ranges.push(first..rows.len());
                }
                (rows, ranges)
            }
            None => (Vec::new(), Vec::new()),
        };
        let pages = ranges.len().max(1);
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
            let slice = match ranges.get(page) {
                Some(range) => &rows[range.clone()],
                None => &rows[..0],
            };
            out.push(self.page(&data, slice, native_2d)?);
        }
        Ok(out)
    }

    /// The cells of one table row, bound with `row` set in `scope` (the data, reused from row
    /// to row) and wrapped to their column's `max_lines`.
    fn row_cells(
        &self,
        columns: &[ColumnSpec],
        size: f64,
        scope: &mut Value,
        row: &Value,
    ) -> Result<Vec<(Vec<String>, Fit)>> {
        if let Value::Object(map) = scope {
            map.insert("row".into(), row.clone());
        }
        columns
            .iter()
            .map(|c| {
                let text = self.bind(&c.text, scope)?;
                Ok(wrap(
                    &text,
                    c.width - 2.0 * CELL_PADDING,
                    size,
                    false,
                    c.max_lines.max(1),
                ))
            })
            .collect()
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
                    let (lines, fit) = wrap(&bound, *width, *size, *bold, (*max_lines).max(1));
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
                        fit,
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
                    let left = x + (width - needed) / 2.0 + symbol.quiet_modules as f64 * module;
                    // A ZPL printer draws whole dots: the module it prints may be wider (and
                    // the symbol, placed at `left`, longer) than ours.
                    let (narrowest, widest) = printed_modules(*module);
                    let right = left + (columns + symbol.quiet_modules) as f64 * widest;
                    if needed > width + 1e-6 || right > x + width + 1e-6 {
                        // Data that makes the symbol too wide is named (`data.location.barcode`)
                        // when the symbol carries one field.
                        let (name, what) = match bindings(template_data).as_deref() {
                            Ok([Err(b)]) => (
                                format!("data.{}", b.path),
                                format!("too wide for the box of {}", field("barcode")),
                            ),
                            _ => (field("barcode"), "too wide for its box".to_string()),
                        };
                        return Err(Error::invalid(
                            name,
                            format!(
                                "{what}: {:.1} mm with quiet zones at {module} mm per module ({widest:.3} mm on a printer that rounds it to whole dots), the box is {width} mm",
                                needed.max(right - left + symbol.quiet_modules as f64 * module)
                            ),
                        ));
                    }
                    if symbol.is_linear() {
                        let text = hri.then(|| match symbology {
                            Symbology::Gs1_128 => symbol
                                .gs1
                                .iter()
                                .map(|(ai, v)| format!("({ai}) {v}"))
                                .collect::<Vec<_>>()
                                .join(" "),
                            _ => symbol.data.clone(),
                        });
                        // The human-readable line fits under the symbol and its quiet zones
                        // (a printer's one-line field block there overprints the rest): 2.5 mm,
                        // smaller for a long line.
                        let room = (columns + 2 * symbol.quiet_modules) as f64 * narrowest;
                        let hri_size = match &text {
                            Some(t) => {
                                let w = fonts::measure(t, 2.5, false);
                                if w > room { 2.5 * room / w } else { 2.5 }
                            }
                            None => 2.5,
                        };
                        let bars = height - if text.is_some() { 2.5 * 1.3 } else { 0.0 };
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
                        let side = (symbol.rows + 2 * symbol.quiet_modules) as f64 * widest;
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
                    let cell = |cx: f64,
                                cy: f64,
                                w: f64,
                                (lines, fit): (Vec<String>, Fit),
                                bold: bool,
                                a: AlignSpec| Item::Text {
                        x_mm: cx + CELL_PADDING,
                        y_mm: cy + size * 0.3,
                        width_mm: w - 2.0 * CELL_PADDING,
                        size_mm: *size,
                        line_height_mm: size * 1.2,
                        bold,
                        align: align(a),
                        lines: lines
                            .into_iter()
                            .map(|text| TextLine {
                                rtl: fonts::is_rtl(&text),
                                text,
                            })
                            .collect(),
                        fit,
                    };
                    let header = row_height(*size, 1);
                    let mut cx = *x;
                    for c in columns {
                        let title = wrap(&c.title, c.width - 2.0 * CELL_PADDING, *size, true, 1);
                        items.push(cell(cx, *y, c.width, title, true, c.align));
                        cx += c.width;
                    }
                    items.push(Item::Line {
                        x1_mm: *x,
                        y1_mm: y + header,
                        x2_mm: x + width,
                        y2_mm: y + header,
                        thickness_mm: 0.3,
                    });
                    let mut ry = y + header;
                    let mut scope = data.clone();
                    for row in rows {
                        let cells = self.row_cells(columns, *size, &mut scope, row)?;
                        let lines = cells.iter().map(|(l, _)| l.len()).max().unwrap_or(1);
                        let mut cx = *x;
                        for (c, text) in columns.iter().zip(cells) {
                            items.push(cell(cx, ry, c.width, text, false, c.align));
                            cx += c.width;
                        }
                        ry += row_height(*size, lines);
                        items.push(Item::Line {
                            x1_mm: *x,
                            y1_mm: ry,
                            x2_mm: x + width,
                            y2_mm: ry,
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
    use serde_json::json;

    const SMALL: &str = r#"
title = "Test"
width_mm = 80
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
width = 78
height = 20
module = 0.25
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
        let off = SMALL.replace("width = 54", "width = 80");
        assert!(
            parse("t", &off, None)
                .unwrap_err()
                .contains("runs off the page")
        );
        let wide = SMALL.replace("module = 0.25", "module = 0.5");
        assert!(parse("t", &wide, None).unwrap_err().contains("too wide"));
        // 0.2 mm is 0.25 mm on a 203 dpi printer (whole dots): too wide there.
        let dots = SMALL
            .replace("width = 78", "width = 56")
            .replace("module = 0.25", "module = 0.2");
        assert!(
            parse("t", &dots, None)
                .unwrap_err()
                .contains("0.250 mm on a printer")
        );
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
        let name = "Natural Greek style yoghurt with honey and walnuts, family pack";
        let (lines, fit) = wrap(name, 30.0, 3.5, false, 2);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].ends_with('…'));
        assert_eq!(fit, Fit::Cut);
        assert!(lines.iter().all(|l| fonts::measure(l, 3.5, false) <= 30.0));
        let (lines, fit) = wrap(name, 30.0, 3.5, false, 6);
        assert_eq!((lines.len(), fit), (5, Fit::Whole));
        // A code wider than the box is broken, not cut; with one line it is cut.
        let (lines, fit) = wrap("GTIN 09506000134352", 20.0, 2.6, false, 3);
        assert_eq!(lines[0], "GTIN");
        assert_eq!(fit, Fit::Broken);
        let (lines, fit) = wrap("GTIN 09506000134352", 28.0, 2.6, false, 1);
        assert_eq!((lines, fit), (vec!["GTIN…".to_string()], Fit::Cut));
    }

    const TABLE: &str = r#"
title = "Test list"
width_mm = 100
height_mm = 60
[fields]
"code" = { title = "Code", required = true, max_length = 12, example = "DPT-PICK-7" }
"name" = { title = "Name", max_length = 20, overflow = "cut", example = "Main" }
"address" = { title = "Address", max_length = 30, max_lines = 4, example = "Street 1\nTown" }
"lines" = { title = "Lines", required = true, example = [{ item = "A", batch = "B" }], row = { batch = { max_length = 20 } } }
[[element]]
kind = "text"
x = 1
y = 1
width = 60
text = "{{ code }} {{ name }}"
[[element]]
kind = "table"
x = 1
y = 10
width = 98
size = 3
rows = "lines"
bottom = 58
columns = [
  { title = "Item", width = 30, text = "{{ row.item }}", max_lines = 4 },
  { title = "Batch", width = 30, text = "{{ row.batch }}" },
]
"#;

    #[test]
    fn data_beyond_a_fields_maximum_is_refused_naming_it() {
        let t = parse("list", TABLE, None).unwrap();
        let field = |data: Value| match t.lay_out(&data) {
            Err(Error::Validation(v)) => v[0].field.clone(),
            other => panic!("{other:?}"),
        };
        let row = json!([{ "item": "A", "batch": "B" }]);
        assert_eq!(
            field(json!({ "code": "DPT-PICK-1234567", "lines": row })),
            "data.code"
        );
        // `overflow = "cut"`: printed, cut.
        assert!(
            t.lay_out(&json!({ "code": "C", "name": "N".repeat(40), "lines": row }))
                .is_ok()
        );
        assert_eq!(
            field(json!({ "code": "C", "address": "1\n2\n3\n4\n5", "lines": row })),
            "data.address"
        );
        assert_eq!(
            field(json!({ "code": "C", "address": "x".repeat(31), "lines": row })),
            "data.address"
        );
        assert!(
            t.lay_out(&json!({ "code": "C", "address": "x".repeat(30), "lines": row }))
                .is_ok()
        );
        let rows = json!([{ "item": "A", "batch": "B" }, { "item": "A", "batch": "B".repeat(21) }]);
        assert_eq!(
            field(json!({ "code": "C", "lines": rows })),
            "data.lines[1].batch"
        );
        let bad = TABLE.replace("row = { batch", "row = { lot");
        assert!(
            parse("t", &bad, None)
                .unwrap_err()
                .contains("row key 'lot'")
        );
    }

    #[test]
    fn table_rows_grow_with_their_lines_and_flow_onto_pages() {
        let t = parse("list", TABLE, None).unwrap();
        let long = "Natural Greek style yoghurt with honey and walnuts";
        let rows: Vec<Value> = (0..12)
            .map(|i| json!({ "item": if i % 2 == 0 { long } else { "A" }, "batch": "B" }))
            .collect();
        let pages = t.lay_out(&json!({ "code": "C", "lines": rows })).unwrap();
        // 43.2 mm below the header: 4.8 mm for a one-line row, 12 mm for a four-line one, so
        // four rows a page.
        assert_eq!(pages.len(), 3);
        let mut batches = 0;
        for page in &pages {
            for item in &page.items {
                if let Item::Text { fit, lines, .. } = item {
                    assert_eq!(*fit, Fit::Whole, "{lines:?}");
                    batches += usize::from(lines.len() == 1 && lines[0].text == "B");
                }
                if let Item::Line { y1_mm, .. } = item {
                    assert!(*y1_mm <= 58.0 + 1e-9);
                }
            }
        }
        assert_eq!(batches, 12);
        let tall = pages[0]
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Text { lines, .. } => Some(lines.len()),
                _ => None,
            })
            .max();
        assert_eq!(tall, Some(4));
    }

    #[test]
    fn every_built_in_template_loads() {
        let all = load_all(None).unwrap();
        assert_eq!(all.len(), BUILT_IN.len());
    }
}
