//! Console users: people who sign in to the web console, with an argon2 password hash (PHC
//! string) and a role (the service layer reads the role's text).

use super::rows::{timestamp, timestamp_opt};
use super::{Conn, Statement, StoreError, StoreResult};
use license_core::Timestamp;

/// A console user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Its id.
    pub id: uuid::Uuid,
    /// The unique name the person signs in with; the actor of their audit entries.
    pub name: String,
    /// `viewer`, `desk` or `admin`.
    pub role: String,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was disabled (it cannot sign in any more), if it was.
    pub disabled_at: Option<Timestamp>,
}

static INSERT: Statement = Statement::new(
    "users.insert",
    "INSERT INTO console_users (id, name, role, password_hash, created_at) \
     VALUES ($1, $2, $3, $4, $5)",
);
static BY_NAME: Statement = Statement::new(
    "users.by_name",
    "SELECT id, name, role, password_hash, created_at, disabled_at FROM console_users \
     WHERE name = $1",
);
static LIST: Statement = Statement::new(
    "users.list",
    "SELECT id, name, role, password_hash, created_at, disabled_at FROM console_users \
     ORDER BY name",
);
static SET_ROLE: Statement = Statement::new(
    "users.set_role",
    "UPDATE console_users SET role = $2 WHERE name = $1",
);
static SET_PASSWORD: Statement = Statement::new(
    "users.set_password",
    "UPDATE console_users SET password_hash = $2 WHERE name = $1",
);
static DISABLE: Statement = Statement::new(
    "users.disable",
    "UPDATE console_users SET disabled_at = $2 WHERE name = $1 AND disabled_at IS NULL",
);
static COUNT_ADMINS: Statement = Statement::new(
    "users.count_admins",
    "SELECT COUNT(*) FROM console_users WHERE role = 'admin' AND disabled_at IS NULL",
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[
    &INSERT,
    &BY_NAME,
    &LIST,
    &SET_ROLE,
    &SET_PASSWORD,
    &DISABLE,
    &COUNT_ADMINS,
];

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    name: String,
    role: String,
    password_hash: String,
    created_at: i64,
    disabled_at: Option<i64>,
}

impl TryFrom<UserRow> for UserRecord {
    type Error = StoreError;
    fn try_from(row: UserRow) -> StoreResult<Self> {
        Ok(UserRecord {
            id: super::rows::uuid(&row.id)?,
            name: row.name,
            role: row.role,
            password_hash: row.password_hash,
            created_at: timestamp(row.created_at)?,
            disabled_at: timestamp_opt(row.disabled_at)?,
        })
    }
}

/// Stores a new user (a name already taken is a unique-rule conflict).
pub async fn insert(conn: Conn<'_>, user: &UserRecord) -> StoreResult<()> {
    INSERT
        .bind(user.id)
        .bind(&user.name)
        .bind(&user.role)
        .bind(&user.password_hash)
        .bind(user.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// The user named `name`, if any.
pub async fn by_name(conn: Conn<'_>, name: &str) -> StoreResult<Option<UserRecord>> {
    let row: Option<UserRow> = BY_NAME.bind(name).fetch_optional(conn).await?;
    row.map(UserRecord::try_from).transpose()
}

/// Every user, by name.
pub async fn list(conn: Conn<'_>) -> StoreResult<Vec<UserRecord>> {
    let rows: Vec<UserRow> = LIST.query().fetch_all(conn).await?;
    rows.into_iter().map(UserRecord::try_from).collect()
}

/// Changes a user's role; false when there is no such user.
pub async fn set_role(conn: Conn<'_>, name: &str, role: &str) -> StoreResult<bool> {
    Ok(SET_ROLE.bind(name).bind(role).execute(conn).await? > 0)
}

/// Changes a user's password hash; false when there is no such user.
pub async fn set_password(conn: Conn<'_>, name: &str, hash: &str) -> StoreResult<bool> {
    Ok(SET_PASSWORD.bind(name).bind(hash).execute(conn).await? > 0)
}

/// Disables a user; false when there is no such active user.
pub async fn disable(conn: Conn<'_>, name: &str, at: Timestamp) -> StoreResult<bool> {
    Ok(DISABLE.bind(name).bind(at).execute(conn).await? > 0)
}

/// How many enabled admins there are.
pub async fn count_admins(conn: Conn<'_>) -> StoreResult<i64> {
    let (count,): (i64,) = COUNT_ADMINS.query().fetch_one(conn).await?;
    Ok(count)
}
