//! The licensor's signing key: licenses, check-in receipts, revocation lists, and the JWKS
//! that verifiers trust.

use super::error::{Error, Internal};
use license_core::{
    JwkSet, KeyId, Keyring, LicenseClaims, PublicKey, SigningKey, Timestamp, VerifiedLicense,
    Verifier, VerifyError, sign_license,
};

/// Signs licenses with the licensor's key and publishes the verification keys.
#[derive(Debug)]
pub struct Signer {
    key: SigningKey,
    issuer: String,
    published: Vec<(KeyId, PublicKey)>,
}

impl Signer {
    /// Signs with `key` as `issuer`; `also_publish` are older keys still trusted (rotation).
    pub fn new(key: SigningKey, issuer: String, also_publish: Vec<(KeyId, PublicKey)>) -> Self {
        Self {
            key,
            issuer,
            published: also_publish,
        }
    }

    /// The issuer name (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The signing key's id.
    pub fn key_id(&self) -> &KeyId {
        self.key.key_id()
    }

    /// Signs validated claims: the compact token. A failure here is the licensor's fault
    /// (claims are validated before they get here), so it is an internal error.
    pub fn sign(&self, claims: &LicenseClaims) -> Result<String, Error> {
        sign_license(claims, &self.key)
            .map_err(|e| Error::Internal(Internal::Signing(e.to_string())))
    }

    /// Signs `message` as it is (Ed25519): the webhook signatures.
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message)
    }

    /// Signs a check-in receipt.
    pub fn sign_receipt(
        &self,
        claims: &license_core::ReceiptClaims,
    ) -> Result<String, license_core::ArtefactError> {
        license_core::sign_receipt(claims, &self.key)
    }

    /// Signs a revocation list.
    pub fn sign_revocation_list(
        &self,
        claims: &license_core::RevocationListClaims,
    ) -> Result<String, license_core::ArtefactError> {
        license_core::sign_revocation_list(claims, &self.key)
    }

    /// Verifies a token this licensor signed (with the current or an older published key).
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<VerifiedLicense, VerifyError> {
        let mut keyring = Keyring::empty();
        // Ids in `jwks()` are distinct by construction, so adding cannot conflict.
        for jwk in self.jwks().keys {
            if let Ok(key) = jwk.public_key() {
                let _ = keyring.add(jwk.kid, key);
            }
        }
        Verifier::new(keyring).verify(token, now)
    }

    /// The JWKS document: the signing key and any older published keys.
    pub fn jwks(&self) -> JwkSet {
        let current = self.key.public_key().to_jwk(self.key.key_id());
        let older = self
            .published
            .iter()
            .filter(|(kid, _)| kid != self.key.key_id())
            .map(|(kid, key)| key.to_jwk(kid));
        JwkSet {
            keys: std::iter::once(current).chain(older).collect(),
        }
    }
}
