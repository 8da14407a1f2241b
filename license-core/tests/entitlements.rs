//! Behaviour of `Entitlements::compute`: the rules listed at the top of src/entitlements.rs,
//! each checked with licenses that were really signed and verified.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use license_core::{
    Context, DAY, DEFAULT_MAX_CLOCK_SKEW_SECS, DeploymentId, ENTERPRISE_FEATURES, Email,
    Entitlement, Entitlements, FORMAT_VERSION, FeatureEntitlement, FeatureSet, InstalledLicense,
    Keyring, LicenseClaims, LicenseId, LicenseState, PREMIUM_ONLY_FEATURES, SigningKey, Timestamp,
    Verifier, known_features, sign_license,
};
use std::collections::BTreeMap;

/// Midnight UTC of `date` (`2026-11-27`).
fn day(date: &str) -> Timestamp {
    Timestamp::parse_rfc3339(&format!("{date}T00:00:00Z")).unwrap()
}

/// The clock of every test unless it says otherwise.
fn now() -> Timestamp {
    day("2026-11-27")
}

fn id(n: u128) -> LicenseId {
    LicenseId::from_u128(n)
}

fn key() -> SigningKey {
    SigningKey::from_seed(&[0x11; 32])
}

fn verifier() -> Verifier {
    let key = key();
    let mut keyring = Keyring::empty();
    keyring.add(key.key_id().clone(), key.public_key()).unwrap();
    Verifier::new(keyring)
}

/// A paid enterprise license of account `acme` with 50 seats, in force from 2026-01-01 to
/// 2027-01-01 with a week of grace.
fn paid(n: u128) -> LicenseClaims {
    LicenseClaims {
        iss: "licensor".into(),
        sub: Email::parse("admin@example.com").unwrap(),
        jti: id(n),
        iat: day("2026-01-01"),
        nbf: day("2026-01-01"),
        license_expires: day("2027-01-01"),
        exp: day("2027-01-08"),
        version: FORMAT_VERSION,
        account_type: "licensor".into(),
        account_id: "acme".into(),
        deployment_ids: vec![],
        trial: false,
        feature_set: FeatureSet::Enterprise,
        features: BTreeMap::from([("user_limit".into(), 50)]),
        require_telemetry: false,
        evaluation: false,
        checkin: None,
        min_product_version: None,
        sequence: 1,
    }
}

/// `claims` with its term ending at `license_expires` and its grace period at `exp`.
fn ending(mut claims: LicenseClaims, license_expires: Timestamp, exp: Timestamp) -> LicenseClaims {
    claims.license_expires = license_expires;
    claims.exp = exp;
    claims
}

/// Signs `claims` with the test key and verifies the token at `at`, as a control plane
/// reading `license-<id>.jwt` would.
fn install_at(claims: &LicenseClaims, at: Timestamp) -> InstalledLicense {
    let token = sign_license(claims, &key()).unwrap();
    InstalledLicense {
        name: format!("license-{}.jwt", claims.jti),
        verdict: verifier().verify(&token, at),
    }
}

fn install(claims: &LicenseClaims) -> InstalledLicense {
    install_at(claims, now())
}

fn compute(installed: &[InstalledLicense]) -> Entitlements {
    Entitlements::compute(installed, &Context::at(now()))
}

fn feature(e: &Entitlements, name: &str) -> FeatureEntitlement {
    *e.features
        .get(name)
        .unwrap_or_else(|| panic!("feature {name} is not reported"))
}

fn states(e: &Entitlements) -> Vec<LicenseState> {
    e.licenses.iter().map(|l| l.state).collect()
}

/// Asserts that exactly one of `messages` contains every one of `parts`.
#[track_caller]
fn assert_one_mentions(messages: &[String], parts: &[&str]) {
    let matching: Vec<&String> = messages
        .iter()
        .filter(|m| parts.iter().all(|p| m.contains(p)))
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "expected one message mentioning {parts:?} in {messages:#?}"
    );
}

#[test]
fn no_license_installed_is_an_error() {
    let e = compute(&[]);
    assert!(!e.is_valid());
    assert!(!e.has_license);
    assert_eq!(e.errors.len(), 1);
    assert!(
        e.errors[0].contains("no license is installed"),
        "{:?}",
        e.errors
    );
    assert!(e.warnings.is_empty());
    assert!(e.licenses.is_empty());
    for name in known_features() {
        assert_eq!(e.entitlement(name), Entitlement::NotEntitled, "{name}");
    }
    assert_eq!(e.evaluated_at, now());
    assert_eq!(e.high_water_mark, now());
}

#[test]
fn one_active_license_entitles_its_features() {
    let mut claims = paid(1);
    claims.features.insert("custom_thing".into(), 1);
    claims.features.insert("switched_off".into(), 0);
    let e = compute(&[install(&claims)]);

    assert!(e.is_valid(), "{e:#?}");
    assert!(e.has_license);
    assert!(!e.trial);
    assert!(!e.evaluation);
    assert!(e.errors.is_empty() && e.warnings.is_empty(), "{e:#?}");
    assert_eq!(
        feature(&e, "user_limit"),
        FeatureEntitlement {
            entitlement: Entitlement::Entitled,
            limit: Some(50),
            actual: None
        }
    );
    for name in ENTERPRISE_FEATURES {
        assert_eq!(
            feature(&e, name),
            FeatureEntitlement {
                entitlement: Entitlement::Entitled,
                limit: None,
                actual: None
            },
            "{name}"
        );
    }
    for name in PREMIUM_ONLY_FEATURES {
        assert_eq!(e.entitlement(name), Entitlement::NotEntitled, "{name}");
    }
    // Features outside the known list are reported when a license grants them; a zero value
    // grants nothing.
    assert_eq!(e.entitlement("custom_thing"), Entitlement::Entitled);
    assert_eq!(e.entitlement("switched_off"), Entitlement::NotEntitled);
    assert_eq!(e.entitlement("never_heard_of"), Entitlement::NotEntitled);

    assert_eq!(e.licenses.len(), 1);
    let report = &e.licenses[0];
    assert_eq!(report.name, format!("license-{}.jwt", id(1)));
    assert_eq!(report.id, Some(id(1)));
    assert_eq!(report.state, LicenseState::Active);
    assert!(report.grants);
    assert_eq!(report.reason, None);
    assert_eq!(e.evaluated_at, now());
    assert_eq!(e.high_water_mark, now());
}

#[test]
fn stacked_licenses_take_the_better_grant_per_feature() {
    let base = paid(1);
    let mut addon = paid(2);
    addon.account_id = "globex".into();
    addon.feature_set = FeatureSet::None;
    addon.features = BTreeMap::from([
        ("user_limit".into(), 100),
        ("multiple_organizations".into(), 1),
    ]);

    for installed in [
        [install(&base), install(&addon)],
        [install(&addon), install(&base)],
    ] {
        let e = compute(&installed);
        assert!(e.is_valid(), "{e:#?}");
        assert_eq!(states(&e), vec![LicenseState::Active; 2]);
        assert_eq!(
            feature(&e, "user_limit").limit,
            Some(100),
            "the higher limit wins"
        );
        assert_eq!(e.entitlement("user_limit"), Entitlement::Entitled);
        assert_eq!(
            e.entitlement("audit_log"),
            Entitlement::Entitled,
            "only the base grants it"
        );
        assert_eq!(
            e.entitlement("multiple_organizations"),
            Entitlement::Entitled,
            "only the add-on"
        );
        assert_eq!(e.entitlement("custom_roles"), Entitlement::NotEntitled);
    }

    let mut bigger = paid(3);
    bigger.account_id = "globex".into();
    bigger.features.insert("user_limit".into(), 20);
    let e = compute(&[install(&base), install(&bigger)]);
    assert_eq!(
        feature(&e, "user_limit").limit,
        Some(50),
        "the higher limit wins in any order"
    );
}

#[test]
fn an_entitled_grant_beats_a_grace_period_grant_and_the_grace_is_still_announced() {
    // A premium license in its grace period beside an enterprise license in force.
    let mut lapsing = ending(paid(1), day("2026-11-20"), day("2026-12-04"));
    lapsing.feature_set = FeatureSet::Premium;
    lapsing.features.insert("user_limit".into(), 200);
    let mut current = paid(2);
    current.account_id = "globex".into();
    current.features.insert("user_limit".into(), 20);

    let e = compute(&[install(&lapsing), install(&current)]);
    assert!(e.is_valid(), "{e:#?}");
    assert_eq!(
        states(&e),
        vec![LicenseState::GracePeriod, LicenseState::Active]
    );
    // Entitled wins over grace period, even with a lower limit.
    assert_eq!(
        feature(&e, "user_limit"),
        FeatureEntitlement {
            entitlement: Entitlement::Entitled,
            limit: Some(20),
            actual: None
        }
    );
    assert_eq!(e.entitlement("audit_log"), Entitlement::Entitled);
    // Premium features only the lapsing license grants are in their grace period, and stop
    // on 2026-12-04: that must be announced.
    assert_eq!(e.entitlement("custom_roles"), Entitlement::GracePeriod);
    assert_one_mentions(
        &e.warnings,
        &[&id(1).to_string(), "2026-11-20", "2026-12-04"],
    );
}

#[test]
fn the_grace_period_grants_with_a_warning_naming_its_end() {
    let claims = ending(paid(1), day("2026-11-20"), day("2026-12-04"));
    let e = compute(&[install(&claims)]);

    assert!(
        e.is_valid(),
        "a grace period is a warning, not an error: {e:#?}"
    );
    assert!(e.errors.is_empty());
    assert_eq!(states(&e), vec![LicenseState::GracePeriod]);
    assert!(e.licenses[0].grants);
    assert_eq!(
        feature(&e, "user_limit"),
        FeatureEntitlement {
            entitlement: Entitlement::GracePeriod,
            limit: Some(50),
            actual: None
        }
    );
    for name in ENTERPRISE_FEATURES {
        assert_eq!(e.entitlement(name), Entitlement::GracePeriod, "{name}");
    }
    assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
    assert_one_mentions(
        &e.warnings,
        &[
            &id(1).to_string(),
            "expired on 2026-11-20",
            "grace period ends on 2026-12-04",
        ],
    );
    let reason = e.licenses[0].reason.as_deref().unwrap();
    assert!(
        reason.contains("2026-11-20") && reason.contains("2026-12-04"),
        "{reason}"
    );

    // The last second of the grace period still grants; the next one does not.
    let at = |t: Timestamp| Entitlements::compute(&[install(&claims)], &Context::at(t));
    assert_eq!(
        at(day("2026-12-04")).entitlement("audit_log"),
        Entitlement::GracePeriod
    );
    assert_eq!(
        at(day("2026-12-04").add_seconds(1)).entitlement("audit_log"),
        Entitlement::NotEntitled
    );
    // And the term's last second is still in force.
    assert_eq!(
        at(day("2026-11-20")).entitlement("audit_log"),
        Entitlement::Entitled
    );
}

#[test]
fn a_license_past_its_grace_is_an_error_when_nothing_else_grants() {
    let claims = ending(paid(1), day("2026-11-01"), day("2026-11-08"));
    let e = compute(&[install(&claims)]);

    assert!(!e.is_valid());
    assert!(!e.has_license);
    assert_eq!(states(&e), vec![LicenseState::Expired]);
    assert!(!e.licenses[0].grants);
    for name in known_features() {
        assert_eq!(e.entitlement(name), Entitlement::NotEntitled, "{name}");
    }
    assert_eq!(e.errors.len(), 1, "{:?}", e.errors);
    assert_one_mentions(
        &e.errors,
        &[
            &id(1).to_string(),
            "expired on 2026-11-01 (grace ended 2026-11-08)",
        ],
    );

    // Without a grace period, the message does not invent one.
    let no_grace = ending(paid(2), day("2026-11-01"), day("2026-11-01"));
    let e = compute(&[install(&no_grace)]);
    assert_eq!(states(&e), vec![LicenseState::Expired]);
    assert_one_mentions(&e.errors, &[&id(2).to_string(), "expired on 2026-11-01"]);
    assert!(!e.errors[0].contains("grace"), "{:?}", e.errors);
}

#[test]
fn a_license_past_its_grace_beside_a_granting_one_is_only_a_warning() {
    let old = ending(paid(1), day("2026-11-01"), day("2026-11-08"));
    let mut current = paid(2);
    current.sequence = 2;
    let e = compute(&[install(&old), install(&current)]);

    assert!(e.is_valid(), "{e:#?}");
    assert!(e.errors.is_empty());
    assert_eq!(
        states(&e),
        vec![LicenseState::Expired, LicenseState::Active]
    );
    assert_eq!(e.entitlement("audit_log"), Entitlement::Entitled);
    assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
    assert_one_mentions(
        &e.warnings,
        &[
            &id(1).to_string(),
            "expired on 2026-11-01 (grace ended 2026-11-08)",
        ],
    );
}

#[test]
fn expiry_is_announced_30_days_ahead_for_paid_licenses() {
    let expiring = |n: u128, days: i64| {
        let end = now().add_seconds(days * DAY);
        compute(&[install(&ending(paid(n), end, end.add_seconds(7 * DAY)))])
    };

    let e = expiring(1, 31);
    assert!(
        e.warnings.is_empty(),
        "31 days ahead is too early: {:?}",
        e.warnings
    );

    let e = expiring(2, 30);
    assert!(e.is_valid());
    assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
    assert_one_mentions(
        &e.warnings,
        &[
            "license",
            &id(2).to_string(),
            "expires on 2026-12-27",
            "in 30 days",
        ],
    );
    assert!(!e.warnings[0].contains("trial"), "{:?}", e.warnings);

    let e = expiring(3, 1);
    assert_one_mentions(
        &e.warnings,
        &[&id(3).to_string(), "expires on 2026-11-28", "in 1 day"],
    );

    let e = expiring(4, 0);
    assert_one_mentions(
        &e.warnings,
        &[&id(4).to_string(), "expires on 2026-11-27", "today"],
    );
    assert_eq!(e.entitlement("audit_log"), Entitlement::Entitled);

    // One second past the window: no warning yet.
    let end = now().add_seconds(30 * DAY + 1);
    let e = compute(&[install(&ending(paid(5), end, end))]);
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
}

#[test]
fn trial_expiry_is_announced_7_days_ahead() {
    let expiring = |n: u128, days: i64| {
        let end = now().add_seconds(days * DAY);
        let mut claims = ending(paid(n), end, end);
        claims.trial = true;
        compute(&[install(&claims)])
    };

    let e = expiring(1, 8);
    assert!(e.trial);
    assert!(
        e.warnings.is_empty(),
        "8 days ahead is too early for a trial: {:?}",
        e.warnings
    );

    let e = expiring(2, 7);
    assert!(e.is_valid());
    assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
    assert_one_mentions(
        &e.warnings,
        &[
            "trial license",
            &id(2).to_string(),
            "expires on 2026-12-04",
            "in 7 days",
        ],
    );
}

#[test]
fn a_renewal_installed_early_suppresses_the_expiry_warning() {
    let current = ending(paid(1), day("2026-12-07"), day("2026-12-14"));
    let mut renewal = ending(paid(2), day("2027-12-07"), day("2027-12-14"));
    renewal.nbf = current.license_expires;
    renewal.sequence = 2;
    renewal.feature_set = FeatureSet::Premium;

    let e = compute(&[install(&current), install(&renewal)]);
    assert!(e.is_valid(), "{e:#?}");
    assert!(
        e.warnings.is_empty(),
        "the renewal continues the license: {:?}",
        e.warnings
    );
    assert!(e.errors.is_empty());
    assert_eq!(
        states(&e),
        vec![LicenseState::Active, LicenseState::NotYetValid]
    );
    assert!(!e.licenses[1].grants);
    let reason = e.licenses[1].reason.as_deref().unwrap();
    assert!(reason.contains("starts on 2026-12-07"), "{reason}");
    // The renewal grants nothing before it starts.
    assert_eq!(e.entitlement("custom_roles"), Entitlement::NotEntitled);
    assert_eq!(e.entitlement("audit_log"), Entitlement::Entitled);

    // Once in force, the renewal takes over (and supersedes the old license).
    let later = Entitlements::compute(
        &[install(&current), install(&renewal)],
        &Context::at(day("2026-12-10")),
    );
    assert_eq!(later.entitlement("custom_roles"), Entitlement::Entitled);
    assert!(later.errors.is_empty(), "{:?}", later.errors);
}

#[test]
fn a_renewal_with_a_gap_does_not_suppress_the_expiry_warning() {
    let current = ending(paid(1), day("2026-12-07"), day("2026-12-07"));
    let mut renewal = ending(paid(2), day("2027-12-07"), day("2027-12-14"));
    renewal.nbf = day("2026-12-09");
    renewal.sequence = 2;

    let e = compute(&[install(&current), install(&renewal)]);
    assert!(e.is_valid(), "{e:#?}");
    assert_eq!(
        states(&e),
        vec![LicenseState::Active, LicenseState::NotYetValid]
    );
    assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
    assert_one_mentions(
        &e.warnings,
        &[&id(1).to_string(), "expires on 2026-12-07", "in 10 days"],
    );
}

#[test]
fn a_license_granting_less_does_not_silence_the_expiry_warning() {
    // A premium license ending in 10 days beside an enterprise license of another account that
    // runs for months: the premium features stop on 2026-12-07, so that must be announced.
    let mut ending_soon = ending(paid(1), day("2026-12-07"), day("2026-12-07"));
    ending_soon.feature_set = FeatureSet::Premium;
    let mut other = ending(paid(2), day("2027-06-01"), day("2027-06-01"));
    other.account_id = "globex".into();
    let e = compute(&[install(&ending_soon), install(&other)]);
    assert!(e.is_valid(), "{e:#?}");
    assert_one_mentions(&e.warnings, &[&id(1).to_string(), "expires on 2026-12-07"]);

    // A renewal granting fewer features does not continue the license either.
    let mut downgrade = ending(paid(3), day("2027-12-07"), day("2027-12-07"));
    downgrade.nbf = day("2026-12-07");
    downgrade.sequence = 2;
    let e = compute(&[install(&ending_soon), install(&downgrade)]);
    assert_one_mentions(&e.warnings, &[&id(1).to_string(), "expires on 2026-12-07"]);

    // One granting at least the same features does.
    let mut renewal = downgrade.clone();
    renewal.feature_set = FeatureSet::Premium;
    let e = compute(&[install(&ending_soon), install(&renewal)]);
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
}

#[test]
fn a_renewal_in_force_also_silences_the_grace_warning() {
    let lapsing = ending(paid(1), day("2026-11-20"), day("2026-12-04"));
    let mut renewal = ending(paid(2), day("2027-11-20"), day("2027-11-27"));
    renewal.nbf = day("2026-11-20");
    renewal.sequence = 2;
    let e = compute(&[install(&lapsing), install(&renewal)]);
    assert!(e.is_valid(), "{e:#?}");
    assert_eq!(e.entitlement("audit_log"), Entitlement::Entitled);
    assert!(
        !e.warnings.iter().any(|w| w.contains("grace period ends")),
        "{:?}",
        e.warnings
    );
}

#[test]
fn over_the_user_limit_is_a_warning_not_a_lockout() {
    let installed = [install(&paid(1))];
    let with_users = |users: u64| {
        Entitlements::compute(
            &installed,
            &Context {
                active_users: Some(users),
                ..Context::at(now())
            },
        )
    };

    let e = with_users(50);
    assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    assert_eq!(feature(&e, "user_limit").actual, Some(50));

    let e = with_users(51);
    assert!(e.is_valid(), "over the limit is not an error: {e:#?}");
    assert_eq!(
        feature(&e, "user_limit"),
        FeatureEntitlement {
            entitlement: Entitlement::Entitled,
            limit: Some(50),
            actual: Some(51)
        }
    );
    assert_eq!(e.entitlement("audit_log"), Entitlement::Entitled);
    assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
    assert_one_mentions(&e.warnings, &["51 active users", "user limit of 50"]);
}

#[test]
fn a_bound_license_grants_only_on_its_deployments() {
    let a = DeploymentId::parse("dep-a").unwrap();
    let c = DeploymentId::parse("dep-c").unwrap();
    let mut claims = paid(1);
    claims.deployment_ids = vec![a.clone(), DeploymentId::parse("dep-b").unwrap()];
    let installed = [install(&claims)];
    let on = |deployment_id: Option<&DeploymentId>| {
        Entitlements::compute(
            &installed,
            &Context {
                deployment_id,
                ..Context::at(now())
            },
        )
    };

    let e = on(Some(&a));
    assert!(e.is_valid(), "{e:#?}");
    assert_eq!(states(&e), vec![LicenseState::Active]);
    assert_eq!(e.entitlement("audit_log"), Entitlement::Entitled);

    let e = on(Some(&c));
    assert!(!e.is_valid());
    assert!(!e.has_license);
    assert_eq!(states(&e), vec![LicenseState::WrongDeployment]);
    assert!(!e.licenses[0].grants);
    assert_eq!(e.entitlement("audit_log"), Entitlement::NotEntitled);
    assert_one_mentions(
        &e.errors,
        &[
            &id(1).to_string(),
            "dep-a, dep-b",
            "this deployment is dep-c",
        ],
    );

    let e = on(None);
    assert!(!e.is_valid());
    assert_eq!(states(&e), vec![LicenseState::WrongDeployment]);
    assert_eq!(e.entitlement("audit_log"), Entitlement::NotEntitled);
    assert_one_mentions(&e.errors, &[&id(1).to_string(), "dep-a", "not known"]);

    // An unbound license grants on any deployment, known or not.
    let unbound = [install(&paid(2))];
    let e = Entitlements::compute(
        &unbound,
        &Context {
            deployment_id: Some(&c),
            ..Context::at(now())
        },
    );
    assert!(e.is_valid());
}

#[test]
fn a_bound_license_on_another_deployment_is_an_error_even_beside_a_granting_one() {
    let mut bound = paid(1);
    bound.account_id = "globex".into();
    bound.feature_set = FeatureSet::Premium;
    bound.deployment_ids = vec![DeploymentId::parse("dep-a").unwrap()];
    let c = DeploymentId::parse("dep-c").unwrap();
    let e = Entitlements::compute(
        &[install(&bound), install(&paid(2))],
        &Context {
            deployment_id: Some(&c),
            ..Context::at(now())
        },
    );
    assert!(!e.is_valid());
    assert!(e.has_license);
    assert_eq!(
        states(&e),
        vec![LicenseState::WrongDeployment, LicenseState::Active]
    );
    assert_eq!(e.entitlement("custom_roles"), Entitlement::NotEntitled);
    assert_eq!(e.entitlement("audit_log"), Entitlement::Entitled);
    assert_one_mentions(&e.errors, &["dep-a", "dep-c"]);
}

#[test]
fn an_invalid_token_is_an_error_and_the_others_still_grant() {
    let stranger = SigningKey::from_seed(&[0x22; 32]);
    let mut premium = paid(2);
    premium.feature_set = FeatureSet::Premium;
    let installed = [
        install(&paid(1)),
        InstalledLicense {
            name: "forged.jwt".into(),
            verdict: verifier().verify(&sign_license(&premium, &stranger).unwrap(), now()),
        },
        InstalledLicense {
            name: "garbage.jwt".into(),
            verdict: verifier().verify("not a token", now()),
        },
    ];
    let e = compute(&installed);

    assert!(!e.is_valid());
    assert!(e.has_license);
    assert_eq!(
        states(&e),
        vec![
            LicenseState::Active,
            LicenseState::Invalid,
            LicenseState::Invalid
        ]
    );
    assert_eq!(e.licenses[1].id, None);
    assert!(!e.licenses[1].grants);
    assert_eq!(e.entitlement("audit_log"), Entitlement::Entitled);
    assert_eq!(
        e.entitlement("custom_roles"),
        Entitlement::NotEntitled,
        "a forged license grants nothing"
    );
    assert_eq!(e.errors.len(), 2, "{:?}", e.errors);
    assert_one_mentions(
        &e.errors,
        &["forged.jwt", "unknown key", stranger.key_id().as_str()],
    );
    assert_one_mentions(&e.errors, &["garbage.jwt", "part(s)"]);
}

#[test]
fn a_newer_sequence_supersedes_within_an_account() {
    let old = paid(1);
    let mut reissue = paid(2);
    reissue.sequence = 2;
    reissue.features.insert("user_limit".into(), 20);

    let e = compute(&[install(&old), install(&reissue)]);
    assert!(e.is_valid(), "{e:#?}");
    assert_eq!(
        states(&e),
        vec![LicenseState::Superseded, LicenseState::Active]
    );
    assert!(!e.licenses[0].grants);
    assert_eq!(
        feature(&e, "user_limit").limit,
        Some(20),
        "the reissue replaces, it does not stack"
    );
    assert_eq!(e.warnings.len(), 1, "{:?}", e.warnings);
    assert_one_mentions(
        &e.warnings,
        &[
            &id(1).to_string(),
            &format!("superseded by license {}", id(2)),
            "sequence 2 over 1",
        ],
    );

    // The highest sequence names the winner when there are several.
    let mut third = paid(3);
    third.sequence = 3;
    third.features.insert("user_limit".into(), 30);
    let e = compute(&[install(&third), install(&old), install(&reissue)]);
    assert_eq!(
        states(&e),
        vec![
            LicenseState::Active,
            LicenseState::Superseded,
            LicenseState::Superseded
        ]
    );
    assert_eq!(feature(&e, "user_limit").limit, Some(30));
}

#[test]
fn supersession_needs_the_same_account_and_a_license_in_force() {
    let old = paid(1);

    let mut other_account = paid(2);
    other_account.account_id = "globex".into();
    other_account.sequence = 2;
    other_account.features.insert("user_limit".into(), 20);
    let e = compute(&[install(&old), install(&other_account)]);
    assert_eq!(states(&e), vec![LicenseState::Active; 2]);
    assert_eq!(
        feature(&e, "user_limit").limit,
        Some(50),
        "other accounts stack"
    );

    let mut not_yet = paid(3);
    not_yet.sequence = 2;
    not_yet.nbf = day("2026-12-15");
    not_yet.features.insert("user_limit".into(), 20);
    let e = compute(&[install(&old), install(&not_yet)]);
    assert_eq!(
        states(&e),
        vec![LicenseState::Active, LicenseState::NotYetValid]
    );
    assert_eq!(feature(&e, "user_limit").limit, Some(50));
    assert!(e.is_valid());

    let mut expired = ending(paid(4), day("2026-11-01"), day("2026-11-01"));
    expired.sequence = 2;
    let e = compute(&[install(&old), install(&expired)]);
    assert_eq!(
        states(&e),
        vec![LicenseState::Active, LicenseState::Expired]
    );
    assert_eq!(feature(&e, "user_limit").limit, Some(50));

    // Licenses without an account never supersede one another.
    let mut anonymous_old = paid(5);
    anonymous_old.account_id = String::new();
    let mut anonymous_new = paid(6);
    anonymous_new.account_id = String::new();
    anonymous_new.sequence = 2;
    anonymous_new.features.insert("user_limit".into(), 20);
    let e = compute(&[install(&anonymous_old), install(&anonymous_new)]);
    assert_eq!(states(&e), vec![LicenseState::Active; 2]);
    assert_eq!(feature(&e, "user_limit").limit, Some(50));
}

#[test]
fn a_clock_turned_back_is_an_error_and_revives_nothing() {
    // In force until 2026-12-02, no grace; the deployment has already seen 2026-12-07.
    let claims = ending(paid(1), day("2026-12-02"), day("2026-12-02"));
    let mark = day("2026-12-07");
    let e = Entitlements::compute(
        &[install(&claims)],
        &Context {
            high_water_mark: Some(mark),
            ..Context::at(now())
        },
    );

    assert!(!e.is_valid());
    assert_eq!(
        e.evaluated_at, mark,
        "licenses are judged at the latest time seen"
    );
    assert_eq!(e.high_water_mark, mark);
    assert_one_mentions(
        &e.errors,
        &[
            "2026-11-27T00:00:00Z",
            "2026-12-07T00:00:00Z",
            "turned back",
        ],
    );
    // The license expired before the mark: turning the clock back does not revive it.
    assert_eq!(states(&e), vec![LicenseState::Expired]);
    assert_eq!(e.entitlement("audit_log"), Entitlement::NotEntitled);
    assert_one_mentions(&e.errors, &[&id(1).to_string(), "expired on 2026-12-02"]);

    // At the real time, with no mark, the same license is in force.
    let honest = compute(&[install(&claims)]);
    assert_eq!(states(&honest), vec![LicenseState::Active]);
}

#[test]
fn a_mark_within_the_skew_is_no_error() {
    let installed = [install(&paid(1))];
    let with_mark = |mark: Timestamp| {
        Entitlements::compute(
            &installed,
            &Context {
                high_water_mark: Some(mark),
                ..Context::at(now())
            },
        )
    };

    let just_ahead = now().add_seconds(DEFAULT_MAX_CLOCK_SKEW_SECS);
    let e = with_mark(just_ahead);
    assert!(e.is_valid(), "{e:#?}");
    assert_eq!(e.evaluated_at, just_ahead);
    assert_eq!(e.high_water_mark, just_ahead);

    let e = with_mark(now().add_seconds(DEFAULT_MAX_CLOCK_SKEW_SECS + 1));
    assert!(!e.is_valid());
    assert_eq!(e.errors.len(), 1, "{:?}", e.errors);
    assert!(e.errors[0].contains("turned back"), "{:?}", e.errors);
    assert!(e.has_license, "a wrong clock alone takes no feature away");

    let e = with_mark(now().add_seconds(-DAY));
    assert!(e.is_valid());
    assert_eq!(e.evaluated_at, now());
    assert_eq!(e.high_water_mark, now());
}

#[test]
fn the_high_water_mark_is_the_latest_of_now_the_mark_and_the_license_iats() {
    let mut fresh = paid(1);
    fresh.iat = now().add_seconds(100); // Within the skew: signed by a clock slightly ahead.
    let installed = [install(&paid(2)), install(&fresh)];
    let with_mark = |mark: Option<Timestamp>| {
        Entitlements::compute(
            &installed,
            &Context {
                high_water_mark: mark,
                ..Context::at(now())
            },
        )
    };

    assert_eq!(with_mark(None).high_water_mark, now().add_seconds(100));
    assert_eq!(
        with_mark(Some(now().add_seconds(-DAY))).high_water_mark,
        now().add_seconds(100)
    );
    assert_eq!(
        with_mark(Some(now().add_seconds(250))).high_water_mark,
        now().add_seconds(250)
    );
    assert_eq!(
        with_mark(None).evaluated_at,
        now(),
        "an iat moves the mark, not the judgement"
    );

    let older = [install(&paid(3))];
    let e = Entitlements::compute(&older, &Context::at(now()));
    assert_eq!(e.high_water_mark, now());
}

#[test]
fn trial_and_evaluation_flags_follow_the_licenses_that_grant() {
    let mut trial = ending(paid(1), day("2026-12-20"), day("2026-12-20"));
    trial.trial = true;
    let e = compute(&[install(&trial)]);
    assert!(e.trial);
    assert!(!e.evaluation);

    let mut evaluation = paid(2);
    evaluation.evaluation = true;
    let e = compute(&[install(&evaluation)]);
    assert!(e.evaluation);
    assert!(!e.trial);

    // An expired trial beside a paid license: the deployment is not on a trial.
    let mut old_trial = ending(paid(3), day("2026-10-01"), day("2026-10-01"));
    old_trial.trial = true;
    old_trial.evaluation = true;
    let mut current = paid(4);
    current.sequence = 2;
    let e = compute(&[install(&old_trial), install(&current)]);
    assert!(e.is_valid(), "{e:#?}");
    assert!(!e.trial);
    assert!(!e.evaluation);
}
