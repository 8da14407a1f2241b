//! The desk's view of trials: every request is recorded with the rule that refused it, search
//! by address, domain, deployment and date, paging, showing one, and extending a trial.

use crate::helpers::{
    audit, expect_error, expect_field_error, expect_json, get, grant, ids, on_both_backends,
    outbox, post, refuse, send_trial, spawn, spawn_default, time, trial_body, trial_license,
    trials, verify, with,
};
use crate::support::{Kind, TestApp};
use license_core::DAY;
use license_server::clock::Clock as _;
use license_server::service::trial_rules::TrialPolicy;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

on_both_backends!(
    refusals_are_recorded_with_the_rule_that_refused_them,
    trials_are_searched_by_address_domain_deployment_and_date,
    trials_page_newest_first_through_every_item_once,
    bad_searches_are_422_naming_the_parameter,
    extending_a_trial_supersedes_its_license_and_moves_its_end,
    only_a_granted_trial_with_an_active_license_is_extended,
    a_reissued_trial_keeps_its_trial_rules,
);

async fn refusals_are_recorded_with_the_rule_that_refused_them(kind: Kind) {
    let policy = TrialPolicy {
        blocked_domains: ["spam.example".to_owned()].into(),
        ..TrialPolicy::default()
    };
    let (app, clock) = spawn(kind, policy).await;
    let granted = grant(&app, "ada@engines.example", "dep-1").await;
    clock.advance(1);
    for (email, deployment, status, code) in [
        (
            "bob@two.example",
            "dep-1",
            StatusCode::CONFLICT,
            "trial_used_for_deployment",
        ),
        (
            "ADA+2@engines.example",
            "dep-2",
            StatusCode::CONFLICT,
            "trial_used_for_email",
        ),
        (
            "x@spam.example",
            "dep-3",
            StatusCode::UNPROCESSABLE_ENTITY,
            "email_domain_blocked",
        ),
    ] {
        refuse(&app, email, deployment, status, code).await;
        clock.advance(1);
    }
    for who in ["b", "c"] {
        grant(
            &app,
            &format!("{who}@engines.example"),
            &format!("dep-{who}"),
        )
        .await;
    }
    refuse(
        &app,
        "d@engines.example",
        "dep-d",
        StatusCode::CONFLICT,
        "trial_domain_limit",
    )
    .await;
    clock.advance(1);
    let old = with(
        &trial_body("e@five.example", "dep-e"),
        "product_version",
        json!("1.0.0"),
    );
    expect_error(
        send_trial(&app, &old).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "version_too_old",
    )
    .await;

    let refused = trials(&app, &[("outcome", "refused")]).await;
    let codes: Vec<&str> = refused
        .iter()
        .map(|t| t["refusal_code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "version_too_old",
            "trial_domain_limit",
            "email_domain_blocked",
            "trial_used_for_email",
            "trial_used_for_deployment"
        ],
        "newest first"
    );
    for trial in &refused {
        assert_eq!(trial["outcome"], "refused");
        assert!(!trial["refusal_message"].as_str().unwrap().is_empty());
        assert!(trial["license_id"].is_null(), "{trial}");
        assert!(trial["account_id"].is_null(), "{trial}");
        assert!(trial["expires_at"].is_null(), "{trial}");
    }
    // The refused request is kept as it was asked.
    let by_email = &refused[3];
    assert_eq!(by_email["email"], "ADA+2@engines.example");
    assert_eq!(by_email["email_key"], "ada@engines.example");
    assert_eq!(by_email["deployment_id"], "dep-2");
    assert_eq!(by_email["first_name"], "Ada");
    assert_eq!(by_email["client_address"], "127.0.0.1");
    let shown = get(
        &app,
        &format!("/api/v1/trials/{}", by_email["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(&shown, by_email);

    let granted_list = trials(&app, &[("outcome", "granted")]).await;
    assert_eq!(granted_list.len(), 3);
    assert!(granted_list.iter().all(|t| t["refusal_code"].is_null()
        && t["refusal_message"].is_null()
        && t["license_id"].is_string()));
    assert!(ids(&granted_list).contains(&granted["trial_id"].as_str().unwrap().to_owned()));
    assert_eq!(trials(&app, &[]).await.len(), 8);

    // Refusals issue nothing and send nothing.
    let licenses = get(&app, "/api/v1/licenses").await;
    assert_eq!(licenses["items"].as_array().unwrap().len(), 3);
    assert_eq!(outbox(&app).await.len(), 3);
}

async fn trials_are_searched_by_address_domain_deployment_and_date(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let t0 = clock.now();
    let a = grant(&app, "Ada+Work@Engines.example", "dep-a").await; // t0
    clock.advance(DAY);
    let b = grant(&app, "bob@engines.example", "dep-b").await; // t0 + 1d
    clock.advance(DAY);
    refuse(
        &app,
        "ada@engines.example",
        "dep-c",
        StatusCode::CONFLICT,
        "trial_used_for_email",
    )
    .await; // t0 + 2d
    clock.advance(DAY);
    let c = grant(&app, "carol@other.example", "dep-c").await; // t0 + 3d
    let a = a["trial_id"].as_str().unwrap().to_owned();
    let b = b["trial_id"].as_str().unwrap().to_owned();
    let c = c["trial_id"].as_str().unwrap().to_owned();
    let all = trials(&app, &[]).await;
    let refused = all.iter().find(|t| t["outcome"] == "refused").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (a, b, c, refused) = (a.as_str(), b.as_str(), c.as_str(), refused.as_str());
    assert_eq!(ids(&all), [c, refused, b, a], "newest first");

    // By address: however it is spelled, the person's requests.
    for spelling in [
        "ada@engines.example",
        "ADA+other@ENGINES.EXAMPLE",
        " ada+x@engines.example ",
    ] {
        let found = trials(&app, &[("email", spelling)]).await;
        assert_eq!(ids(&found), [refused, a], "{spelling}");
    }
    assert!(
        trials(&app, &[("email", "nobody@engines.example")])
            .await
            .is_empty()
    );
    // By domain, without case.
    let found = trials(&app, &[("domain", "Engines.Example")]).await;
    assert_eq!(ids(&found), [refused, b, a]);
    let found = trials(
        &app,
        &[("domain", "engines.example"), ("outcome", "granted")],
    )
    .await;
    assert_eq!(ids(&found), [b, a]);
    // By deployment: the refused request for dep-c and the granted one.
    let found = trials(&app, &[("deployment_id", "dep-c")]).await;
    assert_eq!(ids(&found), [c, refused]);
    assert!(trials(&app, &[("deployment_id", "DEP-C")]).await.is_empty());
    // By date: `since` inclusive, `until` exclusive.
    let at = |days: i64| t0.add_seconds(days * DAY).rfc3339();
    let found = trials(&app, &[("since", &at(1))]).await;
    assert_eq!(ids(&found), [c, refused, b]);
    let found = trials(&app, &[("until", &at(1))]).await;
    assert_eq!(ids(&found), [a]);
    let found = trials(&app, &[("since", &at(1)), ("until", &at(3))]).await;
    assert_eq!(ids(&found), [refused, b]);
    let found = trials(&app, &[("since", &at(4))]).await;
    assert!(found.is_empty());
    // Filters combine.
    let found = trials(
        &app,
        &[
            ("domain", "engines.example"),
            ("since", &at(1)),
            ("outcome", "refused"),
        ],
    )
    .await;
    assert_eq!(ids(&found), [refused]);
    for item in &all {
        let requested = time(&item["requested_at"]);
        assert!(requested >= t0 && requested <= t0.add_seconds(3 * DAY));
    }
}

async fn trials_page_newest_first_through_every_item_once(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    // Seven requests, some in the same second (ties are ordered by id).
    for i in 0..7 {
        let response = send_trial(
            &app,
            &trial_body(&format!("p{i}@page-{i}.example"), &format!("dep-{i}")),
        )
        .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        if i % 2 == 0 {
            clock.advance(1);
        }
    }
    let everything = trials(&app, &[]).await;
    assert_eq!(everything.len(), 7);
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut query = vec![("limit", "3".to_owned())];
        if let Some(cursor) = &after {
            query.push(("after", cursor.clone()));
        }
        let response = app
            .admin(Method::GET, "/api/v1/trials")
            .query(&query)
            .send()
            .await
            .unwrap();
        let page = expect_json(response, StatusCode::OK).await;
        let items = page["items"].as_array().unwrap();
        seen.extend(ids(items));
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(items.len(), 3, "a page before the last is full");
                after = Some(cursor.to_owned());
            }
            None => break,
        }
        assert!(seen.len() <= 7, "the pages never end");
    }
    assert_eq!(
        seen,
        ids(&everything),
        "the pages, in order, are the whole list"
    );
    let unique: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 7);
    let times: Vec<i64> = everything
        .iter()
        .map(|t| time(&t["requested_at"]).unix())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
}

async fn bad_searches_are_422_naming_the_parameter(kind: Kind) {
    let (app, _clock) = spawn_default(kind).await;
    for (name, value) in [
        ("email", "not-an-address"),
        ("outcome", "maybe"),
        ("since", "yesterday"),
        ("until", "2026-02-30T00:00:00Z"),
        ("limit", "0"),
        ("limit", "100000"),
        ("after", "not-a-cursor"),
        ("colour", "blue"),
    ] {
        let response = app
            .admin(Method::GET, "/api/v1/trials")
            .query(&[(name, value)])
            .send()
            .await
            .unwrap();
        let message =
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query").await;
        assert!(message.contains(name), "{name}={value}: {message}");
    }
    let missing = app
        .admin(
            Method::GET,
            &format!("/api/v1/trials/{}", uuid::Uuid::new_v4()),
        )
        .send()
        .await
        .unwrap();
    expect_error(missing, StatusCode::NOT_FOUND, "not_found").await;
    let unreadable = app
        .admin(Method::GET, "/api/v1/trials/trial-1")
        .send()
        .await
        .unwrap();
    expect_error(unreadable, StatusCode::NOT_FOUND, "invalid_id").await;
}

/// The id of a granted trial for `email` on `deployment`.
async fn granted_trial(app: &TestApp, email: &str, deployment: &str) -> String {
    grant(app, email, deployment).await["trial_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn extending_a_trial_supersedes_its_license_and_moves_its_end(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let t0 = clock.now();
    let id = granted_trial(&app, "ada@engines.example", "dep-1").await;
    let (old_license, old_claims) = trial_license(&app, &id, t0).await;
    clock.advance(10 * DAY);
    let now = clock.now();

    let response = post(
        &app,
        &format!("/api/v1/trials/{id}/extend"),
        &json!({ "days": 14 }),
    )
    .await;
    let extended = expect_json(response, StatusCode::OK).await;
    assert_eq!(extended["id"], id.as_str());
    assert_eq!(extended["outcome"], "granted");
    assert_ne!(extended["license_id"], old_license["id"]);
    let new_end = old_claims.license_expires.add_seconds(14 * DAY);
    assert_eq!(
        time(&extended["expires_at"]),
        new_end,
        "14 days after the old end"
    );
    assert_eq!(get(&app, &format!("/api/v1/trials/{id}")).await, extended);

    // The new license: the same trial terms with the new end, superseding the old one.
    let (new_license, claims) = trial_license(&app, &id, now).await;
    assert_eq!(new_license["supersedes"], old_license["id"]);
    assert_eq!(new_license["issued_by"], "desk");
    assert_eq!(new_license["status"], "active");
    assert!(claims.trial && !claims.evaluation);
    assert_eq!(claims.license_expires, new_end);
    assert_eq!(claims.exp, new_end);
    assert_eq!(
        claims.nbf, old_claims.nbf,
        "the trial still started when it started"
    );
    assert_eq!(claims.iat, now);
    assert_eq!(claims.sequence, old_claims.sequence + 1);
    assert_eq!(claims.account_id, old_claims.account_id);
    assert_eq!(claims.sub, old_claims.sub);
    assert_eq!(claims.deployment_ids, old_claims.deployment_ids);
    assert_eq!(claims.features, old_claims.features);
    assert_eq!(claims.feature_set, old_claims.feature_set);
    assert_eq!(claims.checkin, old_claims.checkin);
    assert_eq!(claims.min_product_version, old_claims.min_product_version);
    let old_now = get(
        &app,
        &format!("/api/v1/licenses/{}", old_license["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(old_now["status"], "superseded");
    // The old token still verifies on its own (it is superseded, not revoked).
    verify(&app, old_license["token"].as_str().unwrap(), now);

    // The extension is audited and the new license is emailed.
    let entries = audit(&app).await;
    let extend: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "trial.extend")
        .collect();
    assert_eq!(extend.len(), 1, "{entries:?}");
    assert_eq!(extend[0]["actor"], "desk");
    assert_eq!(extend[0]["target"], id.as_str());
    assert_eq!(extend[0]["details"]["days"], 14);
    assert_eq!(extend[0]["details"]["supersedes"], old_license["id"]);
    let mail = outbox(&app).await;
    assert_eq!(mail.len(), 2);
    assert_eq!(mail[0]["license_id"], new_license["id"]);

    // Extending again continues from the new end; an expired trial is extended from now.
    let response = post(
        &app,
        &format!("/api/v1/trials/{id}/extend"),
        &json!({ "days": 1 }),
    )
    .await;
    let again = expect_json(response, StatusCode::OK).await;
    assert_eq!(time(&again["expires_at"]), new_end.add_seconds(DAY));
    clock.advance(100 * DAY);
    let response = post(
        &app,
        &format!("/api/v1/trials/{id}/extend"),
        &json!({ "days": 7 }),
    )
    .await;
    let revived = expect_json(response, StatusCode::OK).await;
    assert_eq!(
        time(&revived["expires_at"]),
        clock.now().add_seconds(7 * DAY)
    );
    let (_, claims) = trial_license(&app, &id, clock.now()).await;
    assert_eq!(claims.sequence, old_claims.sequence + 3);
}

async fn only_a_granted_trial_with_an_active_license_is_extended(kind: Kind) {
    let (app, _clock) = spawn_default(kind).await;
    let granted = granted_trial(&app, "ada@engines.example", "dep-1").await;
    refuse(
        &app,
        "bob@two.example",
        "dep-1",
        StatusCode::CONFLICT,
        "trial_used_for_deployment",
    )
    .await;
    let refused = trials(&app, &[("outcome", "refused")]).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let extend = |id: String, body: Value| {
        let app = &app;
        async move { post(app, &format!("/api/v1/trials/{id}/extend"), &body).await }
    };
    let message = expect_error(
        extend(refused.clone(), json!({ "days": 7 })).await,
        StatusCode::CONFLICT,
        "trial_not_granted",
    )
    .await;
    assert!(message.contains("refused"), "{message}");
    // Days within 1 ..= the evaluation maximum (90).
    for days in [json!(0), json!(91), json!(-1), json!("7"), json!(null)] {
        expect_field_error(
            extend(granted.clone(), json!({ "days": days })).await,
            "days",
        )
        .await;
    }
    expect_error(
        extend(granted.clone(), json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    expect_error(
        extend(uuid::Uuid::new_v4().to_string(), json!({ "days": 7 })).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        extend("nope".to_owned(), json!({ "days": 7 })).await,
        StatusCode::NOT_FOUND,
        "invalid_id",
    )
    .await;
    // A revoked trial license is not brought back by an extension.
    let license_id = get(&app, &format!("/api/v1/trials/{granted}")).await["license_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = post(
        &app,
        &format!("/api/v1/licenses/{license_id}/revoke"),
        &json!({ "reason": "abuse" }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let message = expect_error(
        extend(granted.clone(), json!({ "days": 7 })).await,
        StatusCode::CONFLICT,
        "license_not_active",
    )
    .await;
    assert!(message.contains("revoked"), "{message}");
    // Nothing was extended: no audit entry, the trial unchanged.
    assert!(
        audit(&app)
            .await
            .iter()
            .all(|e| e["action"] != "trial.extend")
    );
    assert_eq!(
        get(&app, &format!("/api/v1/trials/{granted}")).await["license_id"],
        license_id.as_str()
    );
}

/// Issue #12, finding 2: a reissue built its terms without the check-in requirement and the
/// minimum version, so a reissued trial became usable air-gapped. It keeps every constraint
/// of the license it replaces.
async fn a_reissued_trial_keeps_its_trial_rules(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let t0 = clock.now();
    let id = granted_trial(&app, "ada@engines.example", "dep-1").await;
    let (old_license, old_claims) = trial_license(&app, &id, t0).await;
    assert!(old_claims.checkin.is_some() && old_claims.min_product_version.is_some());
    let response = post(
        &app,
        &format!(
            "/api/v1/licenses/{}/reissue",
            old_license["id"].as_str().unwrap()
        ),
        &json!({ "user_limit": 20 }),
    )
    .await;
    let reissued = expect_json(response, StatusCode::CREATED).await;
    let claims = verify(&app, reissued["token"].as_str().unwrap(), t0);
    assert!(claims.trial);
    assert_eq!(claims.user_limit(), Some(20), "the change asked for");
    assert_eq!(claims.checkin, old_claims.checkin, "still must check in");
    assert_eq!(
        claims.min_product_version, old_claims.min_product_version,
        "still needs the minimum version"
    );
}
