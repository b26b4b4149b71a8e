//! PNG renderer (image): to be written.

use crate::error::{Error, Result};
use crate::labels::layout::Page;

/// Renders one page at `dpi` into a greyscale PNG.
pub fn render(page: &Page, dpi: u32) -> Result<Vec<u8>> {
    let _ = (page, dpi);
    Err(Error::Internal(anyhow::anyhow!("PNG rendering is not built yet")))
}
