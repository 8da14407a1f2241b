//! `store::evaluations`: insert, get, list, end, active_for.

use crate::helpers::{
    Kind, account, at, conflict, flat, on_both_backends, open, page, sorted, walk,
};
use license_server::store::accounts::AccountId;
use license_server::store::evaluations::{self, EvaluationSubject, NewEvaluation};
use license_server::store::{Conflict, StoreError};

on_both_backends!(
    evaluations_insert_and_get_round_trip_each_subject,
    evaluations_end_once,
    evaluations_list_in_force_and_pages,
    evaluations_active_for_finds_the_newest_covering_one,
    evaluations_active_for_matches_an_account_email_in_any_case,
);

/// An enrollment of `subject` from `at(starts)` until `at(ends)`, created at `at(created)`.
fn enrollment(subject: EvaluationSubject, starts: i64, ends: i64, created: i64) -> NewEvaluation {
    NewEvaluation {
        id: uuid::Uuid::new_v4(),
        subject,
        reason: "design partner".into(),
        approved_by: "vp-sales".into(),
        starts_at: at(starts),
        ends_at: at(ends),
        waives: vec!["domain_limit".into(), "once_per_email".into()],
        max_term_days: Some(90),
        user_limit: Some(500),
        created_at: at(created),
        created_by: "desk".into(),
    }
}

fn domain(d: &str) -> EvaluationSubject {
    EvaluationSubject::EmailDomain(d.into())
}

async fn evaluations_insert_and_get_round_trip_each_subject(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    for subject in [
        EvaluationSubject::Account(acme.id),
        EvaluationSubject::Email("ada@example.com".into()),
        domain("example.org"),
    ] {
        let new = enrollment(subject, 0, 1_000, 1);
        let stored = evaluations::insert(store.conn(), &new).await.unwrap();
        assert_eq!(stored.id, new.id);
        assert_eq!(stored.subject, new.subject);
        assert_eq!(
            (
                stored.reason.as_str(),
                stored.approved_by.as_str(),
                stored.created_by.as_str()
            ),
            ("design partner", "vp-sales", "desk")
        );
        assert_eq!(
            (stored.starts_at, stored.ends_at, stored.created_at),
            (at(0), at(1_000), at(1))
        );
        assert_eq!(stored.waives, ["domain_limit", "once_per_email"]);
        assert_eq!(
            (stored.max_term_days, stored.user_limit),
            (Some(90), Some(500))
        );
        assert_eq!(
            (
                stored.ended_at,
                stored.ended_by.clone(),
                stored.end_reason.clone()
            ),
            (None, None, None)
        );
        assert_eq!(
            evaluations::get(store.conn(), new.id).await.unwrap(),
            stored
        );
    }
    // Nothing waived, no extras.
    let mut bare = enrollment(domain("bare.example"), 0, 10, 2);
    bare.waives.clear();
    bare.max_term_days = None;
    bare.user_limit = None;
    let stored = evaluations::insert(store.conn(), &bare).await.unwrap();
    assert!(stored.waives.is_empty());
    assert_eq!((stored.max_term_days, stored.user_limit), (None, None));

    let err = evaluations::get(store.conn(), uuid::Uuid::new_v4())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
    let ghost = enrollment(
        EvaluationSubject::Account(AccountId(uuid::Uuid::new_v4())),
        0,
        10,
        3,
    );
    let err = evaluations::insert(store.conn(), &ghost).await.unwrap_err();
    assert_eq!(conflict(&err), Some(Conflict::MissingReference), "{err}");
}

async fn evaluations_end_once(kind: Kind) {
    let (_db, store) = open(kind).await;
    let new = enrollment(domain("example.org"), 0, 1_000, 0);
    let stored = evaluations::insert(store.conn(), &new).await.unwrap();
    assert!(stored.is_active(at(500)));

    let ended = evaluations::end(store.conn(), new.id, at(500), "desk", "deal closed")
        .await
        .unwrap()
        .expect("an enrollment in force is ended");
    assert_eq!(ended.ended_at, Some(at(500)));
    assert_eq!(ended.ended_by.as_deref(), Some("desk"));
    assert_eq!(ended.end_reason.as_deref(), Some("deal closed"));
    assert!(!ended.is_active(at(600)));
    assert_eq!(evaluations::get(store.conn(), new.id).await.unwrap(), ended);

    let again = evaluations::end(store.conn(), new.id, at(700), "ops", "again")
        .await
        .unwrap();
    assert_eq!(again, None, "ended already");
    assert_eq!(
        evaluations::get(store.conn(), new.id).await.unwrap(),
        ended,
        "the first end stands"
    );
    let err = evaluations::end(store.conn(), uuid::Uuid::new_v4(), at(1), "desk", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");
}

async fn evaluations_list_in_force_and_pages(kind: Kind) {
    let (_db, store) = open(kind).await;
    // (starts, ends, created); created times tie in pairs.
    let windows = [
        (0, 100, 0),
        (50, 150, 0),
        (100, 200, 1),
        (0, 1_000, 1),
        (0, 1_000, 2),
    ];
    let mut all = Vec::new();
    for (i, (starts, ends, created)) in windows.into_iter().enumerate() {
        let new = enrollment(domain(&format!("d{i}.example")), starts, ends, created);
        all.push(evaluations::insert(store.conn(), &new).await.unwrap());
    }
    evaluations::end(store.conn(), all[4].id, at(10), "desk", "ended")
        .await
        .unwrap();

    let in_force = async |when: Option<i64>| {
        let items = evaluations::list(store.conn(), when.map(at), &page(50))
            .await
            .unwrap()
            .items;
        sorted(items.into_iter().map(|e| e.id).collect::<Vec<_>>())
    };
    let ids = |picks: &[usize]| sorted(picks.iter().map(|&i| all[i].id).collect::<Vec<_>>());
    assert_eq!(
        in_force(None).await,
        ids(&[0, 1, 2, 3, 4]),
        "without a time: all"
    );
    // Starts are inclusive, ends exclusive, ended enrollments out.
    assert_eq!(in_force(Some(100)).await, ids(&[1, 2, 3]));
    assert_eq!(in_force(Some(99)).await, ids(&[0, 1, 3]));
    assert_eq!(in_force(Some(5_000)).await, Vec::<uuid::Uuid>::new());

    let mut expected: Vec<_> = all.iter().map(|e| (e.created_at, e.id)).collect();
    expected.sort();
    expected.reverse();
    let pages = walk(2, async |p| {
        evaluations::list(store.conn(), None, &p).await.unwrap()
    })
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let seen: Vec<_> = flat(pages)
        .into_iter()
        .map(|e| (e.created_at, e.id))
        .collect();
    assert_eq!(seen, expected, "newest first, ties by id, each once");
    let pages = walk(1, async |p| {
        evaluations::list(store.conn(), Some(at(100)), &p)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(pages.len(), 3, "paging composes with the time filter");
}

async fn evaluations_active_for_finds_the_newest_covering_one(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await; // acme@example.com
    let find = async |key: &str, dom: &str, account_email: &str, when: i64| {
        evaluations::active_for(store.conn(), key, dom, account_email, at(when))
            .await
            .unwrap()
            .map(|e| e.id)
    };
    assert_eq!(
        find("ada@example.org", "example.org", "ada@example.org", 50).await,
        None
    );

    let by_email = evaluations::insert(
        store.conn(),
        &enrollment(
            EvaluationSubject::Email("ada@example.org".into()),
            0,
            100,
            0,
        ),
    )
    .await
    .unwrap();
    let by_domain =
        evaluations::insert(store.conn(), &enrollment(domain("example.org"), 50, 200, 1))
            .await
            .unwrap();
    let by_account = evaluations::insert(
        store.conn(),
        &enrollment(EvaluationSubject::Account(acme.id), 0, 100, 2),
    )
    .await
    .unwrap();

    assert_eq!(
        find("ada@example.org", "example.org", "ada@example.org", 10).await,
        Some(by_email.id)
    );
    assert_eq!(
        find("ada@example.org", "example.org", "ada@example.org", 60).await,
        Some(by_domain.id),
        "the newest of two that cover"
    );
    assert_eq!(
        find("bob@example.org", "example.org", "bob@example.org", 150).await,
        Some(by_domain.id),
        "the domain covers every address"
    );
    assert_eq!(
        find("bob@example.org", "example.org", "bob@example.org", 10).await,
        None,
        "not started"
    );
    assert_eq!(
        find("bob@example.org", "example.org", "bob@example.org", 200).await,
        None,
        "over"
    );
    assert_eq!(
        find("acme@example.com", "example.com", "acme@example.com", 10).await,
        Some(by_account.id),
        "an account covers its email address"
    );
    assert_eq!(
        find("zed@example.com", "example.com", "zed@example.com", 10).await,
        None
    );

    evaluations::end(store.conn(), by_domain.id, at(55), "desk", "ended")
        .await
        .unwrap();
    assert_eq!(
        find("ada@example.org", "example.org", "ada@example.org", 60).await,
        Some(by_email.id),
        "an ended enrollment no longer covers"
    );
}

/// An account's enrollment covers trial requests from its email address whatever its case
/// (the service passes the address lowercased, as Rust folds it), non-ASCII letters included,
/// on both backends alike.
async fn evaluations_active_for_matches_an_account_email_in_any_case(kind: Kind) {
    let (_db, store) = open(kind).await;
    let mut new = crate::helpers::new_account("olaf", 0);
    new.email = "ÖLAF.Ærø@Example.DE".into();
    let olaf = license_server::store::accounts::insert(store.conn(), &new)
        .await
        .unwrap();
    let enrolled = evaluations::insert(
        store.conn(),
        &enrollment(EvaluationSubject::Account(olaf.id), 0, 100, 0),
    )
    .await
    .unwrap();
    let account_email = new.email.to_lowercase();
    assert_eq!(account_email, "ölaf.ærø@example.de");
    let found = evaluations::active_for(
        store.conn(),
        &account_email,
        "example.de",
        &account_email,
        at(10),
    )
    .await
    .unwrap();
    assert_eq!(found.map(|e| e.id), Some(enrolled.id));
}
