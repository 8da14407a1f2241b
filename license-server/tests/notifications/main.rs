//! Lifecycle notifications (issue #15): reminders queued exactly once per license and stage
//! with two replicas and a restart, on both backends (`reminders`); signed webhooks delivered
//! to a real receiver, with retries, a dead endpoint, redelivery, SSRF refusals, and the
//! documented Python and Node verification snippets run against a captured delivery
//! (`webhooks`, `snippets`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod helpers;
mod receiver;
mod reminders;
mod snippets;
mod webhooks;
