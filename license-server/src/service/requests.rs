//! The bodies of the API's requests, as the service layer takes them: the shared types of
//! `license-api` (the same ones `coder-license` sends), plus the desk-only trial extension.
//! Their JSON is the API contract (`api/openapi.json`); validation is the service's.

use super::error::{Error, Result};
pub use license_api::{
    CheckinRequest, CreateAccountRequest, EndEvaluationRequest, EnrollRequest, IssueRequest,
    ReissueRequest, RevokeRequest, TrialRequest, TrialRule,
};
use serde::{Deserialize, Serialize};

/// Free text a person typed: 1 to `max` characters as sent, not blank, no control characters
/// (they would end up in email headers and bodies); trimmed.
pub fn text_field(name: &str, value: &str, max: usize) -> Result<String> {
    // `maxLength` in openapi.json counts the value as sent, spaces around it included.
    let too_long = value.chars().count() > max;
    let value = value.trim();
    if too_long || value.is_empty() || value.chars().any(char::is_control) {
        return Err(Error::field(
            name,
            format!("give 1 to {max} characters, without control characters"),
        ));
    }
    Ok(value.to_owned())
}

/// `POST /api/v1/trials/{id}/extend`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendTrial {
    /// Days added to the trial's end (or to now, when it has ended).
    #[serde(deserialize_with = "license_api::whole::number")]
    pub days: u32,
}
