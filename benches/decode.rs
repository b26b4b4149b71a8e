//! Barcode decode benchmark: synthetic "photos" (a code in a larger noisy, blurred, slightly
//! rotated background), 640x480 and 1920x1080, per format group.
//!
//! Run: `cargo bench --bench decode` (release profile). Prints median and p95 per group for
//! - `rx default`: rxing over the prepared luma with DEFAULT_FORMATS, TryHarder (the service
//!   default, decode only);
//! - `rx narrow`: the same with only the group's formats (a device profile);
//! - `pipeline`: `decode_bytes` from the PNG bytes (PNG decode + downscale + rxing);
//! - `zxing-cpp`: zxing-cpp over the very same luma pixels, when Python has `zxingcpp`
//!   (`pip install zxing-cpp==3.1.1 pillow numpy`), run by `benches/decode_zxing_cpp.py` in the
//!   same run on the images this bench writes to `$DEPOT_BENCH_DIR` (default
//!   `/tmp/depot-decode-bench`). `DEPOT_BENCH_ZXING=0` skips it.
//!
//! Then the cost of each format alone on code-free photos, and the worker-process overhead
//! (spawn + handshake, and one request's round trip).
//! `DEPOT_BENCH_QUICK=1` uses fewer images and repetitions.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use depot::barcode::decode::{
    DEFAULT_FORMATS, DecodeOptions, Decoder, Format, LumaImage, decode_bytes, decode_luma,
    load_luma,
};
use image::{DynamicImage, GrayImage, ImageFormat, Luma};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rxing::{BarcodeFormat, EncodeHintValue, EncodeHints, MultiFormatWriter, Writer};

// --- synthetic images (same construction as tests/decode.rs) --------------------------------

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
        .expect("encode");
    GrayImage::from_fn(m.getWidth(), m.getHeight(), |x, y| {
        Luma([if m.get(x, y) { 0 } else { 255 }])
    })
}

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

fn photo(
    w: u32,
    h: u32,
    tile: Option<(&GrayImage, u32, u32)>,
    blur: f32,
    rng: &mut StdRng,
) -> GrayImage {
    let tilt = rng.gen_range(-40.0..40.0f32);
    let mut img = GrayImage::from_fn(w, h, |x, y| {
        let base = 100.0 + 70.0 * (x as f32 / w as f32) + tilt * (y as f32 / h as f32);
        Luma([base.clamp(0.0, 255.0) as u8])
    });
    // Some clutter: dark rectangles (text-like blobs) that are not barcodes.
    for _ in 0..12 {
        let (rw, rh) = (rng.gen_range(10..120), rng.gen_range(4..30));
        let (rx, ry) = (rng.gen_range(0..w - rw), rng.gen_range(0..h - rh));
        let v = rng.gen_range(20..90u8);
        for y in ry..ry + rh {
            for x in rx..rx + rw {
                img.put_pixel(x, y, Luma([v]));
            }
        }
    }
    if let Some((tile, ox, oy)) = tile {
        for (x, y, p) in tile.enumerate_pixels() {
            let (tx, ty) = (ox + x, oy + y);
            if tx < w && ty < h {
                let v = 35.0 + (p.0[0] as f32) * (195.0 / 255.0);
                img.put_pixel(tx, ty, Luma([v as u8]));
            }
        }
    }
    for p in img.pixels_mut() {
        let n: i16 = rng.gen_range(-14..=14);
        p.0[0] = (p.0[0] as i16 + n).clamp(0, 255) as u8;
    }
    image::imageops::blur(&img, blur)
}

fn png(img: &GrayImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageLuma8(img.clone())
        .write_to(&mut out, ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

// --- cases ------------------------------------------------------------------------------------

struct Group {
    name: &'static str,
    narrow: &'static [Format],
}

const GROUPS: &[Group] = &[
    Group {
        name: "ean13/upc-a",
        narrow: &[Format::Ean13, Format::UpcA],
    },
    Group {
        name: "gs1-128",
        narrow: &[Format::Code128],
    },
    Group {
        name: "qr",
        narrow: &[Format::QrCode],
    },
    Group {
        name: "datamatrix gs1",
        narrow: &[Format::DataMatrix],
    },
    Group {
        name: "pdf417",
        narrow: &[Format::Pdf417],
    },
    Group {
        name: "aztec",
        narrow: &[Format::Aztec],
    },
    Group {
        name: "no code",
        narrow: &[
            Format::Code128,
            Format::Ean13,
            Format::QrCode,
            Format::DataMatrix,
        ],
    },
];

struct Case {
    group: usize,
    size: (u32, u32),
    png: Vec<u8>,
    luma: LumaImage,
    expected: Option<String>,
    file: String,
}

fn ean13_check(d12: &str) -> String {
    let sum: u32 = d12
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{d12}{}", (10 - sum % 10) % 10)
}

/// One code (or none) for group `g`; `big` selects module sizes for the 1920x1080 photos.
fn make_tile(g: usize, i: usize, big: bool, rng: &mut StdRng) -> Option<(GrayImage, String)> {
    let k = if big { 2 } else { 1 };
    let (sym, module, quiet, bars, expected) = match g {
        0 => {
            let digits: String = (0..12)
                .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
                .collect();
            let code = ean13_check(&format!("4{}", &digits[1..]));
            (
                symbol(BarcodeFormat::EAN_13, &code, false),
                2 * k,
                10,
                70 * k,
                code,
            )
        }
        1 => {
            let lot = format!("L{:05}", rng.gen_range(0..100_000));
            let data = format!("\u{f1}010950600013435210{lot}\u{f1}21S{i:04}");
            let expected = format!("010950600013435210{lot}\u{1d}21S{i:04}");
            (
                symbol(BarcodeFormat::CODE_128, &data, false),
                2 * k,
                10,
                70 * k,
                expected,
            )
        }
        2 => {
            let text = format!(
                "https://depot.example/loc/A-{:02}-{:03}",
                i,
                rng.gen_range(0..1000)
            );
            (
                symbol(BarcodeFormat::QR_CODE, &text, false),
                4 * k,
                4,
                0,
                text,
            )
        }
        3 => {
            let text = format!(
                "01095060001343521726123110B{:05}\u{1d}21{i:06}",
                rng.gen_range(0..100_000)
            );
            (
                symbol(BarcodeFormat::DATA_MATRIX, &text, true),
                5 * k,
                3,
                0,
                text,
            )
        }
        4 => {
            let text = format!("SHIP {i} TO DEPOT {}", rng.gen_range(0..1000));
            (
                symbol(BarcodeFormat::PDF_417, &text, false),
                2 * k,
                4,
                0,
                text,
            )
        }
        5 => {
            let text = format!("AZTEC-{i}-{}", rng.gen_range(0..1000));
            (
                symbol(BarcodeFormat::AZTEC, &text, false),
                4 * k,
                4,
                0,
                text,
            )
        }
        _ => return None,
    };
    let tile = render(&sym, module, quiet, bars);
    // PDF417's rows: keep aspect readable by stretching module height 3x.
    let tile = if g == 4 {
        image::imageops::resize(
            &tile,
            tile.width(),
            tile.height() * 3,
            image::imageops::FilterType::Nearest,
        )
    } else {
        tile
    };
    Some((rotate(&tile, rng.gen_range(-6.0..6.0)), expected))
}

fn build_cases(per_group: usize, dir: &std::path::Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut rng = StdRng::seed_from_u64(20_260_101);
    for size in [(640u32, 480u32), (1920, 1080)] {
        let big = size.0 > 1000;
        for g in 0..GROUPS.len() {
            for i in 0..per_group {
                let tile = make_tile(g, i, big, &mut rng);
                let blur = rng.gen_range(0.5..1.4f32);
                let img = match &tile {
                    Some((t, _)) => {
                        let max_x = size.0.saturating_sub(t.width()).max(1);
                        let max_y = size.1.saturating_sub(t.height()).max(1);
                        let (x, y) = (rng.gen_range(0..max_x), rng.gen_range(0..max_y));
                        photo(size.0, size.1, Some((t, x, y)), blur, &mut rng)
                    }
                    None => photo(size.0, size.1, None, blur, &mut rng),
                };
                let bytes = png(&img);
                let luma = load_luma(&bytes, DecodeOptions::default().max_pixels).expect("luma");
                let file = format!("{}x{}_{g}_{i}.png", size.0, size.1);
                let prepared = GrayImage::from_raw(luma.width, luma.height, luma.data.clone())
                    .expect("luma buffer");
                prepared.save(dir.join(&file)).expect("writing bench image");
                cases.push(Case {
                    group: g,
                    size,
                    png: bytes,
                    luma,
                    expected: tile.map(|(_, e)| e),
                    file,
                });
            }
        }
    }
    cases
}

// --- statistics -------------------------------------------------------------------------------

#[derive(Default)]
struct Samples {
    ms: Vec<f64>,
    read: usize,
    total: usize,
}

impl Samples {
    fn add(&mut self, d: Duration) {
        self.ms.push(d.as_secs_f64() * 1000.0);
    }
    fn pct(&self, p: f64) -> f64 {
        let mut v = self.ms.clone();
        v.sort_by(f64::total_cmp);
        if v.is_empty() {
            return f64::NAN;
        }
        let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[idx.min(v.len() - 1)]
    }
    fn cell(&self) -> String {
        format!(
            "{:7.1} {:7.1} {:>5}",
            self.pct(0.5),
            self.pct(0.95),
            format!("{}/{}", self.read, self.total)
        )
    }
}

fn found(codes: &[depot::barcode::decode::DecodedCode], expected: &Option<String>) -> bool {
    match expected {
        Some(e) => codes.iter().any(|c| &c.text == e),
        None => codes.is_empty(),
    }
}

fn main() {
    let quick = std::env::var("DEPOT_BENCH_QUICK").is_ok_and(|v| v == "1");
    let (per_group, reps) = if quick { (3, 1) } else { (10, 3) };
    let dir = PathBuf::from(
        std::env::var("DEPOT_BENCH_DIR").unwrap_or_else(|_| "/tmp/depot-decode-bench".into()),
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");

    let t = Instant::now();
    let cases = build_cases(per_group, &dir);
    eprintln!(
        "generated {} images in {:.1}s",
        cases.len(),
        t.elapsed().as_secs_f64()
    );

    let default = DecodeOptions::default();
    type Key = ((u32, u32), usize, &'static str);
    let mut table: BTreeMap<Key, Samples> = BTreeMap::new();
    let mut manifest = Vec::new();
    for case in &cases {
        let narrow = DecodeOptions {
            formats: GROUPS[case.group].narrow.to_vec(),
            ..default.clone()
        };
        for (variant, opts) in [("rx default", &default), ("rx narrow", &narrow)] {
            let s = table.entry((case.size, case.group, variant)).or_default();
            for r in 0..reps {
                let start = Instant::now();
                let out = decode_luma(case.luma.clone(), opts);
                s.add(start.elapsed());
                if r == 0 {
                    s.total += 1;
                    s.read += usize::from(found(&out.codes, &case.expected));
                }
            }
        }
        let s = table
            .entry((case.size, case.group, "pipeline"))
            .or_default();
        for r in 0..reps {
            let start = Instant::now();
            let out = decode_bytes(&case.png, &default).unwrap_or_default();
            s.add(start.elapsed());
            if r == 0 {
                s.total += 1;
                s.read += usize::from(found(&out, &case.expected));
            }
        }
        manifest.push(serde_json::json!({
            "file": case.file,
            "size": format!("{}x{}", case.size.0, case.size.1),
            "group": case.group,
            "expected": case.expected,
            "default": DEFAULT_FORMATS.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
            "narrow": GROUPS[case.group].narrow.iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        }));
    }
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).expect("manifest"),
    )
    .expect("writing manifest");

    // zxing-cpp on the same luma pixels, same run.
    let zxing = if std::env::var("DEPOT_BENCH_ZXING").is_ok_and(|v| v == "0") {
        None
    } else {
        run_zxing(&dir, reps)
    };
    if let Some(lines) = &zxing {
        for line in lines {
            let (Some(size), Some(group), Some(variant), Some(times)) = (
                line["size"].as_str(),
                line["group"].as_u64(),
                line["variant"].as_str(),
                line["times_ms"].as_array(),
            ) else {
                continue;
            };
            let size = if size == "640x480" {
                (640, 480)
            } else {
                (1920, 1080)
            };
            let variant = if variant == "default" {
                "zx default"
            } else {
                "zx narrow"
            };
            let s = table.entry((size, group as usize, variant)).or_default();
            s.ms.extend(times.iter().filter_map(|t| t.as_f64()));
            s.total += 1;
            s.read += usize::from(line["read"].as_bool().unwrap_or(false));
        }
    }

    println!();
    println!(
        "barcode decode, ms per image (median p95 read); rxing {} formats default, TryHarder; {} images x {} reps per cell",
        DEFAULT_FORMATS.len(),
        per_group,
        reps
    );
    let variants: &[&str] = if zxing.is_some() {
        &[
            "rx default",
            "rx narrow",
            "pipeline",
            "zx default",
            "zx narrow",
        ]
    } else {
        &["rx default", "rx narrow", "pipeline"]
    };
    print!("{:<10} {:<15}", "size", "group");
    for v in variants {
        print!(" | {v:^21}");
    }
    println!();
    for size in [(640u32, 480u32), (1920, 1080)] {
        for (g, group) in GROUPS.iter().enumerate() {
            print!(
                "{:<10} {:<15}",
                format!("{}x{}", size.0, size.1),
                group.name
            );
            for v in variants {
                match table.get(&(size, g, *v)) {
                    Some(s) => print!(" | {}", s.cell()),
                    None => print!(" | {:^21}", "-"),
                }
            }
            println!();
        }
    }
    if zxing.is_some() {
        println!();
        println!("rxing / zxing-cpp median ratio (same luma pixels, decode only):");
        for size in [(640u32, 480u32), (1920, 1080)] {
            for (g, group) in GROUPS.iter().enumerate() {
                let ratio =
                    |a: &str, b: &str| match (table.get(&(size, g, a)), table.get(&(size, g, b))) {
                        (Some(x), Some(y)) => format!("{:5.1}x", x.pct(0.5) / y.pct(0.5)),
                        _ => "   -".into(),
                    };
                println!(
                    "{:<10} {:<15} default {}  narrow {}",
                    format!("{}x{}", size.0, size.1),
                    group.name,
                    ratio("rx default", "zx default"),
                    ratio("rx narrow", "zx narrow")
                );
            }
        }
        let all = |prefix: &str| {
            let mut s = Samples::default();
            for ((_, _, v), x) in &table {
                if v.starts_with(prefix) && v.ends_with("default") {
                    s.ms.extend(&x.ms);
                }
            }
            s
        };
        let (rx, zx) = (all("rx"), all("zx"));
        println!(
            "all images, default formats: rxing median {:.1} ms p95 {:.1} ms; zxing-cpp median {:.1} ms p95 {:.1} ms; ratio {:.1}x (median) {:.1}x (p95)",
            rx.pct(0.5),
            rx.pct(0.95),
            zx.pct(0.5),
            zx.pct(0.95),
            rx.pct(0.5) / zx.pct(0.5),
            rx.pct(0.95) / zx.pct(0.95)
        );
    }

    per_format_cost(&cases, if quick { 2 } else { 5 });
    worker_overhead(if quick { 5 } else { 20 });
}

/// Each format alone, on the code-free photos: what adding it to a profile costs on a miss.
fn per_format_cost(cases: &[Case], n: usize) {
    println!();
    println!("cost of each format alone on code-free photos (TryHarder), median ms:");
    println!("{:<18} {:>9} {:>10}", "format", "640x480", "1920x1080");
    let blank = GROUPS.len() - 1;
    let mut rows: Vec<(Format, f64, f64)> = Vec::new();
    for &format in Format::ALL {
        let mut med = [0.0; 2];
        for (k, size) in [(640u32, 480u32), (1920, 1080)].into_iter().enumerate() {
            let mut s = Samples::default();
            for case in cases
                .iter()
                .filter(|c| c.group == blank && c.size == size)
                .take(n)
            {
                let opts = DecodeOptions {
                    formats: vec![format],
                    ..DecodeOptions::default()
                };
                let start = Instant::now();
                let _ = decode_luma(case.luma.clone(), &opts);
                s.add(start.elapsed());
            }
            med[k] = s.pct(0.5);
        }
        rows.push((format, med[0], med[1]));
    }
    for (f, a, b) in &rows {
        let mark = if DEFAULT_FORMATS.contains(f) {
            ""
        } else {
            " (not default)"
        };
        println!("{:<18} {a:9.1} {b:10.1}{mark}", f.as_str());
    }
    for (label, formats) in [("DEFAULT_FORMATS", DEFAULT_FORMATS), ("ALL", Format::ALL)] {
        let mut s = Samples::default();
        for case in cases
            .iter()
            .filter(|c| c.group == blank && c.size == (1920, 1080))
            .take(n)
        {
            let opts = DecodeOptions {
                formats: formats.to_vec(),
                ..DecodeOptions::default()
            };
            let start = Instant::now();
            let _ = decode_luma(case.luma.clone(), &opts);
            s.add(start.elapsed());
        }
        println!("{label:<18} {:>9} {:10.1}", "", s.pct(0.5));
    }
}

/// Worker process spawn + handshake, and the round trip of a small request through a warm
/// worker compared with decoding in-process.
fn worker_overhead(n: usize) {
    let exe = env!("CARGO_BIN_EXE_depot");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let qr = render(&symbol(BarcodeFormat::QR_CODE, "OVERHEAD", false), 4, 4, 0);
    let small = png(&photo(
        320,
        240,
        Some((&qr, 80, 40)),
        0.6,
        &mut StdRng::seed_from_u64(9),
    ));
    let opts = DecodeOptions::default();
    rt.block_on(async {
        let mut spawn = Samples::default();
        for _ in 0..n {
            let d = Decoder::with_worker_exe(1, exe);
            let start = Instant::now();
            d.warm_up().await.expect("worker starts");
            spawn.add(start.elapsed());
        }
        let d = Decoder::with_worker_exe(1, exe);
        d.warm_up().await.expect("worker starts");
        let mut via_worker = Samples::default();
        let mut direct = Samples::default();
        for _ in 0..n {
            let b = small.clone();
            let start = Instant::now();
            let codes = d.decode(b, &opts).await.expect("decode");
            via_worker.add(start.elapsed());
            assert_eq!(codes.len(), 1);
            let start = Instant::now();
            let _ = decode_bytes(&small, &opts);
            direct.add(start.elapsed());
        }
        println!();
        println!("worker processes ({exe}):");
        println!(
            "  spawn + handshake: median {:.1} ms, p95 {:.1} ms",
            spawn.pct(0.5),
            spawn.pct(0.95)
        );
        println!(
            "  320x240 QR decode: via warm worker median {:.2} ms, in-process {:.2} ms (IPC + JSON overhead {:.2} ms)",
            via_worker.pct(0.5),
            direct.pct(0.5),
            via_worker.pct(0.5) - direct.pct(0.5)
        );
    });
}

fn run_zxing(dir: &std::path::Path, reps: usize) -> Option<Vec<serde_json::Value>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/decode_zxing_cpp.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(dir)
        .arg(reps.to_string())
        .output();
    match out {
        Ok(o) if o.status.success() => Some(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect(),
        ),
        Ok(o) => {
            eprintln!(
                "zxing-cpp comparison skipped: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("script failed")
            );
            None
        }
        Err(e) => {
            eprintln!("zxing-cpp comparison skipped: python3: {e}");
            None
        }
    }
}
