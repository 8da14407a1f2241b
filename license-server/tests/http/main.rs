//! The HTTP API end to end: each test runs the server in-process on a fresh database, and
//! most run twice, on SQLite and on Postgres (`sqlite::NAME`, `postgres::NAME`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod accounts;
mod auth;
mod bad_bodies;
mod bad_fields;
mod bad_requests;
mod connections;
mod documented;
mod idempotency;
mod licenses;
mod lifecycle;
mod ops;
mod outage;
mod roles;
