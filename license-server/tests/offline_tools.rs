//! `license-server keys generate` and `sign`, run as the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use license_core::{Keyring, Timestamp, Verifier};
use std::process::{Command, Output};

fn server(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_license-server"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn generated_keys_sign_licenses_that_license_core_verifies() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("keys");
    let out = server(&["keys", "generate", "--out", dir.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let kid = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("key id:"))
        .unwrap()
        .trim();
    let private = dir.join(format!("{kid}.key.pem"));
    let public = dir.join(format!("{kid}.pub.pem"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&private).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
    let public_key =
        license_core::PublicKey::from_spki_pem(&std::fs::read_to_string(&public).unwrap()).unwrap();
    assert_eq!(
        public_key.thumbprint().as_str(),
        kid,
        "files are named by the key's thumbprint"
    );

    let claims = dir.join("claims.json");
    std::fs::write(&claims, r#"{"sub":"ops@example.com","license_expires":"2027-11-27T00:00:00Z","trial":true,"features":{"user_limit":10}}"#).unwrap();
    let out = server(&[
        "sign",
        "--key",
        private.to_str().unwrap(),
        "--claims",
        claims.to_str().unwrap(),
        "--now",
        "2026-11-27T00:00:00Z",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();

    let mut keyring = Keyring::empty();
    keyring.add(public_key.thumbprint(), public_key).unwrap();
    let now = Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
    let license = Verifier::new(keyring).verify(&token, now).unwrap();
    assert!(license.claims().trial);
    assert_eq!(license.claims().sub.as_str(), "ops@example.com");
    assert_eq!(license.claims().iat.rfc3339(), "2026-11-27T00:00:00Z");
    assert_eq!(license.claims().user_limit(), Some(10));
}

#[test]
fn sign_reads_claims_from_standard_input_and_refuses_a_missing_key() {
    let out = server(&["sign", "--key", "/nonexistent/key.pem", "--claims", "-"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("cannot open private key /nonexistent/key.pem"),
        "{stderr}"
    );
}

/// Issue #13, finding 6: the verifiers need the licensor's public key in a form each accepts;
/// `keys export` prints it as PEM or as the JWKS `GET /api/v1/keys` serves, and never
/// creates a key.
#[test]
fn keys_export_prints_the_public_half_as_pem_or_jwks() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("keys");
    let out = server(&["keys", "generate", "--out", dir.to_str().unwrap()]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let kid = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("key id:"))
        .unwrap()
        .trim()
        .to_owned();
    let private = dir.join(format!("{kid}.key.pem"));
    let public = std::fs::read_to_string(dir.join(format!("{kid}.pub.pem"))).unwrap();

    let pem = server(&["keys", "export", "--signing-key", private.to_str().unwrap()]);
    assert!(
        pem.status.success(),
        "{}",
        String::from_utf8_lossy(&pem.stderr)
    );
    assert_eq!(String::from_utf8(pem.stdout).unwrap(), public);

    let jwks = server(&[
        "keys",
        "export",
        "--signing-key",
        private.to_str().unwrap(),
        "--format",
        "jwks",
    ]);
    assert!(jwks.status.success());
    let set: serde_json::Value = serde_json::from_slice(&jwks.stdout).unwrap();
    assert_eq!(set["keys"][0]["kid"], kid.as_str());
    assert_eq!(set["keys"][0]["alg"], "EdDSA");
    assert!(set["keys"][0].get("d").is_none(), "never the private part");

    let empty = root.path().join("no-data");
    let missing = server(&["keys", "export", "--data-dir", empty.to_str().unwrap()]);
    assert!(!missing.status.success());
    let message = String::from_utf8_lossy(&missing.stderr);
    assert!(message.contains("license-server serve"), "{message}");
    assert!(!empty.exists(), "export creates nothing");
}
