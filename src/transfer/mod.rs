//! Data in and out (issue 18): imports of CSV and XLSX files with a dry run (big ones as jobs),
//! and exports of whole record kinds as CSV, streamed page by page in constant memory. See
//! docs/data.md.

pub mod api;
pub mod csv_in;
pub mod exports;
pub mod imports;
pub mod jobs;
pub mod xlsx_in;
