//! `/api/v1/evaluations`: enrolling in the evaluation program, which waives trial rules.

use serde::{Deserialize, Serialize};

/// A trial rule that an evaluation-program enrollment can waive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialRule {
    /// One trial per deployment id, ever.
    OneTrialPerDeployment,
    /// One trial per email address, ever (case- and plus-address-insensitive).
    OneTrialPerEmail,
    /// At most N trials per email domain within a window.
    DomainLimit,
    /// The product must be at least the minimum version.
    MinProductVersion,
    /// The deployment must check in with the licensor (waived: air-gapped use).
    Checkin,
    /// The email domain must not be blocked.
    BlockedDomains,
}

impl TrialRule {
    /// Every rule.
    pub const ALL: [TrialRule; 6] = [
        TrialRule::OneTrialPerDeployment,
        TrialRule::OneTrialPerEmail,
        TrialRule::DomainLimit,
        TrialRule::MinProductVersion,
        TrialRule::Checkin,
        TrialRule::BlockedDomains,
    ];

    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialRule::OneTrialPerDeployment => "one_trial_per_deployment",
            TrialRule::OneTrialPerEmail => "one_trial_per_email",
            TrialRule::DomainLimit => "domain_limit",
            TrialRule::MinProductVersion => "min_product_version",
            TrialRule::Checkin => "checkin",
            TrialRule::BlockedDomains => "blocked_domains",
        }
    }
}

impl std::str::FromStr for TrialRule {
    type Err = String;

    /// A rule's name back, as [`TrialRule::as_str`] writes it.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|rule| rule.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not a trial rule"))
    }
}

/// `POST /api/v1/evaluations`: exactly one of `account_id`, `email`, `email_domain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// An account: trial requests from its email address are covered.
    #[serde(default)]
    pub account_id: Option<uuid::Uuid>,
    /// One person.
    #[serde(default)]
    pub email: Option<String>,
    /// Every address at this domain.
    #[serde(default)]
    pub email_domain: Option<String>,
    /// Why.
    pub reason: String,
    /// Who approved it.
    pub approved_by: String,
    /// When it starts, RFC 3339; absent: now.
    #[serde(default)]
    pub starts_at: Option<String>,
    /// When it ends, RFC 3339.
    pub ends_at: String,
    /// The rules it waives.
    #[serde(default)]
    pub waives: Vec<TrialRule>,
    /// Trial length granted, in days.
    #[serde(default, deserialize_with = "crate::whole::option")]
    pub max_term_days: Option<u32>,
    /// Seats granted.
    #[serde(default, deserialize_with = "crate::whole::option")]
    pub user_limit: Option<i64>,
}

/// `POST /api/v1/evaluations/{id}/end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndEvaluationRequest {
    /// Why.
    pub reason: String,
}
