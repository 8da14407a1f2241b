//! Test support: a fresh database per test on either backend, and an in-process server.
//!
//! Postgres tests create a uniquely named database on the server at
//! `LICENSOR_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`) and
//! drop it afterwards. When Postgres cannot be reached they fail, loudly: they never skip.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod answers;

use license_core::{SigningKey, Timestamp};
use license_server::api::ratelimit::RateLimiter;
use license_server::app::{Application, Config};
use license_server::mail::Mailer;
use license_server::service::Licensor;
use license_server::service::outbox::{OutboxWorker, RetryPolicy};
use license_server::service::tokens;
use license_server::store::{DatabaseUrl, Store};
use sqlx::Connection as _;
use std::sync::Arc;

/// The Postgres server tests use.
pub fn postgres_admin_url() -> String {
    std::env::var("LICENSOR_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A database that exists for one test.
pub struct TestDb {
    pub url: String,
    pub kind: Kind,
    postgres_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database of `kind`.
    pub async fn new(kind: Kind) -> Self {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("licensor.db").display());
                Self {
                    url,
                    kind,
                    postgres_name: None,
                    _dir: Some(dir),
                }
            }
            Kind::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("licensor_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!(
                        "Postgres is required for this test and is unreachable at {admin}: {e}. \
                         Start it (scripts/services) or set LICENSOR_TEST_POSTGRES_URL."
                    )
                });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let (base, _) = admin.rsplit_once('/').unwrap();
                Self {
                    url: format!("{base}/{name}"),
                    kind,
                    postgres_name: Some(name),
                    _dir: None,
                }
            }
        }
    }

    /// The database's URL.
    pub fn database_url(&self) -> DatabaseUrl {
        DatabaseUrl::parse(&self.url).unwrap()
    }

    /// A store on this database (migrations applied).
    pub async fn store(&self) -> Store {
        Store::connect(&self.database_url()).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime: use a thread with a runtime of its own.
        let admin = postgres_admin_url();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

/// A server running in this process on a port of its own.
pub struct TestApp {
    pub base: String,
    pub token: String,
    pub licensor: Licensor,
    pub store: Store,
    pub signing_key: SigningKey,
    pub client: reqwest::Client,
    pub db: TestDb,
}

impl TestApp {
    /// Starts the API on a fresh database of `kind`, with one admin token named `desk`.
    pub async fn spawn(kind: Kind) -> Self {
        Self::spawn_with(kind, |_| {}).await
    }

    /// Like [`TestApp::spawn`], letting `configure` change the configuration first (trial
    /// rules, rate limits, the clock).
    pub async fn spawn_with(kind: Kind, configure: impl FnOnce(&mut Config)) -> Self {
        let db = TestDb::new(kind).await;
        let signing_key = SigningKey::from_seed(&rand_seed());
        let mut config = test_config(db.database_url(), &signing_key);
        configure(&mut config);
        let app = Application::build(config).await.unwrap();
        let licensor = app.licensor().clone();
        let store = licensor.store().clone();
        let now = Timestamp::from_unix(1_795_000_000).unwrap();
        let token = tokens::create(
            &store,
            "test",
            "desk",
            license_server::service::roles::Role::Admin,
            now,
        )
        .await
        .unwrap();
        let base = format!("http://{}", app.address());
        tokio::spawn(app.run(std::future::pending()));
        Self {
            base,
            token,
            licensor,
            store,
            signing_key,
            client: reqwest::Client::new(),
            db,
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An outbox worker on this app's database, delivering through `mailer` at `clock`'s time.
    pub fn worker(
        &self,
        mailer: Arc<dyn Mailer>,
        owner: &str,
        policy: RetryPolicy,
        clock: Arc<dyn license_server::clock::Clock>,
    ) -> OutboxWorker {
        OutboxWorker::new(self.store.clone(), mailer, clock, owner.to_owned(), policy)
    }

    /// A request with the admin token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }
}

/// The configuration of a test server: a free loopback port, its own signing key, test mail
/// identity, no outbox worker (tests drive delivery themselves), and rate limits high enough
/// that only the rate-limit tests meet them.
pub fn test_config(database: DatabaseUrl, signing_key: &SigningKey) -> Config {
    let mut config = Config::new(
        "127.0.0.1:0".parse().unwrap(),
        database,
        signing_key.clone(),
    );
    config.issuer = "licensor-test".into();
    config.mail_from = "Licensor <licenses@licensor.test>".into();
    config.rate_limiter = RateLimiter::new(100_000, 100_000, 0);
    config
}

fn rand_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    seed[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    seed
}
