//! Printer profiles: the `[printer]` section of `devices/*.toml` files with `kind = "printer"`.
//! Built in like the scanner profiles (the scanning module reads the scanner ones); a
//! `devices_dir` adds printer profiles or overrides these by name.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::labels::Format;
use crate::labels::zpl::ComplexText;

/// The printer profiles shipped with Depot (files in `devices/`).
const BUILT_IN: &[(&str, &str)] = &[
    (
        "zebra-203-4x6",
        include_str!("../../devices/zebra-203-4x6.toml"),
    ),
    (
        "zebra-300-4x6",
        include_str!("../../devices/zebra-300-4x6.toml"),
    ),
    (
        "zebra-203-58x40",
        include_str!("../../devices/zebra-203-58x40.toml"),
    ),
    ("pdf-file", include_str!("../../devices/pdf-file.toml")),
];

/// Raw TCP print port of Zebra (and most label) printers.
pub const DEFAULT_PORT: u16 = 9100;

/// What a printer speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// ZPL II over raw TCP.
    Zpl,
    /// No hardware: the PDF is kept for download.
    Pdf,
}

impl Language {
    pub fn format(self) -> Format {
        match self {
            Language::Zpl => Format::Zpl,
            Language::Pdf => Format::Pdf,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PrinterSettings {
    pub language: Language,
    pub dpi: u32,
    pub label_width_mm: f64,
    pub label_height_mm: f64,
    /// TCP port used when the device's address has none.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Whether the printer shapes right-to-left text itself (Zebra Link-OS advanced text
    /// layout, `^PA`, with the Unicode font `complex_text_font` loaded). Default false: Depot
    /// then sends Arabic and Hebrew lines as graphics, which print on every printer.
    #[serde(default)]
    pub shapes_complex_text: bool,
    /// The printer's Unicode font for shaped text, as a ZPL font path (`E:TT0003M_.TTF`);
    /// required when `shapes_complex_text` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complex_text_font: Option<String>,
}

impl PrinterSettings {
    /// How ZPL for this printer carries text that needs shaping.
    pub fn complex_text(&self) -> ComplexText {
        match (&self.complex_text_font, self.shapes_complex_text) {
            (Some(font), true) => ComplexText::Printer { font: font.clone() },
            _ => ComplexText::Graphic,
        }
    }
}

fn default_port() -> u16 {
    DEFAULT_PORT
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrinterProfile {
    pub name: String,
    pub title: String,
    #[serde(flatten)]
    pub printer: PrinterSettings,
}

#[derive(Deserialize)]
struct ProfileFile {
    #[serde(default)]
    title: String,
    kind: String,
    printer: Option<PrinterSettings>,
}

/// All printer profiles by name.
#[derive(Debug, Clone, Default)]
pub struct PrinterProfiles {
    by_name: BTreeMap<String, PrinterProfile>,
}

impl PrinterProfiles {
    /// The built-in profiles, then every printer `*.toml` in `dir` (scanner files are skipped).
    pub fn load(dir: Option<&Path>) -> anyhow::Result<PrinterProfiles> {
        let mut profiles = PrinterProfiles::default();
        for (name, text) in BUILT_IN {
            profiles.insert(name, text)?;
        }
        if let Some(dir) = dir.filter(|d| d.is_dir()) {
            for entry in std::fs::read_dir(dir)? {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "toml") {
                    let name = path
                        .file_stem()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default()
                        .to_string();
                    let text = std::fs::read_to_string(&path)?;
                    profiles.insert(&name, &text)?;
                }
            }
        }
        Ok(profiles)
    }

    fn insert(&mut self, name: &str, text: &str) -> anyhow::Result<()> {
        let file: ProfileFile =
            toml::from_str(text).map_err(|e| anyhow::anyhow!("device profile {name}: {e}"))?;
        if file.kind != "printer" {
            return Ok(());
        }
        let printer = file
            .printer
            .ok_or_else(|| anyhow::anyhow!("printer profile {name}: [printer] is missing"))?;
        anyhow::ensure!(
            (72..=1200).contains(&printer.dpi),
            "printer profile {name}: dpi must be between 72 and 1200"
        );
        anyhow::ensure!(
            printer.label_width_mm > 0.0 && printer.label_height_mm > 0.0,
            "printer profile {name}: label_width_mm and label_height_mm must be positive"
        );
        if printer.shapes_complex_text {
            let font = printer.complex_text_font.as_deref().unwrap_or_default();
            // A drive letter, a colon and a file name: it goes into ZPL as it is.
            let valid = font.len() > 2
                && font.as_bytes()[0].is_ascii_uppercase()
                && font.as_bytes()[1] == b':'
                && font[2..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            anyhow::ensure!(
                valid,
                "printer profile {name}: shapes_complex_text needs complex_text_font, the \
                 printer's Unicode font as a ZPL path such as E:TT0003M_.TTF"
            );
        }
        self.by_name.insert(
            name.to_string(),
            PrinterProfile {
                name: name.to_string(),
                title: file.title,
                printer,
            },
        );
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&PrinterProfile> {
        self.by_name.get(name)
    }

    pub fn all(&self) -> impl Iterator<Item = &PrinterProfile> {
        self.by_name.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_profiles_load() {
        let p = PrinterProfiles::load(None).unwrap();
        let z = p.get("zebra-300-4x6").unwrap();
        assert_eq!(z.printer.language, Language::Zpl);
        assert_eq!(z.printer.dpi, 300);
        assert_eq!(z.printer.port, 9100);
        assert_eq!(
            p.get("zebra-203-58x40").unwrap().printer.label_width_mm,
            58.0
        );
        assert_eq!(p.get("pdf-file").unwrap().printer.language, Language::Pdf);
        assert!(p.get("honeywell").is_none());
        // No built-in printer claims to shape by itself.
        assert!(p.all().all(|p| !p.printer.shapes_complex_text));
        assert_eq!(z.printer.complex_text(), ComplexText::Graphic);
    }

    #[test]
    fn a_printer_that_shapes_names_its_font() {
        let base = "kind = \"printer\"\n[printer]\nlanguage = \"zpl\"\ndpi = 203\n\
                    label_width_mm = 100\nlabel_height_mm = 150\nshapes_complex_text = true\n";
        let mut p = PrinterProfiles::default();
        let e = p.insert("linkos", base).unwrap_err().to_string();
        assert!(e.contains("complex_text_font"), "{e}");
        let injected = format!("{base}complex_text_font = \"E:X.TTF^XZ\"\n");
        assert!(p.insert("linkos", &injected).is_err());
        let good = format!("{base}complex_text_font = \"E:TT0003M_.TTF\"\n");
        p.insert("linkos", &good).unwrap();
        assert_eq!(
            p.get("linkos").unwrap().printer.complex_text(),
            ComplexText::Printer {
                font: "E:TT0003M_.TTF".into()
            }
        );
    }
}
