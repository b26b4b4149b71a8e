//! The error type of the GS1 interpreter.

use std::fmt;

/// What kind of problem a [`Gs1Error`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Gs1ErrorKind {
    /// The input does not claim to be GS1 data (no GS1 symbology identifier, no leading GS, not
    /// bracketed, not a Digital Link, not a plain GTIN/SSCC) and could not be read as an
    /// unprefixed element string either. Callers may treat it as an internal code.
    NotGs1,
    /// GS1 data with nothing in it (e.g. `]C1` alone).
    Empty,
    /// Malformed structure: bad brackets, a stray GS, an AI position without digits.
    Syntax,
    /// An AI that the GS1 Barcode Syntax Dictionary does not define.
    UnknownAi,
    /// A character outside the AI's character set (digits, CSET 82, CSET 39, CSET 64).
    InvalidCharacter,
    /// A value (or a component of it) shorter than its format allows.
    TooShort,
    /// A value longer than its format allows.
    TooLong,
    /// A wrong mod-10 check digit or alphanumeric check character pair.
    CheckDigit,
    /// An impossible date (month 13, 30 February, day 00 where not allowed).
    InvalidDate,
    /// Any other content check that failed (country or currency code, time, percent-encoding...).
    InvalidValue,
    /// The same AI twice with different values (or, in a Digital Link, twice at all).
    DuplicateAi,
    /// A mandatory association (`req=`) is not satisfied.
    MissingAssociation,
    /// Two AIs that may not appear together (`ex=`).
    InvalidCombination,
    /// A Digital Link URI that breaks the URI syntax rules (scheme, domain, no primary key, key
    /// qualifiers out of order or in the query, attribute AIs not allowed in the query).
    DigitalLink,
}

/// Why some input is not valid GS1 data, with where and what.
///
/// `position` is a byte offset into the string that was passed to the function that returned
/// the error, so for [`interpret`](super::interpret) it counts the AIM symbology identifier and
/// a leading GS too. For a percent-encoded Digital Link value it points at the encoded text in
/// the URI. For errors about the message as a whole (associations) it is the position of the AI
/// concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gs1Error {
    /// The AI concerned, when there is one.
    pub ai: Option<String>,
    pub position: usize,
    pub kind: Gs1ErrorKind,
    /// Human-readable: what is wrong, where, and what was expected.
    pub message: String,
}

impl Gs1Error {
    pub(crate) fn new(kind: Gs1ErrorKind, position: usize, message: impl Into<String>) -> Self {
        Gs1Error {
            ai: None,
            position,
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn with_ai(
        kind: Gs1ErrorKind,
        ai: &str,
        position: usize,
        message: impl Into<String>,
    ) -> Self {
        Gs1Error {
            ai: Some(ai.to_string()),
            position,
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for Gs1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Gs1Error {}

/// Renders a character for an error message: printable ASCII in quotes, others as escapes.
pub(crate) fn show_char(c: char) -> String {
    match c {
        '\u{1d}' => "GS (0x1D)".to_string(),
        ' '..='~' => format!("'{c}'"),
        c if (c as u32) < 0x80 => format!("0x{:02X}", c as u32),
        c => format!("'{c}' (U+{:04X})", c as u32),
    }
}
