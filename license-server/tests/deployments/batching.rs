//! Group commit (issue 17): check-ins that arrive together are written in one transaction,
//! each answered for itself; one that cannot be stored fails alone; the license cache follows
//! revocations and reissues made by any replica on the very next check-in.

use crate::helpers::{
    checkin, checkin_body, create_account, expect_json, get, issue_license, now, on_both_backends,
    post, revoke, send_checkin, with,
};
use crate::support::{Kind, TestApp, test_config};
use license_server::app::Application;
use license_server::clock::ManualClock;
use license_server::service::checkin_state::BatchConfig;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection as _;
use std::sync::Arc;
use std::time::Duration;

on_both_backends!(
    a_checkin_that_cannot_be_stored_fails_alone_in_its_batch,
    two_checkins_of_one_deployment_in_a_batch_each_get_their_answer,
    a_revocation_reaches_the_next_checkin_on_every_replica,
    a_reissue_reaches_the_next_checkin_on_another_replica,
    without_batching_each_checkin_is_written_alone,
);

/// An app whose check-ins wait up to `wait_ms` to be batched (up to 64 at once).
async fn spawn_batching(kind: Kind, max: usize, wait_ms: u64) -> (TestApp, ManualClock) {
    let clock = ManualClock::new(crate::helpers::wall_clock());
    let app_clock = clock.clone();
    let app = TestApp::spawn_with(kind, move |config| {
        config.clock = Arc::new(app_clock);
        config.checkin_batch = BatchConfig {
            max,
            wait: Duration::from_millis(wait_ms),
        };
    })
    .await;
    (app, clock)
}

/// Sends `bodies` at once; their answers' statuses and bodies, in order.
async fn send_together(app: &TestApp, bodies: Vec<Value>) -> Vec<(StatusCode, Value)> {
    let mut tasks = Vec::new();
    for body in bodies {
        let client = app.client.clone();
        let url = app.url("/api/v1/checkins");
        tasks.push(tokio::spawn(async move {
            let response = client.post(url).json(&body).send().await.unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// Makes the database refuse any check-in reporting product version 6.6.6.
async fn poison_version(app: &TestApp) {
    match app.db.kind {
        Kind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
            sqlx::raw_sql(
                "CREATE FUNCTION poisoned() RETURNS trigger AS $$ BEGIN \
                   IF NEW.product_version = '6.6.6' THEN RAISE EXCEPTION 'poisoned check-in'; END IF; \
                   RETURN NEW; END $$ LANGUAGE plpgsql; \
                 CREATE TRIGGER poisoned BEFORE INSERT ON checkins \
                   FOR EACH ROW EXECUTE FUNCTION poisoned();",
            )
            .execute(&mut conn)
            .await
            .unwrap();
        }
        Kind::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&app.db.url).await.unwrap();
            sqlx::raw_sql(
                "CREATE TRIGGER poisoned BEFORE INSERT ON checkins \
                   WHEN NEW.product_version = '6.6.6' \
                 BEGIN SELECT RAISE(ABORT, 'poisoned check-in'); END;",
            )
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }
}

async fn a_checkin_that_cannot_be_stored_fails_alone_in_its_batch(kind: Kind) {
    // A long wait: check-ins sent together are written in one batch.
    let (app, clock) = spawn_batching(kind, 64, 400).await;
    let account = create_account(&app, "Acme").await;
    let (license, _) = issue_license(&app, &account, now(&clock), json!({})).await;
    poison_version(&app).await;

    let mut bodies: Vec<Value> = (0..6)
        .map(|n| checkin_body(&format!("dep-{n}"), &[&license], n))
        .collect();
    bodies.insert(
        3,
        with(
            &checkin_body("dep-poisoned", &[&license], 3),
            "product_version",
            Some(json!("6.6.6")),
        ),
    );
    let answers = send_together(&app, bodies).await;
    for (n, (status, answer)) in answers.iter().enumerate() {
        if n == 3 {
            assert!(status.is_server_error(), "{status} {answer}");
        } else {
            assert_eq!(*status, StatusCode::OK, "{answer}");
            assert_eq!(answer["licenses"][0]["status"], "active", "{answer}");
        }
    }

    // The others are stored, once each; the refused one is not.
    for n in 0..6 {
        let deployment = get(&app, &format!("/api/v1/deployments/dep-{n}")).await;
        assert_eq!(deployment["checkins"], 1, "{deployment}");
        assert_eq!(deployment["active_users"], n, "{deployment}");
    }
    let response = app
        .admin(reqwest::Method::GET, "/api/v1/deployments/dep-poisoned")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let usage = get(&app, &format!("/api/v1/licenses/{license}/usage")).await;
    assert_eq!(
        usage["peak_users"],
        (0..6).sum::<u64>(),
        "the usage of the stored check-ins only: {usage}"
    );
}

async fn two_checkins_of_one_deployment_in_a_batch_each_get_their_answer(kind: Kind) {
    let (app, clock) = spawn_batching(kind, 64, 400).await;
    let account = create_account(&app, "Acme").await;
    let (license, _) = issue_license(&app, &account, now(&clock), json!({})).await;
    let (other, _) = issue_license(&app, &account, now(&clock), json!({})).await;
    revoke(&app, &other).await;

    // The same deployment twice, with different nonces, users and licenses.
    let first = with(
        &checkin_body("dep-twice", &[&license], 3),
        "nonce",
        Some(json!("n-first")),
    );
    let second = with(
        &checkin_body("dep-twice", &[&license, &other], 30),
        "nonce",
        Some(json!("n-second")),
    );
    let answers = send_together(&app, vec![first, second]).await;
    let (status, answer) = &answers[0];
    assert_eq!(*status, StatusCode::OK, "{answer}");
    assert_eq!(answer["nonce"], "n-first");
    assert_eq!(answer["licenses"].as_array().unwrap().len(), 1, "{answer}");
    let (status, answer) = &answers[1];
    assert_eq!(*status, StatusCode::OK, "{answer}");
    assert_eq!(answer["nonce"], "n-second");
    assert_eq!(answer["licenses"][0]["status"], "active", "{answer}");
    assert_eq!(answer["licenses"][1]["status"], "revoked", "{answer}");
    let keyring = crate::helpers::published_keyring(&app).await;
    for (_, answer) in &answers {
        let receipt = crate::helpers::receipt_of(answer, &keyring, now(&clock));
        assert_eq!(receipt.claims().nonce.as_deref(), answer["nonce"].as_str());
    }

    // Both stored, in some order; the summary is the latest one's.
    let deployment = get(&app, "/api/v1/deployments/dep-twice").await;
    assert_eq!(deployment["checkins"], 2, "{deployment}");
    let history = get(&app, "/api/v1/deployments/dep-twice/checkins").await;
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{history}");
    assert_eq!(
        deployment["active_users"], items[0]["active_users"],
        "{deployment} {history}"
    );
    assert_eq!(
        deployment["over_seat_limit"],
        items[0]["active_users"] == 30,
        "{deployment}"
    );
    let usage = get(&app, &format!("/api/v1/licenses/{license}/usage")).await;
    assert_eq!(usage["peak_users"], 30, "the day's peak: {usage}");
}

/// A second replica of `app`: another licensor on the same database and signing key.
async fn replica(app: &TestApp) -> String {
    let config = test_config(app.db.database_url(), &app.signing_key);
    let replica = Application::build(config).await.unwrap();
    let base = format!("http://{}", replica.address());
    tokio::spawn(replica.run(std::future::pending()));
    base
}

async fn checkin_at(app: &TestApp, base: &str, deployment: &str, license: &str) -> Value {
    let response = app
        .client
        .post(format!("{base}/api/v1/checkins"))
        .json(&checkin_body(deployment, &[license], 3))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await
}

async fn a_revocation_reaches_the_next_checkin_on_every_replica(kind: Kind) {
    let (app, clock) = spawn_batching(kind, 64, 2).await;
    let other = replica(&app).await;
    let account = create_account(&app, "Acme").await;
    let (license, _) = issue_license(&app, &account, now(&clock), json!({})).await;

    // Both replicas have read (and cached) the license.
    for _ in 0..2 {
        let answer = checkin(&app, "dep-a", &[&license], 3).await;
        assert_eq!(answer["licenses"][0]["status"], "active");
        let answer = checkin_at(&app, &other, "dep-b", &license).await;
        assert_eq!(answer["licenses"][0]["status"], "active");
    }

    // Revoked on the first: the next check-in on either reports it.
    revoke(&app, &license).await;
    let answer = checkin(&app, "dep-a", &[&license], 3).await;
    assert_eq!(answer["licenses"][0]["status"], "revoked", "{answer}");
    let answer = checkin_at(&app, &other, "dep-b", &license).await;
    assert_eq!(answer["licenses"][0]["status"], "revoked", "{answer}");

    // And revoked on the second, read through the first's cache.
    let (second, _) = issue_license(&app, &account, now(&clock), json!({})).await;
    let answer = checkin(&app, "dep-a", &[&second], 3).await;
    assert_eq!(answer["licenses"][0]["status"], "active");
    let response = app
        .client
        .post(format!("{other}/api/v1/licenses/{second}/revoke"))
        .bearer_auth(&app.token)
        .json(&json!({ "reason": "contract terminated" }))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await;
    let answer = checkin(&app, "dep-a", &[&second], 3).await;
    assert_eq!(answer["licenses"][0]["status"], "revoked", "{answer}");
}

async fn a_reissue_reaches_the_next_checkin_on_another_replica(kind: Kind) {
    let (app, clock) = spawn_batching(kind, 64, 2).await;
    let other = replica(&app).await;
    let account = create_account(&app, "Acme").await;
    let at = now(&clock);
    let (old, _) = issue_license(&app, &account, at, json!({})).await;
    let answer = checkin_at(&app, &other, "dep-b", &old).await;
    assert_eq!(answer["licenses"][0]["status"], "active");
    assert_eq!(answer["renewals"], json!([]));

    // Reissued on the first replica: the second reports the old one superseded and pushes
    // the new one.
    let later = at.add_seconds(500 * license_core::DAY).rfc3339();
    let response = post(
        &app,
        &format!("/api/v1/licenses/{old}/reissue"),
        &json!({ "expires_at": later }),
    )
    .await;
    let new = expect_json(response, StatusCode::CREATED).await;
    let answer = checkin_at(&app, &other, "dep-b", &old).await;
    assert_eq!(answer["licenses"][0]["status"], "superseded", "{answer}");
    assert_eq!(answer["renewals"][0]["license_id"], new["id"], "{answer}");
}

async fn without_batching_each_checkin_is_written_alone(kind: Kind) {
    let (app, clock) = spawn_batching(kind, 1, 0).await;
    let account = create_account(&app, "Acme").await;
    let (license, _) = issue_license(&app, &account, now(&clock), json!({})).await;
    let bodies: Vec<Value> = (0..8)
        .map(|n| checkin_body(&format!("dep-{}", n % 3), &[&license], n))
        .collect();
    for (status, answer) in send_together(&app, bodies).await {
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let deployment = get(&app, "/api/v1/deployments/dep-0").await;
    assert_eq!(deployment["checkins"], 3, "{deployment}");
    revoke(&app, &license).await;
    let response = send_checkin(&app, &checkin_body("dep-0", &[&license], 1)).await;
    let answer = expect_json(response, StatusCode::OK).await;
    assert_eq!(answer["licenses"][0]["status"], "revoked", "{answer}");
}
