//! ZPL II renderer: native barcode commands (`^BC` with FNC1 for GS1-128, `^BE`, `^BU`, `^BQ`,
//! `^BX` with FNC1 for GS1 DataMatrix), `^CI28` UTF-8 text in the scalable font 0, `^PW`/`^LL`
//! from the label size at the printer's resolution, and every value escaped through `^FH` so
//! that no data can inject a command.
//!
//! Right-to-left text (a line with any character [`fonts::needs_shaping`] finds) is not sent
//! as text: font 0 neither joins Arabic nor reorders bidi runs. By default such a line is drawn
//! here, with the PNG renderer's shaping and rasteriser ([`png::text_line_bitmap`]), and sent
//! as a 1-bit `^GFA` graphic of just its ink, placed with `^FO` where the text would be: it
//! prints the same on every printer. A printer whose profile says it shapes by itself
//! ([`ComplexText::Printer`]) gets the text with Link-OS advanced text layout (`^PA`) in its
//! own Unicode font. Latin, Greek and Cyrillic lines always stay printer text, and barcode
//! data is never shaped.

use std::fmt::Write as _;

use crate::labels::fonts;
use crate::labels::layout::{Align, Item, Page, Symbol, Symbology};
use crate::labels::png;

/// How a ZPL printer gets text that needs shaping ([`fonts::needs_shaping`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ComplexText {
    /// Shaped and rasterised here into a `^GFA` graphic field: works on every printer. The
    /// choice whenever no printer is known.
    #[default]
    Graphic,
    /// Sent as UTF-8 text for the printer to shape (Zebra Link-OS advanced text layout:
    /// `^PA0,1,1,1`, bidirectional layout, character shaping and OpenType on) in the Unicode
    /// font `font` stored on the printer (a `^A@` font path such as `E:TT0003M_.TTF`).
    Printer { font: String },
}

/// Renders pages as one ZPL stream (one `^XA … ^XZ` format per page) for a printer of `dpi`,
/// right-to-left text as graphics ([`ComplexText::Graphic`]).
pub fn render(pages: &[Page], dpi: u32) -> String {
    render_with(pages, dpi, &ComplexText::Graphic)
}

/// [`render`], with right-to-left text sent as `complex` says.
pub fn render_with(pages: &[Page], dpi: u32, complex: &ComplexText) -> String {
    let dots_per_mm = f64::from(dpi) / 25.4;
    let d = |mm: f64| (mm * dots_per_mm).round().max(0.0) as i64;
    let mut out = String::with_capacity(2048);
    for page in pages {
        out.push_str("^XA\n^CI28\n");
        let printer_font = match complex {
            ComplexText::Printer { font } if has_complex_text(page) => {
                // Default glyph off, bidirectional layout, shaping and OpenType on.
                out.push_str("^PA0,1,1,1\n");
                Some(font.as_str())
            }
            _ => None,
        };
        let _ = writeln!(
            out,
            "^PW{}\n^LL{}\n^LH0,0",
            d(page.width_mm),
            d(page.height_mm)
        );
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
                } => {
                    let h = d(*size_mm).max(10);
                    // Font 0 has no bold face: bold is drawn wider.
                    let w = if *bold { h * 11 / 10 } else { h };
                    let justify = match align {
                        Align::Left => 'L',
                        Align::Center => 'C',
                        Align::Right => 'R',
                    };
                    for (i, line) in lines.iter().enumerate() {
                        let y = y_mm + line_height_mm * i as f64;
                        if fonts::needs_shaping(&line.text) {
                            if let Some(font) = printer_font {
                                let _ = writeln!(
                                    out,
                                    "^FO{},{}^A@N,{h},{w},{font}^FB{},1,0,{justify}^FH\\^FD{}^FS",
                                    d(*x_mm),
                                    d(y),
                                    d(*width_mm).max(1),
                                    escape(&line.text)
                                );
                            } else if let Some(bitmap) = png::text_line_bitmap(
                                *x_mm, y, *width_mm, *size_mm, *bold, *align, line, dpi,
                            ) {
                                graphic(&mut out, &bitmap);
                            }
                            continue;
                        }
                        let _ = writeln!(
                            out,
                            "^FO{},{}^A0N,{h},{w}^FB{},1,0,{justify}^FH\\^FD{}^FS",
                            d(*x_mm),
                            d(y),
                            d(*width_mm).max(1),
                            escape(&line.text)
                        );
                    }
                }
                Item::Barcode {
                    x_mm,
                    y_mm,
                    height_mm,
                    module_mm,
                    symbol,
                    hri,
                    hri_size_mm,
                } => {
                    let module = d(*module_mm).max(1);
                    barcode(
                        &mut out,
                        d(*x_mm),
                        d(*y_mm),
                        d(*height_mm).max(1),
                        module,
                        symbol,
                    );
                    if let Some(text) = hri {
                        // Centred under the bars at the printer's module width, in a block as
                        // wide as the symbol with its quiet zones (the layout checked that the
                        // line fits there): a one-line ^FB overprints what does not fit.
                        let quiet = symbol.quiet_modules as i64 * module;
                        let width = (symbol.columns as i64) * module + 2 * quiet;
                        let h = d(*hri_size_mm).max(10);
                        let _ = writeln!(
                            out,
                            "^FO{},{}^A0N,{h},{h}^FB{},1,0,C^FH\\^FD{}^FS",
                            (d(*x_mm) - quiet).max(0),
                            d(y_mm + height_mm + hri_size_mm * 0.2),
                            width.max(1),
                            escape(text)
                        );
                    }
                }
                Item::Rect {
                    x_mm,
                    y_mm,
                    width_mm,
                    height_mm,
                    thickness_mm,
                    fill,
                } => {
                    let (w, h) = (d(*width_mm).max(1), d(*height_mm).max(1));
                    let t = if *fill {
                        w.min(h)
                    } else {
                        d(*thickness_mm).max(1)
                    };
                    let _ = writeln!(out, "^FO{},{}^GB{w},{h},{t},B,0^FS", d(*x_mm), d(*y_mm));
                }
                Item::Line {
                    x1_mm,
                    y1_mm,
                    x2_mm,
                    y2_mm,
                    thickness_mm,
                } => {
                    let t = d(*thickness_mm).max(1);
                    let (x1, y1, x2, y2) = (d(*x1_mm), d(*y1_mm), d(*x2_mm), d(*y2_mm));
                    if y1 == y2 || x1 == x2 {
                        let (w, h) = ((x2 - x1).abs().max(t), (y2 - y1).abs().max(t));
                        let _ =
                            writeln!(out, "^FO{},{}^GB{w},{h},{t},B,0^FS", x1.min(x2), y1.min(y2));
                    } else {
                        // ^GD leans right (R: bottom-left to top-right) or left.
                        let lean = if (x2 - x1).signum() == (y2 - y1).signum() {
                            'L'
                        } else {
                            'R'
                        };
                        let _ = writeln!(
                            out,
                            "^FO{},{}^GD{},{},{t},B,{lean}^FS",
                            x1.min(x2),
                            y1.min(y2),
                            (x2 - x1).abs(),
                            (y2 - y1).abs()
                        );
                    }
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
                    let (w, h) = (d(*width_mm).max(1) as usize, d(*height_mm).max(1) as usize);
                    let bytes_per_row = w.div_ceil(8);
                    let mut hex = String::with_capacity(bytes_per_row * h * 2);
                    for row in 0..h {
                        let sy = row * *pixels_high as usize / h;
                        for byte in 0..bytes_per_row {
                            let mut bits = 0u8;
                            for bit in 0..8 {
                                let col = byte * 8 + bit;
                                if col >= w {
                                    continue;
                                }
                                let sx = col * *pixels_wide as usize / w;
                                let px = luma
                                    .get(sy * *pixels_wide as usize + sx)
                                    .copied()
                                    .unwrap_or(255);
                                if px < 128 {
                                    bits |= 0x80 >> bit;
                                }
                            }
                            let _ = write!(hex, "{bits:02X}");
                        }
                    }
                    let total = bytes_per_row * h;
                    let _ = writeln!(
                        out,
                        "^FO{},{}^GFA,{total},{total},{bytes_per_row},{hex}^FS",
                        d(*x_mm),
                        d(*y_mm)
                    );
                }
            }
        }
        out.push_str("^XZ\n");
    }
    out
}

/// Whether any text line on the page needs shaping.
fn has_complex_text(page: &Page) -> bool {
    page.items.iter().any(|item| match item {
        Item::Text { lines, .. } => lines.iter().any(|l| fonts::needs_shaping(&l.text)),
        _ => false,
    })
}

/// A text line's picture as a `^GFA` field at its page position: 1 bit per dot, rows padded
/// to whole bytes, as uncompressed hex.
fn graphic(out: &mut String, bitmap: &png::TextBitmap) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes_per_row = bitmap.width.div_ceil(8);
    let total = bytes_per_row * bitmap.height;
    let _ = write!(
        out,
        "^FO{},{}^GFA,{total},{total},{bytes_per_row},",
        bitmap.x.max(0),
        bitmap.y.max(0)
    );
    out.reserve(total * 2 + 5);
    for y in 0..bitmap.height {
        for byte in 0..bytes_per_row {
            let mut bits = 0u8;
            for bit in 0..8 {
                let x = byte * 8 + bit;
                if x < bitmap.width && bitmap.dark(x, y) {
                    bits |= 0x80 >> bit;
                }
            }
            out.push(HEX[usize::from(bits >> 4)] as char);
            out.push(HEX[usize::from(bits & 15)] as char);
        }
    }
    out.push_str("^FS\n");
}

/// Field data for `^FH\`: `^`, `~` and `\` and control characters become `\XX` hex, so a value
/// can never start a command. UTF-8 passes through (`^CI28`).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '^' | '~' | '\\' => {
                let _ = write!(out, "\\{:02X}", c as u32);
            }
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Code 128 field data in ZPL's invocation codes (mode N): subset C while the data starts with
/// digit pairs, then B, `>8` for FNC1, `><` for a literal `>`; `gs1` puts FNC1 first.
fn code128(data: &str, gs1: bool) -> String {
    // Tokens: Some(c) a character, None FNC1.
    let mut tokens: Vec<Option<char>> = Vec::new();
    if gs1 {
        tokens.push(None);
    }
    tokens.extend(
        data.chars()
            .map(|c| if c == '\u{1d}' { None } else { Some(c) }),
    );
    let digits_at = |i: usize| {
        tokens[i..]
            .iter()
            .take_while(|t| t.is_some_and(|c| c.is_ascii_digit()))
            .count()
    };
    let mut out = String::new();
    let mut in_c = {
        let first_digits = digits_at(if gs1 { 1 } else { 0 });
        first_digits >= 4 || (gs1 && first_digits >= 2)
    };
    out.push_str(if in_c { ">;" } else { ">:" });
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            None => {
                out.push_str(">8");
                i += 1;
            }
            Some(_) if in_c => {
                if digits_at(i) >= 2 {
                    out.push(tokens[i].unwrap_or('0'));
                    out.push(tokens[i + 1].unwrap_or('0'));
                    i += 2;
                } else {
                    out.push_str(">6");
                    in_c = false;
                }
            }
            Some(c) => {
                // Once in subset B the symbol stays there: switching back to C (`>5`) is read
                // as FNC4 by some ZPL implementations (zebrash), and saves little.
                if c == '>' {
                    out.push_str("><");
                } else {
                    out.push(c);
                }
                i += 1;
            }
        }
    }
    out
}

/// Modules of the Code 128 symbol ZPL prints for this data (start, data, shift and check
/// characters: 11 modules each; stop: 13), so layout can check that it fits its box too.
pub fn code128_modules(data: &str, gs1: bool) -> usize {
    let encoded = code128(data, gs1);
    let mut symbols = 1; // the check character
    let mut in_c = false;
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        if c == '>' {
            match chars.next() {
                Some(';') => in_c = true,
                Some(':') | Some('6') => in_c = false,
                _ => {}
            }
        } else if in_c {
            // A digit pair.
            chars.next();
        }
        symbols += 1;
    }
    symbols * 11 + 13
}

fn barcode(out: &mut String, x: i64, y: i64, height: i64, module: i64, symbol: &Symbol) {
    match symbol.symbology {
        Symbology::Code128 | Symbology::Gs1_128 => {
            let data = code128(&symbol.data, symbol.symbology == Symbology::Gs1_128);
            let _ = writeln!(
                out,
                "^FO{x},{y}^BY{module}^BCN,{height},N,N,N,N^FH\\^FD{}^FS",
                escape(&data)
            );
        }
        Symbology::Ean13 => {
            // The printer adds the check digit to the twelve it is given.
            let _ = writeln!(
                out,
                "^FO{x},{y}^BY{module}^BEN,{height},N,N^FD{}^FS",
                &symbol.data[..12.min(symbol.data.len())]
            );
        }
        Symbology::UpcA => {
            let _ = writeln!(
                out,
                "^FO{x},{y}^BY{module}^BUN,{height},N,N,N^FD{}^FS",
                &symbol.data[..11.min(symbol.data.len())]
            );
        }
        Symbology::Qr => {
            let magnification = module.clamp(1, 10);
            let _ = writeln!(
                out,
                "^FO{x},{y}^BQN,2,{magnification}^FH\\^FDMA,{}^FS",
                escape(&symbol.data)
            );
        }
        Symbology::Datamatrix | Symbology::Gs1Datamatrix => {
            // Escape character `_`: `_1` is FNC1, `__` a literal underscore. `^FH\` (not `_`)
            // so the two escapes never meet.
            let mut data = String::new();
            if symbol.symbology == Symbology::Gs1Datamatrix {
                data.push_str("_1");
            }
            for c in symbol.data.chars() {
                match c {
                    '\u{1d}' => data.push_str("_1"),
                    '_' => data.push_str("__"),
                    c => data.push(c),
                }
            }
            let _ = writeln!(
                out,
                "^FO{x},{y}^BXN,{module},200,{},{},6,_^FH\\^FD{}^FS",
                symbol.columns,
                symbol.rows,
                escape(&data)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::barcode;
    use crate::labels::layout::TextLine;

    fn page(items: Vec<Item>) -> Page {
        Page {
            width_mm: 101.6,
            height_mm: 152.4,
            items,
        }
    }

    #[test]
    fn label_size_follows_the_printer_resolution() {
        let z = render(&[page(vec![])], 203);
        assert!(z.contains("^PW812\n^LL1218\n"), "{z}");
        let z = render(&[page(vec![])], 300);
        assert!(z.contains("^PW1200\n^LL1800\n"), "{z}");
        assert!(z.starts_with("^XA\n^CI28\n") && z.ends_with("^XZ\n"));
    }

    #[test]
    fn no_value_can_inject_commands() {
        let text = Item::Text {
            x_mm: 1.0,
            y_mm: 1.0,
            width_mm: 50.0,
            size_mm: 3.0,
            line_height_mm: 3.6,
            bold: false,
            align: Align::Left,
            lines: vec![TextLine {
                text: "ACME^XZ^XA^FDowned~JA\\ Müller".into(),
                rtl: false,
            }],
            fit: Default::default(),
        };
        let z = render(&[page(vec![text])], 203);
        let field = z.lines().find(|l| l.contains("ACME")).unwrap();
        assert!(
            field.contains("ACME\\5EXZ\\5EXA\\5EFDowned\\7EJA\\5C Müller"),
            "{field}"
        );
        assert_eq!(z.matches("^XZ").count(), 1);
        assert_eq!(z.matches("^XA").count(), 1);
    }

    fn arabic_page() -> Page {
        let qr = barcode::encode(Symbology::Qr, "https://example.com/شركة").unwrap();
        page(vec![
            Item::Text {
                x_mm: 5.0,
                y_mm: 5.0,
                width_mm: 80.0,
                size_mm: 5.0,
                line_height_mm: 6.0,
                bold: false,
                align: Align::Right,
                lines: vec![
                    TextLine {
                        text: "Müller GmbH".into(),
                        rtl: false,
                    },
                    TextLine {
                        text: "شركة النور 12 ABC".into(),
                        rtl: true,
                    },
                ],
                fit: Default::default(),
            },
            Item::Barcode {
                x_mm: 5.0,
                y_mm: 40.0,
                height_mm: 20.0,
                module_mm: 0.5,
                symbol: qr,
                hri: None,
                hri_size_mm: 2.5,
            },
        ])
    }

    #[test]
    fn right_to_left_lines_become_graphics_and_latin_stays_text() {
        let z = render(&[arabic_page()], 203);
        assert!(
            z.contains("^A0N,40,40^FB639,1,0,R^FH\\^FDMüller GmbH^FS"),
            "{z}"
        );
        let field = z.lines().find(|l| l.contains("^GFA")).expect("a graphic");
        // Only the ink of the second line (top at 11 mm = 88 dots), inside the text box.
        let (x, y) = field[3..field.find("^GFA").unwrap()]
            .split_once(',')
            .unwrap();
        let (x, y): (i64, i64) = (x.parse().unwrap(), y.parse().unwrap());
        assert!(
            (40..=680).contains(&x) && (80..=100).contains(&y),
            "{field:.40}"
        );
        // ^GFA,total bytes,total bytes,bytes per row,hex
        let parts: Vec<&str> = field[field.find("^GFA").unwrap()..].split(',').collect();
        let (total, per_row): (usize, usize) =
            (parts[1].parse().unwrap(), parts[3].parse().unwrap());
        assert!(
            per_row < 80 && total / per_row < 60,
            "{per_row} × {}",
            total / per_row
        );
        assert_eq!(parts[4].trim_end_matches("^FS").len(), total * 2);
        // The text itself is not sent; the QR code's data is, exactly as given.
        assert!(!z.contains("النور"));
        assert!(z.contains("^FDMA,https://example.com/شركة^FS"), "{z}");
        assert!(!z.contains("^PA"));
    }

    #[test]
    fn a_printer_that_shapes_gets_the_text_with_advanced_layout() {
        let complex = ComplexText::Printer {
            font: "E:TT0003M_.TTF".into(),
        };
        let z = render_with(&[arabic_page()], 203, &complex);
        assert!(z.starts_with("^XA\n^CI28\n^PA0,1,1,1\n"), "{z}");
        assert!(
            z.contains("^A@N,40,40,E:TT0003M_.TTF^FB639,1,0,R^FH\\^FDشركة النور 12 ABC^FS"),
            "{z}"
        );
        assert!(z.contains("^A0N,40,40^FB639,1,0,R^FH\\^FDMüller GmbH^FS"));
        assert!(!z.contains("^GFA"));
        assert!(z.contains("^FDMA,https://example.com/شركة^FS"));
        // Nothing to shape: no ^PA.
        let latin = render_with(&[page(vec![])], 203, &complex);
        assert!(!latin.contains("^PA"));
    }

    #[test]
    fn gs1_128_uses_fnc1_and_subset_c() {
        assert_eq!(
            code128("00006141411234567890", true),
            ">;>800006141411234567890"
        );
        // (01) then (10) of variable length, then (21): FNC1 after the batch only.
        assert_eq!(
            code128("0109506000134352104711\u{1d}21AB", true),
            ">;>80109506000134352104711>821>6AB"
        );
        assert_eq!(code128("W1-A>01", false), ">:W1-A><01");
        assert_eq!(code128("AB123456", false), ">:AB123456");
        assert_eq!(code128("123456AB", false), ">;123456>6AB");
    }

    #[test]
    fn zpl_symbol_length_matches_the_encoder_for_all_digit_data() {
        let sscc = barcode::encode(Symbology::Gs1_128, "(00)006141411234567890").unwrap();
        assert_eq!(code128_modules(&sscc.data, true), sscc.columns);
        // Start B, 5 characters, check, stop.
        assert_eq!(code128_modules("W1-A1", false), 7 * 11 + 13);
    }

    #[test]
    fn barcodes_use_native_commands() {
        let sscc = barcode::encode(Symbology::Gs1_128, "(00)006141411234567890").unwrap();
        let dm = barcode::encode(Symbology::Gs1Datamatrix, "(01)09506000134352(10)A_B").unwrap();
        let ean = barcode::encode(Symbology::Ean13, "4006381333931").unwrap();
        let item = |symbol| Item::Barcode {
            x_mm: 5.0,
            y_mm: 5.0,
            height_mm: 20.0,
            module_mm: 0.5,
            symbol,
            hri: None,
            hri_size_mm: 2.5,
        };
        let z = render(&[page(vec![item(sscc), item(dm), item(ean)])], 203);
        assert!(
            z.contains("^BY4^BCN,160,N,N,N,N^FH\\^FD>;>800006141411234567890^FS"),
            "{z}"
        );
        assert!(z.contains("^FD_1010950600013435210A__B^FS"), "{z}");
        assert!(z.contains("^BEN,160,N,N^FD400638133393^FS"), "{z}");
    }
}
