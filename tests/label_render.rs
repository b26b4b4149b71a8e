//! The PDF and PNG label renderers, end to end: pages built by hand (symbols encoded with
//! rxing), rendered, then read back the way a scanner or a PDF reader would: barcodes decoded
//! with rxing from the PNG and from the PDF rasterised by `pdftoppm`, text extracted with
//! `pdftotext` (poppler-utils; the PDF tests fail, never skip, without it).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use depot::error::Error;
use depot::labels::layout::{Align, Item, Page, Symbol, Symbology, TextLine};
use depot::labels::{pdf, png};
use image::GrayImage;
use rxing::{
    BarcodeFormat, DecodeHintValue, DecodeHints, EncodeHintValue, EncodeHints, MultiFormatWriter,
    Writer,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Building pages

/// Encodes `contents` into a symbol without margin (what `labels::barcode` produces).
fn symbol(symbology: Symbology, contents: &str, data: &str) -> Symbol {
    let mut hints = EncodeHints::default().with(EncodeHintValue::Margin("0".into()));
    let (format, quiet) = match symbology {
        Symbology::Code128 | Symbology::Gs1_128 => (BarcodeFormat::CODE_128, 10),
        Symbology::Qr => {
            hints = hints.with(EncodeHintValue::ErrorCorrection("M".into()));
            (BarcodeFormat::QR_CODE, 4)
        }
        Symbology::Datamatrix => (BarcodeFormat::DATA_MATRIX, 1),
        other => panic!("not used here: {other:?}"),
    };
    let m = MultiFormatWriter
        .encode_with_hints(contents, &format, 0, 0, &hints)
        .unwrap_or_else(|e| panic!("encoding {format:?} {contents:?}: {e:?}"));
    let linear = format == BarcodeFormat::CODE_128;
    let (columns, rows) = (
        m.getWidth() as usize,
        if linear { 1 } else { m.getHeight() as usize },
    );
    let mut modules = Vec::with_capacity(columns * rows);
    for y in 0..rows {
        for x in 0..columns {
            modules.push(m.get(x as u32, y as u32));
        }
    }
    Symbol {
        symbology,
        data: data.to_string(),
        gs1: Vec::new(),
        columns,
        rows,
        modules,
        quiet_modules: quiet,
    }
}

/// A barcode placed like the layout does: `x_mm`/`y_mm` on the first module, the quiet zone
/// reserved around it. Returns the item and the box (mm) to crop for decoding it.
fn barcode(
    x: f64,
    y: f64,
    module: f64,
    bars: f64,
    symbol: Symbol,
    hri: Option<&str>,
) -> (Item, [f64; 4]) {
    let q = symbol.quiet_modules as f64 * module;
    let w = symbol.columns as f64 * module;
    let h = if symbol.is_linear() {
        bars
    } else {
        symbol.rows as f64 * module
    };
    let crop = [x - q, y - q.min(3.0), w + 2.0 * q, h + 2.0 * q.min(3.0)];
    (
        Item::Barcode {
            x_mm: x,
            y_mm: y,
            height_mm: h,
            module_mm: module,
            symbol,
            hri: hri.map(str::to_string),
            hri_size_mm: 2.5,
        },
        crop,
    )
}

fn text(x: f64, y: f64, width: f64, size: f64, bold: bool, align: Align, lines: &[&str]) -> Item {
    Item::Text {
        x_mm: x,
        y_mm: y,
        width_mm: width,
        size_mm: size,
        line_height_mm: size * 1.2,
        bold,
        align,
        lines: lines
            .iter()
            .map(|l| TextLine {
                text: l.to_string(),
                rtl: depot::labels::fonts::is_rtl(l),
            })
            .collect(),
        fit: Default::default(),
    }
}

const CODE128: &str = "DEPOT-4711-ab";
/// GS1-128: (00) SSCC, then (10) batch, a variable-length AI needing no separator at the end.
const GS1_ELEMENTS: &str = "00006141411234567890\u{1d}10ABC123";
const GS1_CONTENTS: &str = "\u{f1}00006141411234567890\u{f1}10ABC123";
const QR: &str = "https://id.example.com/01/09506000134352/10/ABC?x=Müller";
const DATAMATRIX: &str = "LOC-A-01-02-03";

/// What each barcode on the test label carries, and where to look for it.
struct Expect {
    format: BarcodeFormat,
    gs1: bool,
    text: &'static str,
    crop: [f64; 4],
}

/// A 100 × 150 mm label: Code 128, GS1-128 with HRI, QR, DataMatrix, ten lines of text in
/// three scripts, a frame, a rule, a logo.
fn label() -> (Page, Vec<Expect>) {
    let mut items = vec![Item::Rect {
        x_mm: 1.0,
        y_mm: 1.0,
        width_mm: 98.0,
        height_mm: 148.0,
        thickness_mm: 0.5,
        fill: false,
    }];
    items.push(text(
        5.0,
        4.0,
        90.0,
        5.0,
        true,
        Align::Left,
        &["Müller GmbH"],
    ));
    items.push(text(
        5.0,
        11.0,
        90.0,
        4.0,
        false,
        Align::Left,
        &["ООО Ромашка", "ул. Ленина, д. 5"],
    ));
    items.push(text(
        5.0,
        21.0,
        90.0,
        5.0,
        false,
        Align::Right,
        &["شركة النور"],
    ));
    items.push(text(
        5.0,
        28.0,
        60.0,
        3.0,
        false,
        Align::Center,
        &[
            "Line 5",
            "Line 6 — Straße",
            "Line 7",
            "Line 8",
            "Line 9",
            "Line 10",
        ],
    ));
    items.push(Item::Line {
        x1_mm: 3.0,
        y1_mm: 52.0,
        x2_mm: 97.0,
        y2_mm: 52.0,
        thickness_mm: 0.4,
    });
    items.push(Item::Line {
        x1_mm: 70.0,
        y1_mm: 28.0,
        x2_mm: 95.0,
        y2_mm: 48.0,
        thickness_mm: 0.3,
    });
    // A 16 × 16 px checkerboard logo.
    let luma = (0..256)
        .map(|i| {
            if (i / 16 / 4 + i % 16 / 4) % 2 == 0 {
                0
            } else {
                200
            }
        })
        .collect();
    items.push(Item::Image {
        x_mm: 80.0,
        y_mm: 4.0,
        width_mm: 15.0,
        height_mm: 15.0,
        pixels_wide: 16,
        pixels_high: 16,
        luma,
    });

    let mut expect = Vec::new();
    let (item, crop) = barcode(
        10.0,
        56.0,
        0.375,
        15.0,
        symbol(Symbology::Code128, CODE128, CODE128),
        None,
    );
    items.push(item);
    expect.push(Expect {
        format: BarcodeFormat::CODE_128,
        gs1: false,
        text: CODE128,
        crop,
    });
    let (item, crop) = barcode(
        5.0,
        78.0,
        0.25,
        18.0,
        symbol(Symbology::Gs1_128, GS1_CONTENTS, GS1_ELEMENTS),
        Some("(00) 006141411234567890 (10) ABC123"),
    );
    items.push(item);
    expect.push(Expect {
        format: BarcodeFormat::CODE_128,
        gs1: true,
        text: GS1_ELEMENTS,
        crop,
    });
    let (item, crop) = barcode(8.0, 108.0, 0.6, 0.0, symbol(Symbology::Qr, QR, QR), None);
    items.push(item);
    expect.push(Expect {
        format: BarcodeFormat::QR_CODE,
        gs1: false,
        text: QR,
        crop,
    });
    let (item, crop) = barcode(
        70.0,
        115.0,
        0.75,
        0.0,
        symbol(Symbology::Datamatrix, DATAMATRIX, DATAMATRIX),
        None,
    );
    items.push(item);
    expect.push(Expect {
        format: BarcodeFormat::DATA_MATRIX,
        gs1: false,
        text: DATAMATRIX,
        crop,
    });
    (
        Page {
            width_mm: 100.0,
            height_mm: 150.0,
            items,
        },
        expect,
    )
}

// ---------------------------------------------------------------------------------------------
// Reading back

fn decode_png(bytes: &[u8]) -> GrayImage {
    image::load_from_memory(bytes)
        .expect("a valid PNG")
        .to_luma8()
}

/// Decodes the one symbol inside `crop` (mm) of a picture at `dpi`.
fn decode(img: &GrayImage, dpi: f64, offset: (f64, f64), e: &Expect) -> String {
    let px = |mm: f64| (mm * dpi / 25.4).round().max(0.0) as u32;
    let [x, y, w, h] = e.crop;
    let (x0, y0) = (
        px(x + offset.0).min(img.width()),
        px(y + offset.1).min(img.height()),
    );
    let x1 = px(x + offset.0 + w).min(img.width());
    let y1 = px(y + offset.1 + h).min(img.height());
    let cropped = image::imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image();
    let mut hints = DecodeHints::default()
        .with(DecodeHintValue::PossibleFormats(HashSet::from([e.format])))
        .with(DecodeHintValue::TryHarder(true));
    if e.gs1 {
        hints = hints.with(DecodeHintValue::AssumeGs1(true));
    }
    let (cw, ch) = cropped.dimensions();
    let result = rxing::helpers::detect_in_luma_with_hints(
        cropped.into_raw(),
        cw,
        ch,
        Some(e.format),
        &mut hints,
    )
    .unwrap_or_else(|err| {
        panic!(
            "no {:?} found at {dpi} dpi in {:?}: {err:?}",
            e.format, e.crop
        )
    });
    let text = result.getText();
    // With AssumeGs1 a leading FNC1 comes back as the symbology identifier.
    text.strip_prefix("]C1").unwrap_or(text).to_string()
}

fn require(tool: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    match Command::new(tool).arg("-v").output() {
        Ok(_) => PathBuf::from(tool),
        Err(e) => panic!(
            "`{tool}` (poppler-utils) is required to check the rendered PDFs and was not found \
             ({e}); install it: apt-get install -y poppler-utils"
        ),
    }
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("label_render-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Rasterises every page of a PDF at `dpi` with pdftoppm, in page order.
fn rasterise(pdf: &[u8], dpi: u32, name: &str) -> Vec<GrayImage> {
    let tool = require("pdftoppm");
    let dir = temp_dir(name);
    let input = dir.join("in.pdf");
    std::fs::write(&input, pdf).unwrap();
    let out = Command::new(tool)
        .args(["-r", &dpi.to_string(), "-gray", "-png"])
        .arg(&input)
        .arg(dir.join("page"))
        .output()
        .expect("pdftoppm runs");
    assert!(
        out.status.success(),
        "pdftoppm failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    pages.sort();
    let images = pages
        .iter()
        .map(|p| image::open(p).expect("pdftoppm wrote a PNG").to_luma8())
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    images
}

fn pdf_text(pdf: &[u8], name: &str) -> String {
    let tool = require("pdftotext");
    let dir = temp_dir(name);
    let input = dir.join("in.pdf");
    std::fs::write(&input, pdf).unwrap();
    let out = Command::new(tool)
        .args(["-enc", "UTF-8"])
        .arg(&input)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 text")
}

// ---------------------------------------------------------------------------------------------
// PNG

fn png_round_trip(dpi: u32) {
    let (page, expect) = label();
    let bytes = png::render(&page, dpi).expect("renders");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let img = decode_png(&bytes);
    let want = |mm: f64| (mm / 25.4 * f64::from(dpi)).round() as u32;
    assert_eq!((img.width(), img.height()), (want(100.0), want(150.0)));
    for e in &expect {
        assert_eq!(
            decode(&img, f64::from(dpi), (0.0, 0.0), e),
            e.text,
            "{:?} at {dpi} dpi",
            e.format
        );
    }
    // Background white, bars black, text anti-aliased.
    assert_eq!(img.get_pixel(img.width() / 2, img.height() - 3).0[0], 255);
    assert!(img.pixels().any(|p| p.0[0] > 40 && p.0[0] < 215));
}

#[test]
fn png_203_dpi_barcodes_decode() {
    png_round_trip(203);
}

#[test]
fn png_300_dpi_barcodes_decode() {
    png_round_trip(300);
}

#[test]
fn png_bars_are_not_anti_aliased() {
    let (page, expect) = label();
    let img = decode_png(&png::render(&page, 203).unwrap());
    // A row through the middle of the Code 128 bars: black and white only.
    let [x, y, w, h] = expect[0].crop;
    let px = |mm: f64| (mm * 203.0 / 25.4).round() as u32;
    let row = px(y + h / 2.0);
    let values: HashSet<u8> = (px(x)..px(x + w))
        .map(|c| img.get_pixel(c, row).0[0])
        .collect();
    assert_eq!(values, HashSet::from([0, 255]));
}

#[test]
fn png_refuses_more_than_20_megapixels() {
    let page = Page {
        width_mm: 210.0,
        height_mm: 297.0,
        items: Vec::new(),
    };
    // 2480 × 3508 = 8.7 Mpx at 300 dpi is fine; 4961 × 7016 = 34.8 Mpx at 600 dpi is not.
    let img = decode_png(&png::render(&page, 300).expect("8.7 Mpx renders"));
    assert_eq!(img.dimensions(), (2480, 3508));
    match png::render(&page, 600) {
        Err(Error::Validation(errors)) => assert_eq!(errors[0].field, "dpi"),
        other => panic!(
            "expected a dpi validation error, got {:?}",
            other.map(|b| b.len())
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// PDF

#[test]
fn pdf_barcodes_decode_after_rasterising() {
    let (page, expect) = label();
    let bytes = pdf::render(std::slice::from_ref(&page)).expect("renders");
    assert!(bytes.starts_with(b"%PDF-"));
    let pages = rasterise(&bytes, 300, "single");
    assert_eq!(pages.len(), 1);
    let img = &pages[0];
    // 100 × 150 mm at 300 dpi.
    assert!(
        (i64::from(img.width()) - 1181).abs() <= 1,
        "{}",
        img.width()
    );
    assert!(
        (i64::from(img.height()) - 1772).abs() <= 1,
        "{}",
        img.height()
    );
    for e in &expect {
        assert_eq!(
            decode(img, 300.0, (0.0, 0.0), e),
            e.text,
            "{:?} in the PDF",
            e.format
        );
    }
}

#[test]
fn pdf_text_is_embedded_and_extractable() {
    let (page, _) = label();
    let bytes = pdf::render(&[page.clone(), page]).expect("renders");
    let raw = String::from_utf8_lossy(&bytes);
    assert!(raw.contains("/FontFile2"), "the TrueType font is embedded");
    let text = pdf_text(&bytes, "text");
    for needle in [
        "Müller GmbH",
        "ООО Ромашка",
        "ул. Ленина, д. 5",
        "Line 6 — Straße",
        "(00) 006141411234567890",
    ] {
        assert!(
            text.contains(needle),
            "{needle:?} not in the extracted text:\n{text}"
        );
    }
    // Two pages.
    assert_eq!(text.matches("Müller GmbH").count(), 2);
    // Arabic: shaped glyphs map back to Arabic letters (base or presentation forms).
    let arabic: String = text
        .chars()
        .filter(|c| matches!(*c as u32, 0x0600..=0x06FF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF))
        .collect();
    for letter in ['ش', 'ر', 'ك', 'ة', 'ا', 'ل', 'ن', 'و'] {
        assert!(
            arabic.contains(letter),
            "{letter} not in the extracted Arabic {arabic:?}:\n{text}"
        );
    }
}

#[test]
fn pdf_arabic_is_drawn_with_joined_forms() {
    // The same word shaped (joined) must rasterise differently from its letters set apart.
    let page = |line: &str| Page {
        width_mm: 60.0,
        height_mm: 15.0,
        items: vec![text(2.0, 2.0, 56.0, 8.0, false, Align::Center, &[line])],
    };
    let joined = rasterise(&pdf::render(&[page("شركة")]).unwrap(), 150, "arabic-joined");
    let isolated = rasterise(
        &pdf::render(&[page("ش ر ك ة")]).unwrap(),
        150,
        "arabic-isolated",
    );
    let ink = |img: &GrayImage| img.pixels().filter(|p| p.0[0] < 128).count();
    assert!(ink(&joined[0]) > 50, "the Arabic line is drawn");
    assert_ne!(joined[0].as_raw(), isolated[0].as_raw());
    // PNG draws it too.
    let img = decode_png(&png::render(&page("شركة"), 203).unwrap());
    assert!(ink(&img) > 50);
}

#[test]
fn sheet_of_seven_labels_on_one_a4_page() {
    let mut labels = Vec::new();
    let mut crops = Vec::new();
    for i in 1..=7 {
        let data = format!("SHEET-{i:03}");
        let (item, crop) = barcode(
            8.0,
            12.0,
            0.33,
            12.0,
            symbol(Symbology::Code128, &data, &data),
            None,
        );
        labels.push(Page {
            width_mm: 100.0,
            height_mm: 70.0,
            items: vec![
                text(
                    5.0,
                    3.0,
                    90.0,
                    4.0,
                    true,
                    Align::Left,
                    &[&format!("Label {i}")],
                ),
                item,
                Item::Rect {
                    x_mm: 0.0,
                    y_mm: 0.0,
                    width_mm: 100.0,
                    height_mm: 70.0,
                    thickness_mm: 0.2,
                    fill: false,
                },
            ],
        });
        crops.push((data, crop));
    }
    let bytes = pdf::sheet(&labels, 2, 4).expect("7 labels of 100 × 70 mm fit 2 × 4 on A4");
    let pages = rasterise(&bytes, 300, "sheet");
    assert_eq!(pages.len(), 1, "7 labels at 2 × 4 make one sheet");
    let img = &pages[0];
    assert!(
        (i64::from(img.width()) - 2480).abs() <= 1 && (i64::from(img.height()) - 3508).abs() <= 1
    );
    // Grid 200 × 280 mm centred: 5 mm left, 8.5 mm top.
    for (i, (data, crop)) in crops.iter().enumerate() {
        let offset = (5.0 + (i % 2) as f64 * 100.0, 8.5 + (i / 2) as f64 * 70.0);
        let e = Expect {
            format: BarcodeFormat::CODE_128,
            gs1: false,
            text: "",
            crop: *crop,
        };
        assert_eq!(&decode(img, 300.0, offset, &e), data, "label {}", i + 1);
    }
    let text = pdf_text(&bytes, "sheet-text");
    for i in 1..=7 {
        assert!(text.contains(&format!("Label {i}")), "{text}");
    }

    // Nine labels: two sheets.
    let mut nine = labels.clone();
    nine.extend(labels[..2].iter().cloned());
    assert_eq!(
        rasterise(&pdf::sheet(&nine, 2, 4).unwrap(), 20, "sheet-nine").len(),
        2
    );

    // Too big for the grid: refused, naming the sheet.
    let big = Page {
        width_mm: 110.0,
        height_mm: 70.0,
        items: Vec::new(),
    };
    match pdf::sheet(&[big], 2, 4) {
        Err(Error::Validation(errors)) => assert_eq!(errors[0].field, "sheet"),
        other => panic!(
            "expected a validation error, got {:?}",
            other.map(|b| b.len())
        ),
    }
    assert!(pdf::sheet(&labels, 0, 4).is_err());
}

#[test]
fn render_time_per_label() {
    let (page, _) = label();
    // Warm up (font parsing, shaping tables).
    pdf::render(std::slice::from_ref(&page)).unwrap();
    png::render(&page, 203).unwrap();
    let n = 10;
    let start = Instant::now();
    for _ in 0..n {
        pdf::render(std::slice::from_ref(&page)).unwrap();
    }
    let pdf_ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
    let start = Instant::now();
    for _ in 0..n {
        png::render(&page, 203).unwrap();
    }
    let png_ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(n);
    println!("100 × 150 mm label: PDF {pdf_ms:.1} ms, PNG@203 {png_ms:.1} ms per label");
    // LABEL_RENDER_DUMP=dir writes the test label out for a look.
    if let Ok(dir) = std::env::var("LABEL_RENDER_DUMP") {
        let dir = Path::new(&dir);
        std::fs::write(
            dir.join("label.pdf"),
            pdf::render(std::slice::from_ref(&page)).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.join("label-203.png"), png::render(&page, 203).unwrap()).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Built-in templates with long data: no data is cut

/// `text`, which must be exactly `n` characters long (the field's maximum).
fn at(n: usize, text: &str) -> String {
    assert_eq!(text.chars().count(), n, "{text:?}");
    text.to_string()
}

const NAME: &str = "Organic Greek-style yoghurt with honey & walnuts, 6 x 500 ml";
const COMPANY: &str = "Rudi's Delikatessen & Feinkost Großhandel GmbH & Co. KG Nord";
const WAREHOUSE: &str = "Depot Foods Hafen-Logistikzentrum Hamburg-Waltershof Halle 7";
const ITEM_CODE: &str = "YOG-GRK-HONEY-WALNUT-6X5";
const BATCH: &str = "MWB2611-4207-HAMBURG";

/// Four lines of 40 characters.
fn address() -> String {
    [
        "Industriestraße 123-125, Gebäude 4, Nord",
        "c/o Wareneingang Süd, Rampe 12 bis 14 B.",
        "80331 München, Ludwigsvorstadt-Isarvorst",
        "Bundesrepublik Deutschland (DE), Bayern.",
    ]
    .map(|l| at(40, l))
    .join("\n")
}

/// Long but valid data for every built-in template: every field with a `max_length` at exactly
/// that length (checked by `long_data_is_at_every_maximum`), GTIN-14s, SSCCs, ISO dates,
/// 8-digit quantities, 4-line addresses. The parcel label twice: an SSCC as the parcel's code
/// with a 22-digit tracking number, and `DPT-PARCEL-<id>` with an 18-character one of letters
/// and digits (the most its barcode takes).
fn long_data() -> Vec<(&'static str, Value)> {
    let name = at(60, NAME);
    let company = at(60, COMPANY);
    let warehouse = at(60, WAREHOUSE);
    let item_code = at(24, ITEM_CODE);
    let batch = at(20, BATCH);
    let deal = at(20, "DPT-DEAL-12345678901");
    let party = json!({"name": company, "address": address()});
    let sender = json!({"name": warehouse, "address": address()});
    let logistic = json!({
        "sscc": "006141411234567890",
        "ship_from": sender,
        "ship_to": party,
        "content": {"gtin": "09506000134352", "count": 12_345_678, "batch": batch},
        "deal": {"reference": deal},
        "parcel": {"number": "9999/9999", "weight_kg": "1234.567"},
    });
    let parcel = json!({
        "parcel": {"code": "DPT-PARCEL-1234567", "number": "9999/9999", "weight_kg": "1234.567"},
        "ship_from": sender,
        "ship_to": party,
        "shipment": {"service": "standard", "tracking_number": "1Z999AA10123456784",
                     "cod": "123456789.00 EUR"},
        "deal": {"reference": deal},
    });
    let mut parcel_sscc = parcel.clone();
    parcel_sscc["parcel"]["code"] = json!("006141411234567890");
    parcel_sscc["shipment"]["tracking_number"] = json!("9400111899223197428490");
    let deals: String = (0..12)
        .map(|i| format!("DPT-DEAL-{}", 1_234_567 - i))
        .collect::<Vec<_>>()
        .join(", ")
        .chars()
        .take(200)
        .collect();
    let pick_line = json!({
        "location": at(16, "MEZ-A12-03-B4-07"), "item_code": item_code, "item_name": name,
        "batch": batch, "expiry": "2027-12-31", "quantity": 12_345_678,
    });
    let line = json!({
        "item_code": item_code, "item_name": name, "batch": batch, "expiry": "2027-12-31",
        "quantity": 12_345_678, "unit": at(8, "canister"),
    });
    let mut returned = line.clone();
    returned["condition"] = json!("damaged");
    returned["reason"] = json!(at(40, "Crushed in transit, seal broken at dock."));
    returned["deal"] = json!(at(20, "DPT-DEAL-12345678901"));
    vec![
        (
            "item",
            json!({"item": {"name": name, "code": item_code, "gtin": "04006381333931"}}),
        ),
        (
            "item-gs1",
            json!({"item": {"name": name, "gtin": "09506000134352"},
                   "batch": {"code": batch, "expiry": "2027-12-31"}}),
        ),
        (
            "batch",
            json!({"item": {"name": name, "gtin": "09506000134352"},
                   "batch": {"code": at(15, "MWB2611-4207-HA"), "expiry": "2027-12-31",
                             "production_date": "2026-11-20"}}),
        ),
        (
            "location",
            json!({"location": {"code": at(12, "MEZ-W12-03-4"), "barcode": at(18, "MAIN-MEZ-W12-03-4X")},
                   "warehouse": {"name": warehouse}}),
        ),
        ("logistic-4x6", logistic.clone()),
        ("logistic-a6", logistic),
        ("parcel-4x6", parcel_sscc),
        ("parcel-4x6", parcel),
        (
            "pick-list",
            json!({"pick_list": {"code": "DPT-PICK-12345678901", "id": 1_234_567_890u64},
                   "warehouse": {"name": warehouse}, "deal": {"reference": deals},
                   "created_at": "2026-11-26", "lines": vec![pick_line; 30]}),
        ),
        (
            "delivery-note",
            json!({"document": {"number": at(20, "DN-12345678901234567"), "date": "2026-11-26"},
                   "deal": {"reference": deal}, "ship_from": sender, "ship_to": party,
                   "shipment": {"tracking": at(30, "1Z999AA10123456784JJD000390007")},
                   "lines": vec![line; 30]}),
        ),
        (
            "barcode-card",
            json!({"caption": at(120, "ORGANIC-YOG-500-HONEY Organic Greek-style yoghurt with honey & walnuts, 6 x 500 ml, pack of 480: batch ABCDEFGHIJKLMNOPQ"),
                   "gs1": "(01)14006381333938(17)281231(10)ABCDEFGHIJ-./_%&1234"}),
        ),
        (
            "barcode-card",
            json!({"caption": "Bin MEZ-W12-03-4 in the main warehouse",
                   "code": at(24, "DPT-PARCEL-1234567890123")}),
        ),
        (
            "return-note",
            json!({"document": {"number": at(20, "RN-12345678901234567"),
                                "code": at(20, "DPT-RET-123456789012"), "date": "2026-11-26"},
                   "deal": {"reference": deal},
                   "shipment": {"reference": at(20, "DPT-SHIP-12345678901"),
                                "tracking": at(30, "1Z999AA10123456784JJD000390007")},
                   "customer": {"name": company},
                   "warehouse": {"name": warehouse, "address": address()},
                   "location": {"code": at(20, "MEZ-W12-03-4-BIN-007")},
                   "note": at(160, "Collected by our driver on the second attempt; the customer reported two cartons crushed in transit and one carton missing its seal, see the photos in the deal."),
                   "lines": vec![returned; 30]}),
        ),
    ]
}

fn lookup<'v>(data: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(data, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The value's lengths against a field's limits: its length, or (with `max_lines`) its longest
/// line and its number of lines.
fn reaches(value: &str, max_length: Option<usize>, max_lines: Option<usize>) -> bool {
    match (max_length, max_lines) {
        (Some(n), Some(lines)) => {
            value.lines().count() == lines && value.lines().any(|l| l.chars().count() == n)
        }
        (Some(n), None) => value.chars().count() == n,
        (None, _) => true,
    }
}

fn templates() -> Vec<depot::labels::template::Template> {
    depot::labels::template::load_all(None).expect("the built-in templates load")
}

/// The long data is what the tests claim: every field with a maximum is at it, so a template
/// that prints it whole prints everything up to its documented maxima whole.
#[test]
fn long_data_is_at_every_maximum() {
    let all = templates();
    let data = long_data();
    for t in &all {
        let mine: Vec<&Value> = data
            .iter()
            .filter(|(name, _)| *name == t.name)
            .map(|(_, d)| d)
            .collect();
        assert!(!mine.is_empty(), "no long data for template {}", t.name);
        for (path, spec) in &t.fields {
            // Fields that exclude each other (a card's GS1 data or other code) are at their
            // maximum in one of the template's data sets each.
            let value = mine
                .iter()
                .find_map(|d| lookup(d, path))
                .unwrap_or_else(|| panic!("{}: no {path}", t.name));
            if spec.row.is_empty() {
                assert!(
                    reaches(&plain(value), spec.max_length, spec.max_lines),
                    "{}: {path} = {value} is not at its maximum ({:?} characters, {:?} lines)",
                    t.name,
                    spec.max_length,
                    spec.max_lines
                );
                continue;
            }
            let row = &value[0];
            for (key, limit) in &spec.row {
                let v = row
                    .get(key)
                    .unwrap_or_else(|| panic!("{}: no {path}[0].{key}", t.name));
                assert!(
                    reaches(&plain(v), limit.max_length, limit.max_lines),
                    "{}: {path}[0].{key} = {v} is not at its maximum {:?}",
                    t.name,
                    limit.max_length
                );
            }
        }
    }
}

/// `text` without any white space (line breaks and digit groups differ between formats), in
/// lower case (a template may print a value in capitals).
fn squeeze(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// What of the data a reader must find on the label: every line of every string and number the
/// data holds, dates also as DD.MM.YYYY, a GTIN-14 with a leading 0 also as 13 digits.
fn printed_forms(value: &Value, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => map.values().for_each(|v| printed_forms(v, out)),
        Value::Array(list) => list.iter().for_each(|v| printed_forms(v, out)),
        Value::Null | Value::Bool(_) => {}
        other => {
            for line in plain(other).lines() {
                let mut forms = vec![squeeze(line)];
                let b = line.as_bytes();
                if line.len() == 10 && b[4] == b'-' && b[7] == b'-' {
                    forms.push(format!("{}.{}.{}", &line[8..10], &line[5..7], &line[..4]));
                }
                if line.len() == 14
                    && line.starts_with('0')
                    && line.bytes().all(|c| c.is_ascii_digit())
                {
                    forms.push(squeeze(&line[1..]));
                }
                out.push(forms);
            }
        }
    }
}

/// Every built-in template, laid out and rendered with long data at every field's maximum:
/// no text is cut (the layout's own measure, for ZPL and PNG, which draw the layout's lines),
/// no word is broken, every human-readable line fits under its symbol, and `pdftotext` reads
/// every value of the data back from the PDF with no ellipsis anywhere. The same for every
/// template's own examples (column headers included). Every failure is listed.
/// `DEPOT_LABEL_PREVIEW=<dir>` keeps the PNGs (at 300 dpi) to look at.
#[test]
fn long_data_prints_whole_on_every_built_in_template() {
    use depot::labels::layout::Fit;
    use depot::labels::{Format, fonts};
    let all = templates();
    let mut failures = Vec::new();
    // The long data, then every template's own examples.
    let examples = all.iter().map(|t| (t.name.as_str(), t.example()));
    let sets: Vec<(&str, Value)> = long_data().into_iter().chain(examples).collect();
    for (n, (name, data)) in sets.into_iter().enumerate() {
        let t = all
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no built-in template {name}"));
        let mut fail = |what: String| failures.push(format!("{name}: {what}"));
        for native_2d in [false, true] {
            let pages = match t.lay_out_for(&data, native_2d) {
                Ok(pages) => pages,
                Err(e) => {
                    fail(format!("does not lay out: {e:?}"));
                    continue;
                }
            };
            for item in pages.iter().flat_map(|p| &p.items) {
                match item {
                    Item::Text { lines, fit, .. } => {
                        let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
                        if *fit != Fit::Whole || text.iter().any(|l| l.contains('…')) {
                            fail(format!("{fit:?}: {text:?}"));
                        }
                    }
                    Item::Barcode {
                        symbol,
                        module_mm,
                        hri: Some(hri),
                        hri_size_mm,
                        ..
                    } => {
                        let room = (symbol.columns + 2 * symbol.quiet_modules) as f64 * module_mm;
                        if *hri_size_mm < 2.0
                            || fonts::measure(hri, *hri_size_mm, false) > room + 1e-6
                        {
                            fail(format!(
                                "human-readable line {hri:?} at {hri_size_mm:.2} mm"
                            ));
                        }
                    }
                    _ => {}
                }
            }
        }
        let render = |format| depot::labels::render(t, format, 300, &data);
        match render(Format::Zpl) {
            Ok(zpl) => {
                let zpl = String::from_utf8(zpl.bytes).unwrap();
                if zpl.contains('…') {
                    fail("the ZPL has an ellipsis".into());
                }
            }
            Err(e) => fail(format!("ZPL: {e:?}")),
        }
        match render(Format::Png) {
            // DEPOT_LABEL_PREVIEW=dir keeps the PNGs to look at.
            Ok(png) => {
                if let Some(dir) = std::env::var_os("DEPOT_LABEL_PREVIEW") {
                    std::fs::write(
                        Path::new(&dir).join(format!("{n:02}-{name}.png")),
                        png.bytes,
                    )
                    .unwrap();
                }
            }
            Err(e) => fail(format!("PNG: {e:?}")),
        }
        match render(Format::Pdf) {
            Ok(pdf) => {
                let text = pdf_text_raw(&pdf.bytes, &format!("long-{n}"));
                for line in text.lines().filter(|l| l.contains('…')) {
                    fail(format!("pdftotext reads an ellipsis: {line:?}"));
                }
                let squeezed = squeeze(&text);
                let mut forms = Vec::new();
                printed_forms(&data, &mut forms);
                for f in forms {
                    if !f.iter().any(|form| squeezed.contains(form.as_str())) {
                        fail(format!("pdftotext does not read {:?}", f[0]));
                    }
                }
            }
            Err(e) => fail(format!("PDF: {e:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "cut or missing:\n{}",
        failures.join("\n")
    );
}

/// One character over a field's maximum is refused with a 422 naming the field, for every
/// field that refuses (codes, numbers); free text (`overflow = "cut"`) still prints.
#[test]
fn data_beyond_a_maximum_is_refused_naming_the_field() {
    use depot::labels::template::Overflow;
    let all = templates();
    let longer = |v: &Value| match v {
        Value::Number(n) => json!(n.as_u64().unwrap() * 10 + 1),
        other => json!(format!("{}1", plain(other))),
    };
    let refused = |t: &depot::labels::template::Template, data: &Value| -> Option<String> {
        match t.lay_out(data) {
            Err(Error::Validation(v)) => Some(v[0].field.clone()),
            Err(e) => panic!("{}: {e:?}", t.name),
            Ok(_) => None,
        }
    };
    for (name, data) in long_data() {
        let t = all.iter().find(|t| t.name == name).unwrap();
        for (path, spec) in &t.fields {
            if spec.max_length.is_some() && spec.row.is_empty() {
                let mut over = data.clone();
                let mut node = &mut over;
                for key in path.split('.') {
                    node = &mut node[key];
                }
                if node.is_null() {
                    continue;
                }
                *node = longer(node);
                let field = refused(t, &over);
                match spec.overflow {
                    Overflow::Refuse => {
                        assert_eq!(
                            field.as_deref(),
                            Some(format!("data.{path}").as_str()),
                            "{name}"
                        )
                    }
                    Overflow::Cut => assert_eq!(field, None, "{name}: {path}"),
                }
            }
            for (key, limit) in &spec.row {
                if limit.max_length.is_none() {
                    continue;
                }
                let mut over = data.clone();
                let cell = &mut over[path.as_str()][1][key.as_str()];
                *cell = longer(cell);
                let field = refused(t, &over);
                match limit.overflow {
                    Overflow::Refuse => assert_eq!(
                        field.as_deref(),
                        Some(format!("data.{path}[1].{key}").as_str()),
                        "{name}"
                    ),
                    Overflow::Cut => assert_eq!(field, None, "{name}: {path}[1].{key}"),
                }
            }
        }
    }
}

/// `pdftotext -raw`: the text in the order the PDF draws it, so a wrapped cell's lines stay
/// together.
fn pdf_text_raw(pdf: &[u8], name: &str) -> String {
    let tool = require("pdftotext");
    let dir = temp_dir(name);
    let input = dir.join("in.pdf");
    std::fs::write(&input, pdf).unwrap();
    let out = Command::new(tool)
        .args(["-raw", "-enc", "UTF-8"])
        .arg(&input)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 text")
}

// ---------------------------------------------------------------------------------------------
// Right-to-left text on ZPL (issue 21): drawn by the independent renderer (zebrash), compared
// with the PNG renderer's drawing of the same layout

/// The three right-to-left lines every built-in template prints: an Arabic name, a Hebrew name
/// and a mixed Arabic/Latin/number line.
const RTL_TEXTS: [(&str, &str); 3] = [
    ("arabic", "زيت زيتون بكر ممتاز"),
    ("hebrew", "שמן זית כתית מעולה"),
    ("mixed", "شركة النور ABC-12 رقم 4711"),
];

/// The template's own example with every free-text field (`overflow = "cut"`, table cells
/// included) set to `text`.
fn with_free_text(t: &depot::labels::template::Template, text: &str) -> Value {
    use depot::labels::template::Overflow;
    let mut data = t.example();
    for (path, spec) in &t.fields {
        let mut node = &mut data;
        for key in path.split('.') {
            node = &mut node[key];
        }
        if spec.row.is_empty() {
            if spec.overflow == Overflow::Cut && !node.is_null() {
                *node = json!(text);
            }
            continue;
        }
        if let Value::Array(rows) = node {
            for row in rows {
                for (key, limit) in &spec.row {
                    if limit.overflow == Overflow::Cut && !row[key.as_str()].is_null() {
                        row[key.as_str()] = json!(text);
                    }
                }
            }
        }
    }
    data
}

/// Draws one ZPL label with zebrash (tests/zpl/render.cjs) at 8 dots/mm.
fn zebrash(zpl: &str, width_mm: f64, height_mm: f64, name: &str) -> GrayImage {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zpl");
    assert!(
        root.join("node_modules/zpl-renderer-js").exists(),
        "the independent ZPL renderer is missing: run tests/run (it installs it) or \
         `npm ci --prefix tests/zpl`"
    );
    let dir = temp_dir(name);
    let (zpl_path, png_path) = (dir.join("label.zpl"), dir.join("label.png"));
    std::fs::write(&zpl_path, zpl).unwrap();
    let out = Command::new("node")
        .arg(root.join("render.cjs"))
        .arg(&zpl_path)
        .arg(&png_path)
        .arg(width_mm.to_string())
        .arg(height_mm.to_string())
        .arg("8")
        .current_dir(&root)
        .output()
        .expect("node is required for the independent ZPL renderer");
    assert!(
        out.status.success(),
        "zebrash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(&png_path)
        .expect("zebrash wrote a PNG")
        .to_luma8();
    let _ = std::fs::remove_dir_all(&dir);
    img
}

/// The line boxes (pixels at `dpi`: x, y, width, height) of the text lines that need shaping.
fn shaped_line_boxes(page: &Page, dpi: f64) -> Vec<(String, [u32; 4])> {
    let px = |mm: f64| (mm * dpi / 25.4).round().max(0.0) as u32;
    let mut boxes = Vec::new();
    for item in &page.items {
        if let Item::Text {
            x_mm,
            y_mm,
            width_mm,
            size_mm,
            line_height_mm,
            lines,
            ..
        } = item
        {
            for (i, line) in lines.iter().enumerate() {
                if depot::labels::fonts::needs_shaping(&line.text) {
                    let top = y_mm + i as f64 * line_height_mm;
                    let (x0, y0) = (px(*x_mm), px(top));
                    let (x1, y1) = (px(x_mm + width_mm), px(top + size_mm.max(*line_height_mm)));
                    boxes.push((line.text.clone(), [x0, y0, x1 - x0, y1 - y0]));
                }
            }
        }
    }
    boxes
}

/// Pixels in `area` dark (< 128) in one picture and not the other, and dark in either.
fn dark_difference(a: &GrayImage, b: &GrayImage, [x, y, w, h]: [u32; 4]) -> (usize, usize) {
    let (mut differ, mut ink) = (0, 0);
    for py in y..(y + h).min(a.height()).min(b.height()) {
        for px in x..(x + w).min(a.width()).min(b.width()) {
            let (da, db) = (
                a.get_pixel(px, py).0[0] < 128,
                b.get_pixel(px, py).0[0] < 128,
            );
            differ += usize::from(da != db);
            ink += usize::from(da || db);
        }
    }
    (differ, ink)
}

/// What a scanner reads from `symbol`, as `Symbol::data` holds it.
fn barcode_format(symbology: Symbology) -> (BarcodeFormat, bool) {
    match symbology {
        Symbology::Code128 => (BarcodeFormat::CODE_128, false),
        Symbology::Gs1_128 => (BarcodeFormat::CODE_128, true),
        Symbology::Ean13 => (BarcodeFormat::EAN_13, false),
        Symbology::UpcA => (BarcodeFormat::UPC_A, false),
        Symbology::Qr => (BarcodeFormat::QR_CODE, false),
        Symbology::Datamatrix => (BarcodeFormat::DATA_MATRIX, false),
        Symbology::Gs1Datamatrix => (BarcodeFormat::DATA_MATRIX, true),
    }
}

/// Every built-in template with an Arabic name, a Hebrew name and a mixed line: its ZPL (the
/// right-to-left lines as `^GFA` graphics), drawn by zebrash, matches the PNG renderer's
/// drawing of the same layout in every shaped line's box (black/white after thresholding at
/// mid-grey, within 3 % of the box's ink pixels), while the ZPL holds none of the shaped text
/// as printer text; and every barcode zebrash draws still decodes to its data exactly.
/// `DEPOT_LABEL_PREVIEW=<dir>` keeps both pictures of each.
#[test]
fn zpl_right_to_left_text_matches_the_png_and_barcodes_decode() {
    let mut failures = Vec::new();
    let mut worst = 0.0f64;
    let (mut lines_compared, mut decoded) = (0, 0);
    for t in templates() {
        for (variant, text) in RTL_TEXTS {
            let name = format!("{}-{variant}", t.name);
            let mut data = with_free_text(&t, text);
            // The card's example fills both of its exclusive codes: print the GS1 one.
            if let Some(card) = data.as_object_mut().filter(|d| d.contains_key("gs1")) {
                card.remove("code");
            }
            // ZPL's layout (2D symbols native) and the PNG's (2D symbols as modules) place
            // every text alike.
            let pages = t.lay_out_for(&data, true).expect("lays out");
            let page = &pages[0];
            let png_page = &t.lay_out_for(&data, false).expect("lays out")[0];
            let texts = |p: &Page| -> Vec<Item> {
                p.items
                    .iter()
                    .filter(|i| matches!(i, Item::Text { .. }))
                    .cloned()
                    .collect()
            };
            assert_eq!(texts(page), texts(png_page), "{name}");
            let zpl = depot::labels::zpl::render(std::slice::from_ref(page), 203);
            if zpl.contains(text) {
                failures.push(format!("{name}: the shaped text is sent as printer text"));
            }
            let boxes = shaped_line_boxes(page, 203.0);
            if boxes.is_empty() {
                failures.push(format!("{name}: no right-to-left line on the label"));
            }
            // zebrash centres the ^PW width in its picture: asked for exactly ^PW dots at
            // 8 dots/mm, it draws every dot where the PNG has its pixel.
            let dots = |mm: f64| (mm * 203.0 / 25.4).round() / 8.0;
            let drawn = zebrash(&zpl, dots(page.width_mm), dots(page.height_mm), &name);
            let png_img = decode_png(&png::render(png_page, 203).expect("renders"));
            if let Some(dir) = std::env::var_os("DEPOT_LABEL_PREVIEW") {
                drawn
                    .save(Path::new(&dir).join(format!("{name}-zpl.png")))
                    .unwrap();
                png_img
                    .save(Path::new(&dir).join(format!("{name}-png.png")))
                    .unwrap();
            }
            for (line, area) in &boxes {
                let (differ, ink) = dark_difference(&drawn, &png_img, *area);
                let share = differ as f64 / ink.max(1) as f64;
                lines_compared += 1;
                worst = worst.max(share);
                if ink < 50 || share > 0.03 {
                    failures.push(format!(
                        "{name}: {line:?} in {area:?}: {differ} of {ink} ink pixels differ"
                    ));
                }
            }
            for item in &page.items {
                let Item::Barcode {
                    x_mm,
                    y_mm,
                    height_mm,
                    module_mm,
                    symbol,
                    ..
                } = item
                else {
                    continue;
                };
                let (format, gs1) = barcode_format(symbol.symbology);
                // Where the printer draws it: ZPL's modules are whole dots, and its Code 128
                // may take more symbols than rxing's encoding.
                let dot = 25.4 / 203.0;
                let module = (module_mm / dot).round().max(1.0) * dot;
                let columns = match symbol.symbology {
                    Symbology::Code128 | Symbology::Gs1_128 => symbol
                        .columns
                        .max(depot::labels::zpl::code128_modules(&symbol.data, gs1)),
                    _ => symbol.columns,
                };
                let q = symbol.quiet_modules as f64 * module;
                let h = if symbol.is_linear() {
                    *height_mm
                } else {
                    symbol.rows as f64 * module
                };
                let e = Expect {
                    format,
                    gs1,
                    text: "",
                    crop: [
                        x_mm - q,
                        y_mm - q.min(2.0),
                        columns as f64 * module + 2.0 * q,
                        h + 2.0 * q.min(2.0),
                    ],
                };
                let read = std::panic::catch_unwind(|| decode(&drawn, 203.0, (0.0, 0.0), &e));
                match read {
                    Ok(read) => {
                        let read = ["]d2", "]Q3", "]e0"]
                            .iter()
                            .fold(read.as_str(), |r, p| r.strip_prefix(p).unwrap_or(r))
                            .to_string();
                        decoded += 1;
                        if read != symbol.data {
                            failures.push(format!(
                                "{name}: {:?} reads {read:?}, not {:?}",
                                symbol.symbology, symbol.data
                            ));
                        }
                    }
                    Err(_) => failures.push(format!("{name}: {:?} not found", symbol.symbology)),
                }
            }
        }
    }
    println!(
        "{lines_compared} right-to-left lines: at most {:.2} % of ink pixels differ; \
         {decoded} barcodes read",
        worst * 100.0
    );
    assert!(
        lines_compared >= 33 && decoded >= 30,
        "{lines_compared} lines, {decoded} codes"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
