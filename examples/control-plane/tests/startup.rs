//! The example control plane, run as a binary: it starts without a license (and says why),
//! gates features on its entitlements, and verifies again on SIGHUP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use license_core::{
    Email, FORMAT_VERSION, FeatureSet, JwkSet, LicenseClaims, LicenseId, SigningKey, Timestamp,
    license_key, sign_license,
};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Plane(Child, String);

impl Drop for Plane {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(licenses: &std::path::Path, state: &std::path::Path, pem: &std::path::Path) -> Plane {
    let mut child = Command::new(env!("CARGO_BIN_EXE_example-control-plane"))
        .args([
            "--licenses-dir",
            licenses.to_str().unwrap(),
            "--state-dir",
            state.to_str().unwrap(),
        ])
        .args([
            "--trust-key",
            pem.to_str().unwrap(),
            "--now",
            "2027-01-01T00:00:00Z",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    Plane(child, base)
}

fn get(url: &str) -> (u16, serde_json::Value) {
    let response = reqwest::blocking::get(url).unwrap();
    (response.status().as_u16(), response.json().unwrap())
}

#[test]
fn gates_features_on_its_licenses_and_verifies_again_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let (licenses, state) = (dir.path().join("licenses"), dir.path().join("state"));
    std::fs::create_dir_all(&licenses).unwrap();
    let key = SigningKey::from_seed(&[77; 32]);
    let pem = dir.path().join("vendor.pem");
    std::fs::write(&pem, key.public_key().to_spki_pem().unwrap()).unwrap();

    let plane = start(&licenses, &state, &pem);
    let (status, body) = get(&format!("{}/features/audit_log", plane.1));
    assert_eq!(status, 403);
    assert!(
        body["reason"]
            .as_str()
            .unwrap()
            .contains("no license is installed"),
        "{body}"
    );

    let claims = claims();
    std::fs::write(
        licenses.join(license_key(claims.jti)),
        sign_license(&claims, &key).unwrap(),
    )
    .unwrap();
    let pid = plane.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = get(&format!("{}/features/audit_log", plane.1));
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not bring the license in"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (_, e) = get(&format!("{}/entitlements", plane.1));
    assert_eq!(e["entitlements"]["features"]["user_limit"]["limit"], 25);
    assert_eq!(
        get(&format!("{}/features/multiple_organizations", plane.1)).0,
        403,
        "premium-only stays off"
    );
    let mark = std::fs::read_to_string(state.join(license_core::HIGH_WATER_MARK_KEY)).unwrap();
    assert_eq!(
        mark.trim(),
        "2027-01-01T00:00:00Z",
        "the high-water mark is persisted"
    );
}

fn claims() -> LicenseClaims {
    let at = |t: &str| Timestamp::parse_rfc3339(t).unwrap();
    LicenseClaims {
        iss: "licensor".into(),
        sub: Email::parse("admin@example.com").unwrap(),
        jti: LicenseId::from_u128(42),
        iat: at("2026-11-01T00:00:00Z"),
        nbf: at("2026-11-01T00:00:00Z"),
        license_expires: at("2027-11-01T00:00:00Z"),
        exp: at("2027-11-01T00:00:00Z"),
        version: FORMAT_VERSION,
        account_type: "licensor".into(),
        account_id: "acme".into(),
        deployment_ids: vec![],
        trial: false,
        feature_set: FeatureSet::Enterprise,
        features: [("user_limit".to_owned(), 25)].into(),
        require_telemetry: false,
        evaluation: false,
        checkin: None,
        min_product_version: None,
        sequence: 1,
    }
}

#[test]
fn trusts_a_jwks_such_as_the_licensors_keys_document() {
    let dir = tempfile::tempdir().unwrap();
    let (licenses, state) = (dir.path().join("licenses"), dir.path().join("state"));
    std::fs::create_dir_all(&licenses).unwrap();
    let key = SigningKey::from_seed(&[78; 32]);
    let claims = claims();
    std::fs::write(
        licenses.join(license_key(claims.jti)),
        sign_license(&claims, &key).unwrap(),
    )
    .unwrap();
    let jwks = JwkSet {
        keys: vec![key.public_key().to_jwk(key.key_id())],
    };
    let keys = dir.path().join("keys.json");
    std::fs::write(&keys, serde_json::to_string(&jwks).unwrap()).unwrap();
    let plane = start(&licenses, &state, &keys);
    let (status, body) = get(&format!("{}/features/audit_log", plane.1));
    assert_eq!(status, 200, "{body}");
}
