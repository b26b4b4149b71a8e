//! ZPL renderer: to be written.

use crate::labels::layout::Page;

pub fn render(pages: &[Page], dpi: u32) -> String {
    let _ = (pages, dpi);
    String::new()
}
