//! Prometheus metrics: requests by route and status, latencies, licenses issued, deliveries
//! and the outbox's depth. The registry only: the HTTP middleware that feeds it is
//! `api::metrics`.

use crate::store::outbox::OutboxState;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The methods HTTP defines; any other is counted as `other`.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// `method` if HTTP defines it, else `other`: a bounded label (and log field).
pub fn known_method(method: &str) -> &'static str {
    KNOWN_METHODS
        .into_iter()
        .find(|known| *known == method)
        .unwrap_or("other")
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IssuedLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

/// The server's metrics and their registry.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    issued: Family<IssuedLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    outbox: Family<StateLabels, Gauge>,
    revocation_list_bytes: Gauge,
    revocation_list_entries: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("licensor");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ])
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        let issued = Family::<IssuedLabels, Counter>::default();
        registry.register(
            "licenses_issued",
            "Licenses issued, by kind",
            issued.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "outbox_deliveries",
            "Outbox delivery attempts by result (sent, failed, dead)",
            deliveries.clone(),
        );
        let outbox = Family::<StateLabels, Gauge>::default();
        registry.register(
            "outbox_messages",
            "Outbox messages by state, read at scrape time",
            outbox.clone(),
        );
        let revocation_list_bytes = Gauge::default();
        registry.register(
            "revocation_list_bytes",
            "Size of the revocation list last signed, in bytes (a Kubernetes Secret holds 1 MiB)",
            revocation_list_bytes.clone(),
        );
        let revocation_list_entries = Gauge::default();
        registry.register(
            "revocation_list_entries",
            "Licenses named by the revocation list last signed",
            revocation_list_entries.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            issued,
            deliveries,
            outbox,
            revocation_list_bytes,
            revocation_list_entries,
        }
    }
}

impl Metrics {
    /// Counts a license issued (`paid`, `trial`, `reissue`).
    pub fn license_issued(&self, kind: &'static str) {
        self.issued.get_or_create(&IssuedLabels { kind }).inc();
    }

    /// Counts a delivery attempt's result.
    pub fn delivery(&self, result: &'static str) {
        self.deliveries
            .get_or_create(&DeliveryLabels { result })
            .inc();
    }

    /// Sets the outbox queue depth by state.
    pub fn set_outbox_depth(&self, counts: &[(OutboxState, u64)]) {
        for state in OutboxState::ALL {
            let count = counts
                .iter()
                .find(|(s, _)| *s == state)
                .map_or(0, |(_, n)| *n);
            self.outbox
                .get_or_create(&StateLabels {
                    state: state.as_str(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Records the size of the revocation list just signed.
    pub fn revocation_list_signed(&self, bytes: usize, entries: usize) {
        self.revocation_list_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.revocation_list_entries
            .set(i64::try_from(entries).unwrap_or(i64::MAX));
    }

    /// Counts a request and observes its latency. Only the methods HTTP defines and the
    /// router's route templates become labels: anything a client makes up is `other`, so no
    /// request can add a series.
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let method = known_method(method);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made-up methods once became labels: 2,000 of them grew a scrape from 760 B to 4.3 MB.
    #[test]
    fn made_up_methods_do_not_add_series() {
        let metrics = Metrics::default();
        metrics.request("GET", "/healthz", 200, 0.001);
        let baseline = metrics.render().len();
        for i in 0..200 {
            metrics.request(&format!("X{i}{}", "M".repeat(1000)), "/healthz", 405, 0.001);
        }
        let after = metrics.render();
        assert!(after.contains(r#"method="other""#), "{after}");
        assert!(!after.contains("X1"), "a made-up method became a label");
        assert!(
            after.len() < baseline * 3,
            "{} -> {}",
            baseline,
            after.len()
        );
    }
}
