//! Admin authentication: every admin route refuses a request without a valid bearer token,
//! with 401, `unauthorized` and `WWW-Authenticate: Bearer`; public routes need none.

use crate::helpers::{
    account_id, expect_error, expect_json, issue, license_request, on_both_backends,
    stored_licenses,
};
use crate::support::{Kind, TestApp};
use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    every_admin_route_needs_a_valid_token,
    the_scheme_is_case_insensitive
);

/// Every admin route, with a body that would succeed given a valid token (so that a missing
/// check would show as a 2xx, not as some other error).
fn admin_routes(account: &str, license: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/api/v1/accounts".into(), None),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            Some(json!({ "name": "Intruder", "email": "x@evil.example" })),
        ),
        (Method::GET, format!("/api/v1/accounts/{account}"), None),
        (Method::GET, "/api/v1/licenses".into(), None),
        (
            Method::POST,
            "/api/v1/licenses".into(),
            Some(license_request(account)),
        ),
        (Method::GET, format!("/api/v1/licenses/{license}"), None),
        (
            Method::POST,
            format!("/api/v1/licenses/{license}/reissue"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/licenses/{license}/revoke"),
            Some(json!({ "reason": "intruder" })),
        ),
        (Method::GET, "/api/v1/audit".into(), None),
    ]
}

async fn every_admin_route_needs_a_valid_token(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let account = account_id(&app).await;
    let license = issue(&app, &license_request(&account)).await;
    let license = license["id"].as_str().unwrap();
    let unknown = license_server::service::tokens::generate().unwrap();
    let credentials: Vec<(&str, Option<HeaderValue>)> = vec![
        ("missing", None),
        (
            "basic",
            Some(HeaderValue::from_static("Basic ZGVzazpzZWNyZXQ=")),
        ),
        (
            "basic with the token",
            Some(HeaderValue::from_str(&format!("Basic {}", app.token)).unwrap()),
        ),
        (
            "no scheme",
            Some(HeaderValue::from_str(&app.token).unwrap()),
        ),
        ("empty", Some(HeaderValue::from_static(""))),
        ("bearer alone", Some(HeaderValue::from_static("Bearer"))),
        ("bearer empty", Some(HeaderValue::from_static("Bearer "))),
        (
            "malformed",
            Some(HeaderValue::from_static("Bearer not-a-token")),
        ),
        (
            "truncated",
            Some(HeaderValue::from_str(&format!("Bearer {}", &app.token[..20])).unwrap()),
        ),
        (
            "not text",
            Some(HeaderValue::from_bytes(b"Bearer lsr_\xff\xfe").unwrap()),
        ),
        (
            "unknown",
            Some(HeaderValue::from_str(&format!("Bearer {unknown}")).unwrap()),
        ),
    ];
    for (method, path, body) in admin_routes(&account, license) {
        for (what, header) in &credentials {
            let mut request = app.client.request(method.clone(), app.url(&path));
            if let Some(header) = header {
                request = request.header(AUTHORIZATION, header.clone());
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            let challenge = response.headers().get(WWW_AUTHENTICATE).cloned();
            let status = response.status();
            let message = expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
            assert_eq!(
                challenge.as_ref().and_then(|v| v.to_str().ok()),
                Some("Bearer"),
                "{method} {path} with {what} credentials ({status}): {message}"
            );
        }
    }
    // Nothing was done by the refused requests.
    let stored = stored_licenses(&app).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].status,
        license_server::store::licenses::LicenseStatus::Active
    );
    let accounts = crate::helpers::get(&app, "/api/v1/accounts").await;
    assert_eq!(accounts["items"].as_array().unwrap().len(), 1);

    // With the token, each of them answers (the body checks live in the other modules).
    for (method, path, body) in admin_routes(&account, license) {
        let mut request = app.admin(method.clone(), &path);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let status = request.send().await.unwrap().status();
        assert!(status.is_success(), "{method} {path}: {status}");
    }

    // Public routes need no token.
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/keys",
        "/api/v1/openapi.json",
    ] {
        let status = app.client.get(app.url(path)).send().await.unwrap().status();
        assert_eq!(status, StatusCode::OK, "{path}");
    }
}

async fn the_scheme_is_case_insensitive(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let response = app
            .client
            .get(app.url("/api/v1/accounts"))
            .header(AUTHORIZATION, format!("{scheme} {}", app.token))
            .send()
            .await
            .unwrap();
        expect_json(response, StatusCode::OK).await;
    }
}
