//! What the notification tests share: a manual clock, a second replica on the same
//! database, license bodies, and reading the outbox and the schedule back.

pub use crate::support::answers::{expect_json, post};
use crate::support::{TestApp, test_config};
use license_core::{DAY, LicenseId, Timestamp};
use license_server::app::{Application, Config};
use license_server::clock::ManualClock;
use license_server::service::Licensor;
use license_server::store::PageRequest;
use license_server::store::notifications::Notification;
use license_server::store::outbox::OutboxEntry;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

pub(crate) use crate::support::answers::on_both_backends;

/// The wall clock's time, whole seconds: where the manual clocks start.
pub fn wall_clock() -> Timestamp {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Timestamp::from_unix(i64::try_from(seconds).unwrap()).unwrap()
}

/// An app on a fresh database of `kind` with `clock` as its time, configured further by
/// `configure`.
pub async fn spawn(
    kind: crate::support::Kind,
    clock: &ManualClock,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    let clock = clock.clone();
    TestApp::spawn_with(kind, move |config| {
        config.clock = Arc::new(clock);
        configure(config);
    })
    .await
}

/// Another replica of `app`: a second application on the same database and clock (not
/// serving HTTP; its scheduler is driven by the test).
pub async fn replica(app: &TestApp, clock: &ManualClock) -> Licensor {
    let mut config = test_config(app.db.database_url(), &app.signing_key);
    config.clock = Arc::new(clock.clone());
    let replica = Application::build(config).await.unwrap();
    replica.licensor().clone()
}

/// Creates an account; its id.
pub async fn account(app: &TestApp) -> String {
    let body = json!({ "name": "Acme Corp", "email": "billing@acme.example" });
    let account = expect_json(
        post(app, "/api/v1/accounts", &body).await,
        StatusCode::CREATED,
    )
    .await;
    account["id"].as_str().unwrap().to_owned()
}

/// Issues a paid license on `account` for `email`, expiring `days` days after `now` with
/// `grace_days` of grace; its id.
pub async fn issue(
    app: &TestApp,
    account: &str,
    email: &str,
    now: Timestamp,
    days: i64,
    grace_days: i64,
) -> LicenseId {
    let body = json!({
        "account_id": account,
        "email": email,
        "feature_set": "enterprise",
        "features": {},
        "user_limit": 25,
        "starts_at": now.add_seconds(-DAY).rfc3339(),
        "expires_at": now.add_seconds(days * DAY).rfc3339(),
        "grace_days": grace_days,
        "deployment_ids": ["dep-1"],
        "trial": false
    });
    let license = expect_json(
        post(app, "/api/v1/licenses", &body).await,
        StatusCode::CREATED,
    )
    .await;
    license["id"].as_str().unwrap().parse().unwrap()
}

/// Every outbox message, read through the service layer.
pub async fn outbox(licensor: &Licensor) -> Vec<OutboxEntry> {
    let page = PageRequest {
        limit: 500,
        after: None,
    };
    let page = licensor.outbox(None, &page).await.unwrap();
    assert!(page.next_cursor.is_none());
    page.items
}

/// The reminders queued for `license`.
pub async fn reminders(licensor: &Licensor, license: LicenseId) -> Vec<OutboxEntry> {
    outbox(licensor)
        .await
        .into_iter()
        .filter(|m| m.kind == "reminder" && m.license_id == Some(license))
        .collect()
}

/// The schedule of `license`.
pub async fn schedule(licensor: &Licensor, license: LicenseId) -> Vec<Notification> {
    licensor.notifications(license).await.unwrap()
}

/// `GET path` with the admin token, expecting 200.
pub async fn get(app: &TestApp, path: &str) -> Value {
    let response = app.admin(Method::GET, path).send().await.unwrap();
    expect_json(response, StatusCode::OK).await
}
