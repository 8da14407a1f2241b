//! Signed check-in receipts and revocation lists: what the licensor tells a deployment.
//!
//! Both are compact JWS signed by the licensor's key, like licenses, but with a JOSE `typ` of
//! their own and claims a license does not have: a receipt cannot pass for a license, a
//! license cannot pass for a receipt, and a revocation list is neither. Their claims are
//! read only from the verified values made here.

use crate::ids::{DeploymentId, LicenseId};
use crate::jws::{self, JwsError};
use crate::keyring::Keyring;
use crate::keys::{KeyId, SigningKey};
use crate::timestamp::Timestamp;
use serde::{Deserialize, Serialize};

/// The JOSE `typ` of a check-in receipt.
pub const RECEIPT_TYP: &str = "licensor-receipt+jwt";
/// The JOSE `typ` of a revocation list.
pub const REVOCATION_LIST_TYP: &str = "licensor-revocations+jwt";
/// The most licenses one receipt reports on.
pub const MAX_RECEIPT_LICENSES: usize = 256;
/// The most entries a revocation list holds.
pub const MAX_REVOKED: usize = 100_000;
/// How long a revoked license stays on the revocation list after its grace period ends
/// (`exp`): a day, more than the clock skew (`DEFAULT_MAX_CLOCK_SKEW_SECS`, 5 minutes) a
/// verifier allows a list's `iat`. A verifier that accepts a list signed at `iat` reads a
/// clock no earlier than `iat` minus that skew, so a license whose grace ended before
/// [`revocation_list_cutoff`]`(iat)` is past its grace there: `Entitlements` finds it
/// `Expired` and it grants nothing without the list (docs/license-format.md, "Revocation
/// lists"; `tests/revocation_pruning.rs`).
pub const REVOKED_LISTED_AFTER_GRACE_SECS: i64 = crate::timestamp::DAY;
const _: () = assert!(REVOKED_LISTED_AFTER_GRACE_SECS >= crate::DEFAULT_MAX_CLOCK_SKEW_SECS);

/// The earliest grace end (`exp`) of a revoked license that a revocation list signed at `iat`
/// must still name; a revoked license whose grace ended earlier is left off.
pub fn revocation_list_cutoff(iat: Timestamp) -> Timestamp {
    iat.add_seconds(-REVOKED_LISTED_AFTER_GRACE_SECS)
}
/// A nonce's maximum length.
pub const MAX_NONCE_LEN: usize = 128;

/// What the licensor knows of one license a deployment reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// Issued, not revoked, in its term (or grace period).
    Active,
    /// Revoked: it must stop granting.
    Revoked,
    /// Past its grace period.
    Expired,
    /// Not a license this licensor issued.
    Unknown,
    /// Bound to other deployments than the one checking in.
    BoundElsewhere,
    /// Replaced by a reissue or a trial extension: it never grants again, whatever happens
    /// to the license that replaced it.
    Superseded,
}

/// One license in a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptLicense {
    /// The license id.
    pub id: LicenseId,
    /// Its status at the licensor.
    pub status: ReceiptStatus,
}

/// The claims of a check-in receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptClaims {
    /// The licensor.
    pub iss: String,
    /// The receipt's id.
    pub jti: uuid::Uuid,
    /// The licensor's time when it answered the check-in.
    pub iat: Timestamp,
    /// The deployment that checked in.
    pub deployment_id: DeploymentId,
    /// Each license the deployment reported, with its status.
    pub licenses: Vec<ReceiptLicense>,
    /// The nonce the deployment sent, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// The claims of a revocation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationListClaims {
    /// The licensor.
    pub iss: String,
    /// When the list was signed.
    pub iat: Timestamp,
    /// Grows with every revocation: a list never replaces one with a higher sequence.
    pub sequence: u64,
    /// The revoked licenses.
    pub revoked: Vec<RevokedLicense>,
}

/// One revoked license.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokedLicense {
    /// The license id.
    pub id: LicenseId,
    /// When it was revoked.
    pub revoked_at: Timestamp,
}

/// Why a receipt or revocation list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArtefactError {
    /// Not a well-formed, correctly signed token of the expected type from a trusted key.
    #[error(transparent)]
    Token(#[from] JwsError),
    /// The signed payload does not have the expected claims.
    #[error("the {what} is malformed: {reason}")]
    Claims { what: &'static str, reason: String },
    /// A valid receipt that does not answer this deployment's check-in.
    #[error(
        "the check-in receipt is not an answer to this check-in: {0}; nothing from it may be used"
    )]
    NotThisCheckin(String),
    /// Signed later than the verifier's clock allows.
    #[error(
        "the {what} was signed at {iat}, but this machine's clock reads {now}: the clock is behind"
    )]
    IssuedInFuture {
        what: &'static str,
        iat: Timestamp,
        now: Timestamp,
    },
}

/// A receipt whose signature, type and claims checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    claims: ReceiptClaims,
    key_id: KeyId,
}

impl VerifiedReceipt {
    /// The claims.
    pub fn claims(&self) -> &ReceiptClaims {
        &self.claims
    }

    /// The signing key's id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// Checks that the receipt answers the check-in `deployment` sent with `nonce`: it names
    /// that deployment and echoes that nonce. A receipt for another deployment, or one asked
    /// for with another nonce (an old receipt replayed, another machine's answer), is refused.
    pub fn answers(&self, deployment: &DeploymentId, nonce: &str) -> Result<(), ArtefactError> {
        if &self.claims.deployment_id != deployment {
            return Err(ArtefactError::NotThisCheckin(format!(
                "it is for deployment {}, and this deployment is {deployment}",
                self.claims.deployment_id
            )));
        }
        if self.claims.nonce.as_deref() != Some(nonce) {
            return Err(ArtefactError::NotThisCheckin(
                "it does not echo the nonce this check-in sent".to_owned(),
            ));
        }
        Ok(())
    }

    /// Whether this receipt may replace `installed`: a receipt for this deployment never
    /// gives way to an older one (that would bring back a status the licensor has since
    /// changed, or an older check-in time).
    pub fn replaces(&self, installed: Option<&VerifiedReceipt>) -> bool {
        installed.is_none_or(|current| {
            current.claims.deployment_id != self.claims.deployment_id
                || self.claims.iat >= current.claims.iat
        })
    }

    /// The status the receipt gives a license, if it lists it.
    pub fn status_of(&self, id: LicenseId) -> Option<ReceiptStatus> {
        self.claims
            .licenses
            .iter()
            .find(|l| l.id == id)
            .map(|l| l.status)
    }
}

/// A revocation list whose signature, type and claims checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRevocationList {
    claims: RevocationListClaims,
    key_id: KeyId,
}

impl VerifiedRevocationList {
    /// The claims.
    pub fn claims(&self) -> &RevocationListClaims {
        &self.claims
    }

    /// The signing key's id.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The sequence number.
    pub fn sequence(&self) -> u64 {
        self.claims.sequence
    }

    /// When `id` was revoked, if it is on the list.
    pub fn revoked_at(&self, id: LicenseId) -> Option<Timestamp> {
        self.claims
            .revoked
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.revoked_at)
    }

    /// When the list was signed: how fresh the deployment's knowledge of revocations is.
    pub fn issued_at(&self) -> Timestamp {
        self.claims.iat
    }

    /// Whether this list may replace `installed`: a list with a higher sequence may; one with
    /// the same sequence only when signed later (the same revocations, known more recently);
    /// never a lower sequence (that would un-revoke licenses) or an older signing of the same.
    pub fn supersedes(&self, installed: Option<&VerifiedRevocationList>) -> bool {
        installed.is_none_or(|current| {
            (self.claims.sequence, self.claims.iat) > (current.claims.sequence, current.claims.iat)
        })
    }
}

/// Reports a payload that is not of the expected claims as this artefact's claims error.
fn claims_error(what: &'static str) -> impl Fn(JwsError) -> ArtefactError {
    move |error| match error {
        JwsError::Claims(reason) => ArtefactError::Claims { what, reason },
        other => ArtefactError::Token(other),
    }
}

fn check_time(
    what: &'static str,
    iat: Timestamp,
    now: Timestamp,
    skew: i64,
) -> Result<(), ArtefactError> {
    if iat > now.add_seconds(skew.max(0)) {
        return Err(ArtefactError::IssuedInFuture { what, iat, now });
    }
    Ok(())
}

/// Verifies a check-in receipt at `now`, tolerating `skew` seconds of clock difference.
pub fn verify_receipt(
    token: &str,
    keyring: &Keyring,
    now: Timestamp,
    skew: i64,
) -> Result<VerifiedReceipt, ArtefactError> {
    const WHAT: &str = "check-in receipt";
    let verified: jws::VerifiedJws<ReceiptClaims> =
        jws::verify(token, RECEIPT_TYP, keyring).map_err(claims_error(WHAT))?;
    let claims = verified.claims;
    if claims.licenses.len() > MAX_RECEIPT_LICENSES {
        return Err(ArtefactError::Claims {
            what: WHAT,
            reason: format!("more than {MAX_RECEIPT_LICENSES} licenses"),
        });
    }
    if claims
        .nonce
        .as_ref()
        .is_some_and(|n| n.len() > MAX_NONCE_LEN)
    {
        return Err(ArtefactError::Claims {
            what: WHAT,
            reason: "the nonce is too long".into(),
        });
    }
    check_time(WHAT, claims.iat, now, skew)?;
    Ok(VerifiedReceipt {
        claims,
        key_id: verified.kid,
    })
}

/// Verifies a revocation list at `now`, tolerating `skew` seconds of clock difference.
pub fn verify_revocation_list(
    token: &str,
    keyring: &Keyring,
    now: Timestamp,
    skew: i64,
) -> Result<VerifiedRevocationList, ArtefactError> {
    const WHAT: &str = "revocation list";
    let verified: jws::VerifiedJws<RevocationListClaims> = jws::verify_with_limit(
        token,
        REVOCATION_LIST_TYP,
        keyring,
        MAX_REVOCATION_LIST_BYTES,
    )
    .map_err(claims_error(WHAT))?;
    let claims = verified.claims;
    if claims.revoked.len() > MAX_REVOKED {
        return Err(ArtefactError::Claims {
            what: WHAT,
            reason: format!("more than {MAX_REVOKED} entries"),
        });
    }
    check_time(WHAT, claims.iat, now, skew)?;
    Ok(VerifiedRevocationList {
        claims,
        key_id: verified.kid,
    })
}

/// A revocation list is larger than a license: up to 12 MiB, room for [`MAX_REVOKED`] entries
/// (at most 72 bytes of JSON each, 96 in base64url; a list of `MAX_REVOKED` entries was 9.3 MB,
/// over the 8 MiB this once was, and every verifier refused it).
pub const MAX_REVOCATION_LIST_BYTES: usize = 12 * 1024 * 1024;

/// Signs receipt claims.
pub fn sign_receipt(claims: &ReceiptClaims, key: &SigningKey) -> Result<String, ArtefactError> {
    if claims.licenses.len() > MAX_RECEIPT_LICENSES
        || claims
            .nonce
            .as_ref()
            .is_some_and(|n| n.len() > MAX_NONCE_LEN)
    {
        return Err(ArtefactError::Claims {
            what: "check-in receipt",
            reason: "too many licenses or too long a nonce".into(),
        });
    }
    Ok(jws::sign(RECEIPT_TYP, claims, key)?)
}

/// Signs revocation list claims.
pub fn sign_revocation_list(
    claims: &RevocationListClaims,
    key: &SigningKey,
) -> Result<String, ArtefactError> {
    if claims.revoked.len() > MAX_REVOKED {
        return Err(ArtefactError::Claims {
            what: "revocation list",
            reason: format!("more than {MAX_REVOKED} entries"),
        });
    }
    let token = jws::sign(REVOCATION_LIST_TYP, claims, key)?;
    if token.len() > MAX_REVOCATION_LIST_BYTES {
        // Never published: every verifier would refuse it.
        return Err(ArtefactError::Claims {
            what: "revocation list",
            reason: format!(
                "the signed list is {} bytes, over the {MAX_REVOCATION_LIST_BYTES} a verifier accepts",
                token.len()
            ),
        });
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::tests::sample;
    use crate::license::{Verifier, sign_license};

    fn key() -> (SigningKey, Keyring) {
        let key = SigningKey::from_seed(&[21; 32]);
        let mut keyring = Keyring::empty();
        keyring.add(key.key_id().clone(), key.public_key()).unwrap();
        (key, keyring)
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix(seconds).unwrap()
    }

    fn receipt() -> ReceiptClaims {
        ReceiptClaims {
            iss: "licensor".into(),
            jti: uuid::Uuid::from_u128(7),
            iat: at(1_790_000_000),
            deployment_id: DeploymentId::parse("dep-1").unwrap(),
            licenses: vec![ReceiptLicense {
                id: uuid::Uuid::from_u128(1),
                status: ReceiptStatus::Active,
            }],
            nonce: Some("n-1".into()),
        }
    }

    /// The most entries a list may hold, each as long as an entry can be (the latest time
    /// there is), sign into a token every verifier accepts; and that list is found by id.
    #[test]
    fn a_full_revocation_list_fits_the_byte_limit() {
        let (key, keyring) = key();
        let last = Timestamp::from_unix(crate::MAX_UNIX_SECONDS).unwrap();
        let claims = RevocationListClaims {
            iss: "licensor".into(),
            iat: at(1_790_000_000),
            sequence: MAX_REVOKED as u64,
            revoked: (0..MAX_REVOKED as u128)
                .map(|i| RevokedLicense {
                    id: uuid::Uuid::from_u128(u128::MAX - i),
                    revoked_at: last,
                })
                .collect(),
        };
        let token = sign_revocation_list(&claims, &key).unwrap();
        assert!(token.len() > 8 * 1024 * 1024, "{} bytes", token.len());
        let list = verify_revocation_list(&token, &keyring, at(1_790_000_000), 300).unwrap();
        assert_eq!(list.claims().revoked.len(), MAX_REVOKED);
        assert_eq!(
            list.revoked_at(uuid::Uuid::from_u128(u128::MAX - 99_999)),
            Some(last)
        );
        assert_eq!(list.revoked_at(uuid::Uuid::from_u128(1)), None);
    }

    #[test]
    fn receipts_round_trip_and_refuse_tampering() {
        let (key, keyring) = key();
        let token = sign_receipt(&receipt(), &key).unwrap();
        let verified = verify_receipt(&token, &keyring, at(1_790_000_100), 300).unwrap();
        assert_eq!(verified.claims(), &receipt());
        assert_eq!(
            verified.status_of(uuid::Uuid::from_u128(1)),
            Some(ReceiptStatus::Active)
        );
        assert_eq!(verified.status_of(uuid::Uuid::from_u128(2)), None);
        let mut bytes = token.into_bytes();
        let middle = bytes.len() / 2;
        bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(verify_receipt(&tampered, &keyring, at(1_790_000_100), 300).is_err());
        let err = verify_receipt(
            &sign_receipt(&receipt(), &key).unwrap(),
            &keyring,
            at(1_789_000_000),
            300,
        )
        .unwrap_err();
        assert!(matches!(err, ArtefactError::IssuedInFuture { .. }));
    }

    #[test]
    fn a_receipt_and_a_license_cannot_stand_in_for_each_other() {
        let (key, keyring) = key();
        let license = sign_license(&sample(), &key).unwrap();
        let err = verify_receipt(&license, &keyring, at(1_790_000_000), 300).unwrap_err();
        assert_eq!(
            err,
            ArtefactError::Token(JwsError::WrongType {
                expected: RECEIPT_TYP,
                found: "JWT".into()
            })
        );
        let receipt = sign_receipt(&receipt(), &key).unwrap();
        let err = Verifier::new(keyring.clone())
            .verify(&receipt, at(1_790_000_000))
            .unwrap_err();
        assert!(err.to_string().contains("licensor-receipt+jwt"), "{err}");
        // Even with a forged `typ`, the claims do not fit: a receipt payload signed as a license.
        let as_license = jws::sign("JWT", &self::receipt(), &key).unwrap();
        assert!(
            Verifier::new(keyring.clone())
                .verify(&as_license, at(1_790_000_000))
                .is_err()
        );
        let as_receipt = jws::sign(RECEIPT_TYP, &sample(), &key).unwrap();
        assert!(matches!(
            verify_receipt(&as_receipt, &keyring, at(1_790_000_000), 300),
            Err(ArtefactError::Claims { .. })
        ));
        let list = sign_revocation_list(
            &RevocationListClaims {
                iss: "licensor".into(),
                iat: at(1),
                sequence: 1,
                revoked: vec![],
            },
            &key,
        )
        .unwrap();
        assert!(verify_receipt(&list, &keyring, at(1_790_000_000), 300).is_err());
    }

    #[test]
    fn revocation_lists_only_move_forward() {
        let (key, keyring) = key();
        let list = |sequence, age: i64| {
            let claims = RevocationListClaims {
                iss: "licensor".into(),
                iat: at(1_790_000_000 - age),
                sequence,
                revoked: vec![RevokedLicense {
                    id: uuid::Uuid::from_u128(9),
                    revoked_at: at(1_789_999_000),
                }],
            };
            verify_revocation_list(
                &sign_revocation_list(&claims, &key).unwrap(),
                &keyring,
                at(1_790_000_000),
                0,
            )
            .unwrap()
        };
        let (older, newer) = (list(4, 0), list(5, 0));
        assert!(newer.supersedes(Some(&older)));
        assert!(
            !older.supersedes(Some(&newer)),
            "a lower sequence never replaces a higher one"
        );
        assert!(!newer.supersedes(Some(&newer)));
        assert!(older.supersedes(None));
        assert_eq!(
            newer.revoked_at(uuid::Uuid::from_u128(9)),
            Some(at(1_789_999_000))
        );
        assert_eq!(newer.revoked_at(uuid::Uuid::from_u128(8)), None);
        // The same revocations signed later replace the older signing, never the reverse;
        // a lower sequence loses even when signed later.
        let (stale, fresh) = (list(5, 3600), list(5, 0));
        assert!(fresh.supersedes(Some(&stale)));
        assert!(!stale.supersedes(Some(&fresh)));
        assert_eq!(fresh.issued_at(), at(1_790_000_000));
        assert!(!list(4, 0).supersedes(Some(&stale)));
    }

    #[test]
    fn a_receipt_answers_only_the_checkin_that_asked_for_it() {
        let (key, keyring) = key();
        let signed = |claims: &ReceiptClaims| {
            verify_receipt(
                &sign_receipt(claims, &key).unwrap(),
                &keyring,
                at(1_790_000_100),
                300,
            )
            .unwrap()
        };
        let ours = signed(&receipt());
        let dep = DeploymentId::parse("dep-1").unwrap();
        assert_eq!(ours.answers(&dep, "n-1"), Ok(()));
        let err = ours
            .answers(&DeploymentId::parse("dep-2").unwrap(), "n-1")
            .unwrap_err();
        assert!(err.to_string().contains("for deployment dep-1"), "{err}");
        let err = ours.answers(&dep, "n-2").unwrap_err();
        assert!(err.to_string().contains("nonce"), "{err}");
        let without = signed(&ReceiptClaims {
            nonce: None,
            ..receipt()
        });
        assert!(without.answers(&dep, "n-1").is_err());

        // A newer receipt replaces an older one for the same deployment, never the reverse.
        let older = signed(&ReceiptClaims {
            iat: at(1_789_999_000),
            ..receipt()
        });
        assert!(ours.replaces(Some(&older)));
        assert!(!older.replaces(Some(&ours)));
        assert!(older.replaces(None));
        let elsewhere = signed(&ReceiptClaims {
            deployment_id: DeploymentId::parse("dep-2").unwrap(),
            ..receipt()
        });
        assert!(older.replaces(Some(&elsewhere)));
    }
}
