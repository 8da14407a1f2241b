//! Licenses signed by an independent JWT implementation (jose, on Node.js's own Ed25519)
//! with Coder's claims verify with `coder-license`; and what jose signs with another algorithm
//! is refused.

use license_e2e::{node, run};

const CODER_CLAIMS: &str = r#"{"iss":"coder","sub":"admin@example.com",
  "jti":"2a8e6a3e-5f0e-4d3c-9a61-1f2b3c4d5e6f","iat":1795000000,"nbf":1795000000,
  "license_expires":1830000000,"exp":1831000000,"version":3,"account_type":"salesforce",
  "account_id":"0015f00000abc","trial":false,"feature_set":"enterprise","all_features":true,
  "features":{"user_limit":100,"audit_log":1},"require_telemetry":false}"#;

#[test]
fn a_jose_signed_license_with_coders_claims_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let claims = dir.path().join("claims.json");
    std::fs::write(&claims, CODER_CLAIMS).unwrap();
    let out_dir = dir.path().to_str().unwrap();
    let signed = node(&["sign-with-jose.mjs", claims.to_str().unwrap(), out_dir]);
    assert_eq!(signed.code, Some(0), "{}", signed.stderr);
    let thumbprint = signed.stdout.trim();
    let license = dir.path().join("license.jwt").display().to_string();
    let public = dir.path().join("public.pem").display().to_string();

    // Without a key id, --trust-key files the key under its RFC 7638 thumbprint, which jose
    // computed independently and put in the header.
    let out = run(
        "coder-license",
        &[
            "inspect",
            "-f",
            &license,
            "--trust-key",
            &public,
            "--now",
            "2027-01-01T00:00:00Z",
            "-o",
            "json",
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["licenses"][0]["state"], "active", "{report}");
    assert_eq!(report["licenses"][0]["key_id"], thumbprint);
    assert_eq!(
        report["entitlements"]["features"]["user_limit"]["limit"],
        100
    );
    assert_eq!(
        report["entitlements"]["features"]["scim"]["entitlement"],
        "entitled"
    );

    let verify = run(
        "coder-license",
        &[
            "verify",
            "-f",
            &license,
            "--trust-key",
            &public,
            "--now",
            "2027-01-01T00:00:00Z",
        ],
    );
    assert_eq!(verify.code, Some(0), "{}", verify.stderr);

    // A vendor key known under a date, as Coder names its keys.
    let signed = node(&[
        "sign-with-jose.mjs",
        claims.to_str().unwrap(),
        out_dir,
        "2026-11-27",
    ]);
    assert_eq!(signed.code, Some(0), "{}", signed.stderr);
    let verify = run(
        "coder-license",
        &[
            "verify",
            "-f",
            &license,
            "--trust-key",
            &format!("2026-11-27={public}"),
            "--now",
            "2027-01-01T00:00:00Z",
        ],
    );
    assert_eq!(verify.code, Some(0), "{}", verify.stderr);
    let wrong_name = run(
        "coder-license",
        &[
            "verify",
            "-f",
            &license,
            "--trust-key",
            &public,
            "--now",
            "2027-01-01T00:00:00Z",
        ],
    );
    assert_eq!(wrong_name.code, Some(1));
    assert!(
        wrong_name
            .stderr
            .contains("signed by unknown key 2026-11-27"),
        "{}",
        wrong_name.stderr
    );
}
