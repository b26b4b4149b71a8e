//! Unit and property tests. Vectors marked "engine" are transcribed from the GS1 Barcode Syntax
//! Engine's embedded unit tests (Apache-2.0, see ATTRIBUTION.md); "STANDARDS" from
//! shared/STANDARDS.md.

use super::*;
use proptest::prelude::*;

const YEAR: i32 = 2026;

/// Engine notation: `^` is FNC1 (the first one is FNC1 in first position).
fn es(s: &str) -> String {
    s.replace('^', "\u{1d}")
}

fn ok_es(s: &str) -> Vec<Element> {
    match parse::split_element_string(&es(s), 0, YEAR).and_then(|mut p| {
        check_message(&mut p, false)?;
        Ok(to_elements(p))
    }) {
        Ok(e) => e,
        Err(e) => panic!("{s:?} should parse: {e}"),
    }
}

fn err_es(s: &str) -> Gs1Error {
    match parse::split_element_string(&es(s), 0, YEAR)
        .and_then(|mut p| check_message(&mut p, false))
    {
        Ok(()) => panic!("{s:?} should fail"),
        Err(e) => e,
    }
}

/// Values only, without message-level checks (engine `processAIdata` tests).
fn values_ok(s: &str) -> bool {
    parse::split_element_string(&es(s), 0, YEAR).is_ok()
}

fn br(s: &str) -> Result<Vec<Element>, Gs1Error> {
    let mut p = parse::split_bracketed(s, 0, YEAR)?;
    check_message(&mut p, false)?;
    Ok(to_elements(p))
}

fn dlp(s: &str) -> Result<Vec<Element>, Gs1Error> {
    let mut p = dl::split_digital_link(s, 0, YEAR)?;
    check_message(&mut p, true)?;
    Ok(to_elements(p))
}

fn pairs(e: &[Element]) -> Vec<(String, String)> {
    e.iter().map(|e| (e.ai.clone(), e.value.clone())).collect()
}

fn date(y: i32, m: u8, d: u8) -> time::Date {
    time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap()
}

// ---------------------------------------------------------------- the table

#[test]
fn dictionary_parses_completely() {
    let t = &*table::TABLE;
    assert!(t.problems.is_empty(), "{:#?}", t.problems);
    assert_eq!(t.entries.len(), 541, "AI count changed: update the docs");
    for e in &t.entries {
        // Only the coupon AIs (8110, 8112) have no title in the dictionary.
        assert!(
            !e.title.is_empty() || e.ai.starts_with("811"),
            "{} has no title",
            e.ai
        );
        // The dictionary's `*` flag and the GenSpecs predefined-length table agree.
        assert_eq!(
            e.predefined_length,
            table::predefined_by_prefix(&e.ai),
            "{}",
            e.ai
        );
        if e.predefined_length {
            assert_eq!(e.fixed_length, Some(e.max_length), "{}", e.ai);
        }
        for c in &e.components {
            for l in &c.linters {
                assert!(
                    !matches!(l, Linter::Unknown(_)),
                    "{} uses unknown linter {l:?}",
                    e.ai
                );
            }
        }
        assert_eq!(t.length_for_prefix(e.ai.as_bytes()), Some(e.ai.len()));
    }
}

#[test]
fn ai_info_lookups() {
    let i = ai_info("01").unwrap();
    assert_eq!(i.title, "GTIN");
    assert_eq!(i.format, "N14,csum,gcppos2");
    assert!(i.predefined_length && i.dl_data_attribute && i.is_dl_primary_key());
    assert_eq!(i.fixed_length, Some(14));
    assert_eq!(
        i.dl_key_qualifiers.as_ref().unwrap(),
        &vec![
            vec!["22".to_string(), "10".into(), "21".into()],
            vec!["235".to_string()]
        ]
    );
    let i = ai_info("3103").unwrap();
    assert_eq!(i.title, "NET WEIGHT (kg)");
    assert_eq!(i.excludes, vec![AiPattern("310n".into())]);
    let i = ai_info("10").unwrap();
    assert!(!i.predefined_length && i.fixed_length.is_none());
    assert_eq!((i.min_length, i.max_length), (1, 20));
    let i = ai_info("8003").unwrap();
    assert_eq!((i.min_length, i.max_length), (14, 30));
    assert!(ai_info("3106").is_none());
    assert!(ai_info("89").is_none());
    assert!(ai_info("").is_none() && ai_info("0").is_none() && ai_info("01234").is_none());
    assert!(ai_info("é1").is_none());
    assert_eq!(ai_info("99").unwrap().title, "INTERNAL");
    assert_eq!(all_ais().len(), 541);
}

#[test]
fn code_lists_are_sorted() {
    assert!(linters::ISO3166.windows(2).all(|w| w[0] < w[1]));
    assert!(linters::ISO4217.windows(2).all(|w| w[0] < w[1]));
    assert!(linters::ISO3166_ALPHA2.windows(2).all(|w| w[0] < w[1]));
    assert!(linters::PACKAGE_TYPES.windows(2).all(|w| w[0] < w[1]));
}

// ---------------------------------------------------------------- linters

fn lint(l: Linter, s: &str) -> bool {
    linters::run(&l, s, YEAR).is_ok()
}

#[test]
fn check_digits() {
    // STANDARDS §1.5
    for s in [
        "006141411234567890",
        "09506000134352",
        "12312312312333",
        "9520123456788",
    ] {
        assert!(has_valid_check_digit(s), "{s}");
    }
    // engine validateParity
    for (good, bad) in [
        ("24012345678905", "24012345678909"),
        ("2112233789657", "2112233789658"),
        ("416000336108", "416000336107"),
        ("02345680", "02345689"),
    ] {
        assert!(has_valid_check_digit(good) && !has_valid_check_digit(bad));
    }
    assert!(!has_valid_check_digit("") && !has_valid_check_digit("12a4"));
}

#[test]
fn csumalpha_engine_vectors() {
    for s in [
        "22",
        "!22",
        "1987654Ad4X4bL5ttr2310c2K",
        "12345678901234567890123NT",
        "12345_ABCDEFGHIJKLMCP",
        "12345_NOPQRSTUVWXYZDN",
        "12345_abcdefghijklmN3",
        "12345_nopqrstuvwxyzP2",
        "12345_!\"%&'()*+,-./LC",
        "12345_0123456789:;<=>?62",
        "7907665Bm8v2AB",
        "97850l6KZm0yCD",
        "225803106GSpEF",
        "149512464PM+GH",
        "62577B8fRG7HJK",
        "515942070CYxLM",
        "390800494sP6NP",
        "386830132uO+QR",
        "53395376X1:nST",
        "957813138Sb6UV",
        "530790no0qOgWX",
        "62185314IvwmYZ",
        "23956qk1&dB!23",
        "794394895ic045",
        "57453Uq3qA<H67",
        "0881063PhHvY89",
        "00000!HV",
        "99999zzzzzzzzzzzzzzzzzzT2",
    ] {
        assert!(lint(Linter::CsumAlpha, s), "{s}");
    }
    for s in [
        "",
        "2",
        "33",
        "1987654Ad4X4bL5ttr2310cXK",
        "1987654Ad4X4bL5ttr2310c2X",
        "12345678901234567890123 T",
    ] {
        assert!(!lint(Linter::CsumAlpha, s), "{s}");
    }
}

#[test]
fn date_linters() {
    for s in [
        "000606", "250606", "500606", "750606", "990606", "200131", "200229", "240229", "000229",
        "960229", "200600",
    ] {
        assert!(lint(Linter::Yymmd0, s), "{s}");
    }
    for s in [
        "200010", "201310", "200132", "200230", "200431", "210229", "230229", "240230", "960230",
    ] {
        assert!(!lint(Linter::Yymmd0, s), "{s}");
    }
    assert!(!lint(Linter::Yymmdd, "200600"), "yymmdd refuses DD=00");
    assert!(lint(Linter::Yymmdd, "200601"));
    assert!(lint(Linter::Yyyymmdd, "20240229") && !lint(Linter::Yyyymmdd, "21000229"));
    assert!(
        lint(Linter::Hhmi, "2359") && !lint(Linter::Hhmi, "2400") && !lint(Linter::Hhmi, "1260")
    );
    assert!(lint(Linter::Hh, "23") && !lint(Linter::Hh, "24"));
    assert!(lint(Linter::Mi, "59") && !lint(Linter::Mi, "60"));
    assert!(lint(Linter::Ss, "00") && !lint(Linter::Ss, "61"));
}

#[test]
fn century_window() {
    // STANDARDS §1.4: in 2026 the window is 1977-2076.
    assert_eq!(linters::full_year(76, 2026), 2076);
    assert_eq!(linters::full_year(77, 2026), 1977);
    assert_eq!(linters::full_year(0, 2026), 2000);
    assert_eq!(linters::full_year(99, 2026), 1999);
    // Near a century boundary: in 2080, YY=30 is 2130 (50 years ahead), YY=31 is 2031.
    assert_eq!(linters::full_year(30, 2080), 2130);
    assert_eq!(linters::full_year(31, 2080), 2031);
    assert_eq!(linters::full_year(29, 2080), 2129);
    // In 2010, YY=61 is 1961 (49 years back), YY=60 is 2060.
    assert_eq!(linters::full_year(61, 2010), 1961);
    assert_eq!(linters::full_year(60, 2010), 2060);
    // DD=00 is the last day of the month, leap years included (STANDARDS §1.4).
    assert_eq!(
        linters::yymmdd_to_date("160200", 2026),
        Some(date(2016, 2, 29))
    );
    assert_eq!(
        linters::yymmdd_to_date("170200", 2026),
        Some(date(2017, 2, 28))
    );
    assert_eq!(
        linters::yymmdd_to_date("201200", 2026),
        Some(date(2020, 12, 31))
    );
    assert_eq!(
        linters::yymmdd_to_date("771231", 2026),
        Some(date(1977, 12, 31))
    );
}

#[test]
fn other_linters() {
    assert!(
        lint(Linter::Iso3166, "004")
            && lint(Linter::Iso3166, "894")
            && !lint(Linter::Iso3166, "999")
    );
    assert!(!lint(Linter::Iso3166, "000") && !lint(Linter::Iso3166, "005"));
    assert!(lint(Linter::Iso3166999, "999") && lint(Linter::Iso3166999, "528"));
    assert!(lint(Linter::Iso3166Alpha2, "DE") && !lint(Linter::Iso3166Alpha2, "AA"));
    assert!(
        lint(Linter::Iso4217, "978")
            && lint(Linter::Iso4217, "999")
            && !lint(Linter::Iso4217, "000")
    );
    for s in [
        "FR7630006000011234567890189",
        "DE91100000000123456789",
        "GB98MIDL07009312345678",
        "BE71096123456769",
        "MT90MALT011000012345MTLCAST001SABC",
    ] {
        assert!(lint(Linter::Iban, s), "{s}");
    }
    for s in [
        "BE71096123456760",
        "",
        "BE71",
        "XX361234567890",
        "LC14BOSLxx3456789012345678901230",
    ] {
        assert!(!lint(Linter::Iban, s), "{s}");
    }
    for s in ["11", "13", "0101", "0203", "999999"] {
        assert!(lint(Linter::PieceOfTotal, s), "{s}");
    }
    for s in ["", "1", "01", "10", "0000", "21", "0908", "999998"] {
        assert!(!lint(Linter::PieceOfTotal, s), "{s}");
    }
    for s in ["1/1", "9/10", "100/100", "998/999"] {
        assert!(lint(Linter::PosInSeqSlash, s), "{s}");
    }
    for s in [
        "", "/", "1/", "/1", "1//2", "0/1", "1/02", "2/1", "10/9", "999/998",
    ] {
        assert!(!lint(Linter::PosInSeqSlash, s), "{s}");
    }
    assert!(lint(Linter::Latitude, "1800000000") && !lint(Linter::Latitude, "1800000001"));
    assert!(lint(Linter::Longitude, "3600000000") && !lint(Linter::Longitude, "3600000001"));
    assert!(
        lint(Linter::Pcenc, "ABC%20XYZ")
            && lint(Linter::Pcenc, "%ff")
            && !lint(Linter::Pcenc, "ABC%gXYZ")
    );
    assert!(!lint(Linter::Pcenc, "%g") && !lint(Linter::Pcenc, "AB%"));
    assert!(
        lint(Linter::MediaType, "01")
            && lint(Linter::MediaType, "99")
            && !lint(Linter::MediaType, "11")
    );
    assert!(
        lint(Linter::PackageType, "1A")
            && lint(Linter::PackageType, "ZZ")
            && !lint(Linter::PackageType, "00")
    );
    assert!(
        lint(Linter::ImporterIdx, "_")
            && !lint(Linter::ImporterIdx, "!")
            && !lint(Linter::ImporterIdx, "AA")
    );
    assert!(lint(Linter::Winding, "9") && !lint(Linter::Winding, "2"));
    assert!(lint(Linter::Iso5218, "9") && !lint(Linter::Iso5218, "3"));
    assert!(lint(Linter::Hyphen, "--") && !lint(Linter::Hyphen, "-X"));
    assert!(lint(Linter::NoZeroPrefix, "10") && !lint(Linter::NoZeroPrefix, "01"));
    assert!(lint(Linter::NonZero, "0010") && !lint(Linter::NonZero, "0000"));
    assert!(lint(Linter::HasNonDigit, "12A") && !lint(Linter::HasNonDigit, "123"));
}

// ---------------------------------------------------------------- element strings

#[test]
fn engine_process_ai_data_vectors() {
    for (ok, s) in [
        (false, ""),
        (false, "^"),
        (false, "^891234"),
        (true, "^991234"),
        (false, "^99~ABC"),
        (false, "^99ABC~"),
        (true, "^0112345678901231"),
        (false, "^01A2345678901231"),
        (false, "^011234567890123A"),
        (false, "^0112345678901234"),
        (false, "^011234567890123"),
        (false, "^01123456789012312"),
        (true, "^0112345678901231^"),
        (false, "^011234567890123^"),
        (false, "^01123456789012345^"),
        (false, "^01123456789012345^991234"),
        (true, "^0112345678901231991234"),
        (true, "^0112345678901231^991234"),
        (true, "^2421"),
        (true, "^242123456"),
        (true, "^242123456^10ABC123"),
        (true, "^242123456^"),
        (false, "^2421234567"),
        (true, "^81111234"),
        (false, "^8111123"),
        (false, "^811112345"),
        (true, "^81111234^10ABC123"),
        (true, "^800112341234512398"),
        (false, "^80011234123451239"),
        (false, "^8001123412345123981"),
        (true, "^800112341234512398^0112345678901231"),
        (true, "^7007211225211231"),
        (true, "^7007211225"),
        (false, "^70072112252"),
        (false, "^700721122521123"),
        (false, "^70072112252212311"),
        (true, "^800302112345678900ABC"),
        (false, "^800302112345678901ABC"),
        (true, "^800302112345678900"),
        (true, "^800302112345678900^10ABC123"),
        (true, "^800302112345678900ABCDEFGHIJKLMNOP"),
        (false, "^800302112345678900ABCDEFGHIJKLMNOPQ"),
        (true, "^7230121234567890123456789012345678"),
        (false, "^72301212345678901234567890123456789"),
        (true, "^7230123"),
        (false, "^723012"),
        (false, "^4235"),
        (true, "^423528"),
        (false, "^4235285"),
        (true, "^423528528528528528"),
        (false, "^4235285285285285285"),
        (true, "^80131987654Ad4X4bL5ttr2310c2K"),
        (false, "^80131987654Ad4X4bL5ttr2310cXK"),
        (false, "^^991234"),
        (false, "^99ABC^^98XYZ"),
    ] {
        assert_eq!(values_ok(s), ok, "{s:?}");
    }
}

#[test]
fn engine_validate_ais_vectors() {
    // Repeats.
    for (ok, s) in [
        (true, "(400)ABC(400)ABC"),
        (true, "(400)ABC(99)DEF(400)ABC"),
        (false, "(400)ABC(400)AB"),
        (false, "(400)ABC(400)ABC(400)XYZ"),
        (false, "(99)ABC(400)ABC(400)XYZ"),
    ] {
        assert_eq!(br(s).is_ok(), ok, "{s}");
    }
    assert_eq!(
        pairs(&br("(400)ABC(99)DEF(400)ABC").unwrap()).len(),
        2,
        "identical repeats collapse"
    );
    // ex=
    for s in [
        "(01)12345678901231(02)12345678901231",
        "(99)ABC123(01)12345678901231(02)12345678901231",
        "(01)12345678901231(255)5412345000150",
        "(01)12345678901231(37)123",
        "(01)12345678901231(21)ABC123(235)XYZ",
        "(3940)1234(3941)9999(255)5412345000150",
        "(01)12345678901231(3102)000100(3103)000100",
    ] {
        assert_eq!(
            br(s).unwrap_err().kind,
            Gs1ErrorKind::InvalidCombination,
            "{s}"
        );
    }
    // req=
    for (ok, s) in [
        (false, "(02)12345678901231"),
        (false, "(02)12345678901231(37)123"),
        (false, "(99)AAA(02)12345678901231(37)123"),
        (true, "(02)12345678901231(37)123(00)123456789012345675"),
        (
            true,
            "(91)XXX(02)12345678901231(92)YYY(37)123(93)ZZZ(00)123456789012345675",
        ),
        (false, "(21)ABC123"),
        (true, "(21)ABC123(01)12345678901231"),
        (true, "(21)ABC123(8006)123456789012310510"),
        (false, "(01)12345678901231(250)ABC123"),
        (true, "(01)12345678901231(21)XYZ999(250)ABC123"),
        (false, "(01)12345678901231(3925)12599"),
        (true, "(01)12345678901231(3925)12599(30)123"),
        (true, "(01)12345678901231(3925)12599(3100)654321"),
        (true, "(01)12345678901231(3925)12599(3695)654321"),
        (false, "(8030)DIGSIG"),
        (true, "(8030)DIGSIG(00)123456789012345675"),
        (false, "(8030)DIGSIG(01)12345678901231"),
        (true, "(8030)DIGSIG(01)12345678901231(21)ABC123"),
        (true, "(8030)DIGSIG(253)1234567890128X"),
        (false, "(8030)DIGSIG(253)1234567890128"),
        (true, "(8030)DIGSIG(8010)1234567890(8011)123456789012"),
        (true, "(01)95012345678903(3103)000123"),
    ] {
        let r = br(s);
        assert_eq!(r.is_ok(), ok, "{s}: {r:?}");
    }
}

#[test]
fn standards_examples() {
    // §1.7
    let e = br("(01)09506000134352(17)261231(10)ABC123").unwrap();
    assert_eq!(
        pairs(&e),
        vec![
            ("01".into(), "09506000134352".into()),
            ("17".into(), "261231".into()),
            ("10".into(), "ABC123".into())
        ]
    );
    assert_eq!(e[1].title, "USE BY or EXPIRY");
    // §1.3: superfluous FNC1 after a predefined-length AI and at the end are tolerated.
    assert_eq!(ok_es("^0112345678901231^991234").len(), 2);
    assert_eq!(ok_es("^0112345678901231991234^").len(), 2);
    // §1.6: (02)+(37) need (00); a logistic label.
    assert!(br("(02)09506000134352(37)25").is_err());
    let e = br("(00)006141411234567890(02)09506000134352(37)25(10)LOT7").unwrap();
    assert_eq!(e.len(), 4);
    // (420) and (421) are mutually exclusive.
    assert_eq!(
        br("(420)12345(421)528123").unwrap_err().kind,
        Gs1ErrorKind::InvalidCombination
    );
    // §1.4: DD=00 on (17) is the last day of the month.
    let i = interpret_at("]C1010950600013435217160200", YEAR).unwrap();
    assert_eq!(i.expiry, Some(date(2016, 2, 29)));
    // §4.1: SSCC.
    let i = interpret_at("]C100006141411234567890", YEAR).unwrap();
    assert_eq!(i.sscc.as_deref(), Some("006141411234567890"));
    assert_eq!(
        interpret_at("(00)006141411234567890", YEAR).unwrap().sscc,
        i.sscc
    );
    assert_eq!(
        interpret_at("https://id.gs1.org/00/006141411234567890", YEAR)
            .unwrap()
            .sscc,
        i.sscc
    );
}

// ---------------------------------------------------------------- error messages

#[test]
fn error_messages_say_what_and_where() {
    let e = err_es("0109506000134352172013321");
    assert_eq!(e.kind, Gs1ErrorKind::InvalidDate);
    assert_eq!(e.ai.as_deref(), Some("17"));
    assert_eq!(e.position, 18);
    assert_eq!(
        e.message,
        "AI (17): invalid date 201332 at position 18: month 13"
    );

    let e = err_es("0109506000134353");
    assert_eq!(e.kind, Gs1ErrorKind::CheckDigit);
    assert_eq!(e.position, 15);
    assert_eq!(
        e.message,
        "AI (01): check digit is 3, expected 2 at position 15"
    );

    let e = err_es("89ABC");
    assert_eq!(e.kind, Gs1ErrorKind::UnknownAi);
    assert_eq!(e.message, "unknown AI (89) at position 0");
    let e = err_es("0109506000134352^2345");
    assert_eq!(e.message, "unknown AI (234) at position 17");
    let e = err_es("0109506000134352^3106000100");
    assert_eq!(e.message, "unknown AI (3106) at position 17");

    let e = err_es("010950600013435210ABC 123");
    assert_eq!(e.kind, Gs1ErrorKind::InvalidCharacter);
    assert_eq!(e.position, 21);
    assert_eq!(
        e.message,
        "AI (10): character ' ' at position 21 is not in CSET 82"
    );

    let e = err_es("10ABC");
    assert_eq!(e.kind, Gs1ErrorKind::MissingAssociation);
    assert_eq!(
        e.message,
        "AI (10) requires one of (01), (02), (03), (8006), (8026)"
    );
    let e = err_es("403ROUTE");
    assert_eq!(e.message, "AI (403) requires (00)");
    let e = br("(01)12345678901231(250)ABC").unwrap_err();
    assert_eq!(
        e.message,
        "AI (250) requires one of (01)+(21), (03)+(21), (8006)+(21)"
    );

    let e = err_es("0109506000134352^0209506000134352");
    assert_eq!(e.kind, Gs1ErrorKind::InvalidCombination);
    assert!(
        e.message
            .contains("AI (02) may not be used together with AI (01)"),
        "{}",
        e.message
    );

    let e = err_es("0109506000134352^10A^10B");
    assert_eq!(e.kind, Gs1ErrorKind::DuplicateAi);
    assert!(e.message.contains("different values"), "{}", e.message);

    let e = err_es("01095060001343");
    assert_eq!(e.kind, Gs1ErrorKind::TooShort);
    assert!(
        e.message
            .starts_with("AI (01): value 095060001343 at position 2 is too short"),
        "{}",
        e.message
    );

    let e = err_es("0109506000134352^10ABCDEFGHIJKLMNOPQRSTU");
    assert_eq!(e.kind, Gs1ErrorKind::TooLong);
    assert_eq!(
        e.message,
        "AI (10): value at position 19 is too long: 21 characters, at most 20 allowed"
    );

    let e = err_es("0109506000134352^10A^^21B");
    assert_eq!(e.kind, Gs1ErrorKind::Syntax);
    assert_eq!(e.message, "unexpected GS at position 21: expected an AI");
}

#[test]
fn date_errors() {
    let e = err_es("01095060001343521720023010ABC");
    assert_eq!(
        e.message,
        "AI (17): invalid date 200230 at position 18: day 30 (2020-02 has 29 days)"
    );
    // yymmdd (7006) does not allow DD=00.
    let e = err_es("0109506000134352^7006200600");
    assert_eq!(e.kind, Gs1ErrorKind::InvalidDate);
    assert!(e.message.contains("day 00 is not allowed"), "{}", e.message);
}

#[test]
fn positions_count_the_prefix() {
    let e = interpret_at("]C10109506000134352172013321", YEAR).unwrap_err();
    assert_eq!(e.position, 21);
    assert_eq!(
        e.message,
        "AI (17): invalid date 201332 at position 21: month 13"
    );
    let e = interpret_at("\u{1d}0109506000134352172013321", YEAR).unwrap_err();
    assert_eq!(e.position, 19);
    let e = interpret_at("(01)09506000134352(17)201332", YEAR).unwrap_err();
    assert_eq!(e.position, 22);
    let e = interpret_at("https://id.gs1.org/01/09506000134352?17=201332", YEAR).unwrap_err();
    assert_eq!(e.position, 40);
    // Escaped values point into the original text.
    let e = interpret_at("https://a/01/09506000134352/10/A%20B", YEAR).unwrap_err();
    assert_eq!((e.kind, e.position), (Gs1ErrorKind::InvalidCharacter, 32));
    let e = interpret_at("(01)09506000134352(10)A\\(B C", YEAR).unwrap_err();
    assert_eq!((e.kind, e.position), (Gs1ErrorKind::InvalidCharacter, 26));
}

#[test]
fn non_ascii_never_splits_a_character() {
    for s in [
        "01é",
        "0109506000134352é",
        "01095060001343é2",
        "10é",
        "(10)é",
        "(01)é(10)A",
        "]C101€€€€€€€",
        "https://a/01/é",
        "https://a/01/09506000134352?10=%C3%A9",
    ] {
        let r = interpret_at(s, YEAR);
        assert!(r.is_err(), "{s}");
    }
    let e = interpret_at("]C101095060001343€", YEAR).unwrap_err();
    assert_eq!(e.kind, Gs1ErrorKind::InvalidCharacter);
    assert_eq!(e.position, 17);
}

// ---------------------------------------------------------------- interpret: forms

#[test]
fn scan_data_engine_vectors() {
    let i = interpret_at("]Q3011231231231233310ABC123\u{1d}99TESTING", YEAR).unwrap();
    assert_eq!(i.symbology.as_deref(), Some("]Q3"));
    assert_eq!(i.form, InputForm::ElementString);
    assert_eq!(
        to_element_string(&i.elements),
        "011231231231233310ABC123\u{1d}99TESTING"
    );
    for p in ["]d2", "]J1", "]e0", "]C1", "]d5", "]Q4"] {
        let i = interpret_at(&format!("{p}011231231231233310ABC123\u{1d}99TESTING"), YEAR).unwrap();
        assert_eq!(i.gtin.as_deref(), Some("12312312312333"));
        assert_eq!(i.batch.as_deref(), Some("ABC123"));
    }
    let i = interpret_at(
        "]e0011231231231233310ABC123\u{1d}1199122598TESTING\u{1d}97XYZ",
        YEAR,
    )
    .unwrap();
    assert_eq!(pairs(&i.elements)[2], ("11".into(), "991225".into()));
    for p in ["]C1", "]e0", "]d2", "]Q3", "]J1"] {
        assert_eq!(
            interpret_at(p, YEAR).unwrap_err().kind,
            Gs1ErrorKind::Empty,
            "{p}"
        );
    }
    // EAN/UPC
    let i = interpret_at("]E02112345678900", YEAR).unwrap();
    assert_eq!(
        (i.form, i.gtin.as_deref()),
        (InputForm::PlainGtin, Some("02112345678900"))
    );
    for s in [
        "]E0",
        "]E0123456789013",
        "]E012345678901234",
        "]E01234ABC890123",
        "]E02112345678901",
    ] {
        let e = interpret_at(s, YEAR).unwrap_err();
        assert_ne!(e.kind, Gs1ErrorKind::NotGs1, "{s}");
    }
    let i = interpret_at("]E402345673", YEAR).unwrap();
    assert_eq!(i.gtin.as_deref(), Some("00000002345673"));
    for s in [
        "]E4",
        "]E41234567",
        "]E4123456789",
        "]E412ABC678",
        "]E402345674",
    ] {
        assert!(interpret_at(s, YEAR).is_err(), "{s}");
    }
    // EAN + composite
    let i = interpret_at("]E02112345678900|]e099COMPOSITE\u{1d}98XYZ", YEAR).unwrap();
    assert_eq!(
        pairs(&i.elements),
        vec![
            ("01".into(), "02112345678900".into()),
            ("99".into(), "COMPOSITE".into()),
            ("98".into(), "XYZ".into())
        ]
    );
    // DL in a plain QR / DataMatrix.
    let i = interpret_at("]Q1https://example.com/01/12312312312333?99=TEST", YEAR).unwrap();
    assert_eq!(
        (i.form, i.symbology.as_deref()),
        (InputForm::DigitalLink, Some("]Q1"))
    );
    assert_eq!(to_element_string(&i.elements), "011231231231233399TEST");
    let i = interpret_at("]d1HTTPS://example.com/01/12312312312333?99=TEST", YEAR).unwrap();
    assert_eq!(i.gtin.as_deref(), Some("12312312312333"));
    let e = interpret_at("]Q1HtTps://example.com/01/12312312312333?99=TEST", YEAR).unwrap_err();
    assert_eq!(e.kind, Gs1ErrorKind::DigitalLink);
    // Plain symbologies with plain text are not GS1.
    for s in [
        "]C0ABC-123",
        "]Q1TESTING",
        "]d1TESTING",
        "]J0TESTING",
        "ABC",
        "]XX",
    ] {
        let e = interpret_at(s, YEAR).unwrap_err();
        assert_eq!(e.kind, Gs1ErrorKind::NotGs1, "{s}");
        assert!(!claims_gs1(s), "{s}");
    }
}

#[test]
fn e0_carries_ean_13_upc_a_and_upc_e() {
    // UPC-A: 12 digits, GTIN-12 left-padded to 14.
    let i = interpret_at("]E0012345678905", YEAR).unwrap();
    assert_eq!(
        (i.form, i.symbology.as_deref(), i.gtin.as_deref()),
        (InputForm::PlainGtin, Some("]E0"), Some("00012345678905"))
    );
    // UPC-E: 8 digits expanded to the GTIN-12 (Wikipedia's 04252614 = 042100005264), one
    // vector per zero-suppression rule (last of the six digits 0-2, 3, 4, 5-9), both number
    // systems.
    for (upc_e, upc_a) in [
        ("04252614", "042100005264"),
        ("01234505", "012000003455"),
        ("11234502", "112000003452"),
        ("01234514", "012100003454"),
        ("01234523", "012200003453"),
        ("01234531", "012300000451"),
        ("11234538", "112300000458"),
        ("01234543", "012340000053"),
        ("01234565", "012345000065"),
        ("16543294", "165432000094"),
    ] {
        assert_eq!(upc_e_to_upc_a(upc_e).as_deref(), Some(upc_a), "{upc_e}");
        let i = interpret_at(&format!("]E0{upc_e}"), YEAR).unwrap();
        assert_eq!(i.gtin, Some(format!("00{upc_a}")), "{upc_e}");
        assert_eq!(
            pairs(&i.elements),
            vec![("01".into(), format!("00{upc_a}"))]
        );
        // The expansion is a valid UPC-A in its own right.
        let a = interpret_at(&format!("]E0{upc_a}"), YEAR).unwrap();
        assert_eq!(a.gtin, i.gtin);
    }
    // Plain 8 digits (no identifier) and ]E4 stay EAN-8: UPC-E needs its ]E0.
    assert_eq!(
        interpret_at("01234565", YEAR).unwrap().gtin.as_deref(),
        Some("00000001234565")
    );
    assert_eq!(
        interpret_at("]E401234565", YEAR).unwrap().gtin.as_deref(),
        Some("00000001234565")
    );
    // Bad check digits point at the check digit, whose position is the same in UPC-E.
    let e = interpret_at("]E001234566", YEAR).unwrap_err();
    assert_eq!((e.kind, e.position), (Gs1ErrorKind::CheckDigit, 10), "{e}");
    assert!(e.message.contains("UPC-E"), "{e}");
    let e = interpret_at("]E0012345678904", YEAR).unwrap_err();
    assert_eq!((e.kind, e.position), (Gs1ErrorKind::CheckDigit, 14), "{e}");
    // Number system 2-9 does not exist in UPC-E.
    let e = interpret_at("]E021234565", YEAR).unwrap_err();
    assert_eq!(
        (e.kind, e.ai.as_deref()),
        (Gs1ErrorKind::InvalidValue, Some("01"))
    );
    // Other lengths and non-digits under ]E0 are refused as GS1 errors, naming the lengths.
    for (s, kind) in [
        ("]E01234567", Gs1ErrorKind::TooShort),
        ("]E00123456789", Gs1ErrorKind::TooShort),
        ("]E001234567890", Gs1ErrorKind::TooShort),
        ("]E012345678901234", Gs1ErrorKind::TooLong),
        ("]E00123456A", Gs1ErrorKind::InvalidCharacter),
        ("]E0 12345678905", Gs1ErrorKind::InvalidCharacter),
    ] {
        let e = interpret_at(s, YEAR).unwrap_err();
        assert_eq!(e.kind, kind, "{s}: {e}");
        assert!(claims_gs1(s), "{s}");
    }
    assert!(
        interpret_at("]E01234567", YEAR)
            .unwrap_err()
            .message
            .contains("expected 13 (EAN-13), 12 (UPC-A) or 8 (UPC-E)")
    );
    // A composite after a UPC-E.
    let i = interpret_at("]E001234565|]e099COMPOSITE", YEAR).unwrap();
    assert_eq!(
        pairs(&i.elements),
        vec![
            ("01".into(), "00012345000065".into()),
            ("99".into(), "COMPOSITE".into())
        ]
    );
    assert_eq!(upc_e_to_upc_a("21234565"), None);
    assert_eq!(upc_e_to_upc_a("0123456"), None);
    assert_eq!(upc_e_to_upc_a("0123456x"), None);
}

#[test]
fn wedge_whitespace_around_a_scan_is_ignored() {
    for raw in [
        " ]E0012345678905",
        "]E0012345678905 ",
        "\t]E0012345678905\r\n",
        "  ]E0012345678905\n",
        "\r\n012345678905 ",
    ] {
        let i = interpret_at(raw, YEAR).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
        assert_eq!(i.gtin.as_deref(), Some("00012345678905"), "{raw:?}");
        assert!(claims_gs1(raw), "{raw:?}");
    }
    let i = interpret_at(" \u{1d}010950600013435210ABC\r\n", YEAR).unwrap();
    assert_eq!(i.batch.as_deref(), Some("ABC"));
    // Positions still count from the start of the input, leading whitespace included.
    let e = interpret_at("  ]E0012345678904", YEAR).unwrap_err();
    assert_eq!(e.position, 16, "{e}");
    let e = interpret_at(" ]C10109506000134353", YEAR).unwrap_err();
    assert_eq!(e.kind, Gs1ErrorKind::CheckDigit);
    assert_eq!(e.position, 19, "{e}");
    // Whitespace alone is nothing, and not GS1.
    for raw in [" ", "\r\n", " \t "] {
        assert_eq!(
            interpret_at(raw, YEAR).unwrap_err().kind,
            Gs1ErrorKind::NotGs1
        );
    }
}

#[test]
fn every_input_form() {
    let gs = "01095060001343521720122510ABC123\u{1d}21SER001".to_string();
    let want = vec![
        ("01".to_string(), "09506000134352".to_string()),
        ("17".into(), "201225".into()),
        ("10".into(), "ABC123".into()),
        ("21".into(), "SER001".into()),
    ];
    let forms = [
        (format!("]C1{gs}"), InputForm::ElementString, Some("]C1")),
        (format!("]d2{gs}"), InputForm::ElementString, Some("]d2")),
        (format!("\u{1d}{gs}"), InputForm::ElementString, None),
        (
            format!("]C1\u{1d}{gs}"),
            InputForm::ElementString,
            Some("]C1"),
        ),
        (gs.clone(), InputForm::ElementString, None),
        (format!("{gs}\r\n"), InputForm::ElementString, None),
        (
            "(01)09506000134352(17)201225(10)ABC123(21)SER001".to_string(),
            InputForm::Bracketed,
            None,
        ),
    ];
    for (raw, form, sym) in forms {
        let i = interpret_at(&raw, YEAR).unwrap_or_else(|e| panic!("{raw:?}: {e}"));
        assert_eq!(i.form, form, "{raw:?}");
        assert_eq!(i.symbology.as_deref(), sym);
        assert_eq!(pairs(&i.elements), want, "{raw:?}");
        assert_eq!(i.gtin.as_deref(), Some("09506000134352"));
        assert_eq!(i.expiry, Some(date(2020, 12, 25)));
        assert_eq!(i.batch.as_deref(), Some("ABC123"));
        assert_eq!(i.serial.as_deref(), Some("SER001"));
    }
    let i = interpret_at(
        "https://id.gs1.org/01/09506000134352/10/ABC123/21/SER001?17=201225",
        YEAR,
    )
    .unwrap();
    assert_eq!(i.form, InputForm::DigitalLink);
    let mut got = pairs(&i.elements);
    got.sort();
    let mut w = want.clone();
    w.sort();
    assert_eq!(got, w);
    // Plain GTINs and SSCC.
    for (raw, gtin) in [
        ("09506000134352", "09506000134352"),
        ("9506000134352", "09506000134352"),
        ("416000336108", "00416000336108"),
        ("02345673", "00000002345673"),
        ("]I009506000134352", "09506000134352"),
    ] {
        let i = interpret_at(raw, YEAR).unwrap();
        assert_eq!(
            (i.form, i.gtin.as_deref()),
            (InputForm::PlainGtin, Some(gtin)),
            "{raw}"
        );
        assert_eq!(pairs(&i.elements), vec![("01".into(), gtin.into())]);
    }
    let i = interpret_at("006141411234567890", YEAR).unwrap();
    assert_eq!(
        (i.form, i.sscc.as_deref()),
        (InputForm::PlainSscc, Some("006141411234567890"))
    );
    // "00" + 18 digits is the element string form.
    let i = interpret_at("00006141411234567890", YEAR).unwrap();
    assert_eq!(
        (i.form, i.sscc.as_deref()),
        (InputForm::ElementString, Some("006141411234567890"))
    );
    // 18 digits with a bad check digit: not GS1.
    assert_eq!(
        interpret_at("006141411234567891", YEAR).unwrap_err().kind,
        Gs1ErrorKind::NotGs1
    );
}

#[test]
fn not_gs1_versus_invalid_gs1() {
    for s in [
        "",
        "\r\n",
        "ABC-123",
        "hello world",
        "12345",
        "0109506000134353",
        "]C0ABC",
        "http://example.com/x",
        "10ABC",
        "(",
        "(1)2",
        "[01]123",
    ] {
        let e = interpret_at(s, YEAR).unwrap_err();
        assert_eq!(e.kind, Gs1ErrorKind::NotGs1, "{s:?}: {e}");
        assert!(!claims_gs1(s), "{s:?}");
    }
    for s in [
        "]C10109506000134353",
        "\u{1d}10ABC",
        "(01)09506000134353",
        "(10)ABC",
        "https://id.gs1.org/01/09506000134353",
        "https://id.gs1.org/01/09506000134352?10=ABC",
        "]E02112345678901",
        "]d2",
        "]Q3(01)09506000134352",
    ] {
        let e = interpret_at(s, YEAR).unwrap_err();
        assert_ne!(e.kind, Gs1ErrorKind::NotGs1, "{s:?}: {e}");
        assert!(claims_gs1(s), "{s:?}");
    }
    // The unprefixed heuristic succeeds only for complete, valid data.
    assert!(interpret_at("0109506000134352", YEAR).is_ok());
    assert!(!claims_gs1("0109506000134352"));
}

#[test]
fn measures_and_counts() {
    let i = interpret_at("(01)09506000134352(3103)000195(3922)0299(30)12", YEAR).unwrap();
    assert_eq!(i.count, Some(12));
    let m = &i.measures;
    assert_eq!(m.len(), 2);
    assert_eq!(
        (
            m[0].mantissa,
            m[0].decimals,
            m[0].unit,
            m[0].display.as_str()
        ),
        (195, 3, "kg", "0.195")
    );
    assert_eq!(m[0].title, "NET WEIGHT (kg)");
    assert_eq!(
        (
            m[1].mantissa,
            m[1].decimals,
            m[1].unit,
            m[1].display.as_str()
        ),
        (299, 2, "currency", "2.99")
    );
    let i = interpret_at(
        "(00)006141411234567890(3300)001250(3361)000155(02)09506000134352(37)25",
        YEAR,
    )
    .unwrap();
    assert_eq!(i.count, Some(25));
    assert_eq!(i.gtin.as_deref(), Some("09506000134352"));
    let m = &i.measures;
    assert_eq!((m[0].display.as_str(), m[0].unit), ("1250", "kg"));
    assert_eq!((m[1].display.as_str(), m[1].unit), ("15.5", "m3"));
    let i = interpret_at("(01)09506000134352(3932)9781234(30)1", YEAR).unwrap();
    assert_eq!(i.measures[0].currency.as_deref(), Some("978"));
    assert_eq!(i.measures[0].display, "12.34");
    let i = interpret_at("(01)09506000134352(3155)012345", YEAR).unwrap();
    assert_eq!(
        (i.measures[0].display.as_str(), i.measures[0].unit),
        ("0.12345", "l")
    );
}

// ---------------------------------------------------------------- bracketed

#[test]
fn bracketed_form() {
    assert_eq!(pairs(&br("(01)12345678901231(10)12345").unwrap()).len(), 2);
    // Escaped and plain brackets inside values.
    let e = br("(01)12345678901231(10)12345\\(11)991225").unwrap();
    assert_eq!(e[1].value, "12345(11)991225");
    let e = br("(01)12345678901231(10)AB(C)").unwrap();
    assert_eq!(e[1].value, "AB(C)");
    assert_eq!(to_bracketed(&e), "(01)12345678901231(10)AB\\(C)");
    assert_eq!(br(&to_bracketed(&e)).unwrap(), e);
    for s in [
        "(10)(11)98765",
        "(1A)12345",
        "1(12345",
        "12345",
        "()12345",
        "(1)12345",
        "(12345)12345",
        "(15",
        "(",
        "(17)9(90)217",
        "(10)12345^",
    ] {
        assert!(br(s).is_err(), "{s}");
    }
    let e = br("(89)ABC").unwrap_err();
    assert_eq!(
        (e.kind, e.message.as_str()),
        (Gs1ErrorKind::UnknownAi, "unknown AI (89) at position 1")
    );
}

// ---------------------------------------------------------------- Digital Link

#[test]
fn digital_link_engine_parse_vectors() {
    let good = [
        ("http://a/00/006141411234567890", "00006141411234567890"),
        ("HTTP://a/00/006141411234567890", "00006141411234567890"),
        ("https://a/00/006141411234567890", "00006141411234567890"),
        ("HTTPS://a/00/006141411234567890", "00006141411234567890"),
        ("https://a/01/12312312312333", "0112312312312333"),
        (
            "https://xn--fsq.xn--0zwm56d/01/12312312312333",
            "0112312312312333",
        ),
        ("https://a./01/12312312312333", "0112312312312333"),
        ("https://a:65535/01/12312312312333", "0112312312312333"),
        ("https://192.0.2.1/01/12312312312333", "0112312312312333"),
        (
            "https://[2001:db8::1]/01/12312312312333",
            "0112312312312333",
        ),
        (
            "https://a/stem/00/006141411234567890",
            "00006141411234567890",
        ),
        (
            "https://a/more/stem/00/006141411234567890",
            "00006141411234567890",
        ),
        (
            "https://a/00/faux/00/006141411234567890",
            "00006141411234567890",
        ),
        (
            "https://a/01/12312312312333/22/TEST/10/ABC/21/XYZ",
            "011231231231233322TEST^10ABC^21XYZ",
        ),
        (
            "https://a/01/12312312312333/235/TEST",
            "0112312312312333235TEST",
        ),
        ("https://a/253/1231231231232", "2531231231231232"),
        (
            "https://a/253/1231231231232TEST5678901234567",
            "2531231231231232TEST5678901234567",
        ),
        (
            "https://a/8018/123456789012345675/8019/123",
            "8018123456789012345675^8019123",
        ),
        (
            "https://a/stem/00/006141411234567890?",
            "00006141411234567890",
        ),
        (
            "https://a/stem/00/006141411234567890?99=ABC",
            "0000614141123456789099ABC",
        ),
        ("https://a/stem/401/12345678?99=ABC", "40112345678^99ABC"),
        (
            "https://a/01/12312312312333?99=ABC&98=XYZ",
            "011231231231233399ABC^98XYZ",
        ),
        (
            "https://a/01/12312312312333?&&&99=ABC&&&&&&98=XYZ&&&",
            "011231231231233399ABC^98XYZ",
        ),
        (
            "https://a/01/12312312312333?99=ABC&unknown=666&98=XYZ",
            "011231231231233399ABC^98XYZ",
        ),
        (
            "https://a/01/12312312312333?singleton&99=ABC&98=XYZ",
            "011231231231233399ABC^98XYZ",
        ),
        (
            "https://a/01/12312312312333?linkType=gs1:pip&99=ABC",
            "011231231231233399ABC",
        ),
        (
            "https://a/01/12312312312333/22/ABC%2d123?99=ABC&98=XYZ%2f987",
            "011231231231233322ABC-123^99ABC^98XYZ/987",
        ),
        (
            "https://a/01/12312312312333/22/ABC+123?99=ABC&98=XYZ%2f987",
            "011231231231233322ABC+123^99ABC^98XYZ/987",
        ),
        (
            "https://a/01/12312312312333/22/test/10/abc/21/xyz#",
            "011231231231233322test^10abc^21xyz",
        ),
        (
            "https://a/01/12312312312333/22/test/10/abc/21/xyz#fragment",
            "011231231231233322test^10abc^21xyz",
        ),
        (
            "https://a/stem/00/006141411234567890?99=ABC#fragment",
            "0000614141123456789099ABC",
        ),
        ("https://id.gs1.org/01/09520123456788", "0109520123456788"),
        (
            "https://id.gs1.org/01/09520123456788/22/2A",
            "0109520123456788222A",
        ),
        (
            "https://id.gs1.org/01/09520123456788/10/ABC123",
            "010952012345678810ABC123",
        ),
        (
            "https://id.gs1.org/01/09520123456788/21/12345",
            "01095201234567882112345",
        ),
        (
            "https://id.gs1.org/01/09520123456788/10/ABC1/21/12345?17=180426",
            "010952012345678810ABC1^2112345^17180426",
        ),
        (
            "https://id.gs1.org/01/09520123456788?3103=000195",
            "01095201234567883103000195",
        ),
        (
            "https://example.com/01/09520123456788?3103=000195&3922=0299&17=201225",
            "0109520123456788310300019539220299^17201225",
        ),
        (
            "https://id.gs1.org/01/09520123456788?17=201225&3103=000195&3922=0299",
            "010952012345678817201225310300019539220299",
        ),
        (
            "https://id.gs1.org/00/952012345678912345",
            "00952012345678912345",
        ),
        (
            "https://id.gs1.org/00/952012345678912345?02=09520123456788&37=25&10=ABC123",
            "0095201234567891234502095201234567883725^10ABC123",
        ),
        ("https://id.gs1.org/414/9520123456788", "4149520123456788"),
        (
            "https://id.gs1.org/414/9520123456788/254/32a%2Fb",
            "414952012345678825432a/b",
        ),
        (
            "https://example.com/8004/9520614141234567?01=9520123456788",
            "80049520614141234567^0109520123456788",
        ),
        (
            "https://id.gs1.org/01/09520123456788/235/XYZ?10=ABC123",
            "0109520123456788235XYZ^10ABC123",
        ),
    ];
    for (uri, want) in good {
        let e = dlp(uri).unwrap_or_else(|e| panic!("{uri}: {e}"));
        assert_eq!(to_element_string(&e), es(want), "{uri}");
    }
    let bad = [
        "",
        "ftp://",
        "http://",
        "http:///",
        "http://a",
        "http://a/",
        "http://a/b",
        "http://a/b/",
        "HtTp://a/b/00/006141411234567890",
        "https://00/006141411234567890",
        "https://[fe80::1%25lo]/01/12312312312333",
        "https://$a/006141411234567890",
        "https://a$/006141411234567890",
        "https://a/gtin/12312312312333",
        "https://a/01/2112345678900",
        "https://a/01/416000336108",
        "https://a/01/02345673",
        "https://a/253/1231231231232TEST56789012345678",
        "https://a/stem/00/006141411234567890/",
        "https://a/01/12312312312333?99=",
        "https://a/01/12312312312333?99=ABC&999=faux",
        "https://a/01/12312312312333/22/ABC%2d123?99=ABC&98=XYZ+987",
        "https://example.com/01/09520123456788?10=ABC123",
        "https://id.gs1.org/01/09520123456788/10/ABC123?99=XYZ789&01=09520123456788",
        "https://id.gs1.org/01/09520123456788/10/ABC123?99=XYZ789&10=ABC123",
        "https://id.gs1.org/01/09520123456788/10/ABC123?99=XYZ789&99=XYZ789",
        "https://example.com/01/09520123456788/89/ABC123?99=XYZ",
        "https://example.com/01/09520123456788?99=XYZ&89=ABC123",
        "https://a/01/12312312312333/10/ABC/22/X",
        "https://a/01/12312312312333/22/X/235/Y",
        "https://a/01/12312312312333?21=ABC",
        "https://a/01/12312312312333/10/A%00B",
    ];
    for uri in bad {
        assert!(dlp(uri).is_err(), "{uri} should fail");
    }
}

#[test]
fn digital_link_errors() {
    let e = dlp("https://example.com/01/09520123456788?10=ABC123").unwrap_err();
    assert_eq!(e.kind, Gs1ErrorKind::DigitalLink);
    assert!(
        e.message.contains("must be in the URI path"),
        "{}",
        e.message
    );
    let e = dlp("https://a/01/12312312312333/10/ABC/22/X").unwrap_err();
    assert!(
        e.message.contains("not a valid key-qualifier sequence"),
        "{}",
        e.message
    );
    let e = dlp("https://a/01/12312312312333?999=faux").unwrap_err();
    assert_eq!((e.kind, e.position), (Gs1ErrorKind::UnknownAi, 28));
    let e = dlp("https://id.gs1.org/01/09520123456788/10/ABC123?10=ABC123").unwrap_err();
    assert_eq!(e.kind, Gs1ErrorKind::DuplicateAi);
}

#[test]
fn digital_link_generation_engine_vectors() {
    let g = |stem: Option<&str>, bracketed: &str| -> Result<String, Gs1Error> {
        let e = br(bracketed).unwrap_or_else(|e| panic!("{bracketed}: {e}"));
        to_digital_link(&e, stem)
    };
    let ex = Some("https://example.com");
    assert_eq!(
        g(None, "(01)12312312312326(21)abc123").unwrap(),
        "https://id.gs1.org/01/12312312312326/21/abc123"
    );
    assert_eq!(
        g(ex, "(01)12312312312326(21)abc123").unwrap(),
        "https://example.com/01/12312312312326/21/abc123"
    );
    assert_eq!(
        g(
            Some("https://example.com/"),
            "(01)12312312312326(22)ABC(10)DEF(21)GHI"
        )
        .unwrap(),
        "https://example.com/01/12312312312326/22/ABC/10/DEF/21/GHI"
    );
    assert_eq!(
        g(ex, "(01)12312312312326(22)ABC(10)DEF(21)GHI(95)INT").unwrap(),
        "https://example.com/01/12312312312326/22/ABC/10/DEF/21/GHI?95=INT"
    );
    assert_eq!(
        g(ex, "(21)XYZ(01)12312312312333(10)ABC123(99)XYZ").unwrap(),
        "https://example.com/01/12312312312333/10/ABC123/21/XYZ?99=XYZ"
    );
    assert_eq!(
        g(ex, "(01)12312312312333(10)ABC+123(99)XYZ+QWERTY").unwrap(),
        "https://example.com/01/12312312312333/10/ABC%2B123?99=XYZ%2BQWERTY"
    );
    assert_eq!(
        g(
            ex,
            "(8017)795260646688514634(99)000001(253)9526064000028000001"
        )
        .unwrap(),
        "https://example.com/8017/795260646688514634?99=000001&253=9526064000028000001"
    );
    assert_eq!(
        g(
            ex,
            "(253)9526064000028000001(99)000001(01)12312312312326(10)DEF(95)INT"
        )
        .unwrap(),
        "https://example.com/253/9526064000028000001?01=12312312312326&99=000001&10=DEF&95=INT"
    );
    assert_eq!(
        g(
            ex,
            "(01)12312312312326(01)12312312312326(10)ABC123(99)XYZ789"
        )
        .unwrap(),
        "https://example.com/01/12312312312326/10/ABC123?99=XYZ789"
    );
    assert!(
        g(
            ex,
            "(01)12312312312326(99)000001(8200)http://example.com(95)INT"
        )
        .is_err()
    );
    assert!(
        g(
            ex,
            "(01)12312312312326(235)TPX9526064(99)000001(22)ABC(95)INT"
        )
        .is_err()
    );
    assert!(
        g(
            ex,
            "(01)12312312312326(22)ABC(10)DEF(99)000001(235)TPX9526064(95)INT"
        )
        .is_err()
    );
    assert!(g(ex, "(01)12312312312326(235)ABC(10)DEF").is_err());
    assert!(g(ex, "(99)ABC").is_err(), "no primary key");
    // Percent-encoding (engine URIescape) round-trips through the parser.
    let e = vec![
        Element::new("01", "12312312312333"),
        Element::new("99", "!\"%&'()*+,/:;<=>? -._~"),
    ];
    let uri = to_digital_link(&e, None).unwrap();
    assert_eq!(
        uri,
        "https://id.gs1.org/01/12312312312333?99=%21%22%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3C%3D%3E%3F+-._~"
    );
    // (A space is not valid CSET 82 data, so the round trip stops at validation.)
    assert_eq!(dlp(&uri).unwrap_err().kind, Gs1ErrorKind::InvalidCharacter);
}

#[test]
fn rendering() {
    let e = vec![
        Element::new("01", "09506000134352"),
        Element::new("10", "ABC"),
        Element::new("17", "201225"),
        Element::new("21", "S1"),
    ];
    assert_eq!(
        to_element_string(&e),
        "0109506000134352".to_string() + "10ABC\u{1d}17201225" + "21S1"
    );
    assert_eq!(
        to_bracketed(&e),
        "(01)09506000134352(10)ABC(17)201225(21)S1"
    );
    assert_eq!(parse_element_string(&to_element_string(&e)).unwrap(), e);
    assert_eq!(parse_bracketed(&to_bracketed(&e)).unwrap(), e);
    assert!(to_element_string(&[]).is_empty());
}

// ---------------------------------------------------------------- property tests

fn gtin() -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, 13).prop_map(|d| {
        let mut s: String = d.iter().map(|d| char::from(b'0' + d)).collect();
        let c = mod10_check_digit(s.as_bytes());
        s.push(char::from(b'0' + c));
        s
    })
}

fn sscc() -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, 17).prop_map(|d| {
        let mut s: String = d.iter().map(|d| char::from(b'0' + d)).collect();
        let c = mod10_check_digit(s.as_bytes());
        s.push(char::from(b'0' + c));
        s
    })
}

const CSET82: &str =
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

fn cset82(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(CSET82.chars().collect::<Vec<_>>()),
        1..=max,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn yymmdd(day_zero: bool) -> impl Strategy<Value = String> {
    (0u32..100, 1u32..13, 0u32..32).prop_map(move |(y, m, d)| {
        let year = linters::full_year(y as i32, YEAR);
        let max = linters::days_in_month(year, m);
        let d = if day_zero && d == 0 { 0 } else { 1 + d % max };
        format!("{y:02}{m:02}{d:02}")
    })
}

fn digits(min: usize, max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0u8..10, min..=max)
        .prop_map(|d| d.iter().map(|d| char::from(b'0' + d)).collect())
}

/// Valid trade-item messages (01 + optional attributes) and logistic-unit messages (00 + ...).
fn message() -> impl Strategy<Value = Vec<Element>> {
    let trade = (
        gtin(),
        proptest::option::of(yymmdd(true)),
        proptest::option::of(yymmdd(true)),
        proptest::option::of(yymmdd(false)),
        proptest::option::of(cset82(20)),
        proptest::option::of(cset82(20)),
        proptest::option::of(digits(1, 8)),
        proptest::option::of((0u8..6, digits(6, 6))),
    )
        .prop_map(|(g, exp, bb, prod, batch, serial, count, weight)| {
            let mut e = vec![Element::new("01", &g)];
            if let Some(v) = exp {
                e.push(Element::new("17", &v));
            }
            if let Some(v) = batch {
                e.push(Element::new("10", &v));
            }
            if let Some(v) = bb {
                e.push(Element::new("15", &v));
            }
            if let Some(v) = serial {
                e.push(Element::new("21", &v));
            }
            if let Some(v) = prod {
                e.push(Element::new("11", &v));
            }
            if let Some(v) = count {
                e.push(Element::new("30", &v));
            }
            if let Some((n, v)) = weight {
                e.push(Element::new(&format!("310{n}"), &v));
            }
            e
        });
    let logistic = (
        sscc(),
        proptest::option::of((gtin(), digits(1, 8))),
        proptest::option::of(cset82(20)),
        proptest::option::of((0u8..6, digits(6, 6))),
        proptest::option::of(cset82(30)),
    )
        .prop_map(|(s, content, batch, gross, order)| {
            let mut e = vec![Element::new("00", &s)];
            if let Some((g, c)) = content {
                e.push(Element::new("02", &g));
                e.push(Element::new("37", &c));
                if let Some(b) = batch {
                    e.push(Element::new("10", &b));
                }
            }
            if let Some((n, v)) = gross {
                e.push(Element::new(&format!("330{n}"), &v));
            }
            if let Some(o) = order {
                e.push(Element::new("400", &o));
            }
            e
        });
    prop_oneof![trade, logistic]
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn round_trips_every_form(msg in message()) {
        let want = pairs(&msg);
        let es_ = to_element_string(&msg);
        for raw in [
            format!("]C1{es_}"),
            format!("]d2{es_}"),
            format!("]Q3{es_}"),
            format!("\u{1d}{es_}"),
            es_.clone(),
        ] {
            let i = interpret_at(&raw, YEAR).map_err(|e| TestCaseError::fail(format!("{raw:?}: {e}")))?;
            prop_assert_eq!(i.form, InputForm::ElementString);
            prop_assert_eq!(pairs(&i.elements), want.clone());
        }
        let b = to_bracketed(&msg);
        let i = interpret_at(&b, YEAR).map_err(|e| TestCaseError::fail(format!("{b:?}: {e}")))?;
        prop_assert_eq!(i.form, InputForm::Bracketed);
        prop_assert_eq!(pairs(&i.elements), want.clone());

        let uri = to_digital_link(&msg, Some("https://example.com/stem")).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let i = interpret_at(&uri, YEAR).map_err(|e| TestCaseError::fail(format!("{uri}: {e}")))?;
        prop_assert_eq!(i.form, InputForm::DigitalLink);
        prop_assert_eq!(sorted(pairs(&i.elements)), sorted(want.clone()));

        // The typed fields agree with the elements.
        let get = |ai: &str| msg.iter().find(|e| e.ai == ai).map(|e| e.value.clone());
        prop_assert_eq!(i.gtin, get("01").or_else(|| get("02")));
        prop_assert_eq!(i.sscc, get("00"));
        prop_assert_eq!(i.batch, get("10"));
        prop_assert_eq!(i.serial, get("21"));
        prop_assert_eq!(i.expiry.is_some(), get("17").is_some());
        prop_assert_eq!(i.measures.len(), msg.iter().filter(|e| e.ai.starts_with("310") || e.ai.starts_with("330")).count());
    }

    #[test]
    fn plain_gtins_and_ssccs(g in gtin(), s in sscc()) {
        for raw in [g.clone(), g.trim_start_matches('0').to_string()] {
            if is_gtin_len(raw.len()) {
                let i = interpret_at(&raw, YEAR).unwrap();
                prop_assert_eq!(i.form, InputForm::PlainGtin);
                prop_assert_eq!(i.gtin.as_deref(), Some(g.as_str()));
            }
        }
        let i = interpret_at(&s, YEAR).unwrap();
        prop_assert_eq!(i.form, InputForm::PlainSscc);
        prop_assert_eq!(i.sscc.as_deref(), Some(s.as_str()));
    }

    #[test]
    fn never_panics_on_gs1ish_text(
        prefix in proptest::sample::select(vec![
            "", "]C1", "]d2", "]Q3", "]e0", "]E0", "]E4", "]Q1", "]C0", "\u{1d}", "(", "(01)",
            "https://id.gs1.org/", "https://a/01/", "HTTP://a/00/", "]Q1https://x/01/09506000134352?",
            "0109506000134352", "00",
        ]),
        body in "[\\x1d()\\\\0-9A-Za-z%/?&=:.#+|\\]é€ _-]{0,64}",
    ) {
        let raw = format!("{prefix}{body}");
        match interpret_at(&raw, YEAR) {
            Ok(i) => {
                // Whatever was accepted renders and reads back the same.
                let again = interpret_at(&to_bracketed(&i.elements), YEAR);
                prop_assert!(again.is_ok(), "{raw:?} -> {:?}", again);
            }
            Err(e) => {
                prop_assert_eq!(e.kind == Gs1ErrorKind::NotGs1, !claims_gs1(&raw), "{:?}: {}", raw, e);
                prop_assert!(e.position <= raw.len(), "{:?}: position {}", raw, e.position);
                prop_assert!(!e.message.is_empty());
            }
        }
        let _ = parse_element_string(&raw);
        let _ = parse_bracketed(&raw);
        let _ = parse_digital_link(&raw);
    }

    #[test]
    fn never_panics_on_any_string(raw in any::<String>()) {
        let r = interpret(&raw);
        if let Err(e) = r {
            prop_assert_eq!(e.kind == Gs1ErrorKind::NotGs1, !claims_gs1(&raw));
        }
        let _ = parse_element_string(&raw);
        let _ = parse_bracketed(&raw);
        let _ = parse_digital_link(&raw);
    }

    #[test]
    fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        let raw = String::from_utf8_lossy(&bytes);
        let _ = interpret(&raw);
        let _ = parse_digital_link(&raw);
    }
}
