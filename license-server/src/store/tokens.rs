//! Admin API tokens, stored by hash only.

use super::{Conn, Statement, StoreResult};
use license_core::Timestamp;

/// An admin token to store.
#[derive(Debug, Clone)]
pub struct NewAdminToken {
    /// Its id.
    pub id: uuid::Uuid,
    /// A unique name (who holds it).
    pub name: String,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// `viewer`, `desk` or `admin`.
    pub role: String,
}

/// Who an authenticated admin request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminIdentity {
    /// The token's id.
    pub token_id: String,
    /// The token's name, recorded as the actor in the audit log.
    pub name: String,
    /// Its role's text: `viewer`, `desk` or `admin`.
    pub role: String,
    /// Unix seconds of its last recorded use, if any.
    pub last_used_at: Option<i64>,
}

impl AdminIdentity {
    /// Whether a use at `at` is to be recorded ([`touch`]): never used, or last recorded a
    /// minute or more before. Checked before touching, so most authenticated reads write
    /// nothing (on SQLite a write waits for the one writer connection).
    pub fn touch_due(&self, at: Timestamp) -> bool {
        self.last_used_at
            .is_none_or(|last| last < at.unix() - TOUCH_EVERY_SECS)
    }
}

/// How often a token's use is recorded at most.
const TOUCH_EVERY_SECS: i64 = 60;

/// An admin token as listed (never its hash).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenRow {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its role's text.
    pub role: String,
    /// Unix seconds of its creation.
    pub created_at: i64,
    /// Unix seconds of its last use (to the minute), if any.
    pub last_used_at: Option<i64>,
    /// Unix seconds of its revocation, if any.
    pub revoked_at: Option<i64>,
}

static INSERT: Statement = Statement::new(
    "tokens.insert",
    "INSERT INTO admin_tokens (id, name, token_hash, created_at, role) VALUES ($1, $2, $3, $4, $5)",
);
static REVOKE: Statement = Statement::new(
    "tokens.revoke",
    "UPDATE admin_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL",
);
static BY_HASH: Statement = Statement::new(
    "tokens.by_hash",
    "SELECT id, name, role, last_used_at FROM admin_tokens \
     WHERE token_hash = $1 AND revoked_at IS NULL",
);
static TOUCH: Statement = Statement::new(
    "tokens.touch",
    "UPDATE admin_tokens SET last_used_at = $2 \
     WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2 - 60)",
);

static LIST: Statement = Statement::new(
    "tokens.list",
    "SELECT id, name, role, created_at, last_used_at, revoked_at FROM admin_tokens \
     ORDER BY created_at DESC, name",
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[&INSERT, &REVOKE, &BY_HASH, &TOUCH, &LIST];

/// Every token, newest first (revoked ones too).
pub async fn list(conn: Conn<'_>) -> StoreResult<Vec<TokenRow>> {
    LIST.query().fetch_all(conn).await
}

/// Stores a new token (a name already taken is a unique-rule conflict).
pub async fn insert(conn: Conn<'_>, token: &NewAdminToken) -> StoreResult<()> {
    INSERT
        .bind(token.id)
        .bind(&token.name)
        .bind(&token.token_hash)
        .bind(token.created_at)
        .bind(&token.role)
        .execute(conn)
        .await?;
    Ok(())
}

/// Revokes the active token named `name`; false when there is none.
pub async fn revoke(conn: Conn<'_>, name: &str, at: Timestamp) -> StoreResult<bool> {
    Ok(REVOKE.bind(name).bind(at).execute(conn).await? > 0)
}

/// The active token with this hash, if any.
pub async fn by_hash(conn: Conn<'_>, token_hash: &str) -> StoreResult<Option<AdminIdentity>> {
    let row: Option<(String, String, String, Option<i64>)> =
        BY_HASH.bind(token_hash).fetch_optional(conn).await?;
    Ok(
        row.map(|(token_id, name, role, last_used_at)| AdminIdentity {
            token_id,
            name,
            role,
            last_used_at,
        }),
    )
}

/// Records that the token was used at `at`, at most once a minute (so that reads do not all
/// become writes).
pub async fn touch(conn: Conn<'_>, token_id: &str, at: Timestamp) -> StoreResult<()> {
    TOUCH.bind(token_id).bind(at).execute(conn).await?;
    Ok(())
}
