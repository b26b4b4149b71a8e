//! PDF renderer (printpdf 0.12.8, Op-list API): one PDF page per [`Page`], vector barcodes
//! (every horizontal run of dark modules one filled rectangle), text in the embedded and
//! subset DejaVu Sans, shaped with rustybuzz (Arabic joining forms, bidi runs) and written as
//! positioned glyph ids whose ToUnicode entries are the source characters, so the text stays
//! extractable and searchable.
//!
//! Layout coordinates are mm from the top-left, y downwards; PDF's are pt from the
//! bottom-left, y upwards: every item is flipped here.
//!
//! Also [`sheet`]: labels placed in a grid on A4 pages, for office printers.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::sync::OnceLock;

use printpdf::{
    Codepoint, FontId, Line, LinePoint, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle,
    PdfPage, PdfSaveOptions, Point, Pt, RawImage, RawImageData, RawImageFormat, Rect, TextItem,
    TextMatrix, XObjectTransform,
};
use rustybuzz::{Direction, Face, UnicodeBuffer};
use unicode_bidi::{BidiInfo, Level};

use crate::error::{Error, Result};
use crate::labels::fonts;
use crate::labels::layout::{Align, Item, Page, Symbol, TextLine};

const PT_PER_MM: f64 = 72.0 / 25.4;
/// A4 portrait, in mm.
const A4_WIDTH_MM: f64 = 210.0;
const A4_HEIGHT_MM: f64 = 297.0;

// ---------------------------------------------------------------------------------------------
// Shaping (shared with the PNG renderer)

/// One shaped glyph, in the units of the `size` it was shaped at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Glyph {
    pub id: u16,
    pub x_advance: f64,
    pub x_offset: f64,
    /// Upwards, as in the font (PDF's direction; the PNG renderer negates it).
    pub y_offset: f64,
    /// Byte range of the source characters this glyph starts (empty for the second and
    /// later glyphs of a cluster).
    pub chars: Range<usize>,
}

fn face(bold: bool) -> &'static Face<'static> {
    static REGULAR: OnceLock<Face<'static>> = OnceLock::new();
    static BOLD: OnceLock<Face<'static>> = OnceLock::new();
    let cell = if bold { &BOLD } else { &REGULAR };
    cell.get_or_init(|| {
        // Compiled-in bytes: a failure here is a broken build.
        Face::from_slice(fonts::bytes(bold), 0).expect("the embedded DejaVu font parses")
    })
}

/// Shapes `text` at an em size of `size` (any unit; results are in the same unit), laying
/// it out in visual order (left to right on the page). The paragraph direction comes from
/// the first strong character ([`fonts::is_rtl`]); mixed-direction text is split into bidi
/// runs, each shaped in its own direction. Returns `(glyph id, x advance, x offset, y offset)`
/// with y upwards.
pub(crate) fn shape(text: &str, bold: bool, size: f64) -> Vec<(u16, f64, f64, f64)> {
    shape_line(text, fonts::is_rtl(text), bold, size)
        .into_iter()
        .map(|g| (g.id, g.x_advance, g.x_offset, g.y_offset))
        .collect()
}

/// [`shape`] with an explicit paragraph direction and the source characters of each glyph.
pub(crate) fn shape_line(text: &str, rtl: bool, bold: bool, size: f64) -> Vec<Glyph> {
    let face = face(bold);
    let scale = size / f64::from(face.units_per_em());
    let mut glyphs = Vec::new();
    if text.is_empty() {
        return glyphs;
    }
    let base = if rtl { Level::rtl() } else { Level::ltr() };
    let bidi = BidiInfo::new(text, Some(base));
    for paragraph in &bidi.paragraphs {
        let (levels, runs) = bidi.visual_runs(paragraph, paragraph.range.clone());
        for run in runs {
            let run_text = &text[run.clone()];
            // Line breaks and other controls have no glyph worth drawing.
            if run_text.chars().all(|c| c.is_control()) {
                continue;
            }
            let mut buffer = UnicodeBuffer::new();
            buffer.push_str(run_text);
            buffer.guess_segment_properties();
            buffer.set_direction(if levels[run.start].is_rtl() {
                Direction::RightToLeft
            } else {
                Direction::LeftToRight
            });
            let shaped = rustybuzz::shape(face, &[], buffer);
            // Cluster starts in logical order, to find where each cluster's text ends.
            let mut starts: Vec<usize> = shaped
                .glyph_infos()
                .iter()
                .map(|i| i.cluster as usize)
                .collect();
            starts.sort_unstable();
            starts.dedup();
            let mut seen = vec![false; starts.len()];
            for (info, pos) in shaped.glyph_infos().iter().zip(shaped.glyph_positions()) {
                let start = info.cluster as usize;
                let k = starts.binary_search(&start).unwrap_or(0);
                let chars = if seen[k] {
                    run.start + start..run.start + start
                } else {
                    seen[k] = true;
                    let end = starts.get(k + 1).copied().unwrap_or(run_text.len());
                    run.start + start..run.start + end
                };
                glyphs.push(Glyph {
                    id: u16::try_from(info.glyph_id).unwrap_or(0),
                    x_advance: f64::from(pos.x_advance) * scale,
                    x_offset: f64::from(pos.x_offset) * scale,
                    y_offset: f64::from(pos.y_offset) * scale,
                    chars,
                });
            }
        }
    }
    glyphs
}

/// Ascent of the face (distance from the top of a text line to its baseline) per em.
pub(crate) fn ascent_per_em(bold: bool) -> f64 {
    let face = face(bold);
    f64::from(face.ascender()) / f64::from(face.units_per_em())
}

/// Where a line of `advance` starts within `[x, x + width]`.
pub(crate) fn line_start(x: f64, width: f64, advance: f64, align: Align) -> f64 {
    match align {
        Align::Left => x,
        Align::Center => x + (width - advance) / 2.0,
        Align::Right => x + width - advance,
    }
}

/// Where a symbol's first module starts, from the item's `x_mm` (or, for 2D, `y_mm`). The
/// layout (`template.rs`) places `x_mm`/`y_mm` on the first module, with the quiet zone
/// already reserved outside it; the renderers draw nothing on the quiet zone.
pub(crate) fn symbol_origin(mm: f64) -> f64 {
    mm
}

/// The HRI line's top, below the bars of a linear symbol.
pub(crate) fn hri_top(y_mm: f64, height_mm: f64, hri_size_mm: f64) -> f64 {
    y_mm + height_mm + hri_size_mm * 0.2
}

/// Horizontal runs of dark modules in row `row`: `(first column, count)`.
pub(crate) fn dark_runs(symbol: &Symbol, row: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut column = 0;
    std::iter::from_fn(move || {
        while column < symbol.columns && !symbol.dark(column, row) {
            column += 1;
        }
        if column >= symbol.columns {
            return None;
        }
        let start = column;
        while column < symbol.columns && symbol.dark(column, row) {
            column += 1;
        }
        Some((start, column - start))
    })
}

/// Checks a symbol's module count against its declared size (a broken layout must not panic
/// a renderer).
pub(crate) fn check_symbol(symbol: &Symbol) -> Result<()> {
    if symbol.columns == 0
        || symbol.rows == 0
        || symbol.modules.len() != symbol.columns.saturating_mul(symbol.rows)
    {
        return Err(Error::invalid(
            "barcode",
            format!(
                "{} modules do not make {} columns by {} rows",
                symbol.modules.len(),
                symbol.columns,
                symbol.rows
            ),
        ));
    }
    Ok(())
}

/// Outline of a rectangle as up to four filled bands inside its box (as ZPL's `^GB` draws
/// borders), or one band when the border fills it: `(x, y, width, height)` in mm.
pub(crate) fn rect_bands(x: f64, y: f64, w: f64, h: f64, t: f64, fill: bool) -> Vec<[f64; 4]> {
    if fill || t * 2.0 >= w.min(h) {
        return vec![[x, y, w, h]];
    }
    vec![
        [x, y, w, t],
        [x, y + h - t, w, t],
        [x, y + t, t, h - 2.0 * t],
        [x + w - t, y + t, t, h - 2.0 * t],
    ]
}

// ---------------------------------------------------------------------------------------------
// PDF

/// The glyphs used of each face while the pages are drawn. Text ops name a face by a
/// placeholder id and use the full font's glyph ids; [`embed_fonts`] then subsets each face to
/// the glyphs used, adds it to the document and rewrites ids and glyph ids.
#[derive(Default)]
struct Fonts {
    regular: BTreeSet<u16>,
    bold: BTreeSet<u16>,
}

const REGULAR_PLACEHOLDER: &str = "depot-dejavu-sans";
const BOLD_PLACEHOLDER: &str = "depot-dejavu-sans-bold";

impl Fonts {
    fn handle(bold: bool) -> PdfFontHandle {
        PdfFontHandle::External(FontId(
            if bold {
                BOLD_PLACEHOLDER
            } else {
                REGULAR_PLACEHOLDER
            }
            .to_string(),
        ))
    }

    fn used(&mut self, bold: bool) -> &mut BTreeSet<u16> {
        if bold {
            &mut self.bold
        } else {
            &mut self.regular
        }
    }
}

/// Subsets one face to `used` (plus .notdef): the subset's bytes and the new id of every
/// used glyph (allsorts numbers the requested glyphs in request order).
fn subset_face(bold: bool, used: &BTreeSet<u16>) -> Result<(Vec<u8>, HashMap<u16, u16>)> {
    use allsorts::binary::read::ReadScope;
    use allsorts::font_data::FontData;
    use allsorts::subset::{CmapTarget, SubsetProfile, subset};

    let failed = |e: &dyn std::fmt::Display| {
        Error::Internal(anyhow::anyhow!(
            "subsetting the embedded DejaVu font failed: {e}"
        ))
    };
    let ids: Vec<u16> = std::iter::once(0)
        .chain(used.iter().copied().filter(|g| *g != 0))
        .collect();
    let file = ReadScope::new(fonts::bytes(bold))
        .read::<FontData<'_>>()
        .map_err(|e| failed(&e))?;
    let provider = file.table_provider(0).map_err(|e| failed(&e))?;
    let bytes = subset(&provider, &ids, &SubsetProfile::Pdf, CmapTarget::Unicode)
        .map_err(|e| failed(&e))?;
    let map = ids
        .iter()
        .enumerate()
        .map(|(new, old)| (*old, new as u16))
        .collect();
    Ok((bytes, map))
}

/// Adds the subset faces to the document and points the pages' text at them.
fn embed_fonts(doc: &mut PdfDocument, fonts: &Fonts, pages: &mut [Vec<Op>]) -> Result<()> {
    let mut faces: HashMap<&str, (FontId, HashMap<u16, u16>)> = HashMap::new();
    for (bold, used, placeholder) in [
        (false, &fonts.regular, REGULAR_PLACEHOLDER),
        (true, &fonts.bold, BOLD_PLACEHOLDER),
    ] {
        if used.is_empty() {
            continue;
        }
        let (bytes, map) = subset_face(bold, used)?;
        let mut warnings = Vec::new();
        let parsed = ParsedFont::from_bytes(&bytes, 0, &mut warnings).ok_or_else(|| {
            Error::Internal(anyhow::anyhow!(
                "the subset DejaVu font does not parse: {warnings:?}"
            ))
        })?;
        faces.insert(placeholder, (doc.add_font(&parsed), map));
    }
    for ops in pages {
        let mut current: Option<&HashMap<u16, u16>> = None;
        for op in ops.iter_mut() {
            match op {
                Op::SetFont {
                    font: PdfFontHandle::External(id),
                    ..
                } => {
                    if let Some((real, map)) = faces.get(id.0.as_str()) {
                        *id = real.clone();
                        current = Some(map);
                    }
                }
                Op::ShowText { items } => {
                    let Some(map) = current else { continue };
                    for item in items {
                        if let TextItem::GlyphIds(glyphs) = item {
                            for g in glyphs {
                                g.gid = map.get(&g.gid).copied().unwrap_or(0);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn pt(mm: f64) -> Pt {
    Pt((mm * PT_PER_MM) as f32)
}

/// Page-space point from layout mm (`height_mm` is the page height, for the flip).
fn point(x_mm: f64, y_mm: f64, height_mm: f64) -> Point {
    Point {
        x: pt(x_mm),
        y: pt(height_mm - y_mm),
    }
}

fn filled(x: f64, y: f64, w: f64, h: f64, page_h: f64) -> Op {
    Op::DrawRectangle {
        rectangle: Rect {
            x: pt(x),
            y: pt(page_h - y - h),
            width: pt(w),
            height: pt(h),
            mode: Some(PaintMode::Fill),
            winding_order: None,
        },
    }
}

/// Draws shaped lines: every glyph placed by its own text matrix (printpdf merges the
/// same-baseline ones into one `TJ`), its ToUnicode entry the characters it stands for.
#[allow(clippy::too_many_arguments)]
fn text_ops(
    ops: &mut Vec<Op>,
    fonts: &mut Fonts,
    page_h: f64,
    x_mm: f64,
    y_mm: f64,
    width_mm: f64,
    size_mm: f64,
    line_height_mm: f64,
    bold: bool,
    align: Align,
    lines: &[TextLine],
) -> Result<()> {
    if size_mm <= 0.0 || lines.iter().all(|l| l.text.trim().is_empty()) {
        return Ok(());
    }
    ops.push(Op::StartTextSection);
    ops.push(Op::SetFont {
        font: Fonts::handle(bold),
        size: pt(size_mm),
    });
    let ascent = ascent_per_em(bold) * size_mm;
    for (i, line) in lines.iter().enumerate() {
        let glyphs = shape_line(&line.text, line.rtl, bold, size_mm);
        let advance: f64 = glyphs.iter().map(|g| g.x_advance).sum();
        let mut pen = line_start(x_mm, width_mm, advance, align);
        let baseline = y_mm + i as f64 * line_height_mm + ascent;
        for g in glyphs {
            let at = point(pen + g.x_offset, baseline, page_h);
            let y = at.y.0 + pt(g.y_offset).0;
            ops.push(Op::SetTextMatrix {
                matrix: TextMatrix::Translate(at.x, Pt(y)),
            });
            ops.push(Op::ShowText {
                items: vec![TextItem::GlyphIds(vec![Codepoint::with_cid(
                    g.id,
                    0.0,
                    line.text[g.chars.clone()].to_string(),
                )])],
            });
            pen += g.x_advance;
            fonts.used(bold).insert(g.id);
        }
    }
    ops.push(Op::EndTextSection);
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn barcode_ops(
    ops: &mut Vec<Op>,
    fonts: &mut Fonts,
    page_h: f64,
    x_mm: f64,
    y_mm: f64,
    height_mm: f64,
    module_mm: f64,
    symbol: &Symbol,
    hri: Option<&str>,
    hri_size_mm: f64,
) -> Result<()> {
    check_symbol(symbol)?;
    let x0 = symbol_origin(x_mm);
    if symbol.is_linear() {
        for (start, count) in dark_runs(symbol, 0) {
            ops.push(filled(
                x0 + start as f64 * module_mm,
                y_mm,
                count as f64 * module_mm,
                height_mm,
                page_h,
            ));
        }
        if let Some(text) = hri.filter(|t| !t.trim().is_empty()) {
            let width = symbol.columns as f64 * module_mm;
            let line = TextLine {
                text: text.to_string(),
                rtl: false,
            };
            text_ops(
                ops,
                fonts,
                page_h,
                x0,
                hri_top(y_mm, height_mm, hri_size_mm),
                width,
                hri_size_mm,
                hri_size_mm,
                false,
                Align::Center,
                std::slice::from_ref(&line),
            )?;
        }
    } else {
        let y0 = symbol_origin(y_mm);
        for row in 0..symbol.rows {
            for (start, count) in dark_runs(symbol, row) {
                ops.push(filled(
                    x0 + start as f64 * module_mm,
                    y0 + row as f64 * module_mm,
                    count as f64 * module_mm,
                    module_mm,
                    page_h,
                ));
            }
        }
    }
    Ok(())
}

fn page_ops(page: &Page, doc: &mut PdfDocument, fonts: &mut Fonts) -> Result<Vec<Op>> {
    let h = page.height_mm;
    let mut ops = Vec::new();
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
            } => text_ops(
                &mut ops,
                fonts,
                h,
                *x_mm,
                *y_mm,
                *width_mm,
                *size_mm,
                *line_height_mm,
                *bold,
                *align,
                lines,
            )?,
            Item::Barcode {
                x_mm,
                y_mm,
                height_mm,
                module_mm,
                symbol,
                hri,
                hri_size_mm,
            } => barcode_ops(
                &mut ops,
                fonts,
                h,
                *x_mm,
                *y_mm,
                *height_mm,
                *module_mm,
                symbol,
                hri.as_deref(),
                *hri_size_mm,
            )?,
            Item::Rect {
                x_mm,
                y_mm,
                width_mm,
                height_mm,
                thickness_mm,
                fill,
            } => {
                for [x, y, w, bh] in
                    rect_bands(*x_mm, *y_mm, *width_mm, *height_mm, *thickness_mm, *fill)
                {
                    if w > 0.0 && bh > 0.0 {
                        ops.push(filled(x, y, w, bh, h));
                    }
                }
            }
            Item::Line {
                x1_mm,
                y1_mm,
                x2_mm,
                y2_mm,
                thickness_mm,
            } => {
                ops.push(Op::SetOutlineThickness {
                    pt: pt(*thickness_mm),
                });
                ops.push(Op::DrawLine {
                    line: Line {
                        points: vec![
                            LinePoint {
                                p: point(*x1_mm, *y1_mm, h),
                                bezier: false,
                            },
                            LinePoint {
                                p: point(*x2_mm, *y2_mm, h),
                                bezier: false,
                            },
                        ],
                        is_closed: false,
                    },
                });
            }
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
                let id = doc.add_image(&RawImage {
                    pixels: RawImageData::U8(luma.clone()),
                    width: pw,
                    height: ph,
                    data_format: RawImageFormat::R8,
                    tag: Vec::new(),
                });
                // At the default 300 dpi one pixel is 72/300 pt; scale that into the box.
                let natural = 72.0 / 300.0;
                ops.push(Op::UseXobject {
                    id,
                    transform: XObjectTransform {
                        translate_x: Some(pt(*x_mm)),
                        translate_y: Some(pt(h - y_mm - height_mm)),
                        scale_x: Some((width_mm * PT_PER_MM / (pw as f64 * natural)) as f32),
                        scale_y: Some((height_mm * PT_PER_MM / (ph as f64 * natural)) as f32),
                        dpi: Some(300.0),
                        ..Default::default()
                    },
                });
            }
        }
    }
    Ok(ops)
}

/// Renders pages (one per label or sheet) into one PDF.
pub fn render(pages: &[Page]) -> Result<Vec<u8>> {
    if pages.is_empty() {
        return Err(Error::invalid("data", "there is no page to render"));
    }
    let mut doc = PdfDocument::new("Label");
    let mut fonts = Fonts::default();
    let mut page_ops_list = Vec::with_capacity(pages.len());
    for page in pages {
        if !(page.width_mm > 0.0 && page.height_mm > 0.0) {
            return Err(Error::invalid(
                "page",
                format!(
                    "{} × {} mm is not a page size",
                    page.width_mm, page.height_mm
                ),
            ));
        }
        page_ops_list.push(page_ops(page, &mut doc, &mut fonts)?);
    }
    embed_fonts(&mut doc, &fonts, &mut page_ops_list)?;
    let pdf_pages = pages
        .iter()
        .zip(page_ops_list)
        .map(|(page, ops)| {
            PdfPage::new(
                printpdf::Mm(page.width_mm as f32),
                printpdf::Mm(page.height_mm as f32),
                ops,
            )
        })
        .collect();
    let mut warnings = Vec::new();
    let bytes = doc.with_pages(pdf_pages).save(
        &PdfSaveOptions {
            // Images are pixel-exact logos: no lossy re-encoding.
            image_optimization: None,
            ..PdfSaveOptions::default()
        },
        &mut warnings,
    );
    Ok(bytes)
}

/// Moves an item by `(dx, dy)` mm.
fn shifted(item: &Item, dx: f64, dy: f64) -> Item {
    let mut item = item.clone();
    match &mut item {
        Item::Text { x_mm, y_mm, .. }
        | Item::Barcode { x_mm, y_mm, .. }
        | Item::Rect { x_mm, y_mm, .. }
        | Item::Image { x_mm, y_mm, .. } => {
            *x_mm += dx;
            *y_mm += dy;
        }
        Item::Line {
            x1_mm,
            y1_mm,
            x2_mm,
            y2_mm,
            ..
        } => {
            *x1_mm += dx;
            *x2_mm += dx;
            *y1_mm += dy;
            *y2_mm += dy;
        }
    }
    item
}

/// Lays labels out on A4 portrait sheets, `columns × rows` per sheet, in a grid centred on
/// the sheet (every cell as large as the largest label; labels keep their size and sit at
/// their cell's top-left), filling rows left to right, then down; as many sheets as needed.
pub fn sheet_pages(labels: &[Page], columns: usize, rows: usize) -> Result<Vec<Page>> {
    if columns == 0 || rows == 0 {
        return Err(Error::invalid(
            "sheet",
            "columns and rows must be at least 1",
        ));
    }
    if labels.is_empty() {
        return Err(Error::invalid("sheet", "there are no labels to place"));
    }
    let cell_w = labels.iter().map(|l| l.width_mm).fold(0.0, f64::max);
    let cell_h = labels.iter().map(|l| l.height_mm).fold(0.0, f64::max);
    let grid_w = cell_w * columns as f64;
    let grid_h = cell_h * rows as f64;
    if grid_w > A4_WIDTH_MM + 1e-6 || grid_h > A4_HEIGHT_MM + 1e-6 {
        return Err(Error::invalid(
            "sheet",
            format!(
                "{columns} × {rows} labels of {cell_w} × {cell_h} mm need {grid_w} × {grid_h} mm, \
                 more than an A4 sheet ({A4_WIDTH_MM} × {A4_HEIGHT_MM} mm)"
            ),
        ));
    }
    let left = (A4_WIDTH_MM - grid_w) / 2.0;
    let top = (A4_HEIGHT_MM - grid_h) / 2.0;
    let per_sheet = columns * rows;
    Ok(labels
        .chunks(per_sheet)
        .map(|chunk| Page {
            width_mm: A4_WIDTH_MM,
            height_mm: A4_HEIGHT_MM,
            items: chunk
                .iter()
                .enumerate()
                .flat_map(|(i, label)| {
                    let dx = left + (i % columns) as f64 * cell_w;
                    let dy = top + (i / columns) as f64 * cell_h;
                    label.items.iter().map(move |item| shifted(item, dx, dy))
                })
                .collect(),
        })
        .collect())
}

/// Renders labels onto A4 sheets (see [`sheet_pages`]) as one PDF.
pub fn sheet(labels: &[Page], columns: usize, rows: usize) -> Result<Vec<u8>> {
    render(&sheet_pages(labels, columns, rows)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arabic_is_shaped_into_contextual_forms() {
        let plain: Vec<u16> = "شركة"
            .chars()
            .map(|c| ab_glyph::Font::glyph_id(fonts::font(false), c).0)
            .collect();
        let shaped = shape_line("شركة", true, false, 10.0);
        assert_eq!(shaped.len(), 4);
        // Visual order is reversed, and joining picks initial/medial/final forms.
        let ids: Vec<u16> = shaped.iter().rev().map(|g| g.id).collect();
        assert_ne!(ids, plain);
        // Every source character is accounted for.
        let covered: usize = shaped.iter().map(|g| g.chars.len()).sum();
        assert_eq!(covered, "شركة".len());
    }

    #[test]
    fn latin_keeps_logical_order_and_mixed_runs_split() {
        let g = shape_line("AB", false, false, 10.0);
        assert_eq!(&"AB"[g[0].chars.clone()], "A");
        // A Latin word inside an RTL line stays left to right.
        let g = shape_line("شركة ABC", true, false, 10.0);
        let text: String = g
            .iter()
            .map(|g| &"شركة ABC"[g.chars.clone()])
            .collect::<Vec<_>>()
            .concat();
        assert!(text.starts_with("ABC"), "{text}");
        assert_eq!(shape("AB", false, 10.0).len(), 2);
    }

    #[test]
    fn sheet_grid_is_centred_and_refuses_overflow() {
        let label = Page {
            width_mm: 100.0,
            height_mm: 50.0,
            items: vec![Item::Rect {
                x_mm: 0.0,
                y_mm: 0.0,
                width_mm: 1.0,
                height_mm: 1.0,
                thickness_mm: 0.1,
                fill: true,
            }],
        };
        let pages = sheet_pages(&vec![label.clone(); 9], 2, 4).unwrap();
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].items.len(), 8);
        match &pages[0].items[3] {
            Item::Rect { x_mm, y_mm, .. } => {
                assert!((x_mm - 105.0).abs() < 1e-9);
                assert!((y_mm - (48.5 + 50.0)).abs() < 1e-9);
            }
            other => panic!("{other:?}"),
        }
        assert!(sheet_pages(&[label], 3, 1).is_err());
    }
}
