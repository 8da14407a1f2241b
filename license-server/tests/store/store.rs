//! `Store` itself: connect, backend, conn, begin (commit, rollback, drop), ping, close.

use crate::helpers::{Kind, account, at, new_account, on_both_backends, open, page, raw};
use license_server::store::{Backend, Store, StoreError};
use license_server::store::{accounts, audit};

on_both_backends!(
    store_connects_again_to_a_migrated_database,
    store_transactions_commit_or_roll_back,
    store_a_closed_store_is_unavailable,
    store_rows_it_cannot_read_are_corrupt,
);

async fn store_connects_again_to_a_migrated_database(kind: Kind) {
    let (db, store) = open(kind).await;
    let expected = match kind {
        Kind::Sqlite => Backend::Sqlite,
        Kind::Postgres => Backend::Postgres,
    };
    assert_eq!(store.backend(), expected);
    assert_eq!(store.conn().backend(), expected);
    let acme = account(store.conn(), "acme", 0).await;
    // A second process (a replica, a restart) finds the migrations applied and the data kept.
    let again = Store::connect(&db.database_url()).await.unwrap();
    assert_eq!(accounts::get(again.conn(), acme.id).await.unwrap(), acme);
    again.ping().await.unwrap();
}

async fn store_transactions_commit_or_roll_back(kind: Kind) {
    let (_db, store) = open(kind).await;
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.conn().backend(), store.backend());
    let rolled_back = accounts::insert(tx.conn(), &new_account("gone", 0))
        .await
        .unwrap();
    assert_eq!(
        accounts::get(tx.conn(), rolled_back.id).await.unwrap(),
        rolled_back,
        "a transaction reads its own writes"
    );
    tx.rollback().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    let dropped = accounts::insert(tx.conn(), &new_account("dropped", 0))
        .await
        .unwrap();
    drop(tx);

    let mut tx = store.begin().await.unwrap();
    let committed = accounts::insert(tx.conn(), &new_account("kept", 0))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    for gone in [rolled_back.id, dropped.id] {
        let err = accounts::get(store.conn(), gone).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err}");
    }
    assert_eq!(
        accounts::get(store.conn(), committed.id).await.unwrap(),
        committed
    );
}

async fn store_a_closed_store_is_unavailable(kind: Kind) {
    let (_db, store) = open(kind).await;
    store.ping().await.unwrap();
    let clone = store.clone();
    store.close().await;
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
    let err = accounts::get(clone.conn(), accounts::AccountId(uuid::Uuid::new_v4()))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Unavailable(_)),
        "clones share the pool: {err}"
    );
    let err = store.begin().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
}

/// Data no store function writes (another version, a hand edit) is reported as corrupt,
/// naming what could not be read, instead of failing as a database error.
async fn store_rows_it_cannot_read_are_corrupt(kind: Kind) {
    let (db, store) = open(kind).await;
    raw(
        &db,
        &format!(
            "INSERT INTO audit_log (at, actor, action, target, details) \
             VALUES ({}, 'desk', 'x.y', '', '{{not json')",
            at(0).unix()
        ),
    )
    .await;
    let err = audit::list(store.conn(), &page(10)).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt(m) if m.contains("details")),
        "{err}"
    );
    raw(
        &db,
        "INSERT INTO accounts (id, name, email, account_type, license_sequence, created_at) \
         VALUES ('not-a-uuid', 'x', 'x@example.com', 'licensor', 0, -5)",
    )
    .await;
    let err = accounts::list(store.conn(), &page(10)).await.unwrap_err();
    assert!(matches!(&err, StoreError::Corrupt(_)), "{err}");
}
