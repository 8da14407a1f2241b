//! What every trial test needs: the backend macro, an app with a clock the test moves, trial
//! and enrollment bodies, and assertions on answers.

#[allow(unused_imports)]
pub use crate::support::answers::{expect_error, expect_field_error, expect_json, get, post};
use crate::support::{Kind, TestApp};
use license_core::{Keyring, LicenseClaims, Timestamp, Verifier};
use license_server::clock::ManualClock;
use license_server::service::trial_rules::TrialPolicy;
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

/// An app on a fresh database of `kind` with `policy` as its trial rules and a clock that
/// moves only when the test says (starting at the wall clock's time).
pub async fn spawn(kind: Kind, policy: TrialPolicy) -> (TestApp, ManualClock) {
    let clock = ManualClock::new(wall_clock());
    let app_clock = clock.clone();
    let app = TestApp::spawn_with(kind, move |config| {
        config.trial_policy = policy;
        config.clock = Arc::new(app_clock);
    })
    .await;
    (app, clock)
}

/// An app with the default trial rules and a manual clock.
pub async fn spawn_default(kind: Kind) -> (TestApp, ManualClock) {
    spawn(kind, TrialPolicy::default()).await
}

/// A well-formed trial request from `email` for `deployment`, running version 2.16.0.
pub fn trial_body(email: &str, deployment: &str) -> Value {
    json!({
        "email": email,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines Ltd",
        "country": "GB",
        "developers": "11-50",
        "deployment_id": deployment,
        "product_version": "2.16.0",
    })
}

/// `body` with `field` set to `value`.
pub fn with(body: &Value, field: &str, value: Value) -> Value {
    let mut body = body.clone();
    body.as_object_mut()
        .unwrap()
        .insert(field.to_owned(), value);
    body
}

/// `POST /api/v1/trials` without credentials: it is public.
pub async fn send_trial(app: &TestApp, body: &Value) -> Response {
    app.client
        .post(app.url("/api/v1/trials"))
        .json(body)
        .send()
        .await
        .unwrap()
}

/// A trial request that must be granted, and whose license then checks in from its
/// deployment (a person who got the email): it holds its email's slot and counts toward the
/// domain limit. Returns the 202 body.
pub async fn grant(app: &TestApp, email: &str, deployment: &str) -> Value {
    let accepted = grant_unconfirmed(app, email, deployment).await;
    confirm(app, accepted["trial_id"].as_str().unwrap()).await;
    accepted
}

/// A trial request that must be granted, its license not yet checked in.
pub async fn grant_unconfirmed(app: &TestApp, email: &str, deployment: &str) -> Value {
    let response = send_trial(app, &trial_body(email, deployment)).await;
    expect_json(response, StatusCode::ACCEPTED).await
}

/// Checks trial `trial_id`'s license in from its deployment: the first check-in confirms it.
/// Returns the check-in's answer.
pub async fn confirm(app: &TestApp, trial_id: &str) -> Value {
    let trial = app
        .admin(reqwest::Method::GET, &format!("/api/v1/trials/{trial_id}"))
        .send()
        .await
        .unwrap();
    let trial = expect_json(trial, StatusCode::OK).await;
    let response = app
        .client
        .post(app.url("/api/v1/checkins"))
        .json(&serde_json::json!({
            "deployment_id": trial["deployment_id"],
            "license_ids": [trial["license_id"]],
            "active_users": 1,
            "product_version": "2.18.0",
        }))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await
}

/// A trial request that must be refused with `status` and `code`; returns the message.
pub async fn refuse(
    app: &TestApp,
    email: &str,
    deployment: &str,
    status: StatusCode,
    code: &str,
) -> String {
    let response = send_trial(app, &trial_body(email, deployment)).await;
    expect_error(response, status, code).await
}

/// `GET /api/v1/trials` with `query`: the items of the one page (checked to be the last).
pub async fn trials(app: &TestApp, query: &[(&str, &str)]) -> Vec<Value> {
    let response = app
        .admin(Method::GET, "/api/v1/trials")
        .query(query)
        .send()
        .await
        .unwrap();
    let page = expect_json(response, StatusCode::OK).await;
    assert!(page["next_cursor"].is_null(), "one page expected: {page}");
    page["items"].as_array().unwrap().clone()
}

/// The ids of `items`.
pub fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A time in an answer: RFC 3339 in UTC with whole seconds, as every API time is.
pub fn time(value: &Value) -> Timestamp {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {value}"));
    assert!(text.ends_with('Z') && text.len() == 20, "{text}");
    Timestamp::parse_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Verifies `token` with the app's signing key (the only key trusted) at `at`.
pub fn verify(app: &TestApp, token: &str, at: Timestamp) -> LicenseClaims {
    let key = app.signing_key.public_key();
    let mut keyring = Keyring::empty();
    keyring.add(key.thumbprint(), key).unwrap();
    Verifier::new(keyring)
        .verify(token, at)
        .unwrap_or_else(|e| panic!("the trial license does not verify: {e}"))
        .claims()
        .clone()
}

/// The license of a granted trial, read through the admin API (trial → license → token) and
/// verified at `at`; returns the license view and the verified claims.
pub async fn trial_license(app: &TestApp, trial_id: &str, at: Timestamp) -> (Value, LicenseClaims) {
    let trial = get(app, &format!("/api/v1/trials/{trial_id}")).await;
    assert_eq!(trial["outcome"], "granted", "{trial}");
    let license_id = trial["license_id"].as_str().unwrap();
    let license = get(app, &format!("/api/v1/licenses/{license_id}")).await;
    let claims = verify(app, license["token"].as_str().unwrap(), at);
    assert_eq!(claims.jti.to_string(), license_id);
    (license, claims)
}

/// An enrollment body for `subject` (`{"email": …}`, `{"account_id": …}` or
/// `{"email_domain": …}`) waiving `waives`, ending 60 days after `now`.
pub fn enrollment(subject: Value, waives: &[&str], now: Timestamp) -> Value {
    let mut body = json!({
        "reason": "strategic prospect, air-gapped pilot",
        "approved_by": "Grace Hopper (sales director)",
        "ends_at": now.add_seconds(60 * license_core::DAY).rfc3339(),
        "waives": waives,
    });
    for (key, value) in subject.as_object().unwrap() {
        body.as_object_mut()
            .unwrap()
            .insert(key.clone(), value.clone());
    }
    body
}

/// `POST /api/v1/evaluations` with `body`, expecting 201.
pub async fn enroll(app: &TestApp, body: &Value) -> Value {
    let response = post(app, "/api/v1/evaluations", body).await;
    expect_json(response, StatusCode::CREATED).await
}

/// `POST /api/v1/accounts`, expecting 201; returns the account's id.
pub async fn create_account(app: &TestApp, name: &str, email: &str) -> String {
    let response = post(
        app,
        "/api/v1/accounts",
        &json!({ "name": name, "email": email }),
    )
    .await;
    let account = expect_json(response, StatusCode::CREATED).await;
    account["id"].as_str().unwrap().to_owned()
}

/// Every audit entry (newest first).
pub async fn audit(app: &TestApp) -> Vec<Value> {
    let page = get(app, "/api/v1/audit?limit=200").await;
    page["items"].as_array().unwrap().clone()
}

/// The messages in the outbox (newest first).
pub async fn outbox(app: &TestApp) -> Vec<Value> {
    let page = get(app, "/api/v1/outbox?limit=200").await;
    page["items"].as_array().unwrap().clone()
}
