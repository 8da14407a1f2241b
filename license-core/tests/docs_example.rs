//! The worked example in docs/license-format.md verifies, with the claims the doc shows, and
//! signing those claims again with the example key gives the same token byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use license_core::{
    DeploymentId, Entitlement, Entitlements, InstalledLicense, Keyring, PublicKey, SigningKey,
    Timestamp, Verifier, base64url, sign_license,
};

/// The token between the markers of docs/license-format.md.
fn documented_token() -> &'static str {
    let doc = include_str!("../../docs/license-format.md");
    let block = doc.split("<!-- example-token -->").nth(1).unwrap();
    let block = block.split("<!-- /example-token -->").next().unwrap();
    block
        .trim()
        .trim_start_matches("```")
        .trim_end_matches("```")
        .trim()
}

#[test]
fn the_documented_example_token_is_what_signing_makes() {
    // RFC 8037 appendix A's private key (published in the RFC).
    let d = base64url::decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A").unwrap();
    let key = SigningKey::from_seed(&d.try_into().unwrap());
    let mut keyring = Keyring::empty();
    keyring.add(key.key_id().clone(), key.public_key()).unwrap();
    let now = Timestamp::parse_rfc3339("2027-01-01T00:00:00Z").unwrap();
    let token = documented_token();
    let license = Verifier::new(keyring).verify(token, now).unwrap();
    let again = sign_license(license.claims(), &key).unwrap();
    assert_eq!(
        again, token,
        "Ed25519 is deterministic: the same claims, the same token"
    );
    let header = base64url::decode(token.split('.').next().unwrap()).unwrap();
    assert!(
        include_str!("../../docs/license-format.md").contains(&format!(
            "Its header is `{}`",
            String::from_utf8(header).unwrap()
        )),
        "the doc shows the token's header"
    );
}

#[test]
fn the_documented_example_token_verifies() {
    let token = documented_token();

    // RFC 8037 appendix A's public key.
    let x = base64url::decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
    let key = PublicKey::from_bytes(&x.try_into().unwrap()).unwrap();
    let mut keyring = Keyring::empty();
    keyring.add(key.thumbprint(), key).unwrap();
    let now = Timestamp::parse_rfc3339("2027-01-01T00:00:00Z").unwrap();
    let license = Verifier::new(keyring).verify(token, now).unwrap();

    let c = license.claims();
    assert_eq!(
        license.key_id().as_str(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
    assert_eq!(c.sub.as_str(), "admin@example.com");
    assert_eq!(c.nbf.rfc3339(), "2026-12-01T00:00:00Z");
    assert_eq!(c.license_expires.rfc3339(), "2027-12-01T00:00:00Z");
    assert_eq!(c.exp.rfc3339(), "2027-12-15T00:00:00Z");
    assert_eq!(c.user_limit(), Some(250));
    assert_eq!(c.sequence, 2);
    assert_eq!(c.min_product_version.as_deref(), Some("2.15.0"));

    let deployment = DeploymentId::parse("7c6d1a2e-3f4b-4c5d-8e9f-0a1b2c3d4e5f").unwrap();
    let installed = [InstalledLicense {
        name: "example.jwt".into(),
        verdict: Ok(license),
    }];
    let mut context = license_core::Context::at(now);
    context.deployment_id = Some(&deployment);
    let entitlements = Entitlements::compute(&installed, &context);
    assert!(entitlements.is_valid(), "{:?}", entitlements.errors);
    assert_eq!(
        entitlements.entitlement("multiple_organizations"),
        Entitlement::Entitled
    );
}
