//! The camera-scanning corpus (issue 19): synthetic phone photos generated from a fixed seed,
//! with the text each barcode holds, as Depot reports it (GS1 separators as GS, no AIM prefix).
//!
//! Twelve symbologies, each under eleven conditions (two images each): clean, any rotation,
//! 1 px modules, skew, blur, noise, low contrast, JPEG down to quality 5, perspective,
//! inverted (light bars on dark), cluttered background. Then photos with several codes, and
//! photos with none: noise, gradients, printed text, stripes that look like bars.
//!
//! Used by `benches/decode.rs` (against zxing-cpp) and `tests/decode.rs` (the no-code and
//! inverted cases), with `#[path = "../benches/common/corpus.rs"]`. Same seed, same pixels:
//! only the `image` crate's JPEG codec and `rand`'s `StdRng` could change them.

#![allow(dead_code)]

use std::io::Cursor;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};
use image::{GrayImage, Luma};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rxing::{BarcodeFormat, EncodeHintValue, EncodeHints, MultiFormatWriter, Writer};

pub const GS: char = '\u{1d}';
/// The seed of the corpus in docs/performance.md.
pub const SEED: u64 = 20_261_203;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sym {
    Code128,
    Gs1_128,
    Ean13,
    Ean8,
    UpcA,
    UpcE,
    Qr,
    Gs1Qr,
    DataMatrix,
    Gs1DataMatrix,
    Pdf417,
    Aztec,
}

impl Sym {
    pub const ALL: [Sym; 12] = [
        Sym::Code128,
        Sym::Gs1_128,
        Sym::Ean13,
        Sym::Ean8,
        Sym::UpcA,
        Sym::UpcE,
        Sym::Qr,
        Sym::Gs1Qr,
        Sym::DataMatrix,
        Sym::Gs1DataMatrix,
        Sym::Pdf417,
        Sym::Aztec,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Sym::Code128 => "code128",
            Sym::Gs1_128 => "gs1-128",
            Sym::Ean13 => "ean13",
            Sym::Ean8 => "ean8",
            Sym::UpcA => "upc-a",
            Sym::UpcE => "upc-e",
            Sym::Qr => "qr",
            Sym::Gs1Qr => "gs1 qr",
            Sym::DataMatrix => "datamatrix",
            Sym::Gs1DataMatrix => "gs1 datamatrix",
            Sym::Pdf417 => "pdf417",
            Sym::Aztec => "aztec",
        }
    }

    pub fn is_linear(self) -> bool {
        matches!(
            self,
            Sym::Code128 | Sym::Gs1_128 | Sym::Ean13 | Sym::Ean8 | Sym::UpcA | Sym::UpcE
        )
    }

    fn rxing(self) -> BarcodeFormat {
        match self {
            Sym::Code128 | Sym::Gs1_128 => BarcodeFormat::CODE_128,
            Sym::Ean13 => BarcodeFormat::EAN_13,
            Sym::Ean8 => BarcodeFormat::EAN_8,
            Sym::UpcA => BarcodeFormat::UPC_A,
            Sym::UpcE => BarcodeFormat::UPC_E,
            Sym::Qr | Sym::Gs1Qr => BarcodeFormat::QR_CODE,
            Sym::DataMatrix | Sym::Gs1DataMatrix => BarcodeFormat::DATA_MATRIX,
            Sym::Pdf417 => BarcodeFormat::PDF_417,
            Sym::Aztec => BarcodeFormat::AZTEC,
        }
    }
}

pub const CONDITIONS: [&str; 11] = [
    "clean",
    "rotated",
    "1px module",
    "skew",
    "blur",
    "noise",
    "low contrast",
    "jpeg",
    "perspective",
    "inverted",
    "clutter",
];

pub const NO_CODE: [&str; 4] = ["plain noise", "gradient", "text", "stripes"];

/// One photo of the corpus.
pub struct Sample {
    /// Unique, usable as a file name stem.
    pub name: String,
    /// The symbology (`ean13`...), `multi`, or `no code`.
    pub group: &'static str,
    /// One of [`CONDITIONS`], `several codes`, or one of [`NO_CODE`].
    pub condition: &'static str,
    /// True when a linear symbol is printed light on dark.
    pub inverted_linear: bool,
    pub image: GrayImage,
    /// What each code holds, as Depot reports it; empty for a photo without codes.
    pub expected: Vec<String>,
}

/// True when a decoder's `found` text is the `expected` one. Tolerates an AIM prefix or a
/// leading GS (FNC1 in first position) that some decoders or modes put in the text, and the
/// EAN/UPC forms (zxing-cpp reports UPC-A and UPC-E as the 13 digits of their GTIN, Depot as
/// the 12 or 8 digits the symbol carries).
pub fn same_text(found: &str, expected: &str) -> bool {
    let strip = |s: &str| -> String {
        let s = if s.len() >= 3 && s.starts_with(']') && s.is_char_boundary(3) {
            &s[3..]
        } else {
            s
        };
        let s = s.trim_start_matches(GS);
        // UPC-A as EAN-13: drop the leading zero.
        match s.strip_prefix('0') {
            Some(rest) if rest.len() == 12 && rest.bytes().all(|b| b.is_ascii_digit()) => {
                rest.to_string()
            }
            _ => s.to_string(),
        }
    };
    let (f, e) = (strip(found), strip(expected));
    if f == e {
        return true;
    }
    // UPC-E against its expansion.
    let upc_e = |s: &str| -> Option<String> {
        let b = s.as_bytes();
        (b.len() == 8 && b.iter().all(u8::is_ascii_digit) && matches!(b[0], b'0' | b'1')).then(
            || {
                format!(
                    "{}{}",
                    upc_e_body(char::from(b[0]), &b[1..7]),
                    char::from(b[7])
                )
            },
        )
    };
    upc_e(&e).is_some_and(|x| x == f) || upc_e(&f).is_some_and(|x| x == e)
}

// --- contents ---------------------------------------------------------------------------------

fn check_digit(body: &str) -> char {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

fn digits(rng: &mut StdRng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

fn alnum(rng: &mut StdRng, n: usize) -> String {
    const SET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
    (0..n)
        .map(|_| char::from(SET[rng.gen_range(0..SET.len())]))
        .collect()
}

fn gtin14(rng: &mut StdRng) -> String {
    let body = format!("0{}", digits(rng, 12));
    format!("{body}{}", check_digit(&body))
}

/// UPC-E zero suppression (number system, six digits) to the 11 digits before the check digit.
fn upc_e_body(ns: char, d: &[u8]) -> String {
    let s = |i: usize| char::from(d[i]);
    let body: String = match d[5] {
        b'0'..=b'2' => [s(0), s(1), s(5), '0', '0', '0', '0', s(2), s(3), s(4)]
            .iter()
            .collect(),
        b'3' => [s(0), s(1), s(2), '0', '0', '0', '0', '0', s(3), s(4)]
            .iter()
            .collect(),
        b'4' => [s(0), s(1), s(2), s(3), '0', '0', '0', '0', '0', s(4)]
            .iter()
            .collect(),
        _ => [s(0), s(1), s(2), s(3), s(4), '0', '0', '0', '0', s(5)]
            .iter()
            .collect(),
    };
    format!("{ns}{body}")
}

/// (contents for the encoder, text a reader reports, GS1 hint).
fn payload(sym: Sym, rng: &mut StdRng) -> (String, String, bool) {
    match sym {
        Sym::Code128 => {
            let t = format!(
                "BIN-{}{:02}-{:03}",
                char::from(b'A' + rng.gen_range(0..26u8)),
                rng.gen_range(0..100),
                rng.gen_range(0..1000)
            );
            (t.clone(), t, false)
        }
        Sym::Gs1_128 => {
            let (g, lot, ser) = (gtin14(rng), format!("L{}", digits(rng, 4)), digits(rng, 5));
            (
                format!("\u{f1}01{g}10{lot}\u{f1}21{ser}"),
                format!("01{g}10{lot}{GS}21{ser}"),
                false,
            )
        }
        Sym::Ean13 => {
            let body = format!("{}{}", rng.gen_range(1..10), digits(rng, 11));
            let t = format!("{body}{}", check_digit(&body));
            (t.clone(), t, false)
        }
        Sym::Ean8 => {
            let body = format!("{}{}", rng.gen_range(1..10), digits(rng, 6));
            let t = format!("{body}{}", check_digit(&body));
            (t.clone(), t, false)
        }
        Sym::UpcA => {
            let body = format!("{}{}", rng.gen_range(1..10), digits(rng, 10));
            let t = format!("{body}{}", check_digit(&body));
            (t.clone(), t, false)
        }
        Sym::UpcE => {
            let ns = if rng.gen_bool(0.5) { '0' } else { '1' };
            let six = digits(rng, 6);
            let check = check_digit(&upc_e_body(ns, six.as_bytes()));
            let t = format!("{ns}{six}{check}");
            (t.clone(), t, false)
        }
        Sym::Qr => {
            let n = rng.gen_range(6..24);
            let t = format!("https://depot.example/p/{}", alnum(rng, n));
            (t.clone(), t, false)
        }
        Sym::Gs1Qr => {
            let (g, lot, ser) = (gtin14(rng), alnum(rng, 6), digits(rng, 6));
            // Alphanumeric mode: '%' encodes FNC1.
            (
                format!("01{g}10{lot}%21{ser}"),
                format!("01{g}10{lot}{GS}21{ser}"),
                true,
            )
        }
        Sym::DataMatrix => {
            let t = format!("PICK/{}/{}", rng.gen_range(1..100_000), alnum(rng, 5));
            (t.clone(), t, false)
        }
        Sym::Gs1DataMatrix => {
            let t = format!(
                "01{}17{}{:02}{:02}10{}{GS}21{}",
                gtin14(rng),
                rng.gen_range(26..35),
                rng.gen_range(1..13),
                rng.gen_range(1..29),
                alnum(rng, 5),
                digits(rng, 6)
            );
            (t.clone(), t, true)
        }
        Sym::Pdf417 => {
            let t = format!("SHIP {} TO DEPOT {}", rng.gen_range(1..10_000), {
                let n = rng.gen_range(4..12);
                alnum(rng, n)
            });
            (t.clone(), t, false)
        }
        Sym::Aztec => {
            let t = format!("AZTEC-{}-{}", rng.gen_range(0..1000), alnum(rng, 6));
            (t.clone(), t, false)
        }
    }
}

// --- symbols ----------------------------------------------------------------------------------

/// The symbol at one pixel per module, with its quiet zone, white 255 / black 0. Linear
/// symbols get `bar_height` px of bars; PDF417 rows are three modules high.
fn tile(sym: Sym, contents: &str, gs1: bool, module: u32, bar_height: u32) -> GrayImage {
    let mut hints = EncodeHints::default().with(EncodeHintValue::Margin("0".into()));
    if gs1 {
        // DataMatrix only honours Gs1Format together with DataMatrixCompact.
        hints = hints
            .with(EncodeHintValue::Gs1Format(true))
            .with(EncodeHintValue::DataMatrixCompact(true));
    }
    let m = MultiFormatWriter
        .encode_with_hints(contents, &sym.rxing(), 0, 0, &hints)
        .unwrap_or_else(|e| panic!("encoding {sym:?} {contents:?}: {e:?}"));
    let (w, h) = (m.getWidth(), m.getHeight());
    let linear = sym.is_linear();
    let quiet = match sym {
        _ if linear => 10,
        Sym::Qr | Sym::Gs1Qr | Sym::Pdf417 => 4,
        _ => 2,
    };
    let my_scale = if sym == Sym::Pdf417 { 3 } else { 1 };
    let (mx, my) = (module, module * my_scale);
    let out_w = (w + 2 * quiet) * mx;
    let out_h = if linear {
        bar_height + 2 * quiet * module
    } else {
        h * my + 2 * quiet * module
    };
    GrayImage::from_fn(out_w, out_h, |x, y| {
        let cx = (x / mx).checked_sub(quiet).filter(|&c| c < w);
        let cy = if linear {
            y.checked_sub(quiet * module)
                .filter(|&v| v < bar_height)
                .map(|_| 0)
        } else {
            y.checked_sub(quiet * module)
                .map(|v| v / my)
                .filter(|&c| c < h)
        };
        match (cx, cy) {
            (Some(cx), Some(cy)) if m.get(cx, cy) => Luma([0]),
            _ => Luma([255]),
        }
    })
}

// --- geometry ---------------------------------------------------------------------------------

type Quad = [(f32, f32); 4];

/// The projective map from the unit square onto `q` (corners in order (0,0), (1,0), (1,1),
/// (0,1)), as a 3x3 matrix (Heckbert's closed form).
fn square_to_quad(q: &Quad) -> [f32; 9] {
    let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = *q;
    let (dx1, dx2, dx3) = (x1 - x2, x3 - x2, x0 - x1 + x2 - x3);
    let (dy1, dy2, dy3) = (y1 - y2, y3 - y2, y0 - y1 + y2 - y3);
    if dx3.abs() < 1e-6 && dy3.abs() < 1e-6 {
        return [x1 - x0, x2 - x1, x0, y1 - y0, y2 - y1, y0, 0.0, 0.0, 1.0];
    }
    let den = dx1 * dy2 - dx2 * dy1;
    let g = (dx3 * dy2 - dx2 * dy3) / den;
    let h = (dx1 * dy3 - dx3 * dy1) / den;
    [
        x1 - x0 + g * x1,
        x3 - x0 + h * x3,
        x0,
        y1 - y0 + g * y1,
        y3 - y0 + h * y3,
        y0,
        g,
        h,
        1.0,
    ]
}

fn invert3(m: &[f32; 9]) -> [f32; 9] {
    let [a, b, c, d, e, f, g, h, i] = *m;
    let (ca, cb, cc) = (e * i - f * h, -(d * i - f * g), d * h - e * g);
    let det = a * ca + b * cb + c * cc;
    let k = 1.0 / det;
    [
        ca * k,
        -(b * i - c * h) * k,
        (b * f - c * e) * k,
        cb * k,
        (a * i - c * g) * k,
        -(a * f - c * d) * k,
        cc * k,
        -(a * h - b * g) * k,
        (a * e - b * d) * k,
    ]
}

/// Pastes `tile` onto `photo` so that its corners land on `quad`, mapping white to `light` and
/// black to `dark` (bilinear sampling; outside the tile the photo stays).
fn paste(photo: &mut GrayImage, tile: &GrayImage, quad: &Quad, dark: f32, light: f32) {
    let inv = invert3(&square_to_quad(quad));
    let (tw, th) = (tile.width() as f32, tile.height() as f32);
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for &(x, y) in quad {
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    let (w, h) = (photo.width() as f32, photo.height() as f32);
    let (x0, y0) = (x0.max(0.0) as u32, y0.max(0.0) as u32);
    let (x1, y1) = (x1.min(w - 1.0) as u32, y1.min(h - 1.0) as u32);
    let px = |x: i64, y: i64| -> f32 {
        let x = x.clamp(0, tile.width() as i64 - 1) as u32;
        let y = y.clamp(0, tile.height() as i64 - 1) as u32;
        f32::from(tile.get_pixel(x, y).0[0])
    };
    for y in y0..=y1 {
        for x in x0..=x1 {
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            let wq = inv[6] * fx + inv[7] * fy + inv[8];
            let u = (inv[0] * fx + inv[1] * fy + inv[2]) / wq;
            let v = (inv[3] * fx + inv[4] * fy + inv[5]) / wq;
            if !(0.0..1.0).contains(&u) || !(0.0..1.0).contains(&v) {
                continue;
            }
            let (sx, sy) = (u * tw - 0.5, v * th - 0.5);
            let (ix, iy) = (sx.floor(), sy.floor());
            let (ax, ay) = (sx - ix, sy - iy);
            let (ix, iy) = (ix as i64, iy as i64);
            let t = px(ix, iy) * (1.0 - ax) * (1.0 - ay)
                + px(ix + 1, iy) * ax * (1.0 - ay)
                + px(ix, iy + 1) * (1.0 - ax) * ay
                + px(ix + 1, iy + 1) * ax * ay;
            let v = dark + (light - dark) * t / 255.0;
            photo.put_pixel(x, y, Luma([v.round().clamp(0.0, 255.0) as u8]));
        }
    }
}

/// A quad of `tw` x `th` centred on the origin: sheared by `shear`, one side shortened to
/// `taper` of its length (perspective), rotated by `deg`.
fn shape(tw: f32, th: f32, deg: f32, shear: f32, taper: f32) -> Quad {
    let (hw, hh) = (tw / 2.0, th / 2.0);
    let mut q: Quad = [(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)];
    for p in &mut q {
        p.0 += shear * p.1;
    }
    // Right side farther from the camera.
    q[1].1 *= taper;
    q[2].1 *= taper;
    let (s, c) = deg.to_radians().sin_cos();
    q.map(|(x, y)| (c * x - s * y, s * x + c * y))
}

fn extent(q: &Quad) -> (f32, f32, f32, f32) {
    q.iter()
        .fold((f32::MAX, f32::MAX, f32::MIN, f32::MIN), |b, &(x, y)| {
            (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y))
        })
}

// --- photo ------------------------------------------------------------------------------------

fn background(w: u32, h: u32, rng: &mut StdRng) -> GrayImage {
    let (base, gx, gy) = (
        rng.gen_range(120.0..200.0f32),
        rng.gen_range(-50.0..50.0f32),
        rng.gen_range(-40.0..40.0f32),
    );
    GrayImage::from_fn(w, h, |x, y| {
        let v = base + gx * (x as f32 / w as f32 - 0.5) + gy * (y as f32 / h as f32 - 0.5);
        Luma([v.clamp(0.0, 255.0) as u8])
    })
}

fn overlaps(a: (f32, f32, f32, f32), b: (f32, f32, f32, f32)) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

/// Dark boxes, lines of text and bar-like stripes, kept off the `keep` rectangles.
fn clutter(img: &mut GrayImage, keep: &[(f32, f32, f32, f32)], n: usize, rng: &mut StdRng) {
    let (w, h) = (img.width(), img.height());
    let mut placed = 0;
    let mut tries = 0;
    while placed < n && tries < n * 20 {
        tries += 1;
        let kind = rng.gen_range(0..3);
        let (rw, rh) = match kind {
            0 => (rng.gen_range(10..140), rng.gen_range(4..40)),
            1 => (rng.gen_range(80..300), rng.gen_range(14..26)),
            _ => (rng.gen_range(40..160), rng.gen_range(20..80)),
        };
        if rw + 2 >= w || rh + 2 >= h {
            continue;
        }
        let (rx, ry) = (rng.gen_range(0..w - rw), rng.gen_range(0..h - rh));
        let r = (
            rx as f32 - 8.0,
            ry as f32 - 8.0,
            (rx + rw) as f32 + 8.0,
            (ry + rh) as f32 + 8.0,
        );
        if keep.iter().any(|&k| overlaps(k, r)) {
            continue;
        }
        placed += 1;
        let ink = rng.gen_range(20.0..90.0f32);
        match kind {
            0 => fill(img, rx, ry, rw, rh, ink),
            1 => {
                let words = random_words(rng, 6);
                draw_text(img, &words, rx as f32, ry as f32, rh as f32, ink);
            }
            _ => stripes(img, rx, ry, rw, rh, ink, rng),
        }
    }
}

fn fill(img: &mut GrayImage, x: u32, y: u32, w: u32, h: u32, v: f32) {
    for yy in y..(y + h).min(img.height()) {
        for xx in x..(x + w).min(img.width()) {
            img.put_pixel(xx, yy, Luma([v as u8]));
        }
    }
}

/// Bars of random widths 1-6 px: looks like a barcode to a row scanner, encodes nothing.
fn stripes(img: &mut GrayImage, x: u32, y: u32, w: u32, h: u32, ink: f32, rng: &mut StdRng) {
    let mut cx = x;
    let mut dark = true;
    while cx < x + w {
        let bw = rng.gen_range(1..7);
        if dark {
            fill(img, cx, y, bw.min(x + w - cx), h, ink);
        }
        dark = !dark;
        cx += bw;
    }
}

fn font() -> FontRef<'static> {
    FontRef::try_from_slice(dejavu::sans::regular()).expect("DejaVu parses")
}

fn random_words(rng: &mut StdRng, n: usize) -> String {
    const WORDS: &[&str] = &[
        "Lot",
        "Exp",
        "Net",
        "weight",
        "keep",
        "dry",
        "store",
        "below",
        "25",
        "C",
        "Made",
        "in",
        "EU",
        "Best",
        "before",
        "Batch",
        "Qty",
        "Ref",
        "Order",
        "ship",
        "to",
        "Dock",
        "Depot",
        "Item",
        "code",
        "1234567",
        "0012",
        "2027-01-31",
        "500 g",
        "x12",
        "Serial",
        "No.",
    ];
    (0..n)
        .map(|_| WORDS[rng.gen_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Printed text: DejaVu Sans, `size` px, ink on whatever is there.
fn draw_text(img: &mut GrayImage, text: &str, x: f32, y: f32, size: f32, ink: f32) {
    let font = font();
    let scale = PxScale::from(size);
    let scaled = font.as_scaled(scale);
    let mut pen = x;
    let baseline = y + scaled.ascent();
    for c in text.chars() {
        let id = font.glyph_id(c);
        let glyph = id.with_scale_and_position(scale, ab_glyph::point(pen, baseline));
        pen += scaled.h_advance(id);
        if let Some(outline) = font.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, cov| {
                let (px, py) = (b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64);
                if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                    let p = img.get_pixel_mut(px as u32, py as u32);
                    let old = f32::from(p.0[0]);
                    p.0[0] = (old + (ink - old) * cov.min(1.0)) as u8;
                }
            });
        }
    }
}

fn noise(img: &mut GrayImage, sigma: f32, rng: &mut StdRng) {
    for p in img.pixels_mut() {
        // Sum of three uniforms: close enough to a normal for sensor noise.
        let n: f32 = (0..3).map(|_| rng.gen_range(-1.0..1.0f32)).sum::<f32>() * sigma;
        p.0[0] = (f32::from(p.0[0]) + n).round().clamp(0.0, 255.0) as u8;
    }
}

fn jpeg(img: &GrayImage, quality: u8) -> GrayImage {
    let mut out = Cursor::new(Vec::new());
    img.write_with_encoder(image::codecs::jpeg::JpegEncoder::new_with_quality(
        &mut out, quality,
    ))
    .expect("jpeg encode");
    image::load_from_memory(&out.into_inner())
        .expect("jpeg decode")
        .to_luma8()
}

/// Photo size (4:3, at least 640x480, at most 1600x1200) that fits `need` x `need_h` with a
/// margin.
fn photo_size(need_w: f32, need_h: f32) -> (u32, u32) {
    let w = (need_w + 60.0).max((need_h + 60.0) * 4.0 / 3.0).max(640.0);
    let w = (w.ceil() as u32).div_ceil(32) * 32;
    let w = w.min(1600);
    (w, w * 3 / 4)
}

struct Look {
    module: u32,
    deg: f32,
    shear: f32,
    taper: f32,
    blur: f32,
    sigma: f32,
    dark: f32,
    light: f32,
    quality: Option<u8>,
    clutter: usize,
}

fn look(sym: Sym, condition: &str, i: usize, rng: &mut StdRng) -> Look {
    let linear = sym.is_linear();
    let module = if linear {
        rng.gen_range(2..4)
    } else {
        rng.gen_range(3..6)
    };
    let mut l = Look {
        module,
        deg: rng.gen_range(-6.0..6.0),
        shear: 0.0,
        taper: 1.0,
        blur: rng.gen_range(0.3..0.8),
        sigma: rng.gen_range(2.0..6.0),
        dark: rng.gen_range(20.0..60.0),
        light: rng.gen_range(190.0..235.0),
        quality: None,
        clutter: 6,
    };
    match condition {
        "rotated" => l.deg = rng.gen_range(0.0..360.0),
        "1px module" => {
            l.module = if linear || i.is_multiple_of(2) { 1 } else { 2 };
            l.deg = 0.0;
            l.blur = 0.0;
            l.sigma = 2.0;
        }
        "skew" => {
            l.shear = rng.gen_range(0.2..0.4) * if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
            l.deg = rng.gen_range(-10.0..10.0);
        }
        "blur" => {
            l.module += 1;
            l.blur = rng.gen_range(1.2..2.0);
        }
        "noise" => l.sigma = rng.gen_range(14.0..24.0),
        "low contrast" => {
            l.dark = rng.gen_range(115.0..130.0);
            l.light = l.dark + rng.gen_range(35.0..50.0);
        }
        "jpeg" => l.quality = Some(rng.gen_range(5..30)),
        "perspective" => {
            l.taper = rng.gen_range(0.6..0.8);
            l.deg = rng.gen_range(-15.0..15.0);
        }
        "inverted" => std::mem::swap(&mut l.dark, &mut l.light),
        "clutter" => l.clutter = 40,
        _ => {}
    }
    l
}

/// A code ready to paste: tile, and the text it holds.
fn make_code(sym: Sym, module: u32, rng: &mut StdRng) -> (GrayImage, String) {
    let (contents, text, gs1) = payload(sym, rng);
    let bar_height = (if module == 1 { 40 } else { 30 * module }).max(40);
    (tile(sym, &contents, gs1, module, bar_height), text)
}

fn one_code(sym: Sym, condition: &'static str, i: usize, rng: &mut StdRng) -> Sample {
    let l = look(sym, condition, i, rng);
    let (t, text) = make_code(sym, l.module, rng);
    let q = shape(t.width() as f32, t.height() as f32, l.deg, l.shear, l.taper);
    let (x0, y0, x1, y1) = extent(&q);
    let (w, h) = photo_size(x1 - x0, y1 - y0);
    let cx = rng.gen_range((-x0 + 20.0)..(w as f32 - x1 - 20.0).max(-x0 + 21.0));
    let cy = rng.gen_range((-y0 + 20.0)..(h as f32 - y1 - 20.0).max(-y0 + 21.0));
    let quad = q.map(|(x, y)| (x + cx, y + cy));
    let mut img = background(w, h, rng);
    let keep = extent(&quad);
    clutter(&mut img, &[keep], l.clutter, rng);
    paste(&mut img, &t, &quad, l.dark, l.light);
    if l.blur > 0.0 {
        img = image::imageops::blur(&img, l.blur);
    }
    noise(&mut img, l.sigma, rng);
    if let Some(q) = l.quality {
        img = jpeg(&img, q);
    }
    Sample {
        name: String::new(),
        group: sym.name(),
        condition,
        inverted_linear: condition == "inverted" && sym.is_linear(),
        image: img,
        expected: vec![text],
    }
}

fn several_codes(rng: &mut StdRng) -> Sample {
    let (w, h) = (1280u32, 960u32);
    let mut img = background(w, h, rng);
    let n = rng.gen_range(2..5);
    let mut syms = Sym::ALL.to_vec();
    let mut expected = Vec::new();
    let mut keep = Vec::new();
    // One code per quadrant.
    for k in 0..n {
        let sym = syms.remove(rng.gen_range(0..syms.len()));
        let module = if sym.is_linear() { 2 } else { 3 };
        let (t, text) = make_code(sym, module, rng);
        let q = shape(
            t.width() as f32,
            t.height() as f32,
            rng.gen_range(-8.0..8.0),
            0.0,
            1.0,
        );
        let (x0, y0, x1, y1) = extent(&q);
        let (qx, qy) = ((k % 2) as f32 * 640.0, (k / 2) as f32 * 480.0);
        // Centred in its quadrant, kept inside it where it fits.
        let inside = |want: f32, lo: f32, hi: f32| if lo > hi { lo } else { want.clamp(lo, hi) };
        let cx = qx + inside(320.0 - (x0 + x1) / 2.0, -x0 + 5.0, 640.0 - x1 - 5.0);
        let cy = qy + inside(240.0 - (y0 + y1) / 2.0, -y0 + 5.0, 480.0 - y1 - 5.0);
        let quad = q.map(|(x, y)| (x + cx, y + cy));
        let (dark, light) = (rng.gen_range(20.0..60.0), rng.gen_range(190.0..235.0));
        paste(&mut img, &t, &quad, dark, light);
        keep.push(extent(&quad));
        expected.push(text);
    }
    clutter(&mut img, &keep, 10, rng);
    img = image::imageops::blur(&img, rng.gen_range(0.3..0.8));
    noise(&mut img, rng.gen_range(2.0..6.0), rng);
    Sample {
        name: String::new(),
        group: "multi",
        condition: "several codes",
        inverted_linear: false,
        image: img,
        expected,
    }
}

fn no_code(kind: &'static str, i: usize, rng: &mut StdRng) -> Sample {
    let (w, h) = if i.is_multiple_of(2) {
        (640, 480)
    } else {
        (1280, 960)
    };
    let mut img = background(w, h, rng);
    match kind {
        "plain noise" => {
            let sigma = rng.gen_range(20.0..60.0);
            noise(&mut img, sigma, rng);
            if i.is_multiple_of(3) {
                img = image::imageops::blur(&img, 1.0);
            }
        }
        "gradient" => {
            let (cx, cy, r) = (
                rng.gen_range(0.0..w as f32),
                rng.gen_range(0.0..h as f32),
                rng.gen_range(200.0..900.0f32),
            );
            for (x, y, p) in img.enumerate_pixels_mut() {
                let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt() / r;
                let v = f32::from(p.0[0]) * (1.0 - 0.6 * d.min(1.0)) + 20.0;
                p.0[0] = v.clamp(0.0, 255.0) as u8;
            }
            noise(&mut img, 3.0, rng);
        }
        "text" => {
            let size = rng.gen_range(12.0..30.0f32);
            let mut y = rng.gen_range(5.0..30.0);
            let ink = rng.gen_range(10.0..70.0);
            while y + size < h as f32 {
                let words = random_words(rng, (w as f32 / size / 2.5) as usize);
                draw_text(&mut img, &words, rng.gen_range(5.0..30.0), y, size, ink);
                y += size * rng.gen_range(1.3..1.8);
            }
            img = image::imageops::blur(&img, 0.6);
            noise(&mut img, 4.0, rng);
        }
        _ => {
            // Several patches of bars, some as tall as a barcode, some fine like a grille.
            for _ in 0..rng.gen_range(2..6) {
                let (sw, sh) = (rng.gen_range(60..300), rng.gen_range(30..160));
                let (sx, sy) = (rng.gen_range(0..w - sw), rng.gen_range(0..h - sh));
                let ink = rng.gen_range(10.0..80.0);
                stripes(&mut img, sx, sy, sw, sh, ink, rng);
            }
            if i % 2 == 1 {
                // Regular ruling.
                let period = rng.gen_range(3..9);
                for x in (0..w).step_by(period as usize * 2) {
                    fill(&mut img, x, h / 3, period, h / 4, 40.0);
                }
            }
            img = image::imageops::blur(&img, 0.7);
            noise(&mut img, 4.0, rng);
        }
    }
    Sample {
        name: String::new(),
        group: "no code",
        condition: kind,
        inverted_linear: false,
        image: img,
        expected: Vec::new(),
    }
}

enum Kind {
    One(Sym, usize),
    Several,
    Blank(usize),
}

/// The whole corpus: 12 symbologies x 11 conditions x 2, 20 photos with several codes and
/// 40 without any (10 of each kind), from `seed`.
pub fn corpus(seed: u64) -> Vec<Sample> {
    corpus_where(seed, |_, _| true)
}

/// The photos of the corpus whose group and condition `keep` accepts. Each photo has its own
/// random stream (from `seed` and its number), so a subset has the same pixels as in the
/// whole corpus.
pub fn corpus_where(seed: u64, keep: impl Fn(&str, &str) -> bool) -> Vec<Sample> {
    let mut specs: Vec<(&'static str, &'static str, Kind)> = Vec::new();
    for sym in Sym::ALL {
        for condition in CONDITIONS {
            for i in 0..2 {
                specs.push((sym.name(), condition, Kind::One(sym, i)));
            }
        }
    }
    for _ in 0..20 {
        specs.push(("multi", "several codes", Kind::Several));
    }
    for kind in NO_CODE {
        for i in 0..10 {
            specs.push(("no code", kind, Kind::Blank(i)));
        }
    }
    let mut out = Vec::new();
    for (n, (group, condition, kind)) in specs.into_iter().enumerate() {
        if !keep(group, condition) {
            continue;
        }
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add((n as u64) << 32));
        let mut s = match kind {
            Kind::One(sym, i) => one_code(sym, condition, i, &mut rng),
            Kind::Several => several_codes(&mut rng),
            Kind::Blank(i) => no_code(condition, i, &mut rng),
        };
        s.name = format!(
            "{n:03}_{}_{}",
            group.replace(' ', "-"),
            condition.replace(' ', "-")
        );
        out.push(s);
    }
    out
}
