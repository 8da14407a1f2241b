//! `inspect` and `verify` on the licenses installed in the cluster: the file mode's output
//! and exit status contract.

use crate::support::*;
use license_core::{LicenseId, Timestamp};
use serde_json::Value;

#[test]
fn inspect_and_verify_read_the_installed_licenses() {
    let env = Env::new();
    env.apply(&env.license(&claims(1, 10)), &[]).expect(0);
    let mut other = claims(2, 50);
    other.features.insert("user_limit".into(), 50);
    env.apply(&env.license(&other), &[]).expect(0);

    let table = env.judge("inspect", &["--users", "5"]).expect(0);
    for expected in [
        format!("LICENSE {} ({})", LicenseId::from_u128(1), key_of(1)),
        format!("LICENSE {} ({})", LicenseId::from_u128(2), key_of(2)),
        "state:        active".to_owned(),
        "ENTITLEMENTS at 2027-01-01T00:00:00Z".to_owned(),
    ] {
        assert!(
            table.stdout.contains(&expected),
            "{expected:?} in\n{}",
            table.stdout
        );
    }
    let json = env.judge("inspect", &["-o", "json"]).expect(0);
    let report: Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["licenses"].as_array().unwrap().len(), 2);
    assert_eq!(
        report["entitlements"]["features"]["user_limit"]["limit"],
        50
    );
    let yaml = env.judge("inspect", &["-o", "yaml"]).expect(0);
    assert!(yaml.stdout.contains("licenses:"), "{}", yaml.stdout);
    assert!(yaml.stdout.contains("has_license: true"), "{}", yaml.stdout);

    let verify = env.judge("verify", &[]).expect(0);
    assert!(
        verify.stdout.starts_with("valid: license "),
        "{}",
        verify.stdout
    );

    // The same licenses a year later: expired, exit 1 with the reason.
    let late = env
        .cli(&[
            "verify",
            "--trust-key",
            &env.public,
            "--now",
            "2028-06-01T00:00:00Z",
        ])
        .expect(1);
    assert!(late.stderr.contains("invalid: license"), "{}", late.stderr);
    assert!(
        late.stderr.contains("expired on 2027-11-27"),
        "{}",
        late.stderr
    );
}

#[test]
fn nothing_installed_is_invalid_not_an_error() {
    let env = Env::new();
    let verify = env.judge("verify", &[]).expect(1);
    assert!(
        verify.stderr.contains("no license is installed"),
        "{}",
        verify.stderr
    );
    let inspect = env.judge("inspect", &["-o", "json"]).expect(0);
    let report: Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(report["entitlements"]["has_license"], false);
}

#[test]
fn bound_licenses_are_judged_against_the_stored_deployment_id() {
    let env = Env::new();
    let id = env
        .cli(&["deployment-id"])
        .expect(0)
        .stdout
        .trim()
        .to_owned();
    let mut bound = claims(3, 10);
    bound.deployment_ids = vec![deployment(&id)];
    env.apply(&env.license(&bound), &[]).expect(0);
    env.judge("verify", &[]).expect(0);
    let elsewhere = env
        .judge("verify", &["--deployment-id", "somewhere-else"])
        .expect(1);
    assert!(
        elsewhere.stderr.contains("is bound to deployment"),
        "{}",
        elsewhere.stderr
    );
}

#[test]
fn a_turned_back_clock_is_caught_by_the_stored_high_water_mark() {
    let env = Env::new();
    env.apply(&env.license(&claims(4, 10)), &[]).expect(0);
    let mark = "2027-06-01T00:00:00Z";
    env.double
        .patch(
            &license_kube_double::SECRETS,
            NS,
            SECRET,
            &serde_json::json!({"metadata": {"annotations": {"licensor.coder.com/time-high-water-mark": mark}}}),
            "control-plane",
        )
        .unwrap();
    assert!(Timestamp::parse_rfc3339(mark).is_ok());
    let out = env.judge("verify", &[]).expect(1);
    assert!(
        out.stderr.contains("the clock was turned back"),
        "{}",
        out.stderr
    );
}
