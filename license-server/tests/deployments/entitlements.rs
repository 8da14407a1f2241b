//! Entitlements end to end: a trial from `POST /trials` (which requires check-ins), receipts
//! from `POST /checkins` and the list from `GET /revocations`, judged by
//! `Entitlements::compute_with` as the control plane would at startup.

use crate::helpers::{
    checkin, create_account, expect_json, get, issue_license, now, on_both_backends,
    published_keyring, receipt_of, revocation_list, revoke, spawn,
};
use crate::support::{Kind, TestApp};
use license_core::{
    Context, DEFAULT_MAX_CLOCK_SKEW_SECS, DeploymentId, Entitlement, Entitlements, Evidence,
    InstalledLicense, Keyring, LicenseState, Timestamp, VerifiedReceipt, VerifiedRevocationList,
    Verifier,
};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    a_trial_with_a_fresh_receipt_is_entitled,
    a_trial_whose_last_receipt_is_too_old_is_not_entitled,
    a_revoked_license_is_not_entitled,
    revoking_a_reissue_never_brings_back_the_license_it_replaced,
    revoking_an_extended_trial_revokes_the_license_it_extended,
);

const HOUR: i64 = 3600;

/// Requests a trial for `deployment` through the public endpoint and finds its license
/// through the desk's API (`GET /licenses?trial=true`, then `GET /licenses/{id}`); returns the
/// license id and token.
async fn request_trial(app: &TestApp, deployment: &str) -> (String, String) {
    let response = app
        .client
        .post(app.url("/api/v1/trials"))
        .json(&json!({
            "email": "ada@engines.example",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "company": "Analytical Engines Ltd",
            "country": "GB",
            "developers": "11-50",
            "deployment_id": deployment,
            "product_version": "2.16.0",
        }))
        .send()
        .await
        .unwrap();
    let accepted = expect_json(response, StatusCode::ACCEPTED).await;
    assert_eq!(accepted["checkin_required"], true, "{accepted}");
    let page = get(app, "/api/v1/licenses?trial=true").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    let id = items[0]["id"].as_str().unwrap().to_owned();
    let license = get(app, &format!("/api/v1/licenses/{id}")).await;
    (id, license["token"].as_str().unwrap().to_owned())
}

/// The entitlements of `token` installed alone on `deployment` with 3 active users, judged at
/// `at` with `receipt` and `list`.
fn judge(
    keyring: &Keyring,
    token: &str,
    deployment: &DeploymentId,
    at: Timestamp,
    receipt: Option<&VerifiedReceipt>,
    list: Option<&VerifiedRevocationList>,
) -> Entitlements {
    let installed = [InstalledLicense {
        name: "license.jwt".into(),
        verdict: Verifier::new(keyring.clone()).verify(token, at),
    }];
    let context = Context {
        now: at,
        deployment_id: Some(deployment),
        active_users: Some(3),
        high_water_mark: None,
        max_clock_skew_secs: DEFAULT_MAX_CLOCK_SKEW_SECS,
    };
    Entitlements::compute_with(
        &installed,
        &context,
        &Evidence {
            receipt,
            revocations: list,
        },
    )
}

/// `entitlements` grant nothing: one license, in `state`, with an error that contains each of
/// `words`; returns the reason.
fn refused(entitlements: &Entitlements, state: LicenseState, words: &[&str]) -> String {
    assert!(!entitlements.is_valid(), "{entitlements:#?}");
    assert!(!entitlements.has_license, "{entitlements:#?}");
    assert_eq!(entitlements.licenses[0].state, state, "{entitlements:#?}");
    assert!(!entitlements.licenses[0].grants);
    assert_eq!(
        entitlements.entitlement("audit_log"),
        Entitlement::NotEntitled
    );
    assert_eq!(
        entitlements.entitlement("custom_roles"),
        Entitlement::NotEntitled
    );
    let reason = entitlements.licenses[0].reason.clone().unwrap();
    assert_eq!(entitlements.errors.len(), 1, "{entitlements:#?}");
    let error = &entitlements.errors[0];
    assert!(error.contains(&reason), "{error}");
    for word in words {
        assert!(error.contains(word), "{word:?} missing from: {error}");
    }
    reason
}

/// `entitlements` grant the trial's premium features.
fn granted(entitlements: &Entitlements) {
    assert!(entitlements.is_valid(), "{entitlements:#?}");
    assert!(entitlements.has_license && entitlements.trial);
    assert_eq!(entitlements.licenses[0].state, LicenseState::Active);
    assert!(entitlements.errors.is_empty(), "{:?}", entitlements.errors);
    assert_eq!(entitlements.entitlement("audit_log"), Entitlement::Entitled);
    assert_eq!(
        entitlements.entitlement("custom_roles"),
        Entitlement::Entitled
    );
    let seats = entitlements.features["user_limit"];
    assert_eq!((seats.limit, seats.actual), (Some(10), Some(3)));
}

async fn a_trial_with_a_fresh_receipt_is_entitled(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let (license, token) = request_trial(&app, "dep-trial").await;
    let keyring = published_keyring(&app).await;
    let deployment = DeploymentId::parse("dep-trial").unwrap();
    let at = now(&clock);

    // The trial requires check-ins, 72 hours offline at most.
    let verified = Verifier::new(keyring.clone()).verify(&token, at).unwrap();
    let policy = verified
        .claims()
        .checkin
        .expect("a trial requires check-ins");
    assert_eq!(policy.max_offline_secs, 72 * HOUR as u64);
    assert!(verified.claims().trial);

    // Before its first check-in it grants nothing, and says how to fix that.
    let before = judge(&keyring, &token, &deployment, at, None, None);
    refused(
        &before,
        LicenseState::CheckinRequired,
        &[&license, "no check-in receipt", "coder-license checkin"],
    );

    // With a fresh receipt it grants.
    let answer = checkin(&app, "dep-trial", &[&license], 3).await;
    assert_eq!(answer["licenses"][0]["status"], "active", "{answer}");
    let receipt = receipt_of(&answer, &keyring, at);
    // A receipt alone is not enough: the trial needs a current revocation list too.
    refused(
        &judge(&keyring, &token, &deployment, at, Some(&receipt), None),
        LicenseState::CheckinRequired,
        &["no revocation list is installed"],
    );
    // With the (empty) list beside it, it grants.
    let (_, list) = revocation_list(&app, &keyring, at).await;
    granted(&judge(
        &keyring,
        &token,
        &deployment,
        at,
        Some(&receipt),
        Some(&list),
    ));
    // The receipt's time counts as seen: the next start must not be earlier.
    let judged = judge(
        &keyring,
        &token,
        &deployment,
        at,
        Some(&receipt),
        Some(&list),
    );
    assert_eq!(judged.high_water_mark, at);

    // A receipt of another deployment does not stand in for this one's.
    let elsewhere = checkin(&app, "dep-elsewhere", &[&license], 3).await;
    assert_eq!(elsewhere["licenses"][0]["status"], "bound_elsewhere");
    let elsewhere = receipt_of(&elsewhere, &keyring, at);
    let judged = judge(&keyring, &token, &deployment, at, Some(&elsewhere), None);
    refused(
        &judged,
        LicenseState::CheckinRequired,
        &["dep-elsewhere", "not this one"],
    );
    // And the license is not this other deployment's at all.
    let other = DeploymentId::parse("dep-elsewhere").unwrap();
    let judged = judge(&keyring, &token, &other, at, Some(&elsewhere), None);
    refused(&judged, LicenseState::WrongDeployment, &["dep-trial"]);
}

async fn a_trial_whose_last_receipt_is_too_old_is_not_entitled(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let (license, token) = request_trial(&app, "dep-trial").await;
    let keyring = published_keyring(&app).await;
    let deployment = DeploymentId::parse("dep-trial").unwrap();
    let at = now(&clock);
    let answer = checkin(&app, "dep-trial", &[&license], 3).await;
    let receipt = receipt_of(&answer, &keyring, at);
    let (_, list) = revocation_list(&app, &keyring, at).await;

    // Exactly 72 hours later the receipt still counts; a second later it does not.
    granted(&judge(
        &keyring,
        &token,
        &deployment,
        at.add_seconds(72 * HOUR),
        Some(&receipt),
        Some(&list),
    ));
    let late = judge(
        &keyring,
        &token,
        &deployment,
        at.add_seconds(72 * HOUR + 1),
        Some(&receipt),
        Some(&list),
    );
    refused(&late, LicenseState::CheckinRequired, &["72 hours"]);

    // 73 hours later: not entitled, with an error that says when the last check-in was, how
    // long the license allows, and what to run.
    let stale_at = at.add_seconds(73 * HOUR);
    let stale = judge(
        &keyring,
        &token,
        &deployment,
        stale_at,
        Some(&receipt),
        Some(&list),
    );
    let reason = refused(
        &stale,
        LicenseState::CheckinRequired,
        &[
            &license,
            "requires regular check-ins",
            &format!("the last check-in was at {at}"),
            "73 hours ago",
            "allows 72 hours",
            "coder-license checkin",
        ],
    );
    assert!(
        reason.contains("grants nothing until the deployment checks in"),
        "{reason}"
    );

    // Checking in again at that time restores it.
    clock.advance(73 * HOUR);
    let answer = checkin(&app, "dep-trial", &[&license], 3).await;
    let fresh = receipt_of(&answer, &keyring, stale_at);
    assert_eq!(fresh.claims().iat, stale_at);
    // A fresh receipt beside the old list is still a missed check-in: the list ages too.
    refused(
        &judge(
            &keyring,
            &token,
            &deployment,
            stale_at,
            Some(&fresh),
            Some(&list),
        ),
        LicenseState::CheckinRequired,
        &["revocation list was signed at", "73 hours ago"],
    );
    let (_, fresh_list) = revocation_list(&app, &keyring, stale_at).await;
    assert!(
        fresh_list.supersedes(Some(&list)),
        "same sequence, signed later"
    );
    granted(&judge(
        &keyring,
        &token,
        &deployment,
        stale_at,
        Some(&fresh),
        Some(&fresh_list),
    ));
}

async fn a_revoked_license_is_not_entitled(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let (trial, trial_token) = request_trial(&app, "dep-trial").await;
    let account = create_account(&app, "Acme").await;
    let (paid, paid_token) = issue_license(&app, &account, now(&clock), json!({})).await;
    let keyring = published_keyring(&app).await;
    let deployment = DeploymentId::parse("dep-trial").unwrap();

    let at = now(&clock);
    let before = receipt_of(
        &checkin(&app, "dep-trial", &[&trial], 3).await,
        &keyring,
        at,
    );
    let (_, empty) = revocation_list(&app, &keyring, at).await;
    granted(&judge(
        &keyring,
        &trial_token,
        &deployment,
        at,
        Some(&before),
        Some(&empty),
    ));

    clock.advance(60);
    revoke(&app, &trial).await;
    let revoked_at = now(&clock);
    clock.advance(60);
    let at = now(&clock);

    // The next check-in's receipt says revoked.
    let answer = checkin(&app, "dep-trial", &[&trial], 3).await;
    assert_eq!(answer["licenses"][0]["status"], "revoked", "{answer}");
    let after = receipt_of(&answer, &keyring, at);
    let judged = judge(&keyring, &trial_token, &deployment, at, Some(&after), None);
    let reason = refused(&judged, LicenseState::Revoked, &[&trial, "revoked"]);
    assert!(reason.contains("reported revoked"), "{reason}");

    // The revocation list names it; with the list, even the receipt from before the
    // revocation no longer keeps it granting.
    let (_, list) = revocation_list(&app, &keyring, at).await;
    assert_eq!(list.sequence(), 1);
    let trial_id = uuid::Uuid::parse_str(&trial).unwrap();
    assert_eq!(list.revoked_at(trial_id), Some(revoked_at));
    let judged = judge(
        &keyring,
        &trial_token,
        &deployment,
        at,
        Some(&before),
        Some(&list),
    );
    let reason = refused(&judged, LicenseState::Revoked, &[&trial]);
    assert!(
        reason.contains(&format!("revoked by the licensor on {}", revoked_at.date())),
        "{reason}"
    );
    let judged = judge(
        &keyring,
        &trial_token,
        &deployment,
        at,
        Some(&after),
        Some(&list),
    );
    refused(&judged, LicenseState::Revoked, &[&trial]);

    // A paid license (no check-in requirement) is revoked by the list alone.
    granted_paid(&judge(
        &keyring,
        &paid_token,
        &deployment,
        at,
        None,
        Some(&list),
    ));
    revoke(&app, &paid).await;
    let (_, list) = revocation_list(&app, &keyring, at).await;
    assert_eq!(list.sequence(), 2);
    let judged = judge(&keyring, &paid_token, &deployment, at, None, Some(&list));
    refused(
        &judged,
        LicenseState::Revoked,
        &[&paid, "revoked by the licensor"],
    );
}

fn granted_paid(entitlements: &Entitlements) {
    assert!(entitlements.is_valid(), "{entitlements:#?}");
    assert!(!entitlements.trial);
    assert_eq!(entitlements.licenses[0].state, LicenseState::Active);
    assert_eq!(entitlements.entitlement("audit_log"), Entitlement::Entitled);
}

/// The entitlements of `tokens` installed together on `deployment`, judged at `at`.
fn judge_all(
    keyring: &Keyring,
    tokens: &[&str],
    deployment: &DeploymentId,
    at: Timestamp,
    evidence: Evidence<'_>,
) -> Entitlements {
    let installed: Vec<InstalledLicense> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| InstalledLicense {
            name: format!("license-{i}.jwt"),
            verdict: Verifier::new(keyring.clone()).verify(token, at),
        })
        .collect();
    let mut context = Context::at(at);
    context.deployment_id = Some(deployment);
    Entitlements::compute_with(&installed, &context, &evidence)
}

/// Issue 12, finding 1: L1 (500 seats) reissued as L2 (10 seats), L2 revoked. The check-in
/// receipt reports L1 superseded before the revocation and revoked after it, the list names
/// both, and a deployment that kept both files is granted neither.
async fn revoking_a_reissue_never_brings_back_the_license_it_replaced(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let (l1, l1_token) =
        issue_license(&app, &account, now(&clock), json!({ "user_limit": 500 })).await;
    let response = app
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/licenses/{l1}/reissue"),
        )
        .json(&json!({ "user_limit": 10 }))
        .send()
        .await
        .unwrap();
    let l2 = expect_json(response, StatusCode::CREATED).await;
    let (l2, l2_token) = (
        l2["id"].as_str().unwrap().to_owned(),
        l2["token"].as_str().unwrap().to_owned(),
    );
    let keyring = published_keyring(&app).await;
    let deployment = DeploymentId::parse("dep-acme").unwrap();
    let at = now(&clock);

    // Before the revocation: L2 active, L1 superseded, whichever the deployment still has.
    let answer = checkin(&app, "dep-acme", &[&l1, &l2], 30).await;
    assert_eq!(answer["licenses"][0]["status"], "superseded", "{answer}");
    assert_eq!(answer["licenses"][1]["status"], "active", "{answer}");
    let receipt = receipt_of(&answer, &keyring, at);
    let judged = judge_all(
        &keyring,
        &[&l1_token],
        &deployment,
        at,
        Evidence {
            receipt: Some(&receipt),
            revocations: None,
        },
    );
    assert!(!judged.has_license, "L1 alone must not grant: {judged:#?}");
    assert_eq!(judged.licenses[0].state, LicenseState::Superseded);

    clock.advance(60);
    revoke(&app, &l2).await;
    let at = now(&clock);
    let answer = checkin(&app, "dep-acme", &[&l1, &l2], 30).await;
    assert_ne!(answer["licenses"][0]["status"], "active", "{answer}");
    assert_eq!(answer["licenses"][1]["status"], "revoked", "{answer}");
    let receipt = receipt_of(&answer, &keyring, at);
    let (_, list) = revocation_list(&app, &keyring, at).await;
    for id in [&l1, &l2] {
        assert!(
            list.revoked_at(uuid::Uuid::parse_str(id).unwrap())
                .is_some(),
            "{id} is on the list"
        );
    }
    let shown = get(&app, &format!("/api/v1/licenses/{l1}")).await;
    assert_eq!(shown["status"], "revoked", "{shown}");
    for evidence in [
        Evidence {
            receipt: Some(&receipt),
            revocations: None,
        },
        Evidence {
            receipt: None,
            revocations: Some(&list),
        },
    ] {
        for tokens in [
            vec![l1_token.as_str(), l2_token.as_str()],
            vec![l1_token.as_str()],
        ] {
            let judged = judge_all(&keyring, &tokens, &deployment, at, evidence);
            assert!(!judged.has_license, "{judged:#?}");
            assert_eq!(
                judged.entitlement("user_limit"),
                Entitlement::NotEntitled,
                "{judged:#?}"
            );
        }
    }
}

/// Issue 12, finding 1, for trial extensions: revoking the extension's license revokes the
/// trial license it replaced.
async fn revoking_an_extended_trial_revokes_the_license_it_extended(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let (first, first_token) = request_trial(&app, "dep-trial").await;
    let page = get(&app, "/api/v1/trials").await;
    let trial = page["items"][0]["id"].as_str().unwrap().to_owned();
    let response = app
        .admin(
            reqwest::Method::POST,
            &format!("/api/v1/trials/{trial}/extend"),
        )
        .json(&json!({ "days": 7 }))
        .send()
        .await
        .unwrap();
    let extended = expect_json(response, StatusCode::OK).await;
    let second = extended["license_id"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    let keyring = published_keyring(&app).await;
    let deployment = DeploymentId::parse("dep-trial").unwrap();
    let at = now(&clock);

    let answer = checkin(&app, "dep-trial", &[&first, &second], 3).await;
    assert_eq!(answer["licenses"][0]["status"], "superseded", "{answer}");
    assert_eq!(answer["licenses"][1]["status"], "active", "{answer}");

    revoke(&app, &second).await;
    let answer = checkin(&app, "dep-trial", &[&first], 3).await;
    assert_eq!(answer["licenses"][0]["status"], "revoked", "{answer}");
    let receipt = receipt_of(&answer, &keyring, at);
    let (_, list) = revocation_list(&app, &keyring, at).await;
    assert!(
        list.revoked_at(uuid::Uuid::parse_str(&first).unwrap())
            .is_some()
    );
    let judged = judge(
        &keyring,
        &first_token,
        &deployment,
        at,
        Some(&receipt),
        Some(&list),
    );
    refused(&judged, LicenseState::Revoked, &[&first]);
}
