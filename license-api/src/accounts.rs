//! `/api/v1/accounts`: the customers licenses belong to.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/accounts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    /// The customer's name, 1 to 200 characters after trimming.
    pub name: String,
    /// The customer's contact email.
    pub email: String,
    /// `licensor` (the default) or the name of an external system.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub account_type: Option<String>,
}

/// An account as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// The account id.
    pub id: uuid::Uuid,
    /// The customer's name.
    pub name: String,
    /// The contact email.
    pub email: String,
    /// `licensor` or the name of an external system.
    #[serde(rename = "type")]
    pub account_type: String,
    /// The last license sequence number used for this account.
    pub license_sequence: u64,
    /// When it was created, RFC 3339.
    pub created_at: String,
}
