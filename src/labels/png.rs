//! PNG renderer (image + ab_glyph): one page as an 8-bit greyscale picture, white background.
//!
//! Barcode modules are snapped to whole pixels (each module boundary rounded to the nearest
//! pixel edge, never anti-aliased), so bars stay crisp and scannable at any dpi; text is
//! anti-aliased, shaped exactly as in the PDF ([`super::pdf::shape_line`]).

use ab_glyph::{Font, GlyphId, PxScale, point};
use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

use crate::error::{Error, Result};
use crate::labels::fonts;
use crate::labels::layout::{Align, Item, Page, Symbol, TextLine};
use crate::labels::pdf::{
    ascent_per_em, check_symbol, dark_runs, hri_top, line_start, rect_bands, shape, shape_line,
    symbol_origin,
};

/// The largest picture rendered, in pixels (a 4×6 in label at 600 dpi is 8.6 Mpx).
pub const MAX_PIXELS: u64 = 20_000_000;

struct Canvas {
    width: usize,
    height: usize,
    /// Pixels per millimetre.
    scale: f64,
    luma: Vec<u8>,
    /// Page pixel of this canvas's top-left corner: `(0, 0)` for a whole page, the box's corner
    /// for one line of text drawn alone ([`text_line_bitmap`]).
    origin: (i64, i64),
}

impl Canvas {
    /// Pixel edge nearest to `mm`, clamped to `0..=limit`.
    fn edge(&self, mm: f64, limit: usize) -> usize {
        let px = (mm * self.scale).round();
        if px <= 0.0 {
            0
        } else {
            (px as usize).min(limit)
        }
    }

    /// Fills the pixels between the edges nearest to the box's sides black.
    fn fill_px(&mut self, x0: usize, y0: usize, x1: usize, y1: usize) {
        for y in y0..y1 {
            self.luma[y * self.width + x0..y * self.width + x1].fill(0);
        }
    }

    /// Fills a box (mm) black, snapped to whole pixels; at least one pixel thick when the box
    /// is thinner than a pixel but not empty.
    fn fill_mm(&mut self, x: f64, y: f64, w: f64, h: f64) {
        if !(w > 0.0 && h > 0.0) {
            return;
        }
        let (x0, mut x1) = (self.edge(x, self.width), self.edge(x + w, self.width));
        let (y0, mut y1) = (self.edge(y, self.height), self.edge(y + h, self.height));
        if x1 == x0 && x0 < self.width {
            x1 = x0 + 1;
        }
        if y1 == y0 && y0 < self.height {
            y1 = y0 + 1;
        }
        self.fill_px(x0, y0, x1, y1);
    }

    /// Darkens pixel `(x, y)` by `coverage` (0..=1).
    fn darken(&mut self, x: i64, y: i64, coverage: f32) {
        let (x, y) = (x - self.origin.0, y - self.origin.1);
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return;
        }
        let p = &mut self.luma[y as usize * self.width + x as usize];
        let c = coverage.clamp(0.0, 1.0);
        *p = (f32::from(*p) * (1.0 - c)).round() as u8;
    }

    fn barcode(&mut self, x_mm: f64, y_mm: f64, height_mm: f64, module_mm: f64, symbol: &Symbol) {
        let x0 = symbol_origin(x_mm);
        // Module k spans [edge(k), edge(k + 1)): neighbouring modules share their rounded
        // edge, so no gap or overlap appears and every module is within a pixel of its size.
        let column_edge = |c: &Canvas, k: usize| c.edge(x0 + k as f64 * module_mm, c.width);
        if symbol.is_linear() {
            let top = self.edge(y_mm, self.height);
            let bottom = self.edge(y_mm + height_mm, self.height);
            for (start, count) in dark_runs(symbol, 0) {
                let (a, b) = (column_edge(self, start), column_edge(self, start + count));
                self.fill_px(a, top, b, bottom);
            }
        } else {
            let y0 = symbol_origin(y_mm);
            for row in 0..symbol.rows {
                let top = self.edge(y0 + row as f64 * module_mm, self.height);
                let bottom = self.edge(y0 + (row + 1) as f64 * module_mm, self.height);
                for (start, count) in dark_runs(symbol, row) {
                    let (a, b) = (column_edge(self, start), column_edge(self, start + count));
                    self.fill_px(a, top, b, bottom);
                }
            }
        }
    }

    /// Draws shaped glyphs starting at pen `x` (mm) on `baseline` (mm).
    fn glyphs(
        &mut self,
        glyphs: impl Iterator<Item = (u16, f64, f64, f64)>,
        mut x: f64,
        baseline: f64,
        size_mm: f64,
        bold: bool,
    ) {
        let font = fonts::font(bold);
        let upem = f64::from(font.units_per_em().unwrap_or(2048.0));
        // ab_glyph's scale is the pixel height of ascent − descent, not the em.
        let px_scale =
            PxScale::from((size_mm * self.scale * f64::from(font.height_unscaled()) / upem) as f32);
        for (id, advance, x_offset, y_offset) in glyphs {
            let position = point(
                ((x + x_offset) * self.scale) as f32,
                ((baseline - y_offset) * self.scale) as f32,
            );
            let glyph = GlyphId(id).with_scale_and_position(px_scale, position);
            if let Some(outlined) = font.outline_glyph(glyph) {
                let bounds = outlined.px_bounds();
                let (left, top) = (bounds.min.x as i64, bounds.min.y as i64);
                outlined.draw(|gx, gy, c| {
                    self.darken(left + i64::from(gx), top + i64::from(gy), c);
                });
            }
            x += advance;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn text(
        &mut self,
        x_mm: f64,
        y_mm: f64,
        width_mm: f64,
        size_mm: f64,
        line_height_mm: f64,
        bold: bool,
        align: Align,
        lines: &[TextLine],
    ) {
        if size_mm <= 0.0 {
            return;
        }
        let ascent = ascent_per_em(bold) * size_mm;
        for (i, line) in lines.iter().enumerate() {
            let glyphs = shape_line(&line.text, line.rtl, bold, size_mm);
            let advance: f64 = glyphs.iter().map(|g| g.x_advance).sum();
            let x = line_start(x_mm, width_mm, advance, align);
            let baseline = y_mm + i as f64 * line_height_mm + ascent;
            self.glyphs(
                glyphs
                    .into_iter()
                    .map(|g| (g.id, g.x_advance, g.x_offset, g.y_offset)),
                x,
                baseline,
                size_mm,
                bold,
            );
        }
    }

    /// A straight line of thickness `t` (mm), anti-aliased unless axis-aligned (then snapped
    /// like a filled box).
    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, t: f64) {
        if x1 == x2 || y1 == y2 {
            let (xa, xb) = (x1.min(x2), x1.max(x2));
            let (ya, yb) = (y1.min(y2), y1.max(y2));
            if y1 == y2 {
                self.fill_mm(xa, ya - t / 2.0, xb - xa, t);
            } else {
                self.fill_mm(xa - t / 2.0, ya, t, yb - ya);
            }
            return;
        }
        let s = self.scale;
        let (ax, ay, bx, by) = (x1 * s, y1 * s, x2 * s, y2 * s);
        let half = (t * s / 2.0).max(0.5);
        let (dx, dy) = (bx - ax, by - ay);
        let length2 = dx * dx + dy * dy;
        let min_x = (ax.min(bx) - half).floor().max(0.0) as i64;
        let max_x = (ax.max(bx) + half).ceil().min(self.width as f64) as i64;
        let min_y = (ay.min(by) - half).floor().max(0.0) as i64;
        let max_y = (ay.max(by) + half).ceil().min(self.height as f64) as i64;
        for py in min_y..max_y {
            for px in min_x..max_x {
                let (cx, cy) = (px as f64 + 0.5, py as f64 + 0.5);
                let along = ((cx - ax) * dx + (cy - ay) * dy) / length2;
                if !(0.0..=1.0).contains(&along) {
                    continue;
                }
                let (nx, ny) = (ax + along * dx, ay + along * dy);
                let distance = ((cx - nx).powi(2) + (cy - ny).powi(2)).sqrt();
                self.darken(px, py, (half - distance + 0.5) as f32);
            }
        }
    }

    /// A greyscale picture scaled into a box (nearest neighbour: logos keep hard edges).
    #[allow(clippy::too_many_arguments)]
    fn image(&mut self, x: f64, y: f64, w: f64, h: f64, pw: usize, ph: usize, luma: &[u8]) {
        let (x0, x1) = (self.edge(x, self.width), self.edge(x + w, self.width));
        let (y0, y1) = (self.edge(y, self.height), self.edge(y + h, self.height));
        let s = self.scale;
        for py in y0..y1 {
            let sy = (((py as f64 + 0.5) / s - y) / h * ph as f64).floor();
            let sy = (sy.max(0.0) as usize).min(ph - 1);
            for px in x0..x1 {
                let sx = (((px as f64 + 0.5) / s - x) / w * pw as f64).floor();
                let sx = (sx.max(0.0) as usize).min(pw - 1);
                let p = &mut self.luma[py * self.width + px];
                *p = (*p).min(luma[sy * pw + sx]);
            }
        }
    }
}

/// One line of text drawn alone, pixel for pixel as [`render`] draws it on the page, cropped to
/// its ink (the pixels darker than mid-grey): what a ZPL graphic field prints for text the
/// printer cannot shape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TextBitmap {
    /// Page pixel of the top-left corner.
    pub x: i64,
    pub y: i64,
    pub width: usize,
    pub height: usize,
    /// Row-major luma, 0 = black.
    pub luma: Vec<u8>,
}

impl TextBitmap {
    /// Whether pixel `(x, y)` prints on a 1-bit printer.
    pub fn dark(&self, x: usize, y: usize) -> bool {
        self.luma[y * self.width + x] < 128
    }
}

/// Draws `line` of a text item (`top_mm`: the line's top, as in [`Item::Text`]) at `dpi` alone
/// and crops it to its ink; `None` when nothing would print.
#[allow(clippy::too_many_arguments)]
pub(crate) fn text_line_bitmap(
    x_mm: f64,
    top_mm: f64,
    width_mm: f64,
    size_mm: f64,
    bold: bool,
    align: Align,
    line: &TextLine,
    dpi: u32,
) -> Option<TextBitmap> {
    if size_mm <= 0.0 || line.text.trim().is_empty() {
        return None;
    }
    let scale = f64::from(dpi) / 25.4;
    // The line box with a margin of half an em for marks, overhangs and descenders.
    let margin = size_mm / 2.0;
    let x0 = ((x_mm - margin) * scale).floor().max(0.0) as i64;
    let y0 = ((top_mm - margin) * scale).floor().max(0.0) as i64;
    let x1 = ((x_mm + width_mm + margin) * scale).ceil() as i64;
    let y1 = ((top_mm + size_mm * 1.5 + margin) * scale).ceil() as i64;
    let (width, height) = ((x1 - x0).max(1) as usize, (y1 - y0).max(1) as usize);
    let mut canvas = Canvas {
        width,
        height,
        scale,
        luma: vec![255; width * height],
        origin: (x0, y0),
    };
    canvas.text(
        x_mm,
        top_mm,
        width_mm,
        size_mm,
        size_mm,
        bold,
        align,
        std::slice::from_ref(line),
    );
    let dark = |x: usize, y: usize| canvas.luma[y * width + x] < 128;
    let rows: Vec<usize> = (0..height)
        .filter(|&y| (0..width).any(|x| dark(x, y)))
        .collect();
    let (&top, &bottom) = (rows.first()?, rows.last()?);
    let left = (0..width).find(|&x| (top..=bottom).any(|y| dark(x, y)))?;
    let right = (0..width)
        .rev()
        .find(|&x| (top..=bottom).any(|y| dark(x, y)))?;
    let (w, h) = (right - left + 1, bottom - top + 1);
    let mut luma = Vec::with_capacity(w * h);
    for y in top..=bottom {
        luma.extend_from_slice(&canvas.luma[y * width + left..=y * width + right]);
    }
    Some(TextBitmap {
        x: x0 + left as i64,
        y: y0 + top as i64,
        width: w,
        height: h,
        luma,
    })
}

/// Pixel size of a page at `dpi`.
pub fn pixel_size(page: &Page, dpi: u32) -> (u64, u64) {
    let px = |mm: f64| (mm / 25.4 * f64::from(dpi)).round().max(0.0) as u64;
    (px(page.width_mm), px(page.height_mm))
}

/// Renders one page at `dpi` into a greyscale PNG.
pub fn render(page: &Page, dpi: u32) -> Result<Vec<u8>> {
    let (width, height) = pixel_size(page, dpi);
    if width == 0 || height == 0 {
        return Err(Error::invalid(
            "page",
            format!(
                "{} × {} mm is not a page size",
                page.width_mm, page.height_mm
            ),
        ));
    }
    if width.saturating_mul(height) > MAX_PIXELS {
        return Err(Error::invalid(
            "dpi",
            format!(
                "{width} × {height} pixels at {dpi} dpi is more than {MAX_PIXELS} pixels; \
                 use a lower resolution"
            ),
        ));
    }
    let mut canvas = Canvas {
        width: width as usize,
        height: height as usize,
        scale: f64::from(dpi) / 25.4,
        luma: vec![255; (width * height) as usize],
        origin: (0, 0),
    };
    for item in &page.items {
        match item {
            Item::Text {
                x_mm,
                y_mm,
                width_mm,
                size_mm,
                line_height_mm,
                bold,
                align,
                lines,
                ..
            } => canvas.text(
                *x_mm,
                *y_mm,
                *width_mm,
                *size_mm,
                *line_height_mm,
                *bold,
                *align,
                lines,
            ),
            Item::Barcode {
                x_mm,
                y_mm,
                height_mm,
                module_mm,
                symbol,
                hri,
                hri_size_mm,
            } => {
                check_symbol(symbol)?;
                canvas.barcode(*x_mm, *y_mm, *height_mm, *module_mm, symbol);
                if let Some(text) = hri.as_deref().filter(|t| !t.trim().is_empty())
                    && symbol.is_linear()
                    && *hri_size_mm > 0.0
                {
                    let x0 = symbol_origin(*x_mm);
                    let glyphs = shape(text, false, *hri_size_mm);
                    let advance: f64 = glyphs.iter().map(|g| g.1).sum();
                    let x = line_start(
                        x0,
                        symbol.columns as f64 * module_mm,
                        advance,
                        Align::Center,
                    );
                    let baseline = hri_top(*y_mm, *height_mm, *hri_size_mm)
                        + ascent_per_em(false) * hri_size_mm;
                    canvas.glyphs(glyphs.into_iter(), x, baseline, *hri_size_mm, false);
                }
            }
            Item::Rect {
                x_mm,
                y_mm,
                width_mm,
                height_mm,
                thickness_mm,
                fill,
            } => {
                for [x, y, w, h] in
                    rect_bands(*x_mm, *y_mm, *width_mm, *height_mm, *thickness_mm, *fill)
                {
                    canvas.fill_mm(x, y, w, h);
                }
            }
            Item::Line {
                x1_mm,
                y1_mm,
                x2_mm,
                y2_mm,
                thickness_mm,
            } => canvas.line(*x1_mm, *y1_mm, *x2_mm, *y2_mm, *thickness_mm),
            Item::Image {
                x_mm,
                y_mm,
                width_mm,
                height_mm,
                pixels_wide,
                pixels_high,
                luma,
            } => {
                let (pw, ph) = (*pixels_wide as usize, *pixels_high as usize);
                if pw == 0 || ph == 0 || luma.len() != pw * ph {
                    return Err(Error::invalid(
                        "image",
                        format!("{} bytes are not a {pw}×{ph} greyscale image", luma.len()),
                    ));
                }
                if *width_mm > 0.0 && *height_mm > 0.0 {
                    canvas.image(*x_mm, *y_mm, *width_mm, *height_mm, pw, ph, luma);
                }
            }
        }
    }
    let mut out = Vec::with_capacity(canvas.luma.len() / 8);
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Adaptive)
        .write_image(
            &canvas.luma,
            canvas.width as u32,
            canvas.height as u32,
            image::ExtendedColorType::L8,
        )
        .map_err(|e| Error::Internal(anyhow::anyhow!("PNG encoding failed: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::layout::Symbology;

    fn decode(png: &[u8]) -> image::GrayImage {
        image::load_from_memory(png).unwrap().to_luma8()
    }

    #[test]
    fn modules_snap_to_whole_pixels() {
        // 0.3 mm modules at 203 dpi are 2.4 px: every bar edge must still be a hard edge.
        let symbol = Symbol {
            symbology: Symbology::Code128,
            data: String::new(),
            gs1: Vec::new(),
            columns: 9,
            rows: 1,
            modules: vec![true, false, true, true, false, false, true, false, true],
            quiet_modules: 2,
        };
        let page = Page {
            width_mm: 10.0,
            height_mm: 5.0,
            items: vec![Item::Barcode {
                x_mm: 0.5,
                y_mm: 1.0,
                height_mm: 2.0,
                module_mm: 0.3,
                symbol,
                hri: None,
                hri_size_mm: 0.0,
            }],
        };
        let img = decode(&render(&page, 203).unwrap());
        assert_eq!((img.width(), img.height()), (80, 40));
        assert!(img.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
        let row: Vec<bool> = (0..80).map(|x| img.get_pixel(x, 16).0[0] == 0).collect();
        let dark = row.iter().filter(|d| **d).count();
        // 5 dark modules of 2.4 px: 12 px give or take the rounding of 3 runs.
        assert!((10..=14).contains(&dark), "{dark}");
        // Nothing before the first module (0.5 mm = 4 px).
        assert!(row[..4].iter().all(|d| !d));
        assert!(row[4]);
    }

    #[test]
    fn refuses_huge_pictures_and_draws_text() {
        let page = Page {
            width_mm: 300.0,
            height_mm: 300.0,
            items: vec![],
        };
        assert!(render(&page, 1200).is_err());
        let page = Page {
            width_mm: 40.0,
            height_mm: 10.0,
            items: vec![Item::Text {
                x_mm: 1.0,
                y_mm: 1.0,
                width_mm: 38.0,
                size_mm: 4.0,
                line_height_mm: 5.0,
                bold: true,
                align: Align::Center,
                lines: vec![TextLine {
                    text: "شركة النور".into(),
                    rtl: true,
                }],
                fit: Default::default(),
            }],
        };
        let img = decode(&render(&page, 203).unwrap());
        let dark = img.pixels().filter(|p| p.0[0] < 128).count();
        assert!(dark > 100, "{dark}");
        // Anti-aliased: some grey pixels.
        assert!(img.pixels().any(|p| p.0[0] > 30 && p.0[0] < 220));
    }
}
