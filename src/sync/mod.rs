//! Working offline: what a device needs to keep scanning through a Wi-Fi drop-out.
//!
//! - [`changes`]: the change feed a device mirrors master data from (`GET /v1/sync/changes`),
//!   over the rows that triggers on the source tables record (migration 0019).
//! - [`ops`]: the operations a device queued, applied exactly once when it comes back
//!   (`POST /v1/sync/ops`), and the exceptions a supervisor resolves.
//! - [`api`]: their handlers. See docs/offline.md.

pub mod api;
pub mod changes;
pub mod ops;
