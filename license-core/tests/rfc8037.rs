//! RFC 8037 appendix A, reproduced: the Ed25519 key (A.1, A.2), its JWK thumbprint (A.3) and
//! the compact JWS of "Example of Ed25519 signing" (A.4, A.5).
//!
//! Ed25519 signatures are deterministic, so signing the RFC's input with the RFC's key must
//! give the RFC's token byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use license_core::{PublicKey, SigningKey, base64url, jws};

const D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
const HEADER: &str = r#"{"alg":"EdDSA"}"#;
const PAYLOAD: &str = "Example of Ed25519 signing";
const SIGNING_INPUT: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
const SIGNATURE: &str =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

fn rfc_key() -> SigningKey {
    let seed: [u8; 32] = base64url::decode(D).unwrap().try_into().unwrap();
    SigningKey::from_seed(&seed)
}

#[test]
fn public_key_and_thumbprint_match_a2_and_a3() {
    let key = rfc_key();
    assert_eq!(base64url::encode(&key.public_key().to_bytes()), X);
    assert_eq!(key.public_key().thumbprint().as_str(), THUMBPRINT);
    // The default key id is the thumbprint.
    assert_eq!(key.key_id().as_str(), THUMBPRINT);
    let jwk = key.public_key().to_jwk(key.key_id());
    assert_eq!(
        (jwk.kty.as_str(), jwk.crv.as_str(), jwk.x.as_str()),
        ("OKP", "Ed25519", X)
    );
}

#[test]
fn jsonwebtoken_with_our_provider_verifies_the_a4_signature() {
    assert!(jws::install_provider());
    let key = jsonwebtoken::DecodingKey::from_ed_der(&base64url::decode(X).unwrap());
    let alg = jsonwebtoken::Algorithm::EdDSA;
    let check =
        |input: &str| jsonwebtoken::crypto::verify(SIGNATURE, input.as_bytes(), &key, alg).unwrap();
    assert!(check(SIGNING_INPUT));
    assert!(!check(PAYLOAD));
}

#[test]
fn signing_reproduces_the_a4_token() {
    // Through jsonwebtoken and license-core's provider.
    let token = jws::sign_with_header(HEADER.as_bytes(), PAYLOAD.as_bytes(), &rfc_key());
    assert_eq!(token, format!("{SIGNING_INPUT}.{SIGNATURE}"));
}

#[test]
fn a5_verification_succeeds_with_the_public_key_alone() {
    let x: [u8; 32] = base64url::decode(X).unwrap().try_into().unwrap();
    let public = PublicKey::from_bytes(&x).unwrap();
    let signature = base64url::decode(SIGNATURE).unwrap();
    assert_eq!(signature.len(), 64);
    public
        .verify_strict(SIGNING_INPUT.as_bytes(), &signature)
        .unwrap();

    // The signature covers the signing input exactly: neither a changed message nor a changed
    // signature verifies.
    assert!(
        public
            .verify_strict(PAYLOAD.as_bytes(), &signature)
            .is_err()
    );
    let mut altered = signature.clone();
    altered[0] ^= 1;
    assert!(
        public
            .verify_strict(SIGNING_INPUT.as_bytes(), &altered)
            .is_err()
    );
}
