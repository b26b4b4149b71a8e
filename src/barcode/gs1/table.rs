//! The Application Identifier table, built once from the GS1 Barcode Syntax Dictionary that is
//! compiled into the binary (`gs1-syntax-dictionary.txt`, see `ATTRIBUTION.md`).
//!
//! Lookup is an array index on the numeric value of the AI (one array per AI length), so finding
//! an AI costs a few nanoseconds.

use std::sync::LazyLock;

/// The dictionary text, exactly as published by GS1 (Apache-2.0).
pub(crate) const DICTIONARY: &str = include_str!("gs1-syntax-dictionary.txt");

/// Character set of one component of an AI value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cset {
    /// `N`: digits 0-9.
    Numeric,
    /// `X`: GS1 CSET 82.
    Cset82,
    /// `Y`: GS1 CSET 39.
    Cset39,
    /// `Z`: base64url (CSET 64), `=` padding allowed at the end.
    Cset64,
}

impl Cset {
    /// The dictionary letter for this set.
    pub fn letter(self) -> char {
        match self {
            Cset::Numeric => 'N',
            Cset::Cset82 => 'X',
            Cset::Cset39 => 'Y',
            Cset::Cset64 => 'Z',
        }
    }
}

/// A content check ("linter") named in the dictionary.
///
/// Implemented: every linter the dictionary uses except the documented no-ops below.
///
/// Documented no-ops (accepted, not checked):
/// - `gcppos1`, `gcppos2`: need the GS1 Company Prefix allocation table, which is not public data.
/// - `couponcode`, `couponposoffer`: the North American coupon structures of AIs (8110) and
///   (8112); the value is still checked against CSET 82 and its length.
/// - any linter name this code does not know ([`Linter::Unknown`]; e.g. `key`, `keyoff1` or
///   `latlong` from other dictionary releases), so that a newer dictionary never makes valid
///   data fail; a unit test asserts the shipped dictionary has none.
///
/// Implemented beyond what the shipped dictionary uses (cheap, for newer releases): `yyyymmd0`,
/// `yymmddhh`, `hhmm`, `mmoptss`, `iso3166list`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Linter {
    Csum,
    CsumAlpha,
    Gcppos1,
    Gcppos2,
    Yymmd0,
    Yymmdd,
    Yyyymmd0,
    Yyyymmdd,
    Yymmddhh,
    Hh,
    Mi,
    Ss,
    Hhmi,
    Hhmm,
    Mmoptss,
    Iso3166,
    Iso3166999,
    Iso3166Alpha2,
    Iso3166List,
    Iso4217,
    Iso5218,
    Latitude,
    Longitude,
    Pcenc,
    Hyphen,
    NonZero,
    Zero,
    NoZeroPrefix,
    YesNo,
    Winding,
    HasNonDigit,
    PieceOfTotal,
    PosInSeqSlash,
    Iban,
    ImporterIdx,
    MediaType,
    PackageType,
    CouponCode,
    CouponPosOffer,
    /// A linter name this code does not implement: a no-op.
    Unknown(String),
}

impl Linter {
    fn from_name(name: &str) -> Linter {
        match name {
            "csum" => Linter::Csum,
            "csumalpha" => Linter::CsumAlpha,
            "gcppos1" => Linter::Gcppos1,
            "gcppos2" => Linter::Gcppos2,
            "yymmd0" => Linter::Yymmd0,
            "yymmdd" => Linter::Yymmdd,
            "yyyymmd0" => Linter::Yyyymmd0,
            "yyyymmdd" => Linter::Yyyymmdd,
            "yymmddhh" => Linter::Yymmddhh,
            "hh" => Linter::Hh,
            "mi" => Linter::Mi,
            "ss" => Linter::Ss,
            "hhmi" => Linter::Hhmi,
            "hhmm" => Linter::Hhmm,
            "mmoptss" => Linter::Mmoptss,
            "iso3166" => Linter::Iso3166,
            "iso3166999" => Linter::Iso3166999,
            "iso3166alpha2" => Linter::Iso3166Alpha2,
            "iso3166list" => Linter::Iso3166List,
            "iso4217" => Linter::Iso4217,
            "iso5218" => Linter::Iso5218,
            "latitude" => Linter::Latitude,
            "longitude" => Linter::Longitude,
            "pcenc" => Linter::Pcenc,
            "hyphen" => Linter::Hyphen,
            "nonzero" => Linter::NonZero,
            "zero" => Linter::Zero,
            "nozeroprefix" => Linter::NoZeroPrefix,
            "yesno" => Linter::YesNo,
            "winding" => Linter::Winding,
            "hasnondigit" => Linter::HasNonDigit,
            "pieceoftotal" => Linter::PieceOfTotal,
            "posinseqslash" => Linter::PosInSeqSlash,
            "iban" => Linter::Iban,
            "importeridx" => Linter::ImporterIdx,
            "mediatype" => Linter::MediaType,
            "packagetype" => Linter::PackageType,
            "couponcode" => Linter::CouponCode,
            "couponposoffer" => Linter::CouponPosOffer,
            other => Linter::Unknown(other.to_string()),
        }
    }
}

/// One component of an AI's value format, e.g. `N13,csum` or `[X..17]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub cset: Cset,
    pub min: usize,
    pub max: usize,
    /// Written in `[...]`: may be absent when the data is exhausted.
    pub optional: bool,
    pub linters: Vec<Linter>,
}

/// An AI or AI pattern such as `01`, `310n` or `31nn` (`n` matches any digit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiPattern(pub String);

impl AiPattern {
    /// Whether `ai` matches this pattern.
    pub fn matches(&self, ai: &str) -> bool {
        let p = self.0.as_bytes();
        let a = ai.as_bytes();
        p.len() == a.len() && p.iter().zip(a).all(|(p, a)| *p == b'n' || p == a)
    }
}

impl std::fmt::Display for AiPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({})", self.0)
    }
}

/// Everything the dictionary says about one AI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiInfo {
    /// The AI, 2 to 4 digits.
    pub ai: String,
    /// The data title, e.g. `"USE BY or EXPIRY"`.
    pub title: &'static str,
    /// The format specification as written in the dictionary, e.g. `"N14,csum,gcppos2"`.
    pub format: String,
    /// The raw flag characters (`*` predefined length, `?` Digital Link data attribute).
    pub flags: &'static str,
    /// `*`: predefined length, no FNC1/GS needed after the value.
    pub predefined_length: bool,
    /// `?`: allowed as a GS1 Digital Link query attribute.
    pub dl_data_attribute: bool,
    /// Shortest and longest value, in characters.
    pub min_length: usize,
    pub max_length: usize,
    /// `Some(n)` when every value of this AI has exactly `n` characters.
    pub fixed_length: Option<usize>,
    pub components: Vec<Component>,
    /// `req=` attributes: each inner list is one attribute (all attributes must hold); within it,
    /// alternatives (comma, any one suffices), each a list of patterns that must all be present
    /// (`+`).
    pub requires: Vec<Vec<Vec<AiPattern>>>,
    /// `ex=`: AIs that may not appear together with this one.
    pub excludes: Vec<AiPattern>,
    /// `dlpkey`: `Some` when this AI is a Digital Link primary key; each inner list is one allowed
    /// ordered sequence of key qualifiers (possibly empty).
    pub dl_key_qualifiers: Option<Vec<Vec<String>>>,
}

impl AiInfo {
    /// True when this AI is a GS1 Digital Link primary key.
    pub fn is_dl_primary_key(&self) -> bool {
        self.dl_key_qualifiers.is_some()
    }

    /// True when an FNC1/GS must follow the value unless it ends the message.
    pub fn fnc1_required(&self) -> bool {
        !self.predefined_length
    }
}

const NONE: u16 = u16::MAX;

pub(crate) struct Table {
    pub(crate) entries: Vec<AiInfo>,
    idx2: Vec<u16>,
    idx3: Vec<u16>,
    idx4: Vec<u16>,
    /// AI length (2, 3 or 4) for each two-digit prefix used in the dictionary, 0 if unused.
    prefix_len: [u8; 100],
    /// Lines of the dictionary that could not be understood (tested to be empty).
    pub(crate) problems: Vec<String>,
}

pub(crate) static TABLE: LazyLock<Table> = LazyLock::new(|| Table::parse(DICTIONARY));

/// Numeric value of an all-digit ASCII string of length 2 to 4.
#[inline]
fn ai_number(ai: &[u8]) -> Option<usize> {
    if !(2..=4).contains(&ai.len()) {
        return None;
    }
    let mut n = 0usize;
    for b in ai {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + usize::from(b - b'0');
    }
    Some(n)
}

impl Table {
    #[inline]
    pub(crate) fn get(&self, ai: &[u8]) -> Option<&AiInfo> {
        let n = ai_number(ai)?;
        let idx = match ai.len() {
            2 => self.idx2.get(n),
            3 => self.idx3.get(n),
            _ => self.idx4.get(n),
        };
        match idx {
            Some(&i) if i != NONE => self.entries.get(usize::from(i)),
            _ => None,
        }
    }

    /// The AI length that the dictionary uses for AIs starting with these two digits.
    pub(crate) fn length_for_prefix(&self, prefix: &[u8]) -> Option<usize> {
        let n = ai_number(prefix.get(..2)?)?;
        match self.prefix_len.get(n) {
            Some(&l) if l != 0 => Some(usize::from(l)),
            _ => None,
        }
    }

    fn parse(text: &'static str) -> Table {
        let mut t = Table {
            entries: Vec::with_capacity(600),
            idx2: vec![NONE; 100],
            idx3: vec![NONE; 1000],
            idx4: vec![NONE; 10000],
            prefix_len: [0; 100],
            problems: Vec::new(),
        };
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Err(e) = t.parse_line(trimmed) {
                t.problems.push(format!("{e}: {trimmed}"));
            }
        }
        t
    }

    fn parse_line(&mut self, line: &'static str) -> Result<(), String> {
        let (spec, title) = match line.find('#') {
            Some(i) => (&line[..i], line[i + 1..].trim()),
            None => (line, ""),
        };
        let mut tokens = spec.split_whitespace().peekable();
        let ais = tokens.next().ok_or("no AI")?;
        let mut flags = "";
        if let Some(tok) = tokens.peek()
            && !is_component_token(tok)
            && tok
                .chars()
                .all(|c| "*!?\"$%&'()+,-./:;<=>@[\\]^_`{|}~".contains(c))
        {
            flags = tok;
            tokens.next();
        }
        let mut components = Vec::new();
        let mut format_parts: Vec<&str> = Vec::new();
        let mut requires = Vec::new();
        let mut excludes = Vec::new();
        let mut dl_key_qualifiers: Option<Vec<Vec<String>>> = None;
        for tok in tokens {
            if let Some(v) = tok.strip_prefix("req=") {
                requires.push(
                    v.split(',')
                        .map(|alt| alt.split('+').map(|p| AiPattern(p.to_string())).collect())
                        .collect(),
                );
            } else if let Some(v) = tok.strip_prefix("ex=") {
                excludes.extend(v.split(',').map(|p| AiPattern(p.to_string())));
            } else if tok == "dlpkey" {
                dl_key_qualifiers
                    .get_or_insert_with(Vec::new)
                    .push(Vec::new());
            } else if let Some(v) = tok.strip_prefix("dlpkey=") {
                let alts = dl_key_qualifiers.get_or_insert_with(Vec::new);
                for alt in v.split('|') {
                    alts.push(alt.split(',').map(str::to_string).collect());
                }
            } else if is_component_token(tok) {
                if !requires.is_empty() || !excludes.is_empty() || dl_key_qualifiers.is_some() {
                    return Err("format component after attributes".into());
                }
                components.push(parse_component(tok)?);
                format_parts.push(tok);
            } else if tok.contains('=') {
                // An attribute this code does not use (none today): ignored.
            } else {
                return Err(format!("unexpected token {tok:?}"));
            }
        }
        if components.is_empty() {
            return Err("no format components".into());
        }
        let (first, last) = match ais.split_once('-') {
            Some((a, b)) => (a, b),
            None => (ais, ais),
        };
        if first.len() != last.len() {
            return Err("AI range bounds differ in length".into());
        }
        let width = first.len();
        let lo = ai_number(first.as_bytes()).ok_or("bad AI")?;
        let hi = ai_number(last.as_bytes()).ok_or("bad AI")?;
        if lo > hi {
            return Err("empty AI range".into());
        }
        let min_length = components
            .iter()
            .filter(|c| !c.optional)
            .map(|c| c.min)
            .sum();
        let max_length: usize = components.iter().map(|c| c.max).sum();
        let fixed = components.iter().all(|c| !c.optional && c.min == c.max);
        let format = format_parts.join(" ");
        for n in lo..=hi {
            let ai = format!("{n:0width$}");
            let prefix = ai_number(&ai.as_bytes()[..2]).ok_or("bad AI")?;
            match self.prefix_len.get_mut(prefix) {
                Some(l) if *l == 0 => *l = width as u8,
                Some(l) if usize::from(*l) == width => {}
                _ => return Err(format!("AI {ai} breaks the prefix-length rule")),
            }
            let slot = match width {
                2 => self.idx2.get_mut(n),
                3 => self.idx3.get_mut(n),
                4 => self.idx4.get_mut(n),
                _ => None,
            }
            .ok_or("AI must have 2 to 4 digits")?;
            if *slot != NONE {
                return Err(format!("AI {ai} defined twice"));
            }
            *slot = u16::try_from(self.entries.len()).map_err(|_| "too many AIs")?;
            self.entries.push(AiInfo {
                ai,
                title,
                format: format.clone(),
                flags,
                predefined_length: flags.contains('*'),
                dl_data_attribute: flags.contains('?'),
                min_length,
                max_length,
                fixed_length: fixed.then_some(max_length),
                components: components.clone(),
                requires: requires.clone(),
                excludes: excludes.clone(),
                dl_key_qualifiers: dl_key_qualifiers.clone(),
            });
        }
        Ok(())
    }
}

fn is_component_token(tok: &str) -> bool {
    let t = tok.strip_prefix('[').unwrap_or(tok);
    matches!(t.as_bytes().first(), Some(b'N' | b'X' | b'Y' | b'Z'))
}

/// Parses `N14,csum`, `X..20`, `[X..17]`, `[N3],iso3166`, `N6..12`.
fn parse_component(tok: &str) -> Result<Component, String> {
    let optional = tok.starts_with('[');
    let cleaned: String = tok.chars().filter(|c| *c != '[' && *c != ']').collect();
    let mut parts = cleaned.split(',');
    let ty = parts.next().ok_or("empty component")?;
    let cset = match ty.as_bytes().first() {
        Some(b'N') => Cset::Numeric,
        Some(b'X') => Cset::Cset82,
        Some(b'Y') => Cset::Cset39,
        Some(b'Z') => Cset::Cset64,
        _ => return Err(format!("unknown character set in {tok:?}")),
    };
    let len = ty.get(1..).ok_or("missing length")?;
    let (min, max) = match len.split_once("..") {
        Some(("", hi)) => (1, hi.parse().map_err(|_| "bad length")?),
        Some((lo, hi)) => (
            lo.parse().map_err(|_| "bad length")?,
            hi.parse().map_err(|_| "bad length")?,
        ),
        None => {
            let n: usize = len.parse().map_err(|_| "bad length")?;
            (n, n)
        }
    };
    if min == 0 || min > max {
        return Err(format!("bad length in {tok:?}"));
    }
    Ok(Component {
        cset,
        min,
        max,
        optional,
        linters: parts.map(Linter::from_name).collect(),
    })
}

/// The GenSpecs predefined-length table (figure 7.8.4-1) by the first two digits of the AI:
/// 00, 01, 02, 03, 04, 11-20, 31-36, 41. Used to decide where an FNC1 is needed when rendering.
pub(crate) fn predefined_by_prefix(ai: &str) -> bool {
    matches!(
        ai.as_bytes().get(..2),
        Some(
            b"00"
                | b"01"
                | b"02"
                | b"03"
                | b"04"
                | b"11"
                | b"12"
                | b"13"
                | b"14"
                | b"15"
                | b"16"
                | b"17"
                | b"18"
                | b"19"
                | b"20"
                | b"31"
                | b"32"
                | b"33"
                | b"34"
                | b"35"
                | b"36"
                | b"41"
        )
    )
}
