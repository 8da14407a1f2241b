//! `/api/v1/licenses`: issue, show, list, revoke, reissue.

use license_core::{FeatureSet, LicenseId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `POST /api/v1/licenses`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    #[serde(default, deserialize_with = "crate::whole::map")]
    pub features: BTreeMap<String, i64>,
    /// Seats.
    #[serde(deserialize_with = "crate::whole::number")]
    pub user_limit: i64,
    /// Start of the term, RFC 3339; absent: when the license is issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<String>,
    /// End of the term, RFC 3339.
    pub expires_at: String,
    /// Days of grace after the term.
    #[serde(default, deserialize_with = "crate::whole::number")]
    pub grace_days: u32,
    /// Deployments the license is bound to; empty means any.
    #[serde(default)]
    pub deployment_ids: Vec<String>,
    /// A trial license.
    #[serde(default)]
    pub trial: bool,
}

/// `POST /api/v1/licenses/{id}/reissue`: what changes; every field left out (or `null`) is
/// copied from the license being replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReissueRequest {
    /// A new licensee email.
    #[serde(default)]
    pub email: Option<String>,
    /// A new feature set.
    #[serde(default)]
    pub feature_set: Option<FeatureSet>,
    /// New features (replacing the old map, `user_limit` aside).
    #[serde(default, deserialize_with = "crate::whole::option_map")]
    pub features: Option<BTreeMap<String, i64>>,
    /// New seats.
    #[serde(default, deserialize_with = "crate::whole::option")]
    pub user_limit: Option<i64>,
    /// A new start, RFC 3339.
    #[serde(default)]
    pub starts_at: Option<String>,
    /// A new end, RFC 3339 (an extension).
    #[serde(default)]
    pub expires_at: Option<String>,
    /// A new grace period in days.
    #[serde(default, deserialize_with = "crate::whole::option")]
    pub grace_days: Option<u32>,
    /// A new deployment binding.
    #[serde(default)]
    pub deployment_ids: Option<Vec<String>>,
}

/// `POST /api/v1/licenses/{id}/revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Why, 1 to 500 characters; published on the revocation list.
    pub reason: String,
}

/// Where a license stands at the licensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseStatus {
    /// Issued and not revoked or replaced.
    Active,
    /// Revoked: on the revocation list.
    Revoked,
    /// Replaced by a reissued license.
    Superseded,
}

impl LicenseStatus {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseStatus::Active => "active",
            LicenseStatus::Revoked => "revoked",
            LicenseStatus::Superseded => "superseded",
        }
    }
}

/// A license as the API shows it; `token` (the signed JWT) when issuing, reissuing or showing
/// one license, absent in lists and in the answer to a revoke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseView {
    /// The license id (`jti`).
    pub id: LicenseId,
    /// The account it belongs to.
    pub account_id: uuid::Uuid,
    /// The licensee (`sub`).
    pub email: String,
    /// The signed license.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The id of the key that signed it.
    pub key_id: String,
    /// The feature set.
    pub feature_set: FeatureSet,
    /// Feature name → value, `user_limit` included.
    pub features: BTreeMap<String, i64>,
    /// The seats.
    pub user_limit: Option<i64>,
    /// Deployments it is bound to; empty means any.
    pub deployment_ids: Vec<String>,
    /// A trial license.
    pub trial: bool,
    /// Issued under the evaluation program.
    pub evaluation: bool,
    /// The account's sequence number for this license.
    pub sequence: u64,
    /// Start of the term.
    pub starts_at: String,
    /// End of the term.
    pub expires_at: String,
    /// End of the grace period.
    pub grace_ends_at: String,
    /// When it was signed.
    pub issued_at: String,
    /// The admin token that issued it.
    pub issued_by: String,
    /// Active, revoked or superseded.
    pub status: LicenseStatus,
    /// When it was revoked.
    pub revoked_at: Option<String>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
    /// The license this one replaced.
    pub supersedes: Option<LicenseId>,
}
