//! The HTTP API: one `Clone` state, one router per route group, merged in [`router`].

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

use crate::clock::Clock;
use crate::issuance::Signer;
use crate::mail::Composer;
use crate::store::Store;
use crate::trials::TrialPolicy;
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
    /// The database.
    pub store: Arc<dyn Store>,
    /// The licensor's signing key.
    pub signer: Arc<Signer>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Prometheus metrics.
    pub metrics: Arc<metrics::Metrics>,
    /// Composes the emails the outbox delivers.
    pub composer: Arc<Composer>,
    /// Wakes this process's outbox worker when a message is queued.
    pub outbox_wake: Arc<tokio::sync::Notify>,
    /// The trial rules.
    pub trial_policy: Arc<TrialPolicy>,
    /// Rate limits of the public endpoints.
    pub rate_limiter: Arc<ratelimit::RateLimiter>,
}

impl AppState {
    /// A state with default metrics, trial rules and rate limits (60 a minute, bursts of 20).
    pub fn new(
        store: Arc<dyn Store>,
        signer: Arc<Signer>,
        clock: Arc<dyn Clock>,
        composer: Arc<Composer>,
    ) -> Self {
        Self {
            store,
            signer,
            clock,
            metrics: Arc::new(metrics::Metrics::default()),
            composer,
            outbox_wake: Arc::new(tokio::sync::Notify::new()),
            trial_policy: Arc::new(TrialPolicy::default()),
            rate_limiter: Arc::new(ratelimit::RateLimiter::new(60, 20, false)),
        }
    }
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
