//! The outbox: the worker that delivers queued messages with retries, safely alongside other
//! workers, and the desk's view of the queue.
//!
//! Each step leases one due message (`store::outbox::claim`), sends it through the
//! [`Mailer`], and records the outcome fenced by the lease: a worker that lost its lease (it
//! stalled past it and another worker took over) changes nothing. A message is never lost: it
//! stays in the table until sent or declared dead, and a worker killed mid-send leaves a lease
//! that expires, after which another worker sends it again under the same Message-ID. A worker
//! that sent a message while the database went away keeps trying to record it for half the
//! lease (`record_sent`), so that a database restart does not make it go out twice.

use super::Licensor;
use super::error::{Conflict, OrNotFound, Result};
use crate::clock::Clock;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::store::audit;
use crate::store::outbox::{self, DeliveryFailure, OutboxEntry, OutboxState};
use crate::store::{Page, PageRequest, Store, StoreError};
use license_core::Timestamp;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// How deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// How long a worker holds a message while sending it; longer than any SMTP timeout.
    pub lease_secs: i64,
    /// Attempts before a message is declared dead.
    pub max_attempts: u32,
    /// Delay before the second attempt; it doubles with each failure.
    pub base_delay_secs: i64,
    /// The longest delay between attempts.
    pub max_delay_secs: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            lease_secs: 300,
            max_attempts: 10,
            base_delay_secs: 30,
            max_delay_secs: 3600,
        }
    }
}

impl RetryPolicy {
    /// Seconds to wait after failed attempt number `attempts` (1 for the first): exponential
    /// from the base delay, capped, with `jitter` in `[0, 1)` spreading it by ±20% so that
    /// messages that failed together do not retry together.
    pub fn delay_secs(&self, attempts: u32, jitter: f64) -> i64 {
        let exponent = attempts.saturating_sub(1).min(30);
        let delay = self
            .base_delay_secs
            .saturating_mul(1_i64 << exponent)
            .min(self.max_delay_secs);
        let spread = 0.8 + 0.4 * jitter.clamp(0.0, 1.0);
        ((delay as f64) * spread).round().max(1.0) as i64
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The message was sent.
    Sent(uuid::Uuid),
    /// Sending failed; the message is now in `state` (pending for a retry, or dead).
    Failed {
        id: uuid::Uuid,
        state: OutboxState,
        error: String,
    },
    /// The lease ran out before the outcome was recorded; another worker owns the message.
    LeaseLost(uuid::Uuid),
    /// Nothing is due.
    Empty,
}

/// Delivers outbox messages.
#[derive(Debug, Clone)]
pub struct OutboxWorker {
    store: Store,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    owner: String,
    policy: RetryPolicy,
    metrics: Option<Arc<Metrics>>,
}

impl OutboxWorker {
    /// A worker named `owner` (unique per process: it fences the leases).
    pub fn new(
        store: Store,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        owner: String,
        policy: RetryPolicy,
    ) -> Self {
        Self {
            store,
            mailer,
            clock,
            owner,
            policy,
            metrics: None,
        }
    }

    /// Counts deliveries in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Leases one due message and tries to send it.
    pub async fn try_deliver_one(&self) -> std::result::Result<Delivery, StoreError> {
        let now = self.clock.now();
        let lease_until = now.add_seconds(self.policy.lease_secs);
        let mut tx = self.store.begin().await?;
        let claimed = outbox::claim(tx.conn(), &self.owner, now, lease_until).await?;
        tx.commit().await?;
        let Some(message) = claimed else {
            return Ok(Delivery::Empty);
        };
        let outcome = self.mailer.send(&message).await;
        let done = self.clock.now();
        match outcome {
            Ok(()) => {
                self.count("sent");
                if self.record_sent(message.id, done).await? {
                    tracing::info!(outbox_id = %message.id, attempts = message.attempts, "message sent");
                    Ok(Delivery::Sent(message.id))
                } else {
                    tracing::warn!(outbox_id = %message.id, "sent, but the lease had run out; another worker may send it again");
                    Ok(Delivery::LeaseLost(message.id))
                }
            }
            Err(error) => {
                let delay = self.policy.delay_secs(message.attempts, jitter());
                let failure = DeliveryFailure {
                    error: error.message.clone(),
                    permanent: error.permanent,
                    retry_at: done.add_seconds(delay),
                    max_attempts: self.policy.max_attempts,
                };
                match outbox::mark_failed(self.store.conn(), message.id, &self.owner, &failure)
                    .await?
                {
                    Some(state) => {
                        self.count(if state == OutboxState::Dead {
                            "dead"
                        } else {
                            "failed"
                        });
                        tracing::warn!(
                            outbox_id = %message.id, attempts = message.attempts, permanent = error.permanent,
                            state = state.as_str(), retry_in_secs = delay, error = %error.message, "delivery failed"
                        );
                        Ok(Delivery::Failed {
                            id: message.id,
                            state,
                            error: error.message,
                        })
                    }
                    None => Ok(Delivery::LeaseLost(message.id)),
                }
            }
        }
    }

    /// Records that message `id` went out at `at`, fenced by the lease. The message is gone:
    /// while the database is unavailable (a restart, a failover) this keeps trying for half
    /// the lease, for a message left `sending` would be sent again once its lease ran out.
    async fn record_sent(
        &self,
        id: uuid::Uuid,
        at: Timestamp,
    ) -> std::result::Result<bool, StoreError> {
        let lease = u64::try_from(self.policy.lease_secs).unwrap_or(0);
        let give_up = tokio::time::Instant::now() + Duration::from_secs(lease / 2);
        let mut pause = Duration::from_millis(100);
        loop {
            match outbox::mark_sent(self.store.conn(), id, &self.owner, at).await {
                Err(StoreError::Unavailable(cause))
                    if tokio::time::Instant::now() + pause < give_up =>
                {
                    tracing::warn!(outbox_id = %id, error = %cause, "sent, but the database is unavailable; recording it again");
                    tokio::time::sleep(pause).await;
                    pause = pause.saturating_mul(2).min(Duration::from_secs(5));
                }
                recorded => return recorded,
            }
        }
    }

    /// Delivers until nothing is due; returns how many steps did something.
    pub async fn drain(&self) -> std::result::Result<usize, StoreError> {
        let mut steps = 0;
        while self.try_deliver_one().await? != Delivery::Empty {
            steps += 1;
        }
        Ok(steps)
    }

    /// Runs until `shutdown` turns true: delivers what is due, then waits for a new message
    /// (`wake`) or the poll interval (messages queued by other replicas, retries coming due).
    pub async fn run(self, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>, poll: Duration) {
        tracing::info!(owner = %self.owner, "outbox worker started");
        while !*shutdown.borrow() {
            let idle = match self.try_deliver_one().await {
                Ok(Delivery::Empty) => true,
                Ok(_) => false,
                Err(error) => {
                    tracing::warn!(%error, "outbox step failed; retrying after the poll interval");
                    true
                }
            };
            if idle {
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(poll) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        tracing::info!(owner = %self.owner, "outbox worker stopped");
    }

    fn count(&self, result: &'static str) {
        if let Some(metrics) = &self.metrics {
            metrics.delivery(result);
        }
    }
}

impl Licensor {
    /// Outbox messages, newest first, optionally in one state.
    pub async fn outbox(
        &self,
        state: Option<OutboxState>,
        page: &PageRequest,
    ) -> Result<Page<OutboxEntry>> {
        Ok(outbox::list(self.store().conn(), state, page).await?)
    }

    /// Puts dead message `id` back in the queue, due now.
    pub async fn retry_message(&self, actor: &str, id: uuid::Uuid) -> Result<OutboxEntry> {
        let now = self.now();
        let entry = self.audit(actor, "outbox.retry", json!({}));
        let mut tx = self.store().begin().await?;
        let retried = outbox::retry(tx.conn(), id, now)
            .await
            .or_not_found(|| format!("outbox message {id}"))?
            .ok_or(Conflict::MessageNotDead(id))?;
        audit::record(tx.conn(), &entry, &id.to_string()).await?;
        tx.commit().await?;
        self.outbox_wake().notify_one();
        Ok(retried)
    }

    /// How many messages are in each state.
    pub async fn outbox_counts(&self) -> Result<Vec<(OutboxState, u64)>> {
        Ok(outbox::counts(self.store().conn()).await?)
    }
}

/// A number in `[0, 1)` from the operating system's generator (0.5 if it fails).
pub(super) fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_with_bounded_jitter() {
        let policy = RetryPolicy {
            lease_secs: 60,
            max_attempts: 5,
            base_delay_secs: 30,
            max_delay_secs: 600,
        };
        assert_eq!(policy.delay_secs(1, 0.5), 30);
        assert_eq!(policy.delay_secs(2, 0.5), 60);
        assert_eq!(policy.delay_secs(3, 0.5), 120);
        assert_eq!(policy.delay_secs(10, 0.5), 600, "capped");
        assert_eq!(policy.delay_secs(1, 0.0), 24, "-20%");
        assert_eq!(policy.delay_secs(1, 0.999_999), 36, "+20%");
        assert_eq!(policy.delay_secs(u32::MAX, 0.5), 600, "no overflow");
        assert!((0.0..1.0).contains(&jitter()));
    }
}
