//! `POST /checkins` records the deployment (summary row) and the history; the desk reads both
//! through `GET /deployments`, `GET /deployments/{id}` and `GET /deployments/{id}/checkins`.

use crate::helpers::{
    checkin, checkin_body, create_account, deployments, expect_error, expect_json, get, ids,
    issue_license, now, on_both_backends, send_checkin, spawn, time, walk_pages, with,
};
use crate::support::Kind;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::collections::BTreeSet;

on_both_backends!(
    a_checkin_records_the_deployment,
    the_checkin_history_pages_through_every_checkin_once,
    deployments_page_newest_first,
    the_answer_names_the_deployment_and_time,
);

async fn a_checkin_records_the_deployment(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let (license, _) = issue_license(&app, &account, now(&clock), json!({})).await;

    let first = now(&clock);
    checkin(&app, "dep-a", &[&license], 5).await;
    clock.advance(3600);
    let second = now(&clock);
    let body = with(
        &checkin_body("dep-a", &[&license], 7),
        "product_version",
        Some(json!("2.17.1")),
    );
    expect_json(send_checkin(&app, &body).await, StatusCode::OK).await;

    let shown = get(&app, "/api/v1/deployments/dep-a").await;
    assert_eq!(shown["id"], "dep-a", "{shown}");
    assert_eq!(time(&shown["first_seen_at"]), first, "{shown}");
    assert_eq!(time(&shown["last_seen_at"]), second, "{shown}");
    assert_eq!(shown["product_version"], "2.17.1", "the latest: {shown}");
    assert_eq!(shown["active_users"], 7, "the latest: {shown}");
    assert_eq!(shown["checkins"], 2, "{shown}");
    assert_eq!(shown["license_ids"], json!([license]), "{shown}");
    assert_eq!(shown["user_limit"], 25, "{shown}");
    assert_eq!(shown["over_seat_limit"], false, "{shown}");
    assert_eq!(shown["trial"], false, "{shown}");
    assert_eq!(shown["account_id"], account.as_str(), "{shown}");
    assert_eq!(shown["overused_licenses"], false, "{shown}");

    // The license as the deployment reported it, with what the desk knows of it.
    let licenses = shown["licenses"].as_array().unwrap();
    assert_eq!(licenses.len(), 1, "{shown}");
    assert_eq!(licenses[0]["id"], license.as_str());
    assert_eq!(licenses[0]["known"], true);
    assert_eq!(licenses[0]["status"], "active");
    assert_eq!(licenses[0]["user_limit"], 25);
    assert_eq!(licenses[0]["deployments_seen"], 1);
    assert_eq!(licenses[0]["overused"], false);

    // The latest check-ins, newest first.
    let recent = shown["recent_checkins"]["items"].as_array().unwrap();
    assert_eq!(recent.len(), 2, "{shown}");
    assert!(shown["recent_checkins"]["next_cursor"].is_null());
    assert_eq!(time(&recent[0]["at"]), second);
    assert_eq!(recent[0]["active_users"], 7);
    assert_eq!(recent[0]["product_version"], "2.17.1");
    assert_eq!(recent[0]["license_ids"], json!([license]));
    assert_eq!(
        recent[0]["client_address"], "127.0.0.1",
        "the client's address is kept: {shown}"
    );
    assert_eq!(time(&recent[1]["at"]), first);
    assert_eq!(recent[1]["active_users"], 5);
    assert_eq!(recent[1]["product_version"], "2.16.0");

    // The list shows the same summary as the detail view.
    let listed = deployments(&app, &[]).await;
    assert_eq!(ids(&listed), ["dep-a"]);
    for field in [
        "first_seen_at",
        "last_seen_at",
        "product_version",
        "active_users",
        "checkins",
        "license_ids",
        "user_limit",
        "over_seat_limit",
        "trial",
        "account_id",
    ] {
        assert_eq!(listed[0][field], shown[field], "{field}");
    }

    // A check-in that reports no license at all is still recorded.
    checkin(&app, "dep-bare", &[], 0).await;
    let bare = get(&app, "/api/v1/deployments/dep-bare").await;
    assert_eq!(bare["license_ids"], json!([]), "{bare}");
    assert!(bare["user_limit"].is_null(), "{bare}");
    assert!(bare["account_id"].is_null(), "{bare}");
    assert_eq!(bare["licenses"], json!([]), "{bare}");
}

async fn the_checkin_history_pages_through_every_checkin_once(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let account = create_account(&app, "Acme").await;
    let (license, _) = issue_license(&app, &account, now(&clock), json!({})).await;
    // Another deployment's check-ins interleave with this one's and must not show up in it.
    for users in 0..7 {
        checkin(&app, "dep-h", &[&license], users).await;
        checkin(&app, "dep-other", &[&license], 100 + users).await;
        clock.advance(60);
    }

    let items = walk_pages(&app, "/api/v1/deployments/dep-h/checkins", 3).await;
    assert_eq!(items.len(), 7, "{items:?}");
    let positions: BTreeSet<String> = ids(&items).into_iter().collect();
    assert_eq!(positions.len(), 7, "each check-in once: {items:?}");
    let users: Vec<u64> = items
        .iter()
        .map(|c| c["active_users"].as_u64().unwrap())
        .collect();
    assert_eq!(users, [6, 5, 4, 3, 2, 1, 0], "newest first");
    let times: Vec<_> = items.iter().map(|c| time(&c["at"])).collect();
    assert!(times.windows(2).all(|w| w[0] > w[1]), "{times:?}");
    let shown = get(&app, "/api/v1/deployments/dep-h").await;
    assert_eq!(shown["checkins"], 7);

    // Other page sizes walk the same history.
    for limit in [1, 7, 500] {
        let again = walk_pages(&app, "/api/v1/deployments/dep-h/checkins", limit).await;
        assert_eq!(ids(&again), ids(&items), "limit {limit}");
    }

    // Paging mistakes are named; an unknown deployment has no history.
    for (query, name) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("after=not-a-cursor", "after"),
        ("sort=at", "sort"),
    ] {
        let response = app
            .admin(
                Method::GET,
                &format!("/api/v1/deployments/dep-h/checkins?{query}"),
            )
            .send()
            .await
            .unwrap();
        let message =
            expect_error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_query").await;
        assert!(message.contains(name), "{query}: {message}");
    }
    let response = app
        .admin(Method::GET, "/api/v1/deployments/dep-nowhere/checkins")
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
}

async fn deployments_page_newest_first(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    // Five deployments seen at distinct times, two at the same second (the id breaks the tie).
    for name in ["dep-1", "dep-2", "dep-3"] {
        checkin(&app, name, &[], 1).await;
        clock.advance(10);
    }
    checkin(&app, "dep-4a", &[], 1).await;
    checkin(&app, "dep-4b", &[], 1).await;
    clock.advance(10);
    // dep-1 checks in again: it moves to the front.
    checkin(&app, "dep-1", &[], 2).await;

    let items = walk_pages(&app, "/api/v1/deployments", 2).await;
    assert_eq!(
        ids(&items),
        ["dep-1", "dep-4b", "dep-4a", "dep-3", "dep-2"],
        "latest seen first, each once"
    );
    assert_eq!(items[0]["checkins"], 2);
}

async fn the_answer_names_the_deployment_and_time(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let at = now(&clock);
    let body = checkin_body("dep-named", &[], 3);
    let answer = expect_json(send_checkin(&app, &body).await, StatusCode::OK).await;
    assert_eq!(answer["deployment_id"], "dep-named", "{answer}");
    assert_eq!(time(&answer["server_time"]), at, "{answer}");
    assert_eq!(answer["licenses"], json!([]), "{answer}");
    assert!(answer["nonce"].is_null(), "{answer}");
    assert!(answer["receipt"].as_str().unwrap().split('.').count() == 3);
    let fields: BTreeSet<&str> = answer
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        BTreeSet::from([
            "receipt",
            "server_time",
            "deployment_id",
            "licenses",
            "nonce",
            "renewals"
        ])
    );
    assert_eq!(answer["renewals"], json!([]), "{answer}");
    get(&app, "/api/v1/deployments/dep-named").await;
}
