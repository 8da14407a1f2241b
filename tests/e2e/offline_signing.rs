//! The vendor signs offline with `license-server`; the cluster admin checks with `coder-license`.

use license_e2e::run;
use std::path::Path;

fn generate(dir: &Path) -> (String, String, String) {
    let out = run(
        "license-server",
        &["keys", "generate", "--out", dir.to_str().unwrap()],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let kid = out
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("key id:"))
        .unwrap()
        .trim();
    let private = dir.join(format!("{kid}.key.pem")).display().to_string();
    let public = dir.join(format!("{kid}.pub.pem")).display().to_string();
    (kid.to_owned(), private, public)
}

fn sign(key: &str, claims: &Path, extra: &[&str]) -> String {
    let mut args = vec!["sign", "--key", key, "--claims", claims.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run("license-server", &args);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    out.stdout.trim().to_owned()
}

#[test]
fn a_license_signed_by_license_server_verifies_with_coder_license() {
    let dir = tempfile::tempdir().unwrap();
    let (kid, private, public) = generate(&dir.path().join("keys"));
    let claims = dir.path().join("claims.json");
    std::fs::write(
        &claims,
        r#"{"sub":"admin@example.com","account_id":"acme","account_type":"licensor",
            "nbf":"2026-12-01T00:00:00Z","license_expires":"2027-12-01T00:00:00Z",
            "exp":"2027-12-15T00:00:00Z","feature_set":"enterprise",
            "features":{"user_limit":25},"deployment_ids":["dep-1"]}"#,
    )
    .unwrap();
    let token = sign(&private, &claims, &["--now", "2026-11-27T00:00:00Z"]);
    let license = dir.path().join("license.jwt");
    std::fs::write(&license, format!("{token}\n")).unwrap();
    let license = license.to_str().unwrap();
    let at = |now: &str, deployment: &str| {
        run(
            "coder-license",
            &[
                "verify",
                "-f",
                license,
                "--trust-key",
                &public,
                "--now",
                now,
                "--deployment-id",
                deployment,
                "--users",
                "30",
            ],
        )
    };

    let ok = at("2027-01-10T00:00:00Z", "dep-1");
    assert_eq!(ok.code, Some(0), "{}", ok.stderr);
    assert!(ok.stdout.starts_with("valid: license "), "{}", ok.stdout);
    assert!(
        ok.stderr
            .contains(&format!("signed by key {kid}, which is NOT a built-in key")),
        "{}",
        ok.stderr
    );
    assert!(
        ok.stderr
            .contains("30 active users exceed the user limit of 25"),
        "{}",
        ok.stderr
    );

    let early = at("2026-11-28T00:00:00Z", "dep-1");
    assert_eq!(early.code, Some(1));
    assert!(
        early.stderr.contains("starts on 2026-12-01"),
        "{}",
        early.stderr
    );

    let grace = at("2027-12-05T00:00:00Z", "dep-1");
    assert_eq!(grace.code, Some(0), "{}", grace.stderr);
    assert!(
        grace.stderr.contains("grace period ends on 2027-12-15"),
        "{}",
        grace.stderr
    );

    let late = at("2027-12-16T00:00:00Z", "dep-1");
    assert_eq!(late.code, Some(1));
    assert!(
        late.stderr
            .contains("expired on 2027-12-01 (grace ended 2027-12-15)"),
        "{}",
        late.stderr
    );

    let elsewhere = at("2027-01-10T00:00:00Z", "dep-2");
    assert_eq!(elsewhere.code, Some(1));
    assert!(
        elsewhere
            .stderr
            .contains("bound to deployment dep-1; this deployment is dep-2"),
        "{}",
        elsewhere.stderr
    );

    let untrusted = run("coder-license", &["verify", "-f", license]);
    assert_eq!(untrusted.code, Some(1));
    assert!(
        untrusted
            .stderr
            .contains(&format!("signed by unknown key {kid}")),
        "{}",
        untrusted.stderr
    );

    let inspect = run(
        "coder-license",
        &[
            "inspect",
            "-f",
            license,
            "--trust-key",
            &public,
            "--now",
            "2027-01-10T00:00:00Z",
            "--deployment-id",
            "dep-1",
            "-o",
            "json",
        ],
    );
    assert_eq!(inspect.code, Some(0), "{}", inspect.stderr);
    let report: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(report["licenses"][0]["state"], "active");
    assert_eq!(report["licenses"][0]["key_source"], "added");
    assert_eq!(report["licenses"][0]["claims"]["sub"], "admin@example.com");
    assert_eq!(
        report["entitlements"]["features"]["audit_log"]["entitlement"],
        "entitled"
    );
    assert_eq!(
        report["entitlements"]["features"]["user_limit"]["limit"],
        25
    );
}

#[test]
fn license_server_refuses_loose_keys_and_inconsistent_claims() {
    let dir = tempfile::tempdir().unwrap();
    let (_, private, _) = generate(dir.path());
    let claims = dir.path().join("claims.json");
    std::fs::write(
        &claims,
        r#"{"sub":"a@example.com","license_expires":1900000000,"exp":1800000000}"#,
    )
    .unwrap();
    let out = run(
        "license-server",
        &[
            "sign",
            "--key",
            &private,
            "--claims",
            claims.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("grace period ends"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "no token is printed: {}", out.stdout);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o640)).unwrap();
        std::fs::write(
            &claims,
            r#"{"sub":"a@example.com","license_expires":1900000000}"#,
        )
        .unwrap();
        let out = run(
            "license-server",
            &[
                "sign",
                "--key",
                &private,
                "--claims",
                claims.to_str().unwrap(),
            ],
        );
        assert_eq!(out.code, Some(2));
        assert!(out.stderr.contains("chmod 600"), "{}", out.stderr);
    }

    let again = run(
        "license-server",
        &["keys", "generate", "--out", dir.path().to_str().unwrap()],
    );
    assert_eq!(
        again.code,
        Some(0),
        "a second key in the same directory gets its own file"
    );
}
