//! What an installed store holds, whatever holds it (a Secret's data, a directory's files),
//! in the layout license-core defines for every reader ([`license_core::EntryKind`]): one
//! `license-<id>.jwt` per license, `deployment-id`, and the check-in receipt, revocation list
//! and time high-water mark, which are kept as they are. Anything else is not ours, and is
//! refused rather than overwritten or ignored.

use license_core::{DEPLOYMENT_ID_KEY, DeploymentId, EntryKind, Installed, LicenseId, license_key};
use std::collections::BTreeMap;
use std::fmt;

/// Data in a store that coder-license did not write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorruptData {
    /// An entry that is none of the layout's.
    #[error(
        "{store} holds {key:?}, which is not a license (license-<id>.jwt) or anything else coder-license writes: move it elsewhere, or keep licenses apart with --secret-name / another --file-store"
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

/// The entries of a store. Every value is kept byte for byte, so that rewriting a store never
/// alters an entry it did not mean to change.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Contents {
    /// Each license token by license id.
    pub licenses: BTreeMap<LicenseId, Vec<u8>>,
    /// This deployment's id, when stored.
    pub deployment_id: Option<DeploymentId>,
    /// The other entries of the layout (receipt, revocation list, high-water mark), by name.
    pub others: BTreeMap<String, Vec<u8>>,
}

/// Names entries only: tokens are never printed in logs or debug output.
impl fmt::Debug for Contents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contents")
            .field("licenses", &self.licenses.keys().collect::<Vec<_>>())
            .field("deployment_id", &self.deployment_id)
            .field("others", &self.others.keys().collect::<Vec<_>>())
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
            match EntryKind::of(&key) {
                Some(EntryKind::License(id)) => {
                    contents.licenses.insert(id, value);
                }
                Some(EntryKind::DeploymentId) => {
                    let text = String::from_utf8_lossy(&value);
                    let id = DeploymentId::parse(text.trim()).map_err(|_| {
                        CorruptData::BadDeploymentId {
                            store: store.to_owned(),
                            value: text.chars().take(64).collect(),
                        }
                    })?;
                    contents.deployment_id = Some(id);
                }
                Some(EntryKind::Receipt | EntryKind::Revocations | EntryKind::HighWaterMark) => {
                    contents.others.insert(key, value);
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
        let mut entries = self.others.clone();
        entries.extend(
            self.licenses
                .iter()
                .map(|(id, token)| (license_key(*id), token.clone())),
        );
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
        self.licenses.is_empty() && self.deployment_id.is_none() && self.others.is_empty()
    }

    /// The entries as the control plane reads them, for [`license_core::evaluate`].
    pub fn installed(&self) -> Installed {
        Installed::from_entries(self.entries())
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
