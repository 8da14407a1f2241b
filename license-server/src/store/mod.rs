//! Storage: Postgres in production, an embedded SQLite file by default. sqlx lives here only.
//!
//! One area a module (`accounts`, `licenses`, `trials`, `evaluations`, `deployments`,
//! `outbox`, `tokens`, `audit`, `idempotency`), each with its statements, its row types and
//! plain functions that run on a [`Conn`]: the pool for one-statement reads, or a [`Tx`] the
//! service layer begins, fills and commits itself. The two backends differ only in
//! connection settings and migrations (`postgres.rs`, `sqlite.rs`) and in the few statements
//! that carry a SQLite text of their own (`db.rs`).

pub mod accounts;
pub mod audit;
mod db;
pub mod deployments;
pub mod evaluations;
pub mod idempotency;
pub mod licenses;
pub mod outbox;
mod page;
mod postgres;
mod rows;
mod sqlite;
pub mod tokens;
pub mod trials;
mod url;

pub use db::{Conn, Statement, Tx};
pub use page::{Cursor, MAX_PAGE_SIZE, Page, PageRequest};
pub use url::DatabaseUrl;

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use std::fmt;

/// What went wrong in the store, in terms the service layer can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference rule of the schema was violated.
    #[error("conflict with stored data: {0}")]
    Conflict(Conflict),
    /// The database cannot be reached or is overloaded: retry later (HTTP 503).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A row holds data this version cannot read.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Any other database error (a fault of ours: HTTP 500).
    #[error("database error: {0}")]
    Database(String),
}

/// Which rule of the schema a write broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// A unique constraint; the payload names it.
    #[error("unique constraint {0}")]
    Unique(UniqueRule),
    /// A reference to a row that does not exist.
    #[error("a referenced row does not exist")]
    MissingReference,
}

/// The unique constraints the service layer tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueRule {
    /// One trial per deployment (`trials.deployment_slot`).
    TrialDeploymentSlot,
    /// One trial per email (`trials.email_slot`).
    TrialEmailSlot,
    /// Admin token names (`admin_tokens.name`).
    AdminTokenName,
    /// Any other.
    Other,
}

impl fmt::Display for UniqueRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UniqueRule::TrialDeploymentSlot => "trials.deployment_slot",
            UniqueRule::TrialEmailSlot => "trials.email_slot",
            UniqueRule::AdminTokenName => "admin_tokens.name",
            UniqueRule::Other => "other",
        })
    }
}

/// The result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// The two storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Postgres: production, shared by several replicas.
    Postgres,
    /// An embedded SQLite file: the default, one process.
    Sqlite,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        })
    }
}

/// The licensor's database: a pool of either backend. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: Pool,
}

#[derive(Debug, Clone)]
enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

impl Store {
    /// Connects to the database `url` names and applies its migrations.
    pub async fn connect(url: &DatabaseUrl) -> StoreResult<Self> {
        let pool = match url.backend() {
            Backend::Postgres => Pool::Postgres(postgres::connect(url.expose()).await?),
            Backend::Sqlite => Pool::Sqlite(sqlite::connect(url.expose()).await?),
        };
        Ok(Self { pool })
    }

    /// Which backend this is, for logs and metrics.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Where one-statement reads run: any connection of the pool.
    pub fn conn(&self) -> Conn<'_> {
        match &self.pool {
            Pool::Postgres(pool) => Conn::PgPool(pool),
            Pool::Sqlite(pool) => Conn::SqlitePool(pool),
        }
    }

    /// Begins a write transaction.
    pub async fn begin(&self) -> StoreResult<Tx> {
        match &self.pool {
            Pool::Postgres(pool) => pool.begin().await.map(Tx::Pg),
            Pool::Sqlite(pool) => pool.begin_with("BEGIN IMMEDIATE").await.map(Tx::Sqlite),
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
            Pool::Sqlite(pool) => pool.close().await,
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
            outbox::STATEMENTS,
            tokens::STATEMENTS,
            trials::STATEMENTS,
            STORE_STATEMENTS,
        ]
        .into_iter()
        .flatten()
        .copied()
    }

    /// Prepares `statement` without running it: the number of parameters the database sees.
    pub async fn prepare(&self, statement: &Statement) -> StoreResult<usize> {
        db::prepare(statement, self.conn()).await
    }
}

static PING: Statement = Statement::new("store.ping", "SELECT 1");
static STORE_STATEMENTS: &[&Statement] = &[&PING];

impl StoreError {
    /// Maps a driver error of the statement `name`.
    pub(crate) fn from_sqlx(name: &str, error: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(format!("{name}: {error}")),
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                StoreError::Corrupt(format!("{name}: {error}"))
            }
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => {
                    let text = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
                    StoreError::Conflict(Conflict::Unique(unique_rule(&text)))
                }
                ErrorKind::ForeignKeyViolation => StoreError::Conflict(Conflict::MissingReference),
                _ if is_busy(db.code().as_deref()) => {
                    StoreError::Unavailable(format!("{name}: {error}"))
                }
                _ => StoreError::Database(format!("{name}: {error}")),
            },
            _ => StoreError::Database(format!("{name}: {error}")),
        }
    }
}

/// Which unique rule a violation broke, by the constraint or column the database names (both
/// backends include it in the message).
fn unique_rule(text: &str) -> UniqueRule {
    if text.contains("deployment_slot") {
        UniqueRule::TrialDeploymentSlot
    } else if text.contains("email_slot") {
        UniqueRule::TrialEmailSlot
    } else if text.contains("admin_tokens_name") || text.contains("admin_tokens.name") {
        UniqueRule::AdminTokenName
    } else {
        UniqueRule::Other
    }
}

/// Codes that mean the database cannot serve now, though nothing is wrong with the request:
/// SQLite's busy/locked; Postgres's connection exceptions (class 08), shutdowns (57P01-03),
/// too many connections (53300), a database that does not exist (3D000) or does not allow
/// connections (55000 at connect time).
fn is_busy(code: Option<&str>) -> bool {
    match code {
        Some("5" | "6" | "53300" | "3D000" | "55000") => true,
        Some(code) => code.starts_with("08") || code.starts_with("57P0"),
        None => false,
    }
}
