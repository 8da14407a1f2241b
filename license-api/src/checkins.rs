//! `POST /api/v1/checkins` and `GET /api/v1/revocations`: what a deployment reports, and the
//! signed receipt and revocation list it stores.

use license_core::ReceiptLicense;
use serde::{Deserialize, Serialize};

/// A deployment's check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckinRequest {
    /// The deployment checking in.
    pub deployment_id: String,
    /// The installed licenses.
    pub license_ids: Vec<String>,
    /// Active users now.
    #[serde(deserialize_with = "crate::whole::number")]
    pub active_users: u64,
    /// The product version it runs.
    pub product_version: String,
    /// Echoed in the receipt.
    #[serde(default)]
    pub nonce: Option<String>,
}

/// The answer to a check-in: the signed receipt, and what it says, in the clear.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckinResponse {
    /// The signed receipt (a compact JWS, typ `licensor-receipt+jwt`).
    pub receipt: String,
    /// The licensor's time, RFC 3339.
    pub server_time: String,
    /// The deployment.
    pub deployment_id: String,
    /// Each reported license and its status.
    pub licenses: Vec<ReceiptLicense>,
    /// The nonce sent.
    pub nonce: Option<String>,
    /// Licenses that supersede reported ones and may run on this deployment (license sync):
    /// `coder-license checkin` verifies each as `apply` does and installs it. Empty from a
    /// licensor without license sync.
    #[serde(default)]
    pub renewals: Vec<Renewal>,
}

/// A license pushed in a check-in answer: the newest of a reported license's reissues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renewal {
    /// The new license's id.
    pub license_id: String,
    /// The reported license it supersedes.
    pub supersedes: String,
    /// The new license's signed token (a compact JWS, as emailed).
    pub token: String,
    /// When the new license's term ends, RFC 3339.
    pub expires_at: String,
}

/// `GET /api/v1/revocations`: the signed revocation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocations {
    /// The signed list (a compact JWS, typ `licensor-revocations+jwt`).
    pub revocation_list: String,
    /// Grows by one with every revocation.
    pub sequence: u64,
}
