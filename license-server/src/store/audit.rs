//! The audit log: append-only, one entry for every change an admin makes.

use super::rows::{json, timestamp};
use super::{Conn, Cursor, Page, PageRequest, Statement, StoreError, StoreResult};
use license_core::Timestamp;

/// An audit entry to write with an admin action.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    /// When.
    pub at: Timestamp,
    /// Who: the admin token's name, or `cli` for server subcommands.
    pub actor: String,
    /// What, as `noun.verb` (`license.issue`).
    pub action: String,
    /// Details of the request, as JSON; never secrets or tokens.
    pub details: serde_json::Value,
}

impl AuditDraft {
    /// An entry of `actor` doing `action` at `at`.
    pub fn new(at: Timestamp, actor: &str, action: &str, details: serde_json::Value) -> Self {
        Self {
            at,
            actor: actor.to_owned(),
            action: action.to_owned(),
            details,
        }
    }
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Its position in the log.
    pub id: i64,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Details.
    pub details: serde_json::Value,
}

static INSERT: Statement = Statement::new(
    "audit.insert",
    "INSERT INTO audit_log (at, actor, action, target, details) VALUES ($1, $2, $3, $4, $5)",
);
static LIST: Statement = Statement::new(
    "audit.list",
    "SELECT id, at, actor, action, target, details FROM audit_log \
     WHERE id < COALESCE(CAST($1 AS BIGINT), 9223372036854775807) ORDER BY id DESC LIMIT $2",
);

static FOR_TARGETS: Statement = Statement::per_backend(
    "audit.for_targets",
    "SELECT id, at, actor, action, target, details FROM audit_log \
     WHERE target IN (SELECT jsonb_array_elements_text(CAST($1 AS JSONB))) ORDER BY id DESC LIMIT $2",
    "SELECT id, at, actor, action, target, details FROM audit_log \
     WHERE target IN (SELECT value FROM json_each($1)) ORDER BY id DESC LIMIT $2",
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[&INSERT, &LIST, &FOR_TARGETS];

/// The latest `limit` entries about any of `targets`, newest first.
pub async fn for_targets(
    conn: Conn<'_>,
    targets: &[String],
    limit: i64,
) -> StoreResult<Vec<AuditEntry>> {
    let rows: Vec<AuditRow> = FOR_TARGETS
        .bind(super::rows::to_json("audit targets", &targets)?)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(AuditEntry::try_from).collect()
}

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    target: String,
    details: String,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(row: AuditRow) -> StoreResult<Self> {
        Ok(AuditEntry {
            id: row.id,
            at: timestamp(row.at)?,
            actor: row.actor,
            action: row.action,
            target: row.target,
            details: json("details", &row.details)?,
        })
    }
}

/// Appends `entry` about `target` (normally inside the transaction that made the change).
pub async fn record(conn: Conn<'_>, entry: &AuditDraft, target: &str) -> StoreResult<()> {
    INSERT
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(target)
        .bind(entry.details.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Entries, newest first.
pub async fn list(conn: Conn<'_>, page: &PageRequest) -> StoreResult<Page<AuditEntry>> {
    let rows: Vec<AuditRow> = LIST
        .bind(page.after_at())
        .bind(page.fetch_limit())
        .fetch_all(conn)
        .await?;
    Page::from_rows(rows, page, |e: &AuditEntry| Cursor {
        at: e.id,
        id: String::new(),
    })
}
