//! The seat usage report (true-up): check-ins fed over a simulated term at the app's manual
//! clock, in order, out of order and twice; the report's peak, 95th percentile, over-limit
//! days and each deployment's part, exactly; empty and refused ranges.

use crate::helpers::{
    checkin, create_account, expect_error, get, issue_license, now, on_both_backends, spawn,
};
use crate::support::{Kind, TestApp};
use license_core::{DAY, Timestamp};
use license_server::clock::ManualClock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

on_both_backends!(
    the_report_sums_daily_peaks_across_deployments,
    check_ins_out_of_order_or_twice_give_the_same_report,
    ranges_without_check_ins_are_zeros_and_ranges_are_bounded,
    the_account_report_covers_each_license,
);

/// The simulated term: 20 days. Deployment `a` reports `10 + d` users in the afternoon (and 3
/// fewer in the morning), deployment `b` reports 5 users on even days only.
const DAYS: i64 = 20;

/// Each check-in of the simulation: (day, seconds into the day, deployment, users).
fn schedule(a: &str, b: &str) -> Vec<(i64, i64, String, u64)> {
    let mut checkins = Vec::new();
    for d in 0..DAYS {
        let users = 10 + d as u64;
        checkins.push((d, 8 * 3600, a.to_owned(), users - 3));
        checkins.push((d, 15 * 3600, a.to_owned(), users));
        if d % 2 == 0 {
            checkins.push((d, 12 * 3600, b.to_owned(), 5));
        }
    }
    checkins
}

/// The first simulated day: the day after the licenses were issued, at midnight UTC.
fn first_day(clock: &ManualClock) -> Timestamp {
    let today = now(clock).unix().div_euclid(DAY);
    Timestamp::from_unix((today + 1) * DAY).unwrap()
}

async fn feed(
    app: &TestApp,
    clock: &ManualClock,
    start: Timestamp,
    license: &str,
    checkins: &[(i64, i64, String, u64)],
) {
    for (day, second, deployment, users) in checkins {
        clock.set(start.add_seconds(day * DAY + second));
        checkin(app, deployment, &[license], *users).await;
    }
}

async fn usage(app: &TestApp, license: &str, query: &[(&str, &str)]) -> reqwest::Response {
    app.admin(Method::GET, &format!("/api/v1/licenses/{license}/usage"))
        .query(query)
        .send()
        .await
        .unwrap()
}

/// What every ordering of the schedule must report (25 seats).
fn assert_the_simulated_term(report: &Value, start: Timestamp, a: &str, b: &str) {
    // Daily sums: 15, 11, 17, 13, … (even days 15 + d, odd days 10 + d); the highest is 33
    // on day 18; the 19th of the 20 sorted sums (nearest rank) is 31; the sums above 25 are
    // those of days 12, 14, 16, 17, 18 and 19.
    assert_eq!(report["days_reported"], 20, "{report}");
    assert_eq!(report["peak_users"], 33, "{report}");
    assert_eq!(
        report["peak_date"],
        start.add_seconds(18 * DAY).date(),
        "{report}"
    );
    assert_eq!(report["p95_users"], 31, "{report}");
    assert_eq!(report["days_over_limit"], 6, "{report}");
    assert_eq!(report["user_limit"], 25, "{report}");
    let daily = report["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 20, "{report}");
    assert_eq!(
        daily[0],
        json!({"date": start.date(), "users": 15, "deployments": 2})
    );
    assert_eq!(
        daily[1],
        json!({"date": start.add_seconds(DAY).date(), "users": 11, "deployments": 1})
    );
    let parts = report["deployments"].as_array().unwrap();
    assert_eq!(
        parts,
        &vec![
            json!({"deployment_id": a, "days_reported": 20, "peak_users": 29, "users_on_peak_day": 28}),
            json!({"deployment_id": b, "days_reported": 10, "peak_users": 5, "users_on_peak_day": 5}),
        ],
        "{report}"
    );
}

async fn the_report_sums_daily_peaks_across_deployments(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let (license, _) = issue_license(&app, &account, now(&clock), json!({})).await;
    let start = first_day(&clock);
    feed(&app, &clock, start, &license, &schedule("dep-a", "dep-b")).await;

    let report = get(&app, &format!("/api/v1/licenses/{license}/usage")).await;
    assert_eq!(report["license_id"], license.as_str());
    assert_eq!(report["account_id"], account.as_str());
    assert_the_simulated_term(&report, start, "dep-a", "dep-b");
    // The default range is the license's term.
    let shown = get(&app, &format!("/api/v1/licenses/{license}")).await;
    assert_eq!(
        Some(report["from"].as_str().unwrap()),
        shown["starts_at"].as_str().unwrap().get(..10)
    );
    assert_eq!(
        Some(report["to"].as_str().unwrap()),
        shown["expires_at"].as_str().unwrap().get(..10)
    );

    // A range of the first three days: sums 15, 11, 17.
    let to = start.add_seconds(2 * DAY).date();
    let response = usage(&app, &license, &[("from", &start.date()), ("to", &to)]).await;
    let three = crate::helpers::expect_json(response, StatusCode::OK).await;
    assert_eq!(three["days_reported"], 3, "{three}");
    assert_eq!(three["peak_users"], 17, "{three}");
    assert_eq!(three["p95_users"], 17, "{three}");
    assert_eq!(three["days_over_limit"], 0, "{three}");
    assert_eq!(three["deployments"][0]["peak_users"], 12, "{three}");
}

async fn check_ins_out_of_order_or_twice_give_the_same_report(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let (license, _) = issue_license(&app, &account, now(&clock), json!({})).await;
    let start = first_day(&clock);
    // Newest first (evening before morning), then every check-in a second time, in a
    // scrambled order.
    let mut checkins = schedule("dep-c", "dep-d");
    checkins.reverse();
    let mut again = checkins.clone();
    again.sort_by_key(|(day, second, _, users)| ((day * 7) % DAYS, -second, *users));
    checkins.extend(again);
    feed(&app, &clock, start, &license, &checkins).await;

    let report = get(&app, &format!("/api/v1/licenses/{license}/usage")).await;
    assert_the_simulated_term(&report, start, "dep-c", "dep-d");
}

async fn ranges_without_check_ins_are_zeros_and_ranges_are_bounded(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let (license, _) = issue_license(&app, &account, now(&clock), json!({})).await;

    // No check-ins at all.
    let report = get(&app, &format!("/api/v1/licenses/{license}/usage")).await;
    for field in [
        "days_reported",
        "peak_users",
        "p95_users",
        "days_over_limit",
    ] {
        assert_eq!(report[field], 0, "{field}: {report}");
    }
    assert!(report["peak_date"].is_null(), "{report}");
    assert_eq!(report["deployments"], json!([]));
    assert_eq!(report["daily"], json!([]));

    // Check-ins, but not in the range asked for.
    let start = first_day(&clock);
    feed(&app, &clock, start, &license, &schedule("dep-a", "dep-b")).await;
    let later = start.add_seconds(100 * DAY);
    let response = usage(
        &app,
        &license,
        &[
            ("from", &later.date()),
            ("to", &later.add_seconds(DAY).date()),
        ],
    )
    .await;
    let empty = crate::helpers::expect_json(response, StatusCode::OK).await;
    assert_eq!(empty["peak_users"], 0, "{empty}");
    assert_eq!(empty["days_reported"], 0, "{empty}");

    // Longer than the term plus grace (and than a year): refused, as is a reversed range.
    let far = start.add_seconds(400 * DAY).date();
    let response = usage(&app, &license, &[("from", &start.date()), ("to", &far)]).await;
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "range_too_long").await;
    let response = usage(
        &app,
        &license,
        &[("from", &later.date()), ("to", &start.date())],
    )
    .await;
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_range").await;
    let response = usage(&app, &license, &[("from", "last tuesday")]).await;
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    let unknown = uuid::Uuid::new_v4();
    let response = usage(&app, &unknown.to_string(), &[]).await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

async fn the_account_report_covers_each_license(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let other = create_account(&app, "Other").await;
    let (first, _) = issue_license(&app, &account, now(&clock), json!({})).await;
    let (second, _) = issue_license(&app, &account, now(&clock), json!({"user_limit": 100})).await;
    let (elsewhere, _) = issue_license(&app, &other, now(&clock), json!({})).await;
    let start = first_day(&clock);
    feed(&app, &clock, start, &first, &schedule("dep-a", "dep-b")).await;
    feed(&app, &clock, start, &second, &schedule("dep-e", "dep-f")).await;
    feed(&app, &clock, start, &elsewhere, &schedule("dep-x", "dep-y")).await;

    let report = get(&app, &format!("/api/v1/accounts/{account}/usage")).await;
    assert_eq!(report["account_id"], account.as_str());
    assert_eq!(report["to"], now(&clock).date(), "up to today: {report}");
    let licenses = report["licenses"].as_array().unwrap();
    let ids: Vec<&str> = licenses
        .iter()
        .map(|l| l["license_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{report}");
    assert!(ids.contains(&first.as_str()) && ids.contains(&second.as_str()));
    for license in licenses {
        assert_eq!(license["peak_users"], 33, "{license}");
        assert_eq!(license["p95_users"], 31, "{license}");
        let over = if license["license_id"] == first.as_str() {
            6
        } else {
            0
        };
        assert_eq!(license["days_over_limit"], over, "{license}");
    }
    let response = app
        .admin(Method::GET, &format!("/api/v1/accounts/{account}/usage"))
        .query(&[("from", "2026-01-01"), ("to", "2027-06-01")])
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "range_too_long").await;
}
