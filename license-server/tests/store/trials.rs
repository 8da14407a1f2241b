//! `store::trials`: insert (with its slots), get, list, lock_domain, confirmed_since, the
//! mail counts, pending_for_license, confirm, slot_taken, set_license.

use crate::helpers::{
    Kind, account, at, conflict, flat, issue, on_both_backends, open, page, scalar, sorted, trial,
    walk,
};
use license_server::store::accounts::Account;
use license_server::store::trials::{self, Slot, Slots, TrialFilter, TrialOutcome, TrialRecord};
use license_server::store::{Conflict, Store, StoreError};

on_both_backends!(
    trials_insert_and_get_round_trip,
    trials_slots_hold_the_once_ever_rules,
    trials_a_refused_slot_leaves_the_transaction_usable,
    concurrent_trials_for_one_deployment_take_its_slot_once,
    trials_list_filters_and_pages,
    trials_confirmed_since_counts_a_domains_confirmed_grants,
    trials_pending_until_confirmed_and_mail_counts,
    trials_lock_domain_serializes_the_domain_limit,
    trials_set_license_points_at_the_current_license,
);

const BOTH: Slots = Slots {
    deployment: true,
    email: true,
};

/// A granted trial of `email` for `deployment` with its account and license.
async fn granted(
    store: &Store,
    email: &str,
    deployment: &str,
    seconds: i64,
) -> (TrialRecord, Account) {
    let account = account(store.conn(), "trial", seconds).await;
    let license = issue(store, &account, email, seconds, |c| c.trial = true).await;
    let mut t = trial(email, deployment, seconds);
    t.outcome = TrialOutcome::Granted;
    t.refusal_code = None;
    t.refusal_message = None;
    t.license_id = Some(license.id);
    t.account_id = Some(account.id);
    t.expires_at = Some(license.expires_at);
    (t, account)
}

async fn trials_insert_and_get_round_trip(kind: Kind) {
    let (_db, store) = open(kind).await;
    let (mut t, _) = granted(&store, "Ada@Example.com", "dep-1", 5).await;
    t.client_address = Some("2001:db8::1".into());
    assert_eq!(
        trials::insert(store.conn(), &t, BOTH).await.unwrap(),
        Ok(())
    );
    assert_eq!(trials::get(store.conn(), t.id).await.unwrap(), t);

    let refused = trial("bob@mailinator.com", "dep-2", 6);
    assert_eq!(
        trials::insert(store.conn(), &refused, Slots::default())
            .await
            .unwrap(),
        Ok(())
    );
    let stored = trials::get(store.conn(), refused.id).await.unwrap();
    assert_eq!(stored, refused);
    assert_eq!(stored.outcome, TrialOutcome::Refused);
    assert_eq!(stored.refusal_code.as_deref(), Some("disposable_email"));

    let err = trials::get(store.conn(), uuid::Uuid::new_v4())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");

    // References are checked.
    let mut orphan = trial("c@example.com", "dep-3", 7);
    orphan.evaluation_id = Some(uuid::Uuid::new_v4());
    let err = trials::insert(store.conn(), &orphan, Slots::default())
        .await
        .unwrap_err();
    assert_eq!(conflict(&err), Some(Conflict::MissingReference), "{err}");
}

async fn trials_slots_hold_the_once_ever_rules(kind: Kind) {
    let (_db, store) = open(kind).await;
    let (first, _) = granted(&store, "ada@example.com", "dep-1", 0).await;
    for (slot, value) in [
        (Slot::Deployment, "dep-1"),
        (Slot::Email, "ada@example.com"),
    ] {
        assert!(!trials::slot_taken(store.conn(), slot, value).await.unwrap());
    }
    assert_eq!(
        trials::insert(store.conn(), &first, BOTH).await.unwrap(),
        Ok(())
    );
    assert!(
        trials::slot_taken(store.conn(), Slot::Deployment, "dep-1")
            .await
            .unwrap()
    );
    assert!(
        trials::slot_taken(store.conn(), Slot::Email, "ada@example.com")
            .await
            .unwrap()
    );
    assert!(
        !trials::slot_taken(store.conn(), Slot::Email, "dep-1")
            .await
            .unwrap(),
        "slots are per rule"
    );
    assert!(
        !trials::slot_taken(store.conn(), Slot::Deployment, "dep-2")
            .await
            .unwrap()
    );

    // Another trial for the deployment, the email, or both, taking the slots.
    let (same_deployment, _) = granted(&store, "bob@example.com", "dep-1", 1).await;
    assert_eq!(
        trials::insert(store.conn(), &same_deployment, BOTH)
            .await
            .unwrap(),
        Err(Slot::Deployment)
    );
    let (same_email, _) = granted(&store, "ADA@example.com", "dep-2", 2).await;
    assert_eq!(
        trials::insert(store.conn(), &same_email, BOTH)
            .await
            .unwrap(),
        Err(Slot::Email)
    );
    for refused in [&same_deployment, &same_email] {
        let err = trials::get(store.conn(), refused.id).await.unwrap_err();
        assert!(
            matches!(err, StoreError::NotFound),
            "a refused insert writes nothing: {err}"
        );
    }
    assert!(
        !trials::slot_taken(store.conn(), Slot::Deployment, "dep-2")
            .await
            .unwrap(),
        "the refused trial took no slot"
    );

    // Only the slot asked for is taken: a waived rule's slot stays with its holder.
    let only_email = Slots {
        deployment: false,
        email: true,
    };
    assert_eq!(
        trials::insert(store.conn(), &same_deployment, only_email)
            .await
            .unwrap(),
        Ok(())
    );
    assert!(
        trials::slot_taken(store.conn(), Slot::Email, "bob@example.com")
            .await
            .unwrap()
    );
    // Without slots, any number of trials (refusals) share the values.
    for seconds in 3..5 {
        let refused = trial("ada@example.com", "dep-1", seconds);
        assert_eq!(
            trials::insert(store.conn(), &refused, Slots::default())
                .await
                .unwrap(),
            Ok(())
        );
    }
}

/// `insert` answers a taken slot with a value, `Ok(Err(slot))`, not an error: the caller's
/// transaction goes on (to record the refusal, say) on either backend.
async fn trials_a_refused_slot_leaves_the_transaction_usable(kind: Kind) {
    let (_db, store) = open(kind).await;
    let (first, _) = granted(&store, "ada@example.com", "dep-1", 0).await;
    trials::insert(store.conn(), &first, BOTH)
        .await
        .unwrap()
        .unwrap();
    let (second, _) = granted(&store, "bob@example.com", "dep-1", 1).await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        trials::insert(tx.conn(), &second, BOTH).await.unwrap(),
        Err(Slot::Deployment)
    );
    let refused = trial("bob@example.com", "dep-1", 1);
    let after = trials::insert(tx.conn(), &refused, Slots::default()).await;
    assert!(
        matches!(after, Ok(Ok(()))),
        "the transaction still works after a refused slot: {after:?}"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        trials::get(store.conn(), refused.id).await.unwrap(),
        refused
    );
}

/// Ten grants for one deployment at once: the unique slot lets exactly one through, on any
/// number of connections.
async fn concurrent_trials_for_one_deployment_take_its_slot_once(kind: Kind) {
    let (_db, store) = open(kind).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = store.clone();
        let mut t = trial(&format!("user{i}@example.com"), "dep-shared", i);
        t.outcome = TrialOutcome::Granted;
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let result = trials::insert(tx.conn(), &t, BOTH).await.unwrap();
            tx.commit().await.unwrap();
            result
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(Slot::Deployment))),
        "{results:?}"
    );
}

async fn trials_list_filters_and_pages(kind: Kind) {
    let (_db, store) = open(kind).await;
    let mut all = Vec::new();
    for (i, (email, deployment)) in [
        ("a@one.example", "dep-1"),
        ("b@one.example", "dep-2"),
        ("a@one.example", "dep-3"),
        ("c@two.example", "dep-1"),
        ("d@two.example", "dep-4"),
    ]
    .into_iter()
    .enumerate()
    {
        // Requested at 0, 0, 10, 10, 20: ties broken by id.
        let mut t = trial(email, deployment, 10 * (i as i64 / 2));
        if i % 2 == 1 {
            t.outcome = TrialOutcome::Granted;
            t.refusal_code = None;
            t.refusal_message = None;
        }
        trials::insert(store.conn(), &t, Slots::default())
            .await
            .unwrap()
            .unwrap();
        all.push(t);
    }
    let list = async |filter: TrialFilter| {
        let items = trials::list(store.conn(), &filter, &page(50))
            .await
            .unwrap()
            .items;
        sorted(items.into_iter().map(|t| t.id).collect::<Vec<_>>())
    };
    let ids = |picks: &[usize]| sorted(picks.iter().map(|&i| all[i].id).collect::<Vec<_>>());

    assert_eq!(list(TrialFilter::default()).await, ids(&[0, 1, 2, 3, 4]));
    assert_eq!(
        list(TrialFilter {
            email_key: Some("a@one.example".into()),
            ..Default::default()
        })
        .await,
        ids(&[0, 2])
    );
    assert_eq!(
        list(TrialFilter {
            email_domain: Some("two.example".into()),
            ..Default::default()
        })
        .await,
        ids(&[3, 4])
    );
    assert_eq!(
        list(TrialFilter {
            deployment_id: Some("dep-1".into()),
            ..Default::default()
        })
        .await,
        ids(&[0, 3])
    );
    assert_eq!(
        list(TrialFilter {
            outcome: Some(TrialOutcome::Granted),
            ..Default::default()
        })
        .await,
        ids(&[1, 3])
    );
    assert_eq!(
        list(TrialFilter {
            outcome: Some(TrialOutcome::Refused),
            ..Default::default()
        })
        .await,
        ids(&[0, 2, 4])
    );
    // `since` is inclusive, `until` exclusive.
    assert_eq!(
        list(TrialFilter {
            since: Some(at(10)),
            ..Default::default()
        })
        .await,
        ids(&[2, 3, 4])
    );
    assert_eq!(
        list(TrialFilter {
            until: Some(at(10)),
            ..Default::default()
        })
        .await,
        ids(&[0, 1])
    );
    assert_eq!(
        list(TrialFilter {
            since: Some(at(10)),
            until: Some(at(20)),
            email_domain: Some("one.example".into()),
            ..Default::default()
        })
        .await,
        ids(&[2])
    );

    let mut expected: Vec<_> = all.iter().map(|t| (t.requested_at, t.id)).collect();
    expected.sort();
    expected.reverse();
    let pages = walk(2, async |p| {
        trials::list(store.conn(), &TrialFilter::default(), &p)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let seen: Vec<_> = flat(pages)
        .into_iter()
        .map(|t| (t.requested_at, t.id))
        .collect();
    assert_eq!(seen, expected, "newest first, ties by id, each once");
}

async fn trials_confirmed_since_counts_a_domains_confirmed_grants(kind: Kind) {
    let (_db, store) = open(kind).await;
    assert_eq!(
        trials::confirmed_since(store.conn(), "one.example", at(0))
            .await
            .unwrap(),
        0
    );
    for (email, seconds, grant) in [
        ("a@one.example", 0, true),
        ("b@one.example", 10, true),
        ("c@one.example", 20, false),
        ("d@two.example", 20, true),
    ] {
        let mut t = trial(email, &format!("dep-{seconds}-{email}"), seconds);
        if grant {
            t.outcome = TrialOutcome::Granted;
            t.confirmed_at = Some(at(seconds));
        }
        trials::insert(store.conn(), &t, Slots::default())
            .await
            .unwrap()
            .unwrap();
    }
    let count = async |domain: &str, since: i64| {
        trials::confirmed_since(store.conn(), domain, at(since))
            .await
            .unwrap()
    };
    assert_eq!(count("one.example", 0).await, 2);
    assert_eq!(count("one.example", 10).await, 1, "since is inclusive");
    assert_eq!(count("one.example", 11).await, 0, "refusals do not count");
    assert_eq!(count("two.example", 0).await, 1);
    assert_eq!(count("three.example", 0).await, 0);
}

/// Ten requests of one domain at once, under a limit of three grants: each locks the domain,
/// counts, and grants only under the limit, as the service does. Exactly three are granted.
async fn trials_lock_domain_serializes_the_domain_limit(kind: Kind) {
    let (db, store) = open(kind).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = store.clone();
        let mut t = trial(&format!("user{i}@busy.example"), &format!("dep-{i}"), i);
        t.outcome = TrialOutcome::Granted;
        t.confirmed_at = Some(t.requested_at);
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            trials::lock_domain(tx.conn(), "busy.example", t.requested_at)
                .await
                .unwrap();
            let granted = trials::confirmed_since(tx.conn(), "busy.example", at(0))
                .await
                .unwrap();
            if granted >= 3 {
                tx.rollback().await.unwrap();
                return false;
            }
            trials::insert(tx.conn(), &t, BOTH).await.unwrap().unwrap();
            tx.commit().await.unwrap();
            true
        }));
    }
    let mut grants = 0;
    for task in tasks {
        grants += usize::from(task.await.unwrap());
    }
    assert_eq!(grants, 3);
    assert_eq!(
        trials::confirmed_since(store.conn(), "busy.example", at(0))
            .await
            .unwrap(),
        3
    );

    // The domain's row exists once and carries the latest lock's time.
    trials::lock_domain(store.conn(), "quiet.example", at(50))
        .await
        .unwrap();
    trials::lock_domain(store.conn(), "quiet.example", at(60))
        .await
        .unwrap();
    assert_eq!(
        scalar(
            &db,
            "SELECT touched_at FROM trial_domains WHERE domain = 'quiet.example'"
        )
        .await,
        Some(at(60).unix())
    );
    assert_eq!(
        scalar(&db, "SELECT COUNT(*) FROM trial_domains").await,
        Some(2)
    );
}

async fn trials_set_license_points_at_the_current_license(kind: Kind) {
    let (_db, store) = open(kind).await;
    let (t, account) = granted(&store, "ada@example.com", "dep-1", 0).await;
    trials::insert(store.conn(), &t, BOTH)
        .await
        .unwrap()
        .unwrap();
    let extension = issue(&store, &account, "ada@example.com", 100, |c| c.trial = true).await;
    trials::set_license(store.conn(), t.id, extension.id, at(5_000))
        .await
        .unwrap();
    let stored = trials::get(store.conn(), t.id).await.unwrap();
    assert_eq!(stored.license_id, Some(extension.id));
    assert_eq!(stored.expires_at, Some(at(5_000)));
    assert_eq!(
        TrialRecord {
            license_id: t.license_id,
            expires_at: t.expires_at,
            ..stored
        },
        t,
        "nothing else changed"
    );

    let err = trials::set_license(store.conn(), t.id, uuid::Uuid::new_v4(), at(6_000))
        .await
        .unwrap_err();
    assert_eq!(conflict(&err), Some(Conflict::MissingReference), "{err}");
    assert_eq!(
        trials::get(store.conn(), t.id).await.unwrap().license_id,
        Some(extension.id)
    );
}

/// A granted trial counts toward its domain's limit only once confirmed, and takes its email
/// slot then; every granted trial counts as mail sent (issue 12, finding 6).
async fn trials_pending_until_confirmed_and_mail_counts(kind: Kind) {
    let (_db, store) = open(kind).await;
    let (mut pending, _) = granted(&store, "a@pend.example", "dep-p1", 5).await;
    pending.confirmed_at = None;
    trials::insert(
        store.conn(),
        &pending,
        Slots {
            deployment: true,
            email: false,
        },
    )
    .await
    .unwrap()
    .unwrap();
    let license = pending.license_id.unwrap();
    assert_eq!(
        trials::confirmed_since(store.conn(), "pend.example", at(0))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        trials::mailed_to_address_since(store.conn(), "a@pend.example", at(0))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        trials::mailed_to_domain_since(store.conn(), "pend.example", at(6))
            .await
            .unwrap(),
        0
    );
    let found = trials::pending_for_license(store.conn(), license)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, pending.id);
    assert!(
        !trials::slot_taken(store.conn(), Slot::Email, "a@pend.example")
            .await
            .unwrap()
    );
    assert!(
        trials::confirm(store.conn(), pending.id, at(9), Some("a@pend.example"))
            .await
            .unwrap()
    );
    assert!(
        !trials::confirm(store.conn(), pending.id, at(9), None)
            .await
            .unwrap(),
        "once"
    );
    assert!(
        trials::pending_for_license(store.conn(), license)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        trials::slot_taken(store.conn(), Slot::Email, "a@pend.example")
            .await
            .unwrap()
    );
    assert_eq!(
        trials::confirmed_since(store.conn(), "pend.example", at(0))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        trials::get(store.conn(), pending.id)
            .await
            .unwrap()
            .confirmed_at,
        Some(at(9))
    );
}
