//! Wrong fields in well-formed JSON: 422 with a code and a message that names the field, on
//! every route that takes a body; nothing is stored.

use crate::helpers::{
    account_id, days_from_now, expect_error, issue, license_request, on_both_backends,
    stored_licenses, with,
};
use crate::support::{Kind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    wrong_license_fields_are_422_naming_the_field,
    wrong_account_fields_are_422_naming_the_field,
    wrong_revoke_and_reissue_fields_are_422,
    what_the_document_forbids_is_refused_before_any_trimming,
);

async fn wrong_license_fields_are_422_naming_the_field(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let base = license_request(&account_id(&app).await);
    let many_features: serde_json::Map<String, Value> = (0..300)
        .map(|n| (format!("feature_{n}"), json!(1)))
        .collect();
    let many_deployments: Vec<String> = (0..1001).map(|n| format!("d-{n}")).collect();
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "unknown field",
            with(&base, "colour", Some(json!("red"))),
            "invalid_field",
            "colour",
        ),
        (
            "user_limit as text",
            with(&base, "user_limit", Some(json!("ten"))),
            "invalid_field",
            "user_limit",
        ),
        (
            "user_limit null",
            with(&base, "user_limit", Some(Value::Null)),
            "invalid_field",
            "user_limit",
        ),
        (
            "user_limit fraction",
            with(&base, "user_limit", Some(json!(2.5))),
            "invalid_field",
            "user_limit",
        ),
        (
            "user_limit beyond i64",
            with(&base, "user_limit", Some(json!(u64::MAX))),
            "invalid_field",
            "user_limit",
        ),
        (
            "negative user_limit",
            with(&base, "user_limit", Some(json!(-1))),
            "invalid_field",
            "user_limit",
        ),
        (
            "huge user_limit",
            with(&base, "user_limit", Some(json!(10_000_001))),
            "invalid_field",
            "user_limit",
        ),
        (
            "trial as text",
            with(&base, "trial", Some(json!("yes"))),
            "invalid_field",
            "trial",
        ),
        (
            "feature value as text",
            with(&base, "features", Some(json!({ "audit_log": "on" }))),
            "invalid_field",
            "features",
        ),
        (
            "features as a list",
            with(&base, "features", Some(json!(["audit_log"]))),
            "invalid_field",
            "features",
        ),
        (
            "contradicting user_limit",
            with(&base, "features", Some(json!({ "user_limit": 3 }))),
            "invalid_field",
            "features",
        ),
        (
            "negative feature",
            with(&base, "features", Some(json!({ "audit_log": -1 }))),
            "invalid_license",
            "audit_log",
        ),
        (
            "bad feature name",
            with(&base, "features", Some(json!({ "Audit-Log": 1 }))),
            "invalid_license",
            "Audit-Log",
        ),
        (
            "too many features",
            with(&base, "features", Some(Value::Object(many_features))),
            "invalid_license",
            "features",
        ),
        (
            "unknown feature set",
            with(&base, "feature_set", Some(json!("gold"))),
            "invalid_field",
            "feature_set",
        ),
        (
            "account_id not a UUID",
            with(&base, "account_id", Some(json!("acme"))),
            "invalid_field",
            "account_id",
        ),
        (
            "missing account_id",
            with(&base, "account_id", None),
            "invalid_field",
            "account_id",
        ),
        (
            "missing email",
            with(&base, "email", None),
            "invalid_field",
            "email",
        ),
        (
            "invalid email",
            with(&base, "email", Some(json!("not-an-email"))),
            "invalid_field",
            "email",
        ),
        (
            "email with a space",
            with(&base, "email", Some(json!("a b@example.com"))),
            "invalid_field",
            "email",
        ),
        (
            "email as a number",
            with(&base, "email", Some(json!(42))),
            "invalid_field",
            "email",
        ),
        (
            "expires before start",
            with(&base, "expires_at", Some(json!(days_from_now(-2)))),
            "invalid_field",
            "expires_at",
        ),
        (
            "expires at start",
            with(&base, "expires_at", base["starts_at"].clone().into()),
            "invalid_field",
            "expires_at",
        ),
        (
            "date without time",
            with(&base, "starts_at", Some(json!("2030-01-01"))),
            "invalid_field",
            "starts_at",
        ),
        (
            "words for a time",
            with(&base, "expires_at", Some(json!("next year"))),
            "invalid_field",
            "expires_at",
        ),
        (
            "impossible date",
            with(&base, "starts_at", Some(json!("2030-13-45T00:00:00Z"))),
            "invalid_field",
            "starts_at",
        ),
        (
            "before 1970",
            with(&base, "starts_at", Some(json!("1969-12-31T00:00:00Z"))),
            "invalid_field",
            "starts_at",
        ),
        (
            "unix seconds",
            with(&base, "starts_at", Some(json!(1_900_000_000))),
            "invalid_field",
            "starts_at",
        ),
        (
            "grace_days 1000",
            with(&base, "grace_days", Some(json!(1000))),
            "invalid_field",
            "grace_days",
        ),
        (
            "negative grace_days",
            with(&base, "grace_days", Some(json!(-1))),
            "invalid_field",
            "grace_days",
        ),
        (
            "deployment id with a space",
            with(&base, "deployment_ids", Some(json!(["my deployment"]))),
            "invalid_field",
            "deployment_ids",
        ),
        (
            "empty deployment id",
            with(&base, "deployment_ids", Some(json!([""]))),
            "invalid_field",
            "deployment_ids",
        ),
        (
            "deployment ids as text",
            with(&base, "deployment_ids", Some(json!("dep-1"))),
            "invalid_field",
            "deployment_ids",
        ),
        (
            "too many deployments",
            with(&base, "deployment_ids", Some(json!(many_deployments))),
            "invalid_field",
            "deployment_ids",
        ),
        (
            "expired already",
            with(
                &with(&base, "starts_at", Some(json!(days_from_now(-30)))),
                "expires_at",
                Some(json!(days_from_now(-10))),
            ),
            "invalid_license",
            "exp",
        ),
        ("a list", json!([base.clone()]), "invalid_field", ""),
        ("a string", json!("license"), "invalid_field", ""),
        ("null", Value::Null, "invalid_field", ""),
    ];
    for (what, body, code, needle) in cases {
        let response = app
            .admin(Method::POST, "/api/v1/licenses")
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{what}");
        let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, code).await;
        assert!(
            message.contains(needle),
            "{what}: {message:?} should name {needle:?}"
        );
    }
    assert_eq!(stored_licenses(&app).await.len(), 0);
}

async fn wrong_account_fields_are_422_naming_the_field(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let base = json!({ "name": "Acme", "email": "billing@acme.example" });
    let cases: Vec<(&str, Value, &str)> = vec![
        ("empty name", with(&base, "name", Some(json!(""))), "name"),
        (
            "blank name",
            with(&base, "name", Some(json!("   "))),
            "name",
        ),
        (
            "long name",
            with(&base, "name", Some(json!("n".repeat(201)))),
            "name",
        ),
        (
            "name as a number",
            with(&base, "name", Some(json!(7))),
            "name",
        ),
        ("missing name", with(&base, "name", None), "name"),
        (
            "invalid email",
            with(&base, "email", Some(json!("acme.example"))),
            "email",
        ),
        ("missing email", with(&base, "email", None), "email"),
        (
            "type with capitals",
            with(&base, "type", Some(json!("SalesForce"))),
            "type",
        ),
        ("empty type", with(&base, "type", Some(json!(""))), "type"),
        (
            "type as a list",
            with(&base, "type", Some(json!(["x"]))),
            "type",
        ),
        (
            "unknown field",
            with(&base, "phone", Some(json!("555"))),
            "phone",
        ),
    ];
    for (what, body, needle) in cases {
        let response = app
            .admin(Method::POST, "/api/v1/accounts")
            .json(&body)
            .send()
            .await
            .unwrap();
        let message =
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert!(
            message.contains(needle),
            "{what}: {message:?} should name {needle:?}"
        );
    }
    let accounts = crate::helpers::get(&app, "/api/v1/accounts").await;
    assert_eq!(accounts["items"].as_array().unwrap().len(), 0);
}

async fn wrong_revoke_and_reissue_fields_are_422(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let license = issue(&app, &license_request(&account_id(&app).await)).await;
    let id = license["id"].as_str().unwrap();
    let revoke = format!("/api/v1/licenses/{id}/revoke");
    for (what, body, needle) in [
        ("empty reason", json!({ "reason": "" }), "reason"),
        ("blank reason", json!({ "reason": " \t " }), "reason"),
        (
            "long reason",
            json!({ "reason": "r".repeat(501) }),
            "reason",
        ),
        ("reason as a number", json!({ "reason": 5 }), "reason"),
        ("missing reason", json!({}), "reason"),
        // Published on the revocation list and mailed: no control characters.
        (
            "reason with control characters",
            json!({ "reason": "fraud\r\nBcc: everyone@example.com" }),
            "reason",
        ),
        (
            "reason with an escape",
            json!({ "reason": "x\u{1b}[31m" }),
            "reason",
        ),
        (
            "unknown field",
            json!({ "reason": "x", "force": true }),
            "force",
        ),
    ] {
        let response = app
            .admin(Method::POST, &revoke)
            .json(&body)
            .send()
            .await
            .unwrap();
        let message =
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert!(message.contains(needle), "{what}: {message:?}");
    }
    let reissue = format!("/api/v1/licenses/{id}/reissue");
    for (what, body, needle) in [
        (
            "negative user_limit",
            json!({ "user_limit": -5 }),
            "user_limit",
        ),
        (
            "unparseable expiry",
            json!({ "expires_at": "soon" }),
            "expires_at",
        ),
        (
            "expiry before start",
            json!({ "expires_at": days_from_now(-3) }),
            "expires_at",
        ),
        (
            "grace_days 1000",
            json!({ "grace_days": 1000 }),
            "grace_days",
        ),
        ("invalid email", json!({ "email": "nobody" }), "email"),
        (
            "invalid deployment",
            json!({ "deployment_ids": ["a/b"] }),
            "deployment_ids",
        ),
        ("unknown field", json!({ "trial": true }), "trial"),
    ] {
        let response = app
            .admin(Method::POST, &reissue)
            .json(&body)
            .send()
            .await
            .unwrap();
        let message =
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert!(message.contains(needle), "{what}: {message:?}");
    }
    // Nothing changed: the license is still the one active license.
    let stored = stored_licenses(&app).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].status,
        license_server::store::licenses::LicenseStatus::Active
    );
}

/// openapi.json bounds a value as it is sent: `maxLength` counts the spaces around it, and a
/// pattern without spaces forbids them. The server trimmed first and then checked, so it
/// accepted a 501-character reason that began with a space, and names, emails, deployment
/// ids and versions wrapped in spaces (schemathesis, ST201 on `POST /licenses/{id}/revoke`).
async fn what_the_document_forbids_is_refused_before_any_trimming(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let account = account_id(&app).await;
    let license = issue(&app, &license_request(&account)).await;
    let id = license["id"].as_str().unwrap();
    let trial = json!({
        "email": "ada@engines.example", "first_name": "Ada", "last_name": "Lovelace",
        "company": "Analytical Engines Ltd", "country": "GB", "developers": "11-50",
        "deployment_id": "trial-dep", "product_version": "2.16.0",
    });
    let checkin = json!({
        "deployment_id": "dep-1", "license_ids": [id],
        "active_users": 1, "product_version": "2.16.0",
    });
    let padded = |n: usize| format!(" {}", "x".repeat(n));
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "reason of 500 characters after a space",
            format!("/api/v1/licenses/{id}/revoke"),
            json!({ "reason": padded(500) }),
            "reason",
        ),
        (
            "account name of 200 characters after a space",
            "/api/v1/accounts".into(),
            json!({ "name": padded(200), "email": "billing@acme.example" }),
            "name",
        ),
        (
            "account email after a space",
            "/api/v1/accounts".into(),
            json!({ "name": "Acme", "email": " billing@acme.example" }),
            "email",
        ),
        (
            "license email after a space",
            "/api/v1/licenses".into(),
            with(
                &license_request(&account),
                "email",
                Some(json!(" ops@acme.example")),
            ),
            "email",
        ),
        (
            "token name after a space",
            "/api/v1/tokens".into(),
            json!({ "name": " ops", "role": "viewer" }),
            "name",
        ),
        (
            "user name after a space",
            "/api/v1/users".into(),
            json!({ "name": " ops", "role": "viewer" }),
            "name",
        ),
        (
            "check-in deployment id after a space",
            "/api/v1/checkins".into(),
            with(&checkin, "deployment_id", Some(json!(" dep-1"))),
            "deployment_id",
        ),
        (
            "check-in product version after a space",
            "/api/v1/checkins".into(),
            with(&checkin, "product_version", Some(json!(" 2.16.0"))),
            "product_version",
        ),
        (
            "trial email after a space",
            "/api/v1/trials".into(),
            with(&trial, "email", Some(json!(" ada@engines.example"))),
            "email",
        ),
        (
            "trial deployment id after a space",
            "/api/v1/trials".into(),
            with(&trial, "deployment_id", Some(json!("trial-dep "))),
            "deployment_id",
        ),
        (
            "trial product version after a space",
            "/api/v1/trials".into(),
            with(&trial, "product_version", Some(json!("2.16.0 "))),
            "product_version",
        ),
        (
            "webhook URL after a space",
            "/api/v1/webhooks".into(),
            json!({ "url": " https://hooks.example/licensor", "events": ["trial.granted"] }),
            "url",
        ),
        (
            "webhook event after a space",
            "/api/v1/webhooks".into(),
            json!({ "url": "https://hooks.example/licensor", "events": [" trial.granted"] }),
            "events",
        ),
        // Postgres cannot store a NUL in text: this was a 500 there (schemathesis, ST101).
        (
            "webhook description with a NUL",
            "/api/v1/webhooks".into(),
            json!({
                "url": "https://hooks.example/licensor",
                "events": ["trial.granted"],
                "description": "[\u{0}*\u{4}R",
            }),
            "description",
        ),
        (
            "trial company of 200 characters after a space",
            "/api/v1/trials".into(),
            with(&trial, "company", Some(json!(padded(200)))),
            "company",
        ),
    ];
    let mut accepted = Vec::new();
    for (what, path, body, needle) in cases {
        let response = app
            .admin(Method::POST, &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        if response.status() != StatusCode::UNPROCESSABLE_ENTITY {
            accepted.push(format!("{what}: {}", response.status()));
            continue;
        }
        let message =
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert!(message.contains(needle), "{what}: {message:?}");
    }
    assert!(accepted.is_empty(), "not refused with 422: {accepted:#?}");
    // The license is untouched and nothing else was stored.
    let stored = stored_licenses(&app).await;
    assert_eq!(stored.len(), 1, "only the license issued above");
    assert_eq!(
        stored[0].status,
        license_server::store::licenses::LicenseStatus::Active
    );
}
