//! License sync, the licensor's side: a check-in answer carries the newest license of each
//! reported license's reissue chain, as its signed token, when it may run on the deployment.

use crate::helpers::{
    checkin, create_account, expect_json, get, issue_license, now, on_both_backends, post, revoke,
    spawn,
};
use crate::support::{Kind, TestApp};
use license_core::DAY;
use reqwest::StatusCode;
use serde_json::{Value, json};

on_both_backends!(
    a_checkin_carries_the_newest_reissue,
    nothing_is_pushed_that_may_not_run_on_the_deployment,
);

async fn reissue(app: &TestApp, id: &str, body: Value) -> Value {
    let response = post(app, &format!("/api/v1/licenses/{id}/reissue"), &body).await;
    expect_json(response, StatusCode::CREATED).await
}

async fn a_checkin_carries_the_newest_reissue(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let at = now(&clock);
    let (old, _) = issue_license(&app, &account, at, json!({})).await;

    // Nothing supersedes it yet.
    let answer = checkin(&app, "dep-a", &[&old], 3).await;
    assert_eq!(answer["renewals"], json!([]), "{answer}");

    // Extended twice: the deployment gets the newest, once.
    let later = at.add_seconds(500 * DAY).rfc3339();
    let middle = reissue(&app, &old, json!({ "expires_at": later })).await;
    let latest = at.add_seconds(700 * DAY).rfc3339();
    let newest = reissue(
        &app,
        middle["id"].as_str().unwrap(),
        json!({ "expires_at": latest }),
    )
    .await;
    let answer = checkin(&app, "dep-a", &[&old], 3).await;
    let renewals = answer["renewals"].as_array().unwrap();
    assert_eq!(renewals.len(), 1, "{answer}");
    assert_eq!(renewals[0]["license_id"], newest["id"]);
    assert_eq!(renewals[0]["supersedes"], old.as_str());
    assert_eq!(renewals[0]["expires_at"], newest["expires_at"]);
    let shown = get(
        &app,
        &format!("/api/v1/licenses/{}", newest["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(
        renewals[0]["token"], shown["token"],
        "the signed token itself"
    );

    // Once the deployment reports the newest, nothing more travels.
    let answer = checkin(&app, "dep-a", &[&old, newest["id"].as_str().unwrap()], 3).await;
    assert_eq!(answer["renewals"], json!([]), "{answer}");
}

async fn nothing_is_pushed_that_may_not_run_on_the_deployment(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let at = now(&clock);
    let later = at.add_seconds(500 * DAY).rfc3339();

    // Reissued for another deployment: not pushed to this one.
    let (old, _) = issue_license(&app, &account, at, json!({})).await;
    reissue(
        &app,
        &old,
        json!({ "expires_at": later, "deployment_ids": ["dep-b"] }),
    )
    .await;
    let answer = checkin(&app, "dep-a", &[&old], 1).await;
    assert_eq!(answer["renewals"], json!([]), "{answer}");
    let answer = checkin(&app, "dep-b", &[&old], 1).await;
    assert_eq!(answer["renewals"].as_array().unwrap().len(), 1, "{answer}");

    // The reissue was revoked: nothing travels.
    let (other, _) = issue_license(&app, &account, at, json!({})).await;
    let renewal = reissue(&app, &other, json!({ "expires_at": later })).await;
    revoke(&app, renewal["id"].as_str().unwrap()).await;
    let answer = checkin(&app, "dep-a", &[&other], 1).await;
    assert_eq!(answer["renewals"], json!([]), "{answer}");
}
