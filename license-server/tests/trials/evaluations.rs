//! `/api/v1/evaluations`: enroll (by account, address or domain), validation, show, list,
//! end, and the audit trail of every change.

use crate::helpers::{
    audit, create_account, enroll, enrollment, expect_error, expect_field_error, expect_json, get,
    grant, on_both_backends, post, refuse, spawn_default, time,
};
use crate::support::Kind;
use license_core::DAY;
use license_server::clock::Clock as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    enrollments_name_an_account_an_address_or_a_domain,
    enrollment_requests_are_validated,
    ending_an_enrollment_brings_the_rules_back,
    the_active_filter_lists_enrollments_in_force,
    every_enrollment_change_is_audited,
    the_program_needs_an_admin_token,
);

fn assert_view(view: &Value) {
    let keys: Vec<&str> = view
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "account_id",
            "active",
            "approved_by",
            "created_at",
            "created_by",
            "email",
            "email_domain",
            "end_reason",
            "ended_at",
            "ended_by",
            "ends_at",
            "id",
            "max_term_days",
            "reason",
            "starts_at",
            "user_limit",
            "waives"
        ],
        "{view}"
    );
}

async fn enrollments_name_an_account_an_address_or_a_domain(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    let account = create_account(&app, "Acme Corp", "ops@acme.example").await;

    let mut body = enrollment(
        json!({ "account_id": account }),
        &["checkin", "domain_limit", "checkin"],
        now,
    );
    body["max_term_days"] = json!(60);
    body["user_limit"] = json!(40);
    let by_account = enroll(&app, &body).await;
    assert_view(&by_account);
    assert_eq!(by_account["account_id"], account.as_str());
    assert!(by_account["email"].is_null() && by_account["email_domain"].is_null());
    assert_eq!(by_account["reason"], "strategic prospect, air-gapped pilot");
    assert_eq!(by_account["approved_by"], "Grace Hopper (sales director)");
    assert_eq!(
        by_account["waives"],
        json!(["checkin", "domain_limit"]),
        "sorted, without repeats"
    );
    assert_eq!(by_account["max_term_days"], 60);
    assert_eq!(by_account["user_limit"], 40);
    assert_eq!(by_account["active"], true);
    assert_eq!(by_account["created_by"], "desk");
    assert_eq!(time(&by_account["starts_at"]), now, "starts now by default");
    assert_eq!(time(&by_account["ends_at"]), now.add_seconds(60 * DAY));
    assert_eq!(time(&by_account["created_at"]), now);
    assert!(by_account["ended_at"].is_null() && by_account["end_reason"].is_null());

    let by_email = enroll(
        &app,
        &enrollment(
            json!({ "email": "Grace+Eval@Navy.Example" }),
            &["one_trial_per_email"],
            now,
        ),
    )
    .await;
    assert_eq!(
        by_email["email"], "grace@navy.example",
        "the address is kept as the rule compares it"
    );
    assert!(by_email["account_id"].is_null() && by_email["email_domain"].is_null());
    assert!(by_email["max_term_days"].is_null() && by_email["user_limit"].is_null());

    let starts_at = now.add_seconds(2 * DAY);
    let mut body = enrollment(
        json!({ "email_domain": "BigCo.Example" }),
        &[
            "one_trial_per_deployment",
            "one_trial_per_email",
            "domain_limit",
            "min_product_version",
            "checkin",
            "blocked_domains",
        ],
        now,
    );
    body["starts_at"] = json!(starts_at.rfc3339());
    let by_domain = enroll(&app, &body).await;
    assert_eq!(by_domain["email_domain"], "bigco.example");
    assert_eq!(by_domain["waives"].as_array().unwrap().len(), 6);
    assert_eq!(by_domain["active"], false, "not started yet");
    assert_eq!(time(&by_domain["starts_at"]), starts_at);

    for view in [&by_account, &by_email, &by_domain] {
        let shown = get(
            &app,
            &format!("/api/v1/evaluations/{}", view["id"].as_str().unwrap()),
        )
        .await;
        assert_eq!(&shown, view);
    }
    let listed = get(&app, "/api/v1/evaluations").await;
    let ids: Vec<&Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["id"])
        .collect();
    assert_eq!(ids.len(), 3, "{listed}");
    for view in [&by_account, &by_email, &by_domain] {
        assert!(ids.contains(&&view["id"]));
    }
    // Paging one at a time reaches each once.
    let first = get(&app, "/api/v1/evaluations?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = get(&app, &format!("/api/v1/evaluations?limit=2&after={cursor}")).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["next_cursor"].is_null());

    let missing = app
        .admin(
            Method::GET,
            &format!("/api/v1/evaluations/{}", uuid::Uuid::new_v4()),
        )
        .send()
        .await
        .unwrap();
    expect_error(missing, StatusCode::NOT_FOUND, "not_found").await;
    let unreadable = app
        .admin(Method::GET, "/api/v1/evaluations/not-an-id")
        .send()
        .await
        .unwrap();
    expect_error(unreadable, StatusCode::NOT_FOUND, "invalid_id").await;
}

async fn enrollment_requests_are_validated(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    let good = enrollment(json!({ "email": "ada@engines.example" }), &["checkin"], now);
    let send = |body: Value| {
        let app = &app;
        async move { post(app, "/api/v1/evaluations", &body).await }
    };
    let without = |body: &Value, field: &str| {
        let mut body = body.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };

    // Exactly one subject.
    let message = expect_error(
        send(without(&good, "email")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert!(
        message.contains("account_id") && message.contains("email_domain"),
        "{message}"
    );
    let mut two = good.clone();
    two["email_domain"] = json!("engines.example");
    expect_error(
        send(two).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    let mut three = good.clone();
    three["email_domain"] = json!("engines.example");
    three["account_id"] = json!(uuid::Uuid::new_v4());
    expect_error(
        send(three).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;

    // An account that does not exist.
    let unknown = enrollment(json!({ "account_id": uuid::Uuid::new_v4() }), &[], now);
    let message = expect_error(
        send(unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_account",
    )
    .await;
    assert!(message.contains("does not exist"), "{message}");
    let not_uuid = enrollment(json!({ "account_id": "acme" }), &[], now);
    expect_field_error(send(not_uuid).await, "account_id").await;

    // Subjects that are not addresses or domains.
    let bad_email = enrollment(json!({ "email": "nobody" }), &[], now);
    expect_field_error(send(bad_email).await, "email").await;
    for domain in ["localhost", "not a domain", "@bigco.example", ""] {
        let bad_domain = enrollment(json!({ "email_domain": domain }), &[], now);
        expect_field_error(send(bad_domain).await, "email_domain").await;
    }

    // Dates: the end in the past, before the start, or unreadable.
    let mut past = good.clone();
    past["ends_at"] = json!(now.add_seconds(-DAY).rfc3339());
    expect_field_error(send(past).await, "ends_at").await;
    let mut now_exactly = good.clone();
    now_exactly["ends_at"] = json!(now.rfc3339());
    expect_field_error(send(now_exactly).await, "ends_at").await;
    let mut before_start = good.clone();
    before_start["starts_at"] = json!(now.add_seconds(90 * DAY).rfc3339());
    expect_field_error(send(before_start).await, "ends_at").await;
    let mut unreadable = good.clone();
    unreadable["ends_at"] = json!("next tuesday");
    expect_field_error(send(unreadable).await, "ends_at").await;
    let mut unreadable = good.clone();
    unreadable["starts_at"] = json!("2026-13-01T00:00:00Z");
    expect_field_error(send(unreadable).await, "starts_at").await;
    expect_field_error(send(without(&good, "ends_at")).await, "ends_at").await;

    // Grants within bounds: the term up to the configured maximum (90 days), seats from 1.
    for days in [0, 91, 365] {
        let mut body = good.clone();
        body["max_term_days"] = json!(days);
        let message = expect_field_error(send(body).await, "max_term_days").await;
        assert!(
            message.contains("90"),
            "the message says the maximum: {message}"
        );
    }
    for seats in [0, -5] {
        let mut body = good.clone();
        body["user_limit"] = json!(seats);
        expect_field_error(send(body).await, "user_limit").await;
    }

    // Waivers are trial rules by name.
    for rule in ["everything", "Checkin", "rate_limit", ""] {
        let mut body = good.clone();
        body["waives"] = json!([rule]);
        let message = expect_field_error(send(body).await, "waives").await;
        assert!(!message.is_empty(), "{rule}");
    }
    let mut body = good.clone();
    body["waives"] = json!("checkin");
    expect_field_error(send(body).await, "waives").await;

    // Reason and approver are required words.
    for field in ["reason", "approved_by"] {
        let mut blank = good.clone();
        blank[field] = json!("   ");
        expect_field_error(send(blank).await, field).await;
        expect_field_error(send(without(&good, field)).await, field).await;
    }
    let mut long = good.clone();
    long["reason"] = json!("x".repeat(501));
    expect_field_error(send(long).await, "reason").await;
    let mut unknown_field = good.clone();
    unknown_field["waives_everything"] = json!(true);
    let message = expect_error(
        send(unknown_field).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_field",
    )
    .await;
    assert!(message.contains("waives_everything"), "{message}");

    // Nothing above was enrolled or audited; the good request is.
    assert_eq!(get(&app, "/api/v1/evaluations").await["items"], json!([]));
    assert!(
        audit(&app)
            .await
            .iter()
            .all(|entry| entry["action"] != "evaluation.enroll")
    );
    let created = enroll(&app, &good).await;
    assert_eq!(created["waives"], json!(["checkin"]));
}

async fn ending_an_enrollment_brings_the_rules_back(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    grant(&app, "ada@engines.example", "dep-1").await;
    let evaluation = enroll(
        &app,
        &enrollment(
            json!({ "email": "ada@engines.example" }),
            &["one_trial_per_email"],
            now,
        ),
    )
    .await;
    let id = evaluation["id"].as_str().unwrap();
    let accepted = grant(&app, "ada@engines.example", "dep-2").await;
    assert_eq!(accepted["evaluation"], true);

    clock.advance(3600);
    let end = |body: Value| {
        let app = &app;
        let path = format!("/api/v1/evaluations/{id}/end");
        async move { post(app, &path, &body).await }
    };
    expect_field_error(end(json!({ "reason": "" })).await, "reason").await;
    expect_field_error(end(json!({})).await, "reason").await;
    let ended = expect_json(
        end(json!({ "reason": "the pilot converted to a contract" })).await,
        StatusCode::OK,
    )
    .await;
    assert_view(&ended);
    assert_eq!(ended["active"], false);
    assert_eq!(time(&ended["ended_at"]), clock.now());
    assert_eq!(ended["ended_by"], "desk");
    assert_eq!(ended["end_reason"], "the pilot converted to a contract");
    assert_eq!(
        ended["ends_at"], evaluation["ends_at"],
        "the planned end stays"
    );
    assert_eq!(get(&app, &format!("/api/v1/evaluations/{id}")).await, ended);

    // The rules apply again.
    refuse(
        &app,
        "ada@engines.example",
        "dep-3",
        StatusCode::CONFLICT,
        "trial_used_for_email",
    )
    .await;
    // Ending twice is a conflict; an unknown enrollment is not found.
    let message = expect_error(
        end(json!({ "reason": "again" })).await,
        StatusCode::CONFLICT,
        "evaluation_ended",
    )
    .await;
    assert!(message.contains(id), "{message}");
    let unknown = post(
        &app,
        &format!("/api/v1/evaluations/{}/end", uuid::Uuid::new_v4()),
        &json!({ "reason": "x" }),
    )
    .await;
    expect_error(unknown, StatusCode::NOT_FOUND, "not_found").await;
    let unreadable = post(
        &app,
        "/api/v1/evaluations/123/end",
        &json!({ "reason": "x" }),
    )
    .await;
    expect_error(unreadable, StatusCode::NOT_FOUND, "invalid_id").await;
}

async fn the_active_filter_lists_enrollments_in_force(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    let current = enroll(
        &app,
        &enrollment(json!({ "email_domain": "a.example" }), &[], now),
    )
    .await;
    let ended = enroll(
        &app,
        &enrollment(json!({ "email_domain": "b.example" }), &[], now),
    )
    .await;
    let mut body = enrollment(json!({ "email_domain": "c.example" }), &[], now);
    body["starts_at"] = json!(now.add_seconds(DAY).rfc3339());
    let future = enroll(&app, &body).await;
    let mut body = enrollment(json!({ "email_domain": "d.example" }), &[], now);
    body["ends_at"] = json!(now.add_seconds(DAY).rfc3339());
    let short = enroll(&app, &body).await;
    let response = post(
        &app,
        &format!("/api/v1/evaluations/{}/end", ended["id"].as_str().unwrap()),
        &json!({ "reason": "lost the deal" }),
    )
    .await;
    expect_json(response, StatusCode::OK).await;

    let ids_of = |page: &Value| -> Vec<String> {
        let mut ids: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |views: &[&Value]| -> Vec<String> {
        let mut ids: Vec<String> = views
            .iter()
            .map(|v| v["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let active = get(&app, "/api/v1/evaluations?active=true").await;
    assert_eq!(ids_of(&active), sorted(&[&current, &short]));
    assert!(
        active["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["active"] == true)
    );
    let all = get(&app, "/api/v1/evaluations?active=false").await;
    assert_eq!(ids_of(&all), sorted(&[&current, &ended, &future, &short]));
    assert_eq!(
        ids_of(&get(&app, "/api/v1/evaluations").await),
        ids_of(&all)
    );

    // Two days on: the future one has started, the short one is over.
    clock.advance(2 * DAY);
    let active = get(&app, "/api/v1/evaluations?active=true").await;
    assert_eq!(ids_of(&active), sorted(&[&current, &future]));

    let bad = app
        .admin(Method::GET, "/api/v1/evaluations?active=maybe")
        .send()
        .await
        .unwrap();
    expect_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query").await;
    let bad = app
        .admin(Method::GET, "/api/v1/evaluations?status=active")
        .send()
        .await
        .unwrap();
    expect_error(bad, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query").await;
}

async fn every_enrollment_change_is_audited(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let now = clock.now();
    let body = enrollment(
        json!({ "email_domain": "audited.example" }),
        &["checkin"],
        now,
    );
    let created = enroll(&app, &body).await;
    let id = created["id"].as_str().unwrap();
    clock.advance(60);
    let response = post(
        &app,
        &format!("/api/v1/evaluations/{id}/end"),
        &json!({ "reason": "pilot over" }),
    )
    .await;
    expect_json(response, StatusCode::OK).await;

    let entries = audit(&app).await;
    let of = |action: &str| -> Vec<&Value> {
        entries.iter().filter(|e| e["action"] == action).collect()
    };
    let enrolled = of("evaluation.enroll");
    assert_eq!(enrolled.len(), 1, "{entries:?}");
    assert_eq!(enrolled[0]["actor"], "desk");
    assert_eq!(enrolled[0]["target"], id);
    assert_eq!(time(&enrolled[0]["at"]), now);
    let details = enrolled[0]["details"].to_string();
    assert!(
        details.contains("audited.example") && details.contains("checkin"),
        "the entry says what was enrolled: {details}"
    );
    let ended = of("evaluation.end");
    assert_eq!(ended.len(), 1, "{entries:?}");
    assert_eq!(ended[0]["actor"], "desk");
    assert_eq!(ended[0]["target"], id);
    assert_eq!(time(&ended[0]["at"]), now.add_seconds(60));
    assert!(
        ended[0]["details"].to_string().contains("pilot over"),
        "{}",
        ended[0]
    );
    // The end comes after the enrollment in the log (newest first).
    let position = |action: &str| entries.iter().position(|e| e["action"] == action).unwrap();
    assert!(position("evaluation.end") < position("evaluation.enroll"));
    // A refused end changes nothing and is not audited.
    let again = post(
        &app,
        &format!("/api/v1/evaluations/{id}/end"),
        &json!({ "reason": "again" }),
    )
    .await;
    expect_error(again, StatusCode::CONFLICT, "evaluation_ended").await;
    assert_eq!(
        audit(&app)
            .await
            .iter()
            .filter(|e| e["action"] == "evaluation.end")
            .count(),
        1
    );
}

async fn the_program_needs_an_admin_token(kind: Kind) {
    let (app, clock) = spawn_default(kind).await;
    let id = uuid::Uuid::new_v4();
    let body = enrollment(json!({ "email": "x@y.example" }), &[], clock.now());
    for (method, path) in [
        (Method::GET, "/api/v1/evaluations".to_owned()),
        (Method::POST, "/api/v1/evaluations".to_owned()),
        (Method::GET, format!("/api/v1/evaluations/{id}")),
        (Method::POST, format!("/api/v1/evaluations/{id}/end")),
        (Method::GET, "/api/v1/trials".to_owned()),
        (Method::GET, format!("/api/v1/trials/{id}")),
        (Method::POST, format!("/api/v1/trials/{id}/extend")),
    ] {
        let anonymous = app
            .client
            .request(method.clone(), app.url(&path))
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let wrong = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth("lsr_not-a-real-token-at-all")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    assert_eq!(get(&app, "/api/v1/evaluations").await["items"], json!([]));
}
