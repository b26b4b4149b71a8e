//! Aztec symbols anywhere in the photo: Depot finds candidate bullseyes, rxing reads around
//! each.
//!
//! rxing's Aztec `Detector` (a port of ZXing Java's) takes the centre of the image as its first
//! guess of the bullseye's centre (`get_matrix_center`: a white rectangle grown from the image
//! centre), so it reads a symbol the photo is aimed at and misses one anywhere else: 1 of the
//! camera corpus's 22 Aztec photos (zxing-cpp: 17). rxing's API has no way to hand it a centre,
//! so here:
//! - every other row of the binarised image is cut into runs of black and white; seven runs of
//!   about one width, black in the middle (white, black, white, *black*, white, black, white),
//!   with black beyond them, are a bullseye's cross-section (concentric squares cut by any line
//!   through their centre give runs of equal width, whatever the rotation, skew or zoom);
//! - the column through that middle run must show the same pattern, and its middle gives the
//!   centre's row;
//! - hits close together are one candidate, confirmed (and its centre refined) by rxing's port
//!   of zxing-cpp's concentric-pattern test, which also checks both diagonals;
//! - around each confirmed centre, a window of the luma image centred on it goes to rxing's
//!   `AztecReader` (see [`read_at`]): the symbol is then at the centre, where rxing looks.
//!
//! Every read is Reed-Solomon checked by rxing's decoder, as for any Aztec symbol.

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma};
use rxing::aztec::AztecReader;
use rxing::common::cpp_essentials::{LocateConcentricPattern, Pattern};
use rxing::common::{BitMatrix, GlobalHistogramBinarizer, HybridBinarizer};
use rxing::{BinaryBitmap, DecodeHints, Luma8Source, Point, RXingResult, Reader};

/// Rows scanned: every `ROW_STEP`th (a bullseye's middle module is at least 2 px tall when
/// modules are).
const ROW_STEP: u32 = 2;
/// Narrowest module looked for, pixels: sensor noise binarised on a flat background is made
/// of runs of 1-2 px, and gave thousands of hits per photo at 1 px (plain-noise photos took
/// twice as long). Aztec symbols at 1 px per module are not read (zxing-cpp neither reads the
/// corpus's one).
const MIN_MODULE: f32 = 1.5;
/// Most bullseyes tried per image.
const MAX_CANDIDATES: usize = 12;
/// Most candidates checked with [`confirm`] per image.
const MAX_CHECKED: usize = 400;
/// A window reaches this many modules (as measured along the scan line) from the bullseye's
/// centre: a compact symbol (at most 27 modules) turned by 45 degrees fits.
const WINDOW_MODULES: f32 = 20.0;

/// A candidate bullseye centre and the width of its modules along the scan line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Candidate {
    pub x: f32,
    pub y: f32,
    pub module: f32,
    /// Scan lines that saw it.
    pub seen: usize,
}

/// True when the seven runs are a bullseye's cross-section: each within half a module (plus
/// half a pixel of blur) of their mean.
fn seven_alike(runs: &[u32]) -> Option<f32> {
    let total: u32 = runs.iter().sum();
    let m = total as f32 / runs.len() as f32;
    if m < MIN_MODULE {
        return None;
    }
    let slack = 0.5 * m + 0.5;
    runs.iter()
        .all(|&r| (r as f32 - m).abs() <= slack)
        .then_some(m)
}

/// Runs of one colour starting at `start`, walking by `step`, as seen by `black`: the lengths
/// of the first `n` runs after the one containing `start`, which must be black; also the
/// length of that first part of the centre run. Stops at `limit` pixels per run.
fn walk(black: impl Fn(i64) -> Option<bool>, n: usize, limit: u32) -> Option<(u32, Vec<u32>)> {
    let mut i = 0i64;
    while black(i)? {
        i += 1;
        if i as u32 > limit {
            return None;
        }
    }
    let centre = i as u32;
    let mut runs = Vec::with_capacity(n);
    let mut colour = false;
    for _ in 0..n {
        let mut len = 0u32;
        while black(i) == Some(colour) {
            i += 1;
            len += 1;
            if len > limit {
                return None;
            }
        }
        if len == 0 {
            return None;
        }
        runs.push(len);
        colour = !colour;
    }
    Some((centre, runs))
}

/// Checks the column through (`x`, `y`) for the bullseye pattern; returns the centre row and
/// the module height.
fn vertical(bits: &BitMatrix, x: u32, y: u32, module: f32) -> Option<(f32, f32)> {
    let h = i64::from(bits.getHeight());
    let limit = (module * 3.0).ceil() as u32 + 2;
    let at = |yy: i64| (0..h).contains(&yy).then(|| bits.get(x, yy as u32));
    let (up_c, up) = walk(|d| at(i64::from(y) - d), 3, limit)?;
    let (down_c, down) = walk(|d| at(i64::from(y) + d), 3, limit)?;
    // Centre run: up_c above y (inclusive of y), down_c below (inclusive): y counted twice.
    let centre = up_c + down_c - 1;
    let runs = [up[2], up[1], up[0], centre, down[0], down[1], down[2]];
    let mv = seven_alike(&runs)?;
    if !(0.5..=2.0).contains(&(mv / module)) {
        return None;
    }
    let top = y as f32 - (up_c as f32 - 1.0);
    Some((top + centre as f32 / 2.0, mv))
}

/// Candidate bullseye centres in a binarised image, most often seen first.
pub(crate) fn candidates(bits: &BitMatrix) -> Vec<Candidate> {
    let (w, h) = (bits.getWidth(), bits.getHeight());
    let mut found: Vec<Candidate> = Vec::new();
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for y in (0..h).step_by(ROW_STEP as usize) {
        let row = bits.getRow(y);
        runs.clear();
        // (start, length) of alternating runs; the first run is white (possibly empty).
        let mut x = 0usize;
        let mut black = false;
        while x < w as usize {
            let next = if black {
                row.getNextUnset(x)
            } else {
                row.getNextSet(x)
            }
            .min(w as usize);
            runs.push((x as u32, (next - x) as u32));
            x = next;
            black = !black;
        }
        // Black runs are at odd indices.
        let mut i = 5;
        while i + 4 < runs.len() {
            let lens = [
                runs[i - 3].1,
                runs[i - 2].1,
                runs[i - 1].1,
                runs[i].1,
                runs[i + 1].1,
                runs[i + 2].1,
                runs[i + 3].1,
            ];
            let Some(m) = seven_alike(&lens) else {
                i += 2;
                continue;
            };
            // The outer black ring on both sides (it may run on into the mode message).
            if (runs[i - 4].1 as f32) < 0.5 * m || (runs[i + 4].1 as f32) < 0.5 * m {
                i += 2;
                continue;
            }
            let cx = runs[i].0 + runs[i].1 / 2;
            if let Some((cy, mv)) = vertical(bits, cx, y, m) {
                found.push(Candidate {
                    x: runs[i].0 as f32 + runs[i].1 as f32 / 2.0,
                    y: cy,
                    module: (m + mv) / 2.0,
                    seen: 1,
                });
            }
            i += 2;
        }
    }
    let mut out = Vec::new();
    for c in cluster(found).into_iter().take(MAX_CHECKED) {
        if let Some(c) = confirm(bits, c) {
            out.push(c);
            if out.len() == MAX_CANDIDATES {
                break;
            }
        }
    }
    out
}

/// zxing-cpp's test (rxing's port of it, `LocateConcentricPattern`): seven runs of one width
/// edge to edge along the row, the column and both diagonals through the point, then the
/// centre refined. Sensor noise binarised on a flat background passes the row and column test
/// now and then; it rarely passes the diagonals as well.
fn confirm(bits: &BitMatrix, c: Candidate) -> Option<Candidate> {
    const PATTERN: Pattern<7> = [1; 7];
    let range = (c.module * 8.0).ceil() as i32;
    let found = LocateConcentricPattern::<true, 7, 7>(bits, &PATTERN, Point::new(c.x, c.y), range)?;
    Some(Candidate {
        x: found.p.x,
        y: found.p.y,
        ..c
    })
}

/// Merges hits closer than two modules; the most often seen first.
fn cluster(found: Vec<Candidate>) -> Vec<Candidate> {
    let mut out: Vec<(Candidate, f32, f32, f32)> = Vec::new();
    for c in found {
        // Hits come row by row: only the clusters of the last few rows can take this one.
        let reach = 4.0 * c.module + 8.0;
        if let Some((best, sx, sy, sm)) = out
            .iter_mut()
            .rev()
            .take_while(|(b, ..)| c.y - b.y <= reach)
            .find(|(b, ..)| {
                let r = 2.0 * b.module.max(c.module);
                (b.x - c.x).abs() <= r && (b.y - c.y).abs() <= r
            })
        {
            best.seen += 1;
            *sx += c.x;
            *sy += c.y;
            *sm += c.module;
            let n = best.seen as f32;
            (best.x, best.y, best.module) = (*sx / n, *sy / n, *sm / n);
        } else {
            out.push((c, c.x, c.y, c.module));
        }
    }
    let mut out: Vec<Candidate> = out.into_iter().map(|(c, ..)| c).collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.seen));
    out
}

/// Reads an Aztec symbol whose bullseye is at `c`, from the luma image `data` (`w` x `h`).
///
/// A window of 20 modules each side of the bullseye, scaled up so that modules are at least
/// about 5 px (rxing's detector loses its way in the bullseye's rings at 3 px: 5 of the
/// corpus's photos read only scaled up), then binarised alone: with rxing's hybrid binariser,
/// then its global histogram one (a JPEG photo reads only with that).
pub(crate) fn read_at(data: &[u8], w: u32, h: u32, c: &Candidate) -> Option<RXingResult> {
    let half = (c.module * WINDOW_MODULES).ceil() as i64;
    let side = (2 * half + 1) as u32;
    let (ox, oy) = (c.x.round() as i64 - half, c.y.round() as i64 - half);
    let crop = GrayImage::from_fn(side, side, |x, y| {
        let (sx, sy) = (ox + i64::from(x), oy + i64::from(y));
        let inside = (0..i64::from(w)).contains(&sx) && (0..i64::from(h)).contains(&sy);
        Luma([if inside {
            data.get(sy as usize * w as usize + sx as usize)
                .copied()
                .unwrap_or(255)
        } else {
            255
        }])
    });
    let scale: u32 = if c.module < 2.5 {
        3
    } else if c.module < 4.5 {
        2
    } else {
        1
    };
    let crop = if scale > 1 {
        imageops::resize(&crop, side * scale, side * scale, FilterType::Triangle)
    } else {
        crop
    };
    let size = crop.width();
    let hints = DecodeHints::default();
    let mut result = None;
    for global in [false, true] {
        let source = Luma8Source::new_with_slice(crop.as_raw(), size, size).ok()?;
        let read = if global {
            AztecReader.decode_with_hints(
                &mut BinaryBitmap::new(GlobalHistogramBinarizer::new(source)),
                &hints,
            )
        } else {
            AztecReader
                .decode_with_hints(&mut BinaryBitmap::new(HybridBinarizer::new(source)), &hints)
        };
        if let Ok(r) = read {
            result = Some(r);
            break;
        }
    }
    let result = result?;
    // Back to the photo's coordinates.
    let k = scale as f32;
    let points = result
        .getPoints()
        .iter()
        .map(|p| Point::new(p.x / k + ox as f32, p.y / k + oy as f32))
        .collect();
    Some(result.with_point(points))
}
