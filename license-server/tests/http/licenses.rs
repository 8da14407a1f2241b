//! `/api/v1/licenses`: issue (and verify what was signed with the published keys), show, list
//! with filters, and page.

use crate::helpers::{
    account_id, create_account, expect_error, expect_json, get, issue, license_request, now,
    on_both_backends, post, stored_licenses, time, walk_pages,
};
use crate::support::{Kind, TestApp};
use license_core::{DAY, FeatureSet, JwkSet, KeyId, Keyring, Verifier};
use license_server::clock::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

on_both_backends!(
    issued_license_verifies_against_the_published_keys,
    list_filters,
    licenses_page_through_every_item_once,
    ids_are_read_in_any_uuid_form,
    reading_a_token_is_audited_and_listing_is_not,
    reissuing_a_license_whose_term_is_over_needs_a_new_term,
);

/// Whoever holds a token can install the license: `GET /licenses/{id}`, which returns it, is
/// in the audit log as `license.read_token`, by the admin who read it; the list, without
/// tokens, is not.
async fn reading_a_token_is_audited_and_listing_is_not(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let account = account_id(&app).await;
    let license = issue(&app, &license_request(&account)).await;
    let id = license["id"].as_str().unwrap();
    let reads = |page: &Value| -> Vec<(String, String)> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "license.read_token")
            .map(|e| {
                (
                    e["actor"].as_str().unwrap().to_owned(),
                    e["target"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    get(&app, "/api/v1/licenses").await;
    get(&app, &format!("/api/v1/licenses?account_id={account}")).await;
    assert!(reads(&get(&app, "/api/v1/audit").await).is_empty());
    let shown = get(&app, &format!("/api/v1/licenses/{id}")).await;
    assert_eq!(shown["token"], license["token"]);
    let audit = get(&app, "/api/v1/audit").await;
    assert_eq!(
        reads(&audit),
        [("desk".to_owned(), id.to_owned())],
        "{audit}"
    );
    assert!(
        !audit
            .to_string()
            .contains(license["token"].as_str().unwrap()),
        "the audit log never holds a token"
    );
}

async fn issued_license_verifies_against_the_published_keys(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let account = account_id(&app).await;
    let request = license_request(&account);
    let before = now();
    let license = issue(&app, &request).await;
    let after = now();

    let id = license["id"].as_str().unwrap();
    let id = uuid::Uuid::parse_str(id).unwrap();
    let token = license["token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3, "a compact JWS");
    assert_eq!(license["account_id"], account.as_str());
    assert_eq!(license["email"], "Ops+Lic@Example.com");
    assert_eq!(license["feature_set"], "enterprise");
    assert_eq!(
        license["features"],
        json!({ "audit_log": 1, "user_limit": 25 })
    );
    assert_eq!(license["user_limit"], 25);
    assert_eq!(license["deployment_ids"], json!(["dep-1"]));
    assert_eq!(license["trial"], false);
    assert_eq!(license["evaluation"], false);
    assert_eq!(license["sequence"], 1);
    assert_eq!(license["status"], "active");
    assert_eq!(license["issued_by"], "desk");
    assert!(license["revoked_at"].is_null() && license["revoke_reason"].is_null());
    assert!(license["supersedes"].is_null());
    let starts_at = time(&license["starts_at"]);
    let expires_at = time(&license["expires_at"]);
    let grace_ends_at = time(&license["grace_ends_at"]);
    let issued_at = time(&license["issued_at"]);
    assert_eq!(starts_at, time(&request["starts_at"]));
    assert_eq!(expires_at, time(&request["expires_at"]));
    assert_eq!(grace_ends_at, expires_at.add_seconds(7 * DAY));
    assert!(issued_at >= before && issued_at <= after, "{license}");
    assert_eq!(license["key_id"], app.signing_key.key_id().as_str());

    // Showing one license includes its token; the whole view matches what issuing returned.
    let shown = get(&app, &format!("/api/v1/licenses/{id}")).await;
    assert_eq!(shown, license);

    // The JWKS is public and the token verifies with it alone.
    let response = app
        .client
        .get(app.url("/api/v1/keys"))
        .send()
        .await
        .unwrap();
    let jwks: JwkSet = serde_json::from_value(expect_json(response, StatusCode::OK).await).unwrap();
    assert_eq!(jwks.keys.len(), 1);
    let jwk = &jwks.keys[0];
    assert_eq!(
        (jwk.kty.as_str(), jwk.crv.as_str(), jwk.alg.as_str()),
        ("OKP", "Ed25519", "EdDSA")
    );
    assert_eq!(jwk.key_use, "sig");
    assert_eq!(jwk.kid.as_str(), license["key_id"].as_str().unwrap());
    let mut keyring = Keyring::empty();
    keyring
        .add(jwk.kid.clone(), jwk.public_key().unwrap())
        .unwrap();
    let verified = Verifier::new(keyring).verify(token, now()).unwrap();
    assert_eq!(
        verified.key_id(),
        &KeyId::new(license["key_id"].as_str().unwrap()).unwrap()
    );
    let claims = verified.claims();
    assert_eq!(claims.jti, id);
    assert_eq!(claims.iss, "licensor-test");
    assert_eq!(claims.sub.as_str(), "Ops+Lic@Example.com");
    assert_eq!(claims.account_id, account);
    assert_eq!(claims.account_type, "licensor");
    assert_eq!(claims.feature_set, FeatureSet::Enterprise);
    assert_eq!(claims.features.get("user_limit"), Some(&25));
    assert_eq!(claims.features.get("audit_log"), Some(&1));
    assert_eq!(claims.features.len(), 2);
    let deployments: Vec<&str> = claims.deployment_ids.iter().map(|d| d.as_str()).collect();
    assert_eq!(deployments, ["dep-1"]);
    assert!(!claims.trial && !claims.evaluation);
    assert_eq!(claims.nbf, starts_at);
    assert_eq!(claims.license_expires, expires_at);
    assert_eq!(claims.exp, grace_ends_at);
    assert_eq!(claims.iat, issued_at);
    assert_eq!(claims.sequence, 1);
    assert_eq!(claims.version, 3);

    // A keyring without the licensor's key refuses the token.
    let mut stranger = Keyring::empty();
    let other = license_core::SigningKey::from_seed(&[7; 32]);
    stranger.add(jwk.kid.clone(), other.public_key()).unwrap();
    assert!(Verifier::new(stranger).verify(token, now()).is_err());

    // The account counts the license.
    let account_view = get(&app, &format!("/api/v1/accounts/{account}")).await;
    assert_eq!(account_view["license_sequence"], 1);
}

/// Issues a license with some fields changed from the typical request.
pub async fn issue_with(app: &TestApp, account: &str, changes: Value) -> Value {
    let mut body = license_request(account);
    for (key, value) in changes.as_object().unwrap() {
        body[key] = value.clone();
    }
    issue(app, &body).await
}

/// The ids `GET /api/v1/licenses?QUERY` lists on one page; checks that items carry no token.
pub async fn list(app: &TestApp, query: &[(&str, &str)]) -> BTreeSet<String> {
    let response = app
        .admin(Method::GET, "/api/v1/licenses")
        .query(query)
        .send()
        .await
        .unwrap();
    let page = expect_json(response, StatusCode::OK).await;
    assert!(page["next_cursor"].is_null(), "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            assert!(
                item.get("token").is_none(),
                "list items carry no token: {item}"
            );
            assert!(
                item["id"].is_string() && item["status"].is_string(),
                "{item}"
            );
            item["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// The ids of `licenses`, as `list` returns them.
pub fn ids(licenses: &[&Value]) -> BTreeSet<String> {
    licenses
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn list_filters(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let a = account_id(&app).await;
    let b = create_account(&app, "Globex", "it@globex.example").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a1 = issue_with(&app, &a, json!({ "email": "Ops@Example.com" })).await;
    let a2 = issue_with(&app, &a, json!({ "email": "dev@example.com" })).await;
    let a_trial = issue_with(
        &app,
        &a,
        json!({ "email": "OPS@example.COM", "trial": true }),
    )
    .await;
    let b1 = issue_with(&app, &b, json!({ "email": "ops@example.com" })).await;
    let b2 = issue_with(&app, &b, json!({ "email": "x+y@globex.example" })).await;
    let response = post(
        &app,
        &format!("/api/v1/licenses/{}/revoke", a2["id"].as_str().unwrap()),
        &json!({ "reason": "refund" }),
    )
    .await;
    expect_json(response, StatusCode::OK).await;

    assert_eq!(list(&app, &[]).await, ids(&[&a1, &a2, &a_trial, &b1, &b2]));
    assert_eq!(
        list(&app, &[("account_id", &a)]).await,
        ids(&[&a1, &a2, &a_trial])
    );
    assert_eq!(list(&app, &[("account_id", &b)]).await, ids(&[&b1, &b2]));
    let nobody = uuid::Uuid::new_v4().to_string();
    assert_eq!(list(&app, &[("account_id", &nobody)]).await, ids(&[]));
    assert_eq!(
        list(&app, &[("email", "ops@EXAMPLE.com")]).await,
        ids(&[&a1, &a_trial, &b1]),
        "email matches case-insensitively"
    );
    assert_eq!(
        list(&app, &[("email", "X+Y@globex.example")]).await,
        ids(&[&b2])
    );
    assert_eq!(
        list(&app, &[("email", "nobody@example.com")]).await,
        ids(&[])
    );
    assert_eq!(list(&app, &[("status", "revoked")]).await, ids(&[&a2]));
    assert_eq!(
        list(&app, &[("status", "active")]).await,
        ids(&[&a1, &a_trial, &b1, &b2])
    );
    assert_eq!(list(&app, &[("status", "superseded")]).await, ids(&[]));
    assert_eq!(list(&app, &[("trial", "true")]).await, ids(&[&a_trial]));
    assert_eq!(
        list(&app, &[("trial", "false")]).await,
        ids(&[&a1, &a2, &b1, &b2])
    );
    assert_eq!(
        list(
            &app,
            &[("account_id", &a), ("status", "active"), ("trial", "false")]
        )
        .await,
        ids(&[&a1])
    );
    assert_eq!(
        list(&app, &[("account_id", &b), ("email", "OPS@example.com")]).await,
        ids(&[&b1])
    );
}

async fn licenses_page_through_every_item_once(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let a = account_id(&app).await;
    let b = create_account(&app, "Globex", "it@globex.example").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Issued within the same second or two: the pages must break ties by id.
    let mut all = BTreeSet::new();
    let mut of_a = BTreeSet::new();
    for n in 0..9 {
        let account = if n % 3 == 0 { &b } else { &a };
        let license = issue_with(&app, account, json!({ "trial": n % 2 == 0 })).await;
        let id = license["id"].as_str().unwrap().to_owned();
        if account == &a {
            of_a.insert(id.clone());
        }
        all.insert(id);
    }
    for limit in [1, 2, 4, 9, 10] {
        let walked = walk_pages(&app, "/api/v1/licenses", &[], limit).await;
        assert_eq!(walked.len(), 9, "limit {limit}: {walked:?}");
        assert_eq!(
            walked.iter().cloned().collect::<BTreeSet<_>>(),
            all,
            "limit {limit}"
        );
    }
    let walked = walk_pages(&app, "/api/v1/licenses", &[("account_id", &a)], 2).await;
    assert_eq!(walked.len(), 6, "{walked:?}");
    assert_eq!(walked.into_iter().collect::<BTreeSet<_>>(), of_a);
    let trials = walk_pages(&app, "/api/v1/licenses", &[("trial", "true")], 1).await;
    assert_eq!(trials.len(), 5, "{trials:?}");
    // Newest first: the order of the full walk is by issue time, descending.
    let walked = walk_pages(&app, "/api/v1/licenses", &[], 3).await;
    let stored = stored_licenses(&app).await;
    let issued_at = |id: &String| {
        stored
            .iter()
            .find(|l| &l.id.to_string() == id)
            .unwrap()
            .issued_at
    };
    assert!(
        walked
            .windows(2)
            .all(|w| issued_at(&w[0]) >= issued_at(&w[1])),
        "{walked:?}"
    );
}

async fn ids_are_read_in_any_uuid_form(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let account = account_id(&app).await;
    let mut body = license_request(&account.to_uppercase());
    let license = issue(&app, &body).await;
    assert_eq!(
        license["account_id"],
        account.as_str(),
        "ids are answered in one form"
    );
    let id = uuid::Uuid::parse_str(license["id"].as_str().unwrap()).unwrap();
    for form in [
        id.hyphenated().to_string().to_uppercase(),
        id.simple().to_string(),
        id.braced().to_string(),
    ] {
        let shown = get(&app, &format!("/api/v1/licenses/{form}")).await;
        assert_eq!(shown["id"], license["id"], "{form}");
    }
    let upper = account.to_uppercase();
    assert_eq!(
        list(&app, &[("account_id", &upper)]).await,
        ids(&[&license])
    );
    assert_eq!(
        get(&app, &format!("/api/v1/accounts/{upper}")).await["id"],
        account.as_str()
    );
    let response = post(
        &app,
        &format!("/api/v1/licenses/{}/revoke", id.simple()),
        &json!({ "reason": "typo" }),
    )
    .await;
    assert_eq!(
        expect_json(response, StatusCode::OK).await["id"],
        license["id"]
    );
    body["account_id"] = json!(account);
    issue(&app, &body).await;
    assert_eq!(stored_licenses(&app).await.len(), 2);
}

async fn email_filter_folds_non_ascii_case(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let mut body = license_request(&account_id(&app).await);
    body["email"] = json!("JÖRG@Example.com");
    let license = issue(&app, &body).await;
    assert_eq!(
        list(&app, &[("email", "JÖRG@example.com")]).await,
        ids(&[&license])
    );
    assert_eq!(
        list(&app, &[("email", "jörg@example.com")]).await,
        ids(&[&license])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_email_filter_folds_non_ascii_case() {
    email_filter_folds_non_ascii_case(Kind::Postgres).await;
}

// FAILS until: the email filter of `list_licenses` (src/store/sql.rs, `lower(email) =
// lower($2)`) folds case the same on both backends: SQLite's `lower()` folds ASCII only, so
// `?email=jörg@example.com` misses `JÖRG@Example.com` on SQLite and finds it on Postgres.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_email_filter_folds_non_ascii_case() {
    email_filter_folds_non_ascii_case(Kind::Sqlite).await;
}

/// A reissue keeps the old term unless it gives a new one. Once the old term and its grace
/// period are over, keeping it would make a license born expired: the request is fine, the
/// license's state is not, so 409 `license_ended` (it was 422 `invalid_license`, which told
/// the fuzzer a valid body was wrong: schemathesis, ST202).
async fn reissuing_a_license_whose_term_is_over_needs_a_new_term(kind: Kind) {
    let clock = license_server::clock::ManualClock::new(now());
    let app_clock = clock.clone();
    let app = TestApp::spawn_with(kind, move |config| {
        config.clock = std::sync::Arc::new(app_clock);
    })
    .await;
    let license = issue(&app, &license_request(&account_id(&app).await)).await;
    let id = license["id"].as_str().unwrap();
    // 365 days of term and 7 of grace, from the request.
    clock.advance(373 * DAY);
    let reissue = format!("/api/v1/licenses/{id}/reissue");
    let response = app
        .admin(Method::POST, &reissue)
        .json(&json!({ "user_limit": 30 }))
        .send()
        .await
        .unwrap();
    let message = expect_error(response, StatusCode::CONFLICT, "license_ended").await;
    assert!(message.contains("expires_at"), "{message}");
    // With a new term it is reissued.
    let until = clock.now().add_seconds(30 * DAY).rfc3339();
    let response = app
        .admin(Method::POST, &reissue)
        .json(&json!({ "user_limit": 30, "expires_at": until }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}
