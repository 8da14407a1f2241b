//! The HTTP API, axum only: extractors, request and response types, and the one mapping of
//! service errors to HTTP (`error.rs`). Handlers parse, call the service layer
//! ([`crate::service::Licensor`]) and render its answer as a view; they hold no rules.

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
pub mod trials;

use crate::service::Licensor;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use error::ApiError;
use std::sync::Arc;
use std::time::Duration;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long one request may take before the server gives up on it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The rules.
    pub licensor: Licensor,
    /// Rate limits of the public endpoints.
    pub rate_limiter: Arc<ratelimit::RateLimiter>,
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(accounts::router())
        .merge(licenses::router())
        .merge(audit::router())
        .merge(outbox::router())
        .merge(evaluations::router())
        .merge(trials::router(state.clone()))
        .merge(deployments::router(state.clone()))
        .merge(public::api_router());
    Router::new()
        .nest("/api/v1", api)
        .merge(public::router())
        .fallback(|| async { ApiError::not_found("this path") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this method is not allowed here",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
