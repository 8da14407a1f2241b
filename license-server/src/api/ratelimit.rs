//! Per-client-address rate limiting for the public endpoints: a token bucket per address.
//!
//! Abuse protection, per process: the trial rules themselves are enforced by the database
//! across replicas, so a client spreading requests over replicas gains nothing but speed.

use super::error::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most addresses tracked before idle ones are forgotten.
const MAX_TRACKED: usize = 100_000;

/// Token buckets keyed by client address.
#[derive(Debug)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    trust_forwarded_for: bool,
    buckets: Mutex<HashMap<(IpAddr, String), (f64, Instant)>>,
}

impl RateLimiter {
    /// Allows `burst` requests at once and `per_minute` sustained, per address. With
    /// `trust_forwarded_for`, the client is the first address of `X-Forwarded-For` (only
    /// behind a proxy that sets it).
    pub fn new(per_minute: u32, burst: u32, trust_forwarded_for: bool) -> Self {
        Self {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_minute.max(1)) / 60.0,
            trust_forwarded_for,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `client` on `endpoint` at `now`, or says how long until one is free.
    /// Each endpoint has its own buckets: check-ins do not use up trial requests.
    pub fn check(&self, client: IpAddr, endpoint: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = match self.buckets.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() >= MAX_TRACKED {
            let full_after = Duration::from_secs_f64(self.burst / self.per_second);
            buckets.retain(|_, (_, seen)| now.duration_since(*seen) < full_after);
        }
        let (tokens, seen) = buckets
            .entry((client, endpoint.to_owned()))
            .or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*seen).as_secs_f64() * self.per_second).min(self.burst);
        *seen = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.per_second))
        }
    }

    fn client(&self, request: &Request) -> Option<IpAddr> {
        if self.trust_forwarded_for
            && let Some(forwarded) = request
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
            && let Some(Ok(ip)) = forwarded
                .split(',')
                .next()
                .map(|first| first.trim().parse())
        {
            return Some(ip);
        }
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
    }
}

/// The client's address as the rate limiter saw it, for handlers that record it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub Option<IpAddr>);

/// Middleware: 429 with `Retry-After` when the client's bucket is empty.
pub async fn limit(
    State(limiter): State<Arc<RateLimiter>>,
    mut request: Request,
    next: Next,
) -> Response {
    let client = limiter.client(&request);
    request.extensions_mut().insert(ClientAddress(client));
    let endpoint = request.uri().path().to_owned();
    if let Some(ip) = client
        && let Err(wait) = limiter.check(ip, &endpoint, Instant::now())
    {
        let seconds = wait.as_secs().max(1);
        let mut response = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests from {ip}; retry in {seconds} s"),
        )
        .into_response();
        if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_over_time_and_are_per_address() {
        let limiter = RateLimiter::new(60, 2, false);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        assert!(limiter.check(a, "/t", t0).is_ok());
        assert!(limiter.check(a, "/t", t0).is_ok());
        let wait = limiter.check(a, "/t", t0).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::ZERO,
            "{wait:?}"
        );
        assert!(
            limiter.check(b, "/t", t0).is_ok(),
            "another address has its own bucket"
        );
        assert!(
            limiter.check(a, "/t", t0 + Duration::from_secs(1)).is_ok(),
            "one token per second refills"
        );
        assert!(limiter.check(a, "/t", t0 + Duration::from_secs(1)).is_err());
        assert!(
            limiter.check(a, "/c", t0).is_ok(),
            "another endpoint has buckets of its own"
        );
    }
}
