//! Bad request bodies: unreadable JSON, bodies too large or not declared JSON, a license for
//! an account that does not exist. Each gets the right 4xx and code, changes nothing, and is
//! never a 500.

use crate::helpers::{
    account_id, expect_error, expect_json, issue, license_request, on_both_backends, send,
    stored_licenses, with,
};
use crate::support::{Kind, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    unreadable_json_is_400,
    an_unknown_account_is_422,
    body_size_and_media_type,
    a_chunked_body_over_the_limit_is_413,
    a_body_that_is_not_an_object_is_422,
);

async fn unreadable_json_is_400(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let license = license_request(&account_id(&app).await).to_string();
    let account = json!({ "name": "Acme", "email": "a@acme.example" }).to_string();
    for (path, valid) in [("/api/v1/licenses", license), ("/api/v1/accounts", account)] {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("truncated", valid.as_bytes()[..valid.len() - 1].to_vec()),
            ("not JSON", b"account_id=1&email=a".to_vec()),
            ("trailing garbage", format!("{valid} garbage").into_bytes()),
            ("two documents", format!("{valid}{valid}").into_bytes()),
            (
                "trailing comma",
                format!("{},}}", &valid[..valid.len() - 1]).into_bytes(),
            ),
            ("empty", Vec::new()),
            ("whitespace", b"  \n ".to_vec()),
            ("single quotes", b"{'email': 'a@b.example'}".to_vec()),
            ("invalid UTF-8", b"{\"email\": \"\xff\xfe\"}".to_vec()),
        ];
        for (what, body) in cases {
            let response = send(&app, Method::POST, path, Some("application/json"), body).await;
            let message = expect_error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
            assert!(message.contains("JSON"), "{what} to {path}: {message}");
        }
    }
    // Deep nesting is refused without exhausting the stack.
    let deep = format!(
        "{{\"features\": {}{}}}",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let response = send(
        &app,
        Method::POST,
        "/api/v1/licenses",
        Some("application/json"),
        deep,
    )
    .await;
    assert!(response.status().is_client_error(), "{}", response.status());
    assert_eq!(stored_licenses(&app).await.len(), 0);
    let accounts = crate::helpers::get(&app, "/api/v1/accounts").await;
    assert_eq!(accounts["items"].as_array().unwrap().len(), 1);
}

async fn an_unknown_account_is_422(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let missing = uuid::Uuid::new_v4().to_string();
    let response = app
        .admin(Method::POST, "/api/v1/licenses")
        .json(&license_request(&missing))
        .send()
        .await
        .unwrap();
    let message = expect_error(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_account",
    )
    .await;
    assert!(message.contains(&missing), "{message}");
    assert_eq!(stored_licenses(&app).await.len(), 0);
}

async fn body_size_and_media_type(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let account = account_id(&app).await;
    let base = license_request(&account);

    // Over 64 KiB: 413 on every route that takes a body.
    let padding = "a".repeat(70 * 1024);
    let license = issue(&app, &base).await;
    let id = license["id"].as_str().unwrap();
    for (path, body) in [
        (
            "/api/v1/licenses".to_owned(),
            with(&base, "email", Some(json!(padding))),
        ),
        (
            "/api/v1/accounts".to_owned(),
            json!({ "name": padding, "email": "a@b.example" }),
        ),
        (
            format!("/api/v1/licenses/{id}/revoke"),
            json!({ "reason": padding }),
        ),
        (
            format!("/api/v1/licenses/{id}/reissue"),
            json!({ "email": padding }),
        ),
    ] {
        let response = app
            .admin(Method::POST, &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    }
    // Just under the limit is read (and refused for its content, not its size).
    let response = app
        .admin(Method::POST, "/api/v1/accounts")
        .json(&json!({ "name": "n".repeat(60 * 1024), "email": "a@b.example" }))
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;

    // The body must be declared JSON.
    let text = base.to_string();
    for content_type in [
        Some("text/plain"),
        None,
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
        Some(""),
    ] {
        for path in ["/api/v1/licenses", "/api/v1/accounts"] {
            let response = send(&app, Method::POST, path, content_type, text.clone()).await;
            let message = expect_error(
                response,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
            )
            .await;
            assert!(
                message.contains("application/json"),
                "{content_type:?}: {message}"
            );
        }
    }
    // Parameters and letter case of the media type do not matter.
    for content_type in ["application/json; charset=utf-8", "Application/JSON"] {
        let response = send(
            &app,
            Method::POST,
            "/api/v1/licenses",
            Some(content_type),
            text.clone(),
        )
        .await;
        expect_json(response, StatusCode::CREATED).await;
    }
    let stored = stored_licenses(&app).await;
    assert_eq!(stored.len(), 3);
    assert!(
        stored
            .iter()
            .all(|l| l.status == license_server::store::licenses::LicenseStatus::Active)
    );
}

/// Sends `request` (a whole HTTP/1.1 request) over a plain socket and returns the status and
/// the body of the answer.
async fn raw_http(app: &TestApp, request: Vec<u8>) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let address = app.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    // The server may answer and close before reading the whole body: ignore write errors.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

async fn a_chunked_body_over_the_limit_is_413(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    // No Content-Length: the limit must hold while the body streams in.
    let chunk = format!("{{\"name\": \"{}", "a".repeat(8 * 1024));
    let mut request = format!(
        "POST /api/v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        app.token
    )
    .into_bytes();
    for _ in 0..10 {
        request.extend(format!("{:x}\r\n{chunk}\r\n", chunk.len()).into_bytes());
    }
    request.extend(b"0\r\n\r\n");
    let (status, body) = raw_http(&app, request).await;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("payload_too_large"), "{body}");
    let accounts = crate::helpers::get(&app, "/api/v1/accounts").await;
    assert_eq!(accounts["items"].as_array().unwrap().len(), 0);
}

/// Every body openapi.json describes is an object. serde reads a struct from an array too, so
/// `[]` was a reissue whose fields were all left out: 201, a new license (schemathesis,
/// ST201).
async fn a_body_that_is_not_an_object_is_422(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let license = issue(&app, &license_request(&account_id(&app).await)).await;
    let id = license["id"].as_str().unwrap();
    let reissue = format!("/api/v1/licenses/{id}/reissue");
    for body in ["[]", "[null]", "\"x\"", "7", "null", "true"] {
        for path in [reissue.as_str(), "/api/v1/accounts"] {
            let response = send(&app, Method::POST, path, Some("application/json"), body).await;
            let message =
                expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
            assert!(message.contains("object"), "{path} {body}: {message:?}");
        }
    }
    assert_eq!(stored_licenses(&app).await.len(), 1, "no reissue");
}
