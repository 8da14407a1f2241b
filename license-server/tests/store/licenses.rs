//! `store::licenses`: insert, get, list, by_ids, supersede, revoke, revocations.

use crate::helpers::{
    Kind, account, at, claims, conflict, deployment_ids, flat, issue, on_both_backends, open, page,
    sorted, store_license, walk,
};
use license_core::{FeatureSet, MAX_UNIX_SECONDS, Timestamp};
use license_server::store::accounts::AccountId;
use license_server::store::licenses::{self, LicenseFilter, LicenseStatus, Revocation};
use license_server::store::{Conflict, StoreError, UniqueRule};

on_both_backends!(
    licenses_insert_round_trips_every_field,
    licenses_insert_refuses_broken_references_and_repeated_sequences,
    licenses_list_filters_and_pages,
    licenses_by_ids_returns_those_that_exist,
    licenses_supersede_only_an_active_license_of_the_account,
    licenses_revoke_once_and_list_revocations_in_order,
    concurrent_revocations_get_distinct_numbers,
    revocations_leave_the_list_when_their_grace_has_ended,
);

async fn licenses_insert_round_trips_every_field(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    let mut c = claims(&acme, "Ada.Lovelace@Example.COM", 7, 3);
    c.trial = true;
    c.evaluation = true;
    c.feature_set = FeatureSet::Premium;
    c.features = [
        ("user_limit".to_owned(), 250),
        ("audit_log".to_owned(), 1),
        ("multiple_organizations".to_owned(), 0),
        ("big".to_owned(), i64::MAX),
    ]
    .into();
    c.deployment_ids = deployment_ids(&["dep-a", "0f8c1a2e-9b7d-4c3e-8a1f-2d3c4b5a6978"]);
    // The last second Timestamp allows: 9999-12-31T23:59:59Z.
    c.exp = Timestamp::from_unix(MAX_UNIX_SECONDS).unwrap();
    let stored = store_license(store.conn(), &c, None).await.unwrap();

    assert_eq!(stored.id, c.jti);
    assert_eq!(stored.account_id, acme.id);
    assert_eq!(stored.email, "Ada.Lovelace@Example.COM", "stored as signed");
    assert!(stored.token.starts_with("eyJ"), "{}", stored.token);
    assert_eq!(stored.key_id, crate::helpers::key().key_id().as_str());
    assert_eq!(stored.feature_set, FeatureSet::Premium);
    assert_eq!(stored.features, c.features);
    assert_eq!(stored.user_limit, Some(250));
    assert_eq!(
        stored.deployment_ids,
        ["dep-a", "0f8c1a2e-9b7d-4c3e-8a1f-2d3c4b5a6978"]
    );
    assert!(stored.trial && stored.evaluation);
    assert_eq!(stored.sequence, 7);
    assert_eq!(stored.starts_at, c.nbf);
    assert_eq!(stored.expires_at, c.license_expires);
    assert_eq!(stored.grace_ends_at.unix(), MAX_UNIX_SECONDS);
    assert_eq!(stored.issued_at, at(3));
    assert_eq!(stored.issued_by, "desk");
    assert_eq!(stored.status, LicenseStatus::Active);
    assert_eq!(
        (stored.revoked_at, stored.revoke_reason.clone()),
        (None, None)
    );
    assert_eq!(stored.supersedes, None);
    assert_eq!(licenses::get(store.conn(), c.jti).await.unwrap(), stored);

    // No seats and no feature set, bound to nothing.
    let mut plain = claims(&acme, "b@acme.example.com", 8, 4);
    plain.features.clear();
    plain.feature_set = FeatureSet::None;
    let stored = store_license(store.conn(), &plain, None).await.unwrap();
    assert_eq!(stored.user_limit, None);
    assert_eq!(stored.feature_set, FeatureSet::None);
    assert!(stored.features.is_empty() && stored.deployment_ids.is_empty());
    assert!(!stored.trial && !stored.evaluation);
    assert_eq!(
        licenses::get(store.conn(), plain.jti).await.unwrap(),
        stored
    );

    let err = licenses::get(store.conn(), uuid::Uuid::new_v4())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
}

async fn licenses_insert_refuses_broken_references_and_repeated_sequences(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    let mut ghost = acme.clone();
    ghost.id = AccountId(uuid::Uuid::new_v4());
    let err = store_license(
        store.conn(),
        &claims(&ghost, "a@acme.example.com", 1, 0),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        conflict(&err),
        Some(Conflict::MissingReference),
        "unknown account: {err}"
    );

    let err = store_license(
        store.conn(),
        &claims(&acme, "a@acme.example.com", 1, 0),
        Some(uuid::Uuid::new_v4()),
    )
    .await
    .unwrap_err();
    assert_eq!(
        conflict(&err),
        Some(Conflict::MissingReference),
        "unknown superseded: {err}"
    );

    store_license(
        store.conn(),
        &claims(&acme, "a@acme.example.com", 1, 0),
        None,
    )
    .await
    .unwrap();
    let err = store_license(
        store.conn(),
        &claims(&acme, "a@acme.example.com", 1, 1),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        conflict(&err),
        Some(Conflict::Unique(UniqueRule::Other)),
        "a sequence number used twice in one account: {err}"
    );
    let all = licenses::list(store.conn(), &LicenseFilter::default(), &page(10))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 1);
}

async fn licenses_list_filters_and_pages(kind: Kind) {
    let (_db, store) = open(kind).await;
    let a = account(store.conn(), "a", 0).await;
    let b = account(store.conn(), "b", 1).await;
    let mut on_a = Vec::new();
    for i in 0..5 {
        // Two licenses share each issue time: the id breaks ties.
        let license = issue(&store, &a, "Élodie@Exämple.COM", 10 + i / 2, |c| {
            c.trial = i % 2 == 0;
        })
        .await;
        on_a.push(license);
    }
    let on_b = issue(&store, &b, "ops@b.example.com", 20, |_| {}).await;
    licenses::revoke(store.conn(), on_a[0].id, "test", at(30))
        .await
        .unwrap();

    let list = async |filter: LicenseFilter| {
        let ids: Vec<_> = licenses::list(store.conn(), &filter, &page(100))
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|l| l.id)
            .collect();
        sorted(ids)
    };
    let ids =
        |licenses: &[&licenses::LicenseRecord]| sorted(licenses.iter().map(|l| l.id).collect());
    let a_all: Vec<_> = on_a.iter().collect();

    assert_eq!(
        list(LicenseFilter {
            account_id: Some(a.id),
            ..Default::default()
        })
        .await,
        ids(&a_all)
    );
    assert_eq!(
        list(LicenseFilter {
            account_id: Some(b.id),
            ..Default::default()
        })
        .await,
        [on_b.id]
    );
    // Email matches whatever the case, non-ASCII letters included.
    assert_eq!(
        list(LicenseFilter {
            email: Some("élodie@EXÄMPLE.com".into()),
            ..Default::default()
        })
        .await,
        ids(&a_all)
    );
    assert_eq!(
        list(LicenseFilter {
            email: Some("nobody@example.com".into()),
            ..Default::default()
        })
        .await,
        Vec::<uuid::Uuid>::new()
    );
    assert_eq!(
        list(LicenseFilter {
            trial: Some(true),
            ..Default::default()
        })
        .await,
        ids(&[&on_a[0], &on_a[2], &on_a[4]])
    );
    assert_eq!(
        list(LicenseFilter {
            trial: Some(false),
            ..Default::default()
        })
        .await,
        ids(&[&on_a[1], &on_a[3], &on_b])
    );
    assert_eq!(
        list(LicenseFilter {
            status: Some(LicenseStatus::Revoked),
            ..Default::default()
        })
        .await,
        [on_a[0].id]
    );
    assert_eq!(
        list(LicenseFilter {
            status: Some(LicenseStatus::Superseded),
            ..Default::default()
        })
        .await,
        Vec::<uuid::Uuid>::new()
    );
    assert_eq!(
        list(LicenseFilter {
            account_id: Some(a.id),
            status: Some(LicenseStatus::Active),
            trial: Some(true),
            email: None,
            ..Default::default()
        })
        .await,
        ids(&[&on_a[2], &on_a[4]])
    );

    let mut expected: Vec<_> = on_a
        .iter()
        .chain([&on_b])
        .map(|l| (l.issued_at, l.id))
        .collect();
    expected.sort();
    expected.reverse();
    let pages = walk(4, async |p| {
        licenses::list(store.conn(), &LicenseFilter::default(), &p)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [4, 2]);
    let seen: Vec<_> = flat(pages)
        .into_iter()
        .map(|l| (l.issued_at, l.id))
        .collect();
    assert_eq!(seen, expected, "newest first, ties by id, each once");
    // Paging composes with a filter.
    let pages = walk(1, async |p| {
        let filter = LicenseFilter {
            trial: Some(true),
            ..Default::default()
        };
        licenses::list(store.conn(), &filter, &p).await.unwrap()
    })
    .await;
    assert_eq!(pages.len(), 3);
}

async fn licenses_by_ids_returns_those_that_exist(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    let one = issue(&store, &acme, "a@acme.example.com", 1, |_| {}).await;
    let two = issue(&store, &acme, "a@acme.example.com", 2, |_| {}).await;
    let three = issue(&store, &acme, "a@acme.example.com", 3, |_| {}).await;
    let mut found = licenses::by_ids(store.conn(), &[one.id, three.id, uuid::Uuid::new_v4()])
        .await
        .unwrap();
    found.sort_by_key(|l| l.sequence);
    assert_eq!(found, [one.clone(), three]);
    assert_eq!(
        licenses::by_ids(store.conn(), &[two.id, two.id])
            .await
            .unwrap(),
        [two]
    );
    assert!(
        licenses::by_ids(store.conn(), &[])
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        licenses::by_ids(store.conn(), &[uuid::Uuid::new_v4()])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn licenses_supersede_only_an_active_license_of_the_account(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    let other = account(store.conn(), "other", 0).await;
    let old = issue(&store, &acme, "a@acme.example.com", 1, |_| {}).await;

    assert!(
        !licenses::supersede(store.conn(), old.id, other.id)
            .await
            .unwrap(),
        "not from another account"
    );
    assert_eq!(
        licenses::get(store.conn(), old.id).await.unwrap().status,
        LicenseStatus::Active
    );
    assert!(
        !licenses::supersede(store.conn(), uuid::Uuid::new_v4(), acme.id)
            .await
            .unwrap()
    );

    let mut tx = store.begin().await.unwrap();
    assert!(
        licenses::supersede(tx.conn(), old.id, acme.id)
            .await
            .unwrap()
    );
    let new = store_license(
        tx.conn(),
        &claims(&acme, "a@acme.example.com", 2, 2),
        Some(old.id),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(new.supersedes, Some(old.id));
    assert_eq!(
        licenses::get(store.conn(), new.id)
            .await
            .unwrap()
            .supersedes,
        Some(old.id)
    );
    assert_eq!(
        licenses::get(store.conn(), old.id).await.unwrap().status,
        LicenseStatus::Superseded
    );
    assert!(
        !licenses::supersede(store.conn(), old.id, acme.id)
            .await
            .unwrap(),
        "superseded already"
    );

    licenses::revoke(store.conn(), new.id, "chargeback", at(3))
        .await
        .unwrap();
    assert!(
        !licenses::supersede(store.conn(), new.id, acme.id)
            .await
            .unwrap(),
        "revoked"
    );
    assert_eq!(
        licenses::get(store.conn(), new.id).await.unwrap().status,
        LicenseStatus::Revoked
    );
}

async fn licenses_revoke_once_and_list_revocations_in_order(kind: Kind) {
    let (_db, store) = open(kind).await;
    assert_eq!(
        licenses::revocations(store.conn(), at(0)).await.unwrap(),
        (0, vec![])
    );
    let acme = account(store.conn(), "acme", 0).await;
    let one = issue(&store, &acme, "a@acme.example.com", 1, |_| {}).await;
    let two = issue(&store, &acme, "a@acme.example.com", 2, |_| {}).await;

    let mut tx = store.begin().await.unwrap();
    let revoked = licenses::revoke(tx.conn(), two.id, "chargeback", at(100))
        .await
        .unwrap()
        .expect("an active license is revoked");
    tx.commit().await.unwrap();
    assert_eq!(revoked.status, LicenseStatus::Revoked);
    assert_eq!(revoked.revoked_at, Some(at(100)));
    assert_eq!(revoked.revoke_reason.as_deref(), Some("chargeback"));
    assert_eq!(licenses::get(store.conn(), two.id).await.unwrap(), revoked);

    let again = licenses::revoke(store.conn(), two.id, "again", at(200))
        .await
        .unwrap();
    assert_eq!(again, None, "already revoked");
    assert_eq!(
        licenses::get(store.conn(), two.id).await.unwrap(),
        revoked,
        "the second revocation changed nothing"
    );
    let err = licenses::revoke(store.conn(), uuid::Uuid::new_v4(), "x", at(1))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");

    // A superseded license can still be revoked.
    assert!(
        licenses::supersede(store.conn(), one.id, acme.id)
            .await
            .unwrap()
    );
    let revoked_one = licenses::revoke(store.conn(), one.id, "fraud", at(150))
        .await
        .unwrap();
    assert_eq!(revoked_one.map(|l| l.status), Some(LicenseStatus::Revoked));

    // A revocation rolled back takes no number.
    let three = issue(&store, &acme, "a@acme.example.com", 3, |_| {}).await;
    let mut tx = store.begin().await.unwrap();
    licenses::revoke(tx.conn(), three.id, "oops", at(160))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(
        licenses::get(store.conn(), three.id).await.unwrap().status,
        LicenseStatus::Active
    );

    assert_eq!(
        licenses::revocations(store.conn(), at(0)).await.unwrap(),
        (
            2,
            vec![
                Revocation {
                    license_id: two.id,
                    revoked_at: at(100)
                },
                Revocation {
                    license_id: one.id,
                    revoked_at: at(150)
                },
            ]
        ),
        "in revocation order, numbered without gaps"
    );
}

/// Ten revocations at once: each gets its own number, and the list's sequence counts them.
async fn concurrent_revocations_get_distinct_numbers(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            issue(&store, &acme, "a@acme.example.com", i, |_| {})
                .await
                .id,
        );
    }
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().copied().enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let revoked = licenses::revoke(tx.conn(), id, "bulk", at(100 + i as i64))
                .await
                .unwrap();
            tx.commit().await.unwrap();
            revoked.is_some()
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap());
    }
    let (sequence, revoked) = licenses::revocations(store.conn(), at(0)).await.unwrap();
    assert_eq!(sequence, 10);
    assert_eq!(
        sorted(revoked.iter().map(|r| r.license_id).collect()),
        sorted(ids)
    );
}

/// The list names a revoked license while its grace period ends at or after the cutoff; one
/// whose grace ended before it is left off, yet the list's sequence still counts it, so the
/// shorter list is never taken for an older one.
async fn revocations_leave_the_list_when_their_grace_has_ended(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    // Grace ends: at(1_000), at(2_000), at(3_000).
    let mut ids = Vec::new();
    for (i, grace_end) in [1_000, 2_000, 3_000].into_iter().enumerate() {
        let license = issue(&store, &acme, "a@acme.example.com", i as i64, |c| {
            c.license_expires = at(grace_end - 500);
            c.exp = at(grace_end);
        })
        .await;
        ids.push(license.id);
    }
    let active = issue(&store, &acme, "a@acme.example.com", 9, |_| {}).await;
    // Revoked in the order 3, 1, 2.
    for (n, index) in [2, 0, 1].into_iter().enumerate() {
        let mut tx = store.begin().await.unwrap();
        licenses::revoke(tx.conn(), ids[index], "fraud", at(100 + n as i64))
            .await
            .unwrap()
            .unwrap();
        tx.commit().await.unwrap();
    }
    let listed = async |cutoff: i64| {
        let (sequence, revoked) = licenses::revocations(store.conn(), at(cutoff))
            .await
            .unwrap();
        (
            sequence,
            revoked.iter().map(|r| r.license_id).collect::<Vec<_>>(),
        )
    };
    assert_eq!(listed(0).await, (3, vec![ids[2], ids[0], ids[1]]));
    assert_eq!(
        listed(1_000).await,
        (3, vec![ids[2], ids[0], ids[1]]),
        "a grace ending at the cutoff is listed"
    );
    assert_eq!(listed(1_001).await, (3, vec![ids[2], ids[1]]));
    assert_eq!(listed(2_500).await, (3, vec![ids[2]]));
    assert_eq!(
        listed(3_001).await,
        (3, vec![]),
        "every grace ended: an empty list that still counts three revocations"
    );
    // An unrevoked license is never listed, however late its grace ends.
    assert!(!listed(0).await.1.contains(&active.id));
}
