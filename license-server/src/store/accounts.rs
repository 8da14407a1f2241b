//! Accounts: the customers licenses belong to, and each account's license sequence.

use super::rows::{timestamp, unsigned, uuid};
use super::{Conn, Page, PageRequest, Statement, StoreError, StoreResult};
use const_format::concatcp;
use license_core::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An account's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(pub uuid::Uuid);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Its id, chosen by the caller.
    pub id: AccountId,
    /// The customer's name.
    pub name: String,
    /// The customer's contact email.
    pub email: String,
    /// `licensor` for accounts made here, `trial` for a trial's own account; other values name
    /// an external system.
    pub account_type: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A customer account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// The customer's name.
    pub name: String,
    /// The customer's contact email.
    pub email: String,
    /// `licensor`, `trial` or the name of an external system.
    pub account_type: String,
    /// How many licenses it has been issued (the last sequence number used).
    pub license_sequence: u64,
    /// When it was created.
    pub created_at: Timestamp,
}

const COLUMNS: &str = "id, name, email, account_type, license_sequence, created_at";

static INSERT: Statement = Statement::new(
    "accounts.insert",
    concatcp!(
        "INSERT INTO accounts (id, name, email, account_type, license_sequence, created_at, email_lower) \
         VALUES ($1, $2, $3, $4, 0, $5, $6) RETURNING ",
        COLUMNS
    ),
);
static GET: Statement = Statement::new(
    "accounts.get",
    concatcp!("SELECT ", COLUMNS, " FROM accounts WHERE id = $1"),
);
static LIST: Statement = Statement::new(
    "accounts.list",
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM accounts \
         WHERE (created_at, id) < (COALESCE(CAST($1 AS BIGINT), 9223372036854775807), COALESCE(CAST($2 AS TEXT), '')) \
         ORDER BY created_at DESC, id DESC LIMIT $3"
    ),
);
static SEARCH: Statement = Statement::new(
    "accounts.search",
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM accounts \
         WHERE (LOWER(name) LIKE $1 ESCAPE '\\' OR email_lower LIKE $1 ESCAPE '\\') \
           AND (created_at, id) < (COALESCE(CAST($2 AS BIGINT), 9223372036854775807), COALESCE(CAST($3 AS TEXT), '')) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ),
);
static TAKE_SEQUENCE: Statement = Statement::new(
    "accounts.take_sequence",
    "UPDATE accounts SET license_sequence = license_sequence + 1 WHERE id = $1 \
     RETURNING license_sequence, account_type",
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[&INSERT, &GET, &LIST, &SEARCH, &TAKE_SEQUENCE];

#[derive(sqlx::FromRow)]
struct AccountRow {
    id: String,
    name: String,
    email: String,
    account_type: String,
    license_sequence: i64,
    created_at: i64,
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;
    fn try_from(row: AccountRow) -> StoreResult<Self> {
        Ok(Account {
            id: AccountId(uuid(&row.id)?),
            name: row.name,
            email: row.email,
            account_type: row.account_type,
            license_sequence: unsigned(row.license_sequence)?,
            created_at: timestamp(row.created_at)?,
        })
    }
}

/// Creates an account.
pub async fn insert(conn: Conn<'_>, account: &NewAccount) -> StoreResult<Account> {
    INSERT
        .bind(account.id.0)
        .bind(&account.name)
        .bind(&account.email)
        .bind(&account.account_type)
        .bind(account.created_at)
        // Folded in Rust: SQLite's lower() folds only ASCII.
        .bind(account.email.to_lowercase())
        .fetch_one::<AccountRow>(conn)
        .await?
        .try_into()
}

/// One account.
pub async fn get(conn: Conn<'_>, id: AccountId) -> StoreResult<Account> {
    GET.bind(id.0)
        .fetch_one::<AccountRow>(conn)
        .await?
        .try_into()
}

/// Accounts, newest first.
pub async fn list(conn: Conn<'_>, page: &PageRequest) -> StoreResult<Page<Account>> {
    let rows: Vec<AccountRow> = LIST
        .bind(page.after_at())
        .bind(page.after_id())
        .bind(page.fetch_limit())
        .fetch_all(conn)
        .await?;
    Page::from_rows(rows, page, |a: &Account| super::Cursor {
        at: a.created_at.unix(),
        id: a.id.to_string(),
    })
}

/// Accounts whose name or email contains `text` (case-insensitive; a domain matches the
/// emails at it), newest first.
pub async fn search(conn: Conn<'_>, text: &str, page: &PageRequest) -> StoreResult<Page<Account>> {
    let mut pattern = String::from("%");
    // Folded in Rust: SQLite's lower() folds only ASCII. LIKE's wildcards are escaped.
    for c in text.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    let rows: Vec<AccountRow> = SEARCH
        .bind(pattern)
        .bind(page.after_at())
        .bind(page.after_id())
        .bind(page.fetch_limit())
        .fetch_all(conn)
        .await?;
    Page::from_rows(rows, page, |a: &Account| super::Cursor {
        at: a.created_at.unix(),
        id: a.id.to_string(),
    })
}

/// Takes the account's next license sequence number; with it, the account's type. `None` when
/// the account does not exist. The row stays locked until the transaction ends, so the
/// account's licenses are numbered in commit order.
pub async fn take_sequence(conn: Conn<'_>, id: AccountId) -> StoreResult<Option<(u64, String)>> {
    let row: Option<(i64, String)> = TAKE_SEQUENCE.bind(id.0).fetch_optional(conn).await?;
    row.map(|(sequence, account_type)| Ok((unsigned(sequence)?, account_type)))
        .transpose()
}
