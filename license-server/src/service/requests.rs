//! The bodies of the API's requests, as the service layer takes them. Their JSON is the API
//! contract (`api/openapi.json`); validation is the service's.

pub use super::trial_rules::TrialRequest;
use super::trial_rules::TrialRule;
use license_core::FeatureSet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `POST /api/v1/licenses`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// The account the license belongs to.
    pub account_id: uuid::Uuid,
    /// The licensee's email: the license is sent there.
    pub email: String,
    /// A bundle of features.
    #[serde(default)]
    pub feature_set: FeatureSet,
    /// Further features, name → value.
    #[serde(default)]
    pub features: BTreeMap<String, i64>,
    /// Seats.
    pub user_limit: i64,
    /// Start of the term, RFC 3339; now when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// End of the term, RFC 3339.
    pub expires_at: String,
    /// Days of grace after the term.
    #[serde(default)]
    pub grace_days: u32,
    /// Deployments the license is bound to; empty means any.
    #[serde(default)]
    pub deployment_ids: Vec<String>,
    /// A trial license.
    #[serde(default)]
    pub trial: bool,
}

/// `POST /api/v1/licenses/{id}/reissue`: what changes; everything else is copied.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReissueRequest {
    /// A new licensee email.
    pub email: Option<String>,
    /// A new feature set.
    pub feature_set: Option<FeatureSet>,
    /// New features (replacing the old map, `user_limit` aside).
    pub features: Option<BTreeMap<String, i64>>,
    /// New seats.
    pub user_limit: Option<i64>,
    /// A new start, RFC 3339.
    pub starts_at: Option<String>,
    /// A new end, RFC 3339 (an extension).
    pub expires_at: Option<String>,
    /// A new grace period in days.
    pub grace_days: Option<u32>,
    /// New deployment binding.
    pub deployment_ids: Option<Vec<String>>,
}

/// `POST /api/v1/accounts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAccount {
    /// The customer's name.
    pub name: String,
    /// The customer's contact email.
    pub email: String,
    /// `licensor` unless another system owns the account.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
}

/// `POST /api/v1/licenses/{id}/revoke`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Why: kept with the license and in the audit log.
    pub reason: String,
}

/// `POST /api/v1/trials/{id}/extend`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendTrial {
    /// Days added to the trial's end (or to now, when it has ended).
    pub days: u32,
}

/// `POST /api/v1/evaluations`: exactly one of `account_id`, `email`, `email_domain`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enroll {
    /// An account.
    pub account_id: Option<uuid::Uuid>,
    /// One email address.
    pub email: Option<String>,
    /// Every address of a domain.
    pub email_domain: Option<String>,
    /// Why.
    pub reason: String,
    /// Who approved it.
    pub approved_by: String,
    /// From when (RFC 3339); now when absent.
    pub starts_at: Option<String>,
    /// Until when (RFC 3339).
    pub ends_at: String,
    /// The trial rules it waives.
    #[serde(default)]
    pub waives: Vec<TrialRule>,
    /// A longer trial term, in days.
    pub max_term_days: Option<u32>,
    /// More seats.
    pub user_limit: Option<i64>,
}

/// `POST /api/v1/evaluations/{id}/end`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndEvaluation {
    /// Why it ends early.
    pub reason: String,
}

/// `POST /api/v1/checkins`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckinRequest {
    /// The deployment checking in.
    pub deployment_id: String,
    /// The licenses it has installed.
    pub license_ids: Vec<String>,
    /// Its active users now.
    pub active_users: u64,
    /// Its product version.
    pub product_version: String,
    /// A value the deployment chose, echoed in the receipt.
    #[serde(default)]
    pub nonce: Option<String>,
}
