//! Labels: one template per label (data files in `labels/`), laid out once
//! ([`layout::Page`]) and rendered natively to ZPL II (thermal printers), PDF (paper, sheets)
//! and PNG (previews).
//!
//! - [`template`]: the template format, its loading and validation, and field binding.
//! - [`barcode`]: encoding symbols into modules (rxing's encoders) for PDF and PNG, and the
//!   data checks every format shares.
//! - [`fonts`]: the embedded DejaVu fonts and text measurement.
//! - [`zpl`], [`pdf`], [`png`]: the renderers.

pub mod api;
pub mod barcode;
pub mod fonts;
pub mod layout;
pub mod pdf;
pub mod png;
pub mod records;
pub mod sscc;
pub mod template;
pub mod zpl;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{Error, Result};
use template::Template;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Zpl,
    Pdf,
    Png,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Zpl => "application/x-zpl",
            Format::Pdf => "application/pdf",
            Format::Png => "image/png",
        }
    }
}

/// Rendered bytes and their media type.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// The templates: built in, plus every `*.toml` in the configured directory (adding or
/// overriding by name). Reloadable at run time.
#[derive(Clone)]
pub struct Labels {
    templates: Arc<RwLock<BTreeMap<String, Arc<Template>>>>,
    dir: Option<PathBuf>,
}

impl Labels {
    /// Loads and validates every template; any invalid one is an error naming file and field.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Labels> {
        let labels = Labels {
            templates: Arc::new(RwLock::new(BTreeMap::new())),
            dir: dir.map(Path::to_path_buf),
        };
        labels.reload()?;
        Ok(labels)
    }

    /// Reads the templates again (an admin added or changed one); on error the loaded set stays.
    pub fn reload(&self) -> anyhow::Result<usize> {
        let loaded = template::load_all(self.dir.as_deref())?;
        let n = loaded.len();
        let mut guard = self
            .templates
            .write()
            .map_err(|_| anyhow::anyhow!("label templates lock poisoned"))?;
        *guard = loaded
            .into_iter()
            .map(|t| (t.name.clone(), Arc::new(t)))
            .collect();
        Ok(n)
    }

    pub fn get(&self, name: &str) -> Option<Arc<Template>> {
        self.templates.read().ok()?.get(name).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Template>> {
        self.templates
            .read()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Renders `template` with `data` (a JSON object) to `format`. `dpi` applies to ZPL (the
    /// printer's resolution: 203, 300 or 600) and PNG; PDF is resolution-free.
    pub fn render(
        &self,
        template: &str,
        format: Format,
        dpi: u32,
        data: &serde_json::Value,
    ) -> Result<Rendered> {
        let t = self.get(template).ok_or_else(|| {
            Error::invalid("template", format!("no label template named '{template}'"))
        })?;
        render(&t, format, dpi, data)
    }

    /// [`Labels::render`] for a known printer: ZPL sends right-to-left text as `complex` says
    /// (the printer profile's `shapes_complex_text`).
    pub fn render_for(
        &self,
        template: &str,
        format: Format,
        dpi: u32,
        data: &serde_json::Value,
        complex: &zpl::ComplexText,
    ) -> Result<Rendered> {
        let t = self.get(template).ok_or_else(|| {
            Error::invalid("template", format!("no label template named '{template}'"))
        })?;
        render_for(&t, format, dpi, data, complex)
    }
}

/// Renders one template with `data` to `format`.
pub fn render(
    t: &Template,
    format: Format,
    dpi: u32,
    data: &serde_json::Value,
) -> Result<Rendered> {
    render_for(t, format, dpi, data, &zpl::ComplexText::Graphic)
}

/// [`render`], with ZPL's right-to-left text sent as `complex` says.
pub fn render_for(
    t: &Template,
    format: Format,
    dpi: u32,
    data: &serde_json::Value,
    complex: &zpl::ComplexText,
) -> Result<Rendered> {
    if !matches!(dpi, 72..=1200) {
        return Err(Error::invalid("dpi", "must be between 72 and 1200"));
    }
    let pages = t.lay_out_for(data, format == Format::Zpl)?;
    let bytes = match format {
        Format::Zpl => zpl::render_with(&pages, dpi, complex).into_bytes(),
        Format::Pdf => pdf::render(&pages)?,
        Format::Png => {
            let page = pages
                .first()
                .ok_or_else(|| Error::invalid("data", "the label has no page"))?;
            png::render(page, dpi)?
        }
    };
    Ok(Rendered {
        content_type: format.content_type(),
        bytes,
    })
}
