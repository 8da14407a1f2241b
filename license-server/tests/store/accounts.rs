//! `store::accounts`: insert, get, list, take_sequence.

use crate::helpers::{
    Kind, account, at, claims, conflict, flat, new_account, on_both_backends, open, page,
    store_license, walk,
};
use license_server::store::accounts::{self, AccountId};
use license_server::store::{Conflict, StoreError, UniqueRule};

on_both_backends!(
    accounts_insert_and_get_round_trip,
    accounts_list_pages_newest_first_without_gaps,
    accounts_take_sequence_counts_up_in_commit_order,
    concurrent_sequence_takes_are_distinct,
);

async fn accounts_insert_and_get_round_trip(kind: Kind) {
    let (_db, store) = open(kind).await;
    let mut new = new_account("acme", 5);
    new.email = "Ops@Acme.example.com".into();
    new.account_type = "salesforce".into();
    let created = accounts::insert(store.conn(), &new).await.unwrap();
    assert_eq!(created.id, new.id);
    assert_eq!(created.name, "acme");
    assert_eq!(created.email, "Ops@Acme.example.com", "stored as given");
    assert_eq!(created.account_type, "salesforce");
    assert_eq!(created.license_sequence, 0, "no license issued yet");
    assert_eq!(created.created_at, at(5));
    assert_eq!(accounts::get(store.conn(), new.id).await.unwrap(), created);

    let err = accounts::get(store.conn(), AccountId(uuid::Uuid::new_v4()))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");

    let again = accounts::insert(store.conn(), &new).await.unwrap_err();
    assert!(
        matches!(conflict(&again), Some(Conflict::Unique(UniqueRule::Other))),
        "a second account with the same id: {again}"
    );
}

async fn accounts_list_pages_newest_first_without_gaps(kind: Kind) {
    let (_db, store) = open(kind).await;
    let empty = accounts::list(store.conn(), &page(10)).await.unwrap();
    assert!(
        empty.items.is_empty() && empty.next_cursor.is_none(),
        "{empty:?}"
    );

    let mut created = Vec::new();
    for i in 0..7 {
        // Two accounts share each time, so the id must break ties.
        created.push(account(store.conn(), &format!("acct{i}"), i / 2).await);
    }
    let mut expected = created.clone();
    expected.sort_by_key(|a| std::cmp::Reverse((a.created_at, a.id)));

    let pages = walk(2, async |p| accounts::list(store.conn(), &p).await.unwrap()).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2, 1]);
    assert_eq!(flat(pages), expected, "newest first, ties by id, each once");

    // Mapping a page keeps its cursor.
    let first = accounts::list(store.conn(), &page(3)).await.unwrap();
    let cursor = first.next_cursor.clone();
    assert!(cursor.is_some());
    let names = first.map(|a| a.name);
    assert_eq!(names.next_cursor, cursor);
    assert_eq!(
        names.items,
        expected[..3]
            .iter()
            .map(|a| a.name.clone())
            .collect::<Vec<_>>()
    );

    // One page holds everything: no cursor.
    let all = accounts::list(store.conn(), &page(7)).await.unwrap();
    assert_eq!(all.items, expected);
    assert_eq!(all.next_cursor, None);
    // A limit of 0 is read as 1.
    assert_eq!(
        accounts::list(store.conn(), &page(0))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

async fn accounts_take_sequence_counts_up_in_commit_order(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    assert_eq!(
        accounts::take_sequence(store.conn(), acme.id)
            .await
            .unwrap(),
        Some((1, "licensor".to_owned()))
    );
    assert_eq!(
        accounts::take_sequence(store.conn(), acme.id)
            .await
            .unwrap(),
        Some((2, "licensor".to_owned()))
    );
    // A take rolled back gives its number back.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(
        accounts::take_sequence(tx.conn(), acme.id)
            .await
            .unwrap()
            .map(|t| t.0),
        Some(3)
    );
    tx.rollback().await.unwrap();
    assert_eq!(
        accounts::get(store.conn(), acme.id)
            .await
            .unwrap()
            .license_sequence,
        2
    );
    assert_eq!(
        accounts::take_sequence(store.conn(), acme.id)
            .await
            .unwrap()
            .map(|t| t.0),
        Some(3)
    );

    let ghost = AccountId(uuid::Uuid::new_v4());
    assert_eq!(
        accounts::take_sequence(store.conn(), ghost).await.unwrap(),
        None
    );
}

/// Ten issuing transactions on one account at once: each takes its own number, and each
/// license is stored with it (the `(account_id, sequence)` unique rule would refuse a repeat).
async fn concurrent_sequence_takes_are_distinct(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = store.clone();
        let acme = acme.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let (sequence, _) = accounts::take_sequence(tx.conn(), acme.id)
                .await
                .unwrap()
                .unwrap();
            let c = claims(&acme, "a@acme.example.com", sequence, i);
            store_license(tx.conn(), &c, None).await.unwrap();
            tx.commit().await.unwrap();
            sequence
        }));
    }
    let mut sequences = Vec::new();
    for task in tasks {
        sequences.push(task.await.unwrap());
    }
    sequences.sort_unstable();
    assert_eq!(sequences, (1..=10).collect::<Vec<u64>>());
    assert_eq!(
        accounts::get(store.conn(), acme.id)
            .await
            .unwrap()
            .license_sequence,
        10
    );
}
