//! jsonwebtoken's crypto provider for this crate: EdDSA (Ed25519) only, on ed25519-dalek,
//! verifying with `verify_strict`.
//!
//! jsonwebtoken signs and verifies through one process-wide `CryptoProvider` and has no API
//! to pass a provider per call. So before each use, [`ready`] installs [`PROVIDER`] as the
//! process default if no provider is installed yet, and says whether ours is the one in
//! force. When a program installed another provider first, `jws` signs and verifies with
//! ed25519-dalek directly, under the same rules and with the same bytes: another provider
//! never decides whether a signature is good. Installing never panics and never replaces a
//! provider.
//!
//! Keys, as jsonwebtoken's `from_ed_der` constructors carry them: an [`EncodingKey`] holds the
//! 32-byte Ed25519 secret key (or a PKCS#8 DER document), a [`DecodingKey`] the 32-byte
//! public key. Every algorithm but `EdDSA` is refused, and the JWK helpers for RSA and EC
//! keys return errors: no RSA, HMAC or ECDSA code is linked.
//!
//! Turning 32 key bytes into a usable key costs a point decompression (public) or a scalar
//! multiplication (secret): several microseconds, a visible share of one verification. The
//! caller already holds the parsed key, so `jws` lends it to the factories for the length of
//! one call ([`with_verifying_key`], [`with_signing_key`]), in a thread-local slot; a factory
//! uses the lent key only when its bytes are the bytes jsonwebtoken passes, and otherwise
//! parses the bytes itself. The slot is a shortcut, never a source of trust.

use ed25519_dalek::pkcs8::DecodePrivateKey;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{Error, ErrorKind, new_error};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use sha2::Digest;
use std::cell::{Cell, RefCell};

/// The provider: EdDSA only.
pub(crate) static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(unsupported()),
        rsa_pub_components_from_public_key: |_| Err(unsupported()),
        ec_pub_components_from_private_key: |_, _| Err(unsupported()),
        ed_pub_components_from_private_key: ed_public_from_private,
        compute_digest,
    },
};

/// Installs [`PROVIDER`] as jsonwebtoken's process default unless a provider is installed
/// already, and tells whether ours is the one in force.
pub(crate) fn ready() -> bool {
    // Refused (harmlessly) when any provider, ours included, is installed already.
    let _ = PROVIDER.install_default();
    CryptoProvider::try_get_default().is_some_and(|installed| std::ptr::eq(installed, &PROVIDER))
}

thread_local! {
    static LENT_VERIFYING_KEY: Cell<Option<ed25519_dalek::VerifyingKey>> = const { Cell::new(None) };
    static LENT_SIGNING_KEY: RefCell<Option<ed25519_dalek::SigningKey>> = const { RefCell::new(None) };
}

/// Empties both slots when dropped, so that a key is lent for one call only, even if the call
/// unwinds.
struct Lease;

impl Drop for Lease {
    fn drop(&mut self) {
        LENT_VERIFYING_KEY.set(None);
        // Dropping the signing key zeroes it.
        LENT_SIGNING_KEY.set(None);
    }
}

/// Runs `f` with `key` lent to the verifier factory.
pub(crate) fn with_verifying_key<R>(key: &ed25519_dalek::VerifyingKey, f: impl FnOnce() -> R) -> R {
    LENT_VERIFYING_KEY.set(Some(*key));
    let _lease = Lease;
    f()
}

/// Runs `f` with `key` lent to the signer factory.
pub(crate) fn with_signing_key<R>(key: &ed25519_dalek::SigningKey, f: impl FnOnce() -> R) -> R {
    LENT_SIGNING_KEY.set(Some(key.clone()));
    let _lease = Lease;
    f()
}

fn unsupported() -> Error {
    new_error(ErrorKind::UnsupportedAlgorithm)
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    if *algorithm != Algorithm::EdDSA || key.family() != AlgorithmFamily::Ed {
        return Err(unsupported());
    }
    let bytes = key.as_bytes();
    let lent = LENT_SIGNING_KEY.with_borrow(|slot| {
        slot.as_ref()
            .filter(|lent| lent.as_bytes()[..] == *bytes)
            .cloned()
    });
    let key = match lent {
        Some(key) => key,
        None => signing_key(bytes)?,
    };
    Ok(Box::new(EdDsaSigner(key)))
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    if *algorithm != Algorithm::EdDSA || key.family() != AlgorithmFamily::Ed {
        return Err(unsupported());
    }
    let bytes: &[u8; 32] = key
        .try_get_as_bytes()?
        .try_into()
        .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?;
    let key = match LENT_VERIFYING_KEY.get() {
        Some(lent) if lent.as_bytes() == bytes => lent,
        _ => ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| new_error(ErrorKind::InvalidEddsaKey))?,
    };
    Ok(Box::new(EdDsaVerifier(key)))
}

/// A secret key from its 32 bytes or from a PKCS#8 DER document (never 32 bytes long).
fn signing_key(bytes: &[u8]) -> Result<ed25519_dalek::SigningKey, Error> {
    match <&[u8; 32]>::try_from(bytes) {
        Ok(secret) => Ok(ed25519_dalek::SigningKey::from_bytes(secret)),
        Err(_) => ed25519_dalek::SigningKey::from_pkcs8_der(bytes)
            .map_err(|_| new_error(ErrorKind::InvalidEddsaKey)),
    }
}

fn ed_public_from_private(key: &[u8], curve: &EllipticCurve) -> Result<Vec<u8>, Error> {
    if *curve != EllipticCurve::Ed25519 {
        return Err(unsupported());
    }
    Ok(signing_key(key)?.verifying_key().to_bytes().to_vec())
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>, Error> {
    Ok(match hash {
        ThumbprintHash::SHA256 => sha2::Sha256::digest(data).to_vec(),
        ThumbprintHash::SHA384 => sha2::Sha384::digest(data).to_vec(),
        ThumbprintHash::SHA512 => sha2::Sha512::digest(data).to_vec(),
        _ => return Err(unsupported()),
    })
}

struct EdDsaSigner(ed25519_dalek::SigningKey);

impl signature::Signer<Vec<u8>> for EdDsaSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(ed25519_dalek::Signer::sign(&self.0, message)
            .to_bytes()
            .to_vec())
    }
}

impl JwtSigner for EdDsaSigner {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct EdDsaVerifier(ed25519_dalek::VerifyingKey);

impl signature::Verifier<Vec<u8>> for EdDsaVerifier {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        let signature = ed25519_dalek::Signature::from_slice(signature)?;
        self.0.verify_strict(message, &signature)
    }
}

impl JwtVerifier for EdDsaVerifier {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::crypto::{sign, verify};

    fn seed() -> [u8; 32] {
        [3; 32]
    }

    #[test]
    fn is_installed_and_signs_and_verifies_strictly() {
        assert!(
            ready(),
            "nothing else installs a provider in this test binary"
        );
        assert!(ready(), "installing again is harmless");
        let secret = ed25519_dalek::SigningKey::from_bytes(&seed());
        let public = secret.verifying_key().to_bytes();
        let signature = sign(
            b"message",
            &EncodingKey::from_ed_der(&seed()),
            Algorithm::EdDSA,
        )
        .expect("EdDSA signs");
        let decoding = DecodingKey::from_ed_der(&public);
        assert!(verify(&signature, b"message", &decoding, Algorithm::EdDSA).unwrap());
        assert!(!verify(&signature, b"messagf", &decoding, Algorithm::EdDSA).unwrap());
        // The lent key is the same key: the same signature.
        let lent = with_signing_key(&secret, || {
            sign(
                b"message",
                &EncodingKey::from_ed_der(&seed()),
                Algorithm::EdDSA,
            )
        });
        assert_eq!(lent.unwrap(), signature);
        // A PKCS#8 document is the same key too.
        let der = ed25519_dalek::pkcs8::EncodePrivateKey::to_pkcs8_der(&secret).unwrap();
        let from_der = sign(
            b"message",
            &EncodingKey::from_ed_der(der.as_bytes()),
            Algorithm::EdDSA,
        );
        assert_eq!(from_der.unwrap(), signature);
    }

    #[test]
    fn a_lent_key_is_used_only_for_its_own_bytes() {
        assert!(ready());
        let lent = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
        let other = ed25519_dalek::SigningKey::from_bytes(&seed());
        let signature = with_signing_key(&lent, || {
            sign(b"m", &EncodingKey::from_ed_der(&seed()), Algorithm::EdDSA)
        })
        .unwrap();
        let other_public = DecodingKey::from_ed_der(&other.verifying_key().to_bytes());
        let lent_public = lent.verifying_key();
        assert!(verify(&signature, b"m", &other_public, Algorithm::EdDSA).unwrap());
        // Verifying under `other`'s bytes while `lent`'s key is lent still uses `other`.
        let checked = with_verifying_key(&lent_public, || {
            verify(&signature, b"m", &other_public, Algorithm::EdDSA)
        });
        assert!(checked.unwrap());
        assert_eq!(
            LENT_VERIFYING_KEY.get(),
            None,
            "the lease ends with the call"
        );
        assert!(LENT_SIGNING_KEY.with_borrow(Option::is_none));
    }

    #[test]
    fn refuses_every_other_algorithm_and_small_order_keys() {
        assert!(ready());
        for algorithm in [Algorithm::HS256, Algorithm::RS256, Algorithm::ES256] {
            assert!(sign(b"m", &EncodingKey::from_ed_der(&seed()), algorithm).is_err());
            let hmac = EncodingKey::from_secret(b"secret").unwrap();
            assert!(sign(b"m", &hmac, algorithm).is_err(), "{algorithm:?}");
        }
        // The identity point as public key with the all-zero "signature" (R = identity,
        // S = 0) satisfies the plain verification equation; verify_strict refuses it.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut signature = [0u8; 64];
        signature[0] = 1;
        let signature = crate::b64::encode(&signature);
        let key = DecodingKey::from_ed_der(&identity);
        assert!(!verify(&signature, b"anything", &key, Algorithm::EdDSA).unwrap());
        assert!(
            (PROVIDER.key_utils.rsa_pub_components_from_public_key)(b"").is_err(),
            "JWK helpers for other key types fail without panicking"
        );
        assert_eq!(
            (PROVIDER.key_utils.compute_digest)(b"", ThumbprintHash::SHA256)
                .unwrap()
                .len(),
            32
        );
    }
}
