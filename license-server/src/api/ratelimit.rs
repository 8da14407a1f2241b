//! Per-client rate limiting for the public endpoints, on `governor`'s keyed GCRA limiter.
//!
//! The client is the socket's address, or, behind `--trusted-proxy-hops N` proxies, the
//! address the outermost of them saw: the N-th `X-Forwarded-For` entry from the right (each
//! proxy appends the address that connected to it, so only the entries the trusted proxies
//! wrote are believed; whatever the client wrote to the left is ignored). IPv6 clients are
//! grouped by their /64, the block one subscriber gets. Each endpoint has buckets of its own.
//!
//! The tracker is bounded: when it holds `max_clients` keys, idle keys are dropped (at most
//! once a second), and while it stays full a new request is refused with 429 rather than
//! tracked. Each request costs O(1) (a sharded hash map lookup).
//!
//! Abuse protection, per process: the trial rules and the trial mail limits are enforced by
//! the database across replicas, so a client spreading requests over replicas gains nothing
//! but speed.

use super::error::ApiError;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The most clients tracked at once, by default.
pub const MAX_CLIENTS: usize = 100_000;

/// What a bucket is keyed by: the endpoint and the client's address (IPv6: its /64).
type Key = (String, IpAddr);

/// Token buckets keyed by endpoint and client.
#[derive(Debug)]
pub struct RateLimiter {
    limiter: DefaultKeyedRateLimiter<Key>,
    clock: DefaultClock,
    trusted_proxy_hops: usize,
    max_clients: usize,
    started: Instant,
    /// Milliseconds after `started` of the last sweep of idle keys.
    swept_at: AtomicU64,
}

impl RateLimiter {
    /// Allows `burst` requests at once and `per_minute` sustained, per client and endpoint.
    /// `trusted_proxy_hops` is the number of proxies in front of the licensor that append to
    /// `X-Forwarded-For` (0: the socket's address is the client).
    pub fn new(per_minute: u32, burst: u32, trusted_proxy_hops: usize) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Self {
            limiter: DefaultKeyedRateLimiter::dashmap(quota),
            clock: DefaultClock::default(),
            trusted_proxy_hops,
            max_clients: MAX_CLIENTS,
            started: Instant::now(),
            swept_at: AtomicU64::new(0),
        }
    }

    /// The same, tracking at most `max_clients` clients at once.
    #[must_use]
    pub fn with_max_clients(mut self, max_clients: usize) -> Self {
        self.max_clients = max_clients.max(1);
        self
    }

    /// How many clients are tracked now.
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }

    /// Takes a token for `client` on `endpoint`, or says how long until one is free.
    pub fn check(&self, client: IpAddr, endpoint: &str) -> Result<(), Duration> {
        if self.limiter.len() >= self.max_clients {
            self.sweep();
            if self.limiter.len() >= self.max_clients {
                return Err(Duration::from_secs(1));
            }
        }
        self.limiter
            .check_key(&(endpoint.to_owned(), group(client)))
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Drops the keys whose buckets are full again, at most once a second.
    fn sweep(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.swept_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < 1000 && last != 0 {
            return;
        }
        if self
            .swept_at
            .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
    }

    /// The client of a request: see the module documentation.
    pub fn client(&self, headers: &HeaderMap, socket: Option<IpAddr>) -> Option<IpAddr> {
        if self.trusted_proxy_hops == 0 {
            return socket;
        }
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        // Fewer entries than trusted proxies: the request did not come through them all;
        // the connecting address is the only one known to be true.
        let Some(index) = entries.len().checked_sub(self.trusted_proxy_hops) else {
            return socket;
        };
        match entries[index].parse::<IpAddr>() {
            Ok(ip) => Some(ip.to_canonical()),
            Err(_) => socket,
        }
    }
}

/// The address a bucket is keyed by: IPv4 as is, IPv6 by its /64.
pub fn group(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
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
    let socket = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_canonical());
    let client = limiter.client(request.headers(), socket);
    request.extensions_mut().insert(ClientAddress(client));
    if let Some(ip) = client
        && let Err(wait) = limiter.check(ip, request.uri().path())
    {
        let seconds = wait.as_secs_f64().ceil().max(1.0);
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

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn buckets_are_per_client_and_endpoint() {
        let limiter = RateLimiter::new(1, 2, 0);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        assert!(limiter.check(a, "/t").is_ok());
        assert!(limiter.check(a, "/t").is_ok());
        let wait = limiter.check(a, "/t").unwrap_err();
        assert!(wait > Duration::from_secs(50), "one a minute: {wait:?}");
        assert!(limiter.check(b, "/t").is_ok(), "another client");
        assert!(limiter.check(a, "/c").is_ok(), "another endpoint");
    }

    /// Each address of one IPv6 /64 once had a bucket of its own: a subscriber holds 2^64.
    #[test]
    fn ipv6_clients_are_grouped_by_their_64() {
        let limiter = RateLimiter::new(1, 1, 0);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let other: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let next_block: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limiter.check(one, "/t").is_ok());
        assert!(limiter.check(other, "/t").is_err(), "same /64, same bucket");
        assert!(limiter.check(next_block, "/t").is_ok());
        assert_eq!(
            group("::ffff:192.0.2.1".parse().unwrap()),
            IpAddr::from([192, 0, 2, 1])
        );
    }

    /// The first entry of X-Forwarded-For was trusted: the client writes it.
    #[test]
    fn only_the_trusted_hops_from_the_right_are_believed() {
        let socket = Some(IpAddr::from([10, 0, 0, 9]));
        let one_hop = RateLimiter::new(60, 20, 1);
        let headers = forwarded(&["6.6.6.6, 203.0.113.7"]);
        assert_eq!(
            one_hop.client(&headers, socket),
            Some(IpAddr::from([203, 0, 113, 7]))
        );
        let two_hops = RateLimiter::new(60, 20, 2);
        let headers = forwarded(&["6.6.6.6, 198.51.100.1", "10.1.1.1"]);
        assert_eq!(
            two_hops.client(&headers, socket),
            Some(IpAddr::from([198, 51, 100, 1]))
        );
        assert_eq!(
            two_hops.client(&forwarded(&["10.1.1.1"]), socket),
            socket,
            "too few entries: the socket's address"
        );
        assert_eq!(
            one_hop.client(&forwarded(&["not an address"]), socket),
            socket
        );
        let no_proxy = RateLimiter::new(60, 20, 0);
        assert_eq!(no_proxy.client(&headers, socket), socket);
    }

    #[test]
    fn the_tracker_is_bounded() {
        let limiter = RateLimiter::new(1, 1, 0).with_max_clients(100);
        for i in 0..1000u32 {
            let _ = limiter.check(IpAddr::from(i.to_be_bytes()), "/t");
        }
        assert!(limiter.tracked() <= 100, "{}", limiter.tracked());
    }
}
