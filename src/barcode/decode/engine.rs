//! The synchronous decode: bytes → luma → rxing → normalised results. No threads, no I/O.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use rxing::common::{BitMatrix, GlobalHistogramBinarizer, HybridBinarizer};
use rxing::{
    BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, Luma8Source, MultiFormatReader, Point,
    RXingResult, RXingResultMetadataType, RXingResultMetadataValue,
};

use super::bullseye;
use super::format::{DEFAULT_FORMATS, Format};
use super::linear;
use super::normalize::normalize;
use super::raster::{LumaImage, load_luma};
use super::{DecodeError, DecodeOptions, DecodedCode};

/// Decodes every barcode in an encoded image, synchronously, on the calling thread.
///
/// This is what a worker (process or thread) runs. It never panics: image codec panics become
/// [`DecodeError::Corrupt`], rxing panics an empty result (logged by the caller through
/// [`DecodeOutcome::rxing_panicked`]). It has no time limit of its own: callers that need one
/// go through [`Decoder`](super::Decoder).
pub fn decode_bytes(
    bytes: &[u8],
    options: &DecodeOptions,
) -> Result<Vec<DecodedCode>, DecodeError> {
    decode_bytes_detailed(bytes, options).map(|o| o.codes)
}

/// Result of [`decode_bytes_detailed`].
#[derive(Debug, Clone, Default)]
pub struct DecodeOutcome {
    pub codes: Vec<DecodedCode>,
    /// rxing panicked; `codes` is then empty and this holds the panic message.
    pub rxing_panicked: Option<String>,
}

/// [`decode_bytes`], also telling whether rxing panicked.
pub fn decode_bytes_detailed(
    bytes: &[u8],
    options: &DecodeOptions,
) -> Result<DecodeOutcome, DecodeError> {
    let luma = match catch_unwind(AssertUnwindSafe(|| load_luma(bytes, options.max_pixels))) {
        Ok(result) => result?,
        Err(panic) => {
            return Err(DecodeError::Corrupt(format!(
                "image codec failed: {}",
                panic_message(&*panic)
            )));
        }
    };
    Ok(decode_luma(luma, options))
}

/// Runs rxing over a prepared luma image.
pub fn decode_luma(luma: LumaImage, options: &DecodeOptions) -> DecodeOutcome {
    let hints = hints_for(options);
    let wanted = wanted(options);
    let (scale_x, scale_y) = (luma.scale_x, luma.scale_y);
    let run = catch_unwind(AssertUnwindSafe(|| {
        find_all(luma, &hints, &wanted, options)
    }));
    match run {
        Ok(results) => DecodeOutcome {
            codes: convert(results, &wanted, scale_x, scale_y),
            rxing_panicked: None,
        },
        Err(panic) => DecodeOutcome {
            codes: Vec::new(),
            rxing_panicked: Some(panic_message(&*panic)),
        },
    }
}

/// Most codes reported from one image.
pub const MAX_CODES: usize = 16;

/// Scan lines per orientation for linear symbols (see `linear.rs`): one every 1/96 of the
/// image, so a symbol 40 px tall in a 1200 px photo still meets [`linear::MIN_LINES`] lines.
const LINEAR_LINES: usize = 96;

/// Finds every code, on both cores: the linear sweep (`linear.rs`) on one, the 2D symbols
/// ([`find_matrix`]) on the other. When neither finds anything, both look again, each on a
/// core: linear symbols with the threshold for blurred photos ([`linear::Threshold::Blended`]),
/// 2D symbols over rxing's global-histogram binarisation instead of its hybrid one.
///
/// Measured on the camera corpus (`cargo bench --bench decode`, docs/performance.md): the two
/// cores take the median photo from 1.81x zxing-cpp's time to 1.52x; the blurred retry reads
/// 6 more linear codes (5 of the 12 blurred linear photos, 1 JPEG one), the global
/// binarisation 8 more 2D ones (low contrast, skew, blur, JPEG, noise), and neither costs
/// anything on a photo where a code was found. Run alongside the 2D search instead (stopped
/// as soon as that found a symbol), the blurred retry slowed the median photo by a quarter:
/// the two cores of this machine kind share more than they seem to.
fn find_all(
    luma: LumaImage,
    hints: &DecodeHints,
    wanted: &HashSet<Format>,
    options: &DecodeOptions,
) -> Vec<RXingResult> {
    let matrix: Vec<Format> = wanted.iter().copied().filter(|f| !f.is_linear()).collect();
    let linear_wanted = wanted.iter().any(|f| f.is_linear());
    let sweep = linear::Sweep {
        lines: LINEAR_LINES,
        inverted: true,
        rows: true,
        columns: options.try_harder,
        threshold: linear::Threshold::Wide,
    };
    let first = linear_wanted.then_some(sweep);
    let mut results = look(&luma, hints, first, &matrix, Binarisation::Hybrid);
    if results.is_empty() {
        // Second chances: linear symbols with the threshold for blurred photos, 2D symbols
        // over rxing's other binarisation.
        let blurred = linear_wanted.then_some(linear::Sweep {
            lines: LINEAR_LINES / 2,
            threshold: linear::Threshold::Blended,
            ..sweep
        });
        results = look(&luma, hints, blurred, &matrix, Binarisation::Global);
    }
    results.truncate(MAX_CODES);
    results
}

/// One look at the photo, on both cores: the linear `sweep` beside the 2D search for `matrix`
/// over `binarisation` or, without 2D formats, the sweep's rows beside its columns.
fn look(
    luma: &LumaImage,
    hints: &DecodeHints,
    sweep: Option<linear::Sweep>,
    matrix: &[Format],
    binarisation: Binarisation,
) -> Vec<RXingResult> {
    let (w, h) = (luma.width as usize, luma.height as usize);
    let pixels = &luma.data;
    if matrix.is_empty() {
        return sweep
            .map(|sweep| sweep_linear(pixels, w, h, hints, sweep))
            .unwrap_or_default();
    }
    let (mut found, matrix_found) = in_parallel(
        || {
            sweep
                .map(|sweep| distinct(linear::find(pixels, w, h, hints, sweep)))
                .unwrap_or_default()
        },
        // The 2D search paints what it finds white: it works on a copy.
        || find_matrix(luma.clone(), hints, matrix, binarisation),
    );
    found.extend(matrix_found);
    found
}

/// One linear sweep, rows and columns on a core each.
fn sweep_linear(
    data: &[u8],
    w: usize,
    h: usize,
    hints: &DecodeHints,
    sweep: linear::Sweep,
) -> Vec<RXingResult> {
    if !sweep.columns {
        return distinct(linear::find(data, w, h, hints, sweep));
    }
    let rows = linear::Sweep {
        columns: false,
        ..sweep
    };
    let columns = linear::Sweep {
        rows: false,
        ..sweep
    };
    let (mut found, by_columns) = in_parallel(
        || linear::find(data, w, h, hints, rows),
        || linear::find(data, w, h, hints, columns),
    );
    found.extend(by_columns);
    distinct(found)
}

/// Runs `a` on a second thread while `b` runs on this one, and returns both answers; where no
/// thread can be started, runs them one after the other here. A panic in either resurfaces
/// here, where `decode_luma` catches it.
fn in_parallel<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    // The thread takes `a` from here; if it never started, `a` is still here to run.
    let a = Mutex::new(Some(a));
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new().spawn_scoped(scope, || {
            let job = a.lock().ok().and_then(|mut slot| slot.take());
            job.map(|job| job())
        });
        let b_out = b();
        let on_thread = match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => None,
        };
        let a_out = match on_thread {
            Some(out) => out,
            None => {
                let job = a.lock().ok().and_then(|mut slot| slot.take());
                job.expect("`a` runs on the thread or, when none started, here")()
            }
        };
        (a_out, b_out)
    })
}

/// `results` with each symbol once: scan lines far apart on one symbol (or a row and a column
/// across a turned one) can each gather enough agreeing reads to count.
fn distinct(results: Vec<RXingResult>) -> Vec<RXingResult> {
    let mut out: Vec<RXingResult> = Vec::with_capacity(results.len());
    for result in results {
        if !out.iter().any(|r| same_symbol(r, &result)) {
            out.push(result);
        }
    }
    out
}

/// Finds every 2D symbol: each format's reader over the whole image; every symbol found is
/// painted white and its format's reader runs again, until it finds nothing new. A format that
/// found nothing is not tried again (painting symbols white cannot reveal one).
///
/// rxing's `GenericMultipleBarcodeReader` instead re-decodes the regions left, right, above
/// and below each hit, recursively, and costs 4-5 times a photo without any code.
fn find_matrix(
    mut luma: LumaImage,
    hints: &DecodeHints,
    formats: &[Format],
    binarisation: Binarisation,
) -> Vec<RXingResult> {
    let mut results: Vec<RXingResult> = Vec::new();
    let (w, h) = (luma.width, luma.height);
    let mut readers: Vec<MultiFormatReader> = formats
        .iter()
        .map(|f| {
            let mut reader = MultiFormatReader::default();
            reader.set_hints(&DecodeHints {
                PossibleFormats: Some([f.to_rxing()].into_iter().collect()),
                // Only the DataMatrix detector reads more with TryHarder (17 of 22 DataMatrix
                // photos of the corpus instead of 2); QR, PDF417 and Aztec read the same
                // without it, and cost less on photos without a code.
                TryHarder: Some(hints.TryHarder == Some(true) && *f == Format::DataMatrix),
                ..hints.clone()
            });
            reader
        })
        .collect();
    // Guards against a mask that failed to cover its symbol: the same text found again at
    // the same place ends the search.
    let mut repeats = 0;
    let mut first_pass = true;
    while results.len() < MAX_CODES && !readers.is_empty() {
        let found: Vec<RXingResult> = {
            let Ok(source) = Luma8Source::new_with_slice(&luma.data, w, h) else {
                break;
            };
            let aztec = (first_pass && formats.contains(&Format::Aztec))
                .then_some((&luma, results.as_slice()));
            first_pass = false;
            match binarisation {
                Binarisation::Hybrid => read_pass(
                    &mut BinaryBitmap::new(HybridBinarizer::new(source)),
                    &mut readers,
                    aztec,
                ),
                Binarisation::Global => read_pass(
                    &mut BinaryBitmap::new(GlobalHistogramBinarizer::new(source)),
                    &mut readers,
                    aztec,
                ),
            }
        };
        if found.is_empty() {
            break;
        }
        for result in found {
            mask_symbol(&mut luma.data, w, h, &result);
            if results.iter().any(|r| same_symbol(r, &result)) {
                repeats += 1;
                continue;
            }
            results.push(result);
        }
        if repeats > 2 {
            break;
        }
    }
    results
}

/// How the 2D search binarises the photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Binarisation {
    /// rxing's hybrid binariser: a threshold per 8x8 block from its neighbourhood.
    Hybrid,
    /// rxing's global histogram binariser: one threshold per row from the image's histogram.
    Global,
}

/// One pass of the 2D search over one binarisation: every reader once (a reader that finds
/// nothing is dropped), and with `aztec` (the photo and the symbols read so far) Aztec around
/// every bullseye too.
fn read_pass<B: Binarizer>(
    bitmap: &mut BinaryBitmap<B>,
    readers: &mut Vec<MultiFormatReader>,
    aztec: Option<(&LumaImage, &[RXingResult])>,
) -> Vec<RXingResult> {
    let mut found = Vec::new();
    readers.retain_mut(|reader| match reader.decode_with_state(bitmap) {
        Ok(result) => {
            found.push(result);
            true
        }
        Err(_) => false,
    });
    if let Some((luma, results)) = aztec {
        // rxing's Aztec reader only looks at the image centre: read around every bullseye
        // found in this pass's binarisation (see `bullseye.rs`).
        let bits = bitmap.get_black_matrix();
        let more = aztec_off_centre(bits, luma, results, &found);
        found.extend(more);
    }
    found
}

/// Aztec symbols around the candidate bullseyes of `bits` (the binarised `luma`) that neither
/// `results` nor `found` holds already.
fn aztec_off_centre(
    bits: &BitMatrix,
    luma: &LumaImage,
    results: &[RXingResult],
    found: &[RXingResult],
) -> Vec<RXingResult> {
    let mut out: Vec<RXingResult> = Vec::new();
    for candidate in bullseye::candidates(bits) {
        // A candidate inside a symbol already read is that symbol's bullseye.
        let inside = |r: &RXingResult| {
            bounds(r.getPoints()).is_some_and(|(x0, y0, x1, y1)| {
                (x0..=x1).contains(&candidate.x) && (y0..=y1).contains(&candidate.y)
            })
        };
        if results.iter().chain(found).chain(&out).any(inside) {
            continue;
        }
        if let Some(result) = bullseye::read_at(&luma.data, luma.width, luma.height, &candidate)
            && !results
                .iter()
                .chain(found)
                .chain(&out)
                .any(|r| same_symbol(r, &result))
        {
            out.push(result);
        }
    }
    out
}

fn bounds(points: &[Point]) -> Option<(f32, f32, f32, f32)> {
    let mut it = points.iter().filter(|p| p.x.is_finite() && p.y.is_finite());
    let first = it.next()?;
    Some(it.fold(
        (first.x, first.y, first.x, first.y),
        |(x0, y0, x1, y1), p| (x0.min(p.x), y0.min(p.y), x1.max(p.x), y1.max(p.y)),
    ))
}

/// Same format and text, and overlapping places. A linear symbol is read along one scan line
/// whose row varies between reads, so across the line it counts as overlapping within 80% of
/// its length (two identical labels side by side stay distinct).
fn same_symbol(a: &RXingResult, b: &RXingResult) -> bool {
    if a.getBarcodeFormat() != b.getBarcodeFormat() || a.getText() != b.getText() {
        return false;
    }
    let linear = Format::from_rxing(a.getBarcodeFormat()).is_some_and(Format::is_linear);
    match (bounds(a.getPoints()), bounds(b.getPoints())) {
        (Some(p), Some(q)) => {
            let (mut sx, mut sy) = (8.0f32, 8.0f32);
            if linear {
                let (w, h) = ((p.2 - p.0).max(q.2 - q.0), (p.3 - p.1).max(q.3 - q.1));
                if w >= h {
                    sy = sy.max(0.8 * w);
                } else {
                    sx = sx.max(0.8 * h);
                }
            }
            p.0 - sx <= q.2 && q.0 - sx <= p.2 && p.1 - sy <= q.3 && q.1 - sy <= p.3
        }
        _ => true,
    }
}

/// Paints the symbol that `result` was read from white, with a margin for its quiet zone.
fn mask_symbol(data: &mut [u8], w: u32, h: u32, result: &RXingResult) {
    let points: Vec<(f32, f32)> = result
        .getPoints()
        .iter()
        .filter(|p| p.x.is_finite() && p.y.is_finite())
        .map(|p| (p.x, p.y))
        .collect();
    let Some((x0, y0, x1, y1)) = bounds(result.getPoints()) else {
        return;
    };
    let (bw, bh) = (x1 - x0, y1 - y0);
    let linear = Format::from_rxing(result.getBarcodeFormat()).is_some_and(Format::is_linear);
    if linear {
        // A scan line (or finder patterns along one): the bars extend across it by an
        // unknown amount, measured from the image.
        let (&first, &last) = match (points.first(), points.last()) {
            (Some(a), Some(b)) => (a, b),
            _ => return,
        };
        let (a, b) = farthest_pair(&points).unwrap_or((first, last));
        mask_linear(data, w, h, a, b);
    } else {
        // 2D corners; QR reports finder-pattern centres, 3.5 modules inside the corners.
        let qr = matches!(result.getBarcodeFormat(), BarcodeFormat::QR_CODE);
        let margin = bw.max(bh) * if qr { 0.3 } else { 0.12 } + 4.0;
        fill_rect(
            data,
            w,
            h,
            x0 - margin,
            y0 - margin,
            x1 + margin,
            y1 + margin,
        );
    }
}

type Xy = (f32, f32);

fn farthest_pair(points: &[Xy]) -> Option<(Xy, Xy)> {
    let mut best: Option<(f32, Xy, Xy)> = None;
    for (i, &a) in points.iter().enumerate() {
        for &b in &points[i + 1..] {
            let d = (a.0 - b.0).powi(2) + (a.1 - b.1).powi(2);
            if best.is_none_or(|(bd, _, _)| d > bd) {
                best = Some((d, a, b));
            }
        }
    }
    best.map(|(_, a, b)| (a, b))
}

fn fill_rect(data: &mut [u8], w: u32, h: u32, x0: f32, y0: f32, x1: f32, y1: f32) {
    let clamp_x = |v: f32| v.clamp(0.0, w as f32) as usize;
    let clamp_y = |v: f32| v.clamp(0.0, h as f32) as usize;
    let (x0, x1, y0, y1) = (clamp_x(x0), clamp_x(x1), clamp_y(y0), clamp_y(y1));
    for y in y0..y1 {
        let row = y * w as usize;
        if let Some(slice) = data.get_mut(row + x0..row + x1) {
            slice.fill(255);
        }
    }
}

/// Masks a linear symbol read along the segment `a`-`b`: walks away from the scan line on
/// both sides while the bar pattern stays the same, then paints that rotated rectangle
/// (plus quiet-zone margins) white.
fn mask_linear(data: &mut [u8], w: u32, h: u32, a: (f32, f32), b: (f32, f32)) {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = (dx * dx + dy * dy).sqrt();
    if len < 2.0 {
        fill_rect(data, w, h, a.0 - 8.0, a.1 - 8.0, a.0 + 8.0, a.1 + 8.0);
        return;
    }
    let u = (dx / len, dy / len);
    let n = (-u.1, u.0);
    let sample = |x: f32, y: f32| -> Option<u8> {
        if x < 0.0 || y < 0.0 || x >= w as f32 || y >= h as f32 {
            return None;
        }
        data.get(y as usize * w as usize + x as usize).copied()
    };
    let profile = |offset: f32| -> Option<Vec<bool>> {
        let steps = len as usize;
        let mut values = Vec::with_capacity(steps);
        for i in 0..steps {
            let t = i as f32;
            values.push(sample(
                a.0 + u.0 * t + n.0 * offset,
                a.1 + u.1 * t + n.1 * offset,
            )?);
        }
        let mean = values.iter().map(|&v| u32::from(v)).sum::<u32>() / values.len().max(1) as u32;
        Some(values.into_iter().map(|v| u32::from(v) < mean).collect())
    };
    let Some(reference) = profile(0.0) else {
        fill_rect(
            data,
            w,
            h,
            a.0.min(b.0),
            a.1.min(b.1),
            a.0.max(b.0),
            a.1.max(b.1),
        );
        return;
    };
    // Agreement with the scan line's pattern, over lateral shifts near `around`: a slightly
    // rotated symbol's bars drift sideways as we walk away from the scan line, so the best
    // shift is tracked from step to step.
    let similar = |p: &[bool], around: i32| -> Option<i32> {
        let mut best: Option<(usize, i32)> = None;
        for shift in around - 2..=around + 2 {
            let mut same = 0usize;
            let mut total = 0usize;
            for (i, &r) in reference.iter().enumerate() {
                let j = i as i32 + shift;
                if let Some(&q) = usize::try_from(j).ok().and_then(|j| p.get(j)) {
                    total += 1;
                    same += usize::from(q == r);
                }
            }
            if total * 2 >= reference.len() && same * 100 >= total * 80 {
                let score = same * 1000 / total;
                if best.is_none_or(|(s, _)| score > s) {
                    best = Some((score, shift));
                }
            }
        }
        best.map(|(_, shift)| shift)
    };
    let max_extent = (len * 1.5).max(20.0);
    let extent = |dir: f32| -> f32 {
        let mut good = 0.0f32;
        let mut misses = 0;
        let mut shift = 0;
        let mut d = 2.0f32;
        while d <= max_extent {
            match profile(dir * d).map(|p| similar(&p, shift)) {
                Some(Some(best)) => {
                    good = d;
                    shift = best;
                    misses = 0;
                }
                Some(None) => {
                    misses += 1;
                    if misses >= 3 {
                        break;
                    }
                }
                None => break,
            }
            d += 2.0;
        }
        good
    };
    let (up, down) = (extent(-1.0) + 4.0, extent(1.0) + 4.0);
    let along = len * 0.08 + 6.0;
    // Rotated rectangle: t in [-along, len + along], s in [-up, down].
    let corners = [
        (a.0 - u.0 * along - n.0 * up, a.1 - u.1 * along - n.1 * up),
        (
            a.0 - u.0 * along + n.0 * down,
            a.1 - u.1 * along + n.1 * down,
        ),
        (b.0 + u.0 * along - n.0 * up, b.1 + u.1 * along - n.1 * up),
        (
            b.0 + u.0 * along + n.0 * down,
            b.1 + u.1 * along + n.1 * down,
        ),
    ];
    let (mut bx0, mut by0, mut bx1, mut by1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for (x, y) in corners {
        bx0 = bx0.min(x);
        by0 = by0.min(y);
        bx1 = bx1.max(x);
        by1 = by1.max(y);
    }
    let (bx0, by0) = (bx0.max(0.0) as usize, by0.max(0.0) as usize);
    let (bx1, by1) = (bx1.min(w as f32) as usize, by1.min(h as f32) as usize);
    for y in by0..by1 {
        for x in bx0..bx1 {
            let (px, py) = (x as f32 + 0.5 - a.0, y as f32 + 0.5 - a.1);
            let t = px * u.0 + py * u.1;
            let s = px * n.0 + py * n.1;
            if t >= -along
                && t <= len + along
                && s >= -up
                && s <= down
                && let Some(v) = data.get_mut(y * w as usize + x)
            {
                *v = 255;
            }
        }
    }
}

fn wanted(options: &DecodeOptions) -> HashSet<Format> {
    if options.formats.is_empty() {
        DEFAULT_FORMATS.iter().copied().collect()
    } else {
        options.formats.iter().copied().collect()
    }
}

/// Always an explicit format set (never rxing's "all formats", which would include MaxiCode if
/// it were compiled in) and an explicit TryHarder (rxing's helpers force it on).
pub(crate) fn hints_for(options: &DecodeOptions) -> DecodeHints {
    let formats = wanted(options);
    DecodeHints {
        PossibleFormats: Some(formats.iter().map(|f| f.to_rxing()).collect()),
        TryHarder: Some(options.try_harder),
        // Code 128: keep FNC1 (as "]C1" prefix + GS separators) instead of dropping it.
        // No other reader looks at this hint in rxing 0.9.3.
        AssumeGs1: Some(formats.contains(&Format::Code128)),
        ..DecodeHints::default()
    }
}

fn convert(
    results: Vec<RXingResult>,
    wanted: &HashSet<Format>,
    scale_x: f32,
    scale_y: f32,
) -> Vec<DecodedCode> {
    let mut codes: Vec<DecodedCode> = results
        .iter()
        .filter_map(|r| {
            let format = Format::from_rxing(r.getBarcodeFormat())?;
            if !wanted.contains(&format) {
                return None;
            }
            let aim = match r
                .getRXingResultMetadata()
                .get(&RXingResultMetadataType::SYMBOLOGY_IDENTIFIER)
            {
                Some(RXingResultMetadataValue::SymbologyIdentifier(s)) => Some(s.as_str()),
                _ => None,
            };
            let (text, symbology) = normalize(format, r.getText(), aim);
            let points = r
                .getPoints()
                .iter()
                .filter(|p| p.x.is_finite() && p.y.is_finite())
                .map(|p| (p.x * scale_x, p.y * scale_y))
                .collect();
            Some(DecodedCode {
                format,
                text,
                symbology: Some(symbology),
                points,
            })
        })
        .collect();
    // Reading order (top to bottom, then left to right) so that results are deterministic.
    codes.sort_by(|a, b| {
        let key = |c: &DecodedCode| {
            c.points
                .iter()
                .fold((f32::MAX, f32::MAX), |(y, x), p| (y.min(p.1), x.min(p.0)))
        };
        let (ka, kb) = (key(a), key(b));
        ka.0.total_cmp(&kb.0)
            .then(ka.1.total_cmp(&kb.1))
            .then_with(|| a.text.cmp(&b.text))
    });
    codes.dedup_by(|a, b| a.format == b.format && a.text == b.text && a.points == b.points);
    codes
}

pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_explicit_and_never_include_maxicode() {
        let opts = DecodeOptions {
            formats: vec![],
            try_harder: false,
            ..DecodeOptions::default()
        };
        let hints = hints_for(&opts);
        let formats = hints.PossibleFormats.expect("explicit set");
        assert_eq!(formats.len(), DEFAULT_FORMATS.len());
        assert!(!formats.contains(&BarcodeFormat::MAXICODE));
        assert_eq!(hints.TryHarder, Some(false));
        assert_eq!(hints.AssumeGs1, Some(true));

        let qr_only = DecodeOptions {
            formats: vec![Format::QrCode],
            ..DecodeOptions::default()
        };
        let hints = hints_for(&qr_only);
        assert_eq!(
            hints.PossibleFormats,
            Some([BarcodeFormat::QR_CODE].into_iter().collect())
        );
        assert_eq!(hints.AssumeGs1, Some(false));
        assert_eq!(hints.TryHarder, Some(true));
    }

    #[test]
    fn uniform_and_tiny_luma_decode_to_nothing() {
        for (w, h) in [(16, 16), (16, 400), (400, 16), (1, 1)] {
            let luma = LumaImage {
                data: vec![128; (w * h) as usize],
                width: w,
                height: h,
                scale_x: 1.0,
                scale_y: 1.0,
            };
            let out = decode_luma(luma, &DecodeOptions::default());
            assert!(out.codes.is_empty() && out.rxing_panicked.is_none());
        }
        // A buffer that does not match its dimensions is refused by rxing, not a panic.
        let bad = LumaImage {
            data: vec![0; 10],
            width: 100,
            height: 100,
            scale_x: 1.0,
            scale_y: 1.0,
        };
        assert!(decode_luma(bad, &DecodeOptions::default()).codes.is_empty());
    }
}
