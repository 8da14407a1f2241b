//! Licensor's server crate: the vendor's licensor and its offline tools.
//!
//! Layers, each depending only on those below it: `commands` (flags) and `app` (assembly) →
//! `api` (axum) → `service` (the rules) → `store` (sqlx). `mail`, `metrics`, `clock` and
//! `keyfile` are leaves the layers above use.

pub mod api;
pub mod app;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod console;
pub mod keyfile;
pub mod listener;
pub mod mail;
pub mod metrics;
pub mod service;
pub mod store;
