//! License delivery by email: a real SMTP server (maildev), misbehaving SMTP peers, the file
//! outbox, and several workers on one database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod delivery;
mod fault_smtp;
mod maildev;
