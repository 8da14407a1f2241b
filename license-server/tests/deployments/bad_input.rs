//! Bad input on the deployment routes: malformed bodies, invalid ids, too many licenses, a
//! nonce out of bounds, unknown deployments, and the admin token the desk's routes require
//! while `POST /checkins` and `GET /revocations` need none. Nothing refused is recorded.

use crate::helpers::{
    checkin, checkin_body, deployments, expect_error, expect_field_error, expect_json,
    on_both_backends, send_checkin, spawn, with,
};
use crate::support::{Kind, TestApp};
use license_server::api::ratelimit::RateLimiter;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    malformed_bodies_are_refused,
    an_invalid_deployment_id_is_named,
    license_ids_must_be_ids_and_not_too_many,
    the_nonce_and_version_are_checked,
    an_unknown_deployment_is_not_found,
    the_desk_routes_need_a_token_and_the_public_ones_none,
    checkins_are_rate_limited_per_client,
);

async fn send_raw(
    app: &TestApp,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    let mut request = app.client.post(app.url("/api/v1/checkins")).body(body);
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    request.send().await.unwrap()
}

/// Nothing was recorded by the refused check-ins.
async fn nothing_recorded(app: &TestApp) {
    let listed = deployments(app, &[]).await;
    assert!(
        listed.is_empty(),
        "refused check-ins were recorded: {listed:?}"
    );
}

async fn malformed_bodies_are_refused(kind: Kind) {
    let (app, _clock) = spawn(kind).await;
    let json = Some("application/json");

    // Not JSON at all, or cut short: 400.
    for text in [
        "",
        "{",
        "deployment_id=dep-1",
        "{\"deployment_id\": \"dep-1\",}",
    ] {
        let response = send_raw(&app, json, text).await;
        expect_error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    }
    // Not declared as JSON: 415.
    let good = checkin_body("dep-1", &[], 1).to_string();
    let response = send_raw(&app, Some("text/plain"), good.clone()).await;
    expect_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let response = send_raw(&app, None, good).await;
    expect_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    // Too large: 413.
    let huge = json!({ "deployment_id": "dep-1", "license_ids": [], "active_users": 1,
        "product_version": "2.16.0", "nonce": "x".repeat(70 * 1024) });
    let response = send_raw(&app, json, huge.to_string()).await;
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // JSON of the wrong shape: 422.
    for body in [json!([]), json!("dep-1"), json!(null), json!(42)] {
        let response = send_checkin(&app, &body).await;
        expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    }
    // Each required field missing: 422 naming it.
    let base = checkin_body("dep-1", &[], 1);
    for field in [
        "deployment_id",
        "license_ids",
        "active_users",
        "product_version",
    ] {
        let response = send_checkin(&app, &with(&base, field, None)).await;
        let message =
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
        assert!(message.contains(field), "missing {field}: {message}");
    }
    // Fields of the wrong type, and fields the API does not know: 422 naming them.
    for (field, value) in [
        ("deployment_id", json!(17)),
        ("license_ids", json!("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")),
        ("license_ids", json!([17])),
        ("active_users", json!(-1)),
        ("active_users", json!(1.5)),
        ("active_users", json!("12")),
        ("active_users", json!(18_446_744_073_709_551_616_f64)),
        ("product_version", json!(2.16)),
        ("nonce", json!(5)),
    ] {
        let response = send_checkin(&app, &with(&base, field, Some(value.clone()))).await;
        let message = expect_field_error(response, field).await;
        assert!(!message.is_empty(), "{field} = {value}");
    }
    let response = send_checkin(&app, &with(&base, "users", Some(json!(3)))).await;
    let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert!(message.contains("users"), "{message}");

    nothing_recorded(&app).await;
}

async fn an_invalid_deployment_id_is_named(kind: Kind) {
    let (app, _clock) = spawn(kind).await;
    let too_long = "d".repeat(129);
    for bad in [
        "",
        "   ",
        "has space",
        "a/b",
        "dep-1?x=1",
        "ключ",
        "dep\u{0}1",
        too_long.as_str(),
    ] {
        let response = send_checkin(&app, &checkin_body(bad, &[], 1)).await;
        let message = expect_field_error(response, "deployment_id").await;
        assert!(message.contains("deployment id"), "{bad:?}: {message}");
    }
    nothing_recorded(&app).await;
    // The longest id, and every character allowed, are accepted.
    let longest = "d".repeat(128);
    checkin(&app, &longest, &[], 1).await;
    checkin(&app, "Az09._:-", &[], 1).await;
    checkin(&app, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", &[], 1).await;
    assert_eq!(deployments(&app, &[]).await.len(), 3);
}

async fn license_ids_must_be_ids_and_not_too_many(kind: Kind) {
    let (app, _clock) = spawn(kind).await;
    for bad in ["lic-1", "", "0f1e2d3c-4b5a-6978-8796", "{0f1e2d3c}"] {
        let body = checkin_body("dep-1", &["0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", bad], 1);
        let message = expect_field_error(send_checkin(&app, &body).await, "license_ids").await;
        assert!(message.contains("not a license id"), "{bad:?}: {message}");
    }

    let ids: Vec<String> = (0..257).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let response = send_checkin(&app, &checkin_body("dep-1", &refs, 1)).await;
    let message = expect_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "too_many_licenses",
    )
    .await;
    assert!(message.contains("256"), "{message}");
    nothing_recorded(&app).await;

    // 256 are accepted: unknown ids are reported as unknown, not refused.
    let answer = checkin(&app, "dep-1", &refs[..256], 1).await;
    let statuses = answer["licenses"].as_array().unwrap();
    assert_eq!(statuses.len(), 256);
    assert!(
        statuses.iter().all(|l| l["status"] == "unknown"),
        "{answer}"
    );
}

async fn the_nonce_and_version_are_checked(kind: Kind) {
    let (app, _clock) = spawn(kind).await;
    let base = checkin_body("dep-1", &[], 1);
    let too_long = "n".repeat(129);
    for nonce in [too_long.as_str(), "", "has space", "tab\there", "ключ"] {
        let body = with(&base, "nonce", Some(json!(nonce)));
        expect_field_error(send_checkin(&app, &body).await, "nonce").await;
    }
    for version in [
        "",
        "latest",
        "2",
        "2.16",
        "2.16.0.1",
        "x.y.z",
        "2.16.0 beta",
        "2..0",
        // openapi.json's pattern has no room for blanks around the version.
        " 2.16.1 ",
    ] {
        let body = with(&base, "product_version", Some(json!(version)));
        expect_field_error(send_checkin(&app, &body).await, "product_version").await;
    }
    nothing_recorded(&app).await;
    // A leading `v`, pre-release and build parts are versions too; the text is kept as sent.
    for version in ["v2.17.0", "2.16.0-rc.1+abc"] {
        let body = with(&base, "product_version", Some(json!(version)));
        expect_json(send_checkin(&app, &body).await, StatusCode::OK).await;
        let listed: Vec<Value> = deployments(&app, &[]).await;
        assert_eq!(listed[0]["product_version"], version);
    }
}

async fn an_unknown_deployment_is_not_found(kind: Kind) {
    let (app, _clock) = spawn(kind).await;
    checkin(&app, "dep-known", &[], 1).await;
    for path in [
        "/api/v1/deployments/dep-unknown",
        "/api/v1/deployments/dep-unknown/checkins",
        "/api/v1/deployments/DEP-KNOWN",
    ] {
        let response = app.admin(Method::GET, path).send().await.unwrap();
        let message = expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
        assert!(
            message.to_lowercase().contains("deployment"),
            "{path}: {message}"
        );
    }
    // A path segment that cannot be a deployment id is not one either.
    let response = app
        .admin(Method::GET, "/api/v1/deployments/%20spaced%20")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
}

async fn the_desk_routes_need_a_token_and_the_public_ones_none(kind: Kind) {
    let (app, _clock) = spawn(kind).await;
    checkin(&app, "dep-1", &[], 1).await;
    for path in [
        "/api/v1/deployments",
        "/api/v1/deployments?stale=true",
        "/api/v1/deployments/dep-1",
        "/api/v1/deployments/dep-1/checkins",
        "/api/v1/deployments/dep-unknown",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let response = app
            .client
            .get(app.url(path))
            .bearer_auth(format!("lsr_{}", "A".repeat(43)))
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
        let response = app
            .client
            .get(app.url(path))
            .header("authorization", "Basic ZGVzazpkZXNr")
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // Public: no token needed (and a stray one does no harm).
    let response = app
        .client
        .get(app.url("/api/v1/revocations"))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await;
    let response = app
        .client
        .post(app.url("/api/v1/checkins"))
        .json(&checkin_body("dep-2", &[], 1))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await;
    let response = app
        .admin(Method::POST, "/api/v1/checkins")
        .json(&checkin_body("dep-3", &[], 1))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await;
    // Wrong methods are named as such.
    let response = app
        .client
        .get(app.url("/api/v1/checkins"))
        .send()
        .await
        .unwrap();
    expect_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let response = app
        .admin(Method::DELETE, "/api/v1/deployments/dep-1")
        .send()
        .await
        .unwrap();
    expect_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

async fn checkins_are_rate_limited_per_client(kind: Kind) {
    // Three at once, then one a minute, per client (behind a proxy that names the client).
    let app = TestApp::spawn_with(kind, |config| {
        config.rate_limiter = RateLimiter::new(1, 3, 1);
    })
    .await;
    let from = |ip: &str, deployment: &str| {
        app.client
            .post(app.url("/api/v1/checkins"))
            .header("x-forwarded-for", ip)
            .json(&checkin_body(deployment, &[], 1))
            .send()
    };
    for _ in 0..3 {
        expect_json(from("203.0.113.7", "dep-1").await.unwrap(), StatusCode::OK).await;
    }
    let response = from("203.0.113.7", "dep-1").await.unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let message = expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(message.contains("203.0.113.7"), "{message}");
    // Another client is not affected; the refused check-in was not recorded.
    expect_json(from("198.51.100.2", "dep-2").await.unwrap(), StatusCode::OK).await;
    let shown = crate::helpers::get(&app, "/api/v1/deployments/dep-1").await;
    assert_eq!(shown["checkins"], 3, "{shown}");
    assert_eq!(
        shown["recent_checkins"]["items"][0]["client_address"], "203.0.113.7",
        "{shown}"
    );
}

/// docs/specification.md (section 10) lists the signed revocation list among the public endpoints that are
/// "rate-limited per client address"; `GET /revocations` reads every revocation and signs a
/// fresh list on each request (up to 12 MiB), yet only `POST /checkins` is behind the limiter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_the_revocation_list_is_rate_limited_per_client() {
    let app = TestApp::spawn_with(Kind::Sqlite, |config| {
        config.rate_limiter = RateLimiter::new(1, 3, 1);
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = app
            .client
            .get(app.url("/api/v1/revocations"))
            .header("x-forwarded-for", "203.0.113.7")
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::OK,
            StatusCode::TOO_MANY_REQUESTS
        ],
        "three at once, then one a minute"
    );
}
