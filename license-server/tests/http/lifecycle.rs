//! A license's life after issue: revoke, reissue (superseding), racing requests for either,
//! and the audit log the admin actions leave.

use crate::helpers::{
    account_id, days_from_now, expect_error, expect_json, get, issue, license_request, now,
    on_both_backends, post, stored_licenses, time, walk_pages,
};
use crate::licenses::{ids, list};
use crate::support::{Kind, TestApp};
use license_core::{DAY, Keyring, Timestamp, Verifier};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;

on_both_backends!(
    revoke_once,
    reissue_supersedes,
    audit_records_every_admin_action,
    racing_revokes_revoke_once,
    racing_reissues_supersede_once,
);

async fn revoke_once(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let account = account_id(&app).await;
    let license = issue(&app, &license_request(&account)).await;
    let id = license["id"].as_str().unwrap();
    let before = now();

    let response = post(
        &app,
        &format!("/api/v1/licenses/{id}/revoke"),
        &json!({ "reason": "  chargeback  " }),
    )
    .await;
    let revoked = expect_json(response, StatusCode::OK).await;
    assert_eq!(revoked["id"], id);
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(
        revoked["revoke_reason"], "chargeback",
        "the reason is trimmed"
    );
    let revoked_at = time(&revoked["revoked_at"]);
    assert!(revoked_at >= before && revoked_at <= now());
    assert!(revoked.get("token").is_none(), "{revoked}");

    let shown = get(&app, &format!("/api/v1/licenses/{id}")).await;
    assert_eq!(shown["status"], "revoked");
    assert_eq!(shown["token"], license["token"]);

    let response = post(
        &app,
        &format!("/api/v1/licenses/{id}/revoke"),
        &json!({ "reason": "again" }),
    )
    .await;
    let message = expect_error(response, StatusCode::CONFLICT, "already_revoked").await;
    assert!(message.contains(id), "{message}");
    let shown = get(&app, &format!("/api/v1/licenses/{id}")).await;
    assert_eq!(
        shown["revoke_reason"], "chargeback",
        "the second revoke changed nothing"
    );

    // A revoked license cannot be reissued.
    let response = post(&app, &format!("/api/v1/licenses/{id}/reissue"), &json!({})).await;
    expect_error(response, StatusCode::CONFLICT, "license_not_active").await;

    // Unknown licenses are 404 for every action.
    let missing = uuid::Uuid::new_v4();
    for (method, path, body) in [
        (Method::GET, format!("/api/v1/licenses/{missing}"), None),
        (
            Method::POST,
            format!("/api/v1/licenses/{missing}/revoke"),
            Some(json!({ "reason": "x" })),
        ),
        (
            Method::POST,
            format!("/api/v1/licenses/{missing}/reissue"),
            Some(json!({})),
        ),
    ] {
        let mut request = app.admin(method, &path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let message = expect_error(
            request.send().await.unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert!(message.contains(&missing.to_string()), "{path}: {message}");
    }
    assert_eq!(stored_licenses(&app).await.len(), 1);
}

async fn reissue_supersedes(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let account = account_id(&app).await;
    let old = issue(&app, &license_request(&account)).await;
    let old_id = old["id"].as_str().unwrap();
    let new_expiry = days_from_now(730);

    let response = post(
        &app,
        &format!("/api/v1/licenses/{old_id}/reissue"),
        &json!({ "user_limit": 50, "expires_at": new_expiry }),
    )
    .await;
    let new = expect_json(response, StatusCode::CREATED).await;
    let new_id = new["id"].as_str().unwrap();
    assert_ne!(new_id, old_id);
    assert_eq!(new["supersedes"], old_id);
    assert_eq!(new["sequence"], 2);
    assert_eq!(new["status"], "active");
    assert_eq!(new["user_limit"], 50);
    assert_eq!(new["features"], json!({ "audit_log": 1, "user_limit": 50 }));
    assert_eq!(
        time(&new["expires_at"]),
        Timestamp::parse_rfc3339(&new_expiry).unwrap()
    );
    assert_eq!(
        time(&new["grace_ends_at"]),
        time(&new["expires_at"]).add_seconds(7 * DAY),
        "grace copied"
    );
    for copied in [
        "account_id",
        "email",
        "feature_set",
        "deployment_ids",
        "trial",
        "starts_at",
    ] {
        assert_eq!(new[copied], old[copied], "{copied} is copied");
    }
    assert_ne!(new["token"], old["token"]);

    let old_now = get(&app, &format!("/api/v1/licenses/{old_id}")).await;
    assert_eq!(old_now["status"], "superseded");
    assert_eq!(old_now["token"], old["token"]);

    // The new token carries the new terms and the next sequence number.
    let jwks: license_core::JwkSet = serde_json::from_value(
        expect_json(
            app.client
                .get(app.url("/api/v1/keys"))
                .send()
                .await
                .unwrap(),
            StatusCode::OK,
        )
        .await,
    )
    .unwrap();
    let mut keyring = Keyring::empty();
    keyring
        .add(jwks.keys[0].kid.clone(), jwks.keys[0].public_key().unwrap())
        .unwrap();
    let verified = Verifier::new(keyring)
        .verify(new["token"].as_str().unwrap(), now())
        .unwrap();
    assert_eq!(verified.claims().sequence, 2);
    assert_eq!(verified.claims().user_limit(), Some(50));
    assert_eq!(verified.claims().jti.to_string(), new_id);

    // A superseded license cannot be reissued again.
    let response = post(
        &app,
        &format!("/api/v1/licenses/{old_id}/reissue"),
        &json!({}),
    )
    .await;
    expect_error(response, StatusCode::CONFLICT, "license_not_active").await;

    // An empty reissue copies everything and takes the next sequence number.
    let response = post(
        &app,
        &format!("/api/v1/licenses/{new_id}/reissue"),
        &json!({}),
    )
    .await;
    let third = expect_json(response, StatusCode::CREATED).await;
    assert_eq!(third["sequence"], 3);
    assert_eq!(third["supersedes"], new_id);
    assert_eq!(third["user_limit"], 50);

    assert_eq!(list(&app, &[("status", "superseded")]).await.len(), 2);
    assert_eq!(list(&app, &[("status", "active")]).await, ids(&[&third]));
    assert_eq!(
        get(&app, &format!("/api/v1/accounts/{account}")).await["license_sequence"],
        3
    );
    assert_eq!(stored_licenses(&app).await.len(), 3);
}

async fn audit_records_every_admin_action(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let account = account_id(&app).await;
    let license = issue(&app, &license_request(&account)).await;
    let first = license["id"].as_str().unwrap();
    let response = post(
        &app,
        &format!("/api/v1/licenses/{first}/reissue"),
        &json!({ "user_limit": 30 }),
    )
    .await;
    let second = expect_json(response, StatusCode::CREATED).await;
    let second = second["id"].as_str().unwrap();
    let response = post(
        &app,
        &format!("/api/v1/licenses/{second}/revoke"),
        &json!({ "reason": "contract ended" }),
    )
    .await;
    let revoked = expect_json(response, StatusCode::OK).await;

    let page = get(&app, "/api/v1/audit").await;
    assert!(page["next_cursor"].is_null());
    let entries = page["items"].as_array().unwrap();
    let text = page.to_string();
    assert!(
        !text.contains(license["token"].as_str().unwrap()),
        "the audit log never holds a token"
    );
    let actions: Vec<(&str, &str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["target"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("license.revoke", "desk", second),
            ("license.reissue", "desk", second),
            ("license.issue", "desk", first),
            ("account.create", "desk", account.as_str()),
            ("token.create", "test", "desk"),
        ],
        "newest first: {page}"
    );
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    for entry in entries {
        time(&entry["at"]);
    }
    assert_eq!(entries[0]["details"]["reason"], "contract ended");
    assert_eq!(entries[1]["details"]["supersedes"], first);
    assert_eq!(
        entries[2]["details"]["request"]["account_id"],
        account.as_str()
    );
    assert_eq!(entries[3]["details"]["name"], "Acme Corp");
    assert_eq!(time(&entries[0]["at"]), time(&revoked["revoked_at"]));

    let walked = walk_pages(&app, "/api/v1/audit", &[], 2).await;
    let expected: Vec<String> = ids.iter().map(i64::to_string).collect();
    assert_eq!(walked, expected);
}

async fn racing_revokes_revoke_once(kind: Kind) {
    let app = Arc::new(TestApp::spawn(kind).await);
    let license = issue(&app, &license_request(&account_id(&app).await)).await;
    let path = Arc::new(format!(
        "/api/v1/licenses/{}/revoke",
        license["id"].as_str().unwrap()
    ));
    let tasks: Vec<_> = (0..10)
        .map(|n| {
            let (app, path) = (app.clone(), path.clone());
            tokio::spawn(async move {
                post(&app, &path, &json!({ "reason": format!("reason {n}") })).await
            })
        })
        .collect();
    let mut revoked = 0;
    for task in tasks {
        let response = task.await.unwrap();
        if response.status() == StatusCode::OK {
            revoked += 1;
            expect_json(response, StatusCode::OK).await;
        } else {
            expect_error(response, StatusCode::CONFLICT, "already_revoked").await;
        }
    }
    assert_eq!(revoked, 1);
    let audit = get(&app, "/api/v1/audit").await;
    let revokes = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "license.revoke")
        .count();
    assert_eq!(revokes, 1);
}

async fn racing_reissues_supersede_once(kind: Kind) {
    let app = Arc::new(TestApp::spawn(kind).await);
    let account = account_id(&app).await;
    let license = issue(&app, &license_request(&account)).await;
    let path = Arc::new(format!(
        "/api/v1/licenses/{}/reissue",
        license["id"].as_str().unwrap()
    ));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (app, path) = (app.clone(), path.clone());
            tokio::spawn(async move { post(&app, &path, &json!({ "user_limit": 30 })).await })
        })
        .collect();
    let mut reissued = Vec::new();
    for task in tasks {
        let response = task.await.unwrap();
        if response.status() == StatusCode::CREATED {
            reissued.push(expect_json(response, StatusCode::CREATED).await);
        } else {
            expect_error(response, StatusCode::CONFLICT, "license_not_active").await;
        }
    }
    assert_eq!(reissued.len(), 1, "one reissue wins: {reissued:?}");
    assert_eq!(reissued[0]["sequence"], 2);
    let stored = stored_licenses(&app).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(
        get(&app, &format!("/api/v1/accounts/{account}")).await["license_sequence"],
        2
    );
}
