//! `GET /deployments` filters: `trial`, `account_id`, `stale` (not seen within a trial's
//! offline window, 72 hours by default), combined, and refused when malformed.

use crate::helpers::{
    checkin, create_account, deployments, expect_error, get, ids, issue_license, now,
    on_both_backends, spawn,
};
use crate::support::Kind;
use reqwest::{Method, StatusCode};
use serde_json::json;

on_both_backends!(
    the_trial_filter_lists_deployments_running_a_trial,
    the_account_filter_lists_one_accounts_deployments,
    the_stale_filter_lists_deployments_out_of_contact,
    malformed_filters_are_named,
);

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

async fn the_trial_filter_lists_deployments_running_a_trial(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let (trial, _) = issue_license(&app, &account, now(&clock), json!({ "trial": true })).await;
    let (paid, _) = issue_license(&app, &account, now(&clock), json!({})).await;

    checkin(&app, "dep-trial", &[&trial], 3).await;
    checkin(&app, "dep-paid", &[&paid], 3).await;
    checkin(&app, "dep-unknown", &[&uuid::Uuid::new_v4().to_string()], 3).await;

    assert_eq!(
        ids(&deployments(&app, &[("trial", "true")]).await),
        ["dep-trial"]
    );
    assert_eq!(
        sorted(ids(&deployments(&app, &[("trial", "false")]).await)),
        ["dep-paid", "dep-unknown"]
    );
    assert_eq!(deployments(&app, &[]).await.len(), 3);
    let shown = get(&app, "/api/v1/deployments/dep-trial").await;
    assert_eq!(shown["trial"], true, "{shown}");
    assert_eq!(shown["licenses"][0]["trial"], true, "{shown}");

    // A trial that is revoked no longer makes its deployment a trial deployment.
    crate::helpers::revoke(&app, &trial).await;
    clock.advance(60);
    checkin(&app, "dep-trial", &[&trial], 3).await;
    assert!(deployments(&app, &[("trial", "true")]).await.is_empty());
}

async fn the_account_filter_lists_one_accounts_deployments(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let acme = create_account(&app, "Acme").await;
    let globex = create_account(&app, "Globex").await;
    let (acme_license, _) = issue_license(&app, &acme, now(&clock), json!({})).await;
    let (globex_license, _) = issue_license(&app, &globex, now(&clock), json!({})).await;

    checkin(&app, "acme-1", &[&acme_license], 3).await;
    clock.advance(1);
    checkin(&app, "acme-2", &[&acme_license], 3).await;
    checkin(&app, "globex-1", &[&globex_license], 3).await;
    checkin(&app, "nobody", &[], 3).await;

    assert_eq!(
        ids(&deployments(&app, &[("account_id", &acme)]).await),
        ["acme-2", "acme-1"]
    );
    assert_eq!(
        ids(&deployments(&app, &[("account_id", &globex)]).await),
        ["globex-1"]
    );
    let stranger = uuid::Uuid::new_v4().to_string();
    assert!(
        deployments(&app, &[("account_id", &stranger)])
            .await
            .is_empty()
    );
    // The account is the licenses' account, whichever way the id is spelled.
    let upper = acme.to_uppercase();
    assert_eq!(
        ids(&deployments(&app, &[("account_id", &upper)]).await),
        ["acme-2", "acme-1"]
    );
    // With another filter.
    assert!(
        deployments(&app, &[("account_id", &acme), ("trial", "true")])
            .await
            .is_empty()
    );
}

async fn the_stale_filter_lists_deployments_out_of_contact(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let (trial, _) = issue_license(&app, &account, now(&clock), json!({ "trial": true })).await;

    checkin(&app, "dep-quiet", &[&trial], 3).await;
    checkin(&app, "dep-paid-quiet", &[], 3).await;
    // 72 hours is the trial's offline window: exactly that is not yet stale.
    clock.advance(72 * 3600);
    checkin(&app, "dep-busy", &[&trial], 3).await;
    assert!(deployments(&app, &[("stale", "true")]).await.is_empty());

    clock.advance(1);
    assert_eq!(
        sorted(ids(&deployments(&app, &[("stale", "true")]).await)),
        ["dep-paid-quiet", "dep-quiet"]
    );
    assert_eq!(
        ids(&deployments(&app, &[("stale", "true"), ("trial", "true")]).await),
        ["dep-quiet"]
    );
    // `stale=false` is no filter; the full list has all three.
    assert_eq!(deployments(&app, &[("stale", "false")]).await.len(), 3);
    assert_eq!(deployments(&app, &[]).await.len(), 3);

    // A stale deployment that checks in again is no longer stale.
    checkin(&app, "dep-quiet", &[&trial], 3).await;
    assert_eq!(
        ids(&deployments(&app, &[("stale", "true")]).await),
        ["dep-paid-quiet"]
    );
}

async fn malformed_filters_are_named(kind: Kind) {
    let (app, _clock) = spawn(kind).await;
    for (query, name) in [
        ("stale=maybe", "stale"),
        ("trial=yes-please", "trial"),
        ("over_seat_limit=2", "over_seat_limit"),
        ("account_id=acme", "account_id"),
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("after=garbage", "after"),
        ("colour=blue", "colour"),
    ] {
        let response = app
            .admin(Method::GET, &format!("/api/v1/deployments?{query}"))
            .send()
            .await
            .unwrap();
        let message =
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query").await;
        assert!(message.contains(name), "{query}: {message}");
    }
}
