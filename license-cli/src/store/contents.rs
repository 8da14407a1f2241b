//! What an installed store holds, whatever holds it (a Secret's data, a directory's files),
//! in the layout license-core defines for every reader ([`license_core::EntryKind`]): one
//! `license-<id>.jwt` per license, `deployment-id`, and the check-in receipt, revocation list
//! and time high-water mark, which are kept as they are. Anything else is not ours, and is
//! refused rather than overwritten or ignored.

use license_core::{
    DEPLOYMENT_ID_KEY, DeploymentId, EntryKind, Installed, LicenseId, REMOVED_KEY, license_key,
};
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

/// How many removed licenses a store remembers.
pub const MAX_REMOVED: usize = 256;

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
                Some(
                    EntryKind::Receipt
                    | EntryKind::Revocations
                    | EntryKind::HighWaterMark
                    | EntryKind::Removed,
                ) => {
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

    /// The licenses the admin removed on purpose (`coder-license remove`), oldest first: a
    /// license sync does not install them again. Lines that are not ids are skipped.
    pub fn removed(&self) -> Vec<LicenseId> {
        let text = self
            .others
            .get(REMOVED_KEY)
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            .unwrap_or_default();
        text.lines()
            .filter_map(|line| LicenseId::try_parse(line.trim()).ok())
            .collect()
    }

    /// Records (or, with `removed` false, forgets) that license `id` was removed on purpose.
    /// The record keeps the latest [`MAX_REMOVED`] ids, and goes when nothing else is stored.
    pub fn set_removed(&mut self, id: LicenseId, removed: bool) {
        let mut ids = self.removed();
        ids.retain(|other| *other != id);
        if removed {
            ids.push(id);
        }
        let skip = ids.len().saturating_sub(MAX_REMOVED);
        let text: String = ids
            .iter()
            .skip(skip)
            .map(|id| format!("{}\n", id.hyphenated()))
            .collect();
        self.others.remove(REMOVED_KEY);
        if !text.is_empty() && !self.is_empty() {
            self.others
                .insert(REMOVED_KEY.to_owned(), text.into_bytes());
        }
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
    fn removals_are_recorded_bounded_and_forgotten() {
        let mut contents = Contents {
            deployment_id: Some(DeploymentId::parse("dep-1").unwrap()),
            ..Contents::default()
        };
        let a = LicenseId::from_u128(1);
        let b = LicenseId::from_u128(2);
        contents.set_removed(a, true);
        contents.set_removed(b, true);
        contents.set_removed(a, true);
        assert_eq!(contents.removed(), [b, a]);
        let reread = Contents::from_entries("dir d", contents.entries()).unwrap();
        assert_eq!(reread.removed(), [b, a]);
        contents.set_removed(b, false);
        assert_eq!(contents.removed(), [a]);
        for n in 0..(MAX_REMOVED as u128 + 10) {
            contents.set_removed(LicenseId::from_u128(100 + n), true);
        }
        assert_eq!(contents.removed().len(), MAX_REMOVED);
        assert!(!contents.removed().contains(&a));
        // Nothing else stored: no record either, so an emptied store can still be deleted.
        let mut empty = Contents::default();
        empty.set_removed(a, true);
        assert!(empty.is_empty());
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
