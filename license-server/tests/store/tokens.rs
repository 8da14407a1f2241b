//! `store::tokens`: insert, by_hash, revoke, touch.

use crate::helpers::{Kind, TestDb, at, conflict, on_both_backends, open, scalar};
use license_server::store::tokens::{self, AdminIdentity, NewAdminToken};
use license_server::store::{Conflict, UniqueRule};

on_both_backends!(
    tokens_authenticate_by_hash_until_revoked,
    tokens_names_and_hashes_are_unique,
    tokens_touch_records_use_at_most_once_a_minute,
);

fn token(name: &str, hash: char) -> NewAdminToken {
    NewAdminToken {
        id: uuid::Uuid::new_v4(),
        name: name.to_owned(),
        token_hash: hash.to_string().repeat(64),
        created_at: at(0),
        role: "desk".to_owned(),
    }
}

async fn tokens_authenticate_by_hash_until_revoked(kind: Kind) {
    let (_db, store) = open(kind).await;
    let desk = token("desk", 'a');
    let ops = token("ops", 'b');
    tokens::insert(store.conn(), &desk).await.unwrap();
    tokens::insert(store.conn(), &ops).await.unwrap();
    assert_eq!(
        tokens::by_hash(store.conn(), &desk.token_hash)
            .await
            .unwrap(),
        Some(AdminIdentity {
            token_id: desk.id.hyphenated().to_string(),
            name: "desk".into(),
            role: "desk".into(),
            last_used_at: None,
        })
    );
    assert_eq!(
        tokens::by_hash(store.conn(), &"c".repeat(64))
            .await
            .unwrap(),
        None
    );

    assert!(tokens::revoke(store.conn(), "desk", at(1)).await.unwrap());
    assert_eq!(
        tokens::by_hash(store.conn(), &desk.token_hash)
            .await
            .unwrap(),
        None,
        "a revoked token no longer authenticates"
    );
    assert!(
        tokens::by_hash(store.conn(), &ops.token_hash)
            .await
            .unwrap()
            .is_some(),
        "only the named token is revoked"
    );
    assert!(
        !tokens::revoke(store.conn(), "desk", at(2)).await.unwrap(),
        "already revoked"
    );
    assert!(
        !tokens::revoke(store.conn(), "nobody", at(2)).await.unwrap(),
        "no such token"
    );
}

async fn tokens_names_and_hashes_are_unique(kind: Kind) {
    let (_db, store) = open(kind).await;
    tokens::insert(store.conn(), &token("desk", 'a'))
        .await
        .unwrap();
    let err = tokens::insert(store.conn(), &token("desk", 'b'))
        .await
        .unwrap_err();
    assert_eq!(
        conflict(&err),
        Some(Conflict::Unique(UniqueRule::AdminTokenName)),
        "{err}"
    );
    assert_eq!(
        tokens::by_hash(store.conn(), &"b".repeat(64))
            .await
            .unwrap(),
        None,
        "the refused token was not stored"
    );
    let err = tokens::insert(store.conn(), &token("other", 'a'))
        .await
        .unwrap_err();
    assert_eq!(
        conflict(&err),
        Some(Conflict::Unique(UniqueRule::Other)),
        "a second token with the same hash: {err}"
    );
}

async fn last_used(db: &TestDb, id: uuid::Uuid) -> Option<i64> {
    scalar(
        db,
        &format!("SELECT last_used_at FROM admin_tokens WHERE id = '{id}'"),
    )
    .await
}

async fn tokens_touch_records_use_at_most_once_a_minute(kind: Kind) {
    let (db, store) = open(kind).await;
    let desk = token("desk", 'a');
    tokens::insert(store.conn(), &desk).await.unwrap();
    let id = desk.id.hyphenated().to_string();
    assert_eq!(last_used(&db, desk.id).await, None, "never used");

    tokens::touch(store.conn(), &id, at(100)).await.unwrap();
    assert_eq!(last_used(&db, desk.id).await, Some(at(100).unix()));
    tokens::touch(store.conn(), &id, at(160)).await.unwrap();
    assert_eq!(
        last_used(&db, desk.id).await,
        Some(at(100).unix()),
        "within the minute: not written"
    );
    tokens::touch(store.conn(), &id, at(161)).await.unwrap();
    assert_eq!(last_used(&db, desk.id).await, Some(at(161).unix()));
    tokens::touch(store.conn(), &id, at(10)).await.unwrap();
    assert_eq!(
        last_used(&db, desk.id).await,
        Some(at(161).unix()),
        "an earlier time never moves it back"
    );
    // What authentication reads says whether a use is to be recorded: within the minute of
    // the last one it is not, so a read writes nothing.
    let identity = tokens::by_hash(store.conn(), &desk.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(identity.last_used_at, Some(at(161).unix()));
    assert!(!identity.touch_due(at(161)));
    assert!(
        !identity.touch_due(at(221)),
        "touch writes only before now - 60"
    );
    assert!(identity.touch_due(at(222)));
    // An unknown token: nothing to touch, no error.
    tokens::touch(store.conn(), &uuid::Uuid::new_v4().to_string(), at(500))
        .await
        .unwrap();
}
