//! `store::outbox`: insert, claim, mark_sent, mark_failed, list, retry, counts.

use crate::helpers::{
    Kind, account, at, conflict, flat, issue, on_both_backends, open, page, sorted, walk,
};
use license_core::Timestamp;
use license_server::store::outbox::{self, DeliveryFailure, NewMessage, OutboxEntry, OutboxState};
use license_server::store::{Conflict, Store, StoreError, UniqueRule};

on_both_backends!(
    outbox_insert_list_and_count,
    outbox_claim_leases_due_messages_oldest_first,
    outbox_a_lost_lease_fences_its_old_owner,
    outbox_mark_failed_retries_then_gives_up,
    outbox_retry_requeues_only_dead_messages,
    concurrent_workers_claim_each_message_once,
);

/// A message to `to`, queued at `at(seconds)`.
fn message(to: &str, seconds: i64) -> NewMessage {
    let id = uuid::Uuid::new_v4();
    NewMessage {
        id,
        kind: "license".into(),
        license_id: None,
        sender: "licenses@licensor.test".into(),
        recipient: to.to_owned(),
        subject: format!("Your license ({to})"),
        message_id: format!("<{id}@licensor.test>"),
        raw: format!("Subject: Your license\r\nTo: {to}\r\n\r\nBody ✓\r\n"),
        created_at: at(seconds),
    }
}

fn failure(retry_at: Timestamp, permanent: bool) -> DeliveryFailure {
    DeliveryFailure {
        error: if permanent {
            "550 no such user"
        } else {
            "421 try later"
        }
        .into(),
        permanent,
        retry_at,
        max_attempts: 3,
    }
}

async fn entry(store: &Store, id: uuid::Uuid) -> OutboxEntry {
    let all = outbox::list(store.conn(), None, &page(500))
        .await
        .unwrap()
        .items;
    all.into_iter()
        .find(|e| e.id == id)
        .expect("the message is listed")
}

async fn outbox_insert_list_and_count(kind: Kind) {
    let (_db, store) = open(kind).await;
    assert!(outbox::counts(store.conn()).await.unwrap().is_empty());
    let acme = account(store.conn(), "acme", 0).await;
    let license = issue(&store, &acme, "a@acme.example.com", 0, |_| {}).await;
    let mut with_license = message("a@acme.example.com", 10);
    with_license.license_id = Some(license.id);
    outbox::insert(store.conn(), &with_license).await.unwrap();
    let mut queued = vec![with_license.clone()];
    for i in 0..4 {
        // Two messages share each time: the id breaks ties.
        let m = message(&format!("u{i}@example.com"), 20 + i / 2);
        outbox::insert(store.conn(), &m).await.unwrap();
        queued.push(m);
    }

    let listed = entry(&store, with_license.id).await;
    assert_eq!(
        listed,
        OutboxEntry {
            id: with_license.id,
            kind: "license".into(),
            license_id: Some(license.id),
            recipient: "a@acme.example.com".into(),
            subject: "Your license (a@acme.example.com)".into(),
            message_id: with_license.message_id.clone(),
            state: OutboxState::Pending,
            attempts: 0,
            next_attempt_at: at(10),
            last_error: None,
            last_error_permanent: false,
            created_at: at(10),
            sent_at: None,
        },
        "due when queued"
    );

    let mut expected: Vec<_> = queued.iter().map(|m| (m.created_at, m.id)).collect();
    expected.sort();
    expected.reverse();
    let pages = walk(2, async |p| {
        outbox::list(store.conn(), None, &p).await.unwrap()
    })
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let seen: Vec<_> = flat(pages)
        .into_iter()
        .map(|e| (e.created_at, e.id))
        .collect();
    assert_eq!(seen, expected, "newest first, ties by id, each once");

    // One sent, one dead.
    let first = outbox::claim(store.conn(), "w", at(100), at(160))
        .await
        .unwrap()
        .unwrap();
    assert!(
        outbox::mark_sent(store.conn(), first.id, "w", at(101))
            .await
            .unwrap()
    );
    let second = outbox::claim(store.conn(), "w", at(100), at(160))
        .await
        .unwrap()
        .unwrap();
    outbox::mark_failed(store.conn(), second.id, "w", &failure(at(200), true))
        .await
        .unwrap();
    let in_state = async |state: OutboxState| {
        let items = outbox::list(store.conn(), Some(state), &page(50))
            .await
            .unwrap()
            .items;
        sorted(items.into_iter().map(|e| e.id).collect::<Vec<_>>())
    };
    assert_eq!(in_state(OutboxState::Sent).await, [first.id]);
    assert_eq!(in_state(OutboxState::Dead).await, [second.id]);
    assert_eq!(in_state(OutboxState::Pending).await.len(), 3);
    assert!(in_state(OutboxState::Sending).await.is_empty());
    assert_eq!(
        sorted(outbox::counts(store.conn()).await.unwrap()),
        [
            (OutboxState::Pending, 3),
            (OutboxState::Sent, 1),
            (OutboxState::Dead, 1)
        ]
    );

    // The Message-ID is unique, and a license must exist.
    let mut twin = message("x@example.com", 30);
    twin.message_id = with_license.message_id.clone();
    let err = outbox::insert(store.conn(), &twin).await.unwrap_err();
    assert_eq!(
        conflict(&err),
        Some(Conflict::Unique(UniqueRule::Other)),
        "{err}"
    );
    let mut orphan = message("x@example.com", 30);
    orphan.license_id = Some(uuid::Uuid::new_v4());
    let err = outbox::insert(store.conn(), &orphan).await.unwrap_err();
    assert_eq!(conflict(&err), Some(Conflict::MissingReference), "{err}");
}

async fn outbox_claim_leases_due_messages_oldest_first(kind: Kind) {
    let (_db, store) = open(kind).await;
    let older = message("a@example.com", 10);
    let newer = message("b@example.com", 20);
    outbox::insert(store.conn(), &newer).await.unwrap();
    outbox::insert(store.conn(), &older).await.unwrap();

    assert_eq!(
        outbox::claim(store.conn(), "w1", at(5), at(65))
            .await
            .unwrap(),
        None,
        "nothing due yet"
    );
    let claimed = outbox::claim(store.conn(), "w1", at(15), at(75))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, older.id, "only the due one");
    assert_eq!(
        (claimed.sender.as_str(), claimed.recipient.as_str()),
        ("licenses@licensor.test", "a@example.com")
    );
    assert_eq!(claimed.message_id, older.message_id);
    assert_eq!(
        claimed.raw, older.raw,
        "the message is returned byte for byte"
    );
    assert_eq!(claimed.attempts, 1);
    let leased = entry(&store, older.id).await;
    assert_eq!(leased.state, OutboxState::Sending);
    assert_eq!(leased.next_attempt_at, at(75), "the lease's end");
    assert_eq!(leased.attempts, 1);

    let next = outbox::claim(store.conn(), "w2", at(30), at(90))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        next.id, newer.id,
        "a leased message is not handed out again"
    );
    assert_eq!(
        outbox::claim(store.conn(), "w3", at(30), at(90))
            .await
            .unwrap(),
        None
    );

    // The first lease runs out (its worker died): the message is due again, attempt two.
    let again = outbox::claim(store.conn(), "w3", at(75), at(135))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (older.id, 2));
}

async fn outbox_a_lost_lease_fences_its_old_owner(kind: Kind) {
    let (_db, store) = open(kind).await;
    let m = message("a@example.com", 0);
    outbox::insert(store.conn(), &m).await.unwrap();
    outbox::claim(store.conn(), "slow", at(0), at(60))
        .await
        .unwrap()
        .unwrap();
    let taken = outbox::claim(store.conn(), "fast", at(60), at(120))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.id, m.id);

    assert!(
        !outbox::mark_sent(store.conn(), m.id, "slow", at(61))
            .await
            .unwrap()
    );
    assert_eq!(
        outbox::mark_failed(store.conn(), m.id, "slow", &failure(at(100), false))
            .await
            .unwrap(),
        None
    );
    let still = entry(&store, m.id).await;
    assert_eq!(
        (still.state, still.attempts, still.next_attempt_at),
        (OutboxState::Sending, 2, at(120))
    );

    assert!(
        outbox::mark_sent(store.conn(), m.id, "fast", at(62))
            .await
            .unwrap()
    );
    let sent = entry(&store, m.id).await;
    assert_eq!(sent.state, OutboxState::Sent);
    assert_eq!(sent.sent_at, Some(at(62)));
    assert!(
        !outbox::mark_sent(store.conn(), m.id, "fast", at(63))
            .await
            .unwrap(),
        "sent once"
    );
    assert_eq!(entry(&store, m.id).await.sent_at, Some(at(62)));
    assert_eq!(
        outbox::claim(store.conn(), "any", at(10_000), at(10_060))
            .await
            .unwrap(),
        None,
        "a sent message is never due"
    );
    assert!(
        !outbox::mark_sent(store.conn(), uuid::Uuid::new_v4(), "fast", at(64))
            .await
            .unwrap()
    );
}

async fn outbox_mark_failed_retries_then_gives_up(kind: Kind) {
    let (_db, store) = open(kind).await;
    let m = message("a@example.com", 0);
    outbox::insert(store.conn(), &m).await.unwrap();

    // Attempts 1 and 2 fail for now: back to pending, due at the retry time.
    for (attempt, now) in [(1, 0), (2, 100)] {
        let claimed = outbox::claim(store.conn(), "w", at(now), at(now + 60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.attempts, attempt);
        let state = outbox::mark_failed(store.conn(), m.id, "w", &failure(at(now + 100), false))
            .await
            .unwrap();
        assert_eq!(state, Some(OutboxState::Pending));
        let e = entry(&store, m.id).await;
        assert_eq!(e.next_attempt_at, at(now + 100));
        assert_eq!(e.last_error.as_deref(), Some("421 try later"));
        assert!(!e.last_error_permanent);
        assert_eq!(
            outbox::claim(store.conn(), "w", at(now + 99), at(now + 159))
                .await
                .unwrap(),
            None,
            "not before its retry time"
        );
    }
    // Attempt 3 of 3 fails: dead.
    outbox::claim(store.conn(), "w", at(200), at(260))
        .await
        .unwrap()
        .unwrap();
    let state = outbox::mark_failed(store.conn(), m.id, "w", &failure(at(300), false))
        .await
        .unwrap();
    assert_eq!(state, Some(OutboxState::Dead));
    assert_eq!(
        outbox::claim(store.conn(), "w", at(10_000), at(10_060))
            .await
            .unwrap(),
        None
    );

    // A permanent refusal is dead at once, whatever the attempts.
    let refused = message("b@example.com", 0);
    outbox::insert(store.conn(), &refused).await.unwrap();
    outbox::claim(store.conn(), "w", at(0), at(60))
        .await
        .unwrap()
        .unwrap();
    let state = outbox::mark_failed(store.conn(), refused.id, "w", &failure(at(100), true))
        .await
        .unwrap();
    assert_eq!(state, Some(OutboxState::Dead));
    let e = entry(&store, refused.id).await;
    assert_eq!((e.attempts, e.last_error_permanent), (1, true));
    assert_eq!(e.last_error.as_deref(), Some("550 no such user"));

    // A later success clears the last error.
    let flaky = message("c@example.com", 0);
    outbox::insert(store.conn(), &flaky).await.unwrap();
    outbox::claim(store.conn(), "w", at(0), at(60))
        .await
        .unwrap()
        .unwrap();
    outbox::mark_failed(store.conn(), flaky.id, "w", &failure(at(10), false))
        .await
        .unwrap();
    outbox::claim(store.conn(), "w", at(10), at(70))
        .await
        .unwrap()
        .unwrap();
    assert!(
        outbox::mark_sent(store.conn(), flaky.id, "w", at(11))
            .await
            .unwrap()
    );
    let e = entry(&store, flaky.id).await;
    assert_eq!(
        (e.state, e.last_error, e.last_error_permanent),
        (OutboxState::Sent, None, false)
    );

    assert_eq!(
        outbox::mark_failed(
            store.conn(),
            uuid::Uuid::new_v4(),
            "w",
            &failure(at(1), false)
        )
        .await
        .unwrap(),
        None
    );
}

async fn outbox_retry_requeues_only_dead_messages(kind: Kind) {
    let (_db, store) = open(kind).await;
    let dead = message("a@example.com", 0);
    let pending = message("b@example.com", 50);
    outbox::insert(store.conn(), &dead).await.unwrap();
    outbox::insert(store.conn(), &pending).await.unwrap();
    outbox::claim(store.conn(), "w", at(0), at(60))
        .await
        .unwrap()
        .unwrap();
    outbox::mark_failed(store.conn(), dead.id, "w", &failure(at(100), true))
        .await
        .unwrap();

    let retried = outbox::retry(store.conn(), dead.id, at(500))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retried.id, dead.id);
    assert_eq!(retried.state, OutboxState::Pending);
    assert_eq!(retried.attempts, 0, "attempts start over");
    assert_eq!(retried.next_attempt_at, at(500));
    assert_eq!(entry(&store, dead.id).await, retried);
    let claimed = outbox::claim(store.conn(), "w", at(500), at(560))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (claimed.id, claimed.attempts),
        (pending.id, 1),
        "the older due one first"
    );
    let claimed = outbox::claim(store.conn(), "w", at(500), at(560))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((claimed.id, claimed.attempts), (dead.id, 1));

    assert_eq!(
        outbox::retry(store.conn(), pending.id, at(600))
            .await
            .unwrap(),
        None,
        "not dead"
    );
    let err = outbox::retry(store.conn(), uuid::Uuid::new_v4(), at(600))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
}

/// Eight workers drain twenty messages at once: each message goes to exactly one of them.
async fn concurrent_workers_claim_each_message_once(kind: Kind) {
    let (_db, store) = open(kind).await;
    let mut queued = Vec::new();
    for i in 0..20 {
        let m = message(&format!("u{i}@example.com"), i % 3);
        outbox::insert(store.conn(), &m).await.unwrap();
        queued.push(m.id);
    }
    let mut workers = Vec::new();
    for w in 0..8 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let owner = format!("worker-{w}");
            let mut mine = Vec::new();
            while let Some(m) = outbox::claim(store.conn(), &owner, at(10), at(70))
                .await
                .unwrap()
            {
                assert!(
                    outbox::mark_sent(store.conn(), m.id, &owner, at(11))
                        .await
                        .unwrap()
                );
                mine.push(m.id);
            }
            mine
        }));
    }
    let mut delivered = Vec::new();
    for worker in workers {
        delivered.extend(worker.await.unwrap());
    }
    assert_eq!(sorted(delivered), sorted(queued), "each message once");
    assert_eq!(
        outbox::counts(store.conn()).await.unwrap(),
        [(OutboxState::Sent, 20)]
    );
}
