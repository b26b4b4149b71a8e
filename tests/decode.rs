//! Barcode decoding end to end: images generated with rxing's own encoders, decoded through
//! `Decoder` running real worker processes (the `depot` binary in its hidden worker mode).

use std::io::Cursor;
use std::time::{Duration, Instant};

use depot::barcode::decode::{
    DecodeError, DecodeOptions, DecodedCode, Decoder, DecoderMode, Format, decode_bytes,
};
use image::{DynamicImage, GrayImage, ImageFormat, Luma};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rxing::{BarcodeFormat, EncodeHintValue, EncodeHints, MultiFormatWriter, Writer};

const GS: char = '\u{1d}';

fn worker_decoder(workers: usize) -> Decoder {
    Decoder::with_worker_exe(workers, env!("CARGO_BIN_EXE_depot"))
}

/// Generous: the worker is a debug build (rxing itself is optimised via the dev profile).
fn opts() -> DecodeOptions {
    DecodeOptions {
        budget: Duration::from_secs(60),
        ..DecodeOptions::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Synthetic images

/// Encodes `contents` at one pixel per module, without margin.
fn symbol(format: BarcodeFormat, contents: &str, gs1: bool) -> GrayImage {
    let mut hints = EncodeHints::default().with(EncodeHintValue::Margin("0".into()));
    if gs1 {
        // DataMatrix only honours Gs1Format together with DataMatrixCompact; GS in the
        // contents then becomes FNC1.
        hints = hints
            .with(EncodeHintValue::Gs1Format(true))
            .with(EncodeHintValue::DataMatrixCompact(true));
    }
    let m = MultiFormatWriter
        .encode_with_hints(contents, &format, 0, 0, &hints)
        .unwrap_or_else(|e| panic!("encoding {format:?} {contents:?}: {e:?}"));
    GrayImage::from_fn(m.getWidth(), m.getHeight(), |x, y| {
        Luma([if m.get(x, y) { 0 } else { 255 }])
    })
}

/// Scales a symbol to `module` px per module with a `quiet`-module white border; 1D symbols
/// (one row) get `bar_height` px tall bars.
fn render(sym: &GrayImage, module: u32, quiet: u32, bar_height: u32) -> GrayImage {
    let one_d = sym.height() == 1;
    let (w, h) = (sym.width(), if one_d { 1 } else { sym.height() });
    let out_w = (w + 2 * quiet) * module;
    let out_h = if one_d {
        bar_height + 2 * quiet * module
    } else {
        (h + 2 * quiet) * module
    };
    GrayImage::from_fn(out_w, out_h, |x, y| {
        let mx = (x / module).checked_sub(quiet);
        let my = if one_d {
            y.checked_sub(quiet * module)
                .filter(|&v| v < bar_height)
                .map(|_| 0)
        } else {
            (y / module).checked_sub(quiet)
        };
        match (mx, my) {
            (Some(mx), Some(my)) if mx < w && my < h => *sym.get_pixel(mx, my),
            _ => Luma([255]),
        }
    })
}

/// Rotates about the centre by `deg`, white fill, bilinear.
fn rotate(img: &GrayImage, deg: f32) -> GrayImage {
    let (s, c) = deg.to_radians().sin_cos();
    let (w, h) = (img.width() as f32, img.height() as f32);
    let nw = (w * c.abs() + h * s.abs()).ceil() as u32;
    let nh = (w * s.abs() + h * c.abs()).ceil() as u32;
    let (cx, cy, ncx, ncy) = (w / 2.0, h / 2.0, nw as f32 / 2.0, nh as f32 / 2.0);
    GrayImage::from_fn(nw, nh, |x, y| {
        let (dx, dy) = (x as f32 - ncx, y as f32 - ncy);
        let sx = c * dx + s * dy + cx;
        let sy = -s * dx + c * dy + cy;
        let px = |x: f32, y: f32| -> f32 {
            if x < 0.0 || y < 0.0 || x >= w - 1.0 || y >= h - 1.0 {
                255.0
            } else {
                img.get_pixel(x as u32, y as u32).0[0] as f32
            }
        };
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let v = px(x0, y0) * (1.0 - fx) * (1.0 - fy)
            + px(x0 + 1.0, y0) * fx * (1.0 - fy)
            + px(x0, y0 + 1.0) * (1.0 - fx) * fy
            + px(x0 + 1.0, y0 + 1.0) * fx * fy;
        Luma([v.round().clamp(0.0, 255.0) as u8])
    })
}

/// A grey, noisy "photo" with the tiles pasted at the given positions (dark pixels become a
/// dark grey, light ones a light grey, to lower the contrast), then blurred.
fn photo(w: u32, h: u32, tiles: &[(&GrayImage, u32, u32)], blur: f32, seed: u64) -> GrayImage {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut img = GrayImage::from_fn(w, h, |x, y| {
        let base = 90.0 + 80.0 * (x as f32 / w as f32) + 30.0 * (y as f32 / h as f32);
        Luma([base as u8])
    });
    for (tile, ox, oy) in tiles {
        for (x, y, p) in tile.enumerate_pixels() {
            let (tx, ty) = (ox + x, oy + y);
            if tx < w && ty < h {
                let v = 40.0 + (p.0[0] as f32) * (200.0 / 255.0);
                img.put_pixel(tx, ty, Luma([v as u8]));
            }
        }
    }
    for p in img.pixels_mut() {
        let n: i16 = rng.gen_range(-12..=12);
        p.0[0] = (p.0[0] as i16 + n).clamp(0, 255) as u8;
    }
    if blur > 0.0 {
        img = image::imageops::blur(&img, blur);
    }
    img
}

fn encode(img: &GrayImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageLuma8(img.clone())
        .write_to(&mut out, format)
        .expect("encoding test image");
    out.into_inner()
}

fn png(img: &GrayImage) -> Vec<u8> {
    encode(img, ImageFormat::Png)
}

fn one(codes: &[DecodedCode], format: Format) -> &DecodedCode {
    let found: Vec<_> = codes.iter().filter(|c| c.format == format).collect();
    assert_eq!(found.len(), 1, "expected one {format}, got {codes:#?}");
    found[0]
}

fn bbox(code: &DecodedCode) -> (f32, f32, f32, f32) {
    code.points.iter().fold(
        (f32::MAX, f32::MAX, f32::MIN, f32::MIN),
        |(x0, y0, x1, y1), &(x, y)| (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
    )
}

// ---------------------------------------------------------------------------------------------
// Symbologies and GS1 text

#[tokio::test]
async fn decodes_each_symbology_through_worker_processes() {
    let decoder = worker_decoder(2);
    assert!(matches!(decoder.mode(), DecoderMode::Process { .. }));
    decoder.warm_up().await.expect("worker processes start");
    assert_eq!(decoder.stats().live_workers, 2);

    let cases: Vec<(BarcodeFormat, &str, bool, Format, &str, &str)> = vec![
        // (encoder format, contents, gs1 hint, expected format, expected text, symbology)
        (
            BarcodeFormat::QR_CODE,
            "https://id.gs1.org/01/09506000134352",
            false,
            Format::QrCode,
            "https://id.gs1.org/01/09506000134352",
            "]Q1",
        ),
        (
            BarcodeFormat::EAN_13,
            "5901234123457",
            false,
            Format::Ean13,
            "5901234123457",
            "]E0",
        ),
        (
            BarcodeFormat::EAN_8,
            "96385074",
            false,
            Format::Ean8,
            "96385074",
            "]E4",
        ),
        (
            BarcodeFormat::CODE_128,
            "DEPOT-42/a",
            false,
            Format::Code128,
            "DEPOT-42/a",
            "]C0",
        ),
        (
            BarcodeFormat::CODE_39,
            "BIN-A12",
            false,
            Format::Code39,
            "BIN-A12",
            "]A0",
        ),
        (
            BarcodeFormat::ITF,
            "00012345678905",
            false,
            Format::Itf,
            "00012345678905",
            "]I0",
        ),
        (
            BarcodeFormat::PDF_417,
            "SHIP TO: DEPOT 7, DOCK 3",
            false,
            Format::Pdf417,
            "SHIP TO: DEPOT 7, DOCK 3",
            "]L0",
        ),
        (
            BarcodeFormat::AZTEC,
            "Aztec in the depot",
            false,
            Format::Aztec,
            "Aztec in the depot",
            "]z0",
        ),
    ];
    for (enc, contents, gs1, format, text, symbology) in cases {
        let sym = symbol(enc, contents, gs1);
        let img = render(&sym, 3, 10, 90);
        let codes = decoder
            .decode(png(&img), &opts())
            .await
            .unwrap_or_else(|e| panic!("{format}: {e}"));
        let code = one(&codes, format);
        assert_eq!(code.text, text, "{format}");
        assert_eq!(code.symbology.as_deref(), Some(symbology), "{format}");
        assert!(code.points.len() >= 2, "{format}: {code:?}");
    }
    let stats = decoder.stats();
    assert_eq!(stats.spawned, 2, "workers are reused: {stats:?}");
    assert_eq!(stats.killed, 0);
}

#[tokio::test]
async fn gs1_datamatrix_keeps_group_separators() {
    let decoder = worker_decoder(1);
    let data = format!("01095060001343521720122510ABC123{GS}21XYZ");
    let img = render(&symbol(BarcodeFormat::DATA_MATRIX, &data, true), 6, 4, 0);
    let codes = decoder.decode(png(&img), &opts()).await.unwrap();
    let code = one(&codes, Format::DataMatrix);
    assert_eq!(code.text, "01095060001343521720122510ABC123\u{1d}21XYZ");
    assert_eq!(code.symbology.as_deref(), Some("]d2"));
    assert!(code.is_gs1());
    assert_eq!(code.points.len(), 4, "{code:?}");
}

#[tokio::test]
async fn gs1_128_fnc1_becomes_symbology_and_gs() {
    let decoder = worker_decoder(1);
    // U+00F1 is FNC1 for rxing's Code 128 writer: first position (GS1) and as separator.
    let img = render(
        &symbol(
            BarcodeFormat::CODE_128,
            "\u{f1}010950600013435210ABC123\u{f1}21XYZ",
            false,
        ),
        3,
        10,
        100,
    );
    let codes = decoder.decode(png(&img), &opts()).await.unwrap();
    let code = one(&codes, Format::Code128);
    assert_eq!(code.text, "010950600013435210ABC123\u{1d}21XYZ");
    assert_eq!(code.symbology.as_deref(), Some("]C1"));
    assert!(!code.text.starts_with(']'));
}

#[tokio::test]
async fn gs1_qr_percent_becomes_gs() {
    let decoder = worker_decoder(1);
    // GS1 QR in alphanumeric mode: '%' encodes FNC1.
    let img = render(
        &symbol(
            BarcodeFormat::QR_CODE,
            "010950600013435210ABC123%21XYZ",
            true,
        ),
        5,
        4,
        0,
    );
    let codes = decoder.decode(png(&img), &opts()).await.unwrap();
    let code = one(&codes, Format::QrCode);
    assert_eq!(code.text, "010950600013435210ABC123\u{1d}21XYZ");
    assert_eq!(code.symbology.as_deref(), Some("]Q3"));
}

// ---------------------------------------------------------------------------------------------
// Photos

#[tokio::test]
async fn noisy_blurred_rotated_jpeg_photo_is_downscaled_and_points_map_back() {
    let decoder = worker_decoder(1);
    let qr = rotate(
        &render(
            &symbol(BarcodeFormat::QR_CODE, "LOC-A-12-03", false),
            14,
            4,
            0,
        ),
        7.0,
    );
    let ean = rotate(
        &render(
            &symbol(BarcodeFormat::EAN_13, "4006381333931", false),
            7,
            10,
            300,
        ),
        -3.0,
    );
    // 3200x2400, decoded at 1600x1200.
    let img = photo(3200, 2400, &[(&qr, 300, 400), (&ean, 1500, 1200)], 2.0, 7);
    let jpeg = encode(&img, ImageFormat::Jpeg);
    let codes = decoder.decode(jpeg, &opts()).await.unwrap();

    let qr_code = one(&codes, Format::QrCode);
    assert_eq!(qr_code.text, "LOC-A-12-03");
    let (x0, y0, x1, y1) = bbox(qr_code);
    // The finder-pattern centres lie inside the pasted tile, in full-size coordinates.
    assert!(x0 >= 300.0 && y0 >= 400.0, "{qr_code:?}");
    assert!(x1 <= 300.0 + qr.width() as f32 && y1 <= 400.0 + qr.height() as f32);
    assert!(
        x1 - x0 > 200.0,
        "points are in original, not downscaled, pixels"
    );

    let ean_code = one(&codes, Format::Ean13);
    assert_eq!(ean_code.text, "4006381333931");
    let (x0, _, x1, _) = bbox(ean_code);
    assert!(
        x0 >= 1500.0 && x1 <= 1500.0 + ean.width() as f32,
        "{ean_code:?}"
    );
}

#[tokio::test]
async fn several_codes_in_one_image_are_all_found() {
    let decoder = worker_decoder(1);
    let qr = render(&symbol(BarcodeFormat::QR_CODE, "PALLET 1", false), 6, 4, 0);
    let dm = render(
        &symbol(BarcodeFormat::DATA_MATRIX, "0109506000134352", true),
        8,
        4,
        0,
    );
    let c128 = render(
        &symbol(BarcodeFormat::CODE_128, "ORDER-991", false),
        3,
        10,
        80,
    );
    let img = photo(
        1200,
        900,
        &[(&qr, 60, 60), (&dm, 800, 80), (&c128, 200, 600)],
        0.8,
        3,
    );
    let codes = decoder.decode(png(&img), &opts()).await.unwrap();
    assert_eq!(one(&codes, Format::QrCode).text, "PALLET 1");
    assert_eq!(one(&codes, Format::DataMatrix).text, "0109506000134352");
    assert_eq!(one(&codes, Format::Code128).text, "ORDER-991");
    assert_eq!(codes.len(), 3, "{codes:#?}");
}

#[tokio::test]
async fn stacked_gs1_128_and_twin_labels_are_each_reported_once() {
    let decoder = worker_decoder(1);
    // A logistics label: three GS1-128 symbols stacked with small gaps (the masking of one
    // symbol must not swallow its neighbours), and two identical EAN-13 side by side.
    let sscc = render(
        &symbol(BarcodeFormat::CODE_128, "\u{f1}00095060001234567893", false),
        3,
        10,
        70,
    );
    let gtin = render(
        &symbol(
            BarcodeFormat::CODE_128,
            "\u{f1}0209506000134352370010",
            false,
        ),
        3,
        10,
        70,
    );
    let lot = render(
        &symbol(
            BarcodeFormat::CODE_128,
            "\u{f1}10LOT42\u{f1}15261231",
            false,
        ),
        3,
        10,
        70,
    );
    let ean = render(
        &symbol(BarcodeFormat::EAN_13, "5901234123457", false),
        2,
        10,
        60,
    );
    let gap = 20;
    let img = photo(
        1400,
        900,
        &[
            (&sscc, 40, 40),
            (&gtin, 40, 40 + sscc.height() + gap),
            (&lot, 40, 40 + sscc.height() + gtin.height() + 2 * gap),
            (&ean, 60, 650),
            (&ean, 80 + ean.width(), 650),
        ],
        0.7,
        17,
    );
    let codes = decoder.decode(png(&img), &opts()).await.unwrap();
    let mut texts: Vec<&str> = codes
        .iter()
        .filter(|c| c.format == Format::Code128)
        .map(|c| c.text.as_str())
        .collect();
    texts.sort_unstable();
    assert_eq!(
        texts,
        vec![
            "00095060001234567893",
            "0209506000134352370010",
            "10LOT42\u{1d}15261231",
        ],
        "{codes:#?}"
    );
    let eans: Vec<_> = codes.iter().filter(|c| c.format == Format::Ean13).collect();
    assert_eq!(eans.len(), 2, "{codes:#?}");
    assert!(eans.iter().all(|c| c.text == "5901234123457"));
    assert!(codes.iter().all(|c| c.symbology.as_deref() != Some("]C0")));
}

#[tokio::test]
async fn webp_and_bmp_uploads_decode() {
    let decoder = worker_decoder(1);
    let img = render(&symbol(BarcodeFormat::QR_CODE, "WEBP-BMP", false), 4, 4, 0);
    for format in [ImageFormat::WebP, ImageFormat::Bmp] {
        let codes = decoder.decode(encode(&img, format), &opts()).await.unwrap();
        assert_eq!(one(&codes, Format::QrCode).text, "WEBP-BMP", "{format:?}");
    }
}

#[tokio::test]
async fn narrowed_formats_ignore_other_symbologies() {
    let decoder = worker_decoder(1);
    let img = render(&symbol(BarcodeFormat::QR_CODE, "ONLY QR", false), 4, 4, 0);
    let narrowed = DecodeOptions {
        formats: vec![Format::Ean13, Format::Code128],
        ..opts()
    };
    assert_eq!(decoder.decode(png(&img), &narrowed).await.unwrap(), vec![]);
}

// ---------------------------------------------------------------------------------------------
// Bad input

#[tokio::test]
async fn blank_image_has_no_codes() {
    let decoder = worker_decoder(1);
    let img = photo(640, 480, &[], 1.0, 1);
    assert_eq!(decoder.decode(png(&img), &opts()).await.unwrap(), vec![]);
    let white = GrayImage::from_pixel(300, 200, Luma([255]));
    assert_eq!(decoder.decode(png(&white), &opts()).await.unwrap(), vec![]);
}

#[tokio::test]
async fn random_bytes_are_not_an_image() {
    let decoder = worker_decoder(1);
    let mut rng = StdRng::seed_from_u64(42);
    let bytes: Vec<u8> = (0..4096).map(|_| rng.r#gen()).collect();
    assert!(matches!(
        decoder.decode(bytes, &opts()).await,
        Err(DecodeError::NotAnImage(_))
    ));
    assert!(matches!(
        decoder.decode(Vec::new(), &opts()).await,
        Err(DecodeError::NotAnImage(_))
    ));
    let gif = b"GIF89a\x10\x00\x10\x00\x00\x00\x00;".to_vec();
    assert!(matches!(
        decoder.decode(gif, &opts()).await,
        Err(DecodeError::NotAnImage(_))
    ));
    assert_eq!(decoder.stats().spawned, 0, "rejected before any worker");
}

#[tokio::test]
async fn truncated_png_is_corrupt() {
    let decoder = worker_decoder(1);
    let img = photo(400, 300, &[], 0.0, 5);
    let mut bytes = png(&img);
    bytes.truncate(bytes.len() / 2);
    assert!(matches!(
        decoder.decode(bytes, &opts()).await,
        Err(DecodeError::Corrupt(_))
    ));
    // The worker survives a corrupt image.
    assert_eq!(decoder.stats().killed, 0);
}

#[tokio::test]
async fn tiny_uniform_images_are_refused_fast() {
    // rxing's MaxiCode detector never returned on images like these (STANDARDS.md 6).
    let decoder = worker_decoder(1);
    for (w, h) in [(1, 100), (8, 40), (12, 13), (15, 400)] {
        let start = Instant::now();
        let img = GrayImage::from_pixel(w, h, Luma([128]));
        let result = decoder.decode(png(&img), &opts()).await;
        assert_eq!(result, Err(DecodeError::TooSmall { w, h }));
        assert!(start.elapsed() < Duration::from_millis(200));
    }
}

#[tokio::test]
async fn small_uniform_images_just_above_the_limit_return_quickly() {
    let decoder = worker_decoder(1);
    decoder.warm_up().await.unwrap();
    for (w, h) in [(16, 16), (16, 100), (20, 200), (24, 13 + 16), (400, 16)] {
        let start = Instant::now();
        let img = GrayImage::from_pixel(w, h, Luma([128]));
        let all = DecodeOptions {
            formats: Format::ALL.to_vec(),
            budget: Duration::from_secs(10),
            ..opts()
        };
        assert_eq!(decoder.decode(png(&img), &all).await, Ok(vec![]), "{w}x{h}");
        assert!(start.elapsed() < Duration::from_secs(2), "{w}x{h}");
    }
}

/// A PNG whose IHDR claims `w`x`h` (valid CRCs), with a tiny IDAT and IEND: what a
/// decompression bomb looks like up front. `complete = false` stops after IHDR.
fn png_header_only(w: u32, h: u32, complete: bool) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale
    let chunk = |out: &mut Vec<u8>, body: &[u8]| {
        out.extend_from_slice(&(body.len() as u32 - 4).to_be_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(&crc32(body).to_be_bytes());
    };
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, &ihdr);
    if complete {
        // zlib stream of a few zero bytes; the rest of the "image" is missing.
        chunk(&mut out, b"IDAT\x78\x9c\x63\x00\x00\x00\x01\x00\x01");
        chunk(&mut out, b"IEND");
    }
    out
}

#[tokio::test]
async fn huge_dimensions_are_refused_from_the_header() {
    let decoder = worker_decoder(1);
    let start = Instant::now();
    for complete in [true, false] {
        let result = decoder
            .decode(png_header_only(100_000, 100_000, complete), &opts())
            .await;
        assert_eq!(
            result,
            Err(DecodeError::TooLarge {
                w: 100_000,
                h: 100_000
            })
        );
        let result = decoder
            .decode(png_header_only(9000, 9000, complete), &opts())
            .await;
        assert_eq!(result, Err(DecodeError::TooLarge { w: 9000, h: 9000 }));
    }
    assert!(start.elapsed() < Duration::from_millis(100));
    assert_eq!(decoder.stats().spawned, 0, "refused before any worker");
    // Within the limits, the same header is just a corrupt image (no pixel data).
    assert!(matches!(
        decoder
            .decode(png_header_only(640, 480, true), &opts())
            .await,
        Err(DecodeError::Corrupt(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Budget, pool, isolation

fn big_noisy_png() -> Vec<u8> {
    let qr = render(&symbol(BarcodeFormat::QR_CODE, "SLOW", false), 10, 4, 0);
    png(&photo(3000, 2000, &[(&qr, 1000, 800)], 0.0, 11))
}

#[tokio::test]
async fn timeout_kills_the_worker_and_the_next_decode_works() {
    let decoder = worker_decoder(1);
    decoder.warm_up().await.unwrap();
    let tight = DecodeOptions {
        budget: Duration::from_millis(1),
        ..opts()
    };
    let big = big_noisy_png();
    let start = Instant::now();
    assert_eq!(decoder.decode(big, &tight).await, Err(DecodeError::Timeout));
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let stats = decoder.stats();
    assert_eq!((stats.timeouts, stats.killed), (1, 1), "{stats:?}");

    let img = render(&symbol(BarcodeFormat::QR_CODE, "AFTER", false), 4, 4, 0);
    let codes = decoder.decode(png(&img), &opts()).await.unwrap();
    assert_eq!(one(&codes, Format::QrCode).text, "AFTER");
    let stats = decoder.stats();
    assert_eq!(
        stats.spawned, 2,
        "a replacement worker was started: {stats:?}"
    );
    assert_eq!(stats.live_workers, 1);
}

#[tokio::test]
async fn full_queue_answers_busy_and_cancelled_requests_free_their_worker() {
    let decoder = worker_decoder(1).with_queue_limit(0);
    decoder.warm_up().await.unwrap();
    let slow = DecodeOptions {
        formats: Format::ALL.to_vec(),
        max_pixels: 0,
        ..opts()
    };
    let d2 = decoder.clone();
    let bytes = big_noisy_png();
    let running = tokio::spawn(async move { d2.decode(bytes, &slow).await });
    // Let the first request take the only worker.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let img = render(&symbol(BarcodeFormat::QR_CODE, "SECOND", false), 4, 4, 0);
    assert_eq!(
        decoder.decode(png(&img), &opts()).await,
        Err(DecodeError::Busy)
    );
    assert_eq!(decoder.stats().busy, 1);

    // Cancel the running request (e.g. the client went away): its worker is killed, not
    // returned half-used, and a new one takes the next request.
    running.abort();
    let _ = running.await;
    let codes = decoder.decode(png(&img), &opts()).await.unwrap();
    assert_eq!(one(&codes, Format::QrCode).text, "SECOND");
    assert!(decoder.stats().killed >= 1, "{:?}", decoder.stats());
}

#[tokio::test]
async fn an_executable_that_is_not_a_worker_is_an_internal_error() {
    let img = render(&symbol(BarcodeFormat::QR_CODE, "X", false), 4, 4, 0);
    for exe in ["/bin/true", "/nonexistent/depot"] {
        let decoder = Decoder::with_worker_exe(1, exe);
        assert!(
            matches!(
                decoder.decode(png(&img), &opts()).await,
                Err(DecodeError::Internal(_))
            ),
            "{exe}"
        );
    }
}

#[tokio::test]
async fn in_thread_fallback_decodes_and_times_out() {
    // Outside the depot binary no worker entry is registered: Decoder::new decodes in-thread.
    let decoder = Decoder::new(1);
    assert_eq!(decoder.mode(), &DecoderMode::InThread);
    let img = render(&symbol(BarcodeFormat::QR_CODE, "IN THREAD", false), 4, 4, 0);
    let codes = decoder.decode(png(&img), &opts()).await.unwrap();
    assert_eq!(one(&codes, Format::QrCode).text, "IN THREAD");
    let tight = DecodeOptions {
        budget: Duration::from_millis(1),
        ..opts()
    };
    let big = big_noisy_png();
    let start = Instant::now();
    assert_eq!(decoder.decode(big, &tight).await, Err(DecodeError::Timeout));
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn synchronous_decode_bytes_matches() {
    let img = render(
        &symbol(BarcodeFormat::EAN_13, "5901234123457", false),
        2,
        10,
        60,
    );
    let codes = decode_bytes(&png(&img), &DecodeOptions::default()).unwrap();
    assert_eq!(one(&codes, Format::Ean13).text, "5901234123457");
}

// ---------------------------------------------------------------------------------------------
// The camera corpus (benches/common/corpus.rs, the benchmark's photos)

#[path = "../benches/common/corpus.rs"]
mod corpus;

/// The corpus's groups of linear symbologies.
const LINEAR_GROUPS: [&str; 6] = ["code128", "gs1-128", "ean13", "ean8", "upc-a", "upc-e"];

fn corpus_decode(sample: &corpus::Sample) -> Vec<DecodedCode> {
    decode_bytes(&png(&sample.image), &DecodeOptions::default()).unwrap()
}

/// The names of the one-code photos whose code is read, checking that none is reported twice
/// or alongside a code the photo does not hold.
fn read_once(samples: &[&corpus::Sample]) -> Vec<String> {
    let mut read = Vec::new();
    for s in samples {
        let codes = corpus_decode(s);
        assert!(codes.len() <= 1, "{}: {codes:?}", s.name);
        if codes
            .iter()
            .any(|c| corpus::same_text(&c.text, &s.expected[0]))
        {
            read.push(s.name.clone());
        }
    }
    read
}

/// Issue 19: photos of noise, gradients, printed text and bar-like stripes hold no code, and
/// Depot reports none.
#[test]
fn code_free_photos_yield_no_invented_codes() {
    let samples = corpus::corpus_where(corpus::SEED, |group, _| group == "no code");
    let mut invented = Vec::new();
    for s in samples.iter().filter(|s| s.expected.is_empty()) {
        for code in corpus_decode(s) {
            invented.push(format!("{}: {} {:?}", s.name, code.format, code.text));
        }
    }
    assert!(invented.is_empty(), "invented codes: {invented:#?}");
}

/// Issue 19: light-on-dark linear symbols (which zxing-cpp does not read without its
/// inversion pass) are read, with their GS1 data intact.
#[test]
fn inverted_linear_codes_are_read() {
    let samples = corpus::corpus_where(corpus::SEED, |_, condition| condition == "inverted");
    let mut missed = Vec::new();
    for s in samples.iter().filter(|s| s.inverted_linear) {
        let codes = corpus_decode(s);
        for e in &s.expected {
            if !codes.iter().any(|c| corpus::same_text(&c.text, e)) {
                missed.push(format!("{}: {e:?} (read {codes:?})", s.name));
            }
        }
    }
    assert!(missed.is_empty(), "missed: {missed:#?}");
    let img = render(
        &symbol(
            BarcodeFormat::CODE_128,
            "\u{f1}010950600013435210ABC\u{f1}21X",
            false,
        ),
        3,
        10,
        80,
    );
    let inverted = GrayImage::from_fn(img.width(), img.height(), |x, y| {
        Luma([255 - img.get_pixel(x, y).0[0]])
    });
    let codes = decode_bytes(&png(&inverted), &DecodeOptions::default()).unwrap();
    let code = one(&codes, Format::Code128);
    assert_eq!(code.text, "010950600013435210ABC\u{1d}21X");
    assert_eq!(code.symbology.as_deref(), Some("]C1"));
}

/// rxing's Aztec detector starts from the image centre; Depot finds bullseyes anywhere
/// (`src/barcode/decode/bullseye.rs`): two Aztec symbols near the corners of a photo are both
/// read, with their corners where they were pasted (turned ones: `turned_aztec_symbols_are_read`).
#[test]
fn aztec_symbols_away_from_the_centre_are_read() {
    let a = render(
        &symbol(BarcodeFormat::AZTEC, "AZTEC-TOP-LEFT", false),
        4,
        2,
        0,
    );
    let b = render(
        &symbol(BarcodeFormat::AZTEC, "AZTEC-BOTTOM-RIGHT-0042", false),
        4,
        2,
        0,
    );
    let text = render(
        &symbol(BarcodeFormat::CODE_128, "NOT-AZTEC", false),
        2,
        10,
        40,
    );
    let (bx, by) = (1280 - b.width() - 40, 960 - b.height() - 30);
    let img = photo(
        1280,
        960,
        &[(&a, 30, 40), (&b, bx, by), (&text, 500, 420)],
        0.6,
        19,
    );
    // Centred, rxing's own reader alone would see neither.
    let codes = decode_bytes(&png(&img), &DecodeOptions::default()).unwrap();
    let aztec: Vec<&DecodedCode> = codes.iter().filter(|c| c.format == Format::Aztec).collect();
    assert_eq!(aztec.len(), 2, "{codes:#?}");
    let top_left = aztec
        .iter()
        .find(|c| c.text == "AZTEC-TOP-LEFT")
        .expect("top-left symbol");
    let (x0, y0, x1, y1) = bbox(top_left);
    assert!(
        x0 >= 30.0 && y0 >= 40.0 && x1 <= 30.0 + a.width() as f32 && y1 <= 40.0 + a.height() as f32
    );
    assert_eq!(top_left.symbology.as_deref(), Some("]z0"));
    let bottom_right = aztec
        .iter()
        .find(|c| c.text == "AZTEC-BOTTOM-RIGHT-0042")
        .expect("bottom-right symbol");
    let (x0, y0, ..) = bbox(bottom_right);
    assert!(x0 >= bx as f32 && y0 >= by as f32, "{bottom_right:?}");
    assert_eq!(one(&codes, Format::Code128).text, "NOT-AZTEC");

    // Only Aztec asked for, on a photo of printed text and stripes: nothing.
    let aztec_only = DecodeOptions {
        formats: vec![Format::Aztec],
        ..DecodeOptions::default()
    };
    for s in corpus::corpus_where(corpus::SEED, |group, _| group == "no code") {
        let codes = decode_bytes(&png(&s.image), &aztec_only).unwrap();
        assert!(codes.is_empty(), "{}: {codes:?}", s.name);
    }
}

/// Issue 19: an Aztec symbol turned well away from the photo's axes is read (rxing's detector
/// walks the bullseye's rings along the window's diagonals and misses a turned symbol's
/// corners; Depot turns the window upright by the tilt it measures on the rings), and its
/// corners come back where the symbol is in the photo.
#[test]
fn turned_aztec_symbols_are_read() {
    for (deg, text) in [
        (33.0f32, "AZTEC-TURNED-33"),
        (-24.0, "AZTEC-TURNED-MINUS-24"),
    ] {
        let turned = rotate(
            &render(&symbol(BarcodeFormat::AZTEC, text, false), 4, 3, 0),
            deg,
        );
        let (ox, oy) = (120, 520);
        let img = photo(1280, 960, &[(&turned, ox, oy)], 0.6, 7);
        let codes = decode_bytes(&png(&img), &DecodeOptions::default()).unwrap();
        let code = one(&codes, Format::Aztec);
        assert_eq!(code.text, text);
        let (x0, y0, x1, y1) = bbox(code);
        let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
        let (ex, ey) = (
            (ox + turned.width() / 2) as f32,
            (oy + turned.height() / 2) as f32,
        );
        assert!(
            (cx - ex).abs() < 6.0 && (cy - ey).abs() < 6.0,
            "{deg}: centre {cx},{cy} expected {ex},{ey}"
        );
    }
}

/// Issue 19: blurred linear symbols, whose narrow spaces no longer reach the label's mean
/// grey, are read by the second, blurred-photo threshold (`linear::Threshold::Blended`): the
/// camera corpus's blurred linear photos, of which the first threshold alone reads 2.
#[test]
fn blurred_linear_codes_are_read() {
    let samples = corpus::corpus_where(corpus::SEED, |_, condition| condition == "blur");
    let linear: Vec<&corpus::Sample> = samples
        .iter()
        .filter(|s| LINEAR_GROUPS.contains(&s.group))
        .collect();
    assert_eq!(linear.len(), 12);
    let read = read_once(&linear);
    assert!(read.len() >= 7, "read only {read:?}");
}

/// Issue 19: low-contrast 2D symbols that rxing's hybrid binariser loses in the background's
/// texture are read over its global-histogram binarisation, the second look the decoder takes
/// at a photo where nothing was found: 8 of the corpus's 12 low-contrast 2D photos (5 with the
/// hybrid binariser alone), each code once.
#[test]
fn low_contrast_2d_codes_are_read() {
    let samples = corpus::corpus_where(corpus::SEED, |_, condition| condition == "low contrast");
    let matrix: Vec<&corpus::Sample> = samples
        .iter()
        .filter(|s| !LINEAR_GROUPS.contains(&s.group))
        .collect();
    assert_eq!(matrix.len(), 12);
    let read = read_once(&matrix);
    assert!(read.len() >= 8, "read only {read:?}");
}
