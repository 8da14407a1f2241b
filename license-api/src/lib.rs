//! The licensor's HTTP API (`/api/v1`) as types: the JSON bodies its clients send and the
//! views it answers with, shared by `license-server` and `coder-license` so the two cannot
//! drift. Each type's JSON is what `license-server/src/api/openapi.json` documents: the same
//! field names and optionality; request bodies refuse unknown fields, as the server does.
//!
//! Free-text fields stay strings: the server checks them field by field and names the wrong
//! one in a 422, which a typed field would turn into a generic decoding error.

pub mod accounts;
pub mod checkins;
pub mod error;
pub mod evaluations;
pub mod licenses;
pub mod trials;
pub mod usage;
pub mod whole;

pub use accounts::{AccountView, CreateAccountRequest};
pub use checkins::{CheckinRequest, CheckinResponse, Renewal, Revocations};
pub use error::{ErrorBody, ErrorDetail};
pub use evaluations::{EndEvaluationRequest, EnrollRequest, TrialRule};
pub use licenses::{IssueRequest, LicenseStatus, LicenseView, ReissueRequest, RevokeRequest};
pub use trials::{TrialAccepted, TrialRequest};
pub use usage::{AccountUsageView, DeploymentUsageView, LicenseUsageView, UsageDayView};

use serde::{Deserialize, Serialize};

/// One page of a list; `next_cursor` (pass it as `after`) is `null` on the last page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The cursor of the next page, `None` on the last.
    pub next_cursor: Option<String>,
}
