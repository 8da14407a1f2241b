//! The Postgres backend: production, shared by several server replicas.

use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

/// Postgres storage.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

impl PgStore {
    /// Connects and applies the Postgres migrations (under an advisory lock, so replicas
    /// starting together apply them once).
    pub async fn connect(url: &str) -> crate::store::StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| crate::store::StoreError::Unavailable(e.to_string()))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| crate::store::StoreError::Database(format!("migrations failed: {e}")))?;
        Ok(Self { pool })
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'_, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

crate::store::sql::impl_store!(
    PgStore,
    sqlx::Postgres,
    Backend::Postgres,
    "FOR UPDATE SKIP LOCKED"
);
