//! The license both benchmarks sign and verify: like the crate's doc example, bound to three
//! deployments. Included by `license.rs` and `paired.rs` (`#[path]`), so they measure the same
//! token.

use license_core::{
    DAY, DeploymentId, Email, FORMAT_VERSION, FeatureSet, LicenseClaims, LicenseId, Timestamp,
};

/// A realistic enterprise license: like the crate's doc example, bound to three deployments.
pub fn claims(now: Timestamp) -> LicenseClaims {
    LicenseClaims {
        iss: "licensor".into(),
        sub: Email::parse("admin@example.com").unwrap(),
        jti: LicenseId::from_u128(0x0193_5f2a_7c44_7d1e_9b2f_3c1d_5e6f_7a8b),
        iat: now,
        nbf: now,
        license_expires: now.add_seconds(365 * DAY),
        exp: now.add_seconds(372 * DAY),
        version: FORMAT_VERSION,
        account_type: "salesforce".into(),
        account_id: "0015g00000XyZaBAAV".into(),
        deployment_ids: [
            "6f1c2a9e-3b7d-4e8f-9a0b-1c2d3e4f5a6b",
            "a3b4c5d6-e7f8-4901-8a2b-3c4d5e6f7a8b",
            "prod-eu-west-1",
        ]
        .into_iter()
        .map(|id| DeploymentId::parse(id).unwrap())
        .collect(),
        trial: false,
        feature_set: FeatureSet::Enterprise,
        features: [("user_limit".to_owned(), 250)].into(),
        require_telemetry: true,
        evaluation: false,
        checkin: None,
        min_product_version: Some("2.15.0".into()),
        sequence: 3,
    }
}
