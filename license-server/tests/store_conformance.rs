//! One conformance suite for the store, run against SQLite and against a fresh Postgres
//! database per test. Postgres tests fail when Postgres is unreachable; they never skip.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use license_core::{
    Email, FORMAT_VERSION, FeatureSet, LicenseClaims, LicenseId, SigningKey, Timestamp,
    sign_license,
};
use license_server::store::{
    AccountId, AuditDraft, IdempotencyClaim, IdempotencyKey, LicenseFilter, LicenseStatus,
    NewAccount, NewAdminToken, PageRequest, SignedLicense, Signing, Store, StoreError, StoreResult,
};
use std::sync::Arc;
use support::{Kind, TestDb};

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Kind::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(super::Kind::Postgres).await } )*
        }
    };
}

conformance!(
    accounts_round_trip_and_page_without_gaps,
    an_unknown_account_is_not_found,
    issuing_assigns_account_sequences_and_audits,
    issuing_for_an_unknown_account_writes_nothing,
    a_failed_signature_rolls_the_issue_back,
    idempotency_keys_replay_and_refuse_reuse,
    concurrent_requests_with_one_key_issue_one_license,
    concurrent_issues_for_one_account_get_distinct_sequences,
    revoking_is_recorded_once,
    reissuing_supersedes_only_an_active_license,
    license_filters_and_pages,
    admin_tokens_authenticate_by_hash,
    a_closed_store_is_unavailable,
);

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix(seconds).unwrap()
}

fn audit(action: &str, seconds: i64) -> AuditDraft {
    AuditDraft {
        at: at(seconds),
        actor: "desk".into(),
        action: action.into(),
        target: String::new(),
        details: serde_json::json!({ "test": true }),
    }
}

async fn open(kind: Kind) -> (TestDb, Arc<dyn Store>) {
    let db = TestDb::new(kind).await;
    let store = db.store().await;
    (db, store)
}

async fn account(store: &dyn Store, name: &str, seconds: i64) -> AccountId {
    let new = NewAccount {
        id: AccountId(uuid::Uuid::new_v4()),
        name: name.into(),
        email: format!("{name}@example.com"),
        account_type: "licensor".into(),
        created_at: at(seconds),
    };
    store
        .create_account(&new, &audit("account.create", seconds))
        .await
        .unwrap()
        .id
}

/// A signing closure like the API's: claims for `account` with the sequence it is given.
fn signer(
    key: &SigningKey,
    account: AccountId,
    email: &str,
    trial: bool,
) -> impl Fn(&Signing<'_>) -> StoreResult<SignedLicense> + Send + Sync {
    let key = key.clone();
    let email = Email::parse(email).unwrap();
    let id: LicenseId = uuid::Uuid::new_v4();
    move |signing: &Signing<'_>| {
        assert_eq!(
            signing.account_id, account,
            "the transaction names the account asked for"
        );
        let sequence = signing.sequence;
        let claims = LicenseClaims {
            iss: "licensor".into(),
            sub: email.clone(),
            jti: id,
            iat: at(1_795_000_000),
            nbf: at(1_795_000_000),
            license_expires: at(1_826_000_000),
            exp: at(1_827_000_000),
            version: FORMAT_VERSION,
            account_type: "licensor".into(),
            account_id: account.to_string(),
            deployment_ids: vec![],
            trial,
            feature_set: FeatureSet::Enterprise,
            features: [("user_limit".to_owned(), 10)].into(),
            require_telemetry: false,
            evaluation: false,
            checkin: None,
            min_product_version: None,
            sequence,
        };
        let token = sign_license(&claims, &key).map_err(|e| StoreError::Database(e.to_string()))?;
        Ok(SignedLicense {
            claims,
            token,
            key_id: key.key_id().to_string(),
            issued_by: "desk".into(),
            mail: Vec::new(),
        })
    }
}

fn key() -> SigningKey {
    SigningKey::from_seed(&[11; 32])
}

async fn license_count(store: &dyn Store) -> usize {
    let page = PageRequest {
        limit: 500,
        after: None,
    };
    store
        .list_licenses(&LicenseFilter::default(), &page)
        .await
        .unwrap()
        .items
        .len()
}

async fn accounts_round_trip_and_page_without_gaps(kind: Kind) {
    let (_db, store) = open(kind).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        // Two accounts share each timestamp, so the id must break ties.
        ids.push(account(&*store, &format!("acct{i}"), 1_795_000_000 + i / 2).await);
    }
    let first = store.account(ids[3]).await.unwrap();
    assert_eq!(first.name, "acct3");
    assert_eq!(first.email, "acct3@example.com");
    assert_eq!(first.license_sequence, 0);

    let mut seen = Vec::new();
    let mut page = PageRequest {
        limit: 2,
        after: None,
    };
    loop {
        let result = store.list_accounts(&page).await.unwrap();
        assert!(result.items.len() <= 2);
        seen.extend(result.items.iter().map(|a| a.id));
        match result.next_cursor {
            Some(cursor) => {
                page.after = Some(license_server::store::Cursor::decode(&cursor).unwrap())
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "every account exactly once");
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 7);
    let audit = store.list_audit(&PageRequest::default()).await.unwrap();
    assert_eq!(
        audit
            .items
            .iter()
            .filter(|e| e.action == "account.create")
            .count(),
        7
    );
}

async fn an_unknown_account_is_not_found(kind: Kind) {
    let (_db, store) = open(kind).await;
    let err = store
        .account(AccountId(uuid::Uuid::new_v4()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
    let err = store.license(uuid::Uuid::new_v4()).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
}

async fn issuing_assigns_account_sequences_and_audits(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acct = account(&*store, "acme", 1_795_000_000).await;
    let key = key();
    let one = store
        .issue_license(
            acct,
            None,
            None,
            &audit("license.issue", 1),
            &signer(&key, acct, "a@example.com", false),
        )
        .await
        .unwrap();
    let two = store
        .issue_license(
            acct,
            None,
            None,
            &audit("license.issue", 2),
            &signer(&key, acct, "a@example.com", true),
        )
        .await
        .unwrap();
    assert!(!one.replayed && !two.replayed);
    assert_eq!((one.license.sequence, two.license.sequence), (1, 2));
    assert_eq!(store.account(acct).await.unwrap().license_sequence, 2);

    let stored = store.license(two.license.id).await.unwrap();
    assert_eq!(stored, two.license);
    assert!(stored.trial);
    assert_eq!(stored.status, LicenseStatus::Active);
    assert_eq!(stored.user_limit, Some(10));
    assert_eq!(stored.feature_set, "enterprise");
    assert_eq!(stored.expires_at, at(1_826_000_000));
    assert_eq!(stored.grace_ends_at, at(1_827_000_000));
    assert_eq!(stored.email, "a@example.com");
    assert!(stored.token.starts_with("eyJ"));

    let log = store.list_audit(&PageRequest::default()).await.unwrap();
    let issued: Vec<_> = log
        .items
        .iter()
        .filter(|e| e.action == "license.issue")
        .collect();
    assert_eq!(issued.len(), 2);
    assert_eq!(
        issued[0].target,
        two.license.id.to_string(),
        "newest first, target filled in"
    );
    assert_eq!(issued[0].actor, "desk");
    assert_eq!(issued[0].details["test"], true);
}

async fn issuing_for_an_unknown_account_writes_nothing(kind: Kind) {
    let (_db, store) = open(kind).await;
    let ghost = AccountId(uuid::Uuid::new_v4());
    let claim = IdempotencyClaim {
        key: IdempotencyKey::parse("k-ghost").unwrap(),
        request_hash: "h".into(),
    };
    let err = store
        .issue_license(
            ghost,
            None,
            Some(&claim),
            &audit("license.issue", 1),
            &signer(&key(), ghost, "a@example.com", false),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
    assert_eq!(license_count(&*store).await, 0);
    assert!(
        store
            .list_audit(&PageRequest::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    // The idempotency key was rolled back too: it can be used for a real account.
    let acct = account(&*store, "real", 1).await;
    let issued = store
        .issue_license(
            acct,
            None,
            Some(&claim),
            &audit("license.issue", 2),
            &signer(&key(), acct, "a@example.com", false),
        )
        .await
        .unwrap();
    assert!(!issued.replayed);
}

async fn a_failed_signature_rolls_the_issue_back(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acct = account(&*store, "acme", 1).await;
    let failing = |_signing: &Signing<'_>| -> StoreResult<SignedLicense> {
        Err(StoreError::Database("signer offline".into()))
    };
    let err = store
        .issue_license(acct, None, None, &audit("license.issue", 2), &failing)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("signer offline"));
    assert_eq!(
        store.account(acct).await.unwrap().license_sequence,
        0,
        "the sequence was not consumed"
    );
    assert_eq!(license_count(&*store).await, 0);
}

async fn idempotency_keys_replay_and_refuse_reuse(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acct = account(&*store, "acme", 1).await;
    let key = key();
    let claim = IdempotencyClaim {
        key: IdempotencyKey::parse("order-1").unwrap(),
        request_hash: "hash-a".into(),
    };
    let first = store
        .issue_license(
            acct,
            None,
            Some(&claim),
            &audit("license.issue", 2),
            &signer(&key, acct, "a@example.com", false),
        )
        .await
        .unwrap();
    let again = store
        .issue_license(
            acct,
            None,
            Some(&claim),
            &audit("license.issue", 3),
            &signer(&key, acct, "a@example.com", false),
        )
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.license, first.license);
    assert_eq!(license_count(&*store).await, 1);

    let reused = IdempotencyClaim {
        key: claim.key.clone(),
        request_hash: "hash-b".into(),
    };
    let err = store
        .issue_license(
            acct,
            None,
            Some(&reused),
            &audit("license.issue", 4),
            &signer(&key, acct, "a@example.com", false),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict("idempotency_key_reused")),
        "{err}"
    );

    // Keys are per actor: another admin's identical key is a different request.
    let mut other = audit("license.issue", 5);
    other.actor = "other-desk".into();
    let theirs = store
        .issue_license(
            acct,
            None,
            Some(&claim),
            &other,
            &signer(&key, acct, "a@example.com", false),
        )
        .await
        .unwrap();
    assert!(!theirs.replayed);
    assert_eq!(license_count(&*store).await, 2);
}

async fn concurrent_requests_with_one_key_issue_one_license(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acct = account(&*store, "acme", 1).await;
    let key = key();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            let claim = IdempotencyClaim {
                key: IdempotencyKey::parse("same").unwrap(),
                request_hash: "h".into(),
            };
            store
                .issue_license(
                    acct,
                    None,
                    Some(&claim),
                    &audit("license.issue", 2),
                    &signer(&key, acct, "a@example.com", false),
                )
                .await
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(issued) => ids.push(issued.license.id),
            Err(StoreError::Conflict("idempotency_key_in_flight")) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    ids.dedup();
    assert_eq!(
        ids.len(),
        1,
        "every success names the same license: {ids:?}"
    );
    assert_eq!(license_count(&*store).await, 1);
    assert_eq!(store.account(acct).await.unwrap().license_sequence, 1);
}

async fn concurrent_issues_for_one_account_get_distinct_sequences(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acct = account(&*store, "acme", 1).await;
    let key = key();
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let store = store.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            store
                .issue_license(
                    acct,
                    None,
                    None,
                    &audit("license.issue", 2),
                    &signer(&key, acct, "a@example.com", false),
                )
                .await
        }));
    }
    let mut sequences = Vec::new();
    for task in tasks {
        sequences.push(task.await.unwrap().unwrap().license.sequence);
    }
    sequences.sort_unstable();
    assert_eq!(sequences, (1..=10).collect::<Vec<u64>>());
}

async fn revoking_is_recorded_once(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acct = account(&*store, "acme", 1).await;
    let issued = store
        .issue_license(
            acct,
            None,
            None,
            &audit("license.issue", 2),
            &signer(&key(), acct, "a@example.com", false),
        )
        .await
        .unwrap();
    let id = issued.license.id;
    let revoked = store
        .revoke_license(
            id,
            "chargeback",
            at(1_795_100_000),
            &audit("license.revoke", 3),
        )
        .await
        .unwrap();
    assert_eq!(revoked.status, LicenseStatus::Revoked);
    assert_eq!(revoked.revoked_at, Some(at(1_795_100_000)));
    assert_eq!(revoked.revoke_reason.as_deref(), Some("chargeback"));
    let err = store
        .revoke_license(id, "again", at(1_795_200_000), &audit("license.revoke", 4))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict("already_revoked")),
        "{err}"
    );
    let err = store
        .revoke_license(
            uuid::Uuid::new_v4(),
            "x",
            at(1),
            &audit("license.revoke", 5),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
    let log = store.list_audit(&PageRequest::default()).await.unwrap();
    assert_eq!(
        log.items
            .iter()
            .filter(|e| e.action == "license.revoke")
            .count(),
        1,
        "failed revocations are not audited"
    );
}

async fn reissuing_supersedes_only_an_active_license(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acct = account(&*store, "acme", 1).await;
    let key = key();
    let old = store
        .issue_license(
            acct,
            None,
            None,
            &audit("license.issue", 2),
            &signer(&key, acct, "a@example.com", false),
        )
        .await
        .unwrap()
        .license;
    let new = store
        .issue_license(
            acct,
            Some(old.id),
            None,
            &audit("license.reissue", 3),
            &signer(&key, acct, "a@example.com", false),
        )
        .await
        .unwrap()
        .license;
    assert_eq!(new.supersedes, Some(old.id));
    assert_eq!(new.sequence, 2);
    assert_eq!(
        store.license(old.id).await.unwrap().status,
        LicenseStatus::Superseded
    );

    let err = store
        .issue_license(
            acct,
            Some(old.id),
            None,
            &audit("license.reissue", 4),
            &signer(&key, acct, "a@example.com", false),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict("license_not_active")),
        "{err}"
    );
    assert_eq!(
        store.account(acct).await.unwrap().license_sequence,
        2,
        "the failed reissue consumed no sequence"
    );
    // A license of another account cannot be superseded from this one.
    let other = account(&*store, "other", 5).await;
    let err = store
        .issue_license(
            other,
            Some(new.id),
            None,
            &audit("license.reissue", 6),
            &signer(&key, other, "b@example.com", false),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict("license_not_active")),
        "{err}"
    );
    assert_eq!(license_count(&*store).await, 2);
}

async fn license_filters_and_pages(kind: Kind) {
    let (_db, store) = open(kind).await;
    let key = key();
    let a = account(&*store, "a", 1).await;
    let b = account(&*store, "b", 2).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let issued = store
            .issue_license(
                a,
                None,
                None,
                &audit("license.issue", 10 + i),
                &signer(&key, a, "Admin@A.example.com", i % 2 == 0),
            )
            .await
            .unwrap();
        ids.push(issued.license.id);
    }
    let on_b = store
        .issue_license(
            b,
            None,
            None,
            &audit("license.issue", 20),
            &signer(&key, b, "ops@b.example.com", false),
        )
        .await
        .unwrap()
        .license;
    store
        .revoke_license(ids[0], "test", at(30), &audit("license.revoke", 30))
        .await
        .unwrap();

    let all = PageRequest {
        limit: 100,
        after: None,
    };
    let list = |filter: LicenseFilter| {
        let store = store.clone();
        let all = all.clone();
        async move { store.list_licenses(&filter, &all).await.unwrap().items }
    };
    assert_eq!(
        list(LicenseFilter {
            account_id: Some(a),
            ..Default::default()
        })
        .await
        .len(),
        5
    );
    assert_eq!(
        list(LicenseFilter {
            account_id: Some(b),
            ..Default::default()
        })
        .await[0]
            .id,
        on_b.id
    );
    assert_eq!(
        list(LicenseFilter {
            email: Some("admin@a.EXAMPLE.com".into()),
            ..Default::default()
        })
        .await
        .len(),
        5
    );
    assert_eq!(
        list(LicenseFilter {
            trial: Some(true),
            ..Default::default()
        })
        .await
        .len(),
        3
    );
    assert_eq!(
        list(LicenseFilter {
            trial: Some(false),
            ..Default::default()
        })
        .await
        .len(),
        3
    );
    let revoked = list(LicenseFilter {
        status: Some(LicenseStatus::Revoked),
        ..Default::default()
    })
    .await;
    assert_eq!(
        revoked.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![ids[0]]
    );
    let active_trials_of_a = list(LicenseFilter {
        account_id: Some(a),
        status: Some(LicenseStatus::Active),
        trial: Some(true),
        email: None,
    })
    .await;
    assert_eq!(active_trials_of_a.len(), 2);

    let mut seen = Vec::new();
    let mut page = PageRequest {
        limit: 4,
        after: None,
    };
    loop {
        let result = store
            .list_licenses(&LicenseFilter::default(), &page)
            .await
            .unwrap();
        seen.extend(result.items.iter().map(|l| l.id));
        match result.next_cursor {
            Some(cursor) => page.after = license_server::store::Cursor::decode(&cursor),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 6, "pages neither repeat nor skip");
}

async fn admin_tokens_authenticate_by_hash(kind: Kind) {
    let (_db, store) = open(kind).await;
    let token = NewAdminToken {
        id: uuid::Uuid::new_v4(),
        name: "desk".into(),
        token_hash: "a".repeat(64),
        created_at: at(1),
    };
    store
        .create_admin_token(&token, &audit("token.create", 1))
        .await
        .unwrap();
    let who = store.authenticate(&"a".repeat(64), at(2)).await.unwrap();
    assert_eq!(who.name, "desk");
    assert!(matches!(
        store.authenticate(&"b".repeat(64), at(2)).await,
        Err(StoreError::NotFound)
    ));
    let duplicate = NewAdminToken {
        id: uuid::Uuid::new_v4(),
        name: "desk".into(),
        token_hash: "c".repeat(64),
        created_at: at(3),
    };
    let err = store
        .create_admin_token(&duplicate, &audit("token.create", 3))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    assert!(
        matches!(
            store.authenticate(&"c".repeat(64), at(4)).await,
            Err(StoreError::NotFound)
        ),
        "the duplicate was not stored"
    );
    store
        .revoke_admin_token("desk", &audit("token.revoke", 5))
        .await
        .unwrap();
    assert!(
        matches!(
            store.authenticate(&"a".repeat(64), at(6)).await,
            Err(StoreError::NotFound)
        ),
        "a revoked token no longer authenticates"
    );
    assert!(matches!(
        store
            .revoke_admin_token("desk", &audit("token.revoke", 7))
            .await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store
            .revoke_admin_token("nobody", &audit("token.revoke", 8))
            .await,
        Err(StoreError::NotFound)
    ));
    let log = store.list_audit(&PageRequest::default()).await.unwrap();
    assert_eq!(
        log.items
            .iter()
            .filter(|e| e.action == "token.revoke")
            .count(),
        1
    );
}

async fn a_closed_store_is_unavailable(kind: Kind) {
    let (_db, store) = open(kind).await;
    store.ping().await.unwrap();
    store.close().await;
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    let err = store
        .account(AccountId(uuid::Uuid::new_v4()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
}
