//! `POST /api/v1/trials`: the public free-trial request and its answer.

use serde::{Deserialize, Serialize};

/// A free-trial request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrialRequest {
    /// Where the license goes: proof of the address is the point.
    pub email: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
    /// Team size bucket: `1-10`, `11-50`, `51-200`, `201-1000` or `1001+`.
    pub developers: String,
    /// The deployment the trial license is bound to.
    pub deployment_id: String,
    /// The product version the deployment runs.
    pub product_version: String,
}

/// A granted trial: what it allows and where the license went, never the license itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialAccepted {
    /// The trial request's id.
    pub trial_id: uuid::Uuid,
    /// Always `granted`.
    pub status: String,
    /// The address the license is emailed to, as given.
    pub email: String,
    /// End of the trial, RFC 3339.
    pub expires_at: String,
    /// Seats.
    pub user_limit: i64,
    /// Granted under an evaluation-program enrollment.
    pub evaluation: bool,
    /// The deployment must check in with the licensor.
    pub checkin_required: bool,
    /// A sentence for the person who asked.
    pub message: String,
}
