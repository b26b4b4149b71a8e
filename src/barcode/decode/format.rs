//! The barcode formats Depot decodes, their names in profiles and JSON, and their mapping to rxing.

use std::fmt;
use std::str::FromStr;

use rxing::BarcodeFormat;
use serde::{Deserialize, Serialize};

/// A barcode symbology that the decoder can look for.
///
/// Serialised in snake_case (`"code128"`, `"ean13"`, `"upc_a"`, `"qr_code"`, `"data_matrix"`,
/// `"data_bar_expanded"`, ...). [`FromStr`] accepts those names and common spellings used in
/// device profiles (case, `-`, `_` and spaces are ignored: `QR_CODE`, `qrcode`, `QR`, `Code-128`,
/// `gs1-128`, `DataMatrix`, `rss14`, `rss_expanded`, `itf14`, ...).
///
/// There is no separate GS1-128 / GS1 DataMatrix / GS1 QR format: GS1-ness is reported through
/// [`DecodedCode::symbology`](super::DecodedCode::symbology) (`]C1`, `]d2`, `]Q3`, `]e0`).
/// MaxiCode is deliberately absent (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Code128,
    Ean13,
    Ean8,
    UpcA,
    UpcE,
    Code39,
    Code93,
    Codabar,
    Itf,
    QrCode,
    DataMatrix,
    Pdf417,
    Aztec,
    DataBar,
    DataBarExpanded,
}

/// Formats searched when a device profile names none.
///
/// Everything in [`Format::ALL`] except Codabar, Code 93, GS1 DataBar and DataBar Expanded:
/// rare in a warehouse, and each 1D format adds its own pass over every scanned row. Measured
/// with `cargo bench --bench decode` (TryHarder, code-free 1920x1080 photos decoded at
/// 1600x900, median): each of those four alone costs 12-17 ms (DataBar and DataBar Expanded
/// are the dearest 1D readers), and the defaults take 43 ms against 60 ms for all fifteen.
/// A profile that needs one of them lists it explicitly.
///
/// Aztec stays in (0.8-4 ms). rxing's Aztec detector, a port of ZXing Java's, starts from the
/// image centre and misses a symbol elsewhere in the frame; Depot finds the bullseyes itself
/// and runs rxing's reader on a window around each (`bullseye.rs`).
pub const DEFAULT_FORMATS: &[Format] = &[
    Format::Code128,
    Format::Ean13,
    Format::Ean8,
    Format::UpcA,
    Format::UpcE,
    Format::Code39,
    Format::Itf,
    Format::QrCode,
    Format::DataMatrix,
    Format::Pdf417,
    Format::Aztec,
];

impl Format {
    /// Every format, in declaration order.
    pub const ALL: &'static [Format] = &[
        Format::Code128,
        Format::Ean13,
        Format::Ean8,
        Format::UpcA,
        Format::UpcE,
        Format::Code39,
        Format::Code93,
        Format::Codabar,
        Format::Itf,
        Format::QrCode,
        Format::DataMatrix,
        Format::Pdf417,
        Format::Aztec,
        Format::DataBar,
        Format::DataBarExpanded,
    ];

    /// The snake_case name used in JSON and profiles.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Code128 => "code128",
            Format::Ean13 => "ean13",
            Format::Ean8 => "ean8",
            Format::UpcA => "upc_a",
            Format::UpcE => "upc_e",
            Format::Code39 => "code39",
            Format::Code93 => "code93",
            Format::Codabar => "codabar",
            Format::Itf => "itf",
            Format::QrCode => "qr_code",
            Format::DataMatrix => "data_matrix",
            Format::Pdf417 => "pdf417",
            Format::Aztec => "aztec",
            Format::DataBar => "data_bar",
            Format::DataBarExpanded => "data_bar_expanded",
        }
    }

    /// True for linear (row-scanned) symbologies.
    pub fn is_linear(self) -> bool {
        !matches!(
            self,
            Format::QrCode | Format::DataMatrix | Format::Pdf417 | Format::Aztec
        )
    }

    /// The AIM symbology identifier to report when rxing gives none: the plain (non-GS1)
    /// modifier of each symbology, per ISO/IEC 15424.
    pub fn default_symbology(self) -> &'static str {
        match self {
            Format::Code128 => "]C0",
            Format::Ean13 | Format::UpcA | Format::UpcE => "]E0",
            Format::Ean8 => "]E4",
            Format::Code39 => "]A0",
            Format::Code93 => "]G0",
            Format::Codabar => "]F0",
            Format::Itf => "]I0",
            Format::QrCode => "]Q1",
            Format::DataMatrix => "]d1",
            Format::Pdf417 => "]L0",
            Format::Aztec => "]z0",
            Format::DataBar | Format::DataBarExpanded => "]e0",
        }
    }

    pub(crate) fn to_rxing(self) -> BarcodeFormat {
        match self {
            Format::Code128 => BarcodeFormat::CODE_128,
            Format::Ean13 => BarcodeFormat::EAN_13,
            Format::Ean8 => BarcodeFormat::EAN_8,
            Format::UpcA => BarcodeFormat::UPC_A,
            Format::UpcE => BarcodeFormat::UPC_E,
            Format::Code39 => BarcodeFormat::CODE_39,
            Format::Code93 => BarcodeFormat::CODE_93,
            Format::Codabar => BarcodeFormat::CODABAR,
            Format::Itf => BarcodeFormat::ITF,
            Format::QrCode => BarcodeFormat::QR_CODE,
            Format::DataMatrix => BarcodeFormat::DATA_MATRIX,
            Format::Pdf417 => BarcodeFormat::PDF_417,
            Format::Aztec => BarcodeFormat::AZTEC,
            Format::DataBar => BarcodeFormat::RSS_14,
            Format::DataBarExpanded => BarcodeFormat::RSS_EXPANDED,
        }
    }

    pub(crate) fn from_rxing(format: &BarcodeFormat) -> Option<Format> {
        Some(match format {
            BarcodeFormat::CODE_128 => Format::Code128,
            BarcodeFormat::EAN_13 => Format::Ean13,
            BarcodeFormat::EAN_8 => Format::Ean8,
            BarcodeFormat::UPC_A => Format::UpcA,
            BarcodeFormat::UPC_E => Format::UpcE,
            BarcodeFormat::CODE_39 => Format::Code39,
            BarcodeFormat::CODE_93 => Format::Code93,
            BarcodeFormat::CODABAR => Format::Codabar,
            BarcodeFormat::ITF => Format::Itf,
            BarcodeFormat::QR_CODE => Format::QrCode,
            BarcodeFormat::DATA_MATRIX => Format::DataMatrix,
            BarcodeFormat::PDF_417 => Format::Pdf417,
            BarcodeFormat::AZTEC => Format::Aztec,
            BarcodeFormat::RSS_14 => Format::DataBar,
            BarcodeFormat::RSS_EXPANDED => Format::DataBarExpanded,
            _ => return None,
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A format name that [`Format::from_str`] does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown barcode format {0:?}")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let key: String = s
            .chars()
            .filter(|c| !matches!(c, '_' | '-' | ' ' | '.'))
            .flat_map(char::to_lowercase)
            .collect();
        Ok(match key.as_str() {
            "code128" | "gs1128" | "ean128" | "ucc128" => Format::Code128,
            "ean13" | "gtin13" | "jan13" => Format::Ean13,
            "ean8" | "gtin8" => Format::Ean8,
            "upca" | "upc" | "gtin12" => Format::UpcA,
            "upce" => Format::UpcE,
            "code39" => Format::Code39,
            "code93" => Format::Code93,
            "codabar" => Format::Codabar,
            "itf" | "itf14" | "interleaved2of5" | "i2of5" => Format::Itf,
            "qrcode" | "qr" | "gs1qrcode" => Format::QrCode,
            "datamatrix" | "gs1datamatrix" | "dm" => Format::DataMatrix,
            "pdf417" => Format::Pdf417,
            "aztec" => Format::Aztec,
            "databar" | "gs1databar" | "rss14" | "databaromni" | "databaromnidirectional" => {
                Format::DataBar
            }
            "databarexpanded" | "gs1databarexpanded" | "rssexpanded" => Format::DataBarExpanded,
            _ => return Err(UnknownFormat(s.to_owned())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_snake_case_and_match_as_str() {
        for f in Format::ALL {
            let json = serde_json::to_string(f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.as_str()));
            let back: Format = serde_json::from_str(&json).unwrap();
            assert_eq!(back, *f);
            assert_eq!(f.as_str().parse::<Format>().unwrap(), *f);
            assert_eq!(Format::from_rxing(&f.to_rxing()), Some(*f));
        }
        assert_eq!(Format::QrCode.as_str(), "qr_code");
        assert_eq!(Format::DataMatrix.as_str(), "data_matrix");
    }

    #[test]
    fn from_str_accepts_profile_spellings() {
        assert_eq!("QR_CODE".parse::<Format>().unwrap(), Format::QrCode);
        assert_eq!("qr".parse::<Format>().unwrap(), Format::QrCode);
        assert_eq!("Code-128".parse::<Format>().unwrap(), Format::Code128);
        assert_eq!("GS1-128".parse::<Format>().unwrap(), Format::Code128);
        assert_eq!("DataMatrix".parse::<Format>().unwrap(), Format::DataMatrix);
        assert_eq!(
            "rss_expanded".parse::<Format>().unwrap(),
            Format::DataBarExpanded
        );
        assert!("maxicode".parse::<Format>().is_err());
        assert!("".parse::<Format>().is_err());
    }

    #[test]
    fn defaults_are_a_subset_without_duplicates() {
        let mut seen = std::collections::HashSet::new();
        for f in DEFAULT_FORMATS {
            assert!(Format::ALL.contains(f));
            assert!(seen.insert(*f));
        }
    }
}
