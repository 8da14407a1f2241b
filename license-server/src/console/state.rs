//! What every console handler can reach, and the session's settings.

use super::throttle::LoginThrottle;
use crate::service::Licensor;
use std::sync::Arc;

/// How long a session lives without a request.
pub const SESSION_IDLE: time::Duration = time::Duration::hours(8);

/// The session cookie's name.
pub const COOKIE: &str = "licensor_console";

/// What every console handler can reach.
#[derive(Debug, Clone)]
pub struct ConsoleState {
    /// The rules.
    pub licensor: Licensor,
    /// Failed sign-ins, per account and address.
    pub throttle: Arc<LoginThrottle>,
}
