//! Barcode data: interpreting what scanners send.

pub mod decode;
pub mod gs1;
pub mod internal;
