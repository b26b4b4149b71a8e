//! The fonts labels are drawn with: DejaVu Sans (Latin, Greek, Cyrillic, Arabic, Hebrew...),
//! embedded in the binary (the `dejavu` crate), so every PDF and PNG prints the same glyphs on
//! any machine. ZPL uses the printer's scalable font 0 with UTF-8 (`^CI28`), except for lines
//! that [`needs_shaping`] finds (drawn with these fonts into a graphic, see `zpl`).

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef};

/// The TrueType bytes of the regular or bold face.
pub fn bytes(bold: bool) -> &'static [u8] {
    if bold {
        dejavu::sans::bold()
    } else {
        dejavu::sans::regular()
    }
}

/// The parsed regular or bold face.
pub fn font(bold: bool) -> &'static FontRef<'static> {
    static REGULAR: OnceLock<FontRef<'static>> = OnceLock::new();
    static BOLD: OnceLock<FontRef<'static>> = OnceLock::new();
    let cell = if bold { &BOLD } else { &REGULAR };
    cell.get_or_init(|| {
        // The bytes are compiled in and known good: a failure here is a broken build.
        FontRef::try_from_slice(bytes(bold)).expect("the embedded DejaVu font parses")
    })
}

/// Width of `text` set at an em size of `size_mm`, in millimetres: glyph advances plus
/// kerning, unshaped (shaping Arabic changes widths a little; layout leaves a margin).
pub fn measure(text: &str, size_mm: f64, bold: bool) -> f64 {
    let f = font(bold);
    let per_unit = size_mm / f64::from(f.units_per_em().unwrap_or(2048.0));
    let mut width = 0.0f64;
    let mut previous = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(p) = previous {
            width += f64::from(f.kern_unscaled(p, id)) * per_unit;
        }
        width += f64::from(f.h_advance_unscaled(id)) * per_unit;
        previous = Some(id);
    }
    width
}

/// Whether the first strongly directional character of `text` is right-to-left (Hebrew,
/// Arabic, Syriac, Thaana, N'Ko and their presentation forms).
pub fn is_rtl(text: &str) -> bool {
    for c in text.chars() {
        let u = c as u32;
        let rtl = matches!(u, 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF);
        if rtl {
            return true;
        }
        if c.is_alphabetic() {
            return false;
        }
    }
    false
}

/// Whether `text` needs shaping that a printer's plain text font does not do: any character of
/// a right-to-left script (Hebrew U+0590–U+05FF, Arabic U+0600–U+06FF, Syriac, Arabic
/// Supplement, Thaana, N'Ko, Samaritan, Mandaic and Arabic Extended up to U+08FF; the Hebrew and
/// Arabic presentation forms U+FB1D–U+FDFF and U+FE70–U+FEFF). Such text joins (Arabic) and is
/// laid out in bidi runs, so ZPL prints it as a graphic (or the printer's advanced text layout).
/// Latin, Greek and Cyrillic are left to the printer's font. (Indic and other complex scripts
/// are not covered: the embedded DejaVu Sans has no glyphs for them either.)
pub fn needs_shaping(text: &str) -> bool {
    text.chars()
        .any(|c| matches!(c as u32, 0x0590..=0x08FF | 0xFB1D..=0xFDFF | 0xFE70..=0xFEFF))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_and_detects_direction() {
        let narrow = measure("iii", 3.0, false);
        let wide = measure("WWW", 3.0, false);
        assert!(narrow > 0.0 && wide > narrow * 2.0);
        assert!(measure("Ab", 3.0, true) > measure("Ab", 3.0, false));
        assert!(is_rtl("شركة النور"));
        assert!(is_rtl("123 שלום"));
        assert!(!is_rtl("ООО Ромашка"));
        assert!(!is_rtl("Müller GmbH"));
        // A mixed line needs shaping wherever its right-to-left part is.
        assert!(needs_shaping("Order 42: שלום"));
        assert!(needs_shaping("ABC-7 شركة النور 12"));
        assert!(needs_shaping("\u{FEFB}"));
        assert!(!needs_shaping("ООО Ромашка, ул. Ленина"));
        assert!(!needs_shaping("Straße 5 — Müller"));
    }
}
