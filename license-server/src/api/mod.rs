//! The HTTP API, axum only: extractors, request and response types, and the one mapping of
//! service errors to HTTP (`error.rs`). Handlers parse, call the service layer
//! ([`crate::service::Licensor`]) and render its answer as a view; they hold no rules.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod common;
pub mod deployments;
pub mod error;
pub mod evaluations;
pub mod extract;
pub mod licenses;
pub mod metrics;
pub mod outbox;
pub mod public;
pub mod ratelimit;
mod routes;
mod state;
pub mod trials;
pub mod usage;
pub mod webhooks;

pub use metrics::REQUEST_TIMEOUT;
pub use routes::{MAX_BODY_BYTES, router};
pub use state::AppState;
