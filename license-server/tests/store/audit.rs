//! `store::audit`: record, list.

use crate::helpers::{Kind, at, flat, on_both_backends, open, page, walk};
use license_server::store::audit::{self, AuditDraft};
use serde_json::json;

on_both_backends!(
    audit_entries_round_trip_newest_first,
    audit_list_pages_by_position,
    audit_entries_roll_back_with_their_transaction,
);

async fn audit_entries_round_trip_newest_first(kind: Kind) {
    let (_db, store) = open(kind).await;
    let details = json!({
        "request": { "email": "Zoë@example.com", "seats": 25, "ratio": 0.5, "tags": ["a", "b"] },
        "nothing": null,
        "quote": "say \"hi\"\n",
    });
    let first = AuditDraft::new(at(1), "desk", "license.issue", details.clone());
    audit::record(store.conn(), &first, "lic-1").await.unwrap();
    let second = AuditDraft::new(at(1), "cli", "token.create", json!({}));
    audit::record(store.conn(), &second, "").await.unwrap();

    let log = audit::list(store.conn(), &page(10)).await.unwrap();
    assert_eq!(log.next_cursor, None);
    assert_eq!(log.items.len(), 2);
    let (newest, oldest) = (&log.items[0], &log.items[1]);
    assert!(newest.id > oldest.id, "newest first: {log:?}");
    assert_eq!(
        (
            oldest.at,
            oldest.actor.as_str(),
            oldest.action.as_str(),
            oldest.target.as_str()
        ),
        (at(1), "desk", "license.issue", "lic-1")
    );
    assert_eq!(oldest.details, details, "JSON round-trips exactly");
    assert_eq!(
        (
            newest.actor.as_str(),
            newest.action.as_str(),
            newest.target.as_str()
        ),
        ("cli", "token.create", "")
    );
    assert_eq!(newest.details, json!({}));
}

async fn audit_list_pages_by_position(kind: Kind) {
    let (_db, store) = open(kind).await;
    assert!(
        audit::list(store.conn(), &page(3))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    for i in 0..5 {
        // All at one time: the position orders them.
        let entry = AuditDraft::new(at(0), "desk", "account.create", json!({ "n": i }));
        audit::record(store.conn(), &entry, &format!("t{i}"))
            .await
            .unwrap();
    }
    let pages = walk(2, async |p| audit::list(store.conn(), &p).await.unwrap()).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let targets: Vec<String> = flat(pages).into_iter().map(|e| e.target).collect();
    assert_eq!(targets, ["t4", "t3", "t2", "t1", "t0"]);
}

async fn audit_entries_roll_back_with_their_transaction(kind: Kind) {
    let (_db, store) = open(kind).await;
    let entry = AuditDraft::new(at(0), "desk", "license.revoke", json!({ "reason": "x" }));
    let mut tx = store.begin().await.unwrap();
    audit::record(tx.conn(), &entry, "gone").await.unwrap();
    tx.rollback().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    audit::record(tx.conn(), &entry, "kept").await.unwrap();
    tx.commit().await.unwrap();
    let log = audit::list(store.conn(), &page(10)).await.unwrap();
    assert_eq!(
        log.items
            .iter()
            .map(|e| e.target.as_str())
            .collect::<Vec<_>>(),
        ["kept"]
    );
}
