//! Data in and out (issue 18): exports of whole record kinds as CSV, streamed page by page in
//! constant memory. (Imports with a dry run come next; see docs/data.md.)

pub mod api;
pub mod csv_in;
pub mod exports;
pub mod imports;
