//! What a deployment has installed, as the control plane reads it at startup: the entries of
//! the `coder-license` Secret (or the files of a `--file-store` directory), verified and
//! judged in one call.
//!
//! The layout is shared by the CLI that writes it and every control plane that reads it:
//! `license-<id>.jwt` per license, `checkin-receipt.jwt`, `revocations.jwt`, `deployment-id`,
//! and the time high-water mark the caller persists (`time-high-water-mark`, or the Secret
//! annotation [`HIGH_WATER_MARK_ANNOTATION`]) so that a clock turned back is detected across
//! restarts.

use crate::entitlements::{Context, Entitlements, Evidence, InstalledLicense};
use crate::ids::{DeploymentId, LicenseId};
use crate::keyring::Keyring;
use crate::license::{DEFAULT_MAX_CLOCK_SKEW_SECS, Verifier};
use crate::receipts::{
    VerifiedReceipt, VerifiedRevocationList, verify_receipt, verify_revocation_list,
};
use crate::timestamp::Timestamp;

/// The entry holding this deployment's id.
pub const DEPLOYMENT_ID_KEY: &str = "deployment-id";
/// The entry holding the latest check-in receipt.
pub const RECEIPT_KEY: &str = "checkin-receipt.jwt";
/// The entry holding the latest revocation list.
pub const REVOCATIONS_KEY: &str = "revocations.jwt";
/// The entry (file store) holding the latest time seen, as RFC 3339.
pub const HIGH_WATER_MARK_KEY: &str = "time-high-water-mark";
/// The Secret annotation holding the latest time seen, as RFC 3339.
pub const HIGH_WATER_MARK_ANNOTATION: &str = "licensor.coder.com/time-high-water-mark";
/// The entry (one license id a line) naming the licenses the admin removed on purpose: a
/// license sync (`coder-license checkin`) never installs them again.
pub const REMOVED_KEY: &str = "removed-licenses";
/// The prefix of license entries.
pub const LICENSE_PREFIX: &str = "license-";

/// The entry name of license `id`: `license-<id>.jwt`.
pub fn license_key(id: LicenseId) -> String {
    format!("{LICENSE_PREFIX}{}.jwt", id.hyphenated())
}

/// What an entry of the store is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A license.
    License(LicenseId),
    /// The check-in receipt.
    Receipt,
    /// The revocation list.
    Revocations,
    /// The deployment id.
    DeploymentId,
    /// The time high-water mark.
    HighWaterMark,
    /// The licenses removed on purpose.
    Removed,
}

impl EntryKind {
    /// Classifies an entry name; `None` for a name coder-license never writes.
    pub fn of(key: &str) -> Option<Self> {
        match key {
            RECEIPT_KEY => Some(Self::Receipt),
            REVOCATIONS_KEY => Some(Self::Revocations),
            DEPLOYMENT_ID_KEY => Some(Self::DeploymentId),
            HIGH_WATER_MARK_KEY => Some(Self::HighWaterMark),
            REMOVED_KEY => Some(Self::Removed),
            _ => {
                let id = key.strip_prefix(LICENSE_PREFIX)?.strip_suffix(".jwt")?;
                let id = uuid::Uuid::try_parse(id).ok()?;
                // Only the canonical spelling, so one license has one entry name.
                (license_key(id) == key).then_some(Self::License(id))
            }
        }
    }
}

/// The entries of a store, read but not yet judged.
#[derive(Debug, Clone, Default)]
pub struct Installed {
    /// `(entry name, token)` of each license.
    pub licenses: Vec<(String, String)>,
    /// The check-in receipt token.
    pub receipt: Option<String>,
    /// The revocation list token.
    pub revocations: Option<String>,
    /// The stored deployment id.
    pub deployment_id: Option<String>,
    /// The stored high-water mark (file store).
    pub high_water_mark: Option<String>,
    /// Entries that are none of these: reported, never used.
    pub foreign: Vec<String>,
}

impl Installed {
    /// Sorts `(name, bytes)` entries (a Secret's data, a directory's files) by kind. Bytes
    /// that are not UTF-8 are kept as replacement characters, which the verifier refuses.
    pub fn from_entries<I, K, V>(entries: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<[u8]>,
    {
        let mut installed = Self::default();
        for (key, value) in entries {
            let key = key.as_ref();
            let text = String::from_utf8_lossy(value.as_ref()).trim().to_owned();
            match EntryKind::of(key) {
                Some(EntryKind::License(_)) => installed.licenses.push((key.to_owned(), text)),
                Some(EntryKind::Receipt) => installed.receipt = Some(text),
                Some(EntryKind::Revocations) => installed.revocations = Some(text),
                Some(EntryKind::DeploymentId) => installed.deployment_id = Some(text),
                Some(EntryKind::HighWaterMark) => installed.high_water_mark = Some(text),
                // The CLI's own bookkeeping: nothing a control plane judges.
                Some(EntryKind::Removed) => {}
                None => installed.foreign.push(key.to_owned()),
            }
        }
        installed.licenses.sort();
        installed
    }
}

/// Whether `incoming` may be stored over the installed revocation list `installed` (its
/// token, if any), judged at `now`: only a newer list may (a higher sequence, or the same
/// sequence signed later, [`VerifiedRevocationList::supersedes`]); an installed list that no
/// longer verifies is replaced. Every writer of the store (`coder-license checkin`, a control
/// plane fetching lists itself) asks this first, so a list never goes back.
pub fn may_store_revocations(
    installed: Option<&str>,
    incoming: &VerifiedRevocationList,
    keyring: &Keyring,
    now: Timestamp,
) -> bool {
    let current = installed.and_then(|token| {
        verify_revocation_list(token, keyring, now, DEFAULT_MAX_CLOCK_SKEW_SECS).ok()
    });
    incoming.supersedes(current.as_ref())
}

/// Whether `incoming` may be stored over the installed check-in receipt `installed`, judged
/// at `now`: never over a newer receipt for the same deployment
/// ([`VerifiedReceipt::replaces`]); an installed receipt that no longer verifies is replaced.
pub fn may_store_receipt(
    installed: Option<&str>,
    incoming: &VerifiedReceipt,
    keyring: &Keyring,
    now: Timestamp,
) -> bool {
    let current = installed
        .and_then(|token| verify_receipt(token, keyring, now, DEFAULT_MAX_CLOCK_SKEW_SECS).ok());
    incoming.replaces(current.as_ref())
}

/// What a control plane learns at startup.
#[derive(Debug, Clone)]
pub struct Startup {
    /// What it is entitled to (warnings and errors included).
    pub entitlements: Entitlements,
    /// The deployment id it judged for.
    pub deployment_id: Option<DeploymentId>,
    /// The verified receipt, when one was installed and checked.
    pub receipt: Option<VerifiedReceipt>,
    /// The verified revocation list, when one was installed and checked.
    pub revocations: Option<VerifiedRevocationList>,
}

impl Startup {
    /// The latest time seen: persist it (RFC 3339) and pass it back next start.
    pub fn high_water_mark(&self) -> Timestamp {
        self.entitlements.high_water_mark
    }
}

/// Verifies everything installed and computes the entitlements, at `now` (read by the
/// caller), for `active_users` when known. The deployment id comes from the store unless
/// `deployment_id` overrides it; the high-water mark from the store unless `high_water_mark`
/// gives one (a Secret annotation). Never fails: every problem is an error or a warning in
/// the entitlements.
pub fn evaluate(
    installed: &Installed,
    keyring: &Keyring,
    now: Timestamp,
    deployment_id: Option<DeploymentId>,
    high_water_mark: Option<Timestamp>,
    active_users: Option<u64>,
) -> Startup {
    let skew = DEFAULT_MAX_CLOCK_SKEW_SECS;
    let verifier = Verifier::new(keyring.clone());
    let mut notes = Vec::new();
    let deployment_id = deployment_id.or_else(|| {
        let stored = installed.deployment_id.as_deref()?;
        match DeploymentId::parse(stored) {
            Ok(id) => Some(id),
            Err(e) => {
                notes.push(format!("the stored deployment id is unusable ({e}); licenses bound to deployments cannot be checked"));
                None
            }
        }
    });
    let high_water_mark = high_water_mark.or_else(|| {
        let stored = installed.high_water_mark.as_deref()?;
        match Timestamp::parse_rfc3339(stored) {
            Ok(mark) => Some(mark),
            Err(_) => {
                notes.push(format!(
                    "the stored time high-water mark {stored:?} is unreadable and was ignored"
                ));
                None
            }
        }
    });
    let licenses: Vec<InstalledLicense> = installed
        .licenses
        .iter()
        .map(|(name, token)| InstalledLicense {
            name: name.clone(),
            verdict: verifier.verify(token, now),
        })
        .collect();
    let receipt = installed.receipt.as_deref().and_then(|token| {
        match verify_receipt(token, keyring, now, skew) {
            Ok(receipt) => Some(receipt),
            Err(e) => {
                notes.push(format!("the installed check-in receipt is ignored: {e}"));
                None
            }
        }
    });
    if let (Some(r), Some(here)) = (&receipt, &deployment_id)
        && &r.claims().deployment_id != here
    {
        notes.push(format!(
            "the installed check-in receipt is for deployment {}, not this one ({here}); it is ignored",
            r.claims().deployment_id
        ));
    }
    let revocations =
        installed.revocations.as_deref().and_then(|token| {
            match verify_revocation_list(token, keyring, now, skew) {
                Ok(list) => Some(list),
                Err(e) => {
                    notes.push(format!("the installed revocation list is ignored: {e}"));
                    None
                }
            }
        });
    for key in &installed.foreign {
        notes.push(format!(
            "entry {key:?} is not something coder-license writes; it was ignored"
        ));
    }
    let context = Context {
        now,
        deployment_id: deployment_id.as_ref(),
        active_users,
        high_water_mark,
        max_clock_skew_secs: skew,
    };
    let evidence = Evidence {
        receipt: receipt.as_ref(),
        revocations: revocations.as_ref(),
    };
    let mut entitlements = Entitlements::compute_with(&licenses, &context, &evidence);
    entitlements.warnings.extend(notes);
    Startup {
        entitlements,
        deployment_id,
        receipt,
        revocations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_classified_strictly() {
        let id = uuid::Uuid::from_u128(7);
        assert_eq!(
            EntryKind::of(&license_key(id)),
            Some(EntryKind::License(id))
        );
        assert_eq!(
            EntryKind::of("checkin-receipt.jwt"),
            Some(EntryKind::Receipt)
        );
        assert_eq!(
            EntryKind::of("revocations.jwt"),
            Some(EntryKind::Revocations)
        );
        assert_eq!(
            EntryKind::of("deployment-id"),
            Some(EntryKind::DeploymentId)
        );
        for foreign in [
            "license-x.jwt",
            "license-00000000-0000-0000-0000-00000000000A.jwt",
            "license-00000000000000000000000000000007.jwt",
            "notes.txt",
        ] {
            assert_eq!(EntryKind::of(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn nothing_installed_is_an_error_not_a_crash() {
        let installed = Installed::from_entries([("stray", b"x".as_slice())]);
        assert_eq!(installed.foreign, ["stray"]);
        let startup = evaluate(
            &installed,
            &Keyring::empty(),
            Timestamp::from_unix(1_800_000_000).unwrap(),
            None,
            None,
            None,
        );
        assert!(!startup.entitlements.is_valid());
        assert!(
            startup
                .entitlements
                .warnings
                .iter()
                .any(|w| w.contains("stray"))
        );
    }
}
