//! A request proves nothing about its mailbox (issue 12, finding 6): unconfirmed trials take
//! no one's slot and count toward no domain limit; the first check-in of the emailed license
//! confirms a trial; trial mail is bounded per mailbox and per domain a day.

use crate::helpers::{
    confirm, expect_error, grant, grant_unconfirmed, on_both_backends, refuse, send_trial, spawn,
    spawn_default, trial_body, trials,
};
use crate::support::Kind;
use license_core::DAY;
use license_server::clock::Clock as _;
use license_server::service::trial_rules::TrialPolicy;
use reqwest::StatusCode;

on_both_backends!(
    requests_for_mailboxes_nobody_confirmed_use_up_no_quota,
    the_first_checkin_takes_the_email_slot,
    a_second_unconfirmed_trial_of_a_mailbox_is_revoked_at_its_checkin,
    trial_mail_is_bounded_per_mailbox_and_per_domain_a_day,
);

/// x1@, x2@, x3@victim.example once used up victim.example's trials for a year.
async fn requests_for_mailboxes_nobody_confirmed_use_up_no_quota(kind: Kind) {
    let (app, _clock) = spawn_default(kind).await;
    for i in 0..4 {
        grant_unconfirmed(&app, &format!("x{i}@victim.example"), &format!("dep-x{i}")).await;
    }
    // The real people of victim.example still get their trials, and the mailbox an attacker
    // named is not spent either.
    grant(&app, "alice@victim.example", "dep-alice").await;
    grant(&app, "x0@victim.example", "dep-x0-real").await;
}

async fn the_first_checkin_takes_the_email_slot(kind: Kind) {
    let (app, _clock) = spawn_default(kind).await;
    let first = grant_unconfirmed(&app, "ada@engines.example", "dep-1").await;
    let trial_id = first["trial_id"].as_str().unwrap();
    let shown = &trials(&app, &[("deployment_id", "dep-1")]).await[0];
    assert!(shown["confirmed_at"].is_null(), "{shown}");
    confirm(&app, trial_id).await;
    let shown = &trials(&app, &[("deployment_id", "dep-1")]).await[0];
    assert!(shown["confirmed_at"].is_string(), "{shown}");
    refuse(
        &app,
        "Ada+again@engines.example",
        "dep-2",
        StatusCode::CONFLICT,
        "trial_used_for_email",
    )
    .await;
}

async fn a_second_unconfirmed_trial_of_a_mailbox_is_revoked_at_its_checkin(kind: Kind) {
    let (app, _clock) = spawn_default(kind).await;
    let first = grant_unconfirmed(&app, "ada@engines.example", "dep-1").await;
    let second = grant_unconfirmed(&app, "ada@engines.example", "dep-2").await;
    confirm(&app, first["trial_id"].as_str().unwrap()).await;
    confirm(&app, second["trial_id"].as_str().unwrap()).await;
    let shown = &trials(&app, &[("deployment_id", "dep-2")]).await[0];
    assert_eq!(shown["outcome"], "refused", "{shown}");
    assert_eq!(shown["refusal_code"], "trial_used_for_email", "{shown}");
    // Its license is revoked: the next check-in says so.
    let answer = confirm(&app, second["trial_id"].as_str().unwrap()).await;
    assert_eq!(answer["licenses"][0]["status"], "revoked", "{answer}");
    let kept = &trials(&app, &[("deployment_id", "dep-1")]).await[0];
    assert_eq!(kept["outcome"], "granted", "{kept}");
}

async fn trial_mail_is_bounded_per_mailbox_and_per_domain_a_day(kind: Kind) {
    let policy = TrialPolicy {
        mail_per_address_per_day: 2,
        mail_per_domain_per_day: 3,
        ..TrialPolicy::default()
    };
    let (app, clock) = spawn(kind, policy).await;
    grant_unconfirmed(&app, "victim@relay.example", "dep-1").await;
    grant_unconfirmed(&app, "Victim+2@relay.example", "dep-2").await;
    let message = refuse(
        &app,
        "victim+3@relay.example",
        "dep-3",
        StatusCode::CONFLICT,
        "trial_mail_limit",
    )
    .await;
    assert!(message.contains("address"), "{message}");
    grant_unconfirmed(&app, "other@relay.example", "dep-4").await;
    let response = send_trial(&app, &trial_body("third@relay.example", "dep-5")).await;
    let message = expect_error(response, StatusCode::CONFLICT, "trial_mail_limit").await;
    assert!(message.contains("domain"), "{message}");
    // A day later the bounds start over.
    clock.advance(DAY + 1);
    let _ = clock.now();
    grant_unconfirmed(&app, "third@relay.example", "dep-5").await;
}
