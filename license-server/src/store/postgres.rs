//! The Postgres backend: production, shared by several server replicas.

use super::error::{StoreError, StoreResult};
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Connects and applies the Postgres migrations (under an advisory lock, so replicas starting
/// together apply them once).
pub(super) async fn connect(url: &str) -> StoreResult<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    super::migrate::apply(&MIGRATOR, &pool).await?;
    Ok(pool)
}
