//! Depot: the warehouse and fulfilment backend of a sales business.
//!
//! Domain modules (`auth`, `catalog`, `crm`) hold the rules and the SQL of the tables they own and
//! know nothing of HTTP; `api` is the thin HTTP layer over them; `db` runs the same portable SQL
//! on SQLite or PostgreSQL.

pub mod api;
pub mod app;
pub mod auth;
pub mod barcode;
pub mod catalog;
pub mod config;
pub mod crm;
pub mod days;
pub mod db;
pub mod demo;
pub mod error;
pub mod floor;
pub mod fulfilment;
pub mod jobs;
pub mod labels;
pub mod patch;
pub mod printing;
pub mod production;
pub mod purchasing;
pub mod reports;
pub mod scanning;
pub mod shipping;
pub mod stock;
pub mod supply;
pub mod sync;
pub mod transfer;
