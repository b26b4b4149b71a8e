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
//!   `AztecReader` (see [`read_at`]): the symbol is then at the centre, where rxing looks;
//! - a symbol still unread is turned upright by the tilt measured on its bullseye's rings
//!   ([`tilt`]) and read again: rxing's detector walks the rings along the window's diagonals.
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
/// First the window as the photo holds it, then, when that fails, turned upright by the tilt
/// measured on the bullseye's rings ([`tilt`]): rxing's detector walks the rings along the
/// window's diagonals, which miss a symbol's corners when it is turned by more than about
/// 20 degrees (the corpus's Aztec photos turned by large angles read only upright).
pub(crate) fn read_at(data: &[u8], w: u32, h: u32, c: &Candidate) -> Option<RXingResult> {
    if let Some(found) = read_window(data, w, h, c, 0.0) {
        return Some(found);
    }
    let angle = tilt(data, w, h, c)?;
    // Below a few degrees the window read above was as upright as this one would be.
    (angle.abs() >= MIN_TILT).then(|| read_window(data, w, h, c, angle))?
}

/// Smallest tilt (radians) worth a second window: 4 degrees.
const MIN_TILT: f32 = 4.0 * std::f32::consts::PI / 180.0;

/// The angle (radians, in -45..45 degrees) by which the square rings of the bullseye at `c`
/// are turned against the image's axes.
///
/// Along a ray from the centre at angle `a`, a ring's edge lies at `r / cos(a - t)`, with
/// `a - t` folded into -45..45 degrees: least across the sides, most towards the corners. The
/// edges measured are the third and fourth changes of colour out from the centre (2.5 and 3.5
/// modules out: inside the bullseye, clear of the orientation marks at the corners of the ring
/// beyond it). Rays every 2 degrees all round; `t` is the angle whose model fits the measured
/// edges best (each edge's `r` taken as the median under that `t`). Threshold: the mean luma
/// of the disc the rings cover.
fn tilt(data: &[u8], w: u32, h: u32, c: &Candidate) -> Option<f32> {
    use std::f32::consts::{FRAC_PI_2, FRAC_PI_4, PI};
    const EDGES: [usize; 2] = [3, 4];
    let luma = |x: f32, y: f32| -> Option<f32> { bilinear(data, w, h, x, y) };
    let reach = c.module * 8.0;
    let disc = c.module * 5.0;
    let (mut sum, mut n) = (0.0f32, 0u32);
    let r = disc.ceil() as i32;
    for dy in -r..=r {
        for dx in -r..=r {
            if (dx * dx + dy * dy) as f32 <= disc * disc
                && let Some(v) = luma(c.x + dx as f32, c.y + dy as f32)
            {
                sum += v;
                n += 1;
            }
        }
    }
    if n == 0 {
        return None;
    }
    let threshold = sum / n as f32;
    // A change of colour counts once the new colour holds for a third of a module (a speck
    // of noise is not a ring's edge).
    let hold = (c.module / 3.0).max(1.0);
    let step = 0.5f32;
    // (ray angle, distance) per edge.
    let mut edges: [Vec<(f32, f32)>; 2] = [Vec::with_capacity(180), Vec::with_capacity(180)];
    for k in 0..180 {
        let a = k as f32 * 2.0 * PI / 180.0;
        let (dx, dy) = (a.cos(), a.sin());
        let mut colour = true;
        let mut changes = 0;
        let mut since: Option<f32> = None;
        let mut t = 0.0f32;
        while t <= reach && changes < EDGES[1] {
            let Some(v) = luma(c.x + dx * t, c.y + dy * t) else {
                break;
            };
            if (v < threshold) == colour {
                since = None;
            } else {
                let start = *since.get_or_insert(t);
                if t - start >= hold {
                    colour = !colour;
                    changes += 1;
                    if let Some(i) = EDGES.iter().position(|&e| e == changes) {
                        edges[i].push((a, start));
                    }
                    since = None;
                }
            }
            t += step;
        }
    }
    // Most rays must find the edges, or this is not a bullseye seen well enough to measure.
    if edges.iter().any(|e| e.len() < 120) {
        return None;
    }
    let fold = |x: f32| (x + FRAC_PI_4).rem_euclid(FRAC_PI_2) - FRAC_PI_4;
    let mut best: Option<(f32, f32)> = None;
    let mut scaled = Vec::with_capacity(180);
    // Half-degree steps.
    for half_degrees in -90..90 {
        let t = half_degrees as f32 / 2.0 * PI / 180.0;
        let mut misfit = 0.0f32;
        for edge in &edges {
            scaled.clear();
            scaled.extend(edge.iter().map(|&(a, d)| d * fold(a - t).cos()));
            scaled.sort_by(f32::total_cmp);
            let radius = scaled[scaled.len() / 2];
            misfit += edge
                .iter()
                .map(|&(a, d)| (d - radius / fold(a - t).cos()).abs())
                .sum::<f32>()
                / radius;
        }
        if best.is_none_or(|(m, _)| misfit < m) {
            best = Some((misfit, t));
        }
    }
    best.map(|(_, t)| t)
}

/// `data` at (`x`, `y`), interpolated between the four nearest pixels; `None` outside.
fn bilinear(data: &[u8], w: u32, h: u32, x: f32, y: f32) -> Option<f32> {
    if x < 0.0 || y < 0.0 || x > (w - 1) as f32 || y > (h - 1) as f32 {
        return None;
    }
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w as usize - 1), (y0 + 1).min(h as usize - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let at = |xx: usize, yy: usize| data.get(yy * w as usize + xx).map(|&v| f32::from(v));
    let top = at(x0, y0)? * (1.0 - fx) + at(x1, y0)? * fx;
    let bottom = at(x0, y1)? * (1.0 - fx) + at(x1, y1)? * fx;
    Some(top * (1.0 - fy) + bottom * fy)
}

/// One window around the bullseye at `c`, turned by `angle` (radians; 0 copies the pixels
/// as they are), read by rxing's `AztecReader`.
///
/// The window reaches 20 modules each side of the bullseye and is scaled up so that modules
/// are at least about 5 px (rxing's detector loses its way in the bullseye's rings at 3 px: 5
/// of the corpus's photos read only scaled up), then binarised alone: with rxing's hybrid
/// binariser, then its global histogram one (a JPEG photo reads only with that).
fn read_window(data: &[u8], w: u32, h: u32, c: &Candidate, angle: f32) -> Option<RXingResult> {
    let half = (c.module * WINDOW_MODULES).ceil() as i64;
    let side = (2 * half + 1) as u32;
    let (cx, cy) = (c.x.round(), c.y.round());
    let (sin, cos) = angle.sin_cos();
    // Window pixel (x, y), `half` from the centre, to photo coordinates.
    let to_photo = move |x: f32, y: f32| {
        let (dx, dy) = (x - half as f32, y - half as f32);
        (cx + dx * cos - dy * sin, cy + dx * sin + dy * cos)
    };
    let crop = GrayImage::from_fn(side, side, |x, y| {
        let (sx, sy) = to_photo(x as f32, y as f32);
        let value = if angle == 0.0 {
            let (sx, sy) = (sx as i64, sy as i64);
            ((0..i64::from(w)).contains(&sx) && (0..i64::from(h)).contains(&sy))
                .then(|| data.get(sy as usize * w as usize + sx as usize))
                .flatten()
                .map(|&v| f32::from(v))
        } else {
            bilinear(data, w, h, sx, sy)
        };
        Luma([value.map_or(255, |v| v.round() as u8)])
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
        .map(|p| {
            let (x, y) = to_photo(p.x / k, p.y / k);
            Point::new(x, y)
        })
        .collect();
    Some(result.with_point(points))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rxing::{BarcodeFormat, EncodeHintValue, EncodeHints, MultiFormatWriter, Writer};

    /// An Aztec symbol with `module` px modules, turned by `deg` about the centre of a white
    /// square image: the image and the bullseye's centre.
    fn turned_aztec(module: u32, deg: f32) -> (GrayImage, f32) {
        let hints = EncodeHints::default().with(EncodeHintValue::Margin("0".into()));
        let m = MultiFormatWriter
            .encode_with_hints("TILT-0001", &BarcodeFormat::AZTEC, 0, 0, &hints)
            .expect("encode");
        let n = m.getWidth() as f32;
        let side = (n * module as f32 * 1.6) as u32;
        let c = side as f32 / 2.0;
        let (sin, cos) = deg.to_radians().sin_cos();
        let img = GrayImage::from_fn(side, side, |x, y| {
            // Back into the symbol: turn by -deg about the centre.
            let (dx, dy) = (x as f32 + 0.5 - c, y as f32 + 0.5 - c);
            let (sx, sy) = (dx * cos + dy * sin, -dx * sin + dy * cos);
            let (mx, my) = (sx / module as f32 + n / 2.0, sy / module as f32 + n / 2.0);
            let dark = mx >= 0.0 && my >= 0.0 && mx < n && my < n && m.get(mx as u32, my as u32);
            Luma([if dark { 30 } else { 220 }])
        });
        (img, c)
    }

    #[test]
    fn tilt_is_measured_on_the_rings() {
        for deg in [0.0f32, 7.0, 18.0, 30.0, 44.0, -12.0, -33.0, 120.0] {
            let (img, c) = turned_aztec(4, deg);
            let candidate = Candidate {
                x: c,
                y: c,
                module: 4.0,
                seen: 1,
            };
            let measured = tilt(img.as_raw(), img.width(), img.height(), &candidate)
                .expect("rings measured")
                .to_degrees();
            // Square rings: the tilt is known modulo 90 degrees.
            let expected = (deg + 45.0).rem_euclid(90.0) - 45.0;
            let off = (measured - expected + 45.0).rem_euclid(90.0) - 45.0;
            assert!(off.abs() <= 3.0, "{deg}: measured {measured}");
        }
    }

    #[test]
    fn a_turned_symbol_reads_upright_from_its_bullseye() {
        let (img, c) = turned_aztec(4, 35.0);
        let candidate = Candidate {
            x: c,
            y: c,
            module: 4.0,
            seen: 1,
        };
        let found = read_at(img.as_raw(), img.width(), img.height(), &candidate).expect("read");
        assert_eq!(found.getText(), "TILT-0001");
        // The corners, mapped back, lie around the bullseye in the photo.
        for p in found.getPoints() {
            let d = ((p.x - c).powi(2) + (p.y - c).powi(2)).sqrt();
            assert!(d > 4.0 && d < c, "{p:?}");
        }
    }
}
