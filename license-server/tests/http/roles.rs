//! Roles on the API (issue #14): a viewer token reads everything but license tokens; a desk
//! token also changes accounts, licenses, trials, evaluations and mail; only an admin token
//! revokes and manages console users and tokens. A refusal is 403 `forbidden` naming the role
//! needed, and changes nothing.

use crate::helpers::{
    account_id, expect_error, expect_json, issue, license_request, on_both_backends,
};
use crate::support::{Kind, TestApp};
use license_server::service::roles::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(each_role_may_do_its_part_and_no_more);

async fn token(app: &TestApp, name: &str, role: Role) -> String {
    let at = app.licensor.now();
    license_server::service::tokens::create(&app.store, "test", name, role, at)
        .await
        .unwrap()
}

async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn each_role_may_do_its_part_and_no_more(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let viewer = token(&app, "viewer", Role::Viewer).await;
    let desk = token(&app, "desk-token", Role::Desk).await;
    let account = account_id(&app).await;
    let license = issue(&app, &license_request(&account)).await;
    let license = license["id"].as_str().unwrap().to_owned();

    // Reads: every role. The license token only for desk and admin.
    for path in [
        "/api/v1/accounts",
        "/api/v1/licenses",
        "/api/v1/audit",
        "/api/v1/outbox",
        "/api/v1/trials",
        "/api/v1/evaluations",
        "/api/v1/deployments",
    ] {
        expect_json(
            send(&app, &viewer, Method::GET, path, None).await,
            StatusCode::OK,
        )
        .await;
    }
    let path = format!("/api/v1/licenses/{license}");
    let seen = expect_json(
        send(&app, &viewer, Method::GET, &path, None).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        seen.get("token").is_none_or(Value::is_null),
        "a viewer reads no token: {seen}"
    );
    let seen = expect_json(
        send(&app, &desk, Method::GET, &path, None).await,
        StatusCode::OK,
    )
    .await;
    assert!(seen["token"].is_string());

    // The desk's work: refused to a viewer, allowed to the desk.
    let desk_routes: Vec<(String, Value, StatusCode)> = vec![
        (
            "/api/v1/accounts".into(),
            json!({"name": "Role Test", "email": "r@example.com"}),
            StatusCode::CREATED,
        ),
        (
            "/api/v1/licenses".into(),
            license_request(&account),
            StatusCode::CREATED,
        ),
        (
            format!("/api/v1/licenses/{license}/resend"),
            json!({}),
            StatusCode::ACCEPTED,
        ),
        (
            "/api/v1/evaluations".into(),
            json!({"email_domain": "roles.example", "reason": "r",
            "approved_by": "sales", "ends_at": "2099-01-01T00:00:00Z", "waives": ["domain_limit"]}),
            StatusCode::CREATED,
        ),
        // Allowed to the desk, and there is no such delivery.
        (
            format!(
                "/api/v1/webhook-deliveries/{}/redeliver",
                uuid::Uuid::new_v4()
            ),
            json!({}),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (path, body, ok) in &desk_routes {
        let refused = send(&app, &viewer, Method::POST, path, Some(body.clone())).await;
        let error = expect_error(refused, StatusCode::FORBIDDEN, "forbidden").await;
        assert!(error.contains("needs the desk role"), "{path}: {error}");
        let allowed = send(&app, &desk, Method::POST, path, Some(body.clone())).await;
        assert_eq!(
            allowed.status(),
            *ok,
            "{path}: {}",
            allowed.text().await.unwrap()
        );
    }

    // Revoking and access: admin only.
    let revoke = format!("/api/v1/licenses/{license}/revoke");
    let admin_routes: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::POST,
            revoke.clone(),
            Some(json!({"reason": "roles"})),
        ),
        (Method::GET, "/api/v1/users".into(), None),
        (
            Method::POST,
            "/api/v1/users".into(),
            Some(json!({"name": "eve", "role": "admin"})),
        ),
        (Method::GET, "/api/v1/tokens".into(), None),
        (
            Method::POST,
            "/api/v1/tokens".into(),
            Some(json!({"name": "eve", "role": "admin"})),
        ),
        (Method::POST, "/api/v1/tokens/viewer/revoke".into(), None),
        // A webhook sends every event to a URL of the caller's choosing: access, not desk work.
        (
            Method::POST,
            "/api/v1/webhooks".into(),
            Some(json!({"url": "https://hooks.example/licensor"})),
        ),
    ];
    for token in [&viewer, &desk] {
        for (method, path, body) in &admin_routes {
            let refused = send(&app, token, method.clone(), path, body.clone()).await;
            let error = expect_error(refused, StatusCode::FORBIDDEN, "forbidden").await;
            assert!(
                error.contains("needs the admin role"),
                "{method} {path}: {error}"
            );
        }
    }
    let still = expect_json(
        send(&app, &desk, Method::GET, &path, None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        still["status"], "active",
        "a refused revoke changed nothing"
    );

    // The admin token (the test app's) does them; a user created without a password gets one.
    let created = app
        .admin(Method::POST, "/api/v1/users")
        .json(&json!({"name": "ops-lead", "role": "desk"}))
        .send()
        .await
        .unwrap();
    let created = expect_json(created, StatusCode::CREATED).await;
    assert_eq!(created["role"], "desk");
    assert_eq!(created["password"].as_str().unwrap().len(), 24);
    let users = expect_json(
        app.admin(Method::GET, "/api/v1/users")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert!(
        users[0].get("password").is_none(),
        "a listed user shows no password"
    );
    let made = app
        .admin(Method::POST, "/api/v1/tokens")
        .json(&json!({"name": "ci", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    let made = expect_json(made, StatusCode::CREATED).await;
    let ci = made["token"].as_str().unwrap().to_owned();
    expect_json(
        send(&app, &ci, Method::GET, "/api/v1/licenses", None).await,
        StatusCode::OK,
    )
    .await;
    let revoked = app
        .admin(Method::POST, "/api/v1/tokens/ci/revoke")
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let after = send(&app, &ci, Method::GET, "/api/v1/licenses", None).await;
    assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
    let revoked = app
        .admin(Method::POST, &revoke)
        .json(&json!({"reason": "roles"}))
        .send()
        .await
        .unwrap();
    expect_json(revoked, StatusCode::OK).await;
    let disabled = app
        .admin(Method::POST, "/api/v1/users/ops-lead/disable")
        .send()
        .await
        .unwrap();
    assert_eq!(disabled.status(), StatusCode::NO_CONTENT);

    // Every change is in the audit log under the name of who made it.
    let audit = expect_json(
        app.admin(Method::GET, "/api/v1/audit?limit=100")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let actions: Vec<(String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("desk-token", "account.create"),
        ("desk", "user.create"),
        ("desk", "token.revoke"),
        ("desk", "license.revoke"),
        ("desk", "user.disable"),
    ] {
        assert!(
            actions
                .iter()
                .any(|(a, b)| a == expected.0 && b == expected.1),
            "{expected:?} missing from {actions:?}"
        );
    }
}
