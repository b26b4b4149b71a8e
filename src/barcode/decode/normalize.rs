//! Makes rxing's per-format text conventions uniform.
//!
//! After [`normalize`], every GS1 result looks the same: `text` is the element string with
//! GS (0x1D) after each variable-length element that is not last, no AIM prefix and no
//! brackets, and `symbology` says it is GS1 (`]C1`, `]d2`/`]d5`, `]Q3`/`]Q4`, `]e0`).
//!
//! What rxing 0.9.3 returns (STANDARDS.md section 6):
//! - Code 128 with `AssumeGs1`: text starts with `]C1` and later FNC1s are GS. With FNC1 in
//!   second position (`]C2`) rxing puts a GS after the application indicator; AIM transmits
//!   none, so it is removed.
//! - DataMatrix / QR: GS already in the text, the identifier only in metadata.
//! - GS1 DataBar (omnidirectional): the 14-digit GTIN without its AI; AIM `]e0` transmits
//!   `01` + GTIN, so `01` is prepended.
//! - GS1 DataBar Expanded: bracketed HRI `(01)...(3103)...`, converted to an element string.

use super::format::Format;

pub(crate) const GS: char = '\u{1d}';

/// Returns the normalised text and the AIM symbology identifier.
pub(crate) fn normalize(
    format: Format,
    text: &str,
    rxing_symbology: Option<&str>,
) -> (String, String) {
    let symbology = rxing_symbology
        .filter(|s| s.len() == 3 && s.starts_with(']'))
        .unwrap_or(format.default_symbology());
    match format {
        Format::Code128 => {
            if let Some(rest) = text.strip_prefix("]C1") {
                return (rest.to_owned(), "]C1".to_owned());
            }
            if symbology == "]C2" {
                let mut chars = text.chars();
                if let (Some(first), Some(GS)) = (chars.next(), chars.next()) {
                    let mut out = String::with_capacity(text.len());
                    out.push(first);
                    out.push_str(chars.as_str());
                    return (out, "]C2".to_owned());
                }
            }
            (text.to_owned(), symbology.to_owned())
        }
        Format::DataBar => {
            if text.len() == 14 && text.bytes().all(|b| b.is_ascii_digit()) {
                (format!("01{text}"), "]e0".to_owned())
            } else {
                (text.to_owned(), "]e0".to_owned())
            }
        }
        Format::DataBarExpanded => {
            let text = bracketed_to_element_string(text).unwrap_or_else(|| text.to_owned());
            (text, "]e0".to_owned())
        }
        _ => (text.to_owned(), symbology.to_owned()),
    }
}

/// Total length (AI + data) of an element whose AI starts with these two digits, when that
/// length is predefined (no FNC1 needed after it). GS1 GenSpecs figure 7.8.5-2, as mirrored
/// by gs1-syntax-engine `ai.c` (STANDARDS.md section 1.3).
fn predefined_length(ai: &str) -> Option<usize> {
    let prefix: u8 = ai.get(..2)?.parse().ok()?;
    Some(match prefix {
        0 => 20,
        1..=3 => 16,
        4 => 18,
        11..=19 => 8,
        20 => 4,
        31..=36 => 10,
        41 => 16,
        _ => return None,
    })
}

/// `(AI)` at the start of `s`: 2 to 4 digits in parentheses. Returns the AI and the rest.
fn leading_ai(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_prefix('(')?;
    let close = inner.find(')')?;
    let ai = &inner[..close];
    if (2..=4).contains(&ai.len()) && ai.bytes().all(|b| b.is_ascii_digit()) {
        Some((ai, &inner[close + 1..]))
    } else {
        None
    }
}

/// Converts `(01)09506000134352(10)ABC(17)261231` to `0109506000134352` `10ABC` GS
/// `17261231`. Values of predefined-length AIs are cut at their known length; a variable value
/// runs to the next `(NN..)` group (a literal `(` followed by digits and `)` inside a lot number
/// is indistinguishable in the bracketed form, a limitation of rxing's output). Returns `None`
/// if `text` is not bracketed.
pub(crate) fn bracketed_to_element_string(text: &str) -> Option<String> {
    let mut rest = text;
    let mut elements: Vec<(&str, &str, bool)> = Vec::new();
    while !rest.is_empty() {
        let (ai, after) = leading_ai(rest)?;
        let fixed = predefined_length(ai).and_then(|total| total.checked_sub(ai.len()));
        let value_end = match fixed {
            Some(n) if after.len() >= n && after.is_char_boundary(n) => n,
            _ => {
                let mut end = after.len();
                for (i, _) in after.match_indices('(') {
                    if i > 0 && leading_ai(&after[i..]).is_some() {
                        end = i;
                        break;
                    }
                }
                end
            }
        };
        let predefined = fixed.is_some();
        elements.push((ai, &after[..value_end], predefined));
        rest = &after[value_end..];
    }
    if elements.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let last = elements.len() - 1;
    for (i, (ai, value, predefined)) in elements.into_iter().enumerate() {
        out.push_str(ai);
        out.push_str(value);
        if i != last && !predefined {
            out.push(GS);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code128_gs1_prefix_moves_to_symbology() {
        let (t, s) = normalize(
            Format::Code128,
            "]C101095060001343521710ABC\u{1d}21X",
            Some("]C1"),
        );
        assert_eq!(t, "01095060001343521710ABC\u{1d}21X");
        assert_eq!(s, "]C1");
        let (t, s) = normalize(Format::Code128, "HELLO", Some("]C0"));
        assert_eq!((t.as_str(), s.as_str()), ("HELLO", "]C0"));
        let (t, s) = normalize(Format::Code128, "A\u{1d}123", Some("]C2"));
        assert_eq!((t.as_str(), s.as_str()), ("A123", "]C2"));
    }

    #[test]
    fn missing_symbology_falls_back_to_format_default() {
        assert_eq!(normalize(Format::Ean8, "96385074", None).1, "]E4");
        assert_eq!(normalize(Format::QrCode, "x", Some("")).1, "]Q1");
        assert_eq!(normalize(Format::DataMatrix, "x", Some("]d2")).1, "]d2");
    }

    #[test]
    fn databar_gets_ai_01() {
        let (t, s) = normalize(Format::DataBar, "09506000134352", Some("]e0"));
        assert_eq!((t.as_str(), s.as_str()), ("0109506000134352", "]e0"));
    }

    #[test]
    fn bracketed_expanded_becomes_gs_separated() {
        assert_eq!(
            bracketed_to_element_string("(01)09506000134352(10)ABC123(17)261231").unwrap(),
            "010950600013435210ABC123\u{1d}17261231"
        );
        // predefined AIs (01, 3103, 17) need no separator; variable ones do unless last
        assert_eq!(
            bracketed_to_element_string("(01)90012345678908(3103)001750(10)LOT(21)S(N)1").unwrap(),
            "0190012345678908310300175010LOT\u{1d}21S(N)1"
        );
        assert_eq!(bracketed_to_element_string("0109506000134352"), None);
        assert_eq!(bracketed_to_element_string("(ab)x"), None);
        assert_eq!(
            bracketed_to_element_string("(01)123").unwrap(),
            "01123",
            "short fixed value is kept as is"
        );
    }
}
