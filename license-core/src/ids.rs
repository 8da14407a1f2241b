//! Domain values parsed at the edge: email addresses, deployment ids, license ids.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An email address as licenses and the licensor use it: checked for shape, not deliverability.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Text that is not a usable email address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an email address such as admin@example.com")]
pub struct InvalidEmail(pub String);

impl Email {
    /// Accepts `local@domain` with a dotted domain, at most 254 characters, no spaces or
    /// control characters, and no quoting or comments.
    pub fn parse(text: &str) -> Result<Self, InvalidEmail> {
        let bad = || InvalidEmail(text.to_owned());
        if text.len() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = text.rsplit_once('@').ok_or_else(bad)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains(['@', '"', '(', ')', ',', ':', ';', '<', '>', '[', '\\', ']'])
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let domain_ok = domain.len() >= 3
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(bad())
        }
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain, lowercased.
    pub fn domain(&self) -> String {
        self.0
            .rsplit_once('@')
            .map(|(_, d)| d.to_lowercase())
            .unwrap_or_default()
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidEmail;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A deployment's id: what licenses are bound to and what check-ins report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DeploymentId(String);

/// Text that is not a usable deployment id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a deployment id: use 1 to 128 characters of A-Z a-z 0-9 . _ : -")]
pub struct InvalidDeploymentId(pub String);

impl DeploymentId {
    /// Accepts 1 to 128 characters of `A-Z a-z 0-9 . _ : -` (a UUID, as Coder uses, fits).
    pub fn parse(text: &str) -> Result<Self, InvalidDeploymentId> {
        let ok = !text.is_empty()
            && text.len() <= 128
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidDeploymentId(text.to_owned()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DeploymentId {
    type Error = InvalidDeploymentId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DeploymentId> for String {
    fn from(value: DeploymentId) -> Self {
        value.0
    }
}

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A license's id (`jti`), a UUID.
pub type LicenseId = uuid::Uuid;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for good in [
            "a@example.com",
            "first.last+tag@sub.example.co.uk",
            "ü@bücher.de",
        ] {
            assert!(Email::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a@.com",
            "a b@example.com",
            "a@example..com",
            "a@-x.com",
            ".a@example.com",
            "a@@example.com",
            "a@exa_mple.com",
            "\"a\"@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Email::parse("A@Example.COM").unwrap().domain(),
            "example.com"
        );
    }

    #[test]
    fn deployment_ids() {
        assert!(DeploymentId::parse("7c6d1a2e-3f4b-4c5d-8e9f-0a1b2c3d4e5f").is_ok());
        assert!(DeploymentId::parse("cluster:ns").is_ok());
        for bad in ["", "a b", "a/b", &"x".repeat(129)] {
            assert!(DeploymentId::parse(bad).is_err());
        }
    }
}
