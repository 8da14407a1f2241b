//! The embedded SQLite backend: the default, a single file in the data directory.
//!
//! SQLite lets one connection write at a time. Several connections that all may write queue on
//! the file lock through the busy handler, which sleeps and retries (up to 100 ms a sleep), so
//! one busy writer stalled every request behind it, reads included. So the file is opened
//! twice: one **writer** pool of a single connection, which every transaction and every
//! one-statement write uses (they queue, fairly, for that connection, and never meet a busy
//! lock of ours), and a **reader** pool of read-only connections for one-statement reads,
//! which in WAL mode never wait for the writer. The reader connections are opened
//! `SQLITE_OPEN_READONLY`: a write routed to them by mistake fails loudly ("attempt to write
//! a readonly database"), so every test that writes through the store proves the routing
//! (`Statement::writes` decides it, `Conn::SqlitePool` applies it).

use super::error::{StoreError, StoreResult};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// How many read-only connections serve one-statement reads.
const READERS: u32 = 8;

/// The two pools on one SQLite file. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqlitePools {
    /// One connection: every transaction and every write.
    writer: SqlitePool,
    /// Read-only connections: one-statement reads.
    reader: SqlitePool,
}

impl SqlitePools {
    /// The pool of the single writing connection.
    pub fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    /// The pool of read-only connections.
    pub fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// The pool a statement runs on outside a transaction: the writer when it `writes`.
    pub fn for_statement(&self, writes: bool) -> &SqlitePool {
        if writes { &self.writer } else { &self.reader }
    }

    /// Closes both pools.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// Opens (creating when missing) the database file, in WAL mode with foreign keys on, applies
/// the SQLite migrations through the writer, then opens the read-only readers.
pub(super) async fn connect(url: &str) -> StoreResult<SqlitePools> {
    let unavailable = |e: sqlx::Error| StoreError::Unavailable(e.to_string());
    let base = SqliteConnectOptions::from_str(url)
        .map_err(unavailable)?
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let writer_options = base
        .clone()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        // Kept open: the WAL and its shared-memory file live as long as a connection does,
        // and the read-only connections need them.
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(writer_options)
        .await
        .map_err(unavailable)?;
    super::migrate::apply(&MIGRATOR, &writer).await?;
    let reader = SqlitePoolOptions::new()
        .max_connections(READERS)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(base.read_only(true))
        .await
        .map_err(unavailable)?;
    Ok(SqlitePools { writer, reader })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use sqlx::Connection as _;

    async fn open() -> (tempfile::TempDir, SqlitePools) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("licensor.db").display());
        let pools = connect(&url).await.unwrap();
        (dir, pools)
    }

    #[tokio::test]
    async fn the_readers_refuse_to_write() {
        let (_dir, pools) = open().await;
        let error = sqlx::query("UPDATE admin_tokens SET name = name")
            .execute(pools.reader())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("readonly"), "{error}");
        sqlx::query("UPDATE admin_tokens SET name = name")
            .execute(pools.writer())
            .await
            .unwrap();
        assert!(std::ptr::eq(pools.for_statement(true), pools.writer()));
        assert!(std::ptr::eq(pools.for_statement(false), pools.reader()));
    }

    /// A writer holding its transaction open neither blocks a reader (WAL) nor is seen by it
    /// before it commits.
    #[tokio::test]
    async fn readers_do_not_wait_for_the_writer() {
        let (_dir, pools) = open().await;
        let mut tx = pools.writer().begin_with("BEGIN IMMEDIATE").await.unwrap();
        sqlx::query(
            "INSERT INTO admin_tokens (id, name, token_hash, role, created_at) \
             VALUES ('t1', 'one', 'h1', 'admin', 0)",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        let count = || async {
            let mut reader = pools.reader().acquire().await.unwrap();
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM admin_tokens")
                .fetch_one(&mut *reader)
                .await
                .unwrap()
        };
        // Bounded well under the 10 s busy timeout a blocked reader would wait.
        let before = tokio::time::timeout(Duration::from_secs(5), count())
            .await
            .expect("a reader waited for the writer");
        assert_eq!(before, 0);
        tx.commit().await.unwrap();
        assert_eq!(count().await, 1);
    }

    /// With the writer's one connection taken, a second writer waits for it (and then
    /// proceeds) instead of spinning on the file lock.
    #[tokio::test]
    async fn writers_queue_for_the_one_connection() {
        let (_dir, pools) = open().await;
        let tx = pools.writer().begin_with("BEGIN IMMEDIATE").await.unwrap();
        assert_eq!(pools.writer().size(), 1);
        let second = pools.writer().clone();
        let waiting = tokio::spawn(async move {
            let mut conn = second.acquire().await.unwrap();
            conn.ping().await.unwrap();
        });
        assert!(!waiting.is_finished());
        tx.commit().await.unwrap();
        waiting.await.unwrap();
        assert_eq!(pools.writer().size(), 1);
    }
}
