//! `store::deployments`: record_checkin, get, list, checkins, seen_counts.

use crate::helpers::{
    Kind, account, at, conflict, flat, issue, on_both_backends, open, page, sorted, walk,
};
use license_core::LicenseId;
use license_server::store::accounts::AccountId;
use license_server::store::deployments::{self, CheckinDraft, DeploymentFilter};
use license_server::store::{Conflict, StoreError};

on_both_backends!(
    deployments_record_checkin_creates_then_updates,
    deployments_checkins_page_newest_first,
    deployments_list_filters_and_pages,
    deployments_seen_counts_count_deployments_per_license,
);

/// A check-in of `deployment` at `at(seconds)` reporting `users` users.
fn checkin(deployment: &str, seconds: i64, users: u64) -> CheckinDraft {
    CheckinDraft {
        deployment_id: deployment.to_owned(),
        at: at(seconds),
        active_users: users,
        product_version: "2.18.0".into(),
        license_ids: Vec::new(),
        known_license_ids: Vec::new(),
        user_limit: None,
        trial: false,
        account_id: None,
        client_address: None,
    }
}

async fn deployments_record_checkin_creates_then_updates(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    let license = issue(&store, &acme, "a@acme.example.com", 0, |_| {}).await;
    let foreign: LicenseId = uuid::Uuid::new_v4();

    let mut first = checkin("dep-1", 100, 12);
    first.license_ids = vec![license.id, foreign];
    first.known_license_ids = vec![license.id];
    first.user_limit = Some(10);
    first.trial = true;
    first.account_id = Some(acme.id);
    first.client_address = Some("192.0.2.7".into());
    let d = deployments::record_checkin(store.conn(), &first)
        .await
        .unwrap();
    assert_eq!(d.id, "dep-1");
    assert_eq!((d.first_seen_at, d.last_seen_at), (at(100), at(100)));
    assert_eq!((d.product_version.as_str(), d.active_users), ("2.18.0", 12));
    assert_eq!(d.license_ids, [license.id.to_string(), foreign.to_string()]);
    assert_eq!(d.user_limit, Some(10));
    assert!(d.over_seat_limit, "12 users on 10 seats");
    assert!(d.trial);
    assert_eq!(d.account_id, Some(acme.id));
    assert_eq!(d.checkins, 1);
    assert_eq!(deployments::get(store.conn(), "dep-1").await.unwrap(), d);

    // A later check-in replaces what it reports, keeps the first sighting and the account.
    let mut second = checkin("dep-1", 200, 10);
    second.user_limit = Some(10);
    second.product_version = "2.19.1".into();
    let d = deployments::record_checkin(store.conn(), &second)
        .await
        .unwrap();
    assert_eq!((d.first_seen_at, d.last_seen_at), (at(100), at(200)));
    assert_eq!((d.product_version.as_str(), d.active_users), ("2.19.1", 10));
    assert!(!d.over_seat_limit, "10 users on 10 seats");
    assert!(!d.trial);
    assert!(d.license_ids.is_empty());
    assert_eq!(
        d.account_id,
        Some(acme.id),
        "an unknown account does not erase a known one"
    );
    assert_eq!(d.checkins, 2);

    // A check-in that arrives late never moves the last sighting back.
    let d = deployments::record_checkin(store.conn(), &checkin("dep-1", 150, 1))
        .await
        .unwrap();
    assert_eq!(d.last_seen_at, at(200));
    assert_eq!(d.checkins, 3);
    assert_eq!(deployments::get(store.conn(), "dep-1").await.unwrap(), d);

    let err = deployments::get(store.conn(), "dep-unknown")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err}");

    // A known license must exist: the whole check-in is refused in its transaction.
    let mut bad = checkin("dep-2", 300, 1);
    bad.known_license_ids = vec![foreign];
    let mut tx = store.begin().await.unwrap();
    let err = deployments::record_checkin(tx.conn(), &bad)
        .await
        .unwrap_err();
    assert_eq!(conflict(&err), Some(Conflict::MissingReference), "{err}");
    drop(tx);
    assert!(matches!(
        deployments::get(store.conn(), "dep-2").await,
        Err(StoreError::NotFound)
    ));
}

async fn deployments_checkins_page_newest_first(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    let license = issue(&store, &acme, "a@acme.example.com", 0, |_| {}).await;
    for i in 0..5 {
        let mut c = checkin("dep-1", 100 + i, i as u64);
        c.license_ids = vec![license.id];
        c.client_address = (i % 2 == 0).then(|| format!("192.0.2.{i}"));
        deployments::record_checkin(store.conn(), &c).await.unwrap();
        deployments::record_checkin(store.conn(), &checkin("dep-other", 100 + i, 1))
            .await
            .unwrap();
    }
    let pages = walk(2, async |p| {
        deployments::checkins(store.conn(), "dep-1", &p)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let history = flat(pages);
    assert_eq!(
        history.iter().map(|c| c.active_users).collect::<Vec<_>>(),
        [4, 3, 2, 1, 0],
        "newest first, only this deployment's"
    );
    assert!(history.windows(2).all(|w| w[0].id > w[1].id));
    let newest = &history[0];
    assert_eq!(newest.at, at(104));
    assert_eq!(newest.product_version, "2.18.0");
    assert_eq!(newest.license_ids, [license.id.to_string()]);
    assert_eq!(newest.client_address.as_deref(), Some("192.0.2.4"));
    assert_eq!(history[1].client_address, None);
    assert!(
        deployments::checkins(store.conn(), "dep-none", &page(10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

async fn deployments_list_filters_and_pages(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    // (id, last seen, users, seats, trial, account)
    let rows = [
        ("dep-a", 100, 5, Some(10), false, Some(acme.id)),
        ("dep-b", 100, 20, Some(10), false, Some(acme.id)),
        ("dep-c", 200, 1, None, true, None),
        ("dep-d", 300, 11, Some(10), true, None),
        ("dep-e", 300, 1, Some(10), false, None),
    ];
    for (id, seconds, users, seats, trial, account_id) in rows {
        let mut c = checkin(id, seconds, users);
        c.user_limit = seats;
        c.trial = trial;
        c.account_id = account_id;
        deployments::record_checkin(store.conn(), &c).await.unwrap();
    }
    let list = async |filter: DeploymentFilter| {
        let items = deployments::list(store.conn(), &filter, &page(50))
            .await
            .unwrap()
            .items;
        sorted(items.into_iter().map(|d| d.id).collect::<Vec<_>>())
    };
    assert_eq!(
        list(DeploymentFilter::default()).await,
        ["dep-a", "dep-b", "dep-c", "dep-d", "dep-e"]
    );
    assert_eq!(
        list(DeploymentFilter {
            not_seen_since: Some(at(200)),
            ..Default::default()
        })
        .await,
        ["dep-a", "dep-b"],
        "not seen since: strictly before"
    );
    assert_eq!(
        list(DeploymentFilter {
            over_seat_limit: Some(true),
            ..Default::default()
        })
        .await,
        ["dep-b", "dep-d"]
    );
    assert_eq!(
        list(DeploymentFilter {
            over_seat_limit: Some(false),
            ..Default::default()
        })
        .await,
        ["dep-a", "dep-c", "dep-e"]
    );
    assert_eq!(
        list(DeploymentFilter {
            trial: Some(true),
            ..Default::default()
        })
        .await,
        ["dep-c", "dep-d"]
    );
    assert_eq!(
        list(DeploymentFilter {
            account_id: Some(acme.id),
            ..Default::default()
        })
        .await,
        ["dep-a", "dep-b"]
    );
    assert_eq!(
        list(DeploymentFilter {
            account_id: Some(AccountId(uuid::Uuid::new_v4())),
            ..Default::default()
        })
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        list(DeploymentFilter {
            over_seat_limit: Some(true),
            trial: Some(false),
            account_id: Some(acme.id),
            not_seen_since: Some(at(101)),
        })
        .await,
        ["dep-b"]
    );

    let pages = walk(2, async |p| {
        deployments::list(store.conn(), &DeploymentFilter::default(), &p)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let seen: Vec<_> = flat(pages).into_iter().map(|d| d.id).collect();
    assert_eq!(
        seen,
        ["dep-e", "dep-d", "dep-c", "dep-b", "dep-a"],
        "most recently seen first, ties by id, each once"
    );
}

async fn deployments_seen_counts_count_deployments_per_license(kind: Kind) {
    let (_db, store) = open(kind).await;
    let acme = account(store.conn(), "acme", 0).await;
    let shared = issue(&store, &acme, "a@acme.example.com", 0, |_| {})
        .await
        .id;
    let single = issue(&store, &acme, "a@acme.example.com", 0, |_| {})
        .await
        .id;
    let unseen = issue(&store, &acme, "a@acme.example.com", 0, |_| {})
        .await
        .id;
    for (deployment, seconds, known) in [
        ("dep-1", 100, vec![shared, single]),
        ("dep-2", 200, vec![shared]),
        ("dep-3", 300, vec![shared]),
        // Seen again from dep-1: still one deployment, now last seen at 400.
        ("dep-1", 400, vec![single]),
    ] {
        let mut c = checkin(deployment, seconds, 1);
        c.license_ids = known.clone();
        c.known_license_ids = known;
        deployments::record_checkin(store.conn(), &c).await.unwrap();
    }
    let counts = async |ids: &[LicenseId], since: i64| {
        sorted(
            deployments::seen_counts(store.conn(), ids, at(since))
                .await
                .unwrap(),
        )
    };
    assert_eq!(
        counts(&[shared, single, unseen], 0).await,
        sorted(vec![(shared, 3), (single, 1)]),
        "a license never reported has no row"
    );
    assert_eq!(
        counts(&[shared, single], 200).await,
        sorted(vec![(shared, 2), (single, 1)]),
        "since is inclusive, by the last sighting"
    );
    assert!(counts(&[shared], 301).await.is_empty());
    assert_eq!(
        counts(&[single], 0).await,
        [(single, 1)],
        "only the ids asked for"
    );
    assert!(counts(&[], 0).await.is_empty());
}
