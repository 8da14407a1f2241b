//! Ed25519 keys: signing keys (PKCS#8 PEM), public keys (SPKI PEM, JWK) and key ids.
//!
//! A key id defaults to the key's RFC 7638 JWK thumbprint (SHA-256, base64url), so that anyone
//! holding the public key can compute the id independently. Vendors may register a key under
//! another stable name (a date, as Coder does) in a keyring.

use crate::b64;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer, pkcs8::spki::der::pem::LineEnding};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

/// Why a key could not be read or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("not an Ed25519 private key in PKCS#8 PEM form (-----BEGIN PRIVATE KEY-----)")]
    PrivatePem,
    #[error("not an Ed25519 public key in SPKI PEM form (-----BEGIN PUBLIC KEY-----)")]
    PublicPem,
    #[error("not a valid Ed25519 public key")]
    InvalidPublicKey,
    #[error("the public key is of small order (a weak key that verifies forged signatures)")]
    WeakPublicKey,
    #[error("the key could not be encoded as PEM")]
    Encode,
    #[error("invalid key id {0:?}: use 1 to 64 characters of A-Z a-z 0-9 - _ .")]
    InvalidKeyId(String),
}

/// A key id: the `kid` header of every token, naming a key in the verifier's keyring.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyId(String);

impl KeyId {
    /// Accepts 1 to 64 characters of `A-Z a-z 0-9 - _ .`: enough for a thumbprint or a date,
    /// and nothing that could be confused in a file name, a log line or a Secret key.
    pub fn new(text: &str) -> Result<Self, KeyError> {
        let ok = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && text != "."
            && text != "..";
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(KeyError::InvalidKeyId(text.to_owned()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for KeyId {
    type Error = KeyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value)
    }
}

impl From<KeyId> for String {
    fn from(value: KeyId) -> Self {
        value.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a trusted key came from; verifiers report licenses signed by non-built-in keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// Compiled in from the repository's `keys/` directory: the vendor's production keys.
    BuiltIn,
    /// Added at run time by the caller (`--trust-key`, tests, a vendor's own product).
    Added,
}

/// An Ed25519 public key that is safe to verify with (not of small order).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.thumbprint())
    }
}

impl PublicKey {
    /// Reads the 32-byte encoding; weak (small-order) keys are refused.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| KeyError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(KeyError::WeakPublicKey);
        }
        Ok(Self(key))
    }

    /// Reads a SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_spki_pem(pem: &str) -> Result<Self, KeyError> {
        let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim())
            .map_err(|_| KeyError::PublicPem)?;
        Self::from_bytes(key.as_bytes())
    }

    /// Writes the key as SubjectPublicKeyInfo PEM.
    pub fn to_spki_pem(&self) -> Result<String, KeyError> {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .map_err(|_| KeyError::Encode)
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The ed25519-dalek key, for the wire format code.
    pub(crate) fn dalek(&self) -> &ed25519_dalek::VerifyingKey {
        &self.0
    }

    /// The RFC 7638 JWK thumbprint: the default key id, computable by anyone from the key.
    pub fn thumbprint(&self) -> KeyId {
        // Members in lexicographic order, no whitespace, as RFC 7638 section 3 requires.
        let canonical = format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
            b64::encode(self.0.as_bytes())
        );
        KeyId(b64::encode(&Sha256::digest(canonical.as_bytes())))
    }

    /// The key as a JWK (RFC 8037) published under `kid`.
    pub fn to_jwk(&self, kid: &KeyId) -> Jwk {
        Jwk {
            kty: "OKP".to_owned(),
            crv: "Ed25519".to_owned(),
            x: b64::encode(self.0.as_bytes()),
            kid: kid.clone(),
            alg: "EdDSA".to_owned(),
            key_use: "sig".to_owned(),
        }
    }

    /// Strict Ed25519 verification: non-canonical signatures, small-order components and
    /// malleable encodings are rejected (RFC 8032 section 5.1.7 with the extra checks that
    /// the Wycheproof suite demands).
    pub fn verify_strict(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        let signature =
            ed25519_dalek::Signature::from_slice(signature).map_err(|_| SignatureError)?;
        self.0
            .verify_strict(message, &signature)
            .map_err(|_| SignatureError)
    }
}

/// An Ed25519 signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the Ed25519 signature does not verify")]
pub struct SignatureError;

/// A public key as a JSON Web Key, the form served in the licensor's JWKS document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Always `OKP`.
    pub kty: String,
    /// Always `Ed25519`.
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// The key id tokens name in their header.
    pub kid: KeyId,
    /// Always `EdDSA`.
    pub alg: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub key_use: String,
}

impl Jwk {
    /// Reads the public key out of the JWK, refusing anything but an Ed25519 OKP key.
    pub fn public_key(&self) -> Result<PublicKey, KeyError> {
        if self.kty != "OKP" || self.crv != "Ed25519" {
            return Err(KeyError::InvalidPublicKey);
        }
        let bytes = b64::decode(&self.x).map_err(|_| KeyError::InvalidPublicKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::InvalidPublicKey)?;
        PublicKey::from_bytes(&bytes)
    }
}

/// A JWK Set (RFC 7517 section 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// An Ed25519 signing key with the id its tokens carry. Never printed: `Debug` shows only the
/// key id, and the secret bytes are zeroed when dropped.
#[derive(Clone)]
pub struct SigningKey {
    inner: ed25519_dalek::SigningKey,
    key_id: KeyId,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Makes a key from 32 secret random bytes. The caller supplies the randomness (this crate
    /// does no I/O): use the operating system's generator.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let inner = ed25519_dalek::SigningKey::from_bytes(seed);
        let key_id = PublicKey(inner.verifying_key()).thumbprint();
        Self { inner, key_id }
    }

    /// Reads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        let inner = ed25519_dalek::SigningKey::from_pkcs8_pem(pem.trim())
            .map_err(|_| KeyError::PrivatePem)?;
        let key_id = PublicKey(inner.verifying_key()).thumbprint();
        Ok(Self { inner, key_id })
    }

    /// Writes the key as PKCS#8 PEM; the text is zeroed when dropped.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, KeyError> {
        self.inner
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|_| KeyError::Encode)
    }

    /// Uses `key_id` instead of the thumbprint in the tokens this key signs, for a key that
    /// verifiers know under another name.
    pub fn with_key_id(mut self, key_id: KeyId) -> Self {
        self.key_id = key_id;
        self
    }

    /// The key id tokens signed with this key carry.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.inner.verifying_key())
    }

    /// Signs raw bytes.
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.inner.sign(message).to_bytes()
    }

    /// The ed25519-dalek key, for the wire format code.
    pub(crate) fn dalek(&self) -> &ed25519_dalek::SigningKey {
        &self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc8037_key() -> SigningKey {
        let d = b64::decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A").unwrap();
        SigningKey::from_seed(&d.try_into().unwrap())
    }

    #[test]
    fn thumbprint_matches_rfc8037_appendix_a3() {
        let key = rfc8037_key();
        assert_eq!(
            b64::encode(&key.public_key().to_bytes()),
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
        assert_eq!(
            key.key_id().as_str(),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }

    #[test]
    fn pem_round_trips() {
        let key = rfc8037_key();
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let back = SigningKey::from_pkcs8_pem(&pem).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        let public = key.public_key().to_spki_pem().unwrap();
        assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
        assert_eq!(PublicKey::from_spki_pem(&public).unwrap(), key.public_key());
    }

    #[test]
    fn refuses_wrong_pem_kinds() {
        let key = rfc8037_key();
        let public = key.public_key().to_spki_pem().unwrap();
        assert_eq!(
            SigningKey::from_pkcs8_pem(&public).unwrap_err(),
            KeyError::PrivatePem
        );
        let private = key.to_pkcs8_pem().unwrap();
        assert_eq!(
            PublicKey::from_spki_pem(&private).unwrap_err(),
            KeyError::PublicPem
        );
        assert_eq!(
            PublicKey::from_spki_pem("garbage").unwrap_err(),
            KeyError::PublicPem
        );
    }

    #[test]
    fn refuses_small_order_public_keys() {
        // The identity point: every signature with S = 0 and R = identity "verifies" under it.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            PublicKey::from_bytes(&identity).unwrap_err(),
            KeyError::WeakPublicKey
        );
    }

    #[test]
    fn debug_never_shows_secret_material() {
        let key = rfc8037_key();
        let shown = format!("{key:?}");
        assert!(shown.contains("kPrK_"));
        assert!(!shown.contains("nWGxne"));
    }

    #[test]
    fn key_ids_are_restricted() {
        assert!(KeyId::new("2026-11-27").is_ok());
        assert!(KeyId::new("kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k").is_ok());
        for bad in ["", "..", "a/b", "a b", &"x".repeat(65), "ключ"] {
            assert!(KeyId::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn jwk_round_trips() {
        let key = rfc8037_key().public_key();
        let jwk = key.to_jwk(&key.thumbprint());
        assert_eq!(jwk.x, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo");
        assert_eq!(jwk.public_key().unwrap(), key);
    }
}
