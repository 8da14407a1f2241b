//! The worked example in docs/license-format.md verifies, with the claims the doc shows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use license_core::{
    DeploymentId, Entitlement, Entitlements, InstalledLicense, Keyring, PublicKey, Timestamp,
    Verifier, base64url,
};

#[test]
fn the_documented_example_token_verifies() {
    let doc = include_str!("../../docs/license-format.md");
    let block = doc.split("<!-- example-token -->").nth(1).unwrap();
    let block = block.split("<!-- /example-token -->").next().unwrap();
    let token = block
        .trim()
        .trim_start_matches("```")
        .trim_end_matches("```")
        .trim();

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
