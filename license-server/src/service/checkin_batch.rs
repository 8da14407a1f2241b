//! Group commit for check-ins, and the cache of what every check-in reads.
//!
//! Check-ins that arrive together are written in one transaction: the request task validates
//! its check-in and hands it to this process's batcher (a task fed by a channel, answering
//! each check-in on its own oneshot); the batcher takes what is queued, waits at most
//! [`BatchConfig::wait`] for more, up to [`BatchConfig::max`], and writes them with a fixed
//! number of multi-row statements (`store::deployments::record_checkins`,
//! `store::usage::record_many`) plus the events, notifications and alerts each check-in
//! leads to, in arrival order. Each request is answered only after the commit; the request
//! tasks then sign their receipts in parallel, outside the transaction.
//!
//! A batch that fails before its commit is rolled back and its check-ins are written again
//! one at a time, each in its own transaction, so a check-in that cannot be stored fails
//! alone and the others are stored and answered. A failed commit fails the whole batch
//! (its check-ins may or may not be stored; none is acknowledged). A batch of one is exactly
//! the single check-in; `max` 1 writes each check-in in its own request task, unbatched.
//!
//! The license records a check-in reports (with the newest license of each one's reissue
//! chain, for license sync) are cached by id, and the cache holds while the store's license
//! generation (`store::deployments::license_generation`, raised in the transaction of every
//! revocation and supersession, by any replica) is unchanged: each batch reads it once, so
//! the check-in after a revocation reports it, on every replica sharing the database.

use super::checkin_state::{
    BatchConfig, CachedLicense, CheckinInput, CheckinState, Job, LicenseCache, MAX_CACHED, Recorded,
};
use super::deployments::status_of;
use super::error::{Error, Internal, Result};
use super::renewals::renewals_from;
use super::{Licensor, Parts};
use crate::store::deployments::{self, CheckinDraft, Deployment};
use crate::store::licenses::{self, LicenseRecord};
use crate::store::usage::{self, UsageReport};
use crate::store::{StoreError, Tx};
use license_core::{DAY, LicenseId, ReceiptLicense, ReceiptStatus, Timestamp};
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use tokio::sync::{mpsc, oneshot};

use super::reminder_policy::OVERUSE_WINDOW_DAYS;

/// Why a batch failed.
enum Failure {
    /// Before its commit: nothing is stored.
    Before(Error),
    /// At its commit: it may or may not be stored.
    Commit(Error),
}

/// `error` again, for another check-in of the same failed commit.
fn copy_error(error: &Error) -> Error {
    match error {
        Error::Unavailable(cause) => Error::Unavailable(cause.clone()),
        other => Error::Internal(Internal::Store(StoreError::Database(other.to_string()))),
    }
}

/// One check-in's plan within a batch.
struct Plan<'a> {
    draft: CheckinDraft,
    active: Vec<&'a LicenseRecord>,
}

impl Licensor {
    /// Records `input` (batched with others unless batching is off) once its transaction
    /// commits.
    pub(super) async fn record_checkin_input(&self, input: CheckinInput) -> Result<Recorded> {
        let config = self.checkin_state().config;
        if config.max <= 1 {
            return self.record_alone(&input).await;
        }
        let sender = self.checkin_state().batcher.get_or_init(|| {
            let (sender, receiver) = mpsc::channel(config.max.saturating_mul(4).max(64));
            let parts = Arc::downgrade(&self.inner);
            let state = Arc::downgrade(&self.checkins);
            tokio::spawn(run_batcher(parts, state, receiver, config));
            sender
        });
        let (reply, answer) = oneshot::channel();
        sender
            .send(Job { input, reply })
            .await
            .map_err(|_| Error::Unavailable("the check-in batcher stopped".to_owned()))?;
        answer
            .await
            .map_err(|_| Error::Unavailable("the check-in batcher stopped".to_owned()))?
    }

    /// One check-in in its own transaction.
    async fn record_alone(&self, input: &CheckinInput) -> Result<Recorded> {
        match self.record_batch(&[input]).await {
            Ok(mut recorded) => recorded
                .pop()
                .ok_or_else(|| Error::Unavailable("a check-in was not recorded".to_owned())),
            Err(Failure::Before(e) | Failure::Commit(e)) => Err(e),
        }
    }

    /// Writes the batch `jobs` and answers each: all after one commit, or, when the batch
    /// fails before its commit, each after its own.
    async fn answer_batch(&self, jobs: Vec<Job>) {
        let inputs: Vec<&CheckinInput> = jobs.iter().map(|j| &j.input).collect();
        match self.record_batch(&inputs).await {
            Ok(recorded) => {
                for (job, recorded) in jobs.into_iter().zip(recorded) {
                    let _ = job.reply.send(Ok(recorded));
                }
            }
            Err(Failure::Commit(error)) => {
                tracing::error!(%error, checkins = jobs.len(), "a check-in batch failed to commit");
                for job in jobs {
                    let _ = job.reply.send(Err(copy_error(&error)));
                }
            }
            Err(Failure::Before(error)) if jobs.len() == 1 => {
                if let Some(job) = jobs.into_iter().next() {
                    let _ = job.reply.send(Err(error));
                }
            }
            Err(Failure::Before(error)) => {
                tracing::warn!(%error, checkins = jobs.len(), "a check-in batch failed; writing its check-ins one at a time");
                for job in jobs {
                    let result = self.record_alone(&job.input).await;
                    let _ = job.reply.send(result);
                }
            }
        }
    }

    /// Records `inputs` in one transaction, in order; what each concluded, after the commit.
    async fn record_batch(
        &self,
        inputs: &[&CheckinInput],
    ) -> std::result::Result<Vec<Recorded>, Failure> {
        let now = self.now();
        let mut ids: Vec<LicenseId> = Vec::new();
        for input in inputs {
            for id in &input.ids {
                if !ids.contains(id) {
                    ids.push(*id);
                }
            }
        }
        let licenses = self.checkin_licenses(&ids).await.map_err(Failure::Before)?;
        let mut plans: Vec<Plan<'_>> = Vec::with_capacity(inputs.len());
        let mut recorded: Vec<Recorded> = Vec::with_capacity(inputs.len());
        for input in inputs {
            let known: Vec<&CachedLicense> = input
                .ids
                .iter()
                .filter_map(|id| licenses.get(id).map(AsRef::as_ref))
                .collect();
            let reported: Vec<ReceiptLicense> = input
                .ids
                .iter()
                .map(|id| ReceiptLicense {
                    id: *id,
                    status: status_of(licenses.get(id).map(|c| &c.record), &input.deployment, now),
                })
                .collect();
            let active: Vec<&LicenseRecord> = known
                .iter()
                .map(|c| &c.record)
                .filter(|l| {
                    reported
                        .iter()
                        .any(|r| r.id == l.id && r.status == ReceiptStatus::Active)
                })
                .collect();
            let chains: Vec<(&LicenseRecord, Option<&LicenseRecord>)> = known
                .iter()
                .map(|c| (&c.record, c.newest.as_ref()))
                .collect();
            let renewals = renewals_from(&chains, &input.deployment, now);
            let draft = CheckinDraft {
                deployment_id: input.deployment.to_string(),
                at: now,
                active_users: input.active_users,
                product_version: input.product_version.clone(),
                license_ids: input.ids.clone(),
                known_license_ids: known.iter().map(|c| c.record.id).collect(),
                user_limit: active.iter().filter_map(|l| l.user_limit).max(),
                trial: active.iter().any(|l| l.trial),
                account_id: active.first().map(|l| l.account_id),
                client_address: input.client_address.clone(),
            };
            plans.push(Plan { draft, active });
            recorded.push(Recorded {
                now,
                reported,
                renewals,
            });
        }
        let mut tx = self
            .store()
            .begin()
            .await
            .map_err(|e| Failure::Before(e.into()))?;
        let emitted = self
            .write_batch(&mut tx, &plans, now)
            .await
            .map_err(Failure::Before)?;
        tx.commit().await.map_err(|e| Failure::Commit(e.into()))?;
        if emitted {
            self.webhook_wake().notify_one();
        }
        Ok(recorded)
    }

    /// The batch's rows, events, notifications and alerts, in `tx`. True when an event was
    /// recorded.
    async fn write_batch(&self, tx: &mut Tx, plans: &[Plan<'_>], now: Timestamp) -> Result<bool> {
        let mut deployment_ids: Vec<&str> = Vec::new();
        for plan in plans {
            if !deployment_ids.contains(&plan.draft.deployment_id.as_str()) {
                deployment_ids.push(&plan.draft.deployment_id);
            }
        }
        let mut current: HashMap<String, Deployment> =
            deployments::get_many(tx.conn(), &deployment_ids)
                .await?
                .into_iter()
                .map(|d| (d.id.clone(), d))
                .collect();
        let drafts: Vec<CheckinDraft> = plans.iter().map(|p| p.draft.clone()).collect();
        deployments::record_checkins(tx.conn(), &drafts).await?;
        let users = |p: &Plan<'_>| i64::try_from(p.draft.active_users).unwrap_or(i64::MAX);
        let reports: Vec<UsageReport> = plans
            .iter()
            .flat_map(|p| {
                p.draft
                    .known_license_ids
                    .iter()
                    .map(move |license| UsageReport {
                        license: *license,
                        deployment: p.draft.deployment_id.clone(),
                        at: now,
                        users: users(p),
                    })
            })
            .collect();
        usage::record_many(tx.conn(), &reports).await?;
        // Each check-in's events, in arrival order: the deployment as the check-ins before it
        // in this batch left it.
        let mut events = Vec::new();
        for plan in plans {
            let before = current.remove(&plan.draft.deployment_id);
            let after = deployments::after_checkin(before.as_ref(), &plan.draft);
            self.checkin_events(tx, before.as_ref(), &after, &plan.active, &mut events)
                .await?;
            current.insert(after.id.clone(), after);
        }
        let emitted = !events.is_empty();
        self.emit_many(tx, events).await?;
        // Overuse, once per batch: each license active in it, counted after all its check-ins
        // (the alert, once per license, names the deployment of its last check-in here).
        let mut active: Vec<(&LicenseRecord, &str)> = Vec::new();
        for plan in plans {
            for license in &plan.active {
                match active.iter_mut().find(|(l, _)| l.id == license.id) {
                    Some(entry) => entry.1 = &plan.draft.deployment_id,
                    None => active.push((license, &plan.draft.deployment_id)),
                }
            }
        }
        let ids: Vec<LicenseId> = active.iter().map(|(l, _)| l.id).collect();
        let since = now.add_seconds(-OVERUSE_WINDOW_DAYS * DAY);
        for (id, seen) in deployments::seen_counts(tx.conn(), &ids, since).await? {
            let Some((license, deployment)) = active.iter().find(|(l, _)| l.id == id) else {
                continue;
            };
            let allowed = license.deployment_ids.len().max(1) as u64;
            if seen > allowed {
                self.desk_alert(tx, id, "desk_overused", deployment).await?;
            }
        }
        Ok(emitted)
    }

    /// The cached records of the licenses among `ids` that exist, read (with the newest
    /// license of each one's reissue chain) where the cache misses them; the whole cache is
    /// dropped first when the license generation moved.
    async fn checkin_licenses(
        &self,
        ids: &[LicenseId],
    ) -> Result<HashMap<LicenseId, Arc<CachedLicense>>> {
        let generation = deployments::license_generation(self.store().conn()).await?;
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        {
            let mut cache = self.license_cache();
            if cache.generation != Some(generation) || cache.entries.len() > MAX_CACHED {
                cache.entries.clear();
                cache.no_pending_trial.clear();
                cache.generation = Some(generation);
            }
            for id in ids {
                match cache.entries.get(id) {
                    Some(entry) => {
                        found.insert(*id, entry.clone());
                    }
                    None => missing.push(*id),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        // Unknown ids are not cached: they are read again, so a license issued since is seen.
        let records = licenses::by_ids(self.store().conn(), &missing).await?;
        let mut read = Vec::with_capacity(records.len());
        for record in records {
            let newest = self.newest_successor(record.id).await?;
            read.push(Arc::new(CachedLicense { record, newest }));
        }
        let mut cache = self.license_cache();
        for entry in read {
            // Cached only under the generation it was read after.
            if cache.generation == Some(generation) {
                cache.entries.insert(entry.record.id, entry.clone());
            }
            found.insert(entry.record.id, entry);
        }
        Ok(found)
    }

    fn license_cache(&self) -> std::sync::MutexGuard<'_, LicenseCache> {
        self.checkin_state()
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `license` is known to have no pending trial (so a check-in confirms none).
    pub(super) fn known_without_pending_trial(&self, license: LicenseId) -> bool {
        self.license_cache().no_pending_trial.contains(&license)
    }

    /// Notes that `license` has no pending trial: a trial is pending from its grant, in the
    /// transaction that issues its license, until it is confirmed or refused, never again.
    pub(super) fn note_without_pending_trial(&self, license: LicenseId) {
        let mut cache = self.license_cache();
        if cache.no_pending_trial.len() < MAX_CACHED {
            cache.no_pending_trial.insert(license);
        }
    }
}

/// The batcher: takes what is queued, waits up to `config.wait` for more (at most
/// `config.max`), writes them, and again; ends when the licensor is dropped.
async fn run_batcher(
    parts: Weak<Parts>,
    state: Weak<CheckinState>,
    mut receiver: mpsc::Receiver<Job>,
    config: BatchConfig,
) {
    let mut jobs: Vec<Job> = Vec::with_capacity(config.max);
    while let Some(first) = receiver.recv().await {
        jobs.push(first);
        let deadline = tokio::time::Instant::now() + config.wait;
        while jobs.len() < config.max {
            match receiver.try_recv() {
                Ok(job) => {
                    jobs.push(job);
                    continue;
                }
                Err(mpsc::error::TryRecvError::Empty) => {}
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
            if config.wait.is_zero() {
                break;
            }
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(job)) => jobs.push(job),
                _ => break,
            }
        }
        let (Some(inner), Some(checkins)) = (parts.upgrade(), state.upgrade()) else {
            break;
        };
        let licensor = Licensor { inner, checkins };
        licensor.answer_batch(std::mem::take(&mut jobs)).await;
    }
}
