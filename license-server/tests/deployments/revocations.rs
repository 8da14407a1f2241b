//! `GET /revocations`: a signed list of every revoked license whose sequence grows by one
//! with each revocation; `license-core` never lets an older list replace a newer one.

use crate::helpers::{
    create_account, expect_error, issue_license, now, on_both_backends, post, published_keyring,
    revocation_list, revoke, spawn,
};
use crate::support::{Kind, TestApp};
use license_core::{Keyring, REVOCATION_LIST_TYP, VerifiedRevocationList, verify_revocation_list};
use license_server::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection as _;

on_both_backends!(
    the_sequence_starts_at_zero_and_grows_by_one_per_revocation,
    an_older_list_never_replaces_a_newer_one,
);

fn revoked_ids(list: &VerifiedRevocationList) -> Vec<String> {
    list.claims()
        .revoked
        .iter()
        .map(|r| r.id.to_string())
        .collect()
}

async fn list(app: &TestApp, keyring: &Keyring, clock: &ManualClock) -> VerifiedRevocationList {
    revocation_list(app, keyring, now(clock)).await.1
}

async fn the_sequence_starts_at_zero_and_grows_by_one_per_revocation(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let keyring = published_keyring(&app).await;
    let account = create_account(&app, "Acme").await;
    let mut licenses = Vec::new();
    for _ in 0..3 {
        licenses.push(
            issue_license(&app, &account, now(&clock), json!({}))
                .await
                .0,
        );
    }

    // Nothing revoked: sequence 0, an empty list, signed now by the licensor, fetched without
    // credentials.
    let (answer, empty) = revocation_list(&app, &keyring, now(&clock)).await;
    assert_eq!(answer["sequence"], 0);
    assert_eq!(empty.sequence(), 0);
    assert!(empty.claims().revoked.is_empty());
    assert_eq!(empty.claims().iss, "licensor-test");
    assert_eq!(empty.claims().iat, now(&clock));
    assert_eq!(empty.key_id(), app.signing_key.key_id());
    let header = answer["revocation_list"]
        .as_str()
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .to_owned();
    let header: serde_json::Value =
        serde_json::from_slice(&license_core::base64url::decode(&header).unwrap()).unwrap();
    assert_eq!(header["typ"], REVOCATION_LIST_TYP, "{header}");

    let mut revoked_at = Vec::new();
    for (n, id) in licenses.iter().enumerate() {
        clock.advance(60);
        revoke(&app, id).await;
        revoked_at.push(now(&clock));
        let list = list(&app, &keyring, &clock).await;
        assert_eq!(list.sequence(), n as u64 + 1, "one more per revocation");
        assert_eq!(
            revoked_ids(&list),
            licenses[..=n],
            "every revoked license, in order"
        );
        for (id, at) in licenses.iter().zip(&revoked_at) {
            assert_eq!(
                list.revoked_at(uuid::Uuid::parse_str(id).unwrap()),
                Some(*at),
                "revoked at the server's time"
            );
        }
    }

    // Refused revocations change nothing: one already revoked (409), an unknown one (404).
    let response = post(
        &app,
        &format!("/api/v1/licenses/{}/revoke", licenses[0]),
        &json!({ "reason": "again" }),
    )
    .await;
    expect_error(response, StatusCode::CONFLICT, "already_revoked").await;
    let response = post(
        &app,
        &format!("/api/v1/licenses/{}/revoke", uuid::Uuid::new_v4()),
        &json!({ "reason": "who?" }),
    )
    .await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    let after = list(&app, &keyring, &clock).await;
    assert_eq!(after.sequence(), 3);
    assert_eq!(revoked_ids(&after), licenses);
}

async fn an_older_list_never_replaces_a_newer_one(kind: Kind) {
    let (app, clock) = spawn(kind).await;
    let keyring = published_keyring(&app).await;
    let account = create_account(&app, "Acme").await;
    let (first, _) = issue_license(&app, &account, now(&clock), json!({})).await;
    let (second, _) = issue_license(&app, &account, now(&clock), json!({})).await;

    let zero = list(&app, &keyring, &clock).await;
    revoke(&app, &first).await;
    let one = list(&app, &keyring, &clock).await;
    clock.advance(60);
    revoke(&app, &second).await;
    let two = list(&app, &keyring, &clock).await;
    assert_eq!((zero.sequence(), one.sequence(), two.sequence()), (0, 1, 2));

    // A deployment with nothing installed takes any list; then only newer ones.
    assert!(zero.supersedes(None));
    assert!(one.supersedes(Some(&zero)));
    assert!(two.supersedes(Some(&one)));
    assert!(two.supersedes(Some(&zero)));
    assert!(
        !one.supersedes(Some(&two)),
        "an older list would un-revoke the second license"
    );
    assert!(!zero.supersedes(Some(&one)));
    // The same sequence fetched again (signed anew, later) holds the same revocations and
    // replaces the older signing, never the reverse: how fresh the list is counts for trials
    // (issue 12, finding 4).
    clock.advance(60);
    let two_again = list(&app, &keyring, &clock).await;
    assert_eq!(two_again.sequence(), 2);
    assert!(two_again.claims().iat > two.claims().iat);
    assert_eq!(two_again.claims().revoked, two.claims().revoked);
    assert!(two_again.supersedes(Some(&two)));
    assert!(!two.supersedes(Some(&two_again)));
    assert!(!one.supersedes(Some(&two)) && !one.supersedes(Some(&two_again)));

    // A list signed later than the verifier's clock allows is refused: the clock is behind.
    let token = revocation_list(&app, &keyring, now(&clock)).await.0["revocation_list"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(verify_revocation_list(&token, &keyring, now(&clock).add_seconds(-3600), 300).is_err());
    // A list altered to drop a revocation does not verify.
    let parts: Vec<&str> = token.split('.').collect();
    let payload = String::from_utf8(license_core::base64url::decode(parts[1]).unwrap()).unwrap();
    let dropped = payload.replace(&second, &uuid::Uuid::new_v4().to_string());
    assert_ne!(dropped, payload);
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        license_core::base64url::encode(dropped.as_bytes()),
        parts[2]
    );
    assert!(verify_revocation_list(&forged, &keyring, now(&clock), 0).is_err());
}

/// Lock requests not yet granted in the current database.
async fn waiting(conn: &mut sqlx::PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE NOT l.granted AND a.datname = current_database()",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

/// Postgres hands out revocation sequence numbers when the row is inserted, not when the
/// revoking transaction commits: a revocation still in flight when a later one commits leaves
/// the later sequence number published without it, and once it commits the list changes
/// under the same sequence number. A deployment holding that number then refuses the list that
/// carries the missing revocation (an equal sequence does not supersede), so the license keeps
/// granting there until some other license is revoked.
///
/// The first revocation is held in flight by a trigger on `audit_log` (written after the
/// revocation row, before the commit) that waits on an advisory lock the test holds; the
/// second is made meanwhile through the API. If the second waits for the first (a fix that
/// orders revocations), the test sees it waiting and lets the first go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_published_sequence_never_gains_entries() {
    const GATE: i64 = 4242;
    let (app, clock) = spawn(Kind::Postgres).await;
    let keyring = published_keyring(&app).await;
    let account = create_account(&app, "Acme").await;
    let (slow, _) = issue_license(&app, &account, now(&clock), json!({})).await;
    let (fast, _) = issue_license(&app, &account, now(&clock), json!({})).await;

    let mut gate = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    for sql in [
        "CREATE FUNCTION test_gate() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_advisory_xact_lock_shared(4242); RETURN NEW; END $$"
            .to_owned(),
        format!(
            "CREATE TRIGGER test_gate BEFORE INSERT ON audit_log FOR EACH ROW \
             WHEN (NEW.target = '{slow}') EXECUTE FUNCTION test_gate()"
        ),
    ] {
        sqlx::query(&sql).execute(&mut gate).await.unwrap();
    }
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(GATE)
        .execute(&mut gate)
        .await
        .unwrap();
    let revoke_in_background = |id: String| {
        let request = app
            .admin(
                reqwest::Method::POST,
                &format!("/api/v1/licenses/{id}/revoke"),
            )
            .json(&json!({ "reason": "contract terminated" }));
        tokio::spawn(async move { request.send().await.unwrap().status() })
    };

    // The first revocation starts and stops at the gate, its sequence number taken.
    let first = revoke_in_background(slow.clone());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while waiting(&mut gate).await < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first revocation never reached the gate"
        );
        tokio::task::yield_now().await;
    }
    // The second completes, or waits for the first.
    let second = revoke_in_background(fast.clone());
    while !second.is_finished() && waiting(&mut gate).await < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the second revocation neither ends nor waits"
        );
        tokio::task::yield_now().await;
    }
    let published = list(&app, &keyring, &clock).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(GATE)
        .execute(&mut gate)
        .await
        .unwrap();
    assert_eq!(first.await.unwrap(), reqwest::StatusCode::OK);
    assert_eq!(second.await.unwrap(), reqwest::StatusCode::OK);
    let later = list(&app, &keyring, &clock).await;

    assert_eq!(revoked_ids(&later).len(), 2, "both revocations are listed");
    if later.sequence() == published.sequence() {
        assert_eq!(
            later.claims().revoked,
            published.claims().revoked,
            "sequence {} was published listing {:?} and now lists {:?}: a deployment holding it \
             never learns of the revocation of {slow}",
            published.sequence(),
            revoked_ids(&published),
            revoked_ids(&later),
        );
    }
    assert!(
        later.supersedes(Some(&published)),
        "a list with more revocations must supersede the one published before it"
    );
}
