//! What every HTTP test needs: the backend macro, request bodies, and assertions on answers.

use crate::support::TestApp;
#[allow(unused_imports)]
pub use crate::support::answers::{expect_error, expect_field_error, expect_json, get, post};
use license_core::{DAY, Timestamp};
use license_server::store::PageRequest;
use license_server::store::licenses::{self, LicenseFilter, LicenseRecord};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

pub(crate) use crate::support::answers::on_both_backends;

/// The time now, whole seconds.
pub fn now() -> Timestamp {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Timestamp::from_unix(i64::try_from(seconds).unwrap()).unwrap()
}

/// `now` plus `days` (negative for the past), as RFC 3339.
pub fn days_from_now(days: i64) -> String {
    now().add_seconds(days * DAY).rfc3339()
}

/// The body of a typical license request for `account_id`.
pub fn license_request(account_id: &str) -> Value {
    json!({
        "account_id": account_id,
        "email": "Ops+Lic@Example.com",
        "feature_set": "enterprise",
        "features": { "audit_log": 1 },
        "user_limit": 25,
        "starts_at": days_from_now(-1),
        "expires_at": days_from_now(365),
        "grace_days": 7,
        "deployment_ids": ["dep-1"],
        "trial": false
    })
}

/// `POST /api/v1/accounts`, expecting 201.
pub async fn create_account(app: &TestApp, name: &str, email: &str) -> Value {
    let response = app
        .admin(Method::POST, "/api/v1/accounts")
        .json(&json!({ "name": name, "email": email }))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CREATED).await
}

/// An account's id, created for a test.
pub async fn account_id(app: &TestApp) -> String {
    let account = create_account(app, "Acme Corp", "billing@acme.example").await;
    account["id"].as_str().unwrap().to_owned()
}

/// `POST /api/v1/licenses` with `body`, expecting 201.
pub async fn issue(app: &TestApp, body: &Value) -> Value {
    let response = app
        .admin(Method::POST, "/api/v1/licenses")
        .json(body)
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CREATED).await
}

/// Every license in the store, read directly (not through the API under test).
pub async fn stored_licenses(app: &TestApp) -> Vec<LicenseRecord> {
    let page = licenses::list(
        app.store.conn(),
        &LicenseFilter::default(),
        &PageRequest {
            limit: 500,
            after: None,
        },
    )
    .await
    .unwrap();
    assert!(page.next_cursor.is_none());
    page.items
}

/// Walks every page of an admin list with `limit` items per page; returns the ids (UUIDs, or
/// numbers for the audit log) in order and checks that each page but the last is full.
pub async fn walk_pages(
    app: &TestApp,
    path: &str,
    query: &[(&str, &str)],
    limit: u32,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let limit_text = limit.to_string();
        let mut params: Vec<(&str, &str)> = query.to_vec();
        params.push(("limit", &limit_text));
        if let Some(cursor) = &after {
            params.push(("after", cursor));
        }
        let response = app
            .admin(Method::GET, path)
            .query(&params)
            .send()
            .await
            .unwrap();
        let page = expect_json(response, StatusCode::OK).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize, "{page}");
        ids.extend(items.iter().map(|item| match &item["id"] {
            Value::String(id) => id.clone(),
            number => number.to_string(),
        }));
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(
                    items.len(),
                    limit as usize,
                    "a page before the last is full"
                );
                after = Some(cursor.to_owned());
            }
            None => {
                assert!(page["next_cursor"].is_null(), "{page}");
                return ids;
            }
        }
    }
    panic!("the pages of {path} never end");
}

/// Checks that `value` is an RFC 3339 time in UTC and returns it.
pub fn time(value: &Value) -> Timestamp {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    assert!(text.ends_with('Z') && text.contains('T'), "{text}");
    Timestamp::parse_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Sends `body` as it is, with `content_type` when given.
pub async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::Body>,
) -> Response {
    let mut request = app.admin(method, path).body(body);
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    request.send().await.unwrap()
}

/// `base` with `field` set to `value`, or removed when `value` is `None`.
pub fn with(base: &Value, field: &str, value: Option<Value>) -> Value {
    let mut body = base.clone();
    let object = body.as_object_mut().unwrap();
    match value {
        Some(value) => {
            object.insert(field.to_owned(), value);
        }
        None => {
            object.remove(field);
        }
    }
    body
}
