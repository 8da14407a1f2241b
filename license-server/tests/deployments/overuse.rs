//! Overuse flags: more active users than seats (`over_seat_limit`, and the filter that lists
//! those deployments), and one license reported from more deployments within 30 days than it
//! is bound to (at least one) (`overused`).

use crate::helpers::{
    checkin, create_account, deployments, get, ids, issue_license, now, on_both_backends, spawn,
};
use crate::support::{Kind, TestApp};
use license_core::DAY;
use serde_json::{Value, json};

on_both_backends!(
    more_users_than_seats_is_over_the_seat_limit,
    an_unbound_license_reported_from_two_deployments_is_overused,
    a_license_bound_to_two_deployments_reported_from_both_is_not_overused,
    reports_older_than_thirty_days_do_not_count,
);

/// The entry for `license` in `GET /deployments/{deployment}`, and the whole view.
async fn license_entry(app: &TestApp, deployment: &str, license: &str) -> (Value, Value) {
    let shown = get(app, &format!("/api/v1/deployments/{deployment}")).await;
    let entry = shown["licenses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == license)
        .unwrap_or_else(|| panic!("{license} is not listed: {shown}"))
        .clone();
    (entry, shown)
}

async fn more_users_than_seats_is_over_the_seat_limit(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let (license, _) = issue_license(&app, &account, now(&clock), json!({})).await; // 25 seats

    checkin(&app, "dep-over", &[&license], 26).await;
    checkin(&app, "dep-at", &[&license], 25).await;
    checkin(&app, "dep-under", &[&license], 3).await;
    // No license known: no seats to exceed.
    checkin(&app, "dep-none", &[&uuid::Uuid::new_v4().to_string()], 1000).await;

    let over = get(&app, "/api/v1/deployments/dep-over").await;
    assert_eq!(over["over_seat_limit"], true, "{over}");
    assert_eq!(over["active_users"], 26);
    assert_eq!(over["user_limit"], 25);
    let at = get(&app, "/api/v1/deployments/dep-at").await;
    assert_eq!(
        at["over_seat_limit"], false,
        "exactly the seats is fine: {at}"
    );
    let none = get(&app, "/api/v1/deployments/dep-none").await;
    assert_eq!(none["over_seat_limit"], false, "{none}");
    assert!(none["user_limit"].is_null(), "{none}");

    let listed = deployments(&app, &[("over_seat_limit", "true")]).await;
    assert_eq!(ids(&listed), ["dep-over"]);
    let mut within = ids(&deployments(&app, &[("over_seat_limit", "false")]).await);
    within.sort();
    assert_eq!(within, ["dep-at", "dep-none", "dep-under"]);

    // The flag follows the latest check-in.
    clock.advance(60);
    checkin(&app, "dep-over", &[&license], 20).await;
    assert!(
        deployments(&app, &[("over_seat_limit", "true")])
            .await
            .is_empty()
    );
    clock.advance(60);
    checkin(&app, "dep-under", &[&license], 400).await;
    let listed = deployments(&app, &[("over_seat_limit", "true")]).await;
    assert_eq!(ids(&listed), ["dep-under"]);

    // The seats are those of the best active license reported.
    let (big, _) = issue_license(&app, &account, now(&clock), json!({ "user_limit": 500 })).await;
    checkin(&app, "dep-under", &[&license, &big], 400).await;
    let shown = get(&app, "/api/v1/deployments/dep-under").await;
    assert_eq!(shown["user_limit"], 500, "{shown}");
    assert_eq!(shown["over_seat_limit"], false, "{shown}");
}

async fn an_unbound_license_reported_from_two_deployments_is_overused(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let (license, _) = issue_license(&app, &account, now(&clock), json!({})).await;
    let (other, _) = issue_license(&app, &account, now(&clock), json!({})).await;

    checkin(&app, "dep-1", &[&license, &other], 5).await;
    let (entry, shown) = license_entry(&app, "dep-1", &license).await;
    assert_eq!(entry["deployments_seen"], 1, "{shown}");
    assert_eq!(entry["overused"], false, "{shown}");
    assert_eq!(shown["overused_licenses"], false, "{shown}");

    // The same license shows up in a second deployment: overused, seen from both sides.
    clock.advance(3600);
    checkin(&app, "dep-2", &[&license], 5).await;
    for deployment in ["dep-1", "dep-2"] {
        let (entry, shown) = license_entry(&app, deployment, &license).await;
        assert_eq!(entry["deployments_seen"], 2, "{shown}");
        assert_eq!(entry["overused"], true, "{shown}");
        assert_eq!(entry["bound_to"], json!([]), "{shown}");
        assert_eq!(shown["overused_licenses"], true, "{shown}");
    }
    // The license reported only by dep-1 is not.
    let (entry, _) = license_entry(&app, "dep-1", &other).await;
    assert_eq!(entry["deployments_seen"], 1);
    assert_eq!(entry["overused"], false);

    // Checking in again from a deployment already counted changes nothing.
    checkin(&app, "dep-2", &[&license], 6).await;
    let (entry, _) = license_entry(&app, "dep-2", &license).await;
    assert_eq!(entry["deployments_seen"], 2);
}

async fn a_license_bound_to_two_deployments_reported_from_both_is_not_overused(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let (license, _) = issue_license(
        &app,
        &account,
        now(&clock),
        json!({ "deployment_ids": ["dep-a", "dep-b"] }),
    )
    .await;

    let a = checkin(&app, "dep-a", &[&license], 5).await;
    let b = checkin(&app, "dep-b", &[&license], 5).await;
    assert_eq!(a["licenses"][0]["status"], "active");
    assert_eq!(b["licenses"][0]["status"], "active");
    for deployment in ["dep-a", "dep-b"] {
        let (entry, shown) = license_entry(&app, deployment, &license).await;
        assert_eq!(entry["deployments_seen"], 2, "{shown}");
        assert_eq!(entry["bound_to"], json!(["dep-a", "dep-b"]), "{shown}");
        assert_eq!(entry["overused"], false, "{shown}");
        assert_eq!(shown["overused_licenses"], false, "{shown}");
    }

    // A third deployment reporting it is told it is bound elsewhere, and that is overuse.
    let c = checkin(&app, "dep-c", &[&license], 5).await;
    assert_eq!(c["licenses"][0]["status"], "bound_elsewhere");
    let (entry, shown) = license_entry(&app, "dep-c", &license).await;
    assert_eq!(entry["deployments_seen"], 3, "{shown}");
    assert_eq!(entry["overused"], true, "{shown}");
    let (entry, _) = license_entry(&app, "dep-a", &license).await;
    assert_eq!(
        entry["overused"], true,
        "the flag is the license's, wherever it is seen"
    );
    // dep-c has no active license: no seats, no account from it.
    assert!(shown["user_limit"].is_null(), "{shown}");
}

async fn reports_older_than_thirty_days_do_not_count(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let (license, _) = issue_license(&app, &account, now(&clock), json!({})).await;

    // dep-old ran the license, then stopped; 31 days later dep-new runs it.
    checkin(&app, "dep-old", &[&license], 5).await;
    clock.advance(31 * DAY);
    checkin(&app, "dep-new", &[&license], 5).await;
    let (entry, shown) = license_entry(&app, "dep-new", &license).await;
    assert_eq!(entry["deployments_seen"], 1, "a move, not overuse: {shown}");
    assert_eq!(entry["overused"], false, "{shown}");

    // Both within the window again: overuse.
    clock.advance(DAY);
    checkin(&app, "dep-old", &[&license], 5).await;
    let (entry, shown) = license_entry(&app, "dep-new", &license).await;
    assert_eq!(entry["deployments_seen"], 2, "{shown}");
    assert_eq!(entry["overused"], true, "{shown}");
}
