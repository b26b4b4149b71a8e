//! A label laid out for rendering: every binding filled in, every text wrapped into lines,
//! every barcode encoded into modules. The three renderers (ZPL, PDF, PNG) draw exactly this,
//! so the same template gives the same label in every format.
//!
//! Coordinates are millimetres from the top-left corner of the label, y growing downwards
//! (as in ZPL; the PDF renderer flips them).

/// One page (one label, or one sheet of an A4 document).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub width_mm: f64,
    pub height_mm: f64,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Lines of text in a box: `lines[i]` is drawn with its top at `y_mm + i * line_height_mm`,
    /// aligned in `[x_mm, x_mm + width_mm]`. Text is in logical order; `rtl` marks a line whose
    /// first strong character is right-to-left (Arabic, Hebrew): renderers shape it and lay it
    /// out right to left.
    Text {
        x_mm: f64,
        y_mm: f64,
        width_mm: f64,
        /// Em size of the font (what PDF calls the font size), in millimetres.
        size_mm: f64,
        line_height_mm: f64,
        bold: bool,
        align: Align,
        lines: Vec<TextLine>,
        /// Whether the text fits its box whole (renderers ignore it; it tells a caller or a
        /// test that data was cut).
        fit: Fit,
    },
    /// A barcode drawn from its modules. `modules` is row-major, `true` = dark; a linear
    /// symbol has one row, stretched to `height_mm`. Each module is `module_mm` wide (and high,
    /// for 2D symbols). Quiet zones are *not* included in `modules`: renderers leave
    /// `quiet_modules` light modules on the left and right (the layout checked they fit).
    Barcode {
        x_mm: f64,
        y_mm: f64,
        /// Bar height for linear symbols (without the human-readable line).
        height_mm: f64,
        module_mm: f64,
        symbol: Symbol,
        /// The human-readable line under a linear symbol (e.g. `(00) 0 0614141 123456789 0`),
        /// drawn centred under the bars at `hri_size_mm`.
        hri: Option<String>,
        hri_size_mm: f64,
    },
    /// A rectangle outline (`fill`: solid).
    Rect {
        x_mm: f64,
        y_mm: f64,
        width_mm: f64,
        height_mm: f64,
        thickness_mm: f64,
        fill: bool,
    },
    /// A straight line.
    Line {
        x1_mm: f64,
        y1_mm: f64,
        x2_mm: f64,
        y2_mm: f64,
        thickness_mm: f64,
    },
    /// A greyscale image (a logo), scaled into the box. `pixels` is row-major luma, 0 = black.
    Image {
        x_mm: f64,
        y_mm: f64,
        width_mm: f64,
        height_mm: f64,
        pixels_wide: u32,
        pixels_high: u32,
        luma: Vec<u8>,
    },
}

/// How a text fits its box. The layout never lets text overflow: what does not fit is cut.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fit {
    /// Every word whole on its line, nothing left out.
    #[default]
    Whole,
    /// A word wider than the box was broken across lines; nothing is left out.
    Broken,
    /// More lines than the element allows: the rest is left out and the last line ends
    /// with `…`.
    Cut,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    pub text: String,
    pub rtl: bool,
}

/// Which barcode, and what it encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Symbology {
    Code128,
    Gs1_128,
    Ean13,
    UpcA,
    Qr,
    Datamatrix,
    Gs1Datamatrix,
}

/// An encoded symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct Symbol {
    pub symbology: Symbology,
    /// What a scanner reads back (GS1: the element string with GS (U+001D) separators, no
    /// symbology identifier; EAN-13/UPC-A: the digits with check digit).
    pub data: String,
    /// For GS1 symbologies: the AI/value pairs, in order (ZPL writes FNC1 itself).
    pub gs1: Vec<(String, String)>,
    pub columns: usize,
    pub rows: usize,
    pub modules: Vec<bool>,
    /// Light modules required on each side (10 for Code 128, 11/7 for EAN-13, 1 for 2D).
    pub quiet_modules: usize,
}

impl Symbol {
    pub fn is_linear(&self) -> bool {
        self.rows == 1
    }

    pub fn dark(&self, column: usize, row: usize) -> bool {
        self.modules[row * self.columns + column]
    }
}
