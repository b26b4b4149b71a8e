//! Fuzzes the GS1 interpreter with arbitrary UTF-8: it must never panic, and whatever it accepts
//! must read back the same from its bracketed and element-string renderings.
#![no_main]

use depot::barcode::gs1;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &str| {
    let claims = gs1::claims_gs1(raw);
    match gs1::interpret(raw) {
        Ok(i) => {
            let again = gs1::parse_bracketed(&gs1::to_bracketed(&i.elements));
            assert!(again.is_ok(), "{raw:?}: {again:?}");
            let again = gs1::parse_element_string(&gs1::to_element_string(&i.elements));
            assert!(again.is_ok(), "{raw:?}: {again:?}");
        }
        Err(e) => {
            assert_eq!(e.kind == gs1::Gs1ErrorKind::NotGs1, !claims, "{raw:?}: {e}");
            assert!(e.position <= raw.len());
        }
    }
    let _ = gs1::parse_element_string(raw);
    let _ = gs1::parse_bracketed(raw);
    let _ = gs1::parse_digital_link(raw);
});
