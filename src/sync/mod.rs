//! Working offline: what a device needs to keep scanning through a Wi-Fi drop-out.
//!
//! - [`changes`]: the change feed a device mirrors master data from (`GET /v1/sync/changes`),
//!   over the rows that triggers on the source tables record (migration 0019).
//! - [`api`]: its handler.

pub mod api;
pub mod changes;
