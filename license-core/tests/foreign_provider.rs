//! A program that installed its own jsonwebtoken crypto provider before license-core's first
//! use keeps it: license-core neither replaces it nor trusts it. It signs and verifies with
//! ed25519-dalek directly, under the same rules, and makes the same tokens.
//!
//! The provider installed here accepts every signature and signs with zeros, so a forgery that
//! got through, or a token signed by it, would show. Installing a process default is for the
//! whole process: this test must stay alone in its own test binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use license_core::{
    Keyring, RECEIPT_TYP, ReceiptClaims, SigningKey, Timestamp, Verifier, VerifyError, base64url,
    jws, sign_license, sign_receipt, verify_receipt,
};

struct Zeros;

impl signature::Signer<Vec<u8>> for Zeros {
    fn try_sign(&self, _: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(vec![0; 64])
    }
}

impl JwtSigner for Zeros {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

struct AcceptsAnything;

impl signature::Verifier<Vec<u8>> for AcceptsAnything {
    fn verify(&self, _: &[u8], _: &Vec<u8>) -> Result<(), signature::Error> {
        Ok(())
    }
}

impl JwtVerifier for AcceptsAnything {
    fn algorithm(&self) -> Algorithm {
        Algorithm::EdDSA
    }
}

static PERMISSIVE: CryptoProvider = CryptoProvider {
    signer_factory: |_, _| Ok(Box::new(Zeros)),
    verifier_factory: |_, _| Ok(Box::new(AcceptsAnything)),
    key_utils: KeyUtils::new_unimplemented(),
};

/// The docs' example key (RFC 8037 appendix A) and the token the docs show.
fn documented() -> (SigningKey, &'static str) {
    let d = base64url::decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A").unwrap();
    let doc = include_str!("../../docs/license-format.md");
    let token = doc.split("<!-- example-token -->").nth(1).unwrap();
    let token = token.split("<!-- /example-token -->").next().unwrap();
    let token = token.trim().trim_matches('`').trim();
    (SigningKey::from_seed(&d.try_into().unwrap()), token)
}

#[test]
fn another_provider_is_kept_and_never_trusted() {
    PERMISSIVE.install_default().unwrap();
    assert!(!jws::install_provider(), "license-core must not replace it");
    assert!(std::ptr::eq(
        CryptoProvider::try_get_default().unwrap(),
        &PERMISSIVE
    ));

    let (key, token) = documented();
    let mut keyring = Keyring::empty();
    keyring.add(key.key_id().clone(), key.public_key()).unwrap();
    let verifier = Verifier::new(keyring.clone());
    let now = Timestamp::parse_rfc3339("2027-01-01T00:00:00Z").unwrap();

    // The same token as through jsonwebtoken: a real signature, not the provider's zeros.
    let license = verifier.verify(token, now).unwrap();
    assert_eq!(sign_license(license.claims(), &key).unwrap(), token);

    // Forgeries that the installed provider would wave through are refused.
    let (signing_input, _) = token.rsplit_once('.').unwrap();
    let zeros = format!("{signing_input}.{}", base64url::encode(&[0; 64]));
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.validate_exp = false;
    let public = DecodingKey::from_ed_der(&key.public_key().to_bytes());
    assert!(
        jsonwebtoken::decode::<serde_json::Value>(&zeros, &public, &validation).is_ok(),
        "the installed provider accepts the forgery"
    );
    assert_eq!(
        verifier.verify(&zeros, now).unwrap_err(),
        VerifyError::Token(jws::JwsError::BadSignature)
    );
    let impostor = SigningKey::from_seed(&[1; 32]).with_key_id(key.key_id().clone());
    let forged = sign_license(license.claims(), &impostor).unwrap();
    assert_eq!(
        verifier.verify(&forged, now).unwrap_err(),
        VerifyError::Token(jws::JwsError::BadSignature)
    );

    // Receipts take the same path.
    let claims = ReceiptClaims {
        iss: "licensor".into(),
        jti: uuid::Uuid::from_u128(5),
        iat: now,
        deployment_id: license_core::DeploymentId::parse("dep-1").unwrap(),
        licenses: vec![],
        nonce: None,
    };
    let receipt = sign_receipt(&claims, &key).unwrap();
    let (input, signature) = receipt.rsplit_once('.').unwrap();
    assert_eq!(
        base64url::decode(signature).unwrap(),
        key.sign(input.as_bytes())
    );
    let header = base64url::decode(input.split('.').next().unwrap()).unwrap();
    assert_eq!(
        String::from_utf8(header).unwrap(),
        format!(
            r#"{{"typ":"{RECEIPT_TYP}","alg":"EdDSA","kid":"{}"}}"#,
            key.key_id()
        )
    );
    assert_eq!(
        verify_receipt(&receipt, &keyring, now, 0).unwrap().claims(),
        &claims
    );
    let zeros = format!("{input}.{}", base64url::encode(&[0; 64]));
    assert!(verify_receipt(&zeros, &keyring, now, 0).is_err());
}
