//! `store::idempotency`: claim, complete; and the issuing pattern they serve, under
//! concurrency.

use crate::helpers::{Kind, account, at, claims, conflict, on_both_backends, open, store_license};
use license_server::store::accounts;
use license_server::store::idempotency::{self, Claimed, IdempotencyKey};
use license_server::store::licenses::{self, LicenseFilter};
use license_server::store::{Conflict, Store};

on_both_backends!(
    idempotency_claim_reports_what_a_key_holds,
    idempotency_complete_needs_a_stored_license,
    concurrent_requests_with_one_key_issue_one_license,
);

fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text).unwrap()
}

async fn idempotency_claim_reports_what_a_key_holds(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    let order = key("order-1");

    // A claim rolled back leaves the key free.
    let mut tx = store.begin().await.unwrap();
    let first = idempotency::claim(tx.conn(), "desk", &order, "hash-a", at(1))
        .await
        .unwrap();
    assert_eq!(first, None, "a new key is claimed");
    tx.rollback().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        idempotency::claim(tx.conn(), "desk", &order, "hash-a", at(2))
            .await
            .unwrap(),
        None
    );
    tx.commit().await.unwrap();

    // Claimed but not completed: in flight.
    let in_flight = Claimed {
        request_hash: "hash-a".into(),
        license_id: None,
    };
    assert_eq!(
        idempotency::claim(store.conn(), "desk", &order, "hash-a", at(3))
            .await
            .unwrap(),
        Some(in_flight)
    );

    let license = store_license(
        store.conn(),
        &claims(&acme, "a@acme.example.com", 1, 0),
        None,
    )
    .await
    .unwrap();
    idempotency::complete(store.conn(), "desk", &order, license.id)
        .await
        .unwrap();
    let done = Claimed {
        request_hash: "hash-a".into(),
        license_id: Some(license.id),
    };
    assert_eq!(
        idempotency::claim(store.conn(), "desk", &order, "hash-a", at(4))
            .await
            .unwrap(),
        Some(done.clone())
    );
    // Another request with the same key: the first request's hash comes back, for the caller
    // to see the reuse.
    assert_eq!(
        idempotency::claim(store.conn(), "desk", &order, "hash-b", at(5))
            .await
            .unwrap(),
        Some(done)
    );
    // Keys are per actor.
    assert_eq!(
        idempotency::claim(store.conn(), "other-desk", &order, "hash-b", at(6))
            .await
            .unwrap(),
        None
    );
}

async fn idempotency_complete_needs_a_stored_license(kind: Kind) {
    let (_db, store) = open(kind).await;
    let order = key("order-2");
    assert_eq!(
        idempotency::claim(store.conn(), "desk", &order, "h", at(0))
            .await
            .unwrap(),
        None
    );
    let err = idempotency::complete(store.conn(), "desk", &order, uuid::Uuid::new_v4())
        .await
        .unwrap_err();
    assert_eq!(conflict(&err), Some(Conflict::MissingReference), "{err}");
    // Completing a key nobody claimed changes nothing and creates nothing.
    let acme = account(store.conn(), "acme", 0).await;
    let license = store_license(
        store.conn(),
        &claims(&acme, "a@acme.example.com", 1, 0),
        None,
    )
    .await
    .unwrap();
    idempotency::complete(store.conn(), "desk", &key("never-claimed"), license.id)
        .await
        .unwrap();
    assert_eq!(
        idempotency::claim(store.conn(), "desk", &key("never-claimed"), "h", at(1))
            .await
            .unwrap(),
        None
    );
}

/// Twenty requests with one key at once, each claiming the key in its issuing transaction as
/// the service does: the first issues, every other one waits on the key and then finds that
/// license. One license, one sequence number.
async fn concurrent_requests_with_one_key_issue_one_license(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        let acme = acme.clone();
        tasks.push(tokio::spawn(async move { issue_once(&store, &acme).await }));
    }
    let mut issued = Vec::new();
    for task in tasks {
        issued.push(task.await.unwrap());
    }
    let fresh: Vec<_> = issued.iter().filter(|(_, replayed)| !replayed).collect();
    assert_eq!(fresh.len(), 1, "exactly one request issued: {issued:?}");
    let id = fresh[0].0;
    assert!(
        issued.iter().all(|(license, _)| *license == id),
        "every request names the one license: {issued:?}"
    );
    let all = licenses::list(
        store.conn(),
        &LicenseFilter::default(),
        &crate::helpers::page(100),
    )
    .await
    .unwrap();
    assert_eq!(all.items.len(), 1);
    assert_eq!(
        accounts::get(store.conn(), acme.id)
            .await
            .unwrap()
            .license_sequence,
        1
    );
}

/// The service's issuing transaction under an idempotency key: the license and whether it
/// was a replay.
async fn issue_once(store: &Store, acme: &accounts::Account) -> (uuid::Uuid, bool) {
    let order = key("same");
    let mut tx = store.begin().await.unwrap();
    if let Some(claimed) = idempotency::claim(tx.conn(), "desk", &order, "h", at(1))
        .await
        .unwrap()
    {
        tx.rollback().await.unwrap();
        assert_eq!(claimed.request_hash, "h");
        let id = claimed
            .license_id
            .expect("a claim waits for the holder to commit, so it sees the license");
        return (licenses::get(store.conn(), id).await.unwrap().id, true);
    }
    let (sequence, _) = accounts::take_sequence(tx.conn(), acme.id)
        .await
        .unwrap()
        .unwrap();
    let license = store_license(
        tx.conn(),
        &claims(acme, "a@acme.example.com", sequence, 1),
        None,
    )
    .await
    .unwrap();
    idempotency::complete(tx.conn(), "desk", &order, license.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (license.id, false)
}
