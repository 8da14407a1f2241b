//! End-to-end tests: one binary, one module per story.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod deploy_manifests;
mod interop;
mod offline_signing;
mod password_memory;
mod readme;
mod renewals;
mod schemathesis;
mod server_issuance;
mod story;
mod trials;
