//! Photos of barcodes: decode every code in the image, then resolve each like a scan.

use serde::Serialize;
use utoipa::ToSchema;

use crate::barcode::decode::{DecodeOptions, DecodedCode, Format};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::scanning::{Caller, ScanResult, Scanning};

/// The profile name logged for scans that came from a photo.
pub const IMAGE_PROFILE: &str = "image";

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// One barcode found in a photo.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FoundCode {
    /// `code128`, `ean13`, `qr_code`, `data_matrix`...
    pub format: String,
    /// The data, GS1 separators as U+001D, without the symbology identifier.
    pub text: String,
    /// AIM symbology identifier, e.g. `]C1` for GS1-128, `]d2` for GS1 DataMatrix.
    pub symbology: Option<String>,
    /// Corners (2D) or scan-line ends (1D) in the photo's pixel coordinates.
    pub points: Vec<Point>,
    /// The same answer `POST /v1/scans` gives for this code; `null` when it was refused.
    pub scan: Option<ScanResult>,
    /// Why the code was refused (invalid GS1 data), when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecodeResult {
    pub codes: Vec<FoundCode>,
}

/// Formats to look for: the request's list, else the device profile's, else all supported.
pub fn formats(
    scanning: &Scanning,
    requested: Option<&str>,
    caller: &Caller,
) -> Result<Vec<Format>> {
    if let Some(list) = requested.filter(|l| !l.trim().is_empty()) {
        return list
            .split(',')
            .map(|f| {
                f.trim().parse::<Format>().map_err(|_| {
                    Error::invalid("formats", format!("unknown barcode format '{}'", f.trim()))
                })
            })
            .collect();
    }
    let from_profile = caller
        .device_profile
        .as_deref()
        .and_then(|p| scanning.profiles.scanner(p))
        .map(|s| {
            s.formats
                .iter()
                .filter_map(|f| f.parse().ok())
                .collect::<Vec<Format>>()
        })
        .unwrap_or_default();
    Ok(from_profile)
}

pub fn options(formats: Vec<Format>, try_harder: bool, budget_ms: u64) -> DecodeOptions {
    DecodeOptions {
        formats,
        try_harder,
        budget: std::time::Duration::from_millis(budget_ms),
        ..DecodeOptions::default()
    }
}

/// Resolves each decoded code as a scan (logged with profile `image`).
pub async fn resolve_all(
    scanning: &Scanning,
    db: &Db,
    caller: &Caller,
    codes: Vec<DecodedCode>,
) -> Result<DecodeResult> {
    let mut found = Vec::with_capacity(codes.len());
    for code in codes {
        // The interpreter reads the symbology identifier to know GS1 data from plain data.
        let data = format!("{}{}", code.symbology.as_deref().unwrap_or(""), code.text);
        let (scan, error) = match scanning
            .resolve(db, caller, &data, data.clone(), IMAGE_PROFILE.to_string())
            .await
        {
            Ok(result) => (Some(result), None),
            Err(Error::InvalidBarcode { message, .. }) => (None, Some(message)),
            Err(e) => return Err(e),
        };
        found.push(FoundCode {
            format: code.format.as_str().to_string(),
            text: code.text,
            symbology: code.symbology,
            points: code.points.iter().map(|&(x, y)| Point { x, y }).collect(),
            scan,
            error,
        });
    }
    Ok(DecodeResult { codes: found })
}
