//! [`Store`]: the pool of either backend, and the registry of every statement.

use super::db::{Backend, Conn, Statement, Tx};
use super::error::{StoreError, StoreResult};
use super::sqlite::SqlitePools;
use super::url::DatabaseUrl;
use super::{
    accounts, audit, deployments, evaluations, idempotency, licenses, notifications, outbox,
    overview, postgres, sessions, sqlite, tokens, trials, usage, users, webhook_deliveries,
    webhooks,
};
use sqlx::postgres::PgPool;

/// The licensor's database: a pool of either backend. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
}

#[derive(Debug, Clone)]
enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePools),
}

impl Store {
    /// Connects to the database `url` names and applies its migrations.
    pub async fn connect(url: &DatabaseUrl) -> StoreResult<Self> {
        let pool = match url.backend() {
            Backend::Postgres => postgres::connect(url.expose()).await.map(Pool::Postgres),
            Backend::Sqlite => sqlite::connect(url.expose()).await.map(Pool::Sqlite),
        }
        // A driver's error may quote the URL: never with its secrets.
        .map_err(|error| error.scrubbed(|text| url.scrub(text)))?;
        Ok(Self { pool })
    }

    /// Which backend this is, for logs and metrics.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Where one-statement reads (and writes outside a transaction) run: any connection of the
    /// pool; on SQLite, the writer for a statement that writes, a read-only reader otherwise.
    pub fn conn(&self) -> Conn<'_> {
        match &self.pool {
            Pool::Postgres(pool) => Conn::PgPool(pool),
            Pool::Sqlite(pool) => Conn::SqlitePool(pool),
        }
    }

    /// Begins a write transaction (on SQLite, on the one writer connection).
    pub async fn begin(&self) -> StoreResult<Tx> {
        match &self.pool {
            Pool::Postgres(pool) => pool.begin().await.map(Tx::Pg),
            Pool::Sqlite(pools) => {
                (pools.writer().begin_with("BEGIN IMMEDIATE").await).map(Tx::Sqlite)
            }
        }
        .map_err(|e| StoreError::from_sqlx("begin", e))
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> StoreResult<()> {
        PING.query().execute(self.conn()).await.map(|_| ())
    }

    /// Closes every connection; later calls fail as unavailable. Used at shutdown.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Postgres(pool) => pool.close().await,
            Pool::Sqlite(pools) => pools.close().await,
        }
    }

    /// Every statement of the store, for the test that prepares them all on both backends.
    pub fn statements() -> impl Iterator<Item = &'static Statement> {
        [
            accounts::STATEMENTS,
            audit::STATEMENTS,
            deployments::STATEMENTS,
            evaluations::STATEMENTS,
            idempotency::STATEMENTS,
            licenses::STATEMENTS,
            notifications::STATEMENTS,
            outbox::STATEMENTS,
            overview::STATEMENTS,
            sessions::STATEMENTS,
            tokens::STATEMENTS,
            trials::STATEMENTS,
            usage::STATEMENTS,
            webhook_deliveries::STATEMENTS,
            webhooks::STATEMENTS,
            users::STATEMENTS,
            STORE_STATEMENTS,
        ]
        .into_iter()
        .flatten()
        .copied()
    }

    /// Prepares `statement` without running it: the number of parameters the database sees.
    pub async fn prepare(&self, statement: &Statement) -> StoreResult<usize> {
        super::db::prepare(statement, self.conn()).await
    }
}

static PING: Statement = Statement::new("store.ping", "SELECT 1");
static STORE_STATEMENTS: &[&Statement] = &[&PING];
