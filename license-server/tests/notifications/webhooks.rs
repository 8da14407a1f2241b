//! Signed webhooks end to end: a real receiver gets every event type, each signature checks
//! with the key from `/api/v1/keys`, failed deliveries are retried with backoff until the
//! receiver recovers, an endpoint that keeps failing goes dead and comes back by manual
//! redelivery, a receiver that never answers holds up no one, and private targets are
//! refused without the server's flag.

use crate::helpers::{account, expect_json, get, issue, on_both_backends, post, spawn, wall_clock};
use crate::receiver::{Captured, Receiver};
use crate::support::Kind;
use base64::Engine as _;
use license_core::{DAY, PublicKey};
use license_server::clock::ManualClock;
use license_server::service::outbox::RetryPolicy;
use license_server::service::webhook_delivery::WebhookSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

on_both_backends!(
    every_event_reaches_a_receiver_signed_and_retried,
    private_targets_and_bad_registrations_are_refused,
);

const ALL_EVENTS: [&str; 13] = [
    "license.issued",
    "license.reissued",
    "license.revoked",
    "license.expiring",
    "license.expired",
    "trial.requested",
    "trial.granted",
    "trial.refused",
    "deployment.first_seen",
    "deployment.over_seats",
    "deployment.stale",
    "evaluation.enrolled",
    "evaluation.ended",
];

fn settings() -> WebhookSettings {
    WebhookSettings {
        retry: RetryPolicy {
            lease_secs: 600,
            max_attempts: 3,
            base_delay_secs: 30,
            max_delay_secs: 300,
        },
        timeout: Duration::from_secs(1),
        poll: Duration::from_millis(20),
    }
}

async fn register(app: &crate::support::TestApp, url: &str, events: &[&str]) -> String {
    let body = json!({ "url": url, "events": events, "description": "test receiver" });
    let created = expect_json(
        post(app, "/api/v1/webhooks", &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["state"], "active");
    created["id"].as_str().unwrap().to_owned()
}

/// Checks a delivery's signature with the JWKS; the event.
pub fn verify(captured: &Captured, jwks: &Value) -> Value {
    let h = &captured.headers;
    let kid = &h["licensor-key-id"];
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("key {kid} is not in /api/v1/keys"));
    let x = license_core::base64url::decode(jwk["x"].as_str().unwrap()).unwrap();
    let key = PublicKey::from_bytes(&x.try_into().unwrap()).unwrap();
    let signature = h["webhook-signature"].strip_prefix("v1a,").unwrap();
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .unwrap();
    let signed = format!(
        "{}.{}.{}",
        h["webhook-id"], h["webhook-timestamp"], captured.body
    );
    key.verify_strict(signed.as_bytes(), &signature)
        .unwrap_or_else(|e| panic!("bad signature on {captured:?}: {e}"));
    let mut tampered = signed.into_bytes();
    tampered.push(b' ');
    assert!(key.verify_strict(&tampered, &signature).is_err());
    let event: Value = serde_json::from_str(&captured.body).unwrap();
    assert_eq!(event["id"], h["webhook-id"].as_str());
    assert_eq!(h["content-type"], "application/json");
    event
}

/// Moves the clock in steps until `done` holds (at most 30 s of real time).
async fn drive_until(clock: &ManualClock, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        clock.advance(15);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn every_event_reaches_a_receiver_signed_and_retried(kind: Kind) {
    let clock = ManualClock::new(wall_clock());
    let app = spawn(kind, &clock, |config| {
        config.allow_private_webhooks = true;
        config.webhooks = Some(settings());
        config.notifications.desk = Some("desk@vendor.example".to_owned());
    })
    .await;
    let receiver = Receiver::start(2).await;
    let flaky = Receiver::start(1000).await;
    let hanging = Receiver::hanging().await;
    let main = register(&app, &receiver.url, &ALL_EVENTS).await;
    let flaky_id = register(&app, &flaky.url, &["license.issued"]).await;
    let hanging_id = register(&app, &hanging.url, &ALL_EVENTS).await;

    // Every event, each caused through the API.
    let start = app.licensor.now();
    let account = account(&app).await;
    let first = issue(&app, &account, "ops@acme.example", start, 365, 0).await;
    let reissued = expect_json(
        post(
            &app,
            &format!("/api/v1/licenses/{first}/reissue"),
            &json!({}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let revoke = format!(
        "/api/v1/licenses/{}/revoke",
        reissued["id"].as_str().unwrap()
    );
    let response = post(&app, &revoke, &json!({ "reason": "replaced by contract" })).await;
    expect_json(response, StatusCode::OK).await;
    let expiring = issue(&app, &account, "ops@acme.example", start, 10, 3).await;
    let trial = json!({
        "email": "ada@engines.example", "first_name": "Ada", "last_name": "Lovelace",
        "company": "Analytical Engines Ltd", "country": "GB", "developers": "11-50",
        "deployment_id": "trial-dep", "product_version": "2.16.0",
    });
    let trials = |body: Value| {
        app.client
            .post(app.url("/api/v1/trials"))
            .json(&body)
            .send()
    };
    let granted = expect_json(trials(trial.clone()).await.unwrap(), StatusCode::ACCEPTED).await;
    let refused = trials(trial).await.unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let trial = get(
        &app,
        &format!("/api/v1/trials/{}", granted["trial_id"].as_str().unwrap()),
    )
    .await;
    let trial_license = trial["license_id"].as_str().unwrap().to_owned();
    let checkin = json!({
        "deployment_id": "trial-dep", "license_ids": [trial_license],
        "active_users": 100_000, "product_version": "2.16.0",
    });
    let response = app
        .client
        .post(app.url("/api/v1/checkins"))
        .json(&checkin)
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await;
    let enrollment = json!({
        "email_domain": "evaluators.example", "reason": "pilot", "approved_by": "Grace Hopper",
        "ends_at": start.add_seconds(60 * DAY).rfc3339(), "waives": [],
    });
    let enrolled = expect_json(
        post(&app, "/api/v1/evaluations", &enrollment).await,
        StatusCode::CREATED,
    )
    .await;
    let end = format!(
        "/api/v1/evaluations/{}/end",
        enrolled["id"].as_str().unwrap()
    );
    expect_json(
        post(&app, &end, &json!({ "reason": "signed" })).await,
        StatusCode::OK,
    )
    .await;
    // Four days on: the 7-day reminder of `expiring` and the trial deployment's silence;
    // eleven days on: `expiring` has expired.
    clock.advance(4 * DAY);
    assert!(app.licensor.queue_due_notifications().await.unwrap() >= 2);
    clock.advance(7 * DAY);
    assert!(app.licensor.queue_due_notifications().await.unwrap() >= 1);
    let desk_alerts = crate::helpers::outbox(&app.licensor)
        .await
        .into_iter()
        .filter(|m| m.recipient == "desk@vendor.example")
        .count();
    assert_eq!(desk_alerts, 1, "the over-seat alert went to the desk once");
    let _ = expiring;

    let delivered_types = |receiver: &Receiver| -> BTreeSet<String> {
        receiver
            .captured()
            .iter()
            .filter(|c| c.status == 200)
            .map(|c| {
                serde_json::from_str::<Value>(&c.body).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    let all: BTreeSet<String> = ALL_EVENTS.iter().map(|t| (*t).to_owned()).collect();
    drive_until(&clock, "every event type at the receiver", async || {
        delivered_types(&receiver) == all
    })
    .await;

    // Every request is signed by the published key; the two 500s were retried.
    let jwks = get(&app, "/api/v1/keys").await;
    let captured = receiver.captured();
    for c in &captured {
        let event = verify(c, &jwks);
        assert!(all.contains(event["type"].as_str().unwrap()), "{event}");
        assert!(event["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(event["data"].is_object());
    }
    let failed: Vec<&Captured> = captured.iter().filter(|c| c.status == 500).collect();
    assert_eq!(failed.len(), 2);
    for f in failed {
        let id = &f.headers["webhook-id"];
        assert!(
            captured
                .iter()
                .any(|c| c.status == 200 && &c.headers["webhook-id"] == id),
            "event {id} was retried after its 500"
        );
    }
    // The delivery log: every delivery delivered with its status and latency; the retried
    // ones show their attempts.
    drive_until(&clock, "the delivery log to settle", async || {
        let log = get(&app, &format!("/api/v1/webhooks/{main}/deliveries")).await;
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["state"] == "delivered")
    })
    .await;
    let log = get(&app, &format!("/api/v1/webhooks/{main}/deliveries")).await;
    let items = log["items"].as_array().unwrap();
    // Delivery is at least once (a 200 that arrives after the timeout is tried again, and
    // receivers drop replays by id), so the log has one delivery per id that got a 200.
    let delivered_ids: std::collections::BTreeSet<&String> = captured
        .iter()
        .filter(|c| c.status == 200)
        .map(|c| &c.headers["webhook-id"])
        .collect();
    assert_eq!(items.len(), delivered_ids.len());
    assert!(
        items
            .iter()
            .all(|d| d["last_status"] == 200 && d["last_latency_ms"].is_u64())
    );
    assert!(
        items
            .iter()
            .filter(|d| d["attempts"].as_u64().unwrap() >= 2)
            .count()
            >= 1
    );

    // The flaky endpoint went dead after three attempts; it recovers, and a manual
    // redelivery brings the event and revives the endpoint.
    drive_until(&clock, "the flaky endpoint to go dead", async || {
        let endpoints = get(&app, "/api/v1/webhooks").await;
        endpoints["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == flaky_id.as_str() && e["state"] == "dead")
    })
    .await;
    let log = get(&app, &format!("/api/v1/webhooks/{flaky_id}/deliveries")).await;
    let dead = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["state"] == "dead")
        .unwrap()
        .clone();
    assert_eq!(dead["attempts"], 3, "three attempts, then dead: {log}");
    assert_eq!(dead["last_status"], 500);
    // A dead endpoint gets nothing more, however long one waits.
    let attempts_when_dead = flaky.captured().len();
    for _ in 0..20 {
        clock.advance(600);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(flaky.captured().len(), attempts_when_dead);
    flaky.fail_next(0);
    let redeliver = format!(
        "/api/v1/webhook-deliveries/{}/redeliver",
        dead["id"].as_str().unwrap()
    );
    let queued = expect_json(post(&app, &redeliver, &json!({})).await, StatusCode::OK).await;
    assert_eq!(queued["state"], "pending");
    let event_id = dead["event_id"].as_str().unwrap().to_owned();
    drive_until(&clock, "the redelivery", async || {
        flaky
            .captured()
            .iter()
            .any(|c| c.status == 200 && c.headers["webhook-id"] == event_id)
    })
    .await;
    let endpoints = get(&app, "/api/v1/webhooks").await;
    let flaky_now = endpoints["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == flaky_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        flaky_now["state"], "active",
        "redelivery revives the endpoint"
    );
    // The redelivery carried the event id of the failed attempts: a receiver that had
    // accepted it could drop it as a replay.
    let failed_before = flaky
        .captured()
        .iter()
        .filter(|c| c.status == 500 && c.headers["webhook-id"] == event_id)
        .count();
    assert_eq!(failed_before, 3);
    // A delivered event can be redelivered too.
    let again = format!(
        "/api/v1/webhook-deliveries/{}/redeliver",
        items[0]["id"].as_str().unwrap()
    );
    let again = expect_json(post(&app, &again, &json!({})).await, StatusCode::OK).await;
    assert_eq!(
        (&again["state"], &again["delivered_at"]),
        (&json!("pending"), &Value::Null)
    );
    let again_id = again["event_id"].as_str().unwrap().to_owned();
    drive_until(
        &clock,
        "the second delivery of a delivered event",
        async || {
            receiver
                .captured()
                .iter()
                .filter(|c| c.headers["webhook-id"] == again_id)
                .count()
                >= 2
        },
    )
    .await;

    // The receiver that never answers held up no one (everything above was delivered while
    // it kept its requests open); its attempts time out and are logged as such.
    let hanging_log = format!("/api/v1/webhooks/{hanging_id}/deliveries");
    drive_until(&clock, "the hanging receiver's timeout", async || {
        let log = get(&app, &hanging_log).await;
        log["items"].as_array().unwrap().iter().any(|d| {
            d["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("did not answer in time"))
        })
    })
    .await;
    drive_until(&clock, "the hanging endpoint to go dead", async || {
        let endpoints = get(&app, "/api/v1/webhooks").await;
        endpoints["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == hanging_id.as_str() && e["state"] == "dead")
    })
    .await;
    let log = get(&app, &hanging_log).await;
    let items = log["items"].as_array().unwrap();
    assert!(items.iter().all(|d| d["state"] != "delivered"), "{log}");
    // Its other deliveries wait while it is dead; one still waiting is not redelivered by hand.
    let waiting = items.iter().find(|d| d["state"] == "pending").unwrap();
    let redeliver = format!(
        "/api/v1/webhook-deliveries/{}/redeliver",
        waiting["id"].as_str().unwrap()
    );
    let response = post(&app, &redeliver, &json!({})).await;
    crate::support::answers::expect_error(response, StatusCode::CONFLICT, "delivery_in_flight")
        .await;

    // The documented snippets verify a captured delivery and refuse a tampered or old one.
    let issued = captured
        .iter()
        .find(|c| c.status == 200 && c.body.contains("\"license.issued\""))
        .unwrap();
    crate::snippets::check(issued, &jwks);
}

async fn private_targets_and_bad_registrations_are_refused(kind: Kind) {
    let clock = ManualClock::new(wall_clock());
    let app = spawn(kind, &clock, |_| {}).await;
    for (url, events) in [
        ("http://127.0.0.1:9/hook", json!(["license.issued"])),
        ("http://localhost:9/hook", json!(["license.issued"])),
        ("http://169.254.169.254/latest", json!(["license.issued"])),
        ("http://10.0.0.8/hook", json!(["license.issued"])),
        ("http://[::1]/hook", json!(["license.issued"])),
        ("ftp://hooks.example.com/", json!(["license.issued"])),
        ("https://hooks.example.com/", json!(["license.exploded"])),
        ("https://hooks.example.com/", json!([])),
    ] {
        let body = json!({ "url": url, "events": events });
        let response = post(&app, "/api/v1/webhooks", &body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{url} {events}"
        );
    }
    let listed = get(&app, "/api/v1/webhooks").await;
    assert_eq!(listed["items"], json!([]));
    let public =
        json!({ "url": "https://hooks.example.com/licensor", "events": ["license.issued"] });
    expect_json(
        post(&app, "/api/v1/webhooks", &public).await,
        StatusCode::CREATED,
    )
    .await;
}
