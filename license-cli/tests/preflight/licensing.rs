//! The licensing checks: a trial's rules (licensor reachable, minimum version, check-in), an
//! evaluation-program license waiving them, and `apply` refusing a trial that fails them
//! unless `--skip-preflight`, which the Secret records.

use crate::support::*;
use license_kube_double::SECRETS;

#[test]
fn a_trial_must_reach_the_licensor_and_run_a_recent_enough_version() {
    let env = Env::good();
    // Replace the paid license with a trial without a check-in policy.
    env.double.delete(&SECRETS, NS, "coder-license").unwrap();
    env.install(&trial(7, false));
    let licensor = licensor();

    let (code, report) = env.report(&["--licensor", &licensor, "--product-version", "v2.16.1"]);
    assert_eq!(code, 0, "{report:#}");
    assert_check(&report, "license.installed", "pass", "valid");
    assert!(
        check(&report, "license.installed")["observed"]
            .as_str()
            .unwrap()
            .contains("(trial, active)"),
        "{report:#}"
    );
    assert_check(&report, "license.trial.licensor", "pass", "reachable");
    assert_eq!(
        check(&report, "license.trial.licensor")["observed"],
        format!("GET {licensor}/healthz: HTTP 200")
    );
    // The license's own minimum (2.15.0) is above the page's (1.10.0).
    assert_check(
        &report,
        "license.trial.product_version",
        "pass",
        "recent enough",
    );
    assert_eq!(
        check(&report, "license.trial.product_version")["required"],
        "2.15.0 or later"
    );
    assert_check(
        &report,
        "license.trial.checkin",
        "pass",
        "requires no check-in",
    );

    let closed = closed_port();
    let (code, report) = env.report(&["--licensor", &closed, "--product-version", "2.14.9"]);
    assert_eq!(code, 1, "{report:#}");
    assert_check(
        &report,
        "license.trial.licensor",
        "fail",
        &format!("cannot reach the licensor at {closed} ("),
    );
    assert_check(
        &report,
        "license.trial.licensor",
        "fail",
        "trials must reach the licensor (no air-gapped trials): allow egress from the cluster to it, or ask the vendor about the evaluation program",
    );
    assert_check(
        &report,
        "license.trial.product_version",
        "fail",
        "trials require the product at 2.15.0 or later and this deployment runs 2.14.9: upgrade the product first",
    );

    // Without the flags, nothing is claimed: warnings that say what to pass.
    let (code, report) = env.report(&[]);
    assert_eq!(code, 0);
    assert_check(
        &report,
        "license.trial.licensor",
        "warn",
        "not checked: pass --licensor URL",
    );
    assert_check(
        &report,
        "license.trial.product_version",
        "warn",
        "pass --product-version VERSION",
    );
}

#[test]
fn a_trial_that_has_not_checked_in_fails_with_the_command_to_run() {
    let env = Env::good();
    env.double.delete(&SECRETS, NS, "coder-license").unwrap();
    env.install(&trial(8, true));
    let (code, report) = env.report(&["--licensor", &licensor(), "--product-version", "2.15.0"]);
    assert_eq!(code, 1, "{report:#}");
    assert_check(
        &report,
        "license.trial.checkin",
        "fail",
        "grants nothing until the deployment checks in: run coder-license checkin --licensor URL now, and schedule it",
    );
    assert_eq!(
        check(&report, "license.trial.checkin")["required"],
        "a check-in every 24h, at most 72h offline"
    );
    assert_check(&report, "license.installed", "fail", "coder-license apply");
}

#[test]
fn an_evaluation_license_waives_the_trial_rules_naming_the_enrollment() {
    let env = Env::good();
    env.double.delete(&SECRETS, NS, "coder-license").unwrap();
    let mut claims = trial(9, false);
    claims.evaluation = true;
    claims.account_id = "engines-ltd".into();
    claims.account_type = "salesforce".into();
    env.install(&claims);
    // Even with an unreachable licensor and an old version: the rules do not apply.
    let (code, report) = env.report(&["--licensor", &closed_port(), "--product-version", "1.0.0"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["counts"]["waived"], 3);
    let id = license_core::LicenseId::from_u128(9);
    for name in [
        "license.trial.licensor",
        "license.trial.product_version",
        "license.trial.checkin",
    ] {
        assert_check(
            &report,
            name,
            "waived",
            &format!(
                "waived: license {id} is an evaluation-program license (licensee ada@engines.example, account engines-ltd (salesforce)): the enrollment waives the trial rules"
            ),
        );
    }
    let table = env.preflight(&[]).expect(0);
    assert!(
        table
            .stdout
            .contains("  [waived]   license.trial.licensor: "),
        "{}",
        table.stdout
    );
}

#[test]
fn apply_refuses_a_trial_that_fails_the_licensing_preflight_unless_skipped() {
    let env = Env::bare();
    let file = env.license(&trial(10, false));
    let closed = closed_port();

    let out = env
        .apply(
            &file,
            &["--licensor", &closed, "--product-version", "2.0.0"],
        )
        .expect(1);
    assert!(
        out.stderr.starts_with(&format!(
            "refused: trial license {} fails the licensing preflight: cannot reach the licensor at {closed}",
            license_core::LicenseId::from_u128(10)
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("trials require the product at 2.15.0 or later"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("install anyway with --skip-preflight"),
        "{}",
        out.stderr
    );
    assert!(
        env.double.object(&SECRETS, NS, "coder-license").is_none(),
        "nothing installed"
    );

    // Skipped: installed, and the Secret says so.
    let out = env
        .apply(&file, &["--licensor", &closed, "--skip-preflight"])
        .expect(0);
    assert!(
        out.stderr
            .contains("warning: --skip-preflight: the trial rules were not checked"),
        "{}",
        out.stderr
    );
    let secret = env.double.object(&SECRETS, NS, "coder-license").unwrap();
    assert_eq!(
        secret["metadata"]["annotations"]["licensor.coder.com/preflight-skipped"],
        format!("{NOW} license {}", license_core::LicenseId::from_u128(10))
    );
    let data = secret["data"].as_object().unwrap();
    assert!(data.keys().any(|k| k.starts_with("license-")), "{secret:#}");

    // Passing: installed, nothing recorded.
    let env = Env::bare();
    let file = env.license(&trial(11, false));
    let out = env
        .apply(
            &file,
            &["--licensor", &licensor(), "--product-version", "2.15.0"],
        )
        .expect(0);
    assert!(!out.stderr.contains("preflight"), "{}", out.stderr);
    let secret = env.double.object(&SECRETS, NS, "coder-license").unwrap();
    assert!(
        secret["metadata"]["annotations"]
            .get("licensor.coder.com/preflight-skipped")
            .is_none()
    );

    // Without the flags: warnings, and the install goes ahead.
    let file = env.license(&trial(12, false));
    let out = env.apply(&file, &[]).expect(0);
    assert!(
        out.stderr.contains(
            "warning: preflight license.trial.licensor: not checked: pass --licensor URL"
        ),
        "{}",
        out.stderr
    );

    // A paid license and an evaluation trial are not checked.
    env.apply(&env.license(&claims(13)), &["--licensor", &closed])
        .expect(0);
    let mut evaluation = trial(14, false);
    evaluation.evaluation = true;
    let out = env
        .apply(
            &env.license(&evaluation),
            &["--licensor", &closed, "--product-version", "1.0.0"],
        )
        .expect(0);
    assert!(
        out.stderr.contains("is an evaluation-program license"),
        "{}",
        out.stderr
    );
}
