//! The evaluation program at work: each waiver lets through the request its rule refuses, the
//! grants (longer term within the maximum, more seats), and which requests an enrollment covers.

use crate::helpers::{
    create_account, enroll, enrollment, expect_json, get, grant, on_both_backends, refuse,
    send_trial, spawn, spawn_default, time, trial_body, trial_license, with,
};
use crate::support::Kind;
use license_core::{DAY, LicenseClaims, Timestamp};
use license_server::clock::Clock as _;
use license_server::service::trial_rules::TrialPolicy;
use license_server::store::evaluations::{self, EvaluationSubject, NewEvaluation};
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    waiving_one_trial_per_deployment_admits_another_trial_on_the_deployment,
    waiving_one_trial_per_email_admits_another_trial_for_the_address,
    waiving_the_domain_limit_admits_the_whole_domain,
    waiving_the_minimum_version_admits_an_old_product_and_drops_the_claim,
    waiving_checkin_grants_an_air_gapped_license,
    waiving_blocked_domains_admits_a_blocked_domain,
    an_enrollment_waives_only_the_rules_it_names,
    grants_a_longer_term_within_the_maximum_and_more_seats,
    a_term_granted_above_a_lowered_maximum_is_capped,
    an_enrollment_never_gives_less_than_a_free_trial,
    an_account_enrollment_covers_requests_from_the_accounts_address,
    an_account_enrollment_covers_an_address_with_capitals,
    only_enrollments_in_force_apply,
    a_trial_granted_under_a_waiver_still_counts_once_the_enrollment_ends,
    an_evaluation_trial_for_a_customer_does_not_supersede_the_paid_license,
);

/// A trial request that must be granted under an enrollment; returns the 202 body and the
/// verified license.
async fn evaluation_trial(
    app: &crate::support::TestApp,
    body: &Value,
    now: Timestamp,
) -> (Value, LicenseClaims) {
    let accepted = expect_json(send_trial(app, body).await, StatusCode::ACCEPTED).await;
    assert_eq!(accepted["evaluation"], true, "{accepted}");
    let trial_id = accepted["trial_id"].as_str().unwrap();
    let (license, claims) = trial_license(app, trial_id, now).await;
    assert_eq!(license["evaluation"], true);
    assert_eq!(license["trial"], true);
    assert!(claims.trial && claims.evaluation, "{claims:?}");
    if accepted["checkin_required"] == true {
        // The person got the email: the first check-in confirms the trial.
        crate::helpers::confirm(app, trial_id).await;
    }
    (accepted, claims)
}

async fn waiving_one_trial_per_deployment_admits_another_trial_on_the_deployment(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    grant(&app, "first@one.example", "dep-shared").await;
    refuse(
        &app,
        "second@two.example",
        "dep-shared",
        StatusCode::CONFLICT,
        "trial_used_for_deployment",
    )
    .await;
    let evaluation = enroll(
        &app,
        &enrollment(
            json!({ "email": "second@two.example" }),
            &["one_trial_per_deployment"],
            now,
        ),
    )
    .await;
    let (accepted, claims) =
        evaluation_trial(&app, &trial_body("second@two.example", "dep-shared"), now).await;
    let bound: Vec<&str> = claims.deployment_ids.iter().map(|d| d.as_str()).collect();
    assert_eq!(bound, ["dep-shared"]);
    // The trial record names the enrollment it was granted under.
    let trial = get(
        &app,
        &format!("/api/v1/trials/{}", accepted["trial_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(trial["evaluation_id"], evaluation["id"]);
    // Not covered: a third person on the same deployment is still refused.
    refuse(
        &app,
        "third@three.example",
        "dep-shared",
        StatusCode::CONFLICT,
        "trial_used_for_deployment",
    )
    .await;
}

async fn waiving_one_trial_per_email_admits_another_trial_for_the_address(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    grant(&app, "ada@engines.example", "dep-1").await;
    refuse(
        &app,
        "ada+2@engines.example",
        "dep-2",
        StatusCode::CONFLICT,
        "trial_used_for_email",
    )
    .await;
    // Enrolled as `Ada+Anything@…`: the enrollment is for the person, like the rule.
    enroll(
        &app,
        &enrollment(
            json!({ "email": "Ada+Sales@Engines.example" }),
            &["one_trial_per_email"],
            now,
        ),
    )
    .await;
    evaluation_trial(&app, &trial_body("ada+2@engines.example", "dep-2"), now).await;
    evaluation_trial(&app, &trial_body("ADA@engines.example", "dep-3"), now).await;
}

async fn waiving_the_domain_limit_admits_the_whole_domain(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    for i in 0..3 {
        grant(&app, &format!("p{i}@bigco.example"), &format!("dep-{i}")).await;
    }
    refuse(
        &app,
        "p3@bigco.example",
        "dep-3",
        StatusCode::CONFLICT,
        "trial_domain_limit",
    )
    .await;
    enroll(
        &app,
        &enrollment(
            json!({ "email_domain": "BigCo.example" }),
            &["domain_limit"],
            now,
        ),
    )
    .await;
    for i in 3..6 {
        evaluation_trial(
            &app,
            &trial_body(&format!("p{i}@bigco.example"), &format!("dep-{i}")),
            now,
        )
        .await;
    }
    // The other rules still hold for the domain's people.
    refuse(
        &app,
        "p0+again@bigco.example",
        "dep-new",
        StatusCode::CONFLICT,
        "trial_used_for_email",
    )
    .await;
}

async fn waiving_the_minimum_version_admits_an_old_product_and_drops_the_claim(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    let old = with(
        &trial_body("legacy@oldco.example", "dep-legacy"),
        "product_version",
        json!("1.9.3"),
    );
    crate::helpers::expect_error(
        send_trial(&app, &old).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "version_too_old",
    )
    .await;
    enroll(
        &app,
        &enrollment(
            json!({ "email": "legacy@oldco.example" }),
            &["min_product_version"],
            now,
        ),
    )
    .await;
    let (accepted, claims) = evaluation_trial(&app, &old, now).await;
    assert_eq!(
        claims.min_product_version, None,
        "waived: no minimum in the license"
    );
    assert!(claims.checkin.is_some(), "check-in was not waived");
    assert_eq!(accepted["checkin_required"], true);
}

async fn waiving_checkin_grants_an_air_gapped_license(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    enroll(
        &app,
        &enrollment(
            json!({ "email_domain": "secure.example" }),
            &["checkin"],
            now,
        ),
    )
    .await;
    let (accepted, claims) =
        evaluation_trial(&app, &trial_body("ops@secure.example", "dep-airgap"), now).await;
    assert_eq!(accepted["checkin_required"], false);
    assert_eq!(claims.checkin, None, "no check-in claim: air-gapped use");
    assert_eq!(claims.min_product_version.as_deref(), Some("1.10.0"));
    assert_eq!(claims.features.get("user_limit"), Some(&10));
    assert_eq!(claims.license_expires, now.add_seconds(30 * DAY));
    // Without the enrollment a trial always requires check-in.
    let accepted = grant(&app, "ops@open.example", "dep-open").await;
    let (_, claims) = trial_license(&app, accepted["trial_id"].as_str().unwrap(), now).await;
    assert!(claims.checkin.is_some() && !claims.evaluation);
}

async fn waiving_blocked_domains_admits_a_blocked_domain(kind: Kind) {
    let policy = TrialPolicy {
        blocked_domains: ["partner.example".to_owned()].into(),
        ..TrialPolicy::default()
    };
    let (app, clock) = spawn(kind, policy).await;
    let now = clock.now();
    refuse(
        &app,
        "dev@partner.example",
        "dep-p",
        StatusCode::UNPROCESSABLE_ENTITY,
        "email_domain_blocked",
    )
    .await;
    enroll(
        &app,
        &enrollment(
            json!({ "email_domain": "partner.example" }),
            &["blocked_domains"],
            now,
        ),
    )
    .await;
    evaluation_trial(&app, &trial_body("dev@partner.example", "dep-p"), now).await;
}

async fn an_enrollment_waives_only_the_rules_it_names(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    grant(&app, "someone@else.example", "dep-taken").await;
    enroll(
        &app,
        &enrollment(
            json!({ "email": "eve@named.example" }),
            &["min_product_version"],
            now,
        ),
    )
    .await;
    // Version waived, deployment rule not.
    let old_on_taken = with(
        &trial_body("eve@named.example", "dep-taken"),
        "product_version",
        json!("1.2.3"),
    );
    crate::helpers::expect_error(
        send_trial(&app, &old_on_taken).await,
        StatusCode::CONFLICT,
        "trial_used_for_deployment",
    )
    .await;
    // An enrollment waiving nothing still makes the trial an evaluation (with its grants).
    enroll(
        &app,
        &json!({
            "email": "max@grants.example", "reason": "bigger pilot", "approved_by": "sales",
            "ends_at": now.add_seconds(10 * DAY).rfc3339(), "user_limit": 25
        }),
    )
    .await;
    let (_, claims) =
        evaluation_trial(&app, &trial_body("max@grants.example", "dep-max"), now).await;
    assert_eq!(claims.features.get("user_limit"), Some(&25));
    assert!(claims.checkin.is_some());
    assert_eq!(claims.min_product_version.as_deref(), Some("1.10.0"));
    refuse(
        &app,
        "max+again@grants.example",
        "dep-max-2",
        StatusCode::CONFLICT,
        "trial_used_for_email",
    )
    .await;
}

async fn grants_a_longer_term_within_the_maximum_and_more_seats(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    let mut body = enrollment(json!({ "email": "long@term.example" }), &[], now);
    body["max_term_days"] = json!(60);
    body["user_limit"] = json!(50);
    enroll(&app, &body).await;
    let (accepted, claims) =
        evaluation_trial(&app, &trial_body("long@term.example", "dep-long"), now).await;
    assert_eq!(claims.license_expires, now.add_seconds(60 * DAY));
    assert_eq!(claims.exp, claims.license_expires);
    assert_eq!(claims.features.get("user_limit"), Some(&50));
    assert_eq!(accepted["user_limit"], 50);
    assert_eq!(time(&accepted["expires_at"]), now.add_seconds(60 * DAY));

    // The configured maximum (90 days by default) is accepted as it is.
    let mut body = enrollment(json!({ "email": "max@term.example" }), &[], now);
    body["max_term_days"] = json!(90);
    enroll(&app, &body).await;
    let (_, claims) = evaluation_trial(&app, &trial_body("max@term.example", "dep-max"), now).await;
    assert_eq!(claims.license_expires, now.add_seconds(90 * DAY));
    assert_eq!(claims.features.get("user_limit"), Some(&10));

    // A seat grant below the trial's seats does not take seats away.
    let mut body = enrollment(json!({ "email": "few@seats.example" }), &[], now);
    body["user_limit"] = json!(3);
    enroll(&app, &body).await;
    let (_, claims) =
        evaluation_trial(&app, &trial_body("few@seats.example", "dep-few"), now).await;
    assert_eq!(claims.features.get("user_limit"), Some(&10));
}

async fn a_term_granted_above_a_lowered_maximum_is_capped(kind: Kind) {
    // An enrollment made when the maximum was a year, on a server now configured for 45 days.
    let policy = TrialPolicy {
        evaluation_max_term_days: 45,
        ..TrialPolicy::default()
    };
    let (app, clock) = spawn(kind, policy).await;
    let now = clock.now();
    evaluations::insert(
        app.store.conn(),
        &NewEvaluation {
            id: uuid::Uuid::new_v4(),
            subject: EvaluationSubject::Email("old@deal.example".into()),
            reason: "enrolled under the old maximum".into(),
            approved_by: "sales".into(),
            starts_at: now.add_seconds(-DAY),
            ends_at: now.add_seconds(30 * DAY),
            waives: vec![],
            max_term_days: Some(365),
            user_limit: None,
            created_at: now.add_seconds(-DAY),
            created_by: "desk".into(),
        },
    )
    .await
    .unwrap();
    let (_, claims) = evaluation_trial(&app, &trial_body("old@deal.example", "dep-old"), now).await;
    assert_eq!(
        claims.license_expires,
        now.add_seconds(45 * DAY),
        "capped at the configured maximum"
    );
    // Through the API, such a grant is refused outright.
    let mut body = enrollment(json!({ "email": "new@deal.example" }), &[], now);
    body["max_term_days"] = json!(46);
    let response = crate::helpers::post(&app, "/api/v1/evaluations", &body).await;
    crate::helpers::expect_field_error(response, "max_term_days").await;
}

async fn an_enrollment_never_gives_less_than_a_free_trial(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    let mut body = enrollment(json!({ "email": "short@term.example" }), &["checkin"], now);
    body["max_term_days"] = json!(7);
    enroll(&app, &body).await;
    let (_, claims) =
        evaluation_trial(&app, &trial_body("short@term.example", "dep-short"), now).await;
    assert_eq!(
        claims.license_expires,
        now.add_seconds(30 * DAY),
        "an evaluation grants more than a free trial, never less"
    );
}

async fn an_account_enrollment_covers_requests_from_the_accounts_address(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    let account = create_account(&app, "Acme Corp", "ops@acme.example").await;
    enroll(
        &app,
        &enrollment(json!({ "account_id": account }), &["checkin"], now),
    )
    .await;
    // The request's address is compared without case.
    let (accepted, claims) =
        evaluation_trial(&app, &trial_body("OPS@acme.example", "dep-acme"), now).await;
    assert_eq!(claims.checkin, None);
    assert!(claims.evaluation, "the enrollment of the account applies");
    assert_ne!(
        claims.account_id, account,
        "the trial license is on an account of its own, so it never supersedes the customer's licenses"
    );
    let trial = get(
        &app,
        &format!("/api/v1/trials/{}", accepted["trial_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(trial["account_id"], claims.account_id.as_str());
    assert!(
        trial["evaluation_id"].is_string(),
        "the trial records the enrollment"
    );
    // Another address of the company is not the account.
    let accepted = grant(&app, "dev@acme.example", "dep-dev").await;
    assert_eq!(accepted["evaluation"], false);
}

async fn an_account_enrollment_covers_an_address_with_capitals(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    let account = create_account(&app, "Acme Corp", "Ops.Lead@Acme.example").await;
    enroll(
        &app,
        &enrollment(json!({ "account_id": account }), &["checkin"], now),
    )
    .await;
    let accepted = expect_json(
        send_trial(&app, &trial_body("Ops.Lead@Acme.example", "dep-acme")).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(
        accepted["evaluation"], true,
        "the enrolled account's own address, exactly as the account has it: {accepted}"
    );
}

async fn only_enrollments_in_force_apply(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    // Starts tomorrow.
    let mut body = enrollment(
        json!({ "email_domain": "later.example" }),
        &["checkin"],
        now,
    );
    body["starts_at"] = json!(now.add_seconds(DAY).rfc3339());
    let future = enroll(&app, &body).await;
    assert_eq!(future["active"], false);
    let accepted = grant(&app, "a@later.example", "dep-a").await;
    assert_eq!(accepted["evaluation"], false);
    assert_eq!(accepted["checkin_required"], true);
    clock.advance(DAY);
    evaluation_trial(&app, &trial_body("b@later.example", "dep-b"), clock.now()).await;
    // Ends 60 days after it was made: afterwards the rules apply again.
    clock.advance(60 * DAY);
    let accepted = grant(&app, "c@later.example", "dep-c").await;
    assert_eq!(accepted["evaluation"], false);
    assert_eq!(accepted["checkin_required"], true);
}

async fn a_trial_granted_under_a_waiver_still_counts_once_the_enrollment_ends(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    let evaluation = enroll(
        &app,
        &enrollment(
            json!({ "email": "eve@pilot.example" }),
            &["one_trial_per_deployment", "one_trial_per_email"],
            now,
        ),
    )
    .await;
    // The enrolled person's first trial ever, on a deployment that never had one.
    evaluation_trial(&app, &trial_body("eve@pilot.example", "dep-pilot"), now).await;
    let response = crate::helpers::post(
        &app,
        &format!(
            "/api/v1/evaluations/{}/end",
            evaluation["id"].as_str().unwrap()
        ),
        &json!({ "reason": "pilot over" }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    // The rules apply again: the deployment and the address have had their trial.
    refuse(
        &app,
        "someone@else.example",
        "dep-pilot",
        StatusCode::CONFLICT,
        "trial_used_for_deployment",
    )
    .await;
    refuse(
        &app,
        "eve+again@pilot.example",
        "dep-other",
        StatusCode::CONFLICT,
        "trial_used_for_email",
    )
    .await;
}

async fn an_evaluation_trial_for_a_customer_does_not_supersede_the_paid_license(kind: Kind) {
    use license_core::{
        Context, DeploymentId, Entitlements, InstalledLicense, Keyring, LicenseState, Verifier,
    };
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    let account = create_account(&app, "Acme Corp", "ops@acme.example").await;
    let response = crate::helpers::post(
        &app,
        "/api/v1/licenses",
        &json!({
            "account_id": account, "email": "ops@acme.example", "feature_set": "enterprise",
            "user_limit": 250, "starts_at": now.add_seconds(-DAY).rfc3339(),
            "expires_at": now.add_seconds(365 * DAY).rfc3339(), "deployment_ids": ["dep-prod"]
        }),
    )
    .await;
    let paid = expect_json(response, StatusCode::CREATED).await;
    // The customer evaluates premium features on its production deployment, air-gapped.
    enroll(
        &app,
        &enrollment(
            json!({ "account_id": account }),
            &["checkin", "one_trial_per_deployment"],
            now,
        ),
    )
    .await;
    let (accepted, _) =
        evaluation_trial(&app, &trial_body("ops@acme.example", "dep-prod"), now).await;
    let (trial, _) = trial_license(&app, accepted["trial_id"].as_str().unwrap(), now).await;

    let key = app.signing_key.public_key();
    let mut keyring = Keyring::empty();
    keyring.add(key.thumbprint(), key).unwrap();
    let verifier = Verifier::new(keyring);
    let installed: Vec<InstalledLicense> = [&paid, &trial]
        .iter()
        .map(|license| InstalledLicense {
            name: license["id"].as_str().unwrap().to_owned(),
            verdict: verifier.verify(license["token"].as_str().unwrap(), now),
        })
        .collect();
    let deployment = DeploymentId::parse("dep-prod").unwrap();
    let context = Context {
        deployment_id: Some(&deployment),
        ..Context::at(now)
    };
    let entitlements = Entitlements::compute(&installed, &context);
    assert_ne!(
        entitlements.licenses[0].state,
        LicenseState::Superseded,
        "the paid license is not replaced by a trial: {:?}",
        entitlements.licenses[0]
    );
    assert_eq!(
        entitlements.features["user_limit"].limit,
        Some(250),
        "licenses stack: the better seat count wins"
    );
}
