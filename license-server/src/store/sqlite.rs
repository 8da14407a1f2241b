//! The embedded SQLite backend: the default, a single file in the data directory.

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

/// SQLite storage.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

impl SqliteStore {
    /// Opens (creating when missing) the database file, in WAL mode with foreign keys on,
    /// and applies the SQLite migrations.
    pub async fn connect(url: &str) -> crate::store::StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| crate::store::StoreError::Unavailable(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|e| crate::store::StoreError::Unavailable(e.to_string()))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| crate::store::StoreError::Database(format!("migrations failed: {e}")))?;
        Ok(Self { pool })
    }

    /// Write transactions take SQLite's write lock up front (`BEGIN IMMEDIATE`), so that two
    /// of them queue on the busy timeout instead of failing on a lock upgrade.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'_, sqlx::Sqlite>, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }
}

crate::store::sql::impl_store!(SqliteStore, sqlx::Sqlite, Backend::Sqlite, "");
