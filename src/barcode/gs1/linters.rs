//! Content checks ("linters") named by the GS1 Barcode Syntax Dictionary, and the character
//! sets. Written for Depot from the GS1 General Specifications rules; the code lists (ISO 3166,
//! ISO 4217, package types, AIDC media types) are transcribed from the lists published with the
//! GS1 Barcode Syntax Tests (see `ATTRIBUTION.md`).
//!
//! Every function here receives one component of an AI value that has already been checked to
//! be ASCII in the component's character set.

use std::sync::LazyLock;

use super::error::Gs1ErrorKind;
use super::table::{Cset, Linter};

/// A failed check: `offset` is relative to the start of the component.
#[derive(Debug)]
pub(crate) struct LintFail {
    pub offset: usize,
    pub kind: Gs1ErrorKind,
    /// What is wrong, e.g. "invalid date 201332" or "check digit is 3, expected 2".
    pub what: String,
    /// Why, when useful: "month 13".
    pub reason: Option<String>,
}

fn fail(offset: usize, kind: Gs1ErrorKind, what: impl Into<String>) -> Result<(), LintFail> {
    Err(LintFail {
        offset,
        kind,
        what: what.into(),
        reason: None,
    })
}

fn fail_why(
    offset: usize,
    kind: Gs1ErrorKind,
    what: impl Into<String>,
    reason: impl Into<String>,
) -> Result<(), LintFail> {
    Err(LintFail {
        offset,
        kind,
        what: what.into(),
        reason: Some(reason.into()),
    })
}

/// CSET 82 (GS1 General Specifications figure 7.11-1): no space, no `# $ @ [ \ ] ^ \` { | } ~`.
pub(crate) fn in_cset82(b: u8) -> bool {
    matches!(b,
        b'!' | b'"' | b'%'..=b'?' | b'A'..=b'Z' | b'_' | b'a'..=b'z')
}

/// CSET 39: `# - /`, digits, upper-case letters.
pub(crate) fn in_cset39(b: u8) -> bool {
    matches!(b, b'#' | b'-' | b'/' | b'0'..=b'9' | b'A'..=b'Z')
}

/// CSET 64 (base64url), without padding.
pub(crate) fn in_cset64(b: u8) -> bool {
    matches!(b, b'-' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z')
}

/// Index of the first byte of `s` that is not in `cset`, if any. `=` is accepted as trailing
/// padding (at most two) for CSET 64.
pub(crate) fn first_outside(cset: Cset, s: &[u8]) -> Option<usize> {
    match cset {
        Cset::Numeric => s.iter().position(|b| !b.is_ascii_digit()),
        Cset::Cset82 => s.iter().position(|b| !in_cset82(*b)),
        Cset::Cset39 => s.iter().position(|b| !in_cset39(*b)),
        Cset::Cset64 => {
            let body = s.iter().rposition(|b| *b != b'=').map_or(0, |i| i + 1);
            if s.len() - body > 2 {
                return Some(body);
            }
            s.get(..body)?.iter().position(|b| !in_cset64(*b))
        }
    }
}

pub(crate) fn cset_name(cset: Cset) -> &'static str {
    match cset {
        Cset::Numeric => "a digit",
        Cset::Cset82 => "in CSET 82",
        Cset::Cset39 => "in CSET 39",
        Cset::Cset64 => "in CSET 64 (base64url)",
    }
}

/// The GS1 mod-10 check digit for `digits` (the data without its check digit): weights 3, 1, 3...
/// from the right.
pub fn mod10_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(d.wrapping_sub(b'0')) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// True when `s` is all digits and its last digit is the mod-10 check digit of the others.
pub fn has_valid_check_digit(s: &str) -> bool {
    let b = s.as_bytes();
    match b.split_last() {
        Some((last, body)) if b.iter().all(u8::is_ascii_digit) => {
            mod10_check_digit(body) == last - b'0'
        }
        _ => false,
    }
}

/// The century window of GS1 General Specifications §7.12: a two-digit year is at most 49 years
/// in the past and 50 in the future, relative to `current_year`.
pub(crate) fn full_year(yy: i32, current_year: i32) -> i32 {
    let cur = current_year.rem_euclid(100);
    let century = current_year - cur;
    let diff = yy - cur;
    if diff >= 51 {
        century - 100 + yy
    } else if diff > -50 {
        century + yy
    } else {
        century + 100 + yy
    }
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn num(s: &[u8]) -> u32 {
    s.iter().fold(0u32, |n, b| {
        n.wrapping_mul(10)
            .wrapping_add(u32::from(b.wrapping_sub(b'0')))
    })
}

/// Checks `yyyy`/`mm`/`dd` (already digits). `dd = 00` is accepted when `day_zero` (the
/// `yymmd0` rule: last day of the month).
fn check_ymd(
    s: &str,
    year: i32,
    mm: u32,
    dd: u32,
    mm_off: usize,
    day_zero: bool,
) -> Result<(), LintFail> {
    let what = || format!("invalid date {s}");
    if !(1..=12).contains(&mm) {
        return fail_why(
            mm_off,
            Gs1ErrorKind::InvalidDate,
            what(),
            format!("month {mm:02}"),
        );
    }
    if dd == 0 {
        if day_zero {
            return Ok(());
        }
        return fail_why(
            mm_off + 2,
            Gs1ErrorKind::InvalidDate,
            what(),
            "day 00 is not allowed for this AI",
        );
    }
    let max = days_in_month(year, mm);
    if dd > max {
        return fail_why(
            mm_off + 2,
            Gs1ErrorKind::InvalidDate,
            what(),
            format!("day {dd:02} ({year}-{mm:02} has {max} days)"),
        );
    }
    Ok(())
}

fn check_yymmdd(s: &str, current_year: i32, day_zero: bool) -> Result<(), LintFail> {
    let b = s.as_bytes();
    if b.len() < 6 {
        return fail(
            0,
            Gs1ErrorKind::InvalidDate,
            format!("invalid date {s}: too short"),
        );
    }
    let year = full_year(num(&b[..2]) as i32, current_year);
    check_ymd(s, year, num(&b[2..4]), num(&b[4..6]), 2, day_zero)
}

fn check_yyyymmdd(s: &str, day_zero: bool) -> Result<(), LintFail> {
    let b = s.as_bytes();
    if b.len() < 8 {
        return fail(
            0,
            Gs1ErrorKind::InvalidDate,
            format!("invalid date {s}: too short"),
        );
    }
    check_ymd(
        s,
        num(&b[..4]) as i32,
        num(&b[4..6]),
        num(&b[6..8]),
        4,
        day_zero,
    )
}

/// Converts a YYMMDD value (DD = 00 meaning the last day of the month) to a date.
pub(crate) fn yymmdd_to_date(s: &str, current_year: i32) -> Option<time::Date> {
    let b = s.as_bytes();
    if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year = full_year(num(&b[..2]) as i32, current_year);
    let month = num(&b[2..4]);
    let mut day = num(&b[4..6]);
    if day == 0 {
        day = days_in_month(year, month);
    }
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    time::Date::from_calendar_date(year, month, u8::try_from(day).ok()?).ok()
}

fn check_range(s: &str, off: usize, max: u32, name: &str) -> Result<(), LintFail> {
    let v = num(s.as_bytes().get(off..off + 2).unwrap_or(b"99"));
    if s.len() < off + 2 || v > max {
        return fail(
            off,
            Gs1ErrorKind::InvalidValue,
            format!("invalid {name} in {s} (expected 00 to {max:02})"),
        );
    }
    Ok(())
}

/// Runs one linter on one component.
pub(crate) fn run(linter: &Linter, s: &str, current_year: i32) -> Result<(), LintFail> {
    use Gs1ErrorKind::{CheckDigit, InvalidValue};
    let b = s.as_bytes();
    match linter {
        Linter::Csum => {
            let Some((last, body)) = b.split_last() else {
                return fail(0, CheckDigit, "missing check digit");
            };
            let expected = mod10_check_digit(body);
            let found = last.wrapping_sub(b'0');
            if expected != found {
                return fail(
                    b.len() - 1,
                    CheckDigit,
                    format!("check digit is {found}, expected {expected}"),
                );
            }
            Ok(())
        }
        Linter::CsumAlpha => csum_alpha(b),
        Linter::Yymmd0 => check_yymmdd(s, current_year, true),
        Linter::Yymmdd => check_yymmdd(s, current_year, false),
        Linter::Yyyymmd0 => check_yyyymmdd(s, true),
        Linter::Yyyymmdd => check_yyyymmdd(s, false),
        Linter::Yymmddhh => {
            check_yymmdd(s.get(..6).unwrap_or(s), current_year, false)?;
            check_range(s, 6, 23, "hour")
        }
        Linter::Hh => check_range(s, 0, 23, "hour"),
        Linter::Mi => check_range(s, 0, 59, "minute"),
        Linter::Ss => check_range(s, 0, 59, "second"),
        Linter::Hhmi | Linter::Hhmm => {
            check_range(s, 0, 23, "hour")?;
            check_range(s, 2, 59, "minute")
        }
        Linter::Mmoptss => {
            check_range(s, 0, 59, "minute")?;
            if b.len() > 2 {
                check_range(s, 2, 59, "second")?;
            }
            Ok(())
        }
        Linter::Iso3166 => {
            if !is_iso3166(b) {
                return fail(
                    0,
                    InvalidValue,
                    format!("{s} is not an ISO 3166 country code"),
                );
            }
            Ok(())
        }
        Linter::Iso3166999 => {
            if b != b"999" && !is_iso3166(b) {
                return fail(
                    0,
                    InvalidValue,
                    format!("{s} is not an ISO 3166 country code or 999"),
                );
            }
            Ok(())
        }
        Linter::Iso3166List => {
            if b.is_empty() || !b.len().is_multiple_of(3) {
                return fail(
                    0,
                    InvalidValue,
                    format!("{s} is not a list of 3-digit country codes"),
                );
            }
            for (i, cc) in b.chunks(3).enumerate() {
                if !is_iso3166(cc) {
                    return fail(
                        i * 3,
                        InvalidValue,
                        format!(
                            "{} is not an ISO 3166 country code",
                            String::from_utf8_lossy(cc)
                        ),
                    );
                }
            }
            Ok(())
        }
        Linter::Iso3166Alpha2 => {
            if ISO3166_ALPHA2.binary_search(&s).is_err() {
                return fail(
                    0,
                    InvalidValue,
                    format!("{s} is not an ISO 3166 alpha-2 country code"),
                );
            }
            Ok(())
        }
        Linter::Iso4217 => {
            if b.len() != 3 || ISO4217.binary_search(&(num(b) as u16)).is_err() {
                return fail(
                    0,
                    InvalidValue,
                    format!("{s} is not an ISO 4217 currency code"),
                );
            }
            Ok(())
        }
        Linter::Iso5218 => one_of(
            s,
            &["0", "1", "2", "9"],
            "an ISO 5218 sex code (0, 1, 2 or 9)",
        ),
        Linter::Latitude => coordinate(s, 1_800_000_000, "latitude"),
        Linter::Longitude => coordinate(s, 3_600_000_000, "longitude"),
        Linter::Pcenc => {
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    let ok = matches!((b.get(i + 1), b.get(i + 2)),
                        (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit());
                    if !ok {
                        return fail(i, InvalidValue, "invalid percent-encoding sequence");
                    }
                    i += 3;
                } else {
                    i += 1;
                }
            }
            Ok(())
        }
        Linter::Hyphen => {
            if let Some(i) = b.iter().position(|c| *c != b'-') {
                return fail(i, InvalidValue, "only '-' is allowed here");
            }
            Ok(())
        }
        Linter::NonZero => {
            if b.iter().all(|c| *c == b'0') {
                return fail(0, InvalidValue, format!("{s} must not be zero"));
            }
            Ok(())
        }
        Linter::Zero => {
            if let Some(i) = b.iter().position(|c| *c != b'0') {
                return fail(i, InvalidValue, format!("{s} must be zero"));
            }
            Ok(())
        }
        Linter::NoZeroPrefix => {
            if b.first() == Some(&b'0') {
                return fail(0, InvalidValue, format!("{s} must not start with 0"));
            }
            Ok(())
        }
        Linter::YesNo => one_of(s, &["0", "1"], "0 or 1"),
        Linter::Winding => one_of(s, &["0", "1", "9"], "a winding direction (0, 1 or 9)"),
        Linter::HasNonDigit => {
            if b.iter().all(u8::is_ascii_digit) {
                return fail(
                    0,
                    InvalidValue,
                    format!("{s} must contain a non-digit character"),
                );
            }
            Ok(())
        }
        Linter::PieceOfTotal => piece_of_total(s),
        Linter::PosInSeqSlash => pos_in_seq_slash(s),
        Linter::Iban => iban(s),
        Linter::ImporterIdx => {
            if b.len() != 1
                || !matches!(b[0], b'-' | b'0'..=b'9' | b'A'..=b'Z' | b'_' | b'a'..=b'z')
            {
                return fail(
                    0,
                    InvalidValue,
                    format!("{s} is not an importer index character"),
                );
            }
            Ok(())
        }
        Linter::MediaType => {
            let v = num(b);
            if b.len() != 2 || !((1..=10).contains(&v) || (80..=99).contains(&v)) {
                return fail(0, InvalidValue, format!("{s} is not an AIDC media type"));
            }
            Ok(())
        }
        Linter::PackageType => {
            if PACKAGE_TYPES.binary_search(&s).is_err() {
                return fail(0, InvalidValue, format!("{s} is not a package type code"));
            }
            Ok(())
        }
        // Documented no-ops, see `Linter`.
        Linter::Gcppos1
        | Linter::Gcppos2
        | Linter::CouponCode
        | Linter::CouponPosOffer
        | Linter::Unknown(_) => Ok(()),
    }
}

fn one_of(s: &str, allowed: &[&str], what: &str) -> Result<(), LintFail> {
    if allowed.contains(&s) {
        Ok(())
    } else {
        fail(0, Gs1ErrorKind::InvalidValue, format!("{s} is not {what}"))
    }
}

fn coordinate(s: &str, max: u64, name: &str) -> Result<(), LintFail> {
    let v: Option<u64> = s.parse().ok();
    match v {
        Some(v) if s.len() == 10 && v <= max => Ok(()),
        _ => fail(
            0,
            Gs1ErrorKind::InvalidValue,
            format!("{s} is not a valid {name} (10 digits, at most {max})"),
        ),
    }
}

fn piece_of_total(s: &str) -> Result<(), LintFail> {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(2) {
        return fail(
            0,
            Gs1ErrorKind::InvalidValue,
            "piece/total must have an even length",
        );
    }
    let (piece, total) = b.split_at(b.len() / 2);
    if piece.iter().all(|c| *c == b'0') {
        return fail(
            0,
            Gs1ErrorKind::InvalidValue,
            "piece number must not be zero",
        );
    }
    if total.iter().all(|c| *c == b'0') {
        return fail(
            piece.len(),
            Gs1ErrorKind::InvalidValue,
            "total number of pieces must not be zero",
        );
    }
    if piece > total {
        return fail(
            0,
            Gs1ErrorKind::InvalidValue,
            format!(
                "piece number {} exceeds the total {}",
                num(piece),
                num(total)
            ),
        );
    }
    Ok(())
}

fn pos_in_seq_slash(s: &str) -> Result<(), LintFail> {
    let bad = || {
        fail(
            0,
            Gs1ErrorKind::InvalidValue,
            format!("{s} is not of the form <position>/<end>"),
        )
    };
    let Some((pos, end)) = s.split_once('/') else {
        return bad();
    };
    let digits = |x: &str| !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
    if !digits(pos) || !digits(end) {
        return bad();
    }
    if pos.starts_with('0') {
        return fail(
            0,
            Gs1ErrorKind::InvalidValue,
            format!("{pos} must not start with 0"),
        );
    }
    if end.starts_with('0') {
        return fail(
            pos.len() + 1,
            Gs1ErrorKind::InvalidValue,
            format!("{end} must not start with 0"),
        );
    }
    if (pos.len(), pos) > (end.len(), end) {
        return fail(
            0,
            Gs1ErrorKind::InvalidValue,
            format!("position {pos} exceeds end {end}"),
        );
    }
    Ok(())
}

fn iban(s: &str) -> Result<(), LintFail> {
    let b = s.as_bytes();
    if b.len() < 4 {
        return fail(0, Gs1ErrorKind::InvalidValue, "IBAN is too short");
    }
    if ISO3166_ALPHA2
        .binary_search(&s.get(..2).unwrap_or(""))
        .is_err()
    {
        return fail(
            0,
            Gs1ErrorKind::InvalidValue,
            "IBAN does not start with a country code",
        );
    }
    if b.len() > 34 {
        return fail(
            0,
            Gs1ErrorKind::InvalidValue,
            "IBAN is longer than 34 characters",
        );
    }
    if b.len() <= 10 {
        return fail(0, Gs1ErrorKind::InvalidValue, "IBAN is too short");
    }
    let mut sum: u32 = 0;
    for i in (4..b.len()).chain(0..4) {
        let c = b[i];
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => {
                return fail(
                    i,
                    Gs1ErrorKind::InvalidValue,
                    "IBAN may only contain digits and A-Z",
                );
            }
        };
        sum = if v < 10 { sum * 10 + v } else { sum * 100 + v } % 97;
    }
    if sum != 1 {
        return fail(2, Gs1ErrorKind::CheckDigit, "IBAN check digits are wrong");
    }
    Ok(())
}

/// GS1 alphanumeric check character pair (GS1 General Specifications §7.9.5).
fn csum_alpha(b: &[u8]) -> Result<(), LintFail> {
    const CSET82: &[u8] =
        b"!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
    const CSET32: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    if b.len() < 2 {
        return fail(
            0,
            Gs1ErrorKind::CheckDigit,
            "too short for a check character pair",
        );
    }
    let data_len = b.len() - 2;
    let primes = &*PRIMES;
    if data_len > primes.len() {
        return fail(
            0,
            Gs1ErrorKind::CheckDigit,
            "too long for a check character pair",
        );
    }
    let mut sum: u32 = 0;
    for (i, c) in b[..data_len].iter().enumerate() {
        let Some(v) = CSET82.iter().position(|x| x == c) else {
            return fail(
                i,
                Gs1ErrorKind::InvalidCharacter,
                "character not in CSET 82",
            );
        };
        sum += v as u32 * primes[data_len - 1 - i];
    }
    sum %= 1021;
    let expected = [CSET32[(sum >> 5) as usize], CSET32[(sum & 31) as usize]];
    for (k, c) in b[data_len..].iter().enumerate() {
        if !CSET32.contains(c) {
            return fail(
                data_len + k,
                Gs1ErrorKind::CheckDigit,
                format!("check character '{}' is not in CSET 32", char::from(*c)),
            );
        }
    }
    if b[data_len..] != expected {
        return fail(
            data_len,
            Gs1ErrorKind::CheckDigit,
            format!(
                "check characters are {}, expected {}",
                String::from_utf8_lossy(&b[data_len..]),
                String::from_utf8_lossy(&expected)
            ),
        );
    }
    Ok(())
}

/// The first 97 primes: weights for the check character pair (values up to 99 characters).
static PRIMES: LazyLock<Vec<u32>> = LazyLock::new(|| {
    let mut p: Vec<u32> = Vec::with_capacity(97);
    let mut n = 2u32;
    while p.len() < 97 {
        if p.iter()
            .take_while(|q| *q * *q <= n)
            .all(|q| !n.is_multiple_of(*q))
        {
            p.push(n);
        }
        n += 1;
    }
    p
});

fn is_iso3166(b: &[u8]) -> bool {
    b.len() == 3
        && b.iter().all(u8::is_ascii_digit)
        && ISO3166.binary_search(&(num(b) as u16)).is_ok()
}

/// ISO 3166-1 numeric country codes.
pub(crate) const ISO3166: &[u16] = &[
    4, 8, 10, 12, 16, 20, 24, 28, 31, 32, 36, 40, 44, 48, 50, 51, 52, 56, 60, 64, 68, 70, 72, 74,
    76, 84, 86, 90, 92, 96, 100, 104, 108, 112, 116, 120, 124, 132, 136, 140, 144, 148, 152, 156,
    158, 162, 166, 170, 174, 175, 178, 180, 184, 188, 191, 192, 196, 203, 204, 208, 212, 214, 218,
    222, 226, 231, 232, 233, 234, 238, 239, 242, 246, 248, 250, 254, 258, 260, 262, 266, 268, 270,
    275, 276, 288, 292, 296, 300, 304, 308, 312, 316, 320, 324, 328, 332, 334, 336, 340, 344, 348,
    352, 356, 360, 364, 368, 372, 376, 380, 384, 388, 392, 398, 400, 404, 408, 410, 414, 417, 418,
    422, 426, 428, 430, 434, 438, 440, 442, 446, 450, 454, 458, 462, 466, 470, 474, 478, 480, 484,
    492, 496, 498, 499, 500, 504, 508, 512, 516, 520, 524, 528, 531, 533, 534, 535, 540, 548, 554,
    558, 562, 566, 570, 574, 578, 580, 581, 583, 584, 585, 586, 591, 598, 600, 604, 608, 612, 616,
    620, 624, 626, 630, 634, 638, 642, 643, 646, 652, 654, 659, 660, 662, 663, 666, 670, 674, 678,
    682, 686, 688, 690, 694, 702, 703, 704, 705, 706, 710, 716, 724, 728, 729, 732, 740, 744, 748,
    752, 756, 760, 762, 764, 768, 772, 776, 780, 784, 788, 792, 795, 796, 798, 800, 804, 807, 818,
    826, 831, 832, 833, 834, 840, 850, 854, 858, 860, 862, 876, 882, 887, 894,
];

/// ISO 4217 numeric currency codes.
pub(crate) const ISO4217: &[u16] = &[
    8, 12, 32, 36, 44, 48, 50, 51, 52, 60, 64, 68, 72, 84, 90, 96, 104, 108, 116, 124, 132, 136,
    144, 152, 156, 170, 174, 188, 191, 192, 203, 208, 214, 222, 230, 232, 238, 242, 262, 270, 292,
    320, 324, 328, 332, 340, 344, 348, 352, 356, 360, 364, 368, 376, 388, 392, 398, 400, 404, 408,
    410, 414, 417, 418, 422, 426, 430, 434, 446, 454, 458, 462, 480, 484, 496, 498, 504, 512, 516,
    524, 532, 533, 548, 554, 558, 566, 578, 586, 590, 598, 600, 604, 608, 634, 643, 646, 654, 682,
    690, 694, 702, 704, 706, 710, 728, 748, 752, 756, 760, 764, 776, 780, 784, 788, 800, 807, 818,
    826, 834, 840, 858, 860, 882, 886, 901, 925, 927, 928, 929, 930, 931, 932, 933, 934, 936, 938,
    940, 941, 943, 944, 946, 947, 948, 949, 950, 951, 952, 953, 955, 956, 957, 958, 959, 960, 961,
    962, 963, 964, 965, 967, 968, 969, 970, 971, 972, 973, 975, 976, 977, 978, 979, 980, 981, 984,
    985, 986, 990, 994, 997, 999,
];

/// ISO 3166-1 alpha-2 country codes.
pub(crate) const ISO3166_ALPHA2: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// PackageTypeCode list (UN/ECE Recommendation 21 based), sorted.
pub(crate) const PACKAGE_TYPES: &[&str] = &[
    "1A", "1B", "1D", "1F", "1G", "1W", "200", "201", "202", "203", "204", "205", "206", "210",
    "211", "212", "2C", "3A", "3H", "43", "44", "4A", "4B", "4C", "4D", "4F", "4G", "4H", "5H",
    "5L", "5M", "6H", "6P", "7A", "7B", "8", "8A", "8B", "8C", "9", "AA", "AB", "AC", "AD", "AF",
    "AG", "AH", "AI", "AJ", "AL", "AM", "AP", "APE", "AT", "AV", "B4", "BB", "BC", "BD", "BE",
    "BF", "BG", "BGE", "BH", "BI", "BJ", "BK", "BL", "BM", "BME", "BN", "BO", "BP", "BQ", "BR",
    "BRI", "BS", "BT", "BU", "BV", "BW", "BX", "BY", "BZ", "CA", "CB", "CBL", "CC", "CCE", "CD",
    "CE", "CF", "CG", "CH", "CI", "CJ", "CK", "CL", "CM", "CN", "CO", "CP", "CQ", "CR", "CS", "CT",
    "CU", "CV", "CW", "CX", "CY", "CZ", "DA", "DB", "DC", "DG", "DH", "DI", "DJ", "DK", "DL", "DM",
    "DN", "DP", "DPE", "DR", "DS", "DT", "DU", "DV", "DW", "DX", "DY", "E1", "E2", "E3", "EC",
    "ED", "EE", "EF", "EG", "EH", "EI", "EN", "FB", "FC", "FD", "FE", "FI", "FL", "FO", "FOB",
    "FP", "FPE", "FR", "FT", "FW", "FX", "GB", "GI", "GL", "GR", "GU", "GY", "GZ", "HA", "HB",
    "HC", "HG", "HN", "HR", "IA", "IB", "IC", "ID", "IE", "IF", "IG", "IH", "IK", "IL", "IN", "IZ",
    "JB", "JC", "JG", "JR", "JT", "JY", "KG", "KI", "LAB", "LE", "LG", "LT", "LU", "LV", "LZ",
    "MA", "MB", "MC", "ME", "MPE", "MR", "MS", "MT", "MW", "MX", "NA", "NE", "NF", "NG", "NS",
    "NT", "NU", "NV", "OA", "OB", "OC", "OD", "OE", "OF", "OK", "OPE", "OT", "OU", "P2", "PA",
    "PAE", "PB", "PC", "PD", "PE", "PF", "PG", "PH", "PI", "PJ", "PK", "PL", "PLP", "PN", "PO",
    "POP", "PP", "PPE", "PR", "PT", "PU", "PUE", "PV", "PX", "PY", "PZ", "QA", "QB", "QC", "QD",
    "QF", "QG", "QH", "QJ", "QK", "QL", "QM", "QN", "QP", "QQ", "QR", "QS", "RB1", "RB2", "RB3",
    "RCB", "RD", "RG", "RJ", "RK", "RL", "RO", "RT", "RZ", "S1", "SA", "SB", "SC", "SD", "SE",
    "SEC", "SH", "SI", "SK", "SL", "SM", "SO", "SP", "SS", "ST", "STL", "SU", "SV", "SW", "SX",
    "SY", "SZ", "T1", "TB", "TC", "TD", "TE", "TEV", "TG", "THE", "TI", "TK", "TL", "TN", "TO",
    "TR", "TRE", "TS", "TT", "TTE", "TU", "TV", "TW", "TWE", "TY", "TZ", "UC", "UN", "UUE", "VA",
    "VG", "VI", "VK", "VL", "VN", "VO", "VP", "VQ", "VR", "VS", "VY", "WA", "WB", "WC", "WD", "WF",
    "WG", "WH", "WJ", "WK", "WL", "WM", "WN", "WP", "WQ", "WR", "WRP", "WS", "WT", "WU", "WV",
    "WW", "WX", "WY", "WZ", "X11", "X12", "X15", "X16", "X17", "X18", "X19", "X20", "X3", "XA",
    "XB", "XC", "XD", "XF", "XG", "XH", "XJ", "XK", "YA", "YB", "YC", "YD", "YF", "YG", "YH", "YJ",
    "YK", "YL", "YM", "YN", "YP", "YQ", "YR", "YS", "YT", "YV", "YW", "YX", "YY", "YZ", "ZA", "ZB",
    "ZC", "ZD", "ZF", "ZG", "ZH", "ZJ", "ZK", "ZL", "ZM", "ZN", "ZP", "ZQ", "ZR", "ZS", "ZT", "ZU",
    "ZV", "ZW", "ZX", "ZY", "ZZ",
];
