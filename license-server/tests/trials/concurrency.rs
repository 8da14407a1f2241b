//! Trial limits under simultaneous requests, in one process on each backend (two processes on
//! one Postgres: tests/e2e/trials.rs).

use crate::helpers::{on_both_backends, outbox, spawn_default, trial_body, trials};
use crate::support::{Kind, TestApp};
use serde_json::Value;
use std::collections::BTreeMap;

on_both_backends!(
    simultaneous_requests_for_one_deployment_grant_one_trial,
    simultaneous_requests_for_one_address_grant_one_trial,
    simultaneous_requests_from_one_domain_grant_the_domain_limit,
);

const REQUESTS: usize = 20;

/// Sends all `bodies` at once; returns how many answers had each (status, code).
async fn all_at_once(app: &TestApp, bodies: Vec<Value>) -> BTreeMap<(u16, String), usize> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(bodies.len()));
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let client = app.client.clone();
            let url = app.url("/api/v1/trials");
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let response = client.post(url).json(&body).send().await.unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                let code = body["error"]["code"]
                    .as_str()
                    .unwrap_or(body["status"].as_str().unwrap_or("?"))
                    .to_owned();
                (status, code)
            })
        })
        .collect();
    let mut counts = BTreeMap::new();
    for task in tasks {
        *counts.entry(task.await.unwrap()).or_default() += 1;
    }
    counts
}

fn expect(counts: &BTreeMap<(u16, String), usize>, granted: usize, refused: &str) {
    let want: BTreeMap<(u16, String), usize> = [
        ((202, "granted".to_owned()), granted),
        ((409, refused.to_owned()), REQUESTS - granted),
    ]
    .into();
    assert_eq!(counts, &want);
}

async fn simultaneous_requests_for_one_deployment_grant_one_trial(kind: Kind) {
    let (app, _clock) = spawn_default(kind).await;
    let bodies = (0..REQUESTS)
        .map(|i| trial_body(&format!("p{i}@company-{i}.example"), "dep-contended"))
        .collect();
    let counts = all_at_once(&app, bodies).await;
    expect(&counts, 1, "trial_used_for_deployment");
    assert_eq!(trials(&app, &[("outcome", "granted")]).await.len(), 1);
    assert_eq!(
        trials(&app, &[("outcome", "refused")]).await.len(),
        REQUESTS - 1
    );
    assert_eq!(outbox(&app).await.len(), 1, "exactly one email");
}

async fn simultaneous_requests_for_one_address_grant_one_trial(kind: Kind) {
    let (app, _clock) = spawn_default(kind).await;
    // The same person, spelled several ways.
    let spellings = [
        "ada@engines.example",
        "ADA@engines.example",
        "ada+{i}@engines.example",
        "Ada+x{i}@Engines.Example",
    ];
    let bodies = (0..REQUESTS)
        .map(|i| {
            let email = spellings[i % spellings.len()].replace("{i}", &i.to_string());
            trial_body(&email, &format!("dep-{i}"))
        })
        .collect();
    let counts = all_at_once(&app, bodies).await;
    // Unconfirmed requests hold no slot; the mail bound (3 a day per mailbox) holds them.
    expect(&counts, 3, "trial_mail_limit");
    assert_eq!(outbox(&app).await.len(), 3, "at most three emails");
    let granted = trials(&app, &[("outcome", "granted")]).await;
    confirm_all_at_once(&app, &granted).await;
    assert_eq!(
        trials(&app, &[("outcome", "granted")]).await.len(),
        1,
        "one confirmed; the others refused at their first check-in"
    );
}

/// Checks the licenses of all `granted` trials in at once.
async fn confirm_all_at_once(app: &TestApp, granted: &[Value]) {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(granted.len()));
    let tasks: Vec<_> = granted
        .iter()
        .map(|t| {
            let client = app.client.clone();
            let url = app.url("/api/v1/checkins");
            let barrier = barrier.clone();
            let body = serde_json::json!({
                "deployment_id": t["deployment_id"],
                "license_ids": [t["license_id"]],
                "active_users": 1,
                "product_version": "2.18.0",
            });
            tokio::spawn(async move {
                barrier.wait().await;
                let response = client.post(url).json(&body).send().await.unwrap();
                assert_eq!(response.status().as_u16(), 200);
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

async fn simultaneous_requests_from_one_domain_grant_the_domain_limit(kind: Kind) {
    let (app, _clock) = spawn_default(kind).await;
    let bodies = (0..REQUESTS)
        .map(|i| trial_body(&format!("person{i}@popular.example"), &format!("dep-{i}")))
        .collect();
    let counts = all_at_once(&app, bodies).await;
    // Unconfirmed requests count toward no limit: all are mailed (20 a day per domain)...
    assert_eq!(counts, [((202, "granted".to_owned()), REQUESTS)].into());
    let granted = trials(&app, &[("outcome", "granted")]).await;
    assert_eq!(outbox(&app).await.len(), REQUESTS);
    // ...and only the domain limit's worth survive their first check-in.
    confirm_all_at_once(&app, &granted).await;
    assert_eq!(
        trials(
            &app,
            &[("domain", "popular.example"), ("outcome", "granted")]
        )
        .await
        .len(),
        3
    );
}
