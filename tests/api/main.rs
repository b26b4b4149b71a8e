//! The HTTP suite: every test runs against SQLite and PostgreSQL through a real socket.

mod contract;
mod examples;
mod helpers;
#[path = "../common/scratch_db.rs"]
mod scratch_db;

mod auth;
mod catalog;
mod consolidated;
mod counts;
mod crm;
mod data;
mod demo;
mod dispatch;
mod fulfilment;
mod garbage;
mod hardening;
mod labels;
mod offline;
mod picking;
mod platform;
mod printing;
mod reports;
mod returns;
mod sales_flow;
mod scanning;
mod schema;
mod security;
mod stock;
mod story;
mod sync;
