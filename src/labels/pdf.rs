//! PDF renderer (printpdf): to be written.

use crate::error::{Error, Result};
use crate::labels::layout::Page;

/// Renders pages (one per label or sheet) into one PDF.
pub fn render(pages: &[Page]) -> Result<Vec<u8>> {
    let _ = pages;
    Err(Error::Internal(anyhow::anyhow!("PDF rendering is not built yet")))
}
