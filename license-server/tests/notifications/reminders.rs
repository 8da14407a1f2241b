//! A license's whole life under the injected clock, with two replicas running the scheduler
//! at once, a restart in the middle and two outages: each due stage is queued exactly once,
//! a stage missed in an outage is sent on return unless a later one is due, and a reissue
//! cancels the old license's pending reminders.

use crate::helpers::{
    account, issue, on_both_backends, post, reminders, replica, schedule, spawn, wall_clock,
};
use crate::support::Kind;
use license_core::{DAY, LicenseId};
use license_server::clock::ManualClock;
use license_server::service::Licensor;
use license_server::store::notifications::NotificationState;
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;

on_both_backends!(
    each_stage_is_queued_once_across_replicas_restarts_and_outages,
    a_reissue_cancels_the_old_licenses_pending_reminders,
    the_applications_own_scheduler_queues_due_reminders,
);

/// Both replicas run the scheduler at the same time, twice each.
async fn run_schedulers(a: &Licensor, b: &Licensor) -> usize {
    let (x, y, z, w) = tokio::join!(
        a.queue_due_notifications(),
        b.queue_due_notifications(),
        b.queue_due_notifications(),
        a.queue_due_notifications(),
    );
    x.unwrap() + y.unwrap() + z.unwrap() + w.unwrap()
}

/// The state of each stage of `license`.
async fn states(licensor: &Licensor, license: LicenseId) -> BTreeMap<String, NotificationState> {
    schedule(licensor, license)
        .await
        .into_iter()
        .map(|n| (n.stage, n.state))
        .collect()
}

async fn each_stage_is_queued_once_across_replicas_restarts_and_outages(kind: Kind) {
    let clock = ManualClock::new(wall_clock());
    let app = spawn(kind, &clock, |_| {}).await;
    let mut other = replica(&app, &clock).await;
    let start = app.licensor.now();
    let account = account(&app).await;
    // Expires on day 90, grace until day 104: stages on days 30, 60, 83, 89, 90 and 104.
    let license = issue(&app, &account, "ops@acme.example", start, 90, 14).await;
    assert_eq!(
        states(&app.licensor, license)
            .await
            .keys()
            .collect::<Vec<_>>(),
        [
            "expired",
            "expires_in_1d",
            "expires_in_30d",
            "expires_in_60d",
            "expires_in_7d",
            "grace_ended"
        ]
    );
    let mut queued_by_day = BTreeMap::new();
    for day in 1..=110 {
        clock.advance(DAY);
        if day == 45 || day == 95 {
            // A restart: the replica goes away and a new process takes its place.
            other.store().close().await;
            other = replica(&app, &clock).await;
        }
        // Outages: no scheduler runs on days 80–85 (day 83's stage is missed) and 88–90
        // (days 89 and 90 are missed; only the later one is sent).
        if (80..86).contains(&day) || (88..91).contains(&day) {
            continue;
        }
        let queued = run_schedulers(&app.licensor, &other).await;
        if queued > 0 {
            queued_by_day.insert(day, queued);
        }
    }
    assert_eq!(
        queued_by_day,
        BTreeMap::from([(30, 1), (60, 1), (86, 1), (91, 1), (104, 1)]),
        "the day each reminder was queued, and how many"
    );
    let states = states(&app.licensor, license).await;
    use NotificationState::{Queued, Skipped};
    assert_eq!(
        states,
        BTreeMap::from([
            ("expires_in_60d".to_owned(), Queued),
            ("expires_in_30d".to_owned(), Queued),
            ("expires_in_7d".to_owned(), Queued),
            ("expires_in_1d".to_owned(), Skipped),
            ("expired".to_owned(), Queued),
            ("grace_ended".to_owned(), Queued),
        ])
    );
    let mail = reminders(&app.licensor, license).await;
    let mut subjects: Vec<&str> = mail.iter().map(|m| m.subject.as_str()).collect();
    subjects.sort_unstable();
    assert_eq!(
        subjects,
        [
            "The grace period of your Coder license has ended",
            "Your Coder license expires in 30 day(s)",
            "Your Coder license expires in 60 day(s)",
            "Your Coder license expires in 7 day(s)",
            "Your Coder license has expired",
        ]
    );
    for n in schedule(&app.licensor, license).await {
        let linked = mail.iter().filter(|m| Some(m.id) == n.outbox_id).count();
        assert_eq!(linked, usize::from(n.state == Queued), "{n:?}");
    }
    assert!(mail.iter().all(|m| m.recipient == "ops@acme.example"));
}

async fn a_reissue_cancels_the_old_licenses_pending_reminders(kind: Kind) {
    let clock = ManualClock::new(wall_clock());
    let app = spawn(kind, &clock, |_| {}).await;
    let other = replica(&app, &clock).await;
    let start = app.licensor.now();
    let account = account(&app).await;
    let old = issue(&app, &account, "ops@acme.example", start, 40, 0).await;
    clock.advance(5 * DAY);
    let new_expiry = start.add_seconds(70 * DAY).rfc3339();
    let response = post(
        &app,
        &format!("/api/v1/licenses/{old}/reissue"),
        &json!({ "expires_at": new_expiry }),
    )
    .await;
    let renewed = crate::helpers::expect_json(response, StatusCode::CREATED).await;
    let renewed: LicenseId = renewed["id"].as_str().unwrap().parse().unwrap();
    for _ in 0..75 {
        clock.advance(DAY);
        run_schedulers(&app.licensor, &other).await;
    }
    assert!(
        states(&app.licensor, old)
            .await
            .values()
            .all(|s| *s == NotificationState::Cancelled),
        "{:?}",
        states(&app.licensor, old).await
    );
    assert!(reminders(&app.licensor, old).await.is_empty());
    let renewed_states = states(&app.licensor, renewed).await;
    assert!(
        renewed_states
            .values()
            .all(|s| *s == NotificationState::Queued),
        "{renewed_states:?}"
    );
    assert_eq!(
        reminders(&app.licensor, renewed).await.len(),
        renewed_states.len()
    );
    // 70 days from the start, reissued on day 5: the 60-day stage (day 10) and the later ones.
    assert!(renewed_states.contains_key("expires_in_60d"));
}

/// `Config.scheduler` starts the scheduler with the application: a due stage is queued with
/// no one calling it.
async fn the_applications_own_scheduler_queues_due_reminders(kind: Kind) {
    let clock = ManualClock::new(wall_clock());
    let app = spawn(kind, &clock, |config| {
        config.scheduler = Some(std::time::Duration::from_millis(20));
    })
    .await;
    let start = app.licensor.now();
    let account = account(&app).await;
    let license = issue(&app, &account, "ops@acme.example", start, 5, 0).await;
    // Issued 5 days before expiry: the 7-day stage had passed, the 1-day one had not.
    let stages: Vec<String> = schedule(&app.licensor, license)
        .await
        .into_iter()
        .map(|n| n.stage)
        .collect();
    assert_eq!(stages, ["expires_in_1d", "expired"]);
    clock.advance(4 * DAY + 60);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while reminders(&app.licensor, license).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no reminder was queued"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let mail = reminders(&app.licensor, license).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].subject, "Your Coder license expires in 1 day(s)");
}
