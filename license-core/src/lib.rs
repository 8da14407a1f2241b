//! Licensor's signing core: the license format, Ed25519 keys, strict offline verification,
//! and the entitlements a control plane derives from its licenses at startup.
//!
//! This crate does no I/O and never reads the clock: callers pass file contents, randomness
//! and `now`. A license's claims can only be read from a [`VerifiedLicense`], which only
//! [`Verifier::verify`] makes.
//!
//! ```
//! use license_core::*;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = SigningKey::from_seed(&[42; 32]); // use 32 bytes from the OS generator
//! let mut keyring = Keyring::empty();
//! keyring.add(key.key_id().clone(), key.public_key())?;
//! let now = Timestamp::parse_rfc3339("2026-11-27T00:00:00Z")?;
//! let claims = LicenseClaims {
//!     iss: "licensor".into(),
//!     sub: Email::parse("admin@example.com")?,
//!     jti: LicenseId::from_u128(1),
//!     iat: now,
//!     nbf: now,
//!     license_expires: now.add_seconds(365 * DAY),
//!     exp: now.add_seconds(372 * DAY),
//!     version: FORMAT_VERSION,
//!     account_type: "licensor".into(),
//!     account_id: "acme".into(),
//!     deployment_ids: vec![],
//!     trial: false,
//!     feature_set: FeatureSet::Premium,
//!     features: [("user_limit".to_owned(), 50)].into(),
//!     require_telemetry: false,
//!     evaluation: false,
//!     checkin: None,
//!     min_product_version: None,
//!     sequence: 1,
//! };
//! let token = sign_license(&claims, &key)?;
//! let verifier = Verifier::new(keyring);
//! let installed = [InstalledLicense { name: "license.jwt".into(), verdict: verifier.verify(&token, now) }];
//! let entitlements = Entitlements::compute(&installed, &Context::at(now));
//! assert!(entitlements.is_valid());
//! assert_eq!(entitlements.entitlement("audit_log"), Entitlement::Entitled);
//! # Ok(()) }
//! ```

mod b64;
mod claims;
mod entitlements;
mod features;
mod ids;
mod installed;
pub mod jws;
mod keyring;
mod keys;
mod license;
mod provider;
mod receipts;
mod timestamp;

pub use claims::{
    CheckinPolicy, ClaimsError, FORMAT_VERSION, LicenseClaims, MAX_DEPLOYMENT_IDS, MAX_FEATURES,
    ProductVersion,
};
pub use entitlements::{
    Context, EXPIRY_WARNING_DAYS, Entitlement, Entitlements, Evidence, FeatureEntitlement,
    InstalledLicense, LicenseReport, LicenseState, TRIAL_EXPIRY_WARNING_DAYS,
};
pub use features::{
    ENTERPRISE_FEATURES, FeatureSet, PREMIUM_ONLY_FEATURES, USER_LIMIT, UnknownFeatureSet,
    known_features,
};
pub use ids::{DeploymentId, Email, InvalidDeploymentId, InvalidEmail, LicenseId};
pub use installed::{
    DEPLOYMENT_ID_KEY, EntryKind, HIGH_WATER_MARK_ANNOTATION, HIGH_WATER_MARK_KEY, Installed,
    LICENSE_PREFIX, RECEIPT_KEY, REMOVED_KEY, REVOCATIONS_KEY, Startup, evaluate, license_key,
    may_store_receipt, may_store_revocations,
};
pub use keyring::{KeyIdConflict, Keyring, TrustedKey};
pub use keys::{Jwk, JwkSet, KeyError, KeyId, KeySource, PublicKey, SignatureError, SigningKey};
pub use license::{
    DEFAULT_MAX_CLOCK_SKEW_SECS, LICENSE_TYP, VerifiedLicense, Verifier, VerifyError, sign_license,
};
pub use receipts::{
    ArtefactError, MAX_NONCE_LEN, MAX_RECEIPT_LICENSES, MAX_REVOCATION_LIST_BYTES, MAX_REVOKED,
    RECEIPT_TYP, REVOCATION_LIST_TYP, REVOKED_LISTED_AFTER_GRACE_SECS, ReceiptClaims,
    ReceiptLicense, ReceiptStatus, RevocationListClaims, RevokedLicense, VerifiedReceipt,
    VerifiedRevocationList, revocation_list_cutoff, sign_receipt, sign_revocation_list,
    verify_receipt, verify_revocation_list,
};
pub use timestamp::{DAY, MAX_UNIX_SECONDS, Timestamp, TimestampError};

/// Base64url without padding, strict, as tokens use it.
pub mod base64url {
    pub use crate::b64::{decode, encode};
}
