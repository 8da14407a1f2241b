//! The router: every route group under `/api/v1`, the public endpoints, the fallbacks, the
//! metrics middleware and the body limit.

use super::error::ApiError;
use super::state::AppState;
use super::{
    access, accounts, audit, deployments, evaluations, licenses, metrics, outbox, public, trials,
    usage, webhooks,
};
use axum::Router;
use axum::extract::DefaultBodyLimit;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The whole application.
pub fn router(state: AppState) -> Router {
    let limiter = state.rate_limiter.clone();
    let api = Router::new()
        .merge(accounts::router())
        .merge(licenses::router())
        .merge(usage::router())
        .merge(audit::router())
        .merge(outbox::router())
        .merge(evaluations::router())
        .merge(webhooks::router())
        .merge(trials::router(limiter.clone()))
        .merge(deployments::router(limiter))
        .merge(public::api_router())
        .merge(access::router());
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
