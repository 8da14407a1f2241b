//! The trial rules: what a granted trial gets, and each rule's refusal.

use crate::helpers::{
    expect_error, expect_field_error, expect_json, get, grant, on_both_backends, outbox, refuse,
    send_trial, spawn, spawn_default, time, trial_body, trial_license, trials, with,
};
use crate::support::Kind;
use license_core::{CheckinPolicy, DAY, FeatureSet};
use license_server::clock::Clock as _;
use license_server::service::trial_rules::TrialPolicy;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    a_granted_trial_is_accepted_without_its_token_and_the_license_carries_the_trial_terms,
    the_trial_terms_follow_the_configured_policy,
    one_trial_per_deployment_ever,
    one_trial_per_email_ever_whatever_the_case_or_plus_tag,
    at_most_three_trials_per_email_domain_in_365_days,
    the_domain_window_and_limit_are_configurable,
    a_product_older_than_the_minimum_version_is_refused,
    blocked_email_domains_are_refused,
    malformed_fields_are_422_naming_the_field,
);

async fn a_granted_trial_is_accepted_without_its_token_and_the_license_carries_the_trial_terms(
    kind: Kind,
) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    let response = send_trial(&app, &trial_body("Ada+Trial@Engines.example", "dep-ada")).await;
    let accepted = expect_json(response, StatusCode::ACCEPTED).await;
    let body = accepted.as_object().unwrap();

    // Where the license went and what it allows; never the license itself.
    let keys: Vec<&str> = body.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "checkin_required",
            "email",
            "evaluation",
            "expires_at",
            "message",
            "status",
            "trial_id",
            "user_limit"
        ],
        "{accepted}"
    );
    let serialized = accepted.to_string();
    assert!(
        !serialized.contains("eyJ") && !serialized.contains("token"),
        "the 202 must not carry the license: proof of the address is the point: {accepted}"
    );
    assert_eq!(body["status"], "granted");
    assert_eq!(body["email"], "Ada+Trial@Engines.example");
    assert_eq!(body["user_limit"], 10);
    assert_eq!(body["evaluation"], false);
    assert_eq!(body["checkin_required"], true);
    assert_eq!(time(&body["expires_at"]), now.add_seconds(30 * DAY));
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Ada+Trial@Engines.example"),
        "{accepted}"
    );
    let trial_id = body["trial_id"].as_str().unwrap();

    // The license, found as the desk would: the trial licenses, then the one with its token.
    let listed = get(&app, "/api/v1/licenses?trial=true").await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listed}");
    assert!(items[0].get("token").is_none(), "lists carry no tokens");
    let license_id = items[0]["id"].as_str().unwrap();
    assert_eq!(
        get(&app, "/api/v1/licenses?trial=false").await["items"],
        json!([]),
        "a trial license is a trial license"
    );
    let license = get(&app, &format!("/api/v1/licenses/{license_id}")).await;
    assert_eq!(license["trial"], true);
    assert_eq!(license["evaluation"], false);
    assert_eq!(license["user_limit"], 10);
    assert_eq!(license["deployment_ids"], json!(["dep-ada"]));
    assert_eq!(license["feature_set"], "premium");
    assert_eq!(license["status"], "active");
    assert_eq!(license["issued_by"], "trial-request");
    let claims = crate::helpers::verify(&app, license["token"].as_str().unwrap(), now);
    assert!(claims.trial && !claims.evaluation);
    assert_eq!(claims.sub.as_str(), "Ada+Trial@Engines.example");
    assert_eq!(claims.account_type, "trial");
    assert_eq!(claims.account_id, license["account_id"].as_str().unwrap());
    assert_eq!(claims.feature_set, FeatureSet::Premium);
    assert_eq!(claims.features.get("user_limit"), Some(&10));
    assert_eq!(claims.nbf, now);
    assert_eq!(claims.iat, now);
    assert_eq!(claims.license_expires, now.add_seconds(30 * DAY));
    assert_eq!(
        claims.exp, claims.license_expires,
        "a trial has no grace period"
    );
    let bound: Vec<&str> = claims.deployment_ids.iter().map(|d| d.as_str()).collect();
    assert_eq!(bound, ["dep-ada"]);
    assert_eq!(claims.min_product_version.as_deref(), Some("1.10.0"));
    assert_eq!(
        claims.checkin,
        Some(CheckinPolicy {
            interval_secs: 86_400,
            max_offline_secs: 259_200
        })
    );
    assert_eq!(claims.sequence, 1);

    // The trial record points at that license; the license went to the outbox.
    let trial = get(&app, &format!("/api/v1/trials/{trial_id}")).await;
    assert_eq!(trial["outcome"], "granted");
    assert_eq!(trial["license_id"], license_id);
    assert_eq!(trial["account_id"], license["account_id"]);
    assert_eq!(trial["email"], "Ada+Trial@Engines.example");
    assert_eq!(trial["email_key"], "ada@engines.example");
    assert_eq!(trial["email_domain"], "engines.example");
    assert_eq!(trial["deployment_id"], "dep-ada");
    assert_eq!(trial["product_version"], "2.16.0");
    assert_eq!(trial["country"], "GB");
    assert_eq!(trial["developers"], "11-50");
    assert_eq!(trial["company"], "Analytical Engines Ltd");
    assert_eq!(trial["client_address"], "127.0.0.1");
    assert!(trial["refusal_code"].is_null() && trial["evaluation_id"].is_null());
    assert_eq!(time(&trial["requested_at"]), now);
    assert_eq!(time(&trial["expires_at"]), claims.license_expires);
    let mail = outbox(&app).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["license_id"], license_id);
    assert_eq!(mail[0]["recipient"], "Ada+Trial@Engines.example");
    assert_eq!(mail[0]["state"], "pending");
}

async fn the_trial_terms_follow_the_configured_policy(kind: Kind) {
    let policy = TrialPolicy {
        term_days: 14,
        user_limit: 5,
        min_product_version: None,
        checkin: CheckinPolicy {
            interval_secs: 3600,
            max_offline_secs: 7200,
        },
        feature_set: FeatureSet::Enterprise,
        ..TrialPolicy::default()
    };
    let (app, clock) = spawn(kind, policy).await;
    let now = clock.now();
    let old = with(
        &trial_body("ops@old.example", "dep-old"),
        "product_version",
        json!("1.0.0"),
    );
    let accepted = expect_json(send_trial(&app, &old).await, StatusCode::ACCEPTED).await;
    assert_eq!(accepted["user_limit"], 5);
    let (_, claims) = trial_license(&app, accepted["trial_id"].as_str().unwrap(), now).await;
    assert_eq!(claims.license_expires, now.add_seconds(14 * DAY));
    assert_eq!(claims.features.get("user_limit"), Some(&5));
    assert_eq!(claims.feature_set, FeatureSet::Enterprise);
    assert_eq!(claims.min_product_version, None, "no minimum configured");
    assert_eq!(
        claims.checkin,
        Some(CheckinPolicy {
            interval_secs: 3600,
            max_offline_secs: 7200
        })
    );
}

async fn one_trial_per_deployment_ever(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    grant(&app, "ada@first.example", "dep-1").await;
    let message = refuse(
        &app,
        "bob@second.example",
        "dep-1",
        StatusCode::CONFLICT,
        "trial_used_for_deployment",
    )
    .await;
    assert!(message.contains("deployment"), "{message}");
    // Ever: long after the trial and any domain window, the deployment still had its trial.
    clock.advance(3 * 365 * DAY);
    refuse(
        &app,
        "carol@third.example",
        "dep-1",
        StatusCode::CONFLICT,
        "trial_used_for_deployment",
    )
    .await;
    // Refusals take nothing: another deployment of the refused people is fine.
    grant(&app, "bob@second.example", "dep-2").await;
    let granted = trials(&app, &[("outcome", "granted")]).await;
    assert_eq!(granted.len(), 2);
}

async fn one_trial_per_email_ever_whatever_the_case_or_plus_tag(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    grant(&app, "ada@engines.example", "dep-1").await;
    for (i, variant) in [
        "ada@engines.example",
        "ADA@Engines.EXAMPLE",
        "ada+again@engines.example",
        "Ada+Second+Try@ENGINES.example",
    ]
    .into_iter()
    .enumerate()
    {
        let message = refuse(
            &app,
            variant,
            &format!("dep-other-{i}"),
            StatusCode::CONFLICT,
            "trial_used_for_email",
        )
        .await;
        assert!(message.contains("email address"), "{variant}: {message}");
    }
    clock.advance(2 * 365 * DAY);
    refuse(
        &app,
        "ada+later@engines.example",
        "dep-later",
        StatusCode::CONFLICT,
        "trial_used_for_email",
    )
    .await;
    // Another person of the same domain is another person (and the refusals above did not
    // count against the domain).
    grant(&app, "ada.byron@engines.example", "dep-2").await;
    grant(&app, "babbage@engines.example", "dep-3").await;
}

async fn at_most_three_trials_per_email_domain_in_365_days(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    for (i, who) in ["a", "b", "c"].into_iter().enumerate() {
        grant(&app, &format!("{who}@acme.example"), &format!("dep-{i}")).await;
        clock.advance(DAY);
    }
    let message = refuse(
        &app,
        "d@acme.example",
        "dep-3",
        StatusCode::CONFLICT,
        "trial_domain_limit",
    )
    .await;
    assert!(
        message.contains('3') && message.contains("365"),
        "the message says the limit: {message}"
    );
    // The domain is compared without case; other domains are not affected.
    refuse(
        &app,
        "e@ACME.Example",
        "dep-4",
        StatusCode::CONFLICT,
        "trial_domain_limit",
    )
    .await;
    grant(&app, "d@other.example", "dep-5").await;
    // The first trial (day 0) leaves the window on day 365; now is day 3.
    clock.advance(361 * DAY);
    refuse(
        &app,
        "d@acme.example",
        "dep-3",
        StatusCode::CONFLICT,
        "trial_domain_limit",
    )
    .await;
    clock.advance(DAY + 1);
    grant(&app, "d@acme.example", "dep-3").await;
    // b's and c's trials (days 1 and 2) and d's (day 365) fill the window again.
    refuse(
        &app,
        "f@acme.example",
        "dep-6",
        StatusCode::CONFLICT,
        "trial_domain_limit",
    )
    .await;
    let refused = trials(&app, &[("domain", "acme.example"), ("outcome", "refused")]).await;
    assert_eq!(refused.len(), 4);
    assert!(
        refused
            .iter()
            .all(|t| t["refusal_code"] == "trial_domain_limit")
    );
}

async fn the_domain_window_and_limit_are_configurable(kind: Kind) {
    let policy = TrialPolicy {
        domain_limit: 1,
        domain_window_days: 7,
        ..TrialPolicy::default()
    };
    let (app, clock) = spawn(kind, policy).await;
    grant(&app, "a@small.example", "dep-a").await;
    let message = refuse(
        &app,
        "b@small.example",
        "dep-b",
        StatusCode::CONFLICT,
        "trial_domain_limit",
    )
    .await;
    assert!(message.contains('1') && message.contains('7'), "{message}");
    // The window reaches back 7 days, its first second included.
    for step in [7 * DAY - 1, 1] {
        clock.advance(step);
        refuse(
            &app,
            "b@small.example",
            "dep-b",
            StatusCode::CONFLICT,
            "trial_domain_limit",
        )
        .await;
    }
    clock.advance(1);
    grant(&app, "b@small.example", "dep-b").await;
}

async fn a_product_older_than_the_minimum_version_is_refused(kind: Kind) {
    let (app, _clock) = spawn_default(kind).await;
    for old in ["1.9.9", "1.0.0", "v1.9.99"] {
        let body = with(
            &trial_body("ada@engines.example", "dep-1"),
            "product_version",
            json!(old),
        );
        let message = expect_error(
            send_trial(&app, &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "version_too_old",
        )
        .await;
        assert!(
            message.contains("1.10.0"),
            "the message names the minimum: {message}"
        );
    }
    // A refused request uses up nothing: the same person and deployment, upgraded, get it.
    let body = with(
        &trial_body("ada@engines.example", "dep-1"),
        "product_version",
        json!("1.10.0"),
    );
    let accepted = expect_json(send_trial(&app, &body).await, StatusCode::ACCEPTED).await;
    let trial = get(
        &app,
        &format!("/api/v1/trials/{}", accepted["trial_id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(trial["product_version"], "1.10.0");
    let refused = trials(&app, &[("outcome", "refused")]).await;
    assert_eq!(refused.len(), 3);
    assert!(
        refused
            .iter()
            .all(|t| t["refusal_code"] == "version_too_old"
                && t["license_id"].is_null()
                && t["expires_at"].is_null())
    );
}

async fn blocked_email_domains_are_refused(kind: Kind) {
    let policy = TrialPolicy {
        blocked_domains: ["mailinator.com".to_owned(), "example.net".to_owned()].into(),
        ..TrialPolicy::default()
    };
    let (app, _clock) = spawn(kind, policy).await;
    for (i, email) in [
        "throwaway@mailinator.com",
        "Someone@MAILINATOR.COM",
        "x+y@example.net",
    ]
    .into_iter()
    .enumerate()
    {
        let message = refuse(
            &app,
            email,
            &format!("dep-{i}"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "email_domain_blocked",
        )
        .await;
        assert!(message.contains("domain"), "{email}: {message}");
    }
    grant(&app, "someone@company.example", "dep-0").await;
    let refused = trials(&app, &[("outcome", "refused")]).await;
    assert_eq!(refused.len(), 3);
    assert!(
        refused
            .iter()
            .all(|t| t["refusal_code"] == "email_domain_blocked")
    );
}

async fn malformed_fields_are_422_naming_the_field(kind: Kind) {
    let (app, _clock) = spawn_default(kind).await;
    let good = trial_body("ada@engines.example", "dep-1");
    let cases: Vec<(&str, Value)> = vec![
        ("email", json!("not-an-address")),
        ("email", json!("ada@")),
        ("email", json!("ada@localhost")),
        ("email", json!("two words@engines.example")),
        ("email", json!("")),
        ("developers", json!("lots")),
        ("developers", json!("10")),
        ("developers", json!("")),
        ("deployment_id", json!("has spaces")),
        ("deployment_id", json!("")),
        ("deployment_id", json!("x".repeat(1000))),
        ("product_version", json!("latest")),
        ("product_version", json!("")),
        ("product_version", json!("2.x")),
        ("country", json!("Germany")),
        ("country", json!("D1")),
        ("country", json!("")),
        ("first_name", json!("  ")),
        ("last_name", json!("")),
        ("company", json!("x".repeat(201))),
        ("company", json!("line\nbreak")),
    ];
    for (field, value) in cases {
        let body = with(&good, field, value.clone());
        let message = expect_field_error(send_trial(&app, &body).await, field).await;
        assert!(!message.is_empty(), "{field} = {value}");
    }
    // Wrong types, missing and unknown fields are named too.
    let wrong_type = with(&good, "developers", json!(10));
    expect_field_error(send_trial(&app, &wrong_type).await, "developers").await;
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("deployment_id");
    let message = expect_error(
        send_trial(&app, &missing).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert!(message.contains("deployment_id"), "{message}");
    let unknown = with(&good, "seats", json!(500));
    let message = expect_error(
        send_trial(&app, &unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert!(message.contains("seats"), "{message}");
    // Malformed requests are answered, not recorded as refusals of a rule; the good one passes.
    assert!(trials(&app, &[]).await.is_empty());
    let accepted = expect_json(send_trial(&app, &good).await, StatusCode::ACCEPTED).await;
    assert_eq!(accepted["status"], "granted");
    // The developer buckets that exist, and a lower-case country, are accepted.
    for (i, bucket) in ["1-10", "51-200", "201-1000", "1001+"]
        .into_iter()
        .enumerate()
    {
        let body = with(
            &with(
                &trial_body(&format!("p{i}@buckets-{i}.example"), &format!("dep-b{i}")),
                "developers",
                json!(bucket),
            ),
            "country",
            json!("de"),
        );
        let accepted = expect_json(send_trial(&app, &body).await, StatusCode::ACCEPTED).await;
        let trial = get(
            &app,
            &format!("/api/v1/trials/{}", accepted["trial_id"].as_str().unwrap()),
        )
        .await;
        assert_eq!(trial["developers"], bucket);
        assert_eq!(trial["country"], "DE");
    }
}
