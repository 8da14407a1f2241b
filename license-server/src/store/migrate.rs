//! Applying a backend's migrations on connect.

use super::error::{StoreError, StoreResult};
use sqlx::migrate::{Migrate, Migrator};

/// Runs `migrator` on `pool` (Postgres takes an advisory lock, so replicas starting together
/// apply each migration once).
pub(super) async fn apply<DB>(migrator: &Migrator, pool: &sqlx::Pool<DB>) -> StoreResult<()>
where
    DB: sqlx::Database,
    DB::Connection: Migrate,
{
    migrator
        .run(pool)
        .await
        .map_err(|e| StoreError::Database(format!("migrations failed: {e}")))
}
