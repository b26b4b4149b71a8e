//! Element strings (GS-separated and bracketed): splitting, value validation and the checks over
//! a whole message (repeats, `ex=` and `req=`).

use super::Element;
use super::error::{Gs1Error, Gs1ErrorKind, show_char};
use super::linters::{self, cset_name, first_outside};
use super::table::{AiInfo, TABLE, predefined_by_prefix};

/// ASCII GS (group separator), how scanners transmit FNC1.
pub(crate) const GS: u8 = 0x1d;

/// Maps an index in a (decoded) value to a byte offset in the input.
#[derive(Clone, Copy)]
pub(crate) enum PosMap<'a> {
    /// The value is a contiguous slice of the input starting here.
    Offset(usize),
    /// Offset of each value byte in the input (escapes were decoded).
    Table(&'a [usize]),
}

impl PosMap<'_> {
    pub(crate) fn at(&self, i: usize) -> usize {
        match self {
            PosMap::Offset(o) => o + i,
            PosMap::Table(t) => match t.get(i) {
                Some(p) => *p,
                None => t.last().map_or(0, |p| p + 1),
            },
        }
    }
}

/// An element while a message is being read: where it was, for error messages.
pub(crate) struct Parsed {
    pub info: &'static AiInfo,
    pub value: String,
    /// Byte offset of the AI (or of the DL path segment / query parameter) in the input.
    pub pos: usize,
}

/// Looks up an AI known to the dictionary.
pub(crate) fn lookup(ai: &[u8]) -> Option<&'static AiInfo> {
    TABLE.get(ai)
}

/// Checks one value against its AI's format: character sets, lengths, components and linters.
pub(crate) fn validate_value(
    info: &AiInfo,
    value: &str,
    map: PosMap<'_>,
    year: i32,
) -> Result<(), Gs1Error> {
    let ai = info.ai.as_str();
    let b = value.as_bytes();
    if b.is_empty() {
        return Err(Gs1Error::with_ai(
            Gs1ErrorKind::TooShort,
            ai,
            map.at(0),
            format!("AI ({ai}): empty value at position {}", map.at(0)),
        ));
    }
    if let Some(i) = b.iter().position(|c| !c.is_ascii() || c.is_ascii_control()) {
        let c = value
            .get(i..)
            .and_then(|s| s.chars().next())
            .unwrap_or('\u{fffd}');
        let cset = info
            .components
            .iter()
            .map(|c| cset_name(c.cset))
            .next()
            .unwrap_or("allowed");
        return Err(Gs1Error::with_ai(
            Gs1ErrorKind::InvalidCharacter,
            ai,
            map.at(i),
            format!(
                "AI ({ai}): character {} at position {} is not {cset}",
                show_char(c),
                map.at(i)
            ),
        ));
    }
    let n = b.len();
    if n > info.max_length {
        return Err(Gs1Error::with_ai(
            Gs1ErrorKind::TooLong,
            ai,
            map.at(0),
            format!(
                "AI ({ai}): value at position {} is too long: {n} characters, at most {} allowed",
                map.at(0),
                info.max_length
            ),
        ));
    }
    if n < info.min_length {
        let expected = match info.fixed_length {
            Some(f) => format!("expected {f}"),
            None => format!("at least {}", info.min_length),
        };
        return Err(Gs1Error::with_ai(
            Gs1ErrorKind::TooShort,
            ai,
            map.at(0),
            format!(
                "AI ({ai}): value {value} at position {} is too short: {n} characters, {expected}",
                map.at(0)
            ),
        ));
    }
    let mut pos = 0;
    for comp in &info.components {
        let remaining = n - pos;
        if remaining == 0 && comp.optional {
            break;
        }
        let take = remaining.min(comp.max);
        if take < comp.min {
            return Err(Gs1Error::with_ai(
                Gs1ErrorKind::TooShort,
                ai,
                map.at(pos),
                format!(
                    "AI ({ai}): value {value} is too short: the part at position {} needs {} characters{}",
                    map.at(pos),
                    comp.min,
                    if comp.min == comp.max {
                        String::new()
                    } else {
                        " or more".to_string()
                    }
                ),
            ));
        }
        let Some(part) = value.get(pos..pos + take) else {
            break;
        };
        if let Some(i) = first_outside(comp.cset, part.as_bytes()) {
            let c = part
                .get(i..)
                .and_then(|s| s.chars().next())
                .unwrap_or('\u{fffd}');
            return Err(Gs1Error::with_ai(
                Gs1ErrorKind::InvalidCharacter,
                ai,
                map.at(pos + i),
                format!(
                    "AI ({ai}): character {} at position {} is not {}",
                    show_char(c),
                    map.at(pos + i),
                    cset_name(comp.cset)
                ),
            ));
        }
        for linter in &comp.linters {
            if let Err(f) = linters::run(linter, part, year) {
                // Dates are reported at their start, with the reason naming the bad field.
                let at = if f.kind == Gs1ErrorKind::InvalidDate {
                    map.at(pos)
                } else {
                    map.at(pos + f.offset.min(take.saturating_sub(1)))
                };
                let reason = f.reason.map(|r| format!(": {r}")).unwrap_or_default();
                return Err(Gs1Error::with_ai(
                    f.kind,
                    ai,
                    at,
                    format!("AI ({ai}): {} at position {at}{reason}", f.what),
                ));
            }
        }
        pos += take;
    }
    if pos < n {
        return Err(Gs1Error::with_ai(
            Gs1ErrorKind::TooLong,
            ai,
            map.at(pos),
            format!(
                "AI ({ai}): unexpected data at position {} after the value's last component",
                map.at(pos)
            ),
        ));
    }
    Ok(())
}

/// Reads the AI at `p` in `data` (an element string). Returns the dictionary entry.
fn read_ai(data: &str, p: usize, base: usize) -> Result<&'static AiInfo, Gs1Error> {
    let b = data.as_bytes();
    let at = base + p;
    let digits = b
        .get(p..)
        .unwrap_or(&[])
        .iter()
        .take(4)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits < 2 {
        let found = data
            .get(p..)
            .and_then(|s| s.chars().next())
            .map_or_else(|| "the end of the data".to_string(), show_char);
        return Err(Gs1Error::new(
            Gs1ErrorKind::Syntax,
            at,
            format!("expected an AI (2 to 4 digits) at position {at}, found {found}"),
        ));
    }
    for len in 2..=digits {
        if let Some(info) = b.get(p..p + len).and_then(lookup) {
            return Ok(info);
        }
    }
    let len = b
        .get(p..)
        .and_then(|s| TABLE.length_for_prefix(s))
        .unwrap_or(2)
        .min(digits);
    let ai = data.get(p..p + len).unwrap_or("");
    Err(Gs1Error::with_ai(
        Gs1ErrorKind::UnknownAi,
        ai,
        at,
        format!("unknown AI ({ai}) at position {at}"),
    ))
}

/// Parses an unbracketed element string (GS as FNC1 separator, optional leading GS) without
/// checking the message-level rules.
pub(crate) fn split_element_string(
    data: &str,
    base: usize,
    year: i32,
) -> Result<Vec<Parsed>, Gs1Error> {
    let b = data.as_bytes();
    let mut p = usize::from(b.first() == Some(&GS));
    if p >= b.len() {
        return Err(Gs1Error::new(Gs1ErrorKind::Empty, base, "no GS1 data"));
    }
    let mut out = Vec::with_capacity(8);
    while p < b.len() {
        if b.get(p) == Some(&GS) {
            return Err(Gs1Error::new(
                Gs1ErrorKind::Syntax,
                base + p,
                format!("unexpected GS at position {}: expected an AI", base + p),
            ));
        }
        let ai_pos = p;
        let info = read_ai(data, p, base)?;
        p += info.ai.len();
        let start = p;
        let end = if info.predefined_length {
            let want = info.max_length;
            let mut e = start;
            while e < b.len() && e - start < want && b.get(e) != Some(&GS) {
                e += 1;
            }
            e
        } else {
            b.get(start..)
                .and_then(|s| s.iter().position(|c| *c == GS))
                .map_or(b.len(), |i| start + i)
        };
        let value = match data.get(start..end) {
            Some(v) => v,
            None => {
                // `end` fell inside a multi-byte character: report the first non-ASCII one.
                let i = b
                    .get(start..end)
                    .and_then(|s| s.iter().position(|c| !c.is_ascii()))
                    .map_or(start, |i| start + i);
                let c = data
                    .get(i..)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('\u{fffd}');
                let ai = info.ai.as_str();
                return Err(Gs1Error::with_ai(
                    Gs1ErrorKind::InvalidCharacter,
                    ai,
                    base + i,
                    format!(
                        "AI ({ai}): character {} at position {} is not allowed",
                        show_char(c),
                        base + i
                    ),
                ));
            }
        };
        if info.predefined_length && value.len() < info.max_length {
            let ai = info.ai.as_str();
            let why = if end < b.len() {
                "a GS"
            } else {
                "the end of the data"
            };
            return Err(Gs1Error::with_ai(
                Gs1ErrorKind::TooShort,
                ai,
                base + start,
                format!(
                    "AI ({ai}): value {value} at position {} is too short: {} characters before {why}, expected {}",
                    base + start,
                    value.len(),
                    info.max_length
                ),
            ));
        }
        validate_value(info, value, PosMap::Offset(base + start), year)?;
        p = end;
        if b.get(p) == Some(&GS) {
            p += 1;
        }
        out.push(Parsed {
            info,
            value: value.to_string(),
            pos: base + ai_pos,
        });
    }
    Ok(out)
}

/// True when `b[p..]` starts with `(` + 2 to 4 digits + `)`.
pub(crate) fn ai_bracket_at(b: &[u8], p: usize) -> Option<usize> {
    if b.get(p) != Some(&b'(') {
        return None;
    }
    let digits = b
        .get(p + 1..)?
        .iter()
        .take(5)
        .take_while(|c| c.is_ascii_digit())
        .count();
    ((2..=4).contains(&digits) && b.get(p + 1 + digits) == Some(&b')')).then_some(digits)
}

/// Parses the bracketed (HRI) form `(01)09506000134352(10)ABC`. A `(` inside a value is data
/// unless it starts `(` + 2-4 digits + `)`; write `\(` for a literal `(` in that position.
pub(crate) fn split_bracketed(data: &str, base: usize, year: i32) -> Result<Vec<Parsed>, Gs1Error> {
    let b = data.as_bytes();
    if b.is_empty() {
        return Err(Gs1Error::new(Gs1ErrorKind::Empty, base, "no GS1 data"));
    }
    let mut out = Vec::with_capacity(8);
    let mut p = 0;
    let mut map: Vec<usize> = Vec::new();
    while p < b.len() {
        let Some(digits) = ai_bracket_at(b, p) else {
            let at = base + p;
            return Err(Gs1Error::new(
                Gs1ErrorKind::Syntax,
                at,
                format!("expected '(' followed by an AI of 2 to 4 digits and ')' at position {at}"),
            ));
        };
        let ai_bytes = b.get(p + 1..p + 1 + digits).unwrap_or(&[]);
        let Some(info) = lookup(ai_bytes) else {
            let ai = data.get(p + 1..p + 1 + digits).unwrap_or("");
            let at = base + p + 1;
            return Err(Gs1Error::with_ai(
                Gs1ErrorKind::UnknownAi,
                ai,
                at,
                format!("unknown AI ({ai}) at position {at}"),
            ));
        };
        let ai_pos = base + p + 1;
        let start = p + digits + 2;
        let mut q = start;
        let mut escaped = false;
        while q < b.len() {
            match b.get(q) {
                Some(b'\\') if b.get(q + 1) == Some(&b'(') => {
                    escaped = true;
                    q += 2;
                }
                Some(b'(') if ai_bracket_at(b, q).is_some() => break,
                _ => q += 1,
            }
        }
        let raw = data.get(start..q).unwrap_or("");
        if raw.is_empty() {
            let ai = info.ai.as_str();
            return Err(Gs1Error::with_ai(
                Gs1ErrorKind::TooShort,
                ai,
                base + start,
                format!("AI ({ai}): empty value at position {}", base + start),
            ));
        }
        if escaped {
            map.clear();
            let mut value = String::with_capacity(raw.len());
            let mut chars = raw.char_indices().peekable();
            while let Some((i, c)) = chars.next() {
                if c == '\\' && matches!(chars.peek(), Some((_, '('))) {
                    continue;
                }
                for _ in 0..c.len_utf8() {
                    map.push(base + start + i);
                }
                value.push(c);
            }
            validate_value(info, &value, PosMap::Table(&map), year)?;
            out.push(Parsed {
                info,
                value,
                pos: ai_pos,
            });
        } else {
            validate_value(info, raw, PosMap::Offset(base + start), year)?;
            out.push(Parsed {
                info,
                value: raw.to_string(),
                pos: ai_pos,
            });
        }
        p = q;
    }
    Ok(out)
}

/// Message-level checks over all elements: repeated AIs must agree (identical repeats are
/// dropped), `ex=` pairs must not occur, `req=` associations must be satisfied, and a digital
/// signature (8030) needs the serial component of (253), (255) and (8003).
pub(crate) fn check_message(parsed: &mut Vec<Parsed>, dl: bool) -> Result<(), Gs1Error> {
    // Repeats.
    let mut i = 0;
    while i < parsed.len() {
        let mut j = i + 1;
        while j < parsed.len() {
            let (a, c) = (&parsed[i], &parsed[j]);
            if std::ptr::eq(a.info, c.info) {
                let ai = a.info.ai.as_str();
                if dl {
                    return Err(Gs1Error::with_ai(
                        Gs1ErrorKind::DuplicateAi,
                        ai,
                        c.pos,
                        format!(
                            "AI ({ai}) appears twice in the Digital Link (at positions {} and {})",
                            a.pos, c.pos
                        ),
                    ));
                }
                if a.value != c.value {
                    return Err(Gs1Error::with_ai(
                        Gs1ErrorKind::DuplicateAi,
                        ai,
                        c.pos,
                        format!(
                            "AI ({ai}) appears twice with different values: {} at position {} and {} at position {}",
                            a.value, a.pos, c.value, c.pos
                        ),
                    ));
                }
                parsed.remove(j);
            } else {
                j += 1;
            }
        }
        i += 1;
    }
    // Invalid pairs.
    for a in parsed.iter() {
        for pat in &a.info.excludes {
            if let Some(c) = parsed
                .iter()
                .find(|c| !std::ptr::eq(c.info, a.info) && pat.matches(&c.info.ai))
            {
                let ai = a.info.ai.as_str();
                return Err(Gs1Error::with_ai(
                    Gs1ErrorKind::InvalidCombination,
                    ai,
                    c.pos.max(a.pos),
                    format!("AI ({ai}) may not be used together with AI ({})", c.info.ai),
                ));
            }
        }
    }
    // Mandatory associations.
    for a in parsed.iter() {
        for group in &a.info.requires {
            let ok = group.iter().any(|alt| {
                alt.iter()
                    .all(|pat| parsed.iter().any(|c| pat.matches(&c.info.ai)))
            });
            if !ok {
                let ai = a.info.ai.as_str();
                let alts: Vec<String> = group
                    .iter()
                    .map(|alt| {
                        alt.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("+")
                    })
                    .collect();
                let what = if alts.len() == 1 {
                    alts.join("")
                } else {
                    format!("one of {}", alts.join(", "))
                };
                return Err(Gs1Error::with_ai(
                    Gs1ErrorKind::MissingAssociation,
                    ai,
                    a.pos,
                    format!("AI ({ai}) requires {what}"),
                ));
            }
        }
    }
    // A digital signature needs serialised keys.
    if parsed.iter().any(|c| c.info.ai == "8030") {
        for c in parsed.iter() {
            let min = match c.info.ai.as_str() {
                "253" | "255" => 14,
                "8003" => 15,
                _ => continue,
            };
            if c.value.len() < min {
                let ai = c.info.ai.as_str();
                return Err(Gs1Error::with_ai(
                    Gs1ErrorKind::InvalidCombination,
                    ai,
                    c.pos,
                    format!("AI (8030) requires AI ({ai}) to carry its optional serial component"),
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn to_elements(parsed: Vec<Parsed>) -> Vec<Element> {
    parsed
        .into_iter()
        .map(|p| Element {
            ai: p.info.ai.clone(),
            title: p.info.title,
            value: p.value,
        })
        .collect()
}

/// Renders elements as an element string: GS after every value whose AI is not of predefined
/// length, except after the last one.
pub(crate) fn render_element_string(elements: &[Element]) -> String {
    let mut s = String::with_capacity(
        elements
            .iter()
            .map(|e| e.ai.len() + e.value.len() + 1)
            .sum(),
    );
    for (i, e) in elements.iter().enumerate() {
        s.push_str(&e.ai);
        s.push_str(&e.value);
        if i + 1 < elements.len() && !predefined_by_prefix(&e.ai) {
            s.push(char::from(GS));
        }
    }
    s
}

/// Renders elements in bracketed form, escaping `(` in values as `\(`.
pub(crate) fn render_bracketed(elements: &[Element]) -> String {
    let mut s = String::with_capacity(
        elements
            .iter()
            .map(|e| e.ai.len() + e.value.len() + 2)
            .sum(),
    );
    for e in elements {
        s.push('(');
        s.push_str(&e.ai);
        s.push(')');
        for c in e.value.chars() {
            if c == '(' {
                s.push('\\');
            }
            s.push(c);
        }
    }
    s
}
