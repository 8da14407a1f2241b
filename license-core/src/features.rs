//! Feature names, as Coder's control plane reads them, and what each feature set grants.

use serde::{Deserialize, Serialize};

/// The seat count: the number of active users a license allows.
pub const USER_LIMIT: &str = "user_limit";

/// Features of the enterprise set (Coder's names).
pub const ENTERPRISE_FEATURES: &[&str] = &[
    "access_control",
    "advanced_template_scheduling",
    "appearance",
    "audit_log",
    "browser_only",
    "connection_log",
    "control_shared_ports",
    "external_provisioner_daemons",
    "external_token_encryption",
    "high_availability",
    "multiple_external_auth",
    "scim",
    "template_rbac",
    "user_role_management",
    "workspace_batch_actions",
    "workspace_prebuilds",
    "workspace_proxy",
];

/// Features that only the premium set adds on top of the enterprise set.
pub const PREMIUM_ONLY_FEATURES: &[&str] = &["custom_roles", "multiple_organizations"];

/// A named bundle of features (`feature_set` claim).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum FeatureSet {
    /// No bundle: only the `features` map counts.
    #[default]
    #[serde(rename = "")]
    None,
    /// Every enterprise feature.
    Enterprise,
    /// Every enterprise and premium feature.
    Premium,
}

impl FeatureSet {
    /// The features the set grants (besides `user_limit`, which is always explicit).
    pub fn features(self) -> impl Iterator<Item = &'static str> {
        let (enterprise, premium): (&[&str], &[&str]) = match self {
            FeatureSet::None => (&[], &[]),
            FeatureSet::Enterprise => (ENTERPRISE_FEATURES, &[]),
            FeatureSet::Premium => (ENTERPRISE_FEATURES, PREMIUM_ONLY_FEATURES),
        };
        enterprise.iter().chain(premium).copied()
    }

    /// The claim's text.
    pub fn as_str(self) -> &'static str {
        match self {
            FeatureSet::None => "",
            FeatureSet::Enterprise => "enterprise",
            FeatureSet::Premium => "premium",
        }
    }
}

impl std::str::FromStr for FeatureSet {
    type Err = UnknownFeatureSet;

    /// The claim's text back: `""`, `enterprise` or `premium`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        [
            FeatureSet::None,
            FeatureSet::Enterprise,
            FeatureSet::Premium,
        ]
        .into_iter()
        .find(|set| set.as_str() == text)
        .ok_or_else(|| UnknownFeatureSet(text.to_owned()))
    }
}

/// A feature set name that is not `""`, `enterprise` or `premium`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a feature set; use \"\", \"enterprise\" or \"premium\"")]
pub struct UnknownFeatureSet(pub String);

/// Every feature the control plane knows, in a stable order: `user_limit` first.
pub fn known_features() -> impl Iterator<Item = &'static str> {
    std::iter::once(USER_LIMIT).chain(FeatureSet::Premium.features())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn premium_contains_enterprise() {
        let premium: Vec<_> = FeatureSet::Premium.features().collect();
        assert!(
            FeatureSet::Enterprise
                .features()
                .all(|f| premium.contains(&f))
        );
        assert!(premium.contains(&"multiple_organizations"));
        assert_eq!(FeatureSet::None.features().count(), 0);
    }

    #[test]
    fn serializes_as_coder_does() {
        assert_eq!(serde_json::to_string(&FeatureSet::None).unwrap(), r#""""#);
        assert_eq!(
            serde_json::to_string(&FeatureSet::Premium).unwrap(),
            r#""premium""#
        );
        assert!(serde_json::from_str::<FeatureSet>(r#""platinum""#).is_err());
    }
}
