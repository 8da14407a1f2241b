//! What every handler can reach.

use super::ratelimit::RateLimiter;
use crate::service::Licensor;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The rules.
    pub licensor: Licensor,
    /// Rate limits of the public endpoints.
    pub rate_limiter: Arc<RateLimiter>,
}
