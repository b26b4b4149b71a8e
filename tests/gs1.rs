//! The GS1 interpreter through its public API only, as the HTTP layer will use it.

use depot::barcode::gs1::{self, Element, Gs1ErrorKind, InputForm};

#[test]
fn typical_scans() {
    let gs = "]C101095060001343521720122510ABC123\u{1d}21SER001";
    let i = gs1::interpret(gs).expect("valid GS1-128");
    assert_eq!(i.symbology.as_deref(), Some("]C1"));
    assert_eq!(i.form, InputForm::ElementString);
    assert_eq!(i.gtin.as_deref(), Some("09506000134352"));
    assert_eq!(i.batch.as_deref(), Some("ABC123"));
    assert_eq!(i.serial.as_deref(), Some("SER001"));
    assert_eq!(
        i.expiry.map(|d| d.to_string()).as_deref(),
        Some("2020-12-25")
    );
    assert_eq!(
        gs1::to_bracketed(&i.elements),
        "(01)09506000134352(17)201225(10)ABC123(21)SER001"
    );
    assert_eq!(gs1::to_element_string(&i.elements), &gs[3..]);
    assert_eq!(
        gs1::to_digital_link(&i.elements, None).unwrap(),
        "https://id.gs1.org/01/09506000134352/10/ABC123/21/SER001?17=201225"
    );

    let b = gs1::interpret("(01)09506000134352(17)201225(10)ABC123(21)SER001").unwrap();
    assert_eq!(b.form, InputForm::Bracketed);
    assert_eq!(b.elements, i.elements);

    let d = gs1::interpret(
        "https://example.com/01/09506000134352/10/ABC123/21/SER001?17=201225&linkType=all",
    )
    .unwrap();
    assert_eq!(d.form, InputForm::DigitalLink);
    assert_eq!(
        (d.gtin, d.batch, d.serial, d.expiry),
        (i.gtin, i.batch, i.serial, i.expiry)
    );
}

#[test]
fn internal_codes_are_not_gs1() {
    for raw in [
        "BIN-A-01-03",
        "PICK 42",
        "]C0LOC-7",
        "https://example.com/about",
    ] {
        let e = gs1::interpret(raw).unwrap_err();
        assert_eq!(e.kind, Gs1ErrorKind::NotGs1, "{raw}: {e}");
        assert!(!gs1::claims_gs1(raw));
    }
    let e = gs1::interpret("]C10109506000134353").unwrap_err();
    assert_eq!(e.kind, Gs1ErrorKind::CheckDigit);
    assert_eq!(e.ai.as_deref(), Some("01"));
    assert_eq!(e.position, 18);
    assert!(gs1::claims_gs1("]C10109506000134353"));
}

#[test]
fn public_parsers_and_table() {
    let e = gs1::parse_element_string("0109506000134352\u{1d}").unwrap();
    assert_eq!(e, vec![Element::new("01", "09506000134352")]);
    assert_eq!(gs1::parse_bracketed("(01)09506000134352").unwrap(), e);
    assert_eq!(
        gs1::parse_digital_link("https://id.gs1.org/01/09506000134352").unwrap(),
        e
    );
    let info = gs1::ai_info("17").unwrap();
    assert_eq!(
        (info.title, info.format.as_str()),
        ("USE BY or EXPIRY", "N6,yymmd0")
    );
    assert!(info.predefined_length);
    assert_eq!(gs1::all_ais().len(), 541);
}
