//! GS1 Digital Link URIs (uncompressed): parsing into elements and generation from elements.
//!
//! Rules (GS1 Digital Link URI Syntax 1.6, as implemented by the GS1 Syntax Engine):
//! - scheme `http://` or `https://`, all lower or all upper case; any domain (its characters are
//!   checked, its form is not); an optional path stem before the key;
//! - the path ends with a primary key AI (one with `dlpkey` in the dictionary) and its value,
//!   then its key qualifiers in one of the orders the dictionary allows; the key is found by
//!   walking `/AI/value` pairs back from the end of the path;
//! - query parameters whose name is all digits must be known AIs that are allowed as data
//!   attributes (`?` flag) and that could not stand in the path as a key qualifier; other
//!   parameters (`linkType`, `utm_source`, singletons) are ignored;
//! - values are percent-decoded; `+` is a space in the query and a literal `+` in the path;
//!   `%00` is refused;
//! - a GTIN-8/12/13 in a query parameter (01) is padded to 14 digits; in the path it must already
//!   be 14 digits;
//! - an AI may appear only once.
//!
//! The deprecated convenience short names (`/gtin/`, `/lot/`, `/ser/`) are not accepted: GS1
//! announced their removal in URI syntax 1.3 and the reference engine parses them only behind a
//! switch that is off by default (STANDARDS.md §3.1).

use super::error::{Gs1Error, Gs1ErrorKind, show_char};
use super::parse::{Parsed, PosMap, lookup, validate_value};
use super::table::AiInfo;
use super::{Element, ai_info};

/// The canonical stem used when none is given.
pub const CANONICAL_STEM: &str = "https://id.gs1.org";

fn dl_err(at: usize, msg: impl Into<String>) -> Gs1Error {
    Gs1Error::new(Gs1ErrorKind::DigitalLink, at, msg)
}

/// Characters allowed anywhere in a URI (RFC 3986 unreserved, reserved and `%`).
fn is_uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

fn is_domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:[]".contains(&b)
}

/// The length of the scheme prefix (`http://`, `https://`, upper or lower case), if any.
/// Mixed case is reported as `Err`.
pub(crate) fn scheme_len(uri: &str) -> Option<Result<usize, ()>> {
    for (lower, upper) in [("https://", "HTTPS://"), ("http://", "HTTP://")] {
        match uri.get(..lower.len()) {
            Some(s) if s == lower || s == upper => return Some(Ok(lower.len())),
            Some(s) if s.eq_ignore_ascii_case(lower) => return Some(Err(())),
            _ => {}
        }
    }
    None
}

/// The pieces of a DL URI: path segments with their offsets, and the query.
struct Split<'a> {
    /// `(offset, text)` of each path segment after the domain.
    segs: Vec<(usize, &'a str)>,
    /// Index in `segs` of the primary key AI.
    key: usize,
    /// `(offset, text)` of the query string, if any.
    query: Option<(usize, &'a str)>,
}

fn split_uri(uri: &str, base: usize) -> Result<Split<'_>, Gs1Error> {
    let b = uri.as_bytes();
    if let Some(i) = b.iter().position(|c| !is_uri_char(*c)) {
        let c = uri
            .get(i..)
            .and_then(|s| s.chars().next())
            .unwrap_or('\u{fffd}');
        return Err(dl_err(
            base + i,
            format!(
                "character {} at position {} is not allowed in a URI",
                show_char(c),
                base + i
            ),
        ));
    }
    let start = match scheme_len(uri) {
        Some(Ok(n)) => n,
        Some(Err(())) => {
            return Err(dl_err(
                base,
                "the URI scheme must be all lower case or all upper case",
            ));
        }
        None => {
            return Err(dl_err(
                base,
                "a Digital Link must start with http:// or https://",
            ));
        }
    };
    let rest = uri.get(start..).unwrap_or("");
    let domain_len = rest.find('/').unwrap_or(rest.len());
    if domain_len == 0 {
        return Err(dl_err(base + start, "the URI has no domain"));
    }
    if let Some(i) = rest
        .as_bytes()
        .iter()
        .take(domain_len)
        .position(|c| !is_domain_char(*c))
    {
        let at = base + start + i;
        let c = rest.get(i..).and_then(|s| s.chars().next()).unwrap_or('?');
        return Err(dl_err(
            at,
            format!(
                "character {} at position {at} is not allowed in a domain",
                show_char(c)
            ),
        ));
    }
    let path_start = start + domain_len;
    let after = uri.get(path_start..).unwrap_or("");
    if after.is_empty() {
        return Err(dl_err(
            base + path_start,
            "the URI has no path: a Digital Link needs /AI/value",
        ));
    }
    let after = after.split('#').next().unwrap_or("");
    let (path, query) = match after.find('?') {
        Some(q) => (
            after.get(..q).unwrap_or(""),
            Some((base + path_start + q + 1, after.get(q + 1..).unwrap_or(""))),
        ),
        None => (after, None),
    };
    // `path` starts with '/'.
    let mut segs = Vec::with_capacity(8);
    let mut off = base + path_start + 1;
    for s in path.get(1..).unwrap_or("").split('/') {
        segs.push((off, s));
        off += s.len() + 1;
    }
    if path.len() > 1 && path.ends_with('/') {
        return Err(dl_err(
            base + path_start + path.len() - 1,
            "the URI path must not end with '/'",
        ));
    }
    // Walk /AI/value pairs back from the end until a primary key.
    let mut i = segs.len();
    let mut key = None;
    while i >= 2 {
        let Some(info) = segs.get(i - 2).and_then(|(_, s)| lookup(s.as_bytes())) else {
            break;
        };
        if info.is_dl_primary_key() {
            key = Some(i - 2);
            break;
        }
        i -= 2;
    }
    let Some(key) = key else {
        return Err(dl_err(
            base + path_start,
            "no GS1 Digital Link primary key (/01/, /00/, /414/, ...) found in the URI path",
        ));
    };
    Ok(Split { segs, key, query })
}

/// True when `uri` looks like a GS1 Digital Link: http(s) with a primary key in the path.
pub(crate) fn has_primary_key(uri: &str) -> bool {
    // Tolerate a mixed-case scheme here: such a URI claims to be a DL and is then refused.
    let lowered;
    let uri = match scheme_len(uri) {
        Some(Err(())) => {
            lowered = uri.to_ascii_lowercase();
            lowered.as_str()
        }
        _ => uri,
    };
    split_uri(uri, 0).is_ok()
}

/// Percent-decodes `raw`; `+` means space when `query`. Returns the value and, when escapes were
/// decoded, the input offset of each value byte.
fn decode(
    raw: &str,
    at: usize,
    query: bool,
    ai: &str,
) -> Result<(String, Option<Vec<usize>>), Gs1Error> {
    let b = raw.as_bytes();
    if !b.contains(&b'%') {
        let v = if query && b.contains(&b'+') {
            raw.replace('+', " ")
        } else {
            raw.to_string()
        };
        return Ok((v, None));
    }
    let mut out = Vec::with_capacity(b.len());
    let mut map = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b.get(i).copied().unwrap_or(0);
        let hex = |k: usize| b.get(k).and_then(|h| char::from(*h).to_digit(16));
        if c == b'%'
            && let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2))
        {
            let v = (h * 16 + l) as u8;
            if v == 0 {
                return Err(Gs1Error::with_ai(
                    Gs1ErrorKind::InvalidCharacter,
                    ai,
                    at + i,
                    format!("AI ({ai}): %00 at position {} is not allowed", at + i),
                ));
            }
            out.push(v);
            map.push(at + i);
            i += 3;
            continue;
        }
        out.push(if query && c == b'+' { b' ' } else { c });
        map.push(at + i);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Ok((s, Some(map))),
        Err(_) => Err(Gs1Error::with_ai(
            Gs1ErrorKind::InvalidCharacter,
            ai,
            at,
            format!("AI ({ai}): the percent-decoded value at position {at} is not valid UTF-8"),
        )),
    }
}

/// Whether `seq` (key first, then qualifiers) is an allowed key-qualifier sequence: the
/// qualifiers must be an in-order subset of one of the key's `dlpkey` alternatives.
fn valid_sequence(key: &AiInfo, qualifiers: &[&str]) -> bool {
    let Some(alts) = &key.dl_key_qualifiers else {
        return false;
    };
    alts.iter().any(|alt| {
        let mut it = alt.iter();
        qualifiers.iter().all(|q| it.any(|a| a == q))
    })
}

fn describe_orders(key: &AiInfo) -> String {
    match &key.dl_key_qualifiers {
        Some(alts) if alts.iter().any(|a| !a.is_empty()) => alts
            .iter()
            .map(|a| {
                a.iter()
                    .map(|q| format!("({q})"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "none".to_string(),
    }
}

/// Parses a DL URI into elements (path order, then query order), validating the values but not
/// the message-level rules.
pub(crate) fn split_digital_link(
    uri: &str,
    base: usize,
    year: i32,
) -> Result<Vec<Parsed>, Gs1Error> {
    let Split { segs, key, query } = split_uri(uri, base)?;
    let path_pairs = segs.get(key..).unwrap_or(&[]);
    if !path_pairs.len().is_multiple_of(2) {
        // Cannot happen: the walk moves in pairs from the end.
        return Err(dl_err(
            base,
            "the URI path does not end with an /AI/value pair",
        ));
    }
    let mut out: Vec<Parsed> = Vec::with_capacity(8);
    let mut path_ais: Vec<&'static AiInfo> = Vec::with_capacity(4);
    for pair in path_pairs.chunks(2) {
        let [(ai_at, ai_seg), (val_at, raw)] = pair else {
            continue;
        };
        let Some(info) = lookup(ai_seg.as_bytes()) else {
            return Err(Gs1Error::with_ai(
                Gs1ErrorKind::UnknownAi,
                ai_seg,
                *ai_at,
                format!("unknown AI ({ai_seg}) at position {ai_at}"),
            ));
        };
        let ai = info.ai.as_str();
        if raw.is_empty() {
            return Err(Gs1Error::with_ai(
                Gs1ErrorKind::TooShort,
                ai,
                *val_at,
                format!("AI ({ai}): empty value in the URI path at position {val_at}"),
            ));
        }
        let (value, map) = decode(raw, *val_at, false, ai)?;
        let pm = map
            .as_deref()
            .map_or(PosMap::Offset(*val_at), PosMap::Table);
        validate_value(info, &value, pm, year)?;
        path_ais.push(info);
        out.push(Parsed {
            info,
            value,
            pos: *ai_at,
        });
    }
    let Some((key_info, qualifiers)) = path_ais.split_first() else {
        return Err(dl_err(base, "no primary key in the URI path"));
    };
    let quals: Vec<&str> = qualifiers.iter().map(|q| q.ai.as_str()).collect();
    if !valid_sequence(key_info, &quals) {
        let at = out.get(1).map_or(base, |p| p.pos);
        return Err(dl_err(
            at,
            format!(
                "the path /{} is not a valid key-qualifier sequence for ({}): allowed qualifiers in order: {}",
                path_ais
                    .iter()
                    .map(|i| i.ai.as_str())
                    .collect::<Vec<_>>()
                    .join("/../"),
                key_info.ai,
                describe_orders(key_info)
            ),
        ));
    }
    let Some((q_at, q)) = query else {
        return Ok(out);
    };
    let mut off = q_at;
    for param in q.split('&') {
        let p_at = off;
        off += param.len() + 1;
        let Some((name, raw)) = param.split_once('=') else {
            continue; // empty or singleton parameter: ignored
        };
        if name.is_empty() || !name.bytes().all(|c| c.is_ascii_digit()) {
            continue; // not an AI: ignored (linkType, utm_source, ...)
        }
        let Some(info) = lookup(name.as_bytes()) else {
            return Err(Gs1Error::with_ai(
                Gs1ErrorKind::UnknownAi,
                name,
                p_at,
                format!("unknown AI ({name}) in the query at position {p_at}"),
            ));
        };
        let ai = info.ai.as_str();
        let val_at = p_at + name.len() + 1;
        if raw.is_empty() {
            return Err(Gs1Error::with_ai(
                Gs1ErrorKind::TooShort,
                ai,
                val_at,
                format!("AI ({ai}): empty value in the query at position {val_at}"),
            ));
        }
        if !info.dl_data_attribute {
            return Err(Gs1Error::with_ai(
                Gs1ErrorKind::DigitalLink,
                ai,
                p_at,
                format!(
                    "AI ({ai}) at position {p_at} is not allowed as a Digital Link query attribute"
                ),
            ));
        }
        for j in 1..=path_ais.len() {
            let mut seq = quals.clone();
            seq.insert(j - 1, ai);
            if valid_sequence(key_info, &seq) {
                return Err(Gs1Error::with_ai(
                    Gs1ErrorKind::DigitalLink,
                    ai,
                    p_at,
                    format!(
                        "AI ({ai}) at position {p_at} is a key qualifier of ({}) and must be in the URI path, not the query",
                        key_info.ai
                    ),
                ));
            }
        }
        let (mut value, map) = decode(raw, val_at, true, ai)?;
        let mut map = map;
        if ai == "01"
            && matches!(value.len(), 8 | 12 | 13)
            && value.bytes().all(|c| c.is_ascii_digit())
        {
            let pad = 14 - value.len();
            value = format!("{}{value}", "0".repeat(pad));
            map = Some(
                (0..14usize)
                    .map(|i| val_at + i.saturating_sub(pad))
                    .collect(),
            );
        }
        let pm = map.as_deref().map_or(PosMap::Offset(val_at), PosMap::Table);
        validate_value(info, &value, pm, year)?;
        out.push(Parsed {
            info,
            value,
            pos: p_at,
        });
    }
    Ok(out)
}

/// Percent-encodes a value: unreserved characters stay, space is `+` in the query, all else
/// `%XX` (upper-case hex).
fn encode(value: &str, query: bool, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else if b == b' ' && query {
            out.push('+');
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// Builds an uncompressed Digital Link URI: the first primary key found, with as many of its
/// qualifiers as the data has (in the dictionary's order), then the other AIs as query
/// attributes (predefined-length AIs first, then the others, each group in the given order).
pub(crate) fn render_digital_link(
    elements: &[Element],
    stem: Option<&str>,
) -> Result<String, Gs1Error> {
    let mut stem = stem.unwrap_or(CANONICAL_STEM);
    while let Some(s) = stem.strip_suffix('/') {
        stem = s;
    }
    let infos: Vec<Option<&'static AiInfo>> = elements.iter().map(|e| ai_info(&e.ai)).collect();
    for (e, info) in elements.iter().zip(&infos) {
        if info.is_none() {
            return Err(Gs1Error::with_ai(
                Gs1ErrorKind::UnknownAi,
                &e.ai,
                0,
                format!("unknown AI ({})", e.ai),
            ));
        }
    }
    let Some(key_idx) = infos
        .iter()
        .position(|i| i.is_some_and(AiInfo::is_dl_primary_key))
    else {
        return Err(dl_err(
            0,
            "a Digital Link needs a primary key AI such as (01), (00) or (414)",
        ));
    };
    let key = &elements[key_idx];
    let Some(key_info) = infos[key_idx] else {
        return Err(dl_err(0, "no primary key"));
    };
    let present = |ai: &str| elements.iter().position(|e| e.ai == ai);
    let mut best: Vec<usize> = Vec::new();
    for alt in key_info.dl_key_qualifiers.iter().flatten() {
        let found: Vec<usize> = alt.iter().filter_map(|q| present(q)).collect();
        if found.len() > best.len() {
            best = found;
        }
    }
    let mut used = vec![false; elements.len()];
    let mut s = String::with_capacity(stem.len() + 64);
    s.push_str(stem);
    for idx in std::iter::once(key_idx).chain(best.iter().copied()) {
        let e = &elements[idx];
        s.push('/');
        s.push_str(&e.ai);
        s.push('/');
        encode(&e.value, false, &mut s);
        used[idx] = true;
    }
    let mut first = true;
    for fixed in [true, false] {
        for (idx, e) in elements.iter().enumerate() {
            let Some(info) = infos[idx] else { continue };
            if used[idx] || info.predefined_length != fixed {
                continue;
            }
            if elements.iter().zip(&used).any(|(o, u)| *u && o.ai == e.ai) {
                used[idx] = true; // a repeat of an AI already written
                continue;
            }
            if !info.dl_data_attribute {
                return Err(Gs1Error::with_ai(
                    Gs1ErrorKind::DigitalLink,
                    &e.ai,
                    0,
                    format!(
                        "AI ({}) cannot be a Digital Link query attribute (with ({}) /{} in the path)",
                        e.ai, key.ai, key.value
                    ),
                ));
            }
            s.push(if first { '?' } else { '&' });
            first = false;
            s.push_str(&e.ai);
            s.push('=');
            encode(&e.value, true, &mut s);
            used[idx] = true;
        }
    }
    Ok(s)
}
