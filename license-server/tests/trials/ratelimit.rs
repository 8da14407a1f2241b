//! Per-client-address rate limits on the public trial endpoint: 429 with `Retry-After`.

use crate::helpers::{
    expect_error, expect_json, get, on_both_backends, send_trial, trial_body, trials, with,
};
use crate::support::{Kind, TestApp};
use license_server::api::ratelimit::RateLimiter;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::{Duration, Instant};

on_both_backends!(
    the_third_quick_request_is_429_with_retry_after,
    each_forwarded_client_has_its_own_bucket_behind_a_trusted_proxy,
    a_client_cannot_buy_buckets_by_prepending_to_forwarded_for,
    forwarded_for_is_ignored_unless_trusted,
);

/// An app allowing bursts of 2 trial requests and `per_minute` a minute, per client.
async fn limited(kind: Kind, per_minute: u32, trusted_proxy_hops: usize) -> TestApp {
    TestApp::spawn_with(kind, move |config| {
        config.rate_limiter = RateLimiter::new(per_minute, 2, trusted_proxy_hops);
    })
    .await
}

async fn send_from(app: &TestApp, forwarded_for: &str, i: usize) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/trials"))
        .header("x-forwarded-for", forwarded_for)
        .json(&trial_body(
            &format!("p{i}@client-{i}.example"),
            &format!("dep-{i}"),
        ))
        .send()
        .await
        .unwrap()
}

async fn the_third_quick_request_is_429_with_retry_after(kind: Kind) {
    let app = limited(kind, 60, 0).await;
    // Two quick requests empty the bucket (malformed ones spend a token too: they are cheap,
    // so the three requests fall well inside the second a token takes to come back).
    let malformed = with(
        &trial_body("b@two.example", "dep-2"),
        "country",
        json!("nowhere"),
    );
    for _ in 0..2 {
        let response = send_trial(&app, &malformed).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let third = send_trial(&app, &trial_body("c@three.example", "dep-3")).await;
    let retry_after = third
        .headers()
        .get("retry-after")
        .expect("a 429 says when to come back")
        .to_str()
        .unwrap()
        .parse::<u64>()
        .expect("Retry-After in whole seconds");
    assert!(
        (1..=2).contains(&retry_after),
        "one token a second: {retry_after}"
    );
    let message = expect_error(third, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert!(message.contains("retry"), "{message}");
    // The limited request was not looked at: nothing recorded for it.
    assert!(trials(&app, &[]).await.is_empty());
    // Admin endpoints are not rate-limited.
    for _ in 0..5 {
        get(&app, "/api/v1/trials").await;
    }
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // The bucket refills (one token a second): poll until a request passes.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = send_trial(&app, &trial_body("c@three.example", "dep-3")).await;
        if response.status() == StatusCode::ACCEPTED {
            break;
        }
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(Instant::now() < deadline, "the bucket never refilled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(trials(&app, &[]).await.len(), 1);
}

async fn each_forwarded_client_has_its_own_bucket_behind_a_trusted_proxy(kind: Kind) {
    // One a minute: nothing refills while the test runs. One proxy: the last entry.
    let app = limited(kind, 1, 1).await;
    for i in 0..2 {
        let response = send_from(&app, "10.0.0.1, 203.0.113.7", i).await;
        expect_json(response, StatusCode::ACCEPTED).await;
    }
    let response = send_from(&app, "203.0.113.7", 2).await;
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let response = send_from(&app, "198.51.100.9", 3).await;
    expect_json(response, StatusCode::ACCEPTED).await;
    // The recorded client is the forwarded one.
    let recorded = trials(&app, &[("deployment_id", "dep-3")]).await;
    assert_eq!(recorded[0]["client_address"], "198.51.100.9");
    let recorded = trials(&app, &[("deployment_id", "dep-0")]).await;
    assert_eq!(recorded[0]["client_address"], "203.0.113.7");
    // An unreadable header falls back to the connection's address.
    let response = send_from(&app, "not an address", 4).await;
    expect_json(response, StatusCode::ACCEPTED).await;
    let recorded = trials(&app, &[("deployment_id", "dep-4")]).await;
    assert_eq!(recorded[0]["client_address"], "127.0.0.1");
}

/// `--trust-forwarded-for` believed the first entry, which the client writes: behind any
/// appending proxy, each made-up first entry bought a fresh bucket.
async fn a_client_cannot_buy_buckets_by_prepending_to_forwarded_for(kind: Kind) {
    let app = limited(kind, 1, 1).await;
    for i in 0..2 {
        let response = send_from(&app, &format!("192.0.2.{i}, 203.0.113.7"), i).await;
        expect_json(response, StatusCode::ACCEPTED).await;
    }
    let response = send_from(&app, "192.0.2.99, 203.0.113.7", 2).await;
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // The address the limiter used is the one recorded.
    let recorded = trials(&app, &[("deployment_id", "dep-1")]).await;
    assert_eq!(recorded[0]["client_address"], "203.0.113.7");
}

async fn forwarded_for_is_ignored_unless_trusted(kind: Kind) {
    let app = limited(kind, 1, 0).await;
    for i in 0..2 {
        let response = send_from(&app, &format!("203.0.113.{i}"), i).await;
        expect_json(response, StatusCode::ACCEPTED).await;
    }
    // A client cannot buy a new bucket by inventing a header.
    let response = send_from(&app, "203.0.113.99", 2).await;
    expect_error(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    let recorded = app
        .admin(Method::GET, "/api/v1/trials")
        .send()
        .await
        .unwrap();
    let page = expect_json(recorded, StatusCode::OK).await;
    for trial in page["items"].as_array().unwrap() {
        assert_eq!(trial["client_address"], "127.0.0.1", "{trial}");
    }
}
