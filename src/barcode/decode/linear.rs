//! Linear (1D) symbols: Depot's own scan lines over rxing's row decoders.
//!
//! rxing's `MultiFormatReader` with TryHarder scans a row every `height / 256` pixels over the
//! whole image, with every 1D reader, then does it all again on the image turned 90 degrees,
//! and stops at the first row that decodes: one misread row is a result ("a UPC-E in a photo
//! of text"), a light-on-dark symbol is never read, and a second symbol needs another pass.
//! Here instead, in one sweep:
//! - scan lines every `height / lines` pixels, along rows and along columns (upright
//!   symbols), each the mean of three neighbouring pixel rows (bars are long across the line,
//!   so this averages sensor noise away without blurring the bars);
//! - each line thresholded against its local mean, flat stretches (no contrast) left white;
//! - read by rxing's row decoders forwards and backwards, dark-on-light and light-on-dark,
//!   several symbols per line (a found one is blanked and the line read again), then each
//!   stretch of the line between wide white gaps alone (a row decoder gives up at the first
//!   start pattern it cannot decode, so a symbol right of a 2D code or of text was never
//!   reached: 13 more codes on the corpus);
//! - a code is accepted only when enough scan lines read the same text (zxing-cpp's
//!   `minLineCount` idea): [`MIN_LINES`], more for the short UPC-E and EAN-8, whose guard
//!   patterns text and stripes imitate most easily.

use std::collections::HashMap;

use rxing::common::BitArray;
use rxing::oned::{MultiFormatOneDReader, OneDReader};
use rxing::{BarcodeFormat, DecodeHints, Point, RXingResult};

/// Scan lines that must agree on a code.
pub(crate) const MIN_LINES: usize = 2;

/// Lines needed for `format`: short symbols with few check constraints need more.
fn lines_needed(format: &BarcodeFormat) -> usize {
    match format {
        BarcodeFormat::UPC_E | BarcodeFormat::EAN_8 => MIN_LINES + 1,
        _ => MIN_LINES,
    }
}

/// Shortest text accepted per format (below it, random stripes decode too easily).
fn long_enough(format: &BarcodeFormat, text: &str) -> bool {
    match format {
        BarcodeFormat::CODE_39 | BarcodeFormat::CODABAR | BarcodeFormat::CODE_93 => {
            text.chars().count() >= 3
        }
        BarcodeFormat::ITF => text.len() >= 6,
        _ => !text.is_empty(),
    }
}

/// How to scan.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sweep {
    /// Scan lines per orientation (rows: over the height; columns: over the width).
    pub lines: usize,
    /// Also read light-on-dark symbols.
    pub inverted: bool,
    /// Scan rows (symbols lying down).
    pub rows: bool,
    /// Scan columns (symbols standing upright).
    pub columns: bool,
    /// How each line is binarised.
    pub threshold: Threshold,
}

/// The threshold a scan line's pixels are compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Threshold {
    /// The mean of the pixels within [`WIDE`]: the light and dark levels of the label.
    Wide,
    /// Halfway between that and the mean within [`NARROW`] (about a module): blurred bars,
    /// whose narrow spaces no longer reach the wide mean, still come apart.
    Blended,
}

/// One symbol as read on one or more scan lines.
struct Hit {
    result: RXingResult,
    transposed: bool,
    /// (line, x0, x1) of every line that read it, in plane coordinates.
    reads: Vec<(u32, f32, f32)>,
}

impl Hit {
    /// True when a read of the same text on `line` at `x0..x1` is this symbol: same plane,
    /// overlapping along the line, and not far from a line that read it (two identical labels
    /// side by side, or one above the other, stay two).
    fn takes(&self, transposed: bool, line: u32, x0: f32, x1: f32, gap: u32) -> bool {
        self.transposed == transposed
            && self.reads.iter().any(|&(l, a, b)| {
                let overlap = x1.min(b) - x0.max(a);
                overlap > 0.5 * (x1 - x0).min(b - a) && l.abs_diff(line) <= gap
            })
    }
}

type Hits = HashMap<(BarcodeFormat, String), Vec<Hit>>;

/// Every linear symbol found in the luma plane `data` (`w` x `h`).
pub(crate) fn find(
    data: &[u8],
    w: usize,
    h: usize,
    hints: &DecodeHints,
    sweep: Sweep,
) -> Vec<RXingResult> {
    if w < 8 || h < 8 || data.len() < w * h {
        return Vec::new();
    }
    let mut reader = MultiFormatOneDReader::new(hints);
    let mut hits: Hits = HashMap::new();
    if sweep.rows {
        scan_plane(data, w, h, false, hints, sweep, &mut reader, &mut hits);
    }
    if sweep.columns {
        let mut t = vec![0u8; w * h];
        for y in 0..h {
            for x in 0..w {
                t[x * h + y] = data[y * w + x];
            }
        }
        scan_plane(&t, h, w, true, hints, sweep, &mut reader, &mut hits);
    }
    accepted(hits)
}

/// The symbols that enough lines agree on, each with the points of its middle read.
fn accepted(hits: Hits) -> Vec<RXingResult> {
    let mut out: Vec<RXingResult> = hits
        .into_values()
        .flatten()
        .filter(|hit| {
            let format = hit.result.getBarcodeFormat();
            hit.reads.len() >= lines_needed(format) && long_enough(format, hit.result.getText())
        })
        .map(|mut hit| {
            // The read along the middle of the lines that agreed stands for the symbol.
            hit.reads.sort_by_key(|r| r.0);
            let (line, x0, x1) = hit.reads[hit.reads.len() / 2];
            let top = hit.reads.first().map_or(line, |r| r.0) as f32;
            let bottom = hit.reads.last().map_or(line, |r| r.0) as f32;
            let line = line as f32;
            let transposed = hit.transposed;
            let to_image = |x: f32, y: f32| {
                if transposed {
                    Point::new(y, x)
                } else {
                    Point::new(x, y)
                }
            };
            // The ends of the middle read, then the extent of the agreeing lines, so that
            // reading order sees the symbol's height too.
            hit.result.replace_points(vec![
                to_image(x0, line),
                to_image(x1, line),
                to_image((x0 + x1) / 2.0, top),
                to_image((x0 + x1) / 2.0, bottom),
            ]);
            hit.result
        })
        .collect();
    out.sort_by(|a, b| a.getText().cmp(b.getText()));
    out
}

#[allow(clippy::too_many_arguments)]
fn scan_plane(
    data: &[u8],
    w: usize,
    h: usize,
    transposed: bool,
    hints: &DecodeHints,
    sweep: Sweep,
    reader: &mut MultiFormatOneDReader,
    hits: &mut Hits,
) {
    let step = (h / sweep.lines.max(1)).max(1);
    let mut values = vec![0u16; w];
    // Running sums for `threshold`, kept from line to line.
    let mut sums = (vec![0u64; w + 1], vec![0u64; w + 1]);
    let mut bits = BitArray::with_size(w);
    let mut line = step / 2;
    while line < h {
        average_rows(data, w, h, line, &mut values);
        threshold(&values, &mut bits, sweep.threshold, &mut sums);
        read_line(&bits, w, line, step, transposed, hints, reader, hits);
        if sweep.inverted {
            let mut inv = BitArray::with_size(w);
            for x in 0..w {
                if !bits.get(x) {
                    inv.set(x);
                }
            }
            read_line(&inv, w, line, step, transposed, hints, reader, hits);
        }
        line += step;
    }
}

/// The sum of pixel rows `line - 1`, `line`, `line + 1` (clamped) into `out`.
fn average_rows(data: &[u8], w: usize, h: usize, line: usize, out: &mut [u16]) {
    let rows = [line.saturating_sub(1), line, (line + 1).min(h - 1)];
    out.fill(0);
    for r in rows {
        let row = &data[r * w..r * w + w];
        for (o, &v) in out.iter_mut().zip(row) {
            *o += u16::from(v);
        }
    }
}

/// Thresholds a line against its local mean: a pixel is black when darker than the mean of
/// the pixels within [`WIDE`] (about the light and dark levels of the label around it). Where
/// that window is flat (standard deviation under [`MIN_DEVIATION`] grey levels) it is white,
/// so noise on a plain surface makes no bars. Means and deviations come from running sums, so
/// a line costs the same whatever the window.
///
/// Measured on the camera corpus (`cargo bench --bench decode`), linear codes read: 97 with a
/// 40 px window, 90 with 20 px, 81 with 12 px, 92 with 80 px. [`Threshold::Blended`] reads
/// blurred symbols better (7 of 12 blurred instead of 2) but fewer others (89), so it is a
/// second pass only (see `engine::find_all`).
fn threshold(
    values: &[u16],
    bits: &mut BitArray,
    kind: Threshold,
    (sum, squares): &mut (Vec<u64>, Vec<u64>),
) {
    let n = values.len();
    bits.clear();
    sum.resize(n + 1, 0);
    squares.resize(n + 1, 0);
    for (i, &v) in values.iter().enumerate() {
        let v = u64::from(v);
        sum[i + 1] = sum[i] + v;
        squares[i + 1] = squares[i] + v * v;
    }
    // Sums of three rows: 3x the pixel scale.
    let min_var = (3 * MIN_DEVIATION).pow(2);
    for (x, &value) in values.iter().enumerate() {
        let (a, b) = (x.saturating_sub(WIDE), (x + WIDE + 1).min(n));
        let count = (b - a) as u64;
        let mean = (sum[b] - sum[a]) / count;
        let cut = match kind {
            Threshold::Wide => mean,
            Threshold::Blended => {
                let (c, d) = (x.saturating_sub(NARROW), (x + NARROW + 1).min(n));
                (mean + (sum[d] - sum[c]) / (d - c) as u64) / 2
            }
        };
        if u64::from(value) < cut {
            // Contrast: only now, for pixels that would be black.
            let total = sum[b] - sum[a];
            let var =
                ((squares[b] - squares[a]) * count).saturating_sub(total * total) / (count * count);
            if var >= min_var {
                bits.set(x);
            }
        }
    }
}

/// Half-width of the threshold's window, and its flatness limit (grey levels).
const WIDE: usize = 40;
const NARROW: usize = 4;
/// Standard deviation below which a window is flat: 10 grey levels, the mean absolute
/// deviation of 8 used before for sensor noise (Gaussian noise's standard deviation is 1.25
/// times its mean absolute deviation; a bar pattern's are equal).
const MIN_DEVIATION: u64 = 10;

/// Reads one binarised line: whole, then each stretch of it between wide white gaps alone.
///
/// A row decoder gives up on a line at the first start pattern it cannot decode from, so a
/// symbol to the right of another pattern-rich object (a 2D code, text, another symbol) on the
/// same line is never reached; read alone, its stretch is.
#[allow(clippy::too_many_arguments)]
fn read_line(
    bits: &BitArray,
    w: usize,
    line: usize,
    step: usize,
    transposed: bool,
    hints: &DecodeHints,
    reader: &mut MultiFormatOneDReader,
    hits: &mut Hits,
) {
    read_row(bits, w, line, step, transposed, hints, reader, hits, None);
    let parts = segments(bits, w);
    if parts.len() < 2 {
        return;
    }
    let mut part = BitArray::with_size(w);
    for (a, b) in parts {
        part.clear();
        for x in a..b {
            if bits.get(x) {
                part.set(x);
            }
        }
        read_row(
            &part,
            w,
            line,
            step,
            transposed,
            hints,
            reader,
            hits,
            Some((a, b)),
        );
    }
}

/// White gap (px) that separates stretches of a line: wider than any space inside a symbol
/// with modules up to 5 px (4 modules).
const SEGMENT_GAP: usize = 21;
/// Narrowest stretch worth reading (an EAN-8 with 1 px modules is 67 px).
const SEGMENT_MIN: usize = 40;
/// Most stretches read per line (text lines have many).
const SEGMENT_MAX: usize = 8;

/// Stretches of black-and-white between white gaps of at least [`SEGMENT_GAP`] pixels.
fn segments(bits: &BitArray, w: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut last_black = 0;
    for x in 0..w {
        if bits.get(x) {
            if start.is_none() {
                start = Some(x);
            }
            last_black = x;
        } else if let Some(s) = start
            && x - last_black >= SEGMENT_GAP
        {
            if last_black + 1 - s >= SEGMENT_MIN {
                out.push((s, last_black + 1));
            }
            start = None;
        }
    }
    if let Some(s) = start
        && last_black + 1 - s >= SEGMENT_MIN
    {
        out.push((s, last_black + 1));
    }
    out.truncate(SEGMENT_MAX);
    out
}

/// Reads a binarised row forwards and backwards, up to three symbols per direction; for a
/// stretch `a..b` read alone, one symbol that spans most of it (a stretch is bounded by quiet
/// zones, so a read of part of it is part of a bigger symbol misread: measured, an EAN-8
/// "found" inside GS1-128 symbols).
#[allow(clippy::too_many_arguments)]
fn read_row(
    bits: &BitArray,
    w: usize,
    line: usize,
    step: usize,
    transposed: bool,
    hints: &DecodeHints,
    reader: &mut MultiFormatOneDReader,
    hits: &mut Hits,
    stretch: Option<(usize, usize)>,
) {
    let reads = if stretch.is_some() { 1 } else { 3 };
    let line = line as u32;
    for reversed in [false, true] {
        let mut row = bits.clone();
        if reversed {
            row.reverse();
        }
        for _ in 0..reads {
            let Ok(result) = reader.decode_row(line, &row, hints) else {
                break;
            };
            let (lo, hi) = result
                .getPoints()
                .iter()
                .map(|p| p.x)
                .filter(|x| x.is_finite())
                .fold((f32::MAX, f32::MIN), |(l, h), x| (l.min(x), h.max(x)));
            if lo > hi {
                break;
            }
            if let Some((a, b)) = stretch
                && hi - lo < 0.8 * (b - a) as f32
            {
                break;
            }
            // Blank what was read (with a margin) so that the next read finds another symbol.
            let (bl, bh) = (
                (lo - 2.0).max(0.0) as usize,
                ((hi + 2.0) as usize).min(w - 1),
            );
            for x in bl..=bh {
                row.unset(x);
            }
            let (x0, x1) = if reversed {
                (w as f32 - 1.0 - hi, w as f32 - 1.0 - lo)
            } else {
                (lo, hi)
            };
            let key = (*result.getBarcodeFormat(), result.getText().to_string());
            let same = hits.entry(key).or_default();
            let gap = 4 * step as u32;
            match same
                .iter_mut()
                .find(|hit| hit.takes(transposed, line, x0, x1, gap))
            {
                Some(hit) => {
                    if !hit.reads.iter().any(|r| r.0 == line) {
                        hit.reads.push((line, x0, x1));
                    }
                }
                None => same.push(Hit {
                    result,
                    transposed,
                    reads: vec![(line, x0, x1)],
                }),
            }
        }
    }
}
