//! End-to-end tests: one binary, one module per story.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod interop;
mod offline_signing;
mod server_issuance;
mod story;
mod trials;
