//! The claims of a license (format version 3): Coder's names plus Licensor's extensions.
//!
//! docs/license-format.md describes every claim. Unknown claims are ignored (a newer licensor
//! may add some); known claims must have the right type, and [`LicenseClaims::validate`]
//! checks that they are consistent with each other.

use crate::features::FeatureSet;
use crate::ids::{DeploymentId, Email, LicenseId};
use crate::timestamp::Timestamp;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The license format version this crate reads and writes.
pub const FORMAT_VERSION: u64 = 3;

/// The most deployments one license may be bound to.
pub const MAX_DEPLOYMENT_IDS: usize = 1_000;

/// The most entries the `features` map may have.
pub const MAX_FEATURES: usize = 256;

/// The claims of a license. Build one to sign it; read one only through a
/// [`VerifiedLicense`](crate::VerifiedLicense), never from an unverified token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseClaims {
    /// Issuer: the licensor's name.
    pub iss: String,
    /// The licensee's email address.
    pub sub: Email,
    /// The license id.
    pub jti: LicenseId,
    /// When the license was signed.
    pub iat: Timestamp,
    /// Start of the term; may lie in the future (a renewal installed early).
    pub nbf: Timestamp,
    /// End of the paid or trial term and start of the grace period.
    pub license_expires: Timestamp,
    /// End of the grace period (equal to `license_expires` when there is none).
    pub exp: Timestamp,
    /// The format version, 3.
    pub version: u64,
    /// What kind of account holds the license (`salesforce`, `licensor`, …).
    #[serde(default)]
    pub account_type: String,
    /// The account the license belongs to.
    #[serde(default)]
    pub account_id: String,
    /// Deployments the license is bound to; empty means any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deployment_ids: Vec<DeploymentId>,
    /// A trial license.
    #[serde(default)]
    pub trial: bool,
    /// A bundle of features the license grants.
    #[serde(default)]
    pub feature_set: FeatureSet,
    /// Feature name → integer; a feature is granted when its value is positive, and
    /// `user_limit` is the seat count.
    #[serde(deserialize_with = "unique_keys")]
    pub features: BTreeMap<String, i64>,
    /// The control plane must report usage.
    #[serde(default)]
    pub require_telemetry: bool,
    /// Licensor extension: issued under the evaluation program.
    #[serde(default, skip_serializing_if = "is_false")]
    pub evaluation: bool,
    /// Licensor extension: the deployment must check in with the licensor (no air-gapped use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkin: Option<CheckinPolicy>,
    /// Licensor extension: the lowest product version the license may run on (`2.15.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_product_version: Option<String>,
    /// Licensor extension: per-account sequence; a license in force supersedes the account's
    /// licenses with a lower sequence.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sequence: u64,
}

/// How often a deployment must check in, and how long it may stay out of contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckinPolicy {
    /// Seconds between check-ins.
    pub interval_secs: u64,
    /// Seconds after the last check-in receipt during which the license still grants.
    pub max_offline_secs: u64,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// Claims that are well-typed but inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    #[error(
        "license format version {0} is not supported; this verifier reads version {FORMAT_VERSION} (upgrade coder-license)"
    )]
    UnsupportedVersion(u64),
    #[error("the issuer (iss) is empty or longer than 256 characters")]
    Issuer,
    #[error("the term starts (nbf {nbf}) after it ends (license_expires {license_expires})")]
    StartsAfterEnd {
        nbf: Timestamp,
        license_expires: Timestamp,
    },
    #[error(
        "the grace period ends (exp {exp}) before the term ends (license_expires {license_expires})"
    )]
    GraceBeforeTerm {
        license_expires: Timestamp,
        exp: Timestamp,
    },
    #[error("the license was issued (iat {iat}) after it expired (exp {exp})")]
    IssuedAfterExpiry { iat: Timestamp, exp: Timestamp },
    #[error("feature {name:?} has value {value}; feature values must be zero or positive")]
    NegativeFeature { name: String, value: i64 },
    #[error("feature name {0:?} is invalid: use 1 to 64 characters of a-z 0-9 _")]
    FeatureName(String),
    #[error("the license has {0} features; at most {MAX_FEATURES} are allowed")]
    TooManyFeatures(usize),
    #[error("the license is bound to {0} deployments; at most {MAX_DEPLOYMENT_IDS} are allowed")]
    TooManyDeployments(usize),
    #[error("{0:?} is longer than 128 characters")]
    TooLong(&'static str),
    #[error(
        "the check-in policy needs an interval above zero and an offline window at least as long"
    )]
    CheckinPolicy,
    #[error("min_product_version {0:?} is not a version such as 2.15.0")]
    ProductVersion(String),
    /// The claims could not be encoded as a token (not expected to happen: every claim
    /// serializes).
    #[error("the license could not be encoded as a token: {0}")]
    Encode(String),
}

impl LicenseClaims {
    /// Checks the claims for consistency; signing and verification both call it.
    pub fn validate(&self) -> Result<(), ClaimsError> {
        if self.version != FORMAT_VERSION {
            return Err(ClaimsError::UnsupportedVersion(self.version));
        }
        if self.iss.trim().is_empty() || self.iss.len() > 256 {
            return Err(ClaimsError::Issuer);
        }
        if self.nbf > self.license_expires {
            return Err(ClaimsError::StartsAfterEnd {
                nbf: self.nbf,
                license_expires: self.license_expires,
            });
        }
        if self.license_expires > self.exp {
            return Err(ClaimsError::GraceBeforeTerm {
                license_expires: self.license_expires,
                exp: self.exp,
            });
        }
        if self.iat > self.exp {
            return Err(ClaimsError::IssuedAfterExpiry {
                iat: self.iat,
                exp: self.exp,
            });
        }
        if self.account_type.len() > 128 {
            return Err(ClaimsError::TooLong("account_type"));
        }
        if self.account_id.len() > 128 {
            return Err(ClaimsError::TooLong("account_id"));
        }
        if self.features.len() > MAX_FEATURES {
            return Err(ClaimsError::TooManyFeatures(self.features.len()));
        }
        for (name, &value) in &self.features {
            let name_ok = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !name_ok {
                return Err(ClaimsError::FeatureName(name.clone()));
            }
            if value < 0 {
                return Err(ClaimsError::NegativeFeature {
                    name: name.clone(),
                    value,
                });
            }
        }
        if self.deployment_ids.len() > MAX_DEPLOYMENT_IDS {
            return Err(ClaimsError::TooManyDeployments(self.deployment_ids.len()));
        }
        if let Some(policy) = self.checkin
            && (policy.interval_secs == 0 || policy.max_offline_secs < policy.interval_secs)
        {
            return Err(ClaimsError::CheckinPolicy);
        }
        if let Some(version) = &self.min_product_version
            && ProductVersion::parse(version).is_none()
        {
            return Err(ClaimsError::ProductVersion(version.clone()));
        }
        Ok(())
    }

    /// The seat count, when the license sets one.
    pub fn user_limit(&self) -> Option<i64> {
        self.features.get(crate::features::USER_LIMIT).copied()
    }

    /// Whether the license is bound to particular deployments.
    pub fn is_bound(&self) -> bool {
        !self.deployment_ids.is_empty()
    }
}

/// A product version `MAJOR.MINOR.PATCH`, optionally with a leading `v` and a pre-release or
/// build suffix (ignored for comparison, as the trial rule compares releases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProductVersion {
    /// Major.
    pub major: u64,
    /// Minor.
    pub minor: u64,
    /// Patch.
    pub patch: u64,
}

impl ProductVersion {
    /// Parses `2.15.0`, `v2.15.0`, `2.15.0-rc.1+abc`; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.strip_prefix('v').unwrap_or(text);
        if text.len() > 128 {
            return None;
        }
        let core = text.split(['-', '+']).next()?;
        let mut parts = core.split('.');
        let mut number = || -> Option<u64> {
            let part = parts.next()?;
            if part.is_empty() || part.len() > 9 || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let version = Self {
            major: number()?,
            minor: number()?,
            patch: number()?,
        };
        parts.next().is_none().then_some(version)
    }
}

impl fmt::Display for ProductVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Deserializes a map, refusing duplicate keys: JSON parsers disagree on which duplicate
/// wins, and a license must mean one thing to every reader.
fn unique_keys<'de, D>(deserializer: D) -> Result<BTreeMap<String, i64>, D::Error>
where
    D: Deserializer<'de>,
{
    struct UniqueKeys;
    impl<'de> Visitor<'de> for UniqueKeys {
        type Value = BTreeMap<String, i64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of feature name to integer")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((key, value)) = map.next_entry::<String, i64>()? {
                if out.len() >= MAX_FEATURES {
                    return Err(serde::de::Error::custom(format!(
                        "more than {MAX_FEATURES} features"
                    )));
                }
                if out.insert(key.clone(), value).is_some() {
                    return Err(serde::de::Error::custom(format!(
                        "duplicate feature {key:?}"
                    )));
                }
            }
            Ok(out)
        }
    }
    deserializer.deserialize_map(UniqueKeys)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> LicenseClaims {
        LicenseClaims {
            iss: "licensor".into(),
            sub: Email::parse("admin@example.com").unwrap(),
            jti: uuid::Uuid::from_u128(0x1234),
            iat: Timestamp::from_unix(1_780_000_000).unwrap(),
            nbf: Timestamp::from_unix(1_780_000_000).unwrap(),
            license_expires: Timestamp::from_unix(1_790_000_000).unwrap(),
            exp: Timestamp::from_unix(1_791_000_000).unwrap(),
            version: FORMAT_VERSION,
            account_type: "licensor".into(),
            account_id: "acme".into(),
            deployment_ids: vec![],
            trial: false,
            feature_set: FeatureSet::Enterprise,
            features: BTreeMap::from([("user_limit".into(), 100)]),
            require_telemetry: false,
            evaluation: false,
            checkin: None,
            min_product_version: None,
            sequence: 0,
        }
    }

    #[test]
    fn sample_is_valid_and_round_trips() {
        let claims = sample();
        claims.validate().unwrap();
        let json = serde_json::to_string(&claims).unwrap();
        assert_eq!(
            serde_json::from_str::<LicenseClaims>(&json).unwrap(),
            claims
        );
        assert!(
            !json.contains("evaluation"),
            "extensions are omitted when unset: {json}"
        );
    }

    #[test]
    fn refuses_inconsistent_terms() {
        let mut c = sample();
        c.nbf = c.license_expires.add_seconds(1);
        assert!(matches!(
            c.validate(),
            Err(ClaimsError::StartsAfterEnd { .. })
        ));
        let mut c = sample();
        c.exp = c.license_expires.add_seconds(-1);
        assert!(matches!(
            c.validate(),
            Err(ClaimsError::GraceBeforeTerm { .. })
        ));
        let mut c = sample();
        c.version = 4;
        assert_eq!(c.validate(), Err(ClaimsError::UnsupportedVersion(4)));
        let mut c = sample();
        c.features.insert("user_limit".into(), -1);
        assert!(matches!(
            c.validate(),
            Err(ClaimsError::NegativeFeature { .. })
        ));
        let mut c = sample();
        c.features.insert("Bad Name".into(), 1);
        assert!(matches!(c.validate(), Err(ClaimsError::FeatureName(_))));
        let mut c = sample();
        c.checkin = Some(CheckinPolicy {
            interval_secs: 100,
            max_offline_secs: 10,
        });
        assert_eq!(c.validate(), Err(ClaimsError::CheckinPolicy));
        let mut c = sample();
        c.min_product_version = Some("two".into());
        assert!(matches!(c.validate(), Err(ClaimsError::ProductVersion(_))));
    }

    #[test]
    fn refuses_wrong_types_missing_claims_and_duplicates() {
        let json = serde_json::to_value(sample()).unwrap();
        let mut missing = json.clone();
        missing.as_object_mut().unwrap().remove("exp");
        let err = serde_json::from_value::<LicenseClaims>(missing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `exp`"), "{err}");
        let mut wrong = json.clone();
        wrong["trial"] = serde_json::json!("yes");
        assert!(serde_json::from_value::<LicenseClaims>(wrong).is_err());
        let mut float = json.clone();
        float["exp"] = serde_json::json!(1.5);
        assert!(serde_json::from_value::<LicenseClaims>(float).is_err());
        let mut negative_time = json;
        negative_time["iat"] = serde_json::json!(-5);
        assert!(serde_json::from_value::<LicenseClaims>(negative_time).is_err());

        let text = serde_json::to_string(&sample()).unwrap().replace(
            r#""features":{"user_limit":100}"#,
            r#""features":{"user_limit":1,"user_limit":100}"#,
        );
        let err = serde_json::from_str::<LicenseClaims>(&text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("duplicate feature"), "{err}");
    }

    #[test]
    fn product_versions() {
        assert_eq!(
            ProductVersion::parse("v2.15.3").unwrap().to_string(),
            "2.15.3"
        );
        assert!(ProductVersion::parse("2.15.0-rc.1+abc").is_some());
        assert!(ProductVersion::parse("2.15").is_none());
        assert!(ProductVersion::parse("2.15.0.1").is_none());
        assert!(ProductVersion::parse("2.x.0").is_none());
        assert!(ProductVersion::parse("2.15.0").unwrap() > ProductVersion::parse("2.9.9").unwrap());
    }
}
