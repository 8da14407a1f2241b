//! The store's errors: what went wrong, in terms the service layer can act on.

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

impl StoreError {
    /// The error with its text passed through `scrub` (which hides secrets).
    pub fn scrubbed(self, scrub: impl Fn(&str) -> String) -> Self {
        match self {
            Self::Unavailable(text) => Self::Unavailable(scrub(&text)),
            Self::Corrupt(text) => Self::Corrupt(scrub(&text)),
            Self::Database(text) => Self::Database(scrub(&text)),
            other => other,
        }
    }
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
    /// Admin token names (`admin_tokens.name`).
    AdminTokenName,
    /// Console user names (`console_users.name`).
    ConsoleUserName,
    /// Any other.
    Other,
}

impl fmt::Display for UniqueRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UniqueRule::AdminTokenName => "admin_tokens.name",
            UniqueRule::ConsoleUserName => "console_users.name",
            UniqueRule::Other => "other",
        })
    }
}

/// The result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

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
    if text.contains("admin_tokens_name") || text.contains("admin_tokens.name") {
        UniqueRule::AdminTokenName
    } else if text.contains("console_users_name") || text.contains("console_users.name") {
        UniqueRule::ConsoleUserName
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
