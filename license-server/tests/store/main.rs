//! The store's conformance suite: every function of every store area, each test run on SQLite
//! and on a fresh Postgres database (`sqlite::NAME`, `postgres::NAME`), and the test that
//! prepares every SQL statement on both backends. Postgres tests fail when Postgres is
//! unreachable; they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod accounts;
mod audit;
mod deployments;
mod evaluations;
mod idempotency;
mod licenses;
mod outbox;
mod statements;
mod store;
mod tokens;
mod trials;
