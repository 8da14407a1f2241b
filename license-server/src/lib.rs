//! Licensor's server crate: the vendor's licensor (HTTP API, storage) and its offline tools.

pub mod api;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod issuance;
pub mod keyfile;
pub mod mail;
pub mod outbox;
pub mod store;
pub mod tokens;
pub mod trials;
