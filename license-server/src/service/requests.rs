//! The bodies of the API's requests, as the service layer takes them: the shared types of
//! `license-api` (the same ones `coder-license` sends), plus the desk-only trial extension.
//! Their JSON is the API contract (`api/openapi.json`); validation is the service's.

pub use license_api::{
    CheckinRequest, CreateAccountRequest, EndEvaluationRequest, EnrollRequest, IssueRequest,
    ReissueRequest, RevokeRequest, TrialRequest, TrialRule,
};
use serde::{Deserialize, Serialize};

/// `POST /api/v1/trials/{id}/extend`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendTrial {
    /// Days added to the trial's end (or to now, when it has ended).
    #[serde(deserialize_with = "license_api::whole::number")]
    pub days: u32,
}
