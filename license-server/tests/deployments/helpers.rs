//! What every deployment test needs: the backend macro, an app with a clock the test moves,
//! licenses to report, check-in bodies, the published keys, and assertions on answers.

#[allow(unused_imports)]
pub use crate::support::answers::{expect_error, expect_field_error, expect_json, get, post};
use crate::support::{Kind, TestApp};
use license_core::{
    DAY, JwkSet, Keyring, Timestamp, VerifiedReceipt, VerifiedRevocationList, verify_receipt,
    verify_revocation_list,
};
use license_server::clock::{Clock, ManualClock};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) use crate::support::answers::on_both_backends;

/// The time now, whole seconds.
pub fn wall_clock() -> Timestamp {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Timestamp::from_unix(i64::try_from(seconds).unwrap()).unwrap()
}

/// An app on a fresh database of `kind` whose clock moves only when the test says (starting
/// at the wall clock's time), with the default trial rules.
pub async fn spawn(kind: Kind) -> (TestApp, ManualClock) {
    let clock = ManualClock::new(wall_clock());
    let app_clock = clock.clone();
    let app = TestApp::spawn_with(kind, move |config| {
        config.clock = Arc::new(app_clock);
    })
    .await;
    (app, clock)
}

/// The app's time.
pub fn now(clock: &ManualClock) -> Timestamp {
    clock.now()
}

/// `POST /api/v1/accounts`, expecting 201; returns the account's id.
pub async fn create_account(app: &TestApp, name: &str) -> String {
    let email = format!("billing@{}.example", name.to_lowercase().replace(' ', "-"));
    let response = post(
        app,
        "/api/v1/accounts",
        &json!({ "name": name, "email": email }),
    )
    .await;
    let account = expect_json(response, StatusCode::CREATED).await;
    account["id"].as_str().unwrap().to_owned()
}

/// A license request for `account` running from yesterday for a year (7 days of grace,
/// 25 seats, bound to no deployment), with the fields of `overrides` replacing the defaults.
pub fn license_body(account: &str, at: Timestamp, overrides: Value) -> Value {
    let mut body = json!({
        "account_id": account,
        "email": "ops@acme.example",
        "feature_set": "enterprise",
        "user_limit": 25,
        "starts_at": at.add_seconds(-DAY).rfc3339(),
        "expires_at": at.add_seconds(365 * DAY).rfc3339(),
        "grace_days": 7,
    });
    for (key, value) in overrides.as_object().unwrap() {
        body.as_object_mut()
            .unwrap()
            .insert(key.clone(), value.clone());
    }
    body
}

/// `POST /api/v1/licenses`, expecting 201; returns the license view (with its token).
pub async fn issue(app: &TestApp, body: &Value) -> Value {
    let response = post(app, "/api/v1/licenses", body).await;
    expect_json(response, StatusCode::CREATED).await
}

/// Issues a license for `account` (see [`license_body`]); returns its id and token.
pub async fn issue_license(
    app: &TestApp,
    account: &str,
    at: Timestamp,
    overrides: Value,
) -> (String, String) {
    let license = issue(app, &license_body(account, at, overrides)).await;
    (
        license["id"].as_str().unwrap().to_owned(),
        license["token"].as_str().unwrap().to_owned(),
    )
}

/// `POST /api/v1/licenses/{id}/revoke`, expecting 200.
pub async fn revoke(app: &TestApp, id: &str) -> Value {
    let response = post(
        app,
        &format!("/api/v1/licenses/{id}/revoke"),
        &json!({ "reason": "contract terminated" }),
    )
    .await;
    expect_json(response, StatusCode::OK).await
}

/// A well-formed check-in body: `deployment` running 2.16.0 with `users` active users.
pub fn checkin_body(deployment: &str, license_ids: &[&str], users: u64) -> Value {
    json!({
        "deployment_id": deployment,
        "license_ids": license_ids,
        "active_users": users,
        "product_version": "2.16.0",
    })
}

/// `body` with `field` set to `value`, or removed when `value` is `None`.
pub fn with(body: &Value, field: &str, value: Option<Value>) -> Value {
    let mut body = body.clone();
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

/// `POST /api/v1/checkins` without credentials: it is public.
pub async fn send_checkin(app: &TestApp, body: &Value) -> Response {
    app.client
        .post(app.url("/api/v1/checkins"))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A check-in that must be answered 200; returns the answer.
pub async fn checkin(app: &TestApp, deployment: &str, license_ids: &[&str], users: u64) -> Value {
    let response = send_checkin(app, &checkin_body(deployment, license_ids, users)).await;
    expect_json(response, StatusCode::OK).await
}

/// The keyring a deployment would build from the licensor's published keys
/// (`GET /api/v1/keys`, fetched without credentials).
pub async fn published_keyring(app: &TestApp) -> Keyring {
    let response = app
        .client
        .get(app.url("/api/v1/keys"))
        .send()
        .await
        .unwrap();
    let jwks: JwkSet = serde_json::from_value(expect_json(response, StatusCode::OK).await).unwrap();
    assert!(!jwks.keys.is_empty());
    let mut keyring = Keyring::empty();
    for jwk in jwks.keys {
        let key = jwk.public_key().unwrap();
        keyring.add(jwk.kid, key).unwrap();
    }
    keyring
}

/// Verifies the receipt of a check-in answer at `at` (no clock skew allowed).
pub fn receipt_of(answer: &Value, keyring: &Keyring, at: Timestamp) -> VerifiedReceipt {
    let token = answer["receipt"].as_str().unwrap();
    verify_receipt(token, keyring, at, 0)
        .unwrap_or_else(|e| panic!("the receipt does not verify: {e}"))
}

/// `GET /api/v1/revocations` without credentials; returns the answer and the verified list.
pub async fn revocation_list(
    app: &TestApp,
    keyring: &Keyring,
    at: Timestamp,
) -> (Value, VerifiedRevocationList) {
    let response = app
        .client
        .get(app.url("/api/v1/revocations"))
        .send()
        .await
        .unwrap();
    let answer = expect_json(response, StatusCode::OK).await;
    assert_eq!(answer.as_object().unwrap().len(), 2, "{answer}");
    let list = verify_revocation_list(answer["revocation_list"].as_str().unwrap(), keyring, at, 0)
        .unwrap_or_else(|e| panic!("the revocation list does not verify: {e}"));
    assert_eq!(
        answer["sequence"].as_u64(),
        Some(list.sequence()),
        "the answer's sequence is the signed one"
    );
    (answer, list)
}

/// `GET /api/v1/deployments` with `query`: the items of the one page (checked to be the last).
pub async fn deployments(app: &TestApp, query: &[(&str, &str)]) -> Vec<Value> {
    let response = app
        .admin(Method::GET, "/api/v1/deployments")
        .query(query)
        .send()
        .await
        .unwrap();
    let page = expect_json(response, StatusCode::OK).await;
    assert!(page["next_cursor"].is_null(), "one page expected: {page}");
    page["items"].as_array().unwrap().clone()
}

/// The `id`s of `items`, as text (strings as they are, numbers written out).
pub fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| match &item["id"] {
            Value::String(id) => id.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// Walks every page of an admin list with `limit` items per page; returns the items in order
/// and checks that each page but the last is full.
pub async fn walk_pages(app: &TestApp, path: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..1000 {
        let limit_text = limit.to_string();
        let mut params: Vec<(&str, &str)> = vec![("limit", &limit_text)];
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
        let page_items = page["items"].as_array().unwrap();
        assert!(page_items.len() <= limit as usize, "{page}");
        items.extend(page_items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(
                    page_items.len(),
                    limit as usize,
                    "a page before the last is full"
                );
                after = Some(cursor.to_owned());
            }
            None => {
                assert!(page["next_cursor"].is_null(), "{page}");
                return items;
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
