//! Operations endpoints: health, readiness with the backend's name, Prometheus metrics, the
//! OpenAPI document.

use crate::helpers::{account_id, expect_json, issue, license_request, on_both_backends};
use crate::support::{Kind, TestApp};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    health_and_readiness,
    metrics_count_requests_by_route,
    metrics_show_the_revocation_lists_size,
);

/// Made-up methods and paths once became labels: 2,000 requests grew a scrape from 760 B to
/// 4.3 MB (issue 12, finding 7). Only HTTP's methods and the router's templates are labels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_and_paths_add_no_series() {
    let app = TestApp::spawn(Kind::Sqlite).await;
    let scrape = || async {
        let response = app.client.get(app.url("/metrics")).send().await.unwrap();
        response.text().await.unwrap()
    };
    app.client.get(app.url("/healthz")).send().await.unwrap();
    app.client.get(app.url("/nowhere-0")).send().await.unwrap();
    app.client
        .get(app.url("/api/v1/licenses/x"))
        .send()
        .await
        .unwrap();
    let method = Method::from_bytes(b"BREW0").unwrap();
    app.client
        .request(method, app.url("/healthz"))
        .send()
        .await
        .unwrap();
    let baseline = scrape().await.len();
    for i in 0..200 {
        let method = Method::from_bytes(format!("X{i}{}", "M".repeat(2000)).as_bytes()).unwrap();
        app.client
            .request(method, app.url("/healthz"))
            .send()
            .await
            .unwrap();
        let path = format!("/nowhere-{i}/{}", "p".repeat(500));
        app.client.get(app.url(&path)).send().await.unwrap();
        app.client
            .get(app.url(&format!("/api/v1/licenses/{i}x")))
            .send()
            .await
            .unwrap();
    }
    let after = scrape().await;
    assert!(
        !after.contains("X1M") && !after.contains("nowhere"),
        "a made-up label"
    );
    assert!(after.contains(r#"method="other""#), "{after}");
    assert!(
        after.len() < baseline + 4096,
        "the scrape grew from {baseline} to {} bytes",
        after.len()
    );
}

async fn health_and_readiness(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        expect_json(response, StatusCode::OK).await,
        json!({ "status": "ok" })
    );
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    let backend = match kind {
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgres",
    };
    assert_eq!(
        expect_json(response, StatusCode::OK).await,
        json!({ "status": "ready", "database": backend })
    );
}

async fn metrics_count_requests_by_route(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let account = account_id(&app).await;
    let license = issue(&app, &license_request(&account)).await;
    let mut trial = license_request(&account);
    trial["trial"] = json!(true);
    issue(&app, &trial).await;
    let id = license["id"].as_str().unwrap();
    app.admin(Method::GET, &format!("/api/v1/licenses/{id}"))
        .send()
        .await
        .unwrap();
    app.admin(Method::GET, "/api/v1/licenses/not-a-uuid")
        .send()
        .await
        .unwrap();
    app.admin(Method::GET, "/no/such/path")
        .send()
        .await
        .unwrap();
    app.client
        .get(app.url("/api/v1/licenses"))
        .send()
        .await
        .unwrap();
    let response = app
        .admin(Method::POST, &format!("/api/v1/licenses/{id}/reissue"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    for line in [
        "licensor_http_requests_total{method=\"POST\",route=\"/api/v1/accounts\",status=\"201\"} 1",
        "licensor_http_requests_total{method=\"POST\",route=\"/api/v1/licenses\",status=\"201\"} 2",
        "licensor_http_requests_total{method=\"GET\",route=\"/api/v1/licenses/{id}\",status=\"200\"} 1",
        "licensor_http_requests_total{method=\"GET\",route=\"/api/v1/licenses/{id}\",status=\"404\"} 1",
        "licensor_http_requests_total{method=\"GET\",route=\"/api/v1/licenses\",status=\"401\"} 1",
        "licensor_http_requests_total{method=\"POST\",route=\"/api/v1/licenses/{id}/reissue\",status=\"201\"} 1",
        "licensor_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} 1",
        "licensor_licenses_issued_total{kind=\"paid\"} 1",
        "licensor_licenses_issued_total{kind=\"trial\"} 1",
        "licensor_licenses_issued_total{kind=\"reissue\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(
        text.contains("licensor_http_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics ends with # EOF"
    );
    // A path with an id is labelled by its route, never by the id itself.
    assert!(!text.contains(id), "ids do not become label values");
}

#[tokio::test]
async fn openapi_document_is_served_as_json() {
    let app = TestApp::spawn(Kind::Sqlite).await;
    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
}

/// A customer keeps the revocation list in a Kubernetes Secret of at most 1 MiB: the desk sees
/// the size of the list last signed, to act before it stops fitting.
async fn metrics_show_the_revocation_lists_size(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let account = account_id(&app).await;
    for _ in 0..2 {
        let license = issue(&app, &license_request(&account)).await;
        let id = license["id"].as_str().unwrap();
        let response = app
            .admin(Method::POST, &format!("/api/v1/licenses/{id}/revoke"))
            .json(&json!({ "reason": "metrics" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = app
        .client
        .get(app.url("/api/v1/revocations"))
        .send()
        .await
        .unwrap();
    let list = expect_json(response, StatusCode::OK).await;
    let bytes = list["revocation_list"].as_str().unwrap().len();
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        format!("licensor_revocation_list_bytes {bytes}"),
        "licensor_revocation_list_entries 2".to_owned(),
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} missing:\n{text}");
    }
}
