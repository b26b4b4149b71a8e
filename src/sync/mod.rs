//! Devices that work offline: the operations they queued, applied exactly once when they come
//! back (`POST /v1/sync/ops`), and the exceptions a supervisor resolves. See docs/offline.md.

pub mod api;
pub mod ops;
