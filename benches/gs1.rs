//! GS1 interpreter benchmark: `cargo bench --bench gs1`.
//!
//! Typical scans of a trade item with GTIN, expiry, batch and serial, in each input form.
//! For comparison (shared/PERF-ANCHORS.md): Python biip 5.2.0 takes about 92 µs to parse the
//! same kind of (01)(17)(10)(21) string on this machine kind.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use depot::barcode::gs1;

fn bench(c: &mut Criterion) {
    let inputs = [
        (
            "gs1-128 ]C1 (01)(17)(10)(21)",
            "]C101095060001343521720122510ABC123\u{1d}21SER001",
        ),
        (
            "datamatrix ]d2 (01)(17)(10)(21)",
            "]d201095060001343521720122510ABC123\u{1d}21SER001",
        ),
        (
            "bracketed (01)(17)(10)(21)",
            "(01)09506000134352(17)201225(10)ABC123(21)SER001",
        ),
        (
            "digital link /01/10/21?17",
            "https://id.gs1.org/01/09506000134352/10/ABC123/21/SER001?17=201225",
        ),
        ("plain GTIN-13", "9506000134352"),
        (
            "logistic ]C1 (00)(02)(37)(10)",
            "]C1000061414112345678900209506000134352372\u{1d}10LOT7",
        ),
        ("not GS1 (internal code)", "BIN-A-01-03"),
    ];
    for (name, raw) in inputs {
        // Every input must do what its name says before it is timed.
        match gs1::interpret(raw) {
            Ok(_) => assert!(!name.starts_with("not GS1"), "{name}"),
            Err(e) => assert!(name.starts_with("not GS1"), "{name}: {e}"),
        }
        c.bench_function(&format!("interpret {name}"), |b| {
            b.iter(|| gs1::interpret(black_box(raw)))
        });
    }
    let elements = gs1::interpret(inputs[0].1)
        .map(|i| i.elements)
        .unwrap_or_default();
    c.bench_function("to_element_string (01)(17)(10)(21)", |b| {
        b.iter(|| gs1::to_element_string(black_box(&elements)))
    });
    c.bench_function("to_digital_link (01)(17)(10)(21)", |b| {
        b.iter(|| gs1::to_digital_link(black_box(&elements), None))
    });
    c.bench_function("ai_info lookup", |b| {
        b.iter(|| gs1::ai_info(black_box("3103")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
