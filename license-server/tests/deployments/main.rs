//! Deployment tracking end to end: public check-ins answered with signed receipts, the signed
//! revocation list, the desk's view of deployments (filters, check-in history, over-seat and
//! overuse flags), bad input, and the entitlements a control plane derives from the receipts
//! and the list; license sync (renewals in the check-in answer) and the seat usage report. Each test runs the server in-process on a fresh database, twice: on SQLite
//! and on Postgres (`sqlite::NAME`, `postgres::NAME`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod bad_input;
mod batching;
mod checkins;
mod entitlements;
mod filters;
mod overuse;
mod receipts;
mod renewals;
mod revocations;
mod usage;
