//! Check-ins answered with signed receipts, the signed revocation list, and what the desk
//! sees of deployments: their check-ins, seats and overuse.

use super::Licensor;
use super::checkin_state::CheckinInput;
use super::error::{Error, Internal, OrNotFound, Result};
use super::renewals::Renewal;
use super::requests::CheckinRequest;
use super::webhooks::EventType;
use crate::store::accounts::AccountId;
use crate::store::deployments::{self, CheckinEntry, Deployment, DeploymentFilter};
use crate::store::licenses::{self, LicenseRecord, LicenseStatus};
use crate::store::{Page, PageRequest, Tx};
use license_core::{
    DAY, DeploymentId, LicenseId, MAX_NONCE_LEN, MAX_RECEIPT_LICENSES, ReceiptClaims,
    ReceiptLicense, ReceiptStatus, RevocationListClaims, RevokedLicense, Timestamp,
};
use serde_json::json;
use std::net::IpAddr;

use super::reminder_policy::OVERUSE_WINDOW_DAYS;

/// The answer to a check-in.
#[derive(Debug, Clone)]
pub struct Checkin {
    /// The signed receipt.
    pub receipt: String,
    /// The licensor's time.
    pub server_time: Timestamp,
    /// The deployment.
    pub deployment_id: DeploymentId,
    /// What the licensor knows of each reported license.
    pub licenses: Vec<ReceiptLicense>,
    /// The deployment's nonce, echoed.
    pub nonce: Option<String>,
    /// Licenses that supersede reported ones, for the deployment to install.
    pub renewals: Vec<Renewal>,
}

/// A revocation list this large is logged as a warning: customers keep it in a Kubernetes
/// Secret (at most 1 MiB with everything else in it), so the desk must act before it stops
/// fitting, at about 11,000 revoked licenses still in their grace period.
pub const REVOCATION_LIST_WARN_BYTES: usize = 768 * 1024;

/// The signed revocation list.
#[derive(Debug, Clone)]
pub struct RevocationList {
    /// The signed list.
    pub token: String,
    /// Its sequence.
    pub sequence: u64,
}

/// Filters of the desk's deployment list.
#[derive(Debug, Clone, Default)]
pub struct DeploymentQuery {
    /// Only deployments not seen within a trial's offline window.
    pub stale: bool,
    /// Over (or within) their seats.
    pub over_seat_limit: Option<bool>,
    /// Running a trial or not.
    pub trial: Option<bool>,
    /// Of this account.
    pub account_id: Option<AccountId>,
}

/// A license of a deployment, with the overuse flag.
#[derive(Debug, Clone)]
pub struct DeploymentLicense {
    /// The license.
    pub id: LicenseId,
    /// The licensor issued it.
    pub record: Option<LicenseRecord>,
    /// From how many deployments it was reported within the window.
    pub deployments_seen: u64,
    /// Reported from more deployments than it allows.
    pub overused: bool,
}

/// One deployment with its licenses and latest check-ins.
#[derive(Debug, Clone)]
pub struct DeploymentDetail {
    /// The deployment.
    pub deployment: Deployment,
    /// Its licenses at the latest check-in.
    pub licenses: Vec<DeploymentLicense>,
    /// Its latest check-ins.
    pub recent_checkins: Page<CheckinEntry>,
}

/// What the licensor knows of a reported license, for a deployment, at `now`.
pub(super) fn status_of(
    record: Option<&LicenseRecord>,
    deployment: &DeploymentId,
    now: Timestamp,
) -> ReceiptStatus {
    match record {
        None => ReceiptStatus::Unknown,
        Some(l) if l.status == LicenseStatus::Revoked => ReceiptStatus::Revoked,
        // Replaced by a reissue or a trial extension: never active again (issue 12, finding 1).
        Some(l) if l.status == LicenseStatus::Superseded => ReceiptStatus::Superseded,
        Some(l) if now > l.grace_ends_at => ReceiptStatus::Expired,
        Some(l)
            if !l.deployment_ids.is_empty()
                && !l.deployment_ids.iter().any(|d| d == deployment.as_str()) =>
        {
            ReceiptStatus::BoundElsewhere
        }
        Some(_) => ReceiptStatus::Active,
    }
}

/// The most active users a check-in may report (openapi.json's `maximum`): a thousand times
/// the largest seat count, far past any deployment, and exact in every JSON number type.
pub const MAX_ACTIVE_USERS: u64 = 10_000_000_000;

impl Licensor {
    /// Records a check-in from `client` and signs its receipt.
    pub async fn checkin(
        &self,
        request: &CheckinRequest,
        client: Option<IpAddr>,
    ) -> Result<Checkin> {
        let deployment = DeploymentId::parse(&request.deployment_id)
            .map_err(|e| Error::field("deployment_id", e))?;
        if request.license_ids.len() > MAX_RECEIPT_LICENSES {
            return Err(Error::invalid(
                "too_many_licenses",
                format!(
                    "field `license_ids`: at most {MAX_RECEIPT_LICENSES} licenses per check-in"
                ),
            ));
        }
        let mut ids: Vec<LicenseId> = Vec::with_capacity(request.license_ids.len());
        for text in &request.license_ids {
            let id = uuid::Uuid::parse_str(text).map_err(|_| {
                Error::field("license_ids", format!("{text:?} is not a license id"))
            })?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if request.active_users > MAX_ACTIVE_USERS {
            return Err(Error::field(
                "active_users",
                format!("use 0 to {MAX_ACTIVE_USERS}"),
            ));
        }
        super::trial_rules::product_version(&request.product_version).ok_or_else(|| {
            Error::field("product_version", super::trial_rules::PRODUCT_VERSION_RULE)
        })?;
        if let Some(nonce) = &request.nonce
            && (nonce.is_empty()
                || nonce.len() > MAX_NONCE_LEN
                || !nonce.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(Error::field(
                "nonce",
                format!("1 to {MAX_NONCE_LEN} visible ASCII characters"),
            ));
        }
        let recorded = self
            .record_checkin_input(CheckinInput {
                deployment: deployment.clone(),
                ids,
                active_users: request.active_users,
                product_version: request.product_version.clone(),
                client_address: client.map(|ip| ip.to_string()),
            })
            .await?;
        let now = recorded.now;
        let reported = recorded.reported;
        let renewals = recorded.renewals;
        let claims = ReceiptClaims {
            iss: self.signer().issuer().to_owned(),
            jti: uuid::Uuid::new_v4(),
            iat: now,
            deployment_id: deployment.clone(),
            licenses: reported.clone(),
            nonce: request.nonce.clone(),
        };
        let receipt = self
            .signer()
            .sign_receipt(&claims)
            .map_err(|e| Error::Internal(Internal::Signing(e.to_string())))?;
        Ok(Checkin {
            receipt,
            server_time: now,
            deployment_id: deployment,
            licenses: reported,
            nonce: request.nonce.clone(),
            renewals,
        })
    }

    /// The events and reminders a check-in leads to, in its transaction: the deployment's
    /// first sight, its crossing of the seat limit (and the desk's alert), and the trial's
    /// check-in reminder moved later (a license seen on more deployments than it allows is
    /// alerted once per batch, `checkin_batch`). The events are added to `events`, recorded
    /// by the batch in one go; the alerts and reminders are written now.
    pub(super) async fn checkin_events(
        &self,
        tx: &mut Tx,
        before: Option<&Deployment>,
        after: &Deployment,
        active: &[&LicenseRecord],
        events: &mut Vec<(EventType, serde_json::Value)>,
    ) -> Result<()> {
        let view = json!({
            "id": after.id,
            "first_seen_at": after.first_seen_at.rfc3339(),
            "last_seen_at": after.last_seen_at.rfc3339(),
            "product_version": after.product_version,
            "active_users": after.active_users,
            "user_limit": after.user_limit,
            "license_ids": after.license_ids,
            "trial": after.trial,
        });
        if before.is_none() {
            events.push((
                EventType::DeploymentFirstSeen,
                json!({ "deployment": view.clone() }),
            ));
        }
        if after.over_seat_limit && !before.is_some_and(|b| b.over_seat_limit) {
            events.push((
                EventType::DeploymentOverSeats,
                json!({ "deployment": view }),
            ));
            if let Some(license) = active.first() {
                self.desk_alert(tx, license.id, "desk_over_seats", &after.id)
                    .await?;
            }
        }
        for license in active.iter().filter(|l| l.trial) {
            self.checkin_seen(tx, license, &after.id).await?;
        }
        Ok(())
    }

    /// The revocation list, signed now: the revoked licenses not yet past their grace period
    /// (`license_core::revocation_list_cutoff`; one past it grants nothing anyway).
    pub async fn revocation_list(&self) -> Result<RevocationList> {
        let now = self.now();
        let cutoff = license_core::revocation_list_cutoff(now);
        let (sequence, revoked) = licenses::revocations(self.store().conn(), cutoff).await?;
        let claims = RevocationListClaims {
            iss: self.signer().issuer().to_owned(),
            iat: now,
            sequence,
            revoked: revoked
                .into_iter()
                .map(|r| RevokedLicense {
                    id: r.license_id,
                    revoked_at: r.revoked_at,
                })
                .collect(),
        };
        let token = self
            .signer()
            .sign_revocation_list(&claims)
            .map_err(|e| Error::Internal(Internal::Signing(e.to_string())))?;
        self.metrics()
            .revocation_list_signed(token.len(), claims.revoked.len());
        if token.len() > REVOCATION_LIST_WARN_BYTES {
            tracing::warn!(
                bytes = token.len(),
                entries = claims.revoked.len(),
                "the revocation list is over {REVOCATION_LIST_WARN_BYTES} bytes: a customer's \
                 Kubernetes Secret holds 1 MiB in all, so soon it cannot be installed; it \
                 shrinks as revoked licenses pass their grace period"
            );
        }
        Ok(RevocationList { token, sequence })
    }

    /// Deployments, most recently seen first.
    pub async fn deployments(
        &self,
        query: &DeploymentQuery,
        page: &PageRequest,
    ) -> Result<Page<Deployment>> {
        let offline =
            i64::try_from(self.trial_policy().checkin.max_offline_secs).unwrap_or(i64::MAX);
        let filter = DeploymentFilter {
            // Stale: not seen within the offline window a trial is allowed.
            not_seen_since: query.stale.then(|| self.now().add_seconds(-offline)),
            over_seat_limit: query.over_seat_limit,
            trial: query.trial,
            account_id: query.account_id,
        };
        Ok(deployments::list(self.store().conn(), &filter, page).await?)
    }

    /// One deployment with its licenses, overuse flags and latest check-ins.
    pub async fn deployment(&self, id: &str) -> Result<DeploymentDetail> {
        let deployment = deployments::get(self.store().conn(), id)
            .await
            .or_not_found(|| format!("deployment {id}"))?;
        let ids: Vec<LicenseId> = deployment
            .license_ids
            .iter()
            .filter_map(|text| uuid::Uuid::parse_str(text).ok())
            .collect();
        let records = licenses::by_ids(self.store().conn(), &ids).await?;
        let since = self.now().add_seconds(-OVERUSE_WINDOW_DAYS * DAY);
        let counts = deployments::seen_counts(self.store().conn(), &ids, since).await?;
        let licenses = ids
            .iter()
            .map(|id| {
                let record = records.iter().find(|l| l.id == *id).cloned();
                let seen = counts.iter().find(|(l, _)| l == id).map_or(0, |(_, n)| *n);
                let allowed = record.as_ref().map_or(1, |l| l.deployment_ids.len().max(1)) as u64;
                DeploymentLicense {
                    id: *id,
                    record,
                    deployments_seen: seen,
                    overused: seen > allowed,
                }
            })
            .collect();
        let recent = PageRequest {
            limit: 20,
            after: None,
        };
        let recent_checkins = deployments::checkins(self.store().conn(), id, &recent).await?;
        Ok(DeploymentDetail {
            deployment,
            licenses,
            recent_checkins,
        })
    }

    /// A deployment's check-ins, newest first.
    pub async fn checkins(&self, id: &str, page: &PageRequest) -> Result<Page<CheckinEntry>> {
        deployments::get(self.store().conn(), id)
            .await
            .or_not_found(|| format!("deployment {id}"))?;
        Ok(deployments::checkins(self.store().conn(), id, page).await?)
    }
}
