//! The service layer: the licensor's rules. No axum and no sqlx here: requests arrive as the
//! plain types of [`requests`], answers leave as store records or values of this layer, and
//! every failure is an [`Error`] that `api::error` maps to HTTP in one place.
//!
//! A change that writes several rows begins a store transaction, signs, composes the email,
//! inserts, enqueues and commits itself, so a signing or template failure is a typed error
//! that rolls everything back, never a database error.

pub mod accounts;
pub mod checkin_batch;
pub mod checkin_state;
pub mod dashboard;
pub mod deployments;
pub mod error;
pub mod evaluations;
pub mod licenses;
pub mod mailbox;
pub mod notifications;
pub mod outbox;
pub mod reminder_policy;
pub mod renewals;
pub mod requests;
pub mod roles;
pub mod signer;
pub mod terms;
pub mod tokens;
pub mod trial_rules;
pub mod trials;
pub mod usage;
pub mod users;
pub mod webhook_delivery;
pub mod webhooks;

pub use error::{Conflict, Error, Internal, Invalid, Result, TrialRefusal};

use crate::clock::Clock;
use crate::mail::Composer;
use crate::metrics::Metrics;
use crate::store::audit::{self, AuditDraft, AuditEntry};
use crate::store::{Page, PageRequest, Store};
use reminder_policy::NotificationPolicy;
use signer::Signer;
use std::sync::Arc;
use tokio::sync::Notify;
use trial_rules::TrialPolicy;

/// Everything the rules need: the store, the signing key, the mail composer, the time, the
/// trial policy, the metrics, the reminder policy, and the workers' wake-ups. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Licensor {
    inner: Arc<Parts>,
    checkins: Arc<checkin_state::CheckinState>,
}

/// The parts a [`Licensor`] is made of.
#[derive(Debug)]
pub struct Parts {
    /// The database.
    pub store: Store,
    /// The licensor's signing key.
    pub signer: Signer,
    /// Composes the emails the outbox delivers.
    pub composer: Composer,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The trial rules.
    pub trial_policy: TrialPolicy,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Wakes this process's outbox worker when a message is queued.
    pub outbox_wake: Arc<Notify>,
    /// Which reminders are sent, and to whom.
    pub notifications: NotificationPolicy,
    /// Whether webhooks may go to private, loopback and link-local addresses.
    pub allow_private_webhooks: bool,
    /// Wakes this process's webhook worker when a delivery is queued.
    pub webhook_wake: Arc<Notify>,
    /// How check-ins are grouped into transactions.
    pub checkin_batch: checkin_state::BatchConfig,
}

impl Licensor {
    /// A licensor of these parts.
    pub fn new(parts: Parts) -> Self {
        let checkins = Arc::new(checkin_state::CheckinState::new(parts.checkin_batch));
        Self {
            inner: Arc::new(parts),
            checkins,
        }
    }

    /// The check-in batcher and the license cache.
    fn checkin_state(&self) -> &checkin_state::CheckinState {
        &self.checkins
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The signing key and the JWKS.
    pub fn signer(&self) -> &Signer {
        &self.inner.signer
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// The trial rules in force.
    pub fn trial_policy(&self) -> &TrialPolicy {
        &self.inner.trial_policy
    }

    /// The outbox worker's wake-up.
    pub fn outbox_wake(&self) -> &Arc<Notify> {
        &self.inner.outbox_wake
    }

    /// The reminder policy in force.
    pub fn notification_policy(&self) -> &NotificationPolicy {
        &self.inner.notifications
    }

    /// Whether webhooks may go to private, loopback and link-local addresses.
    pub fn allow_private_webhooks(&self) -> bool {
        self.inner.allow_private_webhooks
    }

    /// The webhook worker's wake-up.
    pub fn webhook_wake(&self) -> &Arc<Notify> {
        &self.inner.webhook_wake
    }

    /// Now, by the licensor's clock.
    pub fn now(&self) -> license_core::Timestamp {
        self.inner.clock.now()
    }

    fn composer(&self) -> &Composer {
        &self.inner.composer
    }

    /// The audit log, newest first.
    pub async fn audit_log(&self, page: &PageRequest) -> Result<Page<AuditEntry>> {
        Ok(audit::list(self.store().conn(), page).await?)
    }

    /// An audit entry of `actor` doing `action` now.
    fn audit(&self, actor: &str, action: &str, details: serde_json::Value) -> AuditDraft {
        AuditDraft::new(self.now(), actor, action, details)
    }
}
