//! Free trials: granting or refusing a request under the trial rules (and an enrollment's
//! waivers), and the desk's extensions.
//!
//! The rules a request alone decides are checked first (`trial_rules`); the rules that depend
//! on other requests are decided in the granting transaction: the domain limit is counted
//! under the domain's row lock, and the once-ever rules are unique slot columns, so any
//! number of replicas cannot grant past them. A refusal is recorded, with its rule.

use super::Licensor;
use super::error::{Conflict, Error, Internal, OrNotFound, Result, TrialRefusal};
use super::licenses::Issue;
use super::requests::TrialRequest;
use super::terms::LicenseTerms;
use super::trial_rules::{TrialRule, TrialTerms, ValidTrialRequest, Waivers, validate};
use super::webhooks::{EventType, trial_data};
use crate::store::accounts::{self, AccountId, NewAccount};
use crate::store::audit;
use crate::store::evaluations::{self, Evaluation};
use crate::store::trials::{self, Slot, Slots, TrialFilter, TrialOutcome, TrialRecord};
use crate::store::{Page, PageRequest, StoreError};
use license_core::{DAY, DeploymentId, LicenseId, USER_LIMIT};
use serde_json::json;
use std::net::IpAddr;

/// A granted trial: the record and what the license grants.
#[derive(Debug, Clone)]
pub struct GrantedTrial {
    /// The trial as recorded.
    pub trial: TrialRecord,
    /// The license's terms.
    pub terms: TrialTerms,
}

impl Licensor {
    /// Grants or refuses a trial request from `client`.
    pub async fn request_trial(
        &self,
        request: &TrialRequest,
        client: Option<IpAddr>,
    ) -> Result<GrantedTrial> {
        let request = validate(request, &self.trial_policy().mailbox)?;
        let now = self.now();
        let account_email = request.email.as_str().to_lowercase();
        let enrollment = evaluations::active_for(
            self.store().conn(),
            &request.email_key,
            &request.email_domain,
            &account_email,
            now,
        )
        .await?;
        let waivers = enrollment.map_or_else(|| Ok(Waivers::default()), |e| waivers(&e))?;
        let record = record(&request, client, &waivers, now);
        let terms = match self.trial_policy().terms(&request, &waivers, now) {
            Ok(terms) => terms,
            Err(refusal) => return Err(self.refuse(record, refusal).await),
        };
        let license = LicenseTerms {
            email: request.email.clone(),
            feature_set: self.trial_policy().feature_set,
            features: [(USER_LIMIT.to_owned(), terms.user_limit)].into(),
            starts_at: terms.starts_at,
            expires_at: terms.expires_at,
            grace_ends_at: terms.expires_at,
            deployment_ids: vec![request.deployment_id.clone()],
            trial: true,
            evaluation: terms.evaluation,
            checkin: terms.checkin,
            min_product_version: terms.min_product_version,
        };
        match self.grant(&record, &terms, license).await? {
            Ok(trial) => {
                self.outbox_wake().notify_one();
                self.webhook_wake().notify_one();
                self.metrics().license_issued(if terms.evaluation {
                    "evaluation"
                } else {
                    "trial"
                });
                tracing::info!(trial_id = %trial.id, evaluation = terms.evaluation, "trial granted");
                Ok(GrantedTrial { trial, terms })
            }
            Err(refusal) => Err(self.refuse(record, refusal).await),
        }
    }

    /// Records a refused request; the refusal, or the store's failure to record it.
    async fn refuse(&self, mut record: TrialRecord, refusal: TrialRefusal) -> Error {
        record.outcome = TrialOutcome::Refused;
        record.refusal_code = Some(refusal.code.to_owned());
        record.refusal_message = Some(refusal.message.clone());
        record.license_id = None;
        record.account_id = None;
        record.expires_at = None;
        record.confirmed_at = None;
        match self.record_refusal(&record).await {
            Ok(()) => {
                self.webhook_wake().notify_one();
                tracing::info!(trial_id = %record.id, code = refusal.code, "trial refused");
                Error::TrialRefused(refusal)
            }
            Err(error) => error,
        }
    }

    /// Stores a refused request with its events.
    async fn record_refusal(&self, record: &TrialRecord) -> Result<()> {
        let mut tx = self.store().begin().await?;
        // A refusal takes no slot, so inserting it cannot meet a slot's constraint.
        let _ = trials::insert(tx.conn(), record, Slots::default()).await?;
        let data = json!({ "trial": trial_data(record) });
        self.emit(&mut tx, EventType::TrialRequested, data.clone())
            .await?;
        self.emit(&mut tx, EventType::TrialRefused, data).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The granting transaction: `Ok(Err(refusal))` when a rule decided here refuses
    /// (nothing is written). The domain's row lock serializes the requests of one domain, so
    /// the counts below cannot be raced past on any number of replicas.
    async fn grant(
        &self,
        record: &TrialRecord,
        terms: &TrialTerms,
        license: LicenseTerms,
    ) -> Result<Result<TrialRecord, TrialRefusal>> {
        let policy = self.trial_policy();
        let refuse = |rule| Ok(Err(TrialRefusal::of(rule, policy)));
        let mut tx = self.store().begin().await?;
        trials::lock_domain(tx.conn(), &record.email_domain, record.requested_at).await?;
        // The licensor is no free relay: trial mail per mailbox and per domain a day.
        let day_ago = record.requested_at.add_seconds(-DAY);
        let to_address =
            trials::mailed_to_address_since(tx.conn(), &record.email_key, day_ago).await?;
        let to_domain =
            trials::mailed_to_domain_since(tx.conn(), &record.email_domain, day_ago).await?;
        if to_address >= u64::from(policy.mail_per_address_per_day)
            || to_domain >= u64::from(policy.mail_per_domain_per_day)
        {
            tx.rollback().await?;
            let per_domain = to_address < u64::from(policy.mail_per_address_per_day);
            return Ok(Err(TrialRefusal::mail_limit(per_domain, policy)));
        }
        if let Some((limit, since)) = terms.domain_limit {
            let confirmed = trials::confirmed_since(tx.conn(), &record.email_domain, since).await?;
            if confirmed >= u64::from(limit) {
                tx.rollback().await?;
                return refuse(TrialRule::DomainLimit);
            }
        }
        let slots = [
            (
                Slot::Deployment,
                record.deployment_id.as_str(),
                terms.once_per_deployment,
            ),
            (Slot::Email, record.email_key.as_str(), terms.once_per_email),
        ];
        let mut take = Slots::default();
        for (slot, value, enforced) in slots {
            let taken = trials::slot_taken(tx.conn(), slot, value).await?;
            if enforced && taken {
                tx.rollback().await?;
                return refuse(rule_of(slot));
            }
            // A granted trial takes its slots whenever they are free, waiver or not: a waiver
            // only keeps a taken slot from refusing, so the once-ever rules hold after it ends.
            // The email's slot waits for the first check-in when the trial must check in.
            match slot {
                Slot::Deployment => take.deployment = !taken,
                Slot::Email => take.email = !taken && !terms.confirm_at_checkin,
            }
        }
        // A trial gets an account of its own: issued on a customer's account, its sequence
        // would supersede the customer's paid license where both are installed.
        let account = NewAccount {
            id: AccountId(uuid::Uuid::new_v4()),
            name: record.company.clone(),
            email: record.email.to_lowercase(),
            account_type: "trial".to_owned(),
            created_at: record.requested_at,
        };
        accounts::insert(tx.conn(), &account).await?;
        let issued = self
            .issue_in(
                &mut tx,
                Issue {
                    id: uuid::Uuid::new_v4(),
                    account: account.id,
                    supersedes: None,
                    terms: license,
                    issued_by: "trial-request",
                },
            )
            .await?;
        let mut granted = record.clone();
        granted.license_id = Some(issued.id);
        granted.account_id = Some(account.id);
        granted.expires_at = Some(issued.expires_at);
        granted.confirmed_at = (!terms.confirm_at_checkin).then_some(record.requested_at);
        match trials::insert(tx.conn(), &granted, take).await? {
            Ok(()) => {
                let data = json!({ "trial": trial_data(&granted) });
                self.emit(&mut tx, EventType::TrialRequested, data.clone())
                    .await?;
                self.emit(&mut tx, EventType::TrialGranted, data).await?;
                tx.commit().await?;
                Ok(Ok(granted))
            }
            // A concurrent request won the race for a slot: the constraint said no.
            Err(slot) => {
                tx.rollback().await?;
                refuse(rule_of(slot))
            }
        }
    }

    /// Confirms the pending trials among `licenses`, which `deployment` just checked in as
    /// active: their mailbox got the license, so now they take the once-per-email slot and
    /// count toward the domain limit. A trial that finds its slot taken, or its domain's limit
    /// reached, by trials confirmed since it was granted is refused and its license revoked
    /// (the next check-in reports it).
    pub async fn confirm_trials(
        &self,
        deployment: &DeploymentId,
        licenses: &[LicenseId],
    ) -> Result<()> {
        for license in licenses {
            if self.known_without_pending_trial(*license) {
                continue;
            }
            let Some(trial) = trials::pending_for_license(self.store().conn(), *license).await?
            else {
                self.note_without_pending_trial(*license);
                continue;
            };
            if trial.deployment_id != deployment.as_str() {
                continue;
            }
            if let Some(refusal) = self.confirm(&trial).await? {
                tracing::info!(trial_id = %trial.id, code = refusal.code, "trial refused at its first check-in");
                if let Err(error) = self.revoke("trial-rules", *license, &refusal.message).await {
                    tracing::error!(trial_id = %trial.id, %error, "cannot revoke a refused trial's license");
                }
            }
        }
        Ok(())
    }

    /// One trial's confirmation; the refusal when a rule says no.
    async fn confirm(&self, trial: &TrialRecord) -> Result<Option<TrialRefusal>> {
        let policy = self.trial_policy();
        let now = self.now();
        let waivers = match trial.evaluation_id {
            Some(id) => waivers(&evaluations::get(self.store().conn(), id).await?)?,
            None => Waivers::default(),
        };
        let waived = |rule| waivers.waives.contains(&rule);
        let mut tx = self.store().begin().await?;
        trials::lock_domain(tx.conn(), &trial.email_domain, now).await?;
        let email_taken = trials::slot_taken(tx.conn(), Slot::Email, &trial.email_key).await?;
        let mut refusal = None;
        if email_taken && !waived(TrialRule::OneTrialPerEmail) {
            refusal = Some(TrialRefusal::of(TrialRule::OneTrialPerEmail, policy));
        } else if !waived(TrialRule::DomainLimit) {
            let since = trial
                .requested_at
                .add_seconds(-i64::from(policy.domain_window_days) * DAY);
            let confirmed = trials::confirmed_since(tx.conn(), &trial.email_domain, since).await?;
            if confirmed >= u64::from(policy.domain_limit) {
                refusal = Some(TrialRefusal::of(TrialRule::DomainLimit, policy));
            }
        }
        match &refusal {
            Some(refusal) => {
                trials::refuse_pending(tx.conn(), trial.id, refusal.code, &refusal.message).await?;
            }
            None => {
                let slot = (!email_taken).then_some(trial.email_key.as_str());
                trials::confirm(tx.conn(), trial.id, now, slot).await?;
            }
        }
        tx.commit().await?;
        Ok(refusal)
    }

    /// Extends granted trial `id` by `days`: a new license that supersedes its current one.
    pub async fn extend_trial(
        &self,
        actor: &str,
        id: uuid::Uuid,
        days: u32,
    ) -> Result<TrialRecord> {
        let max = self.trial_policy().evaluation_max_term_days;
        if !(1..=max).contains(&days) {
            return Err(Error::field("days", format!("use 1 to {max}")));
        }
        let trial = self.trial(id).await?;
        let (Some(license_id), Some(expires_at), Some(account)) =
            (trial.license_id, trial.expires_at, trial.account_id)
        else {
            return Err(Conflict::TrialNotGranted(id).into());
        };
        let now = self.now();
        let old = self.license(license_id).await?;
        let old = self.verified_claims(&old)?;
        let new_end = expires_at.max(now).add_seconds(i64::from(days) * DAY);
        let terms = LicenseTerms {
            email: old.sub.clone(),
            feature_set: old.feature_set,
            features: old.features.clone(),
            starts_at: old.nbf,
            expires_at: new_end,
            grace_ends_at: new_end,
            deployment_ids: old.deployment_ids.clone(),
            trial: true,
            evaluation: old.evaluation,
            checkin: old.checkin,
            min_product_version: old
                .min_product_version
                .as_deref()
                .and_then(license_core::ProductVersion::parse),
        };
        let entry = self.audit(
            actor,
            "trial.extend",
            json!({ "days": days, "expires_at": new_end.rfc3339(), "supersedes": license_id }),
        );
        let mut tx = self.store().begin().await?;
        let issued = self
            .issue_in(
                &mut tx,
                Issue {
                    id: uuid::Uuid::new_v4(),
                    account,
                    supersedes: Some(license_id),
                    terms,
                    issued_by: actor,
                },
            )
            .await
            .map_err(|e| match e {
                Error::Conflict(Conflict::LicenseNotActive) => {
                    Conflict::TrialLicenseNotActive(id).into()
                }
                other => other,
            })?;
        trials::set_license(tx.conn(), id, issued.id, issued.expires_at).await?;
        audit::record(tx.conn(), &entry, &id.to_string()).await?;
        tx.commit().await?;
        self.outbox_wake().notify_one();
        self.webhook_wake().notify_one();
        self.trial(id).await
    }

    /// One trial request.
    pub async fn trial(&self, id: uuid::Uuid) -> Result<TrialRecord> {
        trials::get(self.store().conn(), id)
            .await
            .or_not_found(|| format!("trial {id}"))
    }

    /// Trial requests, newest first.
    pub async fn trials(
        &self,
        filter: &TrialFilter,
        page: &PageRequest,
    ) -> Result<Page<TrialRecord>> {
        Ok(trials::list(self.store().conn(), filter, page).await?)
    }
}

fn rule_of(slot: Slot) -> TrialRule {
    match slot {
        Slot::Deployment => TrialRule::OneTrialPerDeployment,
        Slot::Email => TrialRule::OneTrialPerEmail,
    }
}

/// What an enrollment waives and grants. A stored rule this version does not know is corrupt
/// data, never silently dropped.
fn waivers(enrollment: &Evaluation) -> Result<Waivers> {
    let waives = enrollment
        .waives
        .iter()
        .map(|rule| {
            rule.parse::<TrialRule>().map_err(|e| {
                Error::Internal(Internal::Store(StoreError::Corrupt(format!(
                    "evaluation {}: {e}",
                    enrollment.id
                ))))
            })
        })
        .collect::<Result<_>>()?;
    Ok(Waivers {
        evaluation_id: Some(enrollment.id),
        waives,
        max_term_days: enrollment.max_term_days,
        user_limit: enrollment.user_limit,
    })
}

/// The record of a request, as granted until a rule says otherwise.
fn record(
    request: &ValidTrialRequest,
    client: Option<IpAddr>,
    waivers: &Waivers,
    now: license_core::Timestamp,
) -> TrialRecord {
    TrialRecord {
        id: uuid::Uuid::new_v4(),
        email: request.email.to_string(),
        email_key: request.email_key.clone(),
        email_domain: request.email_domain.clone(),
        first_name: request.first_name.clone(),
        last_name: request.last_name.clone(),
        company: request.company.clone(),
        country: request.country.clone(),
        developers: request.developers.clone(),
        deployment_id: request.deployment_id.to_string(),
        product_version: request.product_version.clone(),
        client_address: client.map(|ip| ip.to_string()),
        requested_at: now,
        outcome: TrialOutcome::Granted,
        refusal_code: None,
        refusal_message: None,
        license_id: None,
        account_id: None,
        evaluation_id: waivers.evaluation_id,
        expires_at: None,
        confirmed_at: None,
    }
}
