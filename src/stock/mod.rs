//! Stock: batches (lots) with expiry, the append-only movement ledger with the balances it
//! maintains, and the one FEFO rule that decides which stock may be handed out and in what order.
//!
//! - [`fefo`] is pure: eligibility ([`fefo::is_expired`], status, remaining shelf life) and the
//!   pick order. Reservation and picking use [`fefo::plan`] (through [`ledger::plan`]).
//! - [`batches`] owns the `batches` table.
//! - [`ledger`] owns `stock_movements` and `stock_balances`: [`ledger::post`] writes movements and
//!   their balance changes in one transaction; [`ledger::consistency`] re-derives every balance.

pub mod api;
pub mod batches;
pub mod counts;
pub mod fefo;
pub mod ledger;
pub mod operations;
pub mod receipts;
pub mod reservations;

pub use batches::{Batch, BatchStatus};
pub use fefo::{Candidate, Pick, Plan};
pub use ledger::{Balance, Mismatch, Movement, MovementType, NewMovement};
