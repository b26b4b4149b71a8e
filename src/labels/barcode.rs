//! Barcode encoding: to be written.
