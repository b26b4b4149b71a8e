//! GTIN validation (GS1 General Specifications §7.9: mod-10 check digit) and normalisation to
//! the 14-digit form used as the key everywhere in Depot.

/// Why a GTIN was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GtinError {
    NotDigits,
    Length(usize),
    CheckDigit { expected: u8, found: u8 },
}

impl std::fmt::Display for GtinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GtinError::NotDigits => write!(f, "must contain digits only"),
            GtinError::Length(n) => write!(f, "must have 8, 12, 13 or 14 digits, not {n}"),
            GtinError::CheckDigit { expected, found } => {
                write!(f, "check digit is {found}, expected {expected}")
            }
        }
    }
}

/// The GS1 mod-10 check digit for `digits` (all digits but the check digit).
pub fn check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Validates a GTIN-8/12/13/14 and returns it left-padded with zeros to 14 digits.
pub fn normalize(raw: &str) -> Result<String, GtinError> {
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(GtinError::NotDigits);
    }
    if !matches!(raw.len(), 8 | 12 | 13 | 14) {
        return Err(GtinError::Length(raw.len()));
    }
    let digits: Vec<u8> = raw.bytes().map(|b| b - b'0').collect();
    let (body, last) = digits.split_at(digits.len() - 1);
    let expected = check_digit(body);
    if expected != last[0] {
        return Err(GtinError::CheckDigit {
            expected,
            found: last[0],
        });
    }
    Ok(format!("{raw:0>14}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples_from_the_gs1_general_specifications() {
        // GTIN-13 and its GTIN-14 form; GTIN-8; UPC-A (GTIN-12).
        assert_eq!(normalize("4006381333931").unwrap(), "04006381333931");
        assert_eq!(normalize("09506000134352").unwrap(), "09506000134352");
        assert_eq!(normalize("96385074").unwrap(), "00000096385074");
        assert_eq!(normalize("036000291452").unwrap(), "00036000291452");
    }

    #[test]
    fn bad_gtins_say_why() {
        assert_eq!(
            normalize("4006381333932"),
            Err(GtinError::CheckDigit {
                expected: 1,
                found: 2
            })
        );
        assert_eq!(
            normalize("400638133393"),
            Err(GtinError::CheckDigit {
                expected: 0,
                found: 3
            })
        );
        assert_eq!(normalize("12345"), Err(GtinError::Length(5)));
        assert_eq!(normalize("40063813339A1"), Err(GtinError::NotDigits));
        assert_eq!(normalize(""), Err(GtinError::NotDigits));
    }

    proptest! {
        #[test]
        fn any_body_with_its_check_digit_is_valid_and_one_wrong_digit_is_not(
            body in proptest::collection::vec(0u8..10, 13),
            len in prop_oneof![Just(8usize), Just(12), Just(13), Just(14)],
            bump in 1u8..10,
        ) {
            let body = &body[..len - 1];
            let check = check_digit(body);
            let text: String = body.iter().chain(std::iter::once(&check)).map(|d| (b'0' + d) as char).collect();
            let normalized = normalize(&text).unwrap();
            prop_assert_eq!(normalized.len(), 14);
            prop_assert!(normalized.ends_with(&text));
            let wrong: String = body.iter().chain(std::iter::once(&((check + bump) % 10))).map(|d| (b'0' + d) as char).collect();
            prop_assert!(normalize(&wrong).is_err());
        }
    }
}
