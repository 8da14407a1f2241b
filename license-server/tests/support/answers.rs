//! Assertions on the API's answers, and the backend macro, shared by the HTTP test suites.
//! Not every test binary uses every item.
#![allow(unused_macros, unused_imports)]

use super::TestApp;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

/// Generates `sqlite::NAME` and `postgres::NAME` tests from `async fn NAME(kind: Kind)`s in
/// the calling module, so that every behaviour is checked on both backends. Attributes written
/// before a name (`#[ignore = "…"]`) go on both tests.
macro_rules! on_both_backends {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                $(#[$meta])*
                async fn $name() {
                    super::$name($crate::support::Kind::Sqlite).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                $(#[$meta])*
                async fn $name() {
                    super::$name($crate::support::Kind::Postgres).await;
                }
            )+
        }
    };
}
pub(crate) use on_both_backends;

/// Reads a JSON body after checking the status; on a mismatch the message shows the body.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let got = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "unexpected status; body: {text}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "not JSON; body: {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

/// Checks an error answer: `status`, `{"error": {"code": code, "message": "…"}}` and nothing
/// else; returns the message.
pub async fn expect_error(response: Response, status: StatusCode, code: &str) -> String {
    let body = expect_json(response, status).await;
    assert_eq!(body.as_object().unwrap().len(), 1, "only `error`: {body}");
    assert_eq!(
        body["error"].as_object().unwrap().len(),
        2,
        "only `code` and `message`: {body}"
    );
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(!message.is_empty(), "{body}");
    message.to_owned()
}

/// A 422 `invalid_field` whose message names `field`.
pub async fn expect_field_error(response: Response, field: &str) -> String {
    let message = expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert!(
        message.contains(&format!("`{field}")),
        "the message should name `{field}`: {message}"
    );
    message
}

/// `GET` an admin path, expecting 200.
pub async fn get(app: &TestApp, path: &str) -> Value {
    let response = app.admin(Method::GET, path).send().await.unwrap();
    expect_json(response, StatusCode::OK).await
}

/// `POST` JSON to an admin path.
pub async fn post(app: &TestApp, path: &str, body: &Value) -> Response {
    app.admin(Method::POST, path)
        .json(body)
        .send()
        .await
        .unwrap()
}
