//! The HTTP suite: every test runs against SQLite and PostgreSQL through a real socket.

mod helpers;

mod auth;
mod catalog;
mod crm;
mod platform;
mod scanning;
mod stock;
mod story;
