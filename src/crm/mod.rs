//! The thin CRM: customers with addresses and contacts, leads, deals with their goods lines, and
//! who may see which (see `visibility`). Every deal here is what stock, production and shipping
//! later point back to.

pub mod api;
pub mod contacts;
pub mod customers;
pub mod deals;
pub mod demo;
pub mod leads;
pub mod stages;
pub mod visibility;

use crate::error::Checks;

/// Longest name, title or short label.
pub const NAME_MAX: usize = 200;
/// Longest note or free-text reason.
pub const NOTE_MAX: usize = 2000;

/// A phone number as compared when matching leads: digits only, keeping a leading `+`, so that
/// `+49 (30) 1234-567` and `+49301234567` are the same number. `None` when there are no digits.
pub fn normalize_phone(phone: &str) -> Option<String> {
    let trimmed = phone.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    Some(if trimmed.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    })
}

/// An e-mail address as compared when matching leads: trimmed and lower-cased.
pub fn normalize_email(email: &str) -> Option<String> {
    let e = email.trim().to_lowercase();
    (!e.is_empty()).then_some(e)
}

pub(crate) fn check_phone(checks: &mut Checks, field: &str, phone: Option<&str>) {
    if let Some(p) = phone {
        checks.max_len(field, p, 50);
        checks.check(
            normalize_phone(p).is_some(),
            field,
            "must be a phone number (digits, optionally a leading +)",
        );
    }
}

pub(crate) fn check_email(checks: &mut Checks, field: &str, email: Option<&str>) {
    if let Some(e) = email {
        checks.max_len(field, e, 254);
        checks.check(e.contains('@'), field, "must be an e-mail address");
    }
}

/// `Some(Some(v))` cleaned: a blank value in a PATCH body clears the field like `null` does.
pub(crate) fn clean_patch(value: Option<Option<String>>) -> Option<Option<String>> {
    value.map(crate::patch::clean)
}

/// A `like` pattern matching `text` anywhere, with `%`, `_` and `\` taken literally
/// (use with `escape '\'`).
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::placeholders;

    #[test]
    fn phones_compare_by_digits_and_leading_plus() {
        assert_eq!(
            normalize_phone("+49 (30) 1234-567").as_deref(),
            Some("+49301234567")
        );
        assert_eq!(
            normalize_phone(" 030 / 1234 567 ").as_deref(),
            Some("0301234567")
        );
        assert_eq!(normalize_phone("call me"), None);
    }

    #[test]
    fn emails_compare_trimmed_and_lower_case() {
        assert_eq!(
            normalize_email(" Foo@Example.COM ").as_deref(),
            Some("foo@example.com")
        );
        assert_eq!(normalize_email("   "), None);
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(placeholders(4, 3), "$4, $5, $6");
    }
}
