//! What an installed store holds, whatever holds it (a Secret's data, a directory's files):
//! one entry per license, `license-<id>.jwt`, and this deployment's id, `deployment-id`.
//! Anything else is not ours, and is refused rather than overwritten or ignored.

use license_core::{DeploymentId, InstalledLicense, LicenseId, Timestamp, Verifier};
use std::collections::BTreeMap;
use std::fmt;

/// The entry that holds this deployment's id.
pub const DEPLOYMENT_ID_KEY: &str = "deployment-id";
const LICENSE_PREFIX: &str = "license-";
const LICENSE_SUFFIX: &str = ".jwt";

/// The entry name of license `id`: `license-<id>.jwt`.
pub fn license_key(id: LicenseId) -> String {
    format!("{LICENSE_PREFIX}{id}{LICENSE_SUFFIX}")
}

/// Data in a store that coder-license did not write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorruptData {
    /// An entry that is neither a license nor the deployment id.
    #[error(
        "{store} holds {key:?}, which is not a license (license-<id>.jwt) or the deployment id: coder-license did not write it; move it elsewhere, or keep licenses apart with --secret-name / another --file-store"
    )]
    UnknownEntry {
        /// Where.
        store: String,
        /// The entry's name.
        key: String,
    },
    /// The deployment id entry is not an id.
    #[error(
        "{store} holds a deployment-id that is not a deployment id ({value:?}); fix or delete that entry"
    )]
    BadDeploymentId {
        /// Where.
        store: String,
        /// What it holds (at most 64 characters of it).
        value: String,
    },
}

/// The licenses and deployment id of a store. Tokens are kept byte for byte, so that
/// rewriting a store never alters a license it did not mean to change.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Contents {
    /// Each license token by license id.
    pub licenses: BTreeMap<LicenseId, Vec<u8>>,
    /// This deployment's id, when stored.
    pub deployment_id: Option<DeploymentId>,
}

/// Lists ids only: tokens are never printed in logs or debug output.
impl fmt::Debug for Contents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contents")
            .field("licenses", &self.licenses.keys().collect::<Vec<_>>())
            .field("deployment_id", &self.deployment_id)
            .finish()
    }
}

impl Contents {
    /// Parses the entries of `store` (named in errors).
    pub fn from_entries(
        store: &str,
        entries: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> Result<Self, CorruptData> {
        let mut contents = Contents::default();
        for (key, value) in entries {
            if key == DEPLOYMENT_ID_KEY {
                let text = String::from_utf8_lossy(&value);
                let id =
                    DeploymentId::parse(text.trim()).map_err(|_| CorruptData::BadDeploymentId {
                        store: store.to_owned(),
                        value: text.chars().take(64).collect(),
                    })?;
                contents.deployment_id = Some(id);
                continue;
            }
            let id = key
                .strip_prefix(LICENSE_PREFIX)
                .and_then(|rest| rest.strip_suffix(LICENSE_SUFFIX))
                .and_then(|id| LicenseId::try_parse(id).ok())
                .filter(|id| license_key(*id) == key);
            match id {
                Some(id) => {
                    contents.licenses.insert(id, value);
                }
                None => {
                    return Err(CorruptData::UnknownEntry {
                        store: store.to_owned(),
                        key,
                    });
                }
            }
        }
        Ok(contents)
    }

    /// The entries to store, by name.
    pub fn entries(&self) -> BTreeMap<String, Vec<u8>> {
        let mut entries: BTreeMap<String, Vec<u8>> = self
            .licenses
            .iter()
            .map(|(id, token)| (license_key(*id), token.clone()))
            .collect();
        if let Some(id) = &self.deployment_id {
            entries.insert(
                DEPLOYMENT_ID_KEY.to_owned(),
                id.as_str().as_bytes().to_vec(),
            );
        }
        entries
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.licenses.is_empty() && self.deployment_id.is_none()
    }

    /// Each license verified at `now`, named by its entry.
    pub fn verify(&self, verifier: &Verifier, now: Timestamp) -> Vec<InstalledLicense> {
        self.licenses
            .iter()
            .map(|(id, token)| InstalledLicense {
                name: license_key(*id),
                // Invalid UTF-8 becomes replacement characters, which the verifier refuses.
                verdict: verifier.verify(&String::from_utf8_lossy(token), now),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(key: &str, value: &str) -> (String, Vec<u8>) {
        (key.to_owned(), value.as_bytes().to_vec())
    }

    #[test]
    fn round_trip() {
        let id = LicenseId::from_u128(7);
        let contents = Contents::from_entries(
            "secret a/b",
            [
                entry(&license_key(id), "token"),
                entry(DEPLOYMENT_ID_KEY, "dep-1\n"),
            ],
        )
        .unwrap();
        assert_eq!(contents.licenses[&id], b"token");
        assert_eq!(contents.deployment_id.as_ref().unwrap().as_str(), "dep-1");
        assert_eq!(
            contents.entries().keys().collect::<Vec<_>>(),
            [
                "deployment-id",
                "license-00000000-0000-0000-0000-000000000007.jwt"
            ]
        );
        assert!(!format!("{contents:?}").contains("token"));
    }

    #[test]
    fn foreign_entries_are_refused() {
        for key in [
            "notes.txt",
            "license-x.jwt",
            "license-00000000-0000-0000-0000-00000000000A.jwt",
            "license-00000000000000000000000000000007.jwt",
        ] {
            let err = Contents::from_entries("secret a/b", [entry(key, "x")]).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
        let err = Contents::from_entries("secret a/b", [entry(DEPLOYMENT_ID_KEY, "no spaces")])
            .unwrap_err();
        assert!(matches!(err, CorruptData::BadDeploymentId { .. }));
    }
}
