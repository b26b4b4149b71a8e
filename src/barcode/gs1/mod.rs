//! GS1 interpreter: turns what a scanner sends into validated GS1 Application Identifier data.
//!
//! Pure code, no I/O and no HTTP. Reads four input forms:
//! - element strings: AI + value, GS (0x1D) after variable-length values, usually behind an AIM
//!   symbology identifier (`]C1`, `]d2`, `]Q3`...) or a leading GS (FNC1 in first position);
//! - the bracketed (HRI) form `(01)09506000134352(17)201225(10)ABC123`;
//! - uncompressed GS1 Digital Link URIs on any domain;
//! - plain GTIN-8/12/13/14 (EAN/UPC, ITF-14) and plain 18-digit SSCCs.
//!
//! The AI table comes from the GS1 Barcode Syntax Dictionary compiled into the binary
//! (`gs1-syntax-dictionary.txt`; source and licence in `ATTRIBUTION.md`). Every value is checked
//! against its format: character set, length, check digits, dates (with the century window of
//! GS1 General Specifications §7.12 against the real current year) and the other linters; then
//! the message as a whole: repeated AIs must agree, invalid pairs (`ex=`) must not occur and
//! mandatory associations (`req=`) must be met.
//!
//! Entry point: [`interpret`]. It never panics, whatever the input.

mod dl;
mod error;
mod linters;
mod parse;
mod table;

#[cfg(test)]
mod tests;

pub use dl::CANONICAL_STEM;
pub use error::{Gs1Error, Gs1ErrorKind};
pub use linters::{has_valid_check_digit, mod10_check_digit};
pub use table::{AiInfo, AiPattern, Component, Cset, Linter};

use parse::{GS, Parsed, check_message, to_elements};

/// One AI and its value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Element {
    /// The AI, 2 to 4 digits, e.g. `"17"`.
    pub ai: String,
    /// The dictionary title, e.g. `"USE BY or EXPIRY"` (empty for an AI the dictionary lacks).
    pub title: &'static str,
    /// The value as transmitted (percent-decoded for Digital Link).
    pub value: String,
}

impl Element {
    /// An element with the dictionary's title for `ai`.
    pub fn new(ai: &str, value: &str) -> Element {
        Element {
            ai: ai.to_string(),
            title: ai_info(ai).map_or("", |i| i.title),
            value: value.to_string(),
        }
    }
}

/// Which input form [`interpret`] recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputForm {
    /// AI element string (GS-separated), with a GS1 symbology identifier, a leading GS, or
    /// unprefixed when it read completely and validly.
    ElementString,
    /// `(01)...(10)...`.
    Bracketed,
    /// `https://.../01/...`.
    DigitalLink,
    /// A GTIN-8/12/13/14 with a valid check digit (also `]E0`/`]E4` EAN/UPC).
    PlainGtin,
    /// An 18-digit SSCC with a valid check digit.
    PlainSscc,
}

/// A decimal quantity from an AI whose last digit gives the number of decimals (310n-369n, and
/// the amounts 390n-395n). The value is `mantissa / 10^decimals`; never a float.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Measure {
    pub ai: String,
    /// e.g. `"NET WEIGHT (kg)"`.
    pub title: &'static str,
    pub mantissa: i64,
    pub decimals: u8,
    /// `kg`, `m`, `m2`, `m3`, `l`, `lb`, `in`, `ft`, `yd`, `in2`, `ft2`, `yd2`, `in3`, `ft3`, `yd3`,
    /// `oz t`, `oz`, `qt`, `gal`, `kg/m2`; `currency` for amounts and prices (390n-393n, 395n);
    /// `%` for 394n.
    pub unit: &'static str,
    /// ISO 4217 numeric currency code for 391n/393n.
    pub currency: Option<String>,
    /// The value for display, e.g. `"1.250"`.
    pub display: String,
}

/// The result of [`interpret`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interpretation {
    /// The AIM symbology identifier that prefixed the data, e.g. `"]C1"`.
    pub symbology: Option<String>,
    pub form: InputForm,
    /// All elements, in input order (Digital Link: path, then query), identical repeats removed.
    pub elements: Vec<Element>,
    /// 14 digits: from (01), else (02), else the plain GTIN (left-padded with zeros).
    pub gtin: Option<String>,
    /// (00).
    pub sscc: Option<String>,
    /// (10).
    pub batch: Option<String>,
    /// (21).
    pub serial: Option<String>,
    /// (17); DD = 00 means the last day of the month.
    pub expiry: Option<time::Date>,
    /// (15).
    pub best_before: Option<time::Date>,
    /// (11).
    pub production_date: Option<time::Date>,
    /// (37), else (30).
    pub count: Option<i64>,
    pub measures: Vec<Measure>,
}

/// The dictionary entry for an AI (`"01"`, `"3103"`...), if the dictionary defines it.
pub fn ai_info(ai: &str) -> Option<&'static AiInfo> {
    parse::lookup(ai.as_bytes())
}

/// Checks `value` alone as the data of `ai` (character set, length, linters), for codes Depot
/// keeps and later prints under that AI: batch codes (10) and serial numbers (21). Positions in
/// the error count from the start of `value`.
pub fn validate_ai_value(ai: &str, value: &str) -> Result<(), Gs1Error> {
    let info = ai_info(ai).ok_or_else(|| {
        Gs1Error::with_ai(
            Gs1ErrorKind::UnknownAi,
            ai,
            0,
            format!("AI ({ai}) is not in the GS1 Barcode Syntax Dictionary"),
        )
    })?;
    parse::validate_value(info, value, parse::PosMap::Offset(0), current_year())
}

/// All AIs of the dictionary, in dictionary order (ranges expanded).
pub fn all_ais() -> &'static [AiInfo] {
    &table::TABLE.entries
}

fn current_year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

/// AIM symbology identifiers whose data is a GS1 element string (FNC1 in first position).
const GS1_SYMBOLOGIES: &[&str] = &["]C1", "]e0", "]d2", "]d5", "]Q3", "]Q4", "]J1"];

/// Splits an AIM symbology identifier (`]` + letter + modifier) off the front.
fn split_symbology(raw: &str) -> (Option<&str>, &str) {
    let b = raw.as_bytes();
    if b.len() >= 3
        && b[0] == b']'
        && b[1].is_ascii_alphabetic()
        && b[2].is_ascii_alphanumeric()
        && let (Some(id), Some(rest)) = (raw.get(..3), raw.get(3..))
    {
        return (Some(id), rest);
    }
    (None, raw)
}

fn is_gtin_len(n: usize) -> bool {
    matches!(n, 8 | 12 | 13 | 14)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// True when the form of `raw` says it is GS1 data: a GS1 symbology identifier (`]C1`, `]e0`,
/// `]d2`, `]d5`, `]Q3`, `]Q4`, `]J1`, `]E0`, `]E4`), a leading GS, the bracketed form `(NN)...`,
/// an http(s) URI with a Digital Link primary key in its path, or a plain GTIN-8/12/13/14 or
/// SSCC with a valid check digit.
///
/// When this is false and [`interpret`] fails, the error kind is [`Gs1ErrorKind::NotGs1`]; when
/// it is true, the error says what is wrong with the GS1 data.
pub fn claims_gs1(raw: &str) -> bool {
    let (_, raw) = trim_whitespace(raw);
    let (sym, data) = split_symbology(raw);
    if let Some(sym) = sym
        && (GS1_SYMBOLOGIES.contains(&sym) || sym == "]E0" || sym == "]E4")
    {
        return true;
    }
    text_claims_gs1(data)
}

fn text_claims_gs1(data: &str) -> bool {
    let b = data.as_bytes();
    if b.first() == Some(&GS) {
        return true;
    }
    if parse::ai_bracket_at(b, 0).is_some() {
        return true;
    }
    if dl::scheme_len(data).is_some() {
        return dl::has_primary_key(data);
    }
    all_digits(data) && (is_gtin_len(data.len()) || data.len() == 18) && has_valid_check_digit(data)
}

/// What keyboard-wedge setups put around a scan (a space or tab prefix, CR/LF/tab terminators).
/// None of it can be GS1 data: CSET 82 has no space or control characters other than GS.
const WEDGE_WHITESPACE: [char; 4] = [' ', '\t', '\r', '\n'];

/// Strips surrounding wedge whitespace; returns how many bytes were cut from the front, so that
/// error positions still count from the start of the input.
fn trim_whitespace(raw: &str) -> (usize, &str) {
    let start = raw.trim_start_matches(WEDGE_WHITESPACE);
    (
        raw.len() - start.len(),
        start.trim_end_matches(WEDGE_WHITESPACE),
    )
}

/// Interprets scanner output, detecting its form:
///
/// 1. Surrounding spaces, tabs, CR and LF (keyboard-wedge prefixes and terminators) are ignored.
/// 2. An AIM symbology identifier is stripped and recorded. With a GS1 identifier (`]C1`, `]e0`,
///    `]d2`, `]d5`, `]Q3`, `]Q4`, `]J1`) the rest must be a valid element string (a leading GS
///    is tolerated); `]E4` must carry a GTIN-8 (EAN-8); `]E0` an EAN-13 (13 digits), a UPC-A
///    (12 digits) or a UPC-E (8 digits: number system 0 or 1, six digits, the check digit of
///    the expanded GTIN-12), each with a valid check digit. A composite component appended as
///    `|]e0...` (GS1 scan-data convention) is read too. Any other identifier (`]C0`, `]d1`,
///    `]Q1`...) is recorded and the data read as unprefixed text below.
/// 3. A leading GS (FNC1 in first position) means a GS1 element string.
/// 4. `(` + digits + `)` at the start means the bracketed form; `http://` / `https://` a
///    Digital Link.
/// 5. 8, 12, 13 or 14 digits with a valid check digit are a plain GTIN; 18 digits with a valid
///    check digit a plain SSCC. (An SSCC *element string* is `00` + 18 digits = 20 characters, so
///    the two cannot be confused.)
/// 6. Any other text is tried as an unprefixed element string and accepted only if it reads
///    completely and validly.
///
/// Errors: when the input does not claim to be GS1 (see [`claims_gs1`]) and cannot be read, the
/// kind is [`Gs1ErrorKind::NotGs1`] and the caller may treat the input as an internal code;
/// otherwise the error says what is wrong and where (`position` counts from the start of `raw`).
pub fn interpret(raw: &str) -> Result<Interpretation, Gs1Error> {
    interpret_at(raw, current_year())
}

/// [`interpret`] with a fixed current year for the two-digit-year window (for tests and replays).
pub fn interpret_at(raw: &str, current_year: i32) -> Result<Interpretation, Gs1Error> {
    let (lead, raw) = trim_whitespace(raw);
    let (sym, data) = split_symbology(raw);
    let off = lead + raw.len() - data.len();
    let symbology = sym.map(str::to_string);
    let year = current_year;

    if let Some(sym) = sym {
        if GS1_SYMBOLOGIES.contains(&sym) {
            let (main, composite) = split_composite(data);
            let mut parsed = parse::split_element_string(main, off, year)?;
            if let Some((c_off, c)) = composite {
                parsed.extend(parse::split_element_string(c, off + c_off, year)?);
            }
            return finish(symbology, InputForm::ElementString, parsed, year);
        }
        if sym == "]E0" || sym == "]E4" {
            let (main, composite) = split_composite(data);
            let gtin = if sym == "]E4" {
                plain_gtin(main, off, 8)?
            } else {
                ean_upc(main, off)?
            };
            let mut parsed = vec![gtin];
            if let Some((c_off, c)) = composite {
                parsed.extend(parse::split_element_string(c, off + c_off, year)?);
            }
            return finish(symbology, InputForm::PlainGtin, parsed, year);
        }
    }

    let b = data.as_bytes();
    if b.first() == Some(&GS) {
        let parsed = parse::split_element_string(data, off, year)?;
        return finish(symbology, InputForm::ElementString, parsed, year);
    }
    if data.is_empty() {
        return Err(Gs1Error::new(Gs1ErrorKind::NotGs1, off, "no data"));
    }
    let claims = text_claims_gs1(data);
    let not_gs1 = |e: Gs1Error| -> Gs1Error {
        if claims {
            e
        } else {
            Gs1Error {
                ai: e.ai,
                position: e.position,
                kind: Gs1ErrorKind::NotGs1,
                message: format!("not recognised as GS1 data ({})", e.message),
            }
        }
    };
    if b.first() == Some(&b'(') {
        let parsed = parse::split_bracketed(data, off, year).map_err(not_gs1)?;
        return finish(symbology, InputForm::Bracketed, parsed, year).map_err(not_gs1);
    }
    if dl::scheme_len(data).is_some() {
        let parsed = dl::split_digital_link(data, off, year).map_err(not_gs1)?;
        return finish_dl(symbology, parsed, year).map_err(not_gs1);
    }
    if all_digits(data) && has_valid_check_digit(data) {
        if is_gtin_len(data.len()) {
            let parsed = vec![plain_gtin(data, off, data.len())?];
            return finish(symbology, InputForm::PlainGtin, parsed, year);
        }
        if data.len() == 18
            && let Some(info) = ai_info("00")
        {
            let parsed = vec![Parsed {
                info,
                value: data.to_string(),
                pos: off,
            }];
            return finish(symbology, InputForm::PlainSscc, parsed, year);
        }
    }
    let parsed = parse::split_element_string(data, off, year).map_err(not_gs1)?;
    finish(symbology, InputForm::ElementString, parsed, year).map_err(not_gs1)
}

/// Splits `main|]e0composite`.
fn split_composite(data: &str) -> (&str, Option<(usize, &str)>) {
    match data.find("|]e0") {
        Some(i) => (
            data.get(..i).unwrap_or(""),
            data.get(i + 4..).map(|c| (i + 4, c)),
        ),
        None => (data, None),
    }
}

/// What `]E0` carries (AIM ISO/IEC 15424, GS1 scan data): EAN-13 as 13 digits, UPC-A as 12,
/// UPC-E as 8 (number system, six digits, check digit), the last expanded to its GTIN-12.
fn ean_upc(data: &str, off: usize) -> Result<Parsed, Gs1Error> {
    if let Some(i) = data.bytes().position(|b| !b.is_ascii_digit()) {
        return Err(not_a_digit(data, off, i));
    }
    match data.len() {
        12 | 13 => plain_gtin(data, off, data.len()),
        8 => {
            let Some(expanded) = upc_e_to_upc_a(data) else {
                return Err(Gs1Error::with_ai(
                    Gs1ErrorKind::InvalidValue,
                    "01",
                    off,
                    format!(
                        "UPC-E at position {off}: number system digit is {}, expected 0 or 1",
                        data.get(..1).unwrap_or("?")
                    ),
                ));
            };
            // A UPC-E carries the check digit of its expansion.
            let (body, last) = expanded.as_bytes().split_at(11);
            let expected = mod10_check_digit(body);
            let got = last.first().map_or(0, |d| d - b'0');
            if expected != got {
                let at = off + 7;
                return Err(Gs1Error::with_ai(
                    Gs1ErrorKind::CheckDigit,
                    "01",
                    at,
                    format!("UPC-E: check digit is {got}, expected {expected} at position {at}"),
                ));
            }
            plain_gtin(&expanded, off, 12)
        }
        n => Err(Gs1Error::with_ai(
            if n < 12 {
                Gs1ErrorKind::TooShort
            } else {
                Gs1ErrorKind::TooLong
            },
            "01",
            off,
            format!(
                "EAN/UPC at position {off} has {n} digits, expected 13 (EAN-13), 12 (UPC-A) or 8 (UPC-E)"
            ),
        )),
    }
}

fn not_a_digit(data: &str, off: usize, i: usize) -> Gs1Error {
    let c = data.get(i..).and_then(|s| s.chars().next()).unwrap_or('?');
    Gs1Error::with_ai(
        Gs1ErrorKind::InvalidCharacter,
        "01",
        off + i,
        format!(
            "GTIN: character {} at position {} is not a digit",
            error::show_char(c),
            off + i
        ),
    )
}

/// Expands an 8-digit UPC-E (number system 0 or 1, six digits, check digit) to the 12 digits of
/// its UPC-A, per the zero-suppression rules: the last of the six digits says where the
/// manufacturer number's zeros were suppressed. `None` for another number system.
pub fn upc_e_to_upc_a(upc_e: &str) -> Option<String> {
    let b = upc_e.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) || !matches!(b[0], b'0' | b'1') {
        return None;
    }
    let (ns, d, check) = (b[0] as char, &upc_e[1..7], b[7] as char);
    let (d1, d2, d3, d4, d5, d6) = (&d[0..1], &d[1..2], &d[2..3], &d[3..4], &d[4..5], &d[5..6]);
    let body = match d6 {
        "0" | "1" | "2" => format!("{d1}{d2}{d6}0000{d3}{d4}{d5}"),
        "3" => format!("{d1}{d2}{d3}00000{d4}{d5}"),
        "4" => format!("{d1}{d2}{d3}{d4}00000{d5}"),
        _ => format!("{d1}{d2}{d3}{d4}{d5}0000{d6}"),
    };
    Some(format!("{ns}{body}{check}"))
}

/// A plain GTIN of `want` digits (or any GTIN length when `want` is 14 or less and matches).
fn plain_gtin(data: &str, off: usize, want: usize) -> Result<Parsed, Gs1Error> {
    let Some(info) = ai_info("01") else {
        return Err(Gs1Error::new(
            Gs1ErrorKind::UnknownAi,
            off,
            "AI (01) missing from the dictionary",
        ));
    };
    if let Some(i) = data.bytes().position(|b| !b.is_ascii_digit()) {
        return Err(not_a_digit(data, off, i));
    }
    if data.len() != want {
        let kind = if data.len() < want {
            Gs1ErrorKind::TooShort
        } else {
            Gs1ErrorKind::TooLong
        };
        return Err(Gs1Error::with_ai(
            kind,
            "01",
            off,
            format!(
                "GTIN at position {off} has {} digits, expected {want}",
                data.len()
            ),
        ));
    }
    if let Some((last, body)) = data.as_bytes().split_last() {
        let expected = mod10_check_digit(body);
        if expected != last - b'0' {
            let at = off + data.len() - 1;
            return Err(Gs1Error::with_ai(
                Gs1ErrorKind::CheckDigit,
                "01",
                at,
                format!(
                    "GTIN: check digit is {}, expected {expected} at position {at}",
                    last - b'0'
                ),
            ));
        }
    }
    Ok(Parsed {
        info,
        value: format!("{data:0>14}"),
        pos: off,
    })
}

fn finish(
    symbology: Option<String>,
    form: InputForm,
    mut parsed: Vec<Parsed>,
    year: i32,
) -> Result<Interpretation, Gs1Error> {
    check_message(&mut parsed, false)?;
    Ok(build(symbology, form, to_elements(parsed), year))
}

fn finish_dl(
    symbology: Option<String>,
    mut parsed: Vec<Parsed>,
    year: i32,
) -> Result<Interpretation, Gs1Error> {
    check_message(&mut parsed, true)?;
    Ok(build(
        symbology,
        InputForm::DigitalLink,
        to_elements(parsed),
        year,
    ))
}

/// Parses an unbracketed element string: AIs and values with GS (0x1D) after variable-length
/// values, no symbology identifier (a leading GS is tolerated). Validates values and the message.
pub fn parse_element_string(data: &str) -> Result<Vec<Element>, Gs1Error> {
    let year = current_year();
    let mut parsed = parse::split_element_string(data, 0, year)?;
    check_message(&mut parsed, false)?;
    Ok(to_elements(parsed))
}

/// Parses the bracketed form `(01)09506000134352(17)201225(10)ABC123`. Inside a value, a `(`
/// that is followed by 2 to 4 digits and `)` starts the next element; write `\(` for a literal
/// `(` there.
pub fn parse_bracketed(data: &str) -> Result<Vec<Element>, Gs1Error> {
    let year = current_year();
    let mut parsed = parse::split_bracketed(data, 0, year)?;
    check_message(&mut parsed, false)?;
    Ok(to_elements(parsed))
}

/// Parses an uncompressed GS1 Digital Link URI on any domain into elements (path, then query).
pub fn parse_digital_link(uri: &str) -> Result<Vec<Element>, Gs1Error> {
    let year = current_year();
    let mut parsed = dl::split_digital_link(uri, 0, year)?;
    check_message(&mut parsed, true)?;
    Ok(to_elements(parsed))
}

/// Renders elements as an element string, FNC1 written as GS: a GS follows every value whose AI
/// is not of predefined length (GS1 General Specifications figure 7.8.4-1), except the last.
/// No symbology identifier and no leading GS are added.
pub fn to_element_string(elements: &[Element]) -> String {
    parse::render_element_string(elements)
}

/// Renders elements in bracketed form; a `(` inside a value is written `\(`.
pub fn to_bracketed(elements: &[Element]) -> String {
    parse::render_bracketed(elements)
}

/// Renders elements as an uncompressed GS1 Digital Link URI under `stem` (default
/// [`CANONICAL_STEM`]). Fails without a primary key or when an AI cannot be a query attribute.
pub fn to_digital_link(elements: &[Element], stem: Option<&str>) -> Result<String, Gs1Error> {
    dl::render_digital_link(elements, stem)
}

fn unit_for(ai: &str) -> &'static str {
    match ai.get(..3).unwrap_or("") {
        "310" | "330" => "kg",
        "311" | "312" | "313" | "331" | "332" | "333" => "m",
        "314" | "334" => "m2",
        "315" | "335" => "l",
        "316" | "336" => "m3",
        "337" => "kg/m2",
        "320" | "340" => "lb",
        "321" | "324" | "327" | "341" | "344" | "347" => "in",
        "322" | "325" | "328" | "342" | "345" | "348" => "ft",
        "323" | "326" | "329" | "343" | "346" | "349" => "yd",
        "350" | "353" => "in2",
        "351" | "354" => "ft2",
        "352" | "355" => "yd2",
        "356" => "oz t",
        "357" => "oz",
        "360" | "362" => "qt",
        "361" | "363" => "gal",
        "364" | "367" => "in3",
        "365" | "368" => "ft3",
        "366" | "369" => "yd3",
        "394" => "%",
        "390" | "391" | "392" | "393" | "395" => "currency",
        _ => "",
    }
}

fn measure(e: &Element) -> Option<Measure> {
    let b = e.ai.as_bytes();
    if b.len() != 4
        || !matches!(
            b.get(..2),
            Some(b"31" | b"32" | b"33" | b"34" | b"35" | b"36" | b"39")
        )
    {
        return None;
    }
    let unit = unit_for(&e.ai);
    if unit.is_empty() {
        return None;
    }
    let decimals = b.get(3)?.checked_sub(b'0')?;
    let (currency, digits) = if matches!(e.ai.get(..3), Some("391" | "393")) {
        (e.value.get(..3).map(str::to_string), e.value.get(3..)?)
    } else {
        (None, e.value.as_str())
    };
    let mantissa: i64 = digits.parse().ok()?;
    let d = usize::from(decimals);
    let display = if d == 0 {
        mantissa.to_string()
    } else {
        let s = format!("{mantissa:0>width$}", width = d + 1);
        let (int, frac) = s.split_at(s.len() - d);
        format!("{int}.{frac}")
    };
    Some(Measure {
        ai: e.ai.clone(),
        title: e.title,
        mantissa,
        decimals,
        unit,
        currency,
        display,
    })
}

fn build(
    symbology: Option<String>,
    form: InputForm,
    elements: Vec<Element>,
    year: i32,
) -> Interpretation {
    let get = |ai: &str| {
        elements
            .iter()
            .find(|e| e.ai == ai)
            .map(|e| e.value.as_str())
    };
    let date = |ai: &str| get(ai).and_then(|v| linters::yymmdd_to_date(v, year));
    let count = get("37")
        .or_else(|| get("30"))
        .and_then(|v| v.parse::<i64>().ok());
    Interpretation {
        symbology,
        form,
        gtin: get("01").or_else(|| get("02")).map(str::to_string),
        sscc: get("00").map(str::to_string),
        batch: get("10").map(str::to_string),
        serial: get("21").map(str::to_string),
        expiry: date("17"),
        best_before: date("15"),
        production_date: date("11"),
        count,
        measures: elements.iter().filter_map(measure).collect(),
        elements,
    }
}
