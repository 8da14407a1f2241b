//! Fixtures of the store suite: a store on a fresh database, accounts, signed licenses, trial
//! records, page walks, and a side door to read columns no store function returns.

pub(crate) use crate::support::answers::on_both_backends;
pub(crate) use crate::support::{Kind, TestDb};

use license_core::{
    DeploymentId, Email, FORMAT_VERSION, FeatureSet, LicenseClaims, SigningKey, Timestamp,
    sign_license,
};
use license_server::store::accounts::{self, Account, AccountId, NewAccount};
use license_server::store::licenses::{self, LicenseRecord, NewLicense};
use license_server::store::trials::{TrialOutcome, TrialRecord};
use license_server::store::{Conn, Cursor, Page, PageRequest, Store};
use sqlx::Connection as _;
use std::fmt::Debug;

/// A time of the tests' era: 2026-11-18T…
pub const T0: i64 = 1_795_000_000;

/// `T0 + seconds` as a timestamp.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix(T0 + seconds).unwrap()
}

/// A fresh database of `kind` and a store on it.
pub async fn open(kind: Kind) -> (TestDb, Store) {
    let db = TestDb::new(kind).await;
    let store = db.store().await;
    (db, store)
}

/// A page request.
pub fn page(limit: u32) -> PageRequest {
    PageRequest { limit, after: None }
}

/// Every page of a list, walked with `limit` items a page through the cursors. Fails if a
/// page is over `limit`, a non-final page is short, or the walk does not end.
pub async fn walk<T: Debug>(
    limit: u32,
    mut fetch: impl AsyncFnMut(PageRequest) -> Page<T>,
) -> Vec<Vec<T>> {
    let mut request = page(limit);
    let mut pages = Vec::new();
    for _ in 0..1000 {
        let result = fetch(request.clone()).await;
        assert!(
            result.items.len() <= limit as usize,
            "page over its limit: {result:?}"
        );
        let next = result.next_cursor.clone();
        pages.push(result.items);
        match next {
            Some(cursor) => {
                assert_eq!(
                    pages.last().map(Vec::len),
                    Some(limit as usize),
                    "only the last page may be short"
                );
                request.after =
                    Some(Cursor::decode(&cursor).expect("a cursor the store made decodes"));
            }
            None => return pages,
        }
    }
    panic!("the page walk did not end");
}

/// The items of a walk, in order.
pub fn flat<T>(pages: Vec<Vec<T>>) -> Vec<T> {
    pages.into_iter().flatten().collect()
}

/// An account named `name`, created at `at(seconds)`.
pub fn new_account(name: &str, seconds: i64) -> NewAccount {
    NewAccount {
        id: AccountId(uuid::Uuid::new_v4()),
        name: name.to_owned(),
        email: format!("{name}@example.com"),
        account_type: "licensor".to_owned(),
        created_at: at(seconds),
    }
}

/// Creates an account named `name`, created at `at(seconds)`.
pub async fn account(conn: Conn<'_>, name: &str, seconds: i64) -> Account {
    accounts::insert(conn, &new_account(name, seconds))
        .await
        .unwrap()
}

/// The tests' signing key.
pub fn key() -> SigningKey {
    SigningKey::from_seed(&[7; 32])
}

/// Valid claims for `account`, to `email`, issued at `at(issued)`, with `sequence`; a year's
/// term and a week's grace, ten seats, enterprise.
pub fn claims(account: &Account, email: &str, sequence: u64, issued: i64) -> LicenseClaims {
    LicenseClaims {
        iss: "licensor-test".into(),
        sub: Email::parse(email).unwrap(),
        jti: uuid::Uuid::new_v4(),
        iat: at(issued),
        nbf: at(issued),
        license_expires: at(issued + 365 * 86_400),
        exp: at(issued + 372 * 86_400),
        version: FORMAT_VERSION,
        account_type: account.account_type.clone(),
        account_id: account.id.to_string(),
        deployment_ids: Vec::new(),
        trial: false,
        feature_set: FeatureSet::Enterprise,
        features: [("user_limit".to_owned(), 10)].into(),
        require_telemetry: false,
        evaluation: false,
        checkin: None,
        min_product_version: None,
        sequence,
    }
}

/// Deployment ids for claims.
pub fn deployment_ids(ids: &[&str]) -> Vec<DeploymentId> {
    ids.iter()
        .map(|id| DeploymentId::parse(id).unwrap())
        .collect()
}

/// Signs `claims` and stores them on `conn` as issued by `desk`.
pub async fn store_license(
    conn: Conn<'_>,
    claims: &LicenseClaims,
    supersedes: Option<license_core::LicenseId>,
) -> license_server::store::StoreResult<LicenseRecord> {
    let key = key();
    let token = sign_license(claims, &key).unwrap();
    licenses::insert(
        conn,
        &NewLicense {
            account_id: AccountId(claims.account_id.parse().unwrap()),
            claims,
            token: &token,
            key_id: key.key_id().as_str(),
            issued_by: "desk",
            supersedes,
        },
    )
    .await
}

/// Issues a license as the service does: the account's next sequence and the row, in one
/// transaction. `adjust` changes the claims before they are signed.
pub async fn issue(
    store: &Store,
    account: &Account,
    email: &str,
    issued: i64,
    adjust: impl FnOnce(&mut LicenseClaims),
) -> LicenseRecord {
    let mut tx = store.begin().await.unwrap();
    let (sequence, account_type) = accounts::take_sequence(tx.conn(), account.id)
        .await
        .unwrap()
        .expect("the account exists");
    assert_eq!(account_type, account.account_type);
    let mut c = claims(account, email, sequence, issued);
    adjust(&mut c);
    let license = store_license(tx.conn(), &c, None).await.unwrap();
    tx.commit().await.unwrap();
    license
}

/// A trial request of `email` for `deployment`, at `at(seconds)`, refused unless changed.
pub fn trial(email: &str, deployment: &str, seconds: i64) -> TrialRecord {
    let (local, domain) = email.rsplit_once('@').unwrap();
    TrialRecord {
        id: uuid::Uuid::new_v4(),
        email: email.to_owned(),
        email_key: format!("{}@{}", local.to_lowercase(), domain.to_lowercase()),
        email_domain: domain.to_lowercase(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        company: "Analytical Engines".into(),
        country: "GB".into(),
        developers: "1-10".into(),
        deployment_id: deployment.to_owned(),
        product_version: "2.18.0".into(),
        client_address: None,
        requested_at: at(seconds),
        outcome: TrialOutcome::Refused,
        refusal_code: Some("disposable_email".into()),
        refusal_message: Some("use a work address".into()),
        license_id: None,
        account_id: None,
        evaluation_id: None,
        expires_at: None,
        confirmed_at: None,
    }
}

/// One integer a raw query returns (`None` for SQL NULL): for columns no store function
/// reads back.
pub async fn scalar(db: &TestDb, sql: &str) -> Option<i64> {
    match db.kind {
        Kind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
        Kind::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
        }
    }
}

/// Runs a raw statement (to plant data the store would never write).
pub async fn raw(db: &TestDb, sql: &str) {
    match db.kind {
        Kind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        Kind::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
    }
}

/// Sorted, for comparing sets.
pub fn sorted<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items
}

/// The schema rule a store error reports breaking, if it is a conflict.
pub fn conflict(
    err: &license_server::store::StoreError,
) -> Option<license_server::store::Conflict> {
    match err {
        license_server::store::StoreError::Conflict(c) => Some(*c),
        _ => None,
    }
}
