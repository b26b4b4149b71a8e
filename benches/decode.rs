//! Camera scanning benchmark (issue 19): Depot's decoder against zxing-cpp on the corpus of
//! `benches/common/corpus.rs` (324 synthetic phone photos from a fixed seed: 12 symbologies under
//! 11 conditions, photos with several codes, photos with none).
//!
//! Run: `cargo bench --bench decode` (release profile). Needs Python with
//! `pip install zxing-cpp==3.1.1 pillow numpy`: `benches/decode_zxing_cpp.py` decodes, each
//! right after Depot, the very pixels Depot decoded (written to `$DEPOT_BENCH_DIR`, default
//! `/tmp/depot-decode-bench`, with `results.jsonl`: every photo's answers from both).
//! `DEPOT_BENCH_ZXING=0` skips zxing-cpp; `DEPOT_BENCH_QUICK=1` takes every fourth photo and
//! one run; `DEPOT_BENCH_ONLY=aztec,blur` takes only the photos of those groups or
//! conditions (names as in the tables); `DEPOT_BENCH_EXTRA=1` adds the cost of each format
//! alone on the code-free photos and the worker-process overhead.
//!
//! Prints per-symbology and per-condition tables (codes read by each, codes invented, median
//! and p95 ms per photo and their ratios) and the targets of issue 19, met or not.

#[path = "common/corpus.rs"]
mod corpus;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use depot::barcode::decode::{
    DEFAULT_FORMATS, DecodeOptions, Decoder, Format, LumaImage, decode_bytes, decode_luma,
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

// --- statistics -------------------------------------------------------------------------------

fn pct(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[idx.min(v.len() - 1)]
}

/// One decoder's answer for one photo: its texts and the median of its timed runs.
#[derive(Clone, Default)]
struct Answer {
    texts: Vec<String>,
    ms: f64,
}

impl Answer {
    /// Expected codes found.
    fn hits(&self, expected: &[String]) -> usize {
        expected
            .iter()
            .filter(|e| self.texts.iter().any(|t| corpus::same_text(t, e)))
            .count()
    }
    /// Codes reported that the photo does not hold.
    fn invented(&self, expected: &[String]) -> usize {
        self.texts
            .iter()
            .filter(|t| !expected.iter().any(|e| corpus::same_text(t, e)))
            .count()
    }
}

#[derive(Default)]
struct Row {
    images: usize,
    codes: usize,
    hits: [usize; 2],
    invented: [usize; 2],
    ms: [Vec<f64>; 2],
}

impl Row {
    fn add(&mut self, expected: &[String], depot: &Answer, zx: &Answer) {
        self.images += 1;
        self.codes += expected.len();
        for (k, a) in [depot, zx].into_iter().enumerate() {
            self.hits[k] += a.hits(expected);
            self.invented[k] += a.invented(expected);
            self.ms[k].push(a.ms);
        }
    }
    fn hit_ratio(&self) -> f64 {
        if self.hits[1] == 0 {
            if self.hits[0] == 0 {
                1.0
            } else {
                f64::INFINITY
            }
        } else {
            self.hits[0] as f64 / self.hits[1] as f64
        }
    }
    fn line(&self, label: &str) -> String {
        let (m0, m1) = (pct(&self.ms[0], 0.5), pct(&self.ms[1], 0.5));
        let (p0, p1) = (pct(&self.ms[0], 0.95), pct(&self.ms[1], 0.95));
        format!(
            "| {label:<16} | {:>4} | {:>5} | {:>5} | {:>5} | {:>6} | {:>3} / {:<3} | {:>6.1} | {:>6.1} | {:>5.2} | {:>6.1} | {:>6.1} | {:>5.2} |",
            self.images,
            self.codes,
            self.hits[0],
            self.hits[1],
            if self.codes == 0 {
                "-".to_string()
            } else {
                format!("{:.0}%", 100.0 * self.hit_ratio())
            },
            self.invented[0],
            self.invented[1],
            m0,
            m1,
            m0 / m1,
            p0,
            p1,
            p0 / p1,
        )
    }
}

fn header(first: &str) -> String {
    format!(
        "| {first:<16} | imgs | codes | depot | zxing | hits d/z | invented d / z | med d | med z | ratio | p95 d | p95 z | ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
}

fn main() {
    let quick = std::env::var("DEPOT_BENCH_QUICK").is_ok_and(|v| v == "1");
    let reps = if quick { 1 } else { 3 };
    let dir = PathBuf::from(
        std::env::var("DEPOT_BENCH_DIR").unwrap_or_else(|_| "/tmp/depot-decode-bench".into()),
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("bench dir");

    let t = Instant::now();
    // DEPOT_BENCH_ONLY=aztec,low contrast: only the photos of those groups or conditions.
    let only: Vec<String> = std::env::var("DEPOT_BENCH_ONLY")
        .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
        .unwrap_or_default();
    let mut samples = corpus::corpus_where(corpus::SEED, |group, condition| {
        only.is_empty() || only.iter().any(|o| o == group || o == condition)
    });
    if quick {
        samples = samples.into_iter().step_by(4).collect();
    }
    let options = DecodeOptions::default();
    let formats: Vec<&str> = DEFAULT_FORMATS.iter().map(|f| f.as_str()).collect();
    let mut manifest = Vec::new();
    for s in &samples {
        let file = format!("{}.png", s.name);
        s.image.save(dir.join(&file)).expect("writing bench image");
        manifest.push(serde_json::json!({
            "name": s.name, "file": file, "formats": formats,
        }));
    }
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).expect("manifest"),
    )
    .expect("writing manifest");
    eprintln!(
        "corpus: {} photos (seed {}) in {:.1}s, written to {}",
        samples.len(),
        corpus::SEED,
        t.elapsed().as_secs_f64(),
        dir.display()
    );

    // Depot: the service's decode (default formats and options) over the same luma pixels
    // zxing-cpp gets; decode only (the photo is already luma and below the downscale limit).
    // zxing-cpp answers each photo right after Depot (see `Zxing`).
    let mut zxing = if std::env::var("DEPOT_BENCH_ZXING").is_ok_and(|v| v == "0") {
        None
    } else {
        Zxing::start(&dir, reps)
    };
    let mut zxing_lines: Vec<serde_json::Value> = Vec::new();
    let t = Instant::now();
    let mut depot: Vec<Answer> = Vec::new();
    for s in &samples {
        let luma = LumaImage {
            width: s.image.width(),
            height: s.image.height(),
            data: s.image.as_raw().clone(),
            scale_x: 1.0,
            scale_y: 1.0,
        };
        let mut times = Vec::new();
        let mut texts = Vec::new();
        for _ in 0..reps {
            let input = luma.clone();
            let start = Instant::now();
            let out = decode_luma(input, &options);
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            texts = out.codes.into_iter().map(|c| c.text).collect();
        }
        depot.push(Answer {
            texts,
            ms: pct(&times, 0.5),
        });
        if let Some(server) = zxing.as_mut() {
            match server.answer(&s.name) {
                Some(line) => zxing_lines.push(line),
                None => zxing = None,
            }
        }
    }
    eprintln!(
        "depot and zxing-cpp decoded in {:.1}s",
        t.elapsed().as_secs_f64()
    );
    let zxing = zxing.map(|_| zxing_lines);
    let zx: Vec<Answer> = samples
        .iter()
        .map(|s| {
            zxing
                .as_ref()
                .and_then(|lines| lines.iter().find(|l| l["name"] == s.name.as_str()))
                .map(|l| Answer {
                    texts: l["texts"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|t| t.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    ms: pct(
                        &l["times_ms"]
                            .as_array()
                            .map(|a| a.iter().filter_map(|t| t.as_f64()).collect::<Vec<_>>())
                            .unwrap_or_default(),
                        0.5,
                    ),
                })
                .unwrap_or_default()
        })
        .collect();

    // Per-photo answers, for looking into misses.
    let mut detail = String::new();
    for (i, s) in samples.iter().enumerate() {
        detail.push_str(
            &serde_json::json!({
                "name": s.name, "expected": s.expected,
                "depot": depot[i].texts, "depot_ms": depot[i].ms,
                "zxing": zx[i].texts, "zxing_ms": zx[i].ms,
            })
            .to_string(),
        );
        detail.push('\n');
    }
    std::fs::write(dir.join("results.jsonl"), detail).expect("writing results");

    let mut by_sym: BTreeMap<usize, Row> = BTreeMap::new();
    let mut by_condition: BTreeMap<usize, Row> = BTreeMap::new();
    let mut inverted_linear = Row::default();
    let mut no_code = Row::default();
    let mut all = Row::default();
    let sym_order: Vec<&str> = corpus::Sym::ALL
        .iter()
        .map(|s| s.name())
        .chain(["multi", "no code"])
        .collect();
    let condition_order: Vec<&str> = corpus::CONDITIONS
        .iter()
        .copied()
        .chain(["several codes"])
        .chain(corpus::NO_CODE.iter().copied())
        .collect();
    for (i, s) in samples.iter().enumerate() {
        let (d, z) = (&depot[i], &zx[i]);
        let g = sym_order.iter().position(|&n| n == s.group).unwrap_or(0);
        by_sym.entry(g).or_default().add(&s.expected, d, z);
        let c = condition_order
            .iter()
            .position(|&n| n == s.condition)
            .unwrap_or(0);
        by_condition.entry(c).or_default().add(&s.expected, d, z);
        if s.inverted_linear {
            inverted_linear.add(&s.expected, d, z);
        }
        if s.expected.is_empty() {
            no_code.add(&s.expected, d, z);
        }
        all.add(&s.expected, d, z);
    }

    println!();
    println!(
        "camera corpus: {} photos, seed {}; Depot = decode_luma with DecodeOptions::default() \
         ({} formats); zxing-cpp 3.1.1 with the same formats on the same pixels \
         (try_rotate, try_downscale, no try_invert); ms per photo = median of {reps} runs",
        samples.len(),
        corpus::SEED,
        DEFAULT_FORMATS.len()
    );
    if zxing.is_none() {
        println!("(zxing-cpp not run: its columns are empty)");
    }
    println!();
    println!("{}", header("symbology"));
    for (g, row) in &by_sym {
        println!("{}", row.line(sym_order[*g]));
    }
    println!("{}", all.line("all"));
    println!();
    println!("{}", header("condition"));
    for (c, row) in &by_condition {
        println!("{}", row.line(condition_order[*c]));
    }
    println!("{}", inverted_linear.line("inverted 1D"));
    println!("{}", all.line("all"));

    // Targets of issue 19.
    println!();
    let hit = all.hit_ratio();
    println!(
        "target hits >= 97% of zxing-cpp overall: {:.1}% -> {}",
        100.0 * hit,
        ok(hit >= 0.97)
    );
    let mut weak: Vec<String> = Vec::new();
    for (g, row) in &by_sym {
        if row.images >= 10 && row.codes > 0 && row.hit_ratio() < 0.97 {
            weak.push(format!("{} {:.0}%", sym_order[*g], 100.0 * row.hit_ratio()));
        }
    }
    for (c, row) in &by_condition {
        if row.images >= 10 && row.codes > 0 && row.hit_ratio() < 0.97 {
            weak.push(format!(
                "{} {:.0}%",
                condition_order[*c],
                100.0 * row.hit_ratio()
            ));
        }
    }
    println!(
        "target hits >= 97% of zxing-cpp in every group of 10+: {}{}",
        ok(weak.is_empty()),
        if weak.is_empty() {
            String::new()
        } else {
            format!(" (below: {})", weak.join(", "))
        }
    );
    let (m, p) = (
        pct(&all.ms[0], 0.5) / pct(&all.ms[1], 0.5),
        pct(&all.ms[0], 0.95) / pct(&all.ms[1], 0.95),
    );
    println!(
        "target median <= 1.5x zxing-cpp: {m:.2}x -> {}; p95 <= 1.5x: {p:.2}x -> {}",
        ok(m <= 1.5),
        ok(p <= 1.5)
    );
    println!(
        "target no invented codes on code-free photos: depot {} (zxing-cpp {}) -> {}",
        no_code.invented[0],
        no_code.invented[1],
        ok(no_code.invented[0] == 0)
    );
    println!(
        "target inverted 1D read where zxing-cpp fails: depot {}/{} zxing-cpp {}/{} -> {}",
        inverted_linear.hits[0],
        inverted_linear.codes,
        inverted_linear.hits[1],
        inverted_linear.codes,
        ok(inverted_linear.hits[0] == inverted_linear.codes)
    );

    if std::env::var("DEPOT_BENCH_EXTRA").is_ok_and(|v| v == "1") {
        per_format_cost(&samples, if quick { 2 } else { 5 });
        worker_overhead(if quick { 5 } else { 20 });
    }
}

fn ok(b: bool) -> &'static str {
    if b { "met" } else { "NOT met" }
}

/// Each format alone, on the code-free photos: what adding it to a profile costs on a miss.
fn per_format_cost(samples: &[corpus::Sample], n: usize) {
    println!();
    println!("cost of each format alone on code-free photos (TryHarder), median ms:");
    println!("{:<18} {:>9} {:>10}", "format", "640x480", "1280x960");
    let run = |formats: &[Format], width: u32| -> f64 {
        let mut ms = Vec::new();
        for s in samples
            .iter()
            .filter(|s| s.expected.is_empty() && s.image.width() == width)
            .take(n)
        {
            let luma = LumaImage {
                width: s.image.width(),
                height: s.image.height(),
                data: s.image.as_raw().clone(),
                scale_x: 1.0,
                scale_y: 1.0,
            };
            let opts = DecodeOptions {
                formats: formats.to_vec(),
                ..DecodeOptions::default()
            };
            let start = Instant::now();
            let _ = decode_luma(luma, &opts);
            ms.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        pct(&ms, 0.5)
    };
    for &format in Format::ALL {
        let mark = if DEFAULT_FORMATS.contains(&format) {
            ""
        } else {
            " (not default)"
        };
        println!(
            "{:<18} {:9.1} {:10.1}{mark}",
            format.as_str(),
            run(&[format], 640),
            run(&[format], 1280)
        );
    }
    for (label, formats) in [("DEFAULT_FORMATS", DEFAULT_FORMATS), ("ALL", Format::ALL)] {
        println!(
            "{label:<18} {:9.1} {:10.1}",
            run(formats, 640),
            run(formats, 1280)
        );
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
        let mut spawn = Vec::<f64>::new();
        for _ in 0..n {
            let d = Decoder::with_worker_exe(1, exe);
            let start = Instant::now();
            d.warm_up().await.expect("worker starts");
            spawn.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        let d = Decoder::with_worker_exe(1, exe);
        d.warm_up().await.expect("worker starts");
        let mut via_worker = Vec::<f64>::new();
        let mut direct = Vec::<f64>::new();
        for _ in 0..n {
            let b = small.clone();
            let start = Instant::now();
            let codes = d.decode(b, &opts).await.expect("decode");
            via_worker.push(start.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(codes.len(), 1);
            let start = Instant::now();
            let _ = decode_bytes(&small, &opts);
            direct.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        println!();
        println!("worker processes ({exe}):");
        println!(
            "  spawn + handshake: median {:.1} ms, p95 {:.1} ms",
            pct(&spawn, 0.5),
            pct(&spawn, 0.95)
        );
        println!(
            "  320x240 QR decode: via warm worker median {:.2} ms, in-process {:.2} ms (IPC + JSON overhead {:.2} ms)",
            pct(&via_worker, 0.5),
            pct(&direct, 0.5),
            pct(&via_worker, 0.5) - pct(&direct, 0.5)
        );
    });
}

/// zxing-cpp in a Python process (`benches/decode_zxing_cpp.py --serve`) that answers one
/// photo at a time: each photo is timed by zxing-cpp right after Depot, so that both meet the
/// machine in the same state (timing all of Depot's photos, then all of zxing-cpp's, gave
/// ratios from 1.2 to 1.7 for the same binary on this shared machine).
struct Zxing {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Zxing {
    fn start(dir: &std::path::Path, reps: usize) -> Option<Zxing> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/decode_zxing_cpp.py");
        let spawned = Command::new("python3")
            .arg(script)
            .arg(dir)
            .arg(reps.to_string())
            .arg("--serve")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => {
                eprintln!("zxing-cpp comparison skipped: python3: {e}");
                return None;
            }
        };
        let stdin = child.stdin.take()?;
        let stdout = std::io::BufReader::new(child.stdout.take()?);
        Some(Zxing {
            child,
            stdin,
            stdout,
        })
    }

    /// zxing-cpp's answer for one photo; `None` once the script has failed (its error is on
    /// stderr).
    fn answer(&mut self, name: &str) -> Option<serde_json::Value> {
        use std::io::{BufRead, Write};
        writeln!(self.stdin, "{name}").ok()?;
        self.stdin.flush().ok()?;
        let mut line = String::new();
        self.stdout.read_line(&mut line).ok()?;
        let answer = serde_json::from_str(&line).ok();
        if answer.is_none() {
            eprintln!("zxing-cpp comparison skipped: the script stopped answering");
        }
        answer
    }
}

impl Drop for Zxing {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
