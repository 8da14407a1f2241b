//! Delivering webhooks: the worker leases due deliveries, signs each with the licensor's
//! Ed25519 key and posts it, with timeouts on every connection, bounded response reads,
//! exponential backoff, and a dead state per endpoint.
//!
//! The signature follows Standard Webhooks' asymmetric scheme: the signed content is
//! `{webhook-id}.{webhook-timestamp}.{body}`, the `webhook-signature` header is `v1a,` and
//! the standard base64 of the Ed25519 signature, and `licensor-key-id` names the key in the
//! JWKS at `/api/v1/keys` (docs/notifications.md). A receiver rejects replays by the id it
//! has seen and a timestamp outside its tolerance.
//!
//! Deliveries run concurrently, at most one in flight per endpoint (the claim skips an
//! endpoint with a live lease), so a slow or failing receiver holds one slot for at most the
//! timeout and never delays the others; request handlers only ever write rows.

use super::Licensor;
use super::outbox::{RetryPolicy, jitter};
use super::webhooks::{check_url, is_public};
use crate::store::StoreError;
use crate::store::webhook_deliveries::{self, Attempt, ClaimedDelivery};
use base64::Engine as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// The most of a receiver's answer that is read (the rest is dropped unread).
pub const MAX_RESPONSE_BYTES: usize = 4096;
/// The most deliveries in flight at once in one process.
const CONCURRENCY: usize = 16;

/// How this process delivers webhooks.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Retries, backoff and leases.
    pub retry: RetryPolicy,
    /// Connecting, sending and reading the answer, all together.
    pub timeout: Duration,
    /// How often to look for due deliveries queued elsewhere or coming due.
    pub poll: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy {
                lease_secs: 60,
                max_attempts: 8,
                base_delay_secs: 30,
                max_delay_secs: 6 * 3600,
            },
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(5),
        }
    }
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// The endpoint answered 2xx.
    Delivered(uuid::Uuid),
    /// It did not; the delivery is now `state` (`pending` or `dead`).
    Failed { id: uuid::Uuid, state: String },
    /// The lease ran out first; another worker owns the delivery.
    LeaseLost(uuid::Uuid),
}

/// Refuses names that resolve to anything but public addresses.
#[derive(Debug)]
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(private) = addrs.iter().find(|a| !is_public(a.ip())) {
                let refusal = format!(
                    "{host} resolves to {}, which is not a public address; webhooks only go to public addresses (the server's --webhooks-allow-private lifts this)",
                    private.ip()
                );
                return Err(refusal.into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Delivers webhooks.
#[derive(Debug, Clone)]
pub struct WebhookWorker {
    licensor: Licensor,
    client: reqwest::Client,
    owner: String,
    settings: WebhookSettings,
}

impl WebhookWorker {
    /// A worker named `owner` (unique per process: it fences the leases).
    pub fn new(
        licensor: Licensor,
        owner: String,
        settings: WebhookSettings,
    ) -> Result<Self, reqwest::Error> {
        let mut client = reqwest::Client::builder()
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("licensor-webhooks/", env!("CARGO_PKG_VERSION")));
        if !licensor.allow_private_webhooks() {
            client = client.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self {
            licensor,
            client: client.build()?,
            owner,
            settings,
        })
    }

    /// Leases the next due delivery, if any.
    pub async fn claim(&self) -> Result<Option<ClaimedDelivery>, StoreError> {
        let now = self.licensor.now();
        let lease_until = now.add_seconds(self.settings.retry.lease_secs);
        let store = self.licensor.store();
        let mut tx = store.begin().await?;
        let claimed = webhook_deliveries::claim(tx.conn(), &self.owner, now, lease_until).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Claims and delivers deliveries one after another until none is due; what each came to.
    pub async fn drain(&self) -> Result<Vec<WebhookOutcome>, StoreError> {
        let mut outcomes = Vec::new();
        while let Some(delivery) = self.claim().await? {
            outcomes.push(self.deliver(delivery).await?);
        }
        Ok(outcomes)
    }

    /// Signs and posts one leased delivery and records the attempt.
    pub async fn deliver(&self, d: ClaimedDelivery) -> Result<WebhookOutcome, StoreError> {
        let started = Instant::now();
        let result = self.post(&d).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let at = self.licensor.now();
        let (status, error) = match result {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (
                Some(status),
                Some(format!("the endpoint answered {status}")),
            ),
            Err(error) => (None, Some(error)),
        };
        let attempt = Attempt {
            status,
            latency_ms,
            error,
            at,
        };
        let store = self.licensor.store();
        webhook_deliveries::log_attempt(store.conn(), d.id, &attempt).await?;
        if attempt.error.is_none() {
            return Ok(
                if webhook_deliveries::mark_delivered(store.conn(), d.id, &self.owner, &attempt)
                    .await?
                {
                    tracing::info!(delivery_id = %d.id, status, latency_ms, "webhook delivered");
                    WebhookOutcome::Delivered(d.id)
                } else {
                    WebhookOutcome::LeaseLost(d.id)
                },
            );
        }
        let delay = self.settings.retry.delay_secs(d.attempts, jitter());
        let failed = webhook_deliveries::mark_failed(
            store.conn(),
            d.id,
            &self.owner,
            &attempt,
            self.settings.retry.max_attempts,
            at.add_seconds(delay),
        )
        .await?;
        Ok(match failed {
            Some(state) => {
                tracing::warn!(
                    delivery_id = %d.id, endpoint_id = %d.endpoint_id, attempts = d.attempts, %state,
                    retry_in_secs = delay, error = attempt.error.as_deref().unwrap_or_default(), "webhook delivery failed"
                );
                WebhookOutcome::Failed { id: d.id, state }
            }
            None => WebhookOutcome::LeaseLost(d.id),
        })
    }

    /// Posts `d`: the status code, or why no answer came.
    async fn post(&self, d: &ClaimedDelivery) -> Result<u16, String> {
        let url = check_url(&d.url, self.licensor.allow_private_webhooks())?;
        let timestamp = self.licensor.now().unix().to_string();
        let event_id = d.event_id.to_string();
        let signed = format!("{event_id}.{timestamp}.{}", d.body);
        let signature = self.licensor.signer().sign_bytes(signed.as_bytes());
        let signature = base64::engine::general_purpose::STANDARD.encode(signature);
        let mut response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &event_id)
            .header("webhook-timestamp", &timestamp)
            .header("webhook-signature", format!("v1a,{signature}"))
            .header("licensor-key-id", self.licensor.signer().key_id().as_str())
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        // Read a bounded prefix of the answer (nothing is kept), then drop the connection.
        let mut read = 0;
        while read < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(status)
    }

    /// Runs until `shutdown` turns true: keeps up to 16 deliveries in flight, waking for new
    /// events (`wake`), finished deliveries, or the poll interval.
    pub async fn run(self, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
        tracing::info!(owner = %self.owner, "webhook worker started");
        let mut in_flight = JoinSet::new();
        while !*shutdown.borrow() {
            while in_flight.len() < CONCURRENCY {
                match self.claim().await {
                    Ok(Some(delivery)) => {
                        let worker = self.clone();
                        in_flight.spawn(async move { worker.deliver(delivery).await });
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(%error, "webhook claim failed; retrying after the poll interval");
                        break;
                    }
                }
            }
            tokio::select! {
                Some(done) = in_flight.join_next(), if !in_flight.is_empty() => {
                    if let Ok(Err(error)) = done {
                        tracing::warn!(%error, "recording a webhook attempt failed; the lease will expire and it is retried");
                    }
                }
                () = wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
        // Deliveries in hand finish (each is bounded by the timeout).
        while in_flight.join_next().await.is_some() {}
        tracing::info!(owner = %self.owner, "webhook worker stopped");
    }
}

/// A transport error in one sentence, with its causes.
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "the endpoint did not answer in time".to_owned()
    } else if error.is_connect() {
        "cannot connect to the endpoint".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
