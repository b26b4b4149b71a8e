//! Barcode data checks and encoding. Every format shares the checks (a GTIN's check digit, GS1
//! element strings validated against the GS1 dictionary); PDF and PNG draw the modules encoded
//! here with rxing's encoders, ZPL hands the same data to the printer's native commands.

use rxing::{BarcodeFormat, EncodeHintValue, EncodeHints, MultiFormatWriter, Writer};

use crate::barcode::gs1::{self, Element};
use crate::catalog::gtin;
use crate::labels::layout::{Symbol, Symbology};

/// Why data cannot be encoded (reported as a 422 naming the element and field).
pub type EncodeError = String;

/// GS1 data written in a template in bracketed form, `(01)…(10)…`: elements whose value is
/// empty (an optional field left out) are dropped, the rest validated.
pub fn gs1_elements(bracketed: &str) -> Result<Vec<Element>, EncodeError> {
    gs1_elements_in(bracketed, "")
}

/// [`gs1_elements`] validated together with `context`, other GS1 data on the same label (an
/// SSCC that a content barcode's (02)/(37) require), which is not part of the result.
pub fn gs1_elements_in(bracketed: &str, context: &str) -> Result<Vec<Element>, EncodeError> {
    let context = keep_present(context);
    let skip = context.matches('(').count();
    let kept = keep_present(bracketed);
    if kept.is_empty() {
        return Err("the GS1 data is empty".into());
    }
    let mut elements = gs1::parse_bracketed(&format!("{context}{kept}")).map_err(|e| {
        let at = e.ai.map(|ai| format!(" (AI {ai})")).unwrap_or_default();
        format!("invalid GS1 data{at}: {}", e.message)
    })?;
    elements.drain(..skip.min(elements.len()));
    Ok(elements)
}

/// Bracketed GS1 data without the "(AI)" groups that have no value (optional fields left out).
fn keep_present(bracketed: &str) -> String {
    let mut kept = String::new();
    let mut rest = bracketed.trim();
    while let Some(start) = rest.find('(') {
        let Some(end) = rest[start..].find(')') else {
            break;
        };
        let ai = &rest[start..start + end + 1];
        let after = &rest[start + end + 1..];
        let value_end = after.find('(').unwrap_or(after.len());
        let value = &after[..value_end];
        if !value.trim().is_empty() {
            kept.push_str(ai);
            kept.push_str(value.trim());
        }
        rest = &after[value_end..];
    }
    kept
}

/// Checks and normalises data for a symbology: EAN-13 takes 12 digits or 13 with a valid check
/// digit (a GTIN-14 with a leading zero too), UPC-A 11 or 12; GS1 symbologies take bracketed
/// data. Returns what the symbol will carry.
pub fn prepare(symbology: Symbology, data: &str) -> Result<(String, Vec<Element>), EncodeError> {
    prepare_in(symbology, data, "")
}

/// [`prepare`] with GS1 `context` (see [`gs1_elements_in`]).
pub fn prepare_in(
    symbology: Symbology,
    data: &str,
    context: &str,
) -> Result<(String, Vec<Element>), EncodeError> {
    let data = data.trim();
    match symbology {
        Symbology::Ean13 | Symbology::UpcA => {
            let want = if symbology == Symbology::Ean13 {
                13
            } else {
                12
            };
            let digits = data.trim_start_matches('0');
            if !data.chars().all(|c| c.is_ascii_digit()) || data.is_empty() {
                return Err(format!("'{data}' is not digits"));
            }
            // Accept a GTIN written with more leading zeros (GTIN-14 of a GTIN-13 item).
            let body = if data.len() > want && digits.len() <= want {
                format!("{digits:0>want$}")
            } else {
                data.to_string()
            };
            let full = match body.len() {
                n if n == want - 1 => format!("{body}{}", check_char(&body)),
                n if n == want => {
                    if !body.ends_with(check_char(&body[..want - 1])) {
                        return Err(format!("'{body}' has a wrong check digit"));
                    }
                    body
                }
                _ => {
                    return Err(format!("'{data}' is not {} or {want} digits", want - 1));
                }
            };
            Ok((full, Vec::new()))
        }
        Symbology::Gs1_128 | Symbology::Gs1Datamatrix => {
            let elements = gs1_elements_in(data, context)?;
            Ok((gs1::to_element_string(&elements), elements))
        }
        Symbology::Code128 => {
            if data.is_empty() {
                return Err("nothing to encode".into());
            }
            if !data.chars().all(|c| (' '..='~').contains(&c)) {
                return Err("Code 128 takes printable ASCII only".into());
            }
            Ok((data.to_string(), Vec::new()))
        }
        Symbology::Qr | Symbology::Datamatrix => {
            if data.is_empty() {
                return Err("nothing to encode".into());
            }
            Ok((data.to_string(), Vec::new()))
        }
    }
}

/// ECC 200 square symbols: (side in modules, data codewords).
const DATAMATRIX_SIZES: &[(usize, usize)] = &[
    (10, 3),
    (12, 5),
    (14, 8),
    (16, 12),
    (18, 18),
    (20, 22),
    (22, 30),
    (24, 36),
    (26, 44),
    (32, 62),
    (36, 86),
    (40, 114),
    (44, 144),
    (48, 174),
    (52, 204),
    (64, 280),
    (72, 368),
    (80, 456),
    (88, 576),
    (96, 696),
    (104, 816),
    (120, 1050),
    (132, 1304),
    (144, 1558),
];

/// A DataMatrix symbol checked and sized but not encoded, for printers that encode it
/// themselves (ZPL `^BX`): the size holds the data in ASCII encodation (digit pairs one
/// codeword, FNC1 one, other characters one, more above 127), an upper bound of what any
/// encodation needs. `modules` is empty.
pub fn size_only(symbology: Symbology, data: &str, context: &str) -> Result<Symbol, EncodeError> {
    if !matches!(symbology, Symbology::Datamatrix | Symbology::Gs1Datamatrix) {
        return encode_in(symbology, data, context);
    }
    let (carried, elements) = prepare_in(symbology, data, context)?;
    let mut codewords = usize::from(symbology == Symbology::Gs1Datamatrix);
    let chars: Vec<char> = carried.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
            i += 2;
            codewords += 1;
            continue;
        }
        codewords += if (chars[i] as u32) > 127 {
            2 * chars[i].len_utf8()
        } else {
            1
        };
        i += 1;
    }
    let side = DATAMATRIX_SIZES
        .iter()
        .find(|(_, capacity)| *capacity >= codewords)
        .map(|(side, _)| *side)
        .ok_or_else(|| "too much data for a DataMatrix symbol".to_string())?;
    Ok(Symbol {
        symbology,
        data: carried,
        gs1: elements.into_iter().map(|e| (e.ai, e.value)).collect(),
        columns: side,
        rows: side,
        modules: Vec::new(),
        quiet_modules: 1,
    })
}

/// The mod-10 check digit of a string of digits.
fn check_char(digits: &str) -> char {
    let values: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    char::from(b'0' + gtin::check_digit(&values))
}

/// Encodes data into modules (no quiet zone).
pub fn encode(symbology: Symbology, data: &str) -> Result<Symbol, EncodeError> {
    encode_in(symbology, data, "")
}

/// [`encode`] with GS1 `context` (see [`gs1_elements_in`]).
pub fn encode_in(symbology: Symbology, data: &str, context: &str) -> Result<Symbol, EncodeError> {
    let (carried, elements) = prepare_in(symbology, data, context)?;
    let mut hints = EncodeHints::default().with(EncodeHintValue::Margin("0".into()));
    if matches!(symbology, Symbology::Code128 | Symbology::Gs1_128) {
        // The shortest symbol: code sets chosen over the whole data, not greedily.
        hints = hints.with(EncodeHintValue::Code128Compact(true));
    }
    let (format, contents, quiet) = match symbology {
        Symbology::Code128 => (BarcodeFormat::CODE_128, carried.clone(), 10),
        // rxing's Code 128 writer takes U+00F1 as FNC1: first (GS1) and as separator.
        Symbology::Gs1_128 => (
            BarcodeFormat::CODE_128,
            format!("\u{f1}{}", carried.replace('\u{1d}', "\u{f1}")),
            10,
        ),
        Symbology::Ean13 => (BarcodeFormat::EAN_13, carried.clone(), 11),
        Symbology::UpcA => (BarcodeFormat::UPC_A, carried.clone(), 9),
        Symbology::Qr => {
            hints = hints.with(EncodeHintValue::ErrorCorrection("M".into()));
            (BarcodeFormat::QR_CODE, carried.clone(), 4)
        }
        Symbology::Datamatrix => (BarcodeFormat::DATA_MATRIX, carried.clone(), 1),
        Symbology::Gs1Datamatrix => {
            // Gs1Format is honoured together with DataMatrixCompact; GS then becomes FNC1.
            hints = hints
                .with(EncodeHintValue::Gs1Format(true))
                .with(EncodeHintValue::DataMatrixCompact(true));
            (BarcodeFormat::DATA_MATRIX, carried.clone(), 1)
        }
    };
    if matches!(symbology, Symbology::Gs1_128) {
        // GS1 General Specifications 5.4.4.3: at most 48 data characters per symbol.
        let count = carried.chars().count();
        if count > 48 {
            return Err(format!(
                "GS1-128 carries at most 48 characters, this data has {count}: split it"
            ));
        }
    }
    let matrix = std::panic::catch_unwind(|| {
        MultiFormatWriter.encode_with_hints(&contents, &format, 0, 0, &hints)
    })
    .map_err(|_| "the encoder failed on this data".to_string())?
    .map_err(|e| format!("cannot encode: {e}"))?;
    let columns = matrix.getWidth() as usize;
    let rows = if matches!(
        format,
        BarcodeFormat::CODE_128 | BarcodeFormat::EAN_13 | BarcodeFormat::UPC_A
    ) {
        1
    } else {
        matrix.getHeight() as usize
    };
    let mut modules = Vec::with_capacity(columns * rows);
    for y in 0..rows {
        for x in 0..columns {
            modules.push(matrix.get(x as u32, y as u32));
        }
    }
    Ok(Symbol {
        symbology,
        data: carried,
        gs1: elements.into_iter().map(|e| (e.ai, e.value)).collect(),
        columns,
        rows,
        modules,
        quiet_modules: quiet,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtins_get_their_check_digit_and_bad_ones_are_refused() {
        assert_eq!(
            prepare(Symbology::Ean13, "400638133393").unwrap().0,
            "4006381333931"
        );
        assert_eq!(
            prepare(Symbology::Ean13, "04006381333931").unwrap().0,
            "4006381333931"
        );
        assert!(prepare(Symbology::Ean13, "4006381333932").is_err());
        assert!(prepare(Symbology::Ean13, "40063813339").is_err());
        assert_eq!(
            prepare(Symbology::UpcA, "03600029145").unwrap().0,
            "036000291452"
        );
    }

    #[test]
    fn gs1_data_drops_empty_elements_and_validates_the_rest() {
        let (carried, elements) =
            prepare(Symbology::Gs1_128, "(01)09506000134352(10)(17)261231").unwrap();
        assert_eq!(carried, "0109506000134352172612 31".replace(' ', ""));
        assert_eq!(elements.len(), 2);
        assert!(prepare(Symbology::Gs1_128, "(01)09506000134353").is_err());
        let (carried, _) = prepare(Symbology::Gs1_128, "(01)09506000134352(10)AB1(21)X").unwrap();
        assert_eq!(carried, "010950600013435210AB1\u{1d}21X");
    }

    #[test]
    fn symbols_have_modules() {
        let s = encode(Symbology::Gs1_128, "(00)006141411234567890").unwrap();
        assert_eq!(s.rows, 1);
        // Start + FNC1 + 9 pairs in subset C + check + stop: 11 * 13 + 2 = 145 modules... or
        // with the C-set the writer picks; at least it is a plausible Code 128 length.
        assert!(s.columns > 100 && s.columns < 200, "{}", s.columns);
        let q = encode(Symbology::Qr, "https://id.gs1.org/01/09506000134352").unwrap();
        assert_eq!(q.rows, q.columns);
        let d = encode(Symbology::Gs1Datamatrix, "(01)09506000134352(10)ABC").unwrap();
        assert!(d.rows >= 10);
        let e = encode(Symbology::Ean13, "4006381333931").unwrap();
        assert_eq!(e.columns, 95);
        // Sizing without encoding never gives a smaller symbol than the encoder.
        for data in [
            "(01)09506000134352(10)ABC",
            "(01)09506000134352(17)261231(10)L2611-42(21)X9",
        ] {
            let real = encode(Symbology::Gs1Datamatrix, data).unwrap();
            let sized = size_only(Symbology::Gs1Datamatrix, data, "").unwrap();
            assert!(
                sized.rows >= real.rows,
                "{data}: {} < {}",
                sized.rows,
                real.rows
            );
        }
    }
}
