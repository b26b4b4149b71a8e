//! Barcode decoding from photos (rxing 0.9.3), free of HTTP.
//!
//! Serves `POST /v1/scans/decode`: a JPEG/PNG/WebP/BMP upload in, every barcode found out.
//!
//! # Pipeline
//! 1. [`probe`]: sniff the container from magic bytes (`image::guess_format`) and read the
//!    dimensions from the header only. Unknown or unsupported formats are
//!    [`DecodeError::NotAnImage`], unreadable headers [`DecodeError::Corrupt`], anything beyond
//!    [`MAX_SIDE`] / [`MAX_PIXELS`] [`DecodeError::TooLarge`] (before any pixel is decoded, so
//!    decompression bombs cost nothing), anything under [`MIN_SIDE`] [`DecodeError::TooSmall`].
//! 2. In a worker: decode the pixels under `image::Limits`, flatten alpha onto white, apply the
//!    EXIF orientation, convert to luma and downscale (area averaging) so that the long side is
//!    at most [`DecodeOptions::max_pixels`].
//! 3. Linear symbols (`linear.rs`): Depot's own scan lines (rows, and columns for upright
//!    symbols) thresholded against their local mean and read by rxing's row decoders, forwards
//!    and backwards, dark-on-light and light-on-dark, all symbols in one sweep; a code counts
//!    only when at least two lines (three for UPC-E and EAN-8) read it. 2D symbols: each
//!    format's rxing reader over one binarisation; each found symbol is painted white and that
//!    format's reader runs again, up to [`MAX_CODES`]. This replaces rxing's
//!    `GenericMultipleBarcodeReader`, whose recursion re-finds a 1D symbol in the regions above
//!    and below its scan line, and `MultiFormatReader`'s 1D search, which accepts a single
//!    misread row (issue 19: a UPC-E read from a photo of text) and never reads light-on-dark.
//!    Aztec also around every bullseye Depot finds in the first binarisation (`bullseye.rs`):
//!    rxing's Aztec detector only looks at the image centre; a symbol it still cannot read is
//!    turned upright by the tilt measured on its bullseye's rings and read again. The linear
//!    sweep and the 2D search run on a core each; when neither finds anything, both look
//!    again: the linear sweep with a threshold for blurred photos, the 2D search over rxing's
//!    global-histogram binarisation (low contrast, skew, JPEG).
//! 4. Normalise (see `normalize.rs`): GS1 data always comes back as an element string with GS
//!    (0x1D) separators and no AIM prefix; the AIM identifier is in
//!    [`DecodedCode::symbology`]. Points are scaled back to the original image's pixel
//!    coordinates (after EXIF orientation, i.e. as the photo is displayed).
//!
//! # Workers, budget and isolation
//! [`Decoder`] bounds concurrency (`workers` permits) and queueing (a waiting-request limit,
//! then [`DecodeError::Busy`]), and enforces [`DecodeOptions::budget`] on each decode.
//! A thread cannot be stopped from outside, so the production backend runs the decode in
//! **persistent worker processes**: the current executable re-executed with
//! `DEPOT_DECODE_WORKER=1` (see [`run_worker_if_requested`], called first thing in `main`).
//! Each worker takes one request at a time over stdin/stdout; on timeout it is killed
//! (`SIGKILL`) and replaced in the background, so a runaway decode cannot hold a worker.
//! Workers also kill themselves if a request overruns its budget by
//! [`WORKER_WATCHDOG_GRACE`] (for when the parent is gone). Panics are caught in the worker;
//! a crash (abort, stack overflow, OOM kill) only loses that worker. Workers run with an empty
//! environment (no database URL or secrets reach the process that parses untrusted input).
//!
//! Where the executable cannot host a worker (unit tests, benches, other binaries), the
//! in-thread backend runs the same code on tokio's blocking pool, with `catch_unwind` and the
//! same budget; a timed-out thread keeps running, and keeps its permit until it returns, so a
//! truly hung decode permanently costs one slot there. [`Decoder::new`] picks processes only
//! when `main` registered the worker entry; integration tests point
//! [`Decoder::with_worker_exe`] at `env!("CARGO_BIN_EXE_depot")`.
//!
//! # rxing facts this relies on (STANDARDS.md section 6)
//! - MaxiCode is not compiled in (its detector never returns on tiny uniform images), nor are
//!   rxing's `image`/`imageproc` glue and every image codec: we decode with `image` ourselves
//!   (JPEG, PNG, WebP, BMP only) and hand rxing a `Luma8LuminanceSource`.
//! - Without `AssumeGs1`, Code 128 drops FNC1 entirely; with it, text starts with `]C1` and
//!   later FNC1s are GS. DataMatrix and QR put GS in the text themselves; DataBar Expanded
//!   returns bracketed HRI, converted here.

mod bullseye;
mod engine;
mod format;
mod linear;
mod normalize;
mod pool;
mod raster;
mod worker;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use engine::{DecodeOutcome, MAX_CODES, decode_bytes, decode_bytes_detailed, decode_luma};
pub use format::{DEFAULT_FORMATS, Format, UnknownFormat};
pub use pool::{Decoder, DecoderMode, DecoderStats};
pub use raster::{ImageInfo, LumaImage, MAX_PIXELS, MAX_SIDE, MIN_SIDE, load_luma, probe};
pub use worker::{
    WORKER_ENV, WORKER_WATCHDOG_GRACE, run_worker_if_requested, worker_entry_registered,
    worker_main,
};

/// What to look for and how hard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodeOptions {
    /// Formats to search for; empty means [`DEFAULT_FORMATS`]. Fewer formats decode faster.
    pub formats: Vec<Format>,
    /// Also scan columns for upright linear symbols, and search DataMatrix with rxing's
    /// TryHarder (the only 2D reader that reads more with it on the camera corpus).
    pub try_harder: bool,
    /// Wall-clock limit for one decode once a worker has it (queue wait is limited by the same
    /// amount separately, then [`DecodeError::Busy`]).
    pub budget: Duration,
    /// Downscale target: the long side of larger images is reduced to this many pixels before
    /// decoding (0 = never). 1600 keeps 1D codes that span a third of a phone photo readable.
    pub max_pixels: u32,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            formats: DEFAULT_FORMATS.to_vec(),
            try_harder: true,
            budget: Duration::from_secs(2),
            max_pixels: 1600,
        }
    }
}

/// One barcode found in the image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodedCode {
    pub format: Format,
    /// The data. GS1 element strings carry GS (`\x1d`) separators; the AIM identifier is not
    /// included (it is in `symbology`).
    pub text: String,
    /// AIM symbology identifier: `]C1` GS1-128, `]C0` Code 128, `]d2` GS1 DataMatrix, `]Q3`
    /// GS1 QR, `]E0` EAN-13/UPC, `]E4` EAN-8, `]e0` DataBar... From rxing's metadata, else the
    /// format's plain identifier.
    pub symbology: Option<String>,
    /// Corners (2D) or the scan line's ends (1D), in the original image's pixel coordinates.
    pub points: Vec<(f32, f32)>,
}

impl DecodedCode {
    /// True when the symbology identifier marks GS1 data (`]C1`, `]d2`, `]d5`, `]Q3`, `]Q4`,
    /// `]e0`, `]J1`).
    pub fn is_gs1(&self) -> bool {
        matches!(
            self.symbology.as_deref(),
            Some("]C1" | "]d2" | "]d5" | "]Q3" | "]Q4" | "]e0" | "]J1")
        )
    }
}

/// Why no result list could be produced. An image without barcodes is not an error
/// (`Ok(vec![])`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum DecodeError {
    /// Not a JPEG, PNG, WebP or BMP by its magic bytes (HTTP 415).
    #[error("not a supported image: {0}")]
    NotAnImage(String),
    /// A supported container that cannot be decoded (HTTP 422).
    #[error("corrupt image: {0}")]
    Corrupt(String),
    /// Too small to hold a barcode (HTTP 422).
    #[error("image too small to hold a barcode: {w}x{h}")]
    TooSmall { w: u32, h: u32 },
    /// Pixel dimensions beyond the hard limit, from the header (HTTP 413).
    #[error("image dimensions too large: {w}x{h}")]
    TooLarge { w: u32, h: u32 },
    /// The decode did not finish within the budget; its worker was killed (HTTP 422 or 503).
    #[error("barcode decoding ran out of time")]
    Timeout,
    /// Every worker busy and the queue full, or the queue wait exceeded the budget (HTTP 503).
    #[error("barcode decoder busy")]
    Busy,
    /// The decoder itself failed (worker could not be started, protocol error).
    #[error("barcode decoder failure: {0}")]
    Internal(String),
}

impl DecodeError {
    /// A stable machine-readable code for problem responses and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::NotAnImage(_) => "not_an_image",
            DecodeError::Corrupt(_) => "corrupt_image",
            DecodeError::TooSmall { .. } => "image_too_small",
            DecodeError::TooLarge { .. } => "image_too_large",
            DecodeError::Timeout => "decode_timeout",
            DecodeError::Busy => "decoder_busy",
            DecodeError::Internal(_) => "decoder_failure",
        }
    }
}
