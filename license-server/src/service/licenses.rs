//! Issuing, reissuing, revoking and resending licenses.
//!
//! Every license is issued by [`Licensor::issue_in`], inside a transaction its caller began:
//! the account's next sequence, the supersession of the license it replaces, the claims, the
//! signature, the email, the license row and the outbox row, all committed together or not at
//! all.

use super::Licensor;
use super::error::{Conflict, Error, Internal, OrNotFound, Result};
use super::requests::{IssueRequest, ReissueRequest, text_field};
use super::terms::LicenseTerms;
use super::webhooks::{EventType, license_data};
use crate::mail::{LicenseMail, MailReason};
use crate::store::accounts::{self, AccountId};
use crate::store::audit::{self, AuditDraft};
use crate::store::idempotency::{self, IdempotencyKey};
use crate::store::licenses::{self, LicenseFilter, LicenseRecord, LicenseStatus, NewLicense};
use crate::store::notifications;
use crate::store::outbox::{self, NewMessage};
use crate::store::{Page, PageRequest, Tx};
use license_core::{LicenseClaims, LicenseId};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The longest revocation reason.
pub const MAX_REASON_CHARS: usize = 500;

/// The most superseded licenses one revocation walks back through.
const MAX_CHAIN: usize = 10_000;

/// A license issued, or found again for a replayed idempotency key.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The license.
    pub license: LicenseRecord,
    /// True when an idempotency key was replayed: nothing new was issued.
    pub replayed: bool,
}

/// What one issuing transaction signs and stores.
#[derive(Debug)]
pub(super) struct Issue<'a> {
    /// The license's id.
    pub id: LicenseId,
    /// The account it is issued on.
    pub account: AccountId,
    /// The license it replaces, if any.
    pub supersedes: Option<LicenseId>,
    /// What it grants.
    pub terms: LicenseTerms,
    /// Who issues it.
    pub issued_by: &'a str,
}

/// The kind of license a metric counts.
fn kind(supersedes: Option<LicenseId>, license: &LicenseRecord) -> &'static str {
    match (supersedes, license.trial, license.evaluation) {
        (Some(_), _, _) => "reissue",
        (None, true, true) => "evaluation",
        (None, true, false) => "trial",
        (None, false, _) => "paid",
    }
}

impl Licensor {
    /// Signs and stores a license and queues its email, in `tx`.
    pub(super) async fn issue_in(&self, tx: &mut Tx, issue: Issue<'_>) -> Result<LicenseRecord> {
        let now = self.now();
        let Some((sequence, account_type)) =
            accounts::take_sequence(tx.conn(), issue.account).await?
        else {
            return Err(Error::invalid(
                "unknown_account",
                format!("account {} does not exist", issue.account),
            ));
        };
        if let Some(old) = issue.supersedes
            && !licenses::supersede(tx.conn(), old, issue.account).await?
        {
            return Err(Conflict::LicenseNotActive.into());
        }
        let claims = issue.terms.claims(
            issue.id,
            self.signer().issuer(),
            (&issue.account.to_string(), &account_type),
            now,
            sequence,
        )?;
        let token = self.signer().sign(&claims)?;
        let message = self.license_email(&claims, &token, MailReason::Issued)?;
        let license = licenses::insert(
            tx.conn(),
            &NewLicense {
                account_id: issue.account,
                claims: &claims,
                token: &token,
                key_id: self.signer().key_id().as_str(),
                issued_by: issue.issued_by,
                supersedes: issue.supersedes,
            },
        )
        .await?;
        outbox::insert(tx.conn(), &message).await?;
        self.schedule_reminders(tx, &license).await?;
        let event = if license.supersedes.is_some() {
            EventType::LicenseReissued
        } else {
            EventType::LicenseIssued
        };
        self.emit(tx, event, json!({ "license": license_data(&license) }))
            .await?;
        Ok(license)
    }

    fn license_email(
        &self,
        claims: &LicenseClaims,
        token: &str,
        reason: MailReason,
    ) -> Result<NewMessage> {
        let mail = LicenseMail {
            claims,
            token,
            reason,
        };
        Ok(self
            .composer()
            .license_email(uuid::Uuid::new_v4(), mail, self.now())?)
    }

    /// Issues a license on a request of `actor`; with `key`, a repeated request returns the
    /// license issued the first time.
    pub async fn issue(
        &self,
        actor: &str,
        key: Option<&IdempotencyKey>,
        request: &IssueRequest,
    ) -> Result<Issued> {
        let terms = LicenseTerms::from_request(request, self.now())?;
        let issue = Issue {
            id: uuid::Uuid::new_v4(),
            account: AccountId(request.account_id),
            supersedes: None,
            terms,
            issued_by: actor,
        };
        let details = json!({ "request": request });
        self.issue_once(
            key,
            request_hash("license.issue", request),
            issue,
            "license.issue",
            details,
        )
        .await
    }

    /// Reissues license `id` with what `request` changes: a new license that supersedes it.
    pub async fn reissue(
        &self,
        actor: &str,
        key: Option<&IdempotencyKey>,
        id: LicenseId,
        request: &ReissueRequest,
    ) -> Result<Issued> {
        // Whether the old license is still active is decided in the issuing transaction, after
        // the idempotency key: a replayed reissue returns its license although the old one is
        // superseded by then.
        let old = self.license(id).await?;
        let claims = self.verified_claims(&old)?;
        let terms = LicenseTerms::from_reissue(&claims, request)?;
        // Keeping a term that is over is not a wrong field but the license's state.
        if request.expires_at.is_none() && terms.grace_ends_at <= self.now() {
            return Err(Conflict::LicenseEnded(id, terms.grace_ends_at).into());
        }
        let issue = Issue {
            id: uuid::Uuid::new_v4(),
            account: old.account_id,
            supersedes: Some(id),
            terms,
            issued_by: actor,
        };
        let details = json!({ "supersedes": id, "request": request });
        let hash = request_hash("license.reissue", &(id, request));
        self.issue_once(key, hash, issue, "license.reissue", details)
            .await
    }

    /// Issues under an idempotency key: the key is claimed in the issuing transaction, so a
    /// concurrent request with it waits and then finds the license.
    async fn issue_once(
        &self,
        key: Option<&IdempotencyKey>,
        request_hash: String,
        issue: Issue<'_>,
        action: &str,
        details: serde_json::Value,
    ) -> Result<Issued> {
        let actor = issue.issued_by.to_owned();
        let supersedes = issue.supersedes;
        let mut tx = self.store().begin().await?;
        if let Some(key) = key
            && let Some(claimed) =
                idempotency::claim(tx.conn(), &actor, key, &request_hash, self.now()).await?
        {
            tx.rollback().await?;
            if claimed.request_hash != request_hash {
                return Err(Conflict::IdempotencyKeyReused.into());
            }
            let Some(license_id) = claimed.license_id else {
                return Err(Conflict::IdempotencyKeyInFlight.into());
            };
            let license = licenses::get(self.store().conn(), license_id).await?;
            return Ok(Issued {
                license,
                replayed: true,
            });
        }
        let license = self.issue_in(&mut tx, issue).await?;
        let entry = self.audit(&actor, action, details);
        audit::record(tx.conn(), &entry, &license.id.to_string()).await?;
        if let Some(key) = key {
            idempotency::complete(tx.conn(), &actor, key, license.id).await?;
        }
        tx.commit().await?;
        self.outbox_wake().notify_one();
        self.webhook_wake().notify_one();
        self.metrics().license_issued(kind(supersedes, &license));
        tracing::info!(license_id = %license.id, account_id = %license.account_id, actor = %actor, "license issued");
        Ok(Issued {
            license,
            replayed: false,
        })
    }

    /// One license.
    pub async fn license(&self, id: LicenseId) -> Result<LicenseRecord> {
        licenses::get(self.store().conn(), id)
            .await
            .or_not_found(|| format!("license {id}"))
    }

    /// One license read by `actor` with its token (the desk's `GET /licenses/{id}`): whoever
    /// holds the token can install the license, so each read is in the audit log as
    /// `license.read_token`. Lists, which show no tokens, are not audited.
    pub async fn read_license(&self, actor: &str, id: LicenseId) -> Result<LicenseRecord> {
        let license = self.license(id).await?;
        let entry = self.audit(
            actor,
            "license.read_token",
            json!({ "account_id": license.account_id }),
        );
        audit::record(self.store().conn(), &entry, &id.to_string()).await?;
        Ok(license)
    }

    /// Licenses matching `filter`, newest first.
    pub async fn licenses(
        &self,
        filter: &LicenseFilter,
        page: &PageRequest,
    ) -> Result<Page<LicenseRecord>> {
        if let Some(email) = &filter.email {
            license_core::Email::parse(email).map_err(|e| {
                Error::invalid("invalid_query", format!("query parameter `email`: {e}"))
            })?;
        }
        Ok(licenses::list(self.store().conn(), filter, page).await?)
    }

    /// The claims of a stored license, read only from its verified token (here against the
    /// licensor's own keys).
    pub(super) fn verified_claims(&self, license: &LicenseRecord) -> Result<LicenseClaims> {
        self.signer()
            .verify(&license.token, self.now())
            .map(|verified| verified.claims().clone())
            .map_err(|e| Error::Internal(Internal::StoredLicense(e.to_string())))
    }

    /// Revokes license `id` for `reason`; it joins the revocation list, and so does every
    /// license it replaced (the chain of reissues and trial extensions behind it): revoking a
    /// reissue must not bring back the license it superseded, on a deployment that kept both.
    pub async fn revoke(&self, actor: &str, id: LicenseId, reason: &str) -> Result<LicenseRecord> {
        // Free text: published on the revocation list and mailed.
        let reason = text_field("reason", reason, MAX_REASON_CHARS)?;
        let reason = reason.as_str();
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let revoked = licenses::revoke(tx.conn(), id, reason, now)
            .await
            .or_not_found(|| format!("license {id}"))?
            .ok_or(Conflict::AlreadyRevoked(id))?;
        let chain_reason = format!("superseded by license {id}, which was revoked: {reason}");
        let mut replaced = Vec::new();
        let mut next = revoked.supersedes;
        // Each license supersedes at most one older one, and ids are never reused: the chain
        // ends; the bound only guards against a corrupt table.
        while let Some(old) = next.filter(|_| replaced.len() < MAX_CHAIN) {
            let record = licenses::get(tx.conn(), old).await?;
            next = record.supersedes;
            if record.status == LicenseStatus::Revoked || replaced.contains(&old) {
                continue;
            }
            let chain_reason: String = chain_reason.chars().take(MAX_REASON_CHARS).collect();
            if licenses::revoke(tx.conn(), old, &chain_reason, now)
                .await?
                .is_some()
            {
                replaced.push(old);
            }
        }
        // Dated with the revocation itself, not a second reading of the clock.
        let entry = AuditDraft::new(
            now,
            actor,
            "license.revoke",
            json!({ "reason": reason, "also_revoked": replaced }),
        );
        audit::record(tx.conn(), &entry, &id.to_string()).await?;
        notifications::cancel(tx.conn(), id, now).await?;
        let data = json!({ "license": license_data(&revoked), "reason": reason });
        self.emit(&mut tx, EventType::LicenseRevoked, data).await?;
        tx.commit().await?;
        self.webhook_wake().notify_one();
        tracing::info!(license_id = %id, also_revoked = replaced.len(), "license revoked");
        Ok(revoked)
    }

    /// Queues the license email again, to the licensee on the license.
    pub async fn resend(&self, actor: &str, id: LicenseId) -> Result<NewMessage> {
        let license = self.license(id).await?;
        if license.status == LicenseStatus::Revoked {
            return Err(Conflict::LicenseRevoked(id).into());
        }
        let claims = self.verified_claims(&license)?;
        let message = self.license_email(&claims, &license.token, MailReason::Resent)?;
        let entry = self.audit(
            actor,
            "license.resend",
            json!({ "license_id": id, "recipient": message.recipient }),
        );
        let mut tx = self.store().begin().await?;
        outbox::insert(tx.conn(), &message).await?;
        audit::record(tx.conn(), &entry, &message.id.to_string()).await?;
        tx.commit().await?;
        self.outbox_wake().notify_one();
        Ok(message)
    }
}

/// SHA-256 of the action and the canonical request: tells a replay from a reuse of a key.
fn request_hash(action: &str, request: &impl Serialize) -> String {
    let body = serde_json::to_vec(request).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(action.as_bytes());
    hasher.update([0]);
    hasher.update(&body);
    license_core::base64url::encode(&hasher.finalize())
}
