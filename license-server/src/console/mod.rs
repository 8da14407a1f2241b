//! The web console at `/console`: the vendor's license desk in a browser. axum handlers and
//! askama templates (compiled and checked with the binary), plain HTML forms that work
//! without JavaScript, the stylesheet served from the binary. Handlers parse a form, ask the
//! service layer ([`crate::service::Licensor`]) exactly as `api/` does, and render its answer:
//! the rules, the roles included, are the service's.
//!
//! Sessions are `tower-sessions` records in the licensor's own database
//! (`session_store.rs`); every form carries the session's CSRF token (`auth.rs`); sign-in is
//! throttled per account and address (`throttle.rs`); every answer carries a
//! Content-Security-Policy without inline script (`security.rs`).

mod accounts;
mod auth;
mod chart;
mod chrome;
mod csv;
mod deployments;
mod forms;
mod license_forms;
mod licenses;
mod pages;
mod people;
mod routes;
mod security;
mod session_store;
mod state;
mod throttle;
mod trials;
mod views;

pub use routes::router;
pub(crate) use state::ConsoleState;
