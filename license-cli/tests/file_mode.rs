//! `coder-license inspect` and `verify` on license files, run as the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use license_core::jws::sign_with_header;
use license_core::{
    Email, FORMAT_VERSION, FeatureSet, LicenseClaims, LicenseId, SigningKey, Timestamp, base64url,
    sign_license,
};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn coder_license(args: &[&str], stdin: Option<&str>) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coder-license"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        // The command may refuse its arguments and exit before reading standard input.
        match input.write_all(text.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    key: SigningKey,
    public: String,
}

const NOW: &str = "2027-01-01T00:00:00Z";

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_seed(&[5; 32]);
        let public = dir.path().join("vendor.pub.pem");
        std::fs::write(&public, key.public_key().to_spki_pem().unwrap()).unwrap();
        Self {
            public: public.display().to_string(),
            dir,
            key,
        }
    }

    fn write(&self, name: &str, content: &str) -> String {
        let path: PathBuf = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }

    fn verify(&self, file: &str, extra: &[&str]) -> Out {
        let mut args = vec![
            "verify",
            "-f",
            file,
            "--trust-key",
            &self.public,
            "--now",
            NOW,
        ];
        args.extend_from_slice(extra);
        coder_license(&args, None)
    }

    fn header(&self, alg: &str) -> String {
        format!(
            r#"{{"alg":"{alg}","typ":"JWT","kid":"{}"}}"#,
            self.key.key_id()
        )
    }
}

fn claims(seats: i64) -> LicenseClaims {
    let at = |t: &str| Timestamp::parse_rfc3339(t).unwrap();
    LicenseClaims {
        iss: "licensor".into(),
        sub: Email::parse("admin@example.com").unwrap(),
        jti: LicenseId::from_u128(seats as u128 + 1),
        iat: at("2026-11-27T00:00:00Z"),
        nbf: at("2026-11-27T00:00:00Z"),
        license_expires: at("2027-11-27T00:00:00Z"),
        exp: at("2027-12-04T00:00:00Z"),
        version: FORMAT_VERSION,
        account_type: "licensor".into(),
        account_id: "acme".into(),
        deployment_ids: vec![],
        trial: false,
        feature_set: FeatureSet::Enterprise,
        features: [("user_limit".to_owned(), seats)].into(),
        require_telemetry: false,
        evaluation: false,
        checkin: None,
        min_product_version: None,
        sequence: 0,
    }
}

#[test]
fn a_valid_license_exits_zero_and_reports_entitlements() {
    let f = Fixture::new();
    let file = f.write("license.jwt", &sign_license(&claims(20), &f.key).unwrap());
    let out = f.verify(&file, &["--users", "5"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("valid: license 00000000-0000-0000-0000-000000000015 (user limit 20)"),
        "{}",
        out.stdout
    );

    let table = coder_license(
        &[
            "inspect",
            "-f",
            &file,
            "--trust-key",
            &f.public,
            "--now",
            NOW,
            "--users",
            "5",
        ],
        None,
    );
    assert_eq!(table.code, 0, "{}", table.stderr);
    for expected in [
        "state:        active",
        "licensee:     admin@example.com",
        "term:         2026-11-27 to 2027-11-27, grace until 2027-12-04",
        "NOT a built-in key",
        "audit_log",
    ] {
        assert!(
            table.stdout.contains(expected),
            "{expected:?} in\n{}",
            table.stdout
        );
    }
    let line = table
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("user_limit "))
        .unwrap();
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        ["user_limit", "entitled", "20", "5"]
    );
}

#[test]
fn licenses_stack_and_can_come_from_standard_input() {
    let f = Fixture::new();
    let small = f.write("small.jwt", &sign_license(&claims(10), &f.key).unwrap());
    let mut other = claims(50);
    other.account_id = "acme-second".into();
    let big = sign_license(&other, &f.key).unwrap();
    let out = coder_license(
        &[
            "inspect",
            "-f",
            &small,
            "-f",
            "-",
            "--trust-key",
            &f.public,
            "--now",
            NOW,
            "-o",
            "json",
        ],
        Some(&big),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["licenses"][1]["name"], "stdin");
    assert_eq!(
        report["entitlements"]["features"]["user_limit"]["limit"],
        50
    );

    let twice = coder_license(&["verify", "-f", "-", "-f", "-", "--now", NOW], Some(&big));
    assert_eq!(twice.code, 2);
    assert!(twice.stderr.contains("only once"), "{}", twice.stderr);
}

#[test]
fn every_kind_of_malformed_token_is_refused_with_its_reason() {
    let f = Fixture::new();
    let good = sign_license(&claims(10), &f.key).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let payload = serde_json::to_string(&claims(10)).unwrap();
    let mut wrong_type = serde_json::to_value(claims(10)).unwrap();
    wrong_type["features"] = serde_json::json!({"user_limit": "ten"});
    let mut starts_after_end = serde_json::to_value(claims(10)).unwrap();
    starts_after_end["nbf"] = serde_json::json!(1_900_000_000);
    let mut grace_before_end = serde_json::to_value(claims(10)).unwrap();
    grace_before_end["exp"] = serde_json::json!(1_800_000_000);
    let mut tampered_payload = claims(10);
    tampered_payload
        .features
        .insert("user_limit".into(), 10_000);
    let mut flipped_signature = base64url::decode(parts[2]).unwrap();
    flipped_signature[10] ^= 1;
    let crit = format!(
        r#"{{"alg":"EdDSA","typ":"JWT","kid":"{}","crit":["x"]}}"#,
        f.key.key_id()
    );

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                base64url::encode(br#"{"alg":"none","typ":"JWT"}"#),
                parts[1]
            ),
            "algorithm \"none\"",
        ),
        (
            "alg HS256",
            sign_with_header(f.header("HS256").as_bytes(), payload.as_bytes(), &f.key),
            "algorithm \"HS256\"",
        ),
        (
            "alg RS256",
            sign_with_header(f.header("RS256").as_bytes(), payload.as_bytes(), &f.key),
            "algorithm \"RS256\"",
        ),
        (
            "no kid",
            sign_with_header(
                br#"{"alg":"EdDSA","typ":"JWT"}"#,
                payload.as_bytes(),
                &f.key,
            ),
            "no key id",
        ),
        (
            "unknown kid",
            sign_with_header(
                br#"{"alg":"EdDSA","typ":"JWT","kid":"2099-01-01"}"#,
                payload.as_bytes(),
                &f.key,
            ),
            "unknown key 2099-01-01",
        ),
        (
            "crit",
            sign_with_header(crit.as_bytes(), payload.as_bytes(), &f.key),
            "critical",
        ),
        (
            "two parts",
            format!("{}.{}", parts[0], parts[1]),
            "2 part(s)",
        ),
        ("four parts", format!("{good}.AAAA"), "4 part(s)"),
        (
            "padding",
            format!("{}.{}.{}==", parts[0], parts[1], parts[2]),
            "base64url",
        ),
        (
            "bad characters",
            format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                parts[2].replacen(|c: char| c.is_ascii_alphabetic(), "*", 1)
            ),
            "base64url",
        ),
        (
            "non-JSON payload",
            sign_with_header(f.header("EdDSA").as_bytes(), b"not json", &f.key),
            "not a JSON object",
        ),
        (
            "array payload",
            sign_with_header(f.header("EdDSA").as_bytes(), b"[1,2,3]", &f.key),
            "not a JSON object",
        ),
        (
            "wrong claim type",
            sign_with_header(
                f.header("EdDSA").as_bytes(),
                wrong_type.to_string().as_bytes(),
                &f.key,
            ),
            "malformed",
        ),
        (
            "nbf after license_expires",
            sign_with_header(
                f.header("EdDSA").as_bytes(),
                starts_after_end.to_string().as_bytes(),
                &f.key,
            ),
            "starts",
        ),
        (
            "license_expires after exp",
            sign_with_header(
                f.header("EdDSA").as_bytes(),
                grace_before_end.to_string().as_bytes(),
                &f.key,
            ),
            "grace period ends",
        ),
        ("oversized", "a".repeat(20_000), "the limit is 16384 bytes"),
        (
            "tampered payload",
            format!(
                "{}.{}.{}",
                parts[0],
                base64url::encode(&serde_json::to_vec(&tampered_payload).unwrap()),
                parts[2]
            ),
            "signature does not match",
        ),
        (
            "tampered signature",
            format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                base64url::encode(&flipped_signature)
            ),
            "signature does not match",
        ),
        ("empty file", String::new(), "empty"),
        ("binary garbage", "\u{fffd}\u{0}\u{1}".into(), "part(s)"),
    ];
    for (name, token, expected) in cases {
        let file = f.write("bad.jwt", &token);
        let out = f.verify(&file, &[]);
        assert_eq!(out.code, 1, "{name}: exit {}\n{}", out.code, out.stderr);
        assert!(
            out.stderr.contains(expected),
            "{name}: expected {expected:?} in {}",
            out.stderr
        );
        assert_eq!(
            out.stderr
                .lines()
                .filter(|l| l.starts_with("invalid:"))
                .count(),
            1,
            "{name}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{name}: {}", out.stderr);
        // inspect reports the same without failing.
        let inspect = coder_license(
            &[
                "inspect",
                "-f",
                &file,
                "--trust-key",
                &f.public,
                "--now",
                NOW,
            ],
            None,
        );
        assert_eq!(inspect.code, 0, "{name}: {}", inspect.stderr);
        assert!(
            inspect.stdout.contains("state:        invalid"),
            "{name}: {}",
            inspect.stdout
        );
    }
}

#[test]
fn usage_and_input_errors_exit_two_with_one_line() {
    let f = Fixture::new();
    let file = f.write("license.jwt", &sign_license(&claims(10), &f.key).unwrap());
    let missing = f.dir.path().join("missing.jwt").display().to_string();
    let not_a_key = f.write("not-a-key.pem", "hello");
    let big = f.write("big.jwt", &"a".repeat(2 * 1024 * 1024));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["verify"], "--file"),
        (
            vec!["verify", "-f", &file, "--now", "yesterday"],
            "RFC 3339",
        ),
        (
            vec![
                "verify",
                "-f",
                &file,
                "--deployment-id",
                "no spaces allowed",
            ],
            "deployment id",
        ),
        (vec!["verify", "-f", &file, "--users", "-3"], "-3"),
        (vec!["verify", "-f", &file, "-o", "xml"], "xml"),
        (vec!["verify", "-f", &missing], "cannot open license file"),
        (
            vec!["verify", "-f", &file, "--trust-key", &not_a_key],
            "public key",
        ),
        (
            vec!["verify", "-f", &file, "--trust-key", "bad kid!=x.pem"],
            "key id",
        ),
        (vec!["verify", "-f", &big], "larger than"),
    ];
    for (args, expected) in cases {
        let out = coder_license(&args, None);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(expected),
            "{args:?}: expected {expected:?} in {}",
            out.stderr
        );
    }
    let key_conflict = coder_license(
        &[
            "verify",
            "-f",
            &file,
            "--trust-key",
            &format!("a={}", f.public),
            "--trust-key",
            &format!("a={not_a_key}"),
        ],
        None,
    );
    assert_eq!(key_conflict.code, 2);
}

#[test]
fn a_trusted_key_under_the_same_id_as_another_is_refused() {
    let f = Fixture::new();
    let file = f.write("license.jwt", &sign_license(&claims(10), &f.key).unwrap());
    let other = SigningKey::from_seed(&[6; 32]);
    let other_pem = f.write("other.pub.pem", &other.public_key().to_spki_pem().unwrap());
    let out = coder_license(
        &[
            "verify",
            "-f",
            &file,
            "--trust-key",
            &format!("k1={}", f.public),
            "--trust-key",
            &format!("k1={other_pem}"),
        ],
        None,
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("already trusted for a different key"),
        "{}",
        out.stderr
    );
}

#[test]
fn expired_and_future_licenses_are_invalid_with_dates() {
    let f = Fixture::new();
    let file = f.write("license.jwt", &sign_license(&claims(10), &f.key).unwrap());
    let late = coder_license(
        &[
            "verify",
            "-f",
            &file,
            "--trust-key",
            &f.public,
            "--now",
            "2028-01-01T00:00:00Z",
        ],
        None,
    );
    assert_eq!(late.code, 1);
    assert!(
        late.stderr
            .contains("expired on 2027-11-27 (grace ended 2027-12-04)"),
        "{}",
        late.stderr
    );
    let clock_behind = coder_license(
        &[
            "verify",
            "-f",
            &file,
            "--trust-key",
            &f.public,
            "--now",
            "2026-11-01T00:00:00Z",
        ],
        None,
    );
    assert_eq!(clock_behind.code, 1);
    assert!(
        clock_behind.stderr.contains("the clock is behind"),
        "{}",
        clock_behind.stderr
    );
    assert!(Path::new(&file).exists());
}

/// `coder-license ARGS` with `env` set (and no trusted keys from the real home).
fn coder_license_with_env(args: &[&str], env: &[(&str, &str)], home: &Path) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_coder-license"))
        .args(args)
        .env_remove("CODER_LICENSE_TRUST_KEY")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", home)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

#[test]
fn a_key_is_trusted_once_from_the_environment_or_the_config_directory() {
    let f = Fixture::new();
    let file = f.write("license.jwt", &sign_license(&claims(20), &f.key).unwrap());
    let home = f.dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let verify = ["verify", "-f", &file, "--now", NOW];
    // Without a trusted key: refused, with the advice once.
    let out = coder_license_with_env(&verify, &[], &home);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("--trust-key").count(),
        1,
        "{}",
        out.stderr
    );
    // From CODER_LICENSE_TRUST_KEY (a ':'-separated list, empty entries ignored).
    let list = format!("{}::", f.public);
    let out = coder_license_with_env(&verify, &[("CODER_LICENSE_TRUST_KEY", &list)], &home);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // From ~/.config/coder-license/trusted-keys/, as a JWKS like the licensor's /api/v1/keys.
    let config = home.join(".config/coder-license/trusted-keys");
    std::fs::create_dir_all(&config).unwrap();
    let jwks = license_core::JwkSet {
        keys: vec![f.key.public_key().to_jwk(f.key.key_id())],
    };
    std::fs::write(
        config.join("licensor.json"),
        serde_json::to_string(&jwks).unwrap(),
    )
    .unwrap();
    let out = coder_license_with_env(&verify, &[], &home);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // XDG_CONFIG_HOME moves the directory.
    let xdg = f.dir.path().join("xdg");
    std::fs::create_dir(&xdg).unwrap();
    let out = coder_license_with_env(
        &verify,
        &[("XDG_CONFIG_HOME", xdg.to_str().unwrap())],
        &home,
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    // A broken key names where it came from.
    let out = coder_license_with_env(&verify, &[("CODER_LICENSE_TRUST_KEY", &file)], &home);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("(from CODER_LICENSE_TRUST_KEY)"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_closed_pipe_ends_completions_quietly() {
    // `coder-license completions bash | head -1`: the reader is gone before the script is
    // written; the command ends without a panic.
    let mut child = Command::new(env!("CARGO_BIN_EXE_coder-license"))
        .args(["completions", "bash"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
