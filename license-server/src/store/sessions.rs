//! Console sessions: the records of the session layer (`tower-sessions`), as opaque JSON with
//! an expiry, and the name of the person signed in so that an admin can end their sessions.

use super::{Conn, Statement, StoreResult};

/// A session record as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    /// The session id (the cookie's value).
    pub id: String,
    /// Who is signed in, if anyone.
    pub user_name: Option<String>,
    /// The session's data, JSON.
    pub data: String,
    /// Unix seconds after which it is void.
    pub expires_at: i64,
}

static INSERT: Statement = Statement::new(
    "sessions.insert",
    "INSERT INTO console_sessions (id, user_name, data, expires_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (id) DO NOTHING",
);
static UPSERT: Statement = Statement::new(
    "sessions.upsert",
    "INSERT INTO console_sessions (id, user_name, data, expires_at) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, data = excluded.data, \
     expires_at = excluded.expires_at",
);
static LOAD: Statement = Statement::new(
    "sessions.load",
    "SELECT id, user_name, data, expires_at FROM console_sessions \
     WHERE id = $1 AND expires_at > $2",
);
static DELETE: Statement = Statement::new(
    "sessions.delete",
    "DELETE FROM console_sessions WHERE id = $1",
);
static DELETE_FOR_USER: Statement = Statement::new(
    "sessions.delete_for_user",
    "DELETE FROM console_sessions WHERE user_name = $1",
);
static DELETE_EXPIRED: Statement = Statement::new(
    "sessions.delete_expired",
    "DELETE FROM console_sessions WHERE expires_at <= $1",
);
static COUNT_FOR_USER: Statement = Statement::new(
    "sessions.count_for_user",
    "SELECT COUNT(*) FROM console_sessions WHERE user_name = $1 AND expires_at > $2",
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[
    &INSERT,
    &UPSERT,
    &LOAD,
    &DELETE,
    &DELETE_FOR_USER,
    &DELETE_EXPIRED,
    &COUNT_FOR_USER,
];

/// Stores a new session; false when the id is taken (the caller draws another).
pub async fn insert(conn: Conn<'_>, row: &SessionRow) -> StoreResult<bool> {
    let changed = INSERT
        .bind(&row.id)
        .bind(row.user_name.as_deref())
        .bind(&row.data)
        .bind(row.expires_at)
        .execute(conn)
        .await?;
    Ok(changed > 0)
}

/// Stores a session, replacing the record with the same id.
pub async fn upsert(conn: Conn<'_>, row: &SessionRow) -> StoreResult<()> {
    UPSERT
        .bind(&row.id)
        .bind(row.user_name.as_deref())
        .bind(&row.data)
        .bind(row.expires_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// The session `id` unless it expired by `now` (Unix seconds).
pub async fn load(conn: Conn<'_>, id: &str, now: i64) -> StoreResult<Option<SessionRow>> {
    LOAD.bind(id).bind(now).fetch_optional(conn).await
}

/// Ends the session `id`.
pub async fn delete(conn: Conn<'_>, id: &str) -> StoreResult<()> {
    DELETE.bind(id).execute(conn).await?;
    Ok(())
}

/// Ends every session of `user_name`; how many there were.
pub async fn delete_for_user(conn: Conn<'_>, user_name: &str) -> StoreResult<u64> {
    DELETE_FOR_USER.bind(user_name).execute(conn).await
}

/// Deletes the sessions that expired by `now`.
pub async fn delete_expired(conn: Conn<'_>, now: i64) -> StoreResult<u64> {
    DELETE_EXPIRED.bind(now).execute(conn).await
}

/// How many live sessions `user_name` has.
pub async fn count_for_user(conn: Conn<'_>, user_name: &str, now: i64) -> StoreResult<i64> {
    let (count,): (i64,) = COUNT_FOR_USER
        .bind(user_name)
        .bind(now)
        .fetch_one(conn)
        .await?;
    Ok(count)
}
