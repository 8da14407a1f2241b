//! Storage behind one narrow trait, with a Postgres and an embedded SQLite backend.
//!
//! Handlers see only [`Store`] and [`StoreError`], never sqlx. Both backends run the same
//! portable SQL (`sql.rs`, `$N` placeholders, integer Unix seconds for times, text UUIDs)
//! and own their migrations (`migrations/postgres`, `migrations/sqlite`), which they apply
//! on connect. The backend is chosen from the database URL.

mod postgres;
mod sql;
mod sqlite;
mod types;

pub use types::*;

use async_trait::async_trait;
use license_core::{LicenseId, Timestamp};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// What went wrong in the store, in terms handlers can act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated; the payload names the rule.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The database cannot be reached or is overloaded: retry later (HTTP 503).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A row holds data this version cannot read.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(String),
}

/// The result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// What the issuing transaction knows when it asks for the license to be signed.
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    /// The account's next sequence number.
    pub sequence: u64,
    /// The account the license is issued to.
    pub account_id: AccountId,
    /// The account's type (`licensor`, `trial`, …).
    pub account_type: &'a str,
}

/// Signs the license inside the issuing transaction.
pub type SignFn<'a> = dyn Fn(&Signing<'_>) -> StoreResult<SignedLicense> + Send + Sync + 'a;

/// The refusal code and sentence recorded for a trial a store-enforced rule refused.
pub type RefusalFn<'a> = dyn Fn(TrialConflict) -> (String, String) + Send + Sync + 'a;

/// The licensor's storage. Every method is one transaction.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Which backend this is, for logs and metrics.
    fn backend(&self) -> Backend;

    /// Checks that the database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// Closes every connection; later calls fail as unavailable. Used at shutdown.
    async fn close(&self);

    /// Creates an account.
    async fn create_account(
        &self,
        account: &NewAccount,
        audit: &AuditDraft,
    ) -> StoreResult<Account>;

    /// One account.
    async fn account(&self, id: AccountId) -> StoreResult<Account>;

    /// Accounts, newest first.
    async fn list_accounts(&self, page: &PageRequest) -> StoreResult<Page<Account>>;

    /// Issues a license: takes the account's next sequence number, calls `sign` with it,
    /// stores the license (superseding `supersedes` when given), the audit entry and the
    /// idempotency record in one transaction. A replayed idempotency key returns the license
    /// issued the first time; the same key with another request is a conflict.
    async fn issue_license(
        &self,
        account_id: AccountId,
        supersedes: Option<LicenseId>,
        idempotency: Option<&IdempotencyClaim>,
        audit: &AuditDraft,
        sign: &SignFn<'_>,
    ) -> StoreResult<Issued>;

    /// One license.
    async fn license(&self, id: LicenseId) -> StoreResult<LicenseRecord>;

    /// Licenses matching `filter`, newest first.
    async fn list_licenses(
        &self,
        filter: &LicenseFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<LicenseRecord>>;

    /// Revokes a license and appends it to the revocation list; revoking twice is a conflict.
    async fn revoke_license(
        &self,
        id: LicenseId,
        reason: &str,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> StoreResult<LicenseRecord>;

    /// Stores a new admin token (by hash only).
    async fn create_admin_token(
        &self,
        token: &NewAdminToken,
        audit: &AuditDraft,
    ) -> StoreResult<()>;

    /// Revokes the active admin token named `name`: requests with it are refused from now on.
    async fn revoke_admin_token(&self, name: &str, audit: &AuditDraft) -> StoreResult<()>;

    /// The admin token with this hash, if it exists and is not revoked; records its use.
    async fn authenticate(&self, token_hash: &str, at: Timestamp) -> StoreResult<AdminIdentity>;

    /// The licenses with these ids that exist.
    async fn licenses_by_ids(&self, ids: &[LicenseId]) -> StoreResult<Vec<LicenseRecord>>;

    /// Records a check-in: the deployment's summary, the history row, and which deployments
    /// each known license was reported from; one transaction.
    async fn record_checkin(&self, checkin: &CheckinDraft) -> StoreResult<Deployment>;

    /// Every revoked license with its revocation time, and the list's sequence (the highest
    /// revocation number; 0 when nothing is revoked).
    async fn revocations(&self) -> StoreResult<(u64, Vec<(LicenseId, Timestamp)>)>;

    /// Deployments, most recently seen first.
    async fn list_deployments(
        &self,
        filter: &DeploymentFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<Deployment>>;

    /// One deployment.
    async fn deployment(&self, id: &str) -> StoreResult<Deployment>;

    /// A deployment's check-ins, newest first.
    async fn list_checkins(
        &self,
        deployment_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<CheckinEntry>>;

    /// For each license, from how many deployments it was reported since `since`.
    async fn license_deployment_counts(
        &self,
        ids: &[LicenseId],
        since: Timestamp,
    ) -> StoreResult<Vec<(LicenseId, u64)>>;

    /// Audit log entries, newest first.
    async fn list_audit(&self, page: &PageRequest) -> StoreResult<Page<AuditEntry>>;

    /// Queues a message outside an issuance (a resend), with its audit entry.
    async fn enqueue(&self, message: &NewMessage, audit: &AuditDraft) -> StoreResult<()>;

    /// Leases the next due message to `owner` until `lease_until`, counting the attempt.
    /// Safe with many workers on one database: each due message goes to one of them.
    async fn claim_message(
        &self,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> StoreResult<Option<ClaimedMessage>>;

    /// Records a delivery; false when `owner` no longer held the lease (nothing changes).
    async fn mark_sent(&self, id: uuid::Uuid, owner: &str, at: Timestamp) -> StoreResult<bool>;

    /// Records a failed attempt: back to pending until `retry_at`, or dead after too many
    /// attempts or a permanent refusal. `None` when `owner` no longer held the lease.
    async fn mark_failed(
        &self,
        id: uuid::Uuid,
        owner: &str,
        failure: &DeliveryFailure,
    ) -> StoreResult<Option<OutboxState>>;

    /// Outbox messages, newest first, optionally in one state.
    async fn list_outbox(
        &self,
        state: Option<OutboxState>,
        page: &PageRequest,
    ) -> StoreResult<Page<OutboxEntry>>;

    /// Puts a dead message back in the queue, due at `at`, with its attempts reset.
    async fn retry_message(
        &self,
        id: uuid::Uuid,
        at: Timestamp,
        audit: &AuditDraft,
    ) -> StoreResult<OutboxEntry>;

    /// How many messages are in each state (for metrics).
    async fn outbox_counts(&self) -> StoreResult<Vec<(OutboxState, u64)>>;

    /// Grants or refuses a trial in one transaction: the domain limit is counted under a
    /// per-domain row lock, and the once-per-deployment and once-per-email rules are unique
    /// constraints, so concurrent requests on any number of replicas cannot exceed them. The
    /// granted trial's account is found by email (lowercase) or created, its license signed
    /// with `sign` and stored with its email. A refusal is recorded with `refusal`'s words.
    async fn request_trial(
        &self,
        draft: &TrialDraft,
        sign: &SignFn<'_>,
        refusal: &RefusalFn<'_>,
    ) -> StoreResult<TrialOutcome>;

    /// Extends a granted trial: a new license superseding its current one, in one
    /// transaction with the trial's new license and end.
    async fn extend_trial(
        &self,
        trial_id: uuid::Uuid,
        audit: &AuditDraft,
        sign: &SignFn<'_>,
    ) -> StoreResult<(TrialRecord, LicenseRecord)>;

    /// Records a trial request refused before the store was asked (version, blocked domain).
    async fn record_trial(&self, record: &TrialRecord) -> StoreResult<()>;

    /// One trial request.
    async fn trial(&self, id: uuid::Uuid) -> StoreResult<TrialRecord>;

    /// Trial requests, newest first.
    async fn list_trials(
        &self,
        filter: &TrialFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<TrialRecord>>;

    /// Enrolls a subject in the evaluation program.
    async fn create_evaluation(
        &self,
        evaluation: &NewEvaluation,
        audit: &AuditDraft,
    ) -> StoreResult<Evaluation>;

    /// One enrollment.
    async fn evaluation(&self, id: uuid::Uuid) -> StoreResult<Evaluation>;

    /// Enrollments, newest first; with `active_at`, only those in force then.
    async fn list_evaluations(
        &self,
        active_at: Option<Timestamp>,
        page: &PageRequest,
    ) -> StoreResult<Page<Evaluation>>;

    /// Ends an enrollment early; ending it twice is a conflict.
    async fn end_evaluation(
        &self,
        id: uuid::Uuid,
        reason: &str,
        audit: &AuditDraft,
    ) -> StoreResult<Evaluation>;

    /// The newest enrollment in force at `at` that covers the email key, its domain, or an
    /// account with the email address `account_email`.
    async fn active_evaluation(
        &self,
        email_key: &str,
        email_domain: &str,
        account_email: &str,
        at: Timestamp,
    ) -> StoreResult<Option<Evaluation>>;
}

/// The two storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Postgres: production, shared by several replicas.
    Postgres,
    /// An embedded SQLite file: the default, one process.
    Sqlite,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        })
    }
}

/// A database URL, redacted in `Debug` and `Display` (it may hold a password).
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Accepts `postgres://`, `postgresql://` and `sqlite:` URLs; anything else is refused
    /// with the accepted schemes named.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        if url.starts_with("postgres://")
            || url.starts_with("postgresql://")
            || url.starts_with("sqlite:")
        {
            Ok(Self(url.to_owned()))
        } else {
            let scheme = url.split(':').next().unwrap_or_default();
            Err(format!(
                "unsupported database URL scheme {scheme:?}: use postgres://USER@HOST/DB or sqlite:PATH"
            ))
        }
    }

    /// The SQLite URL of a file.
    pub fn sqlite_file(path: &Path) -> Self {
        Self(format!("sqlite://{}", path.display()))
    }

    /// The backend the URL selects.
    pub fn backend(&self) -> Backend {
        if self.0.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match (self.0.find("://"), self.0.rfind('@')) {
            (Some(scheme_end), Some(at)) if at > scheme_end => {
                let userinfo = &self.0[scheme_end + 3..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        format!("{}{user}:***{}", &self.0[..scheme_end + 3], &self.0[at..])
                    }
                    None => self.0.clone(),
                }
            }
            _ => self.0.clone(),
        }
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Connects to the database `url` names and applies its migrations.
pub async fn connect(url: &DatabaseUrl) -> StoreResult<Arc<dyn Store>> {
    Ok(match url.backend() {
        Backend::Postgres => Arc::new(postgres::PgStore::connect(url.expose()).await?),
        Backend::Sqlite => Arc::new(sqlite::SqliteStore::connect(url.expose()).await?),
    })
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => StoreError::Unavailable(error.to_string()),
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                StoreError::Corrupt(error.to_string())
            }
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation => StoreError::Conflict("unique"),
                ErrorKind::ForeignKeyViolation => StoreError::Conflict("foreign_key"),
                _ if is_busy(db.code().as_deref()) => StoreError::Unavailable(error.to_string()),
                _ => StoreError::Database(error.to_string()),
            },
            _ => StoreError::Database(error.to_string()),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_pick_the_backend_and_redact_passwords() {
        let pg = DatabaseUrl::parse("postgres://licensor:s3cret@db:5432/licensor").unwrap();
        assert_eq!(pg.backend(), Backend::Postgres);
        assert_eq!(pg.redacted(), "postgres://licensor:***@db:5432/licensor");
        assert!(!format!("{pg:?}").contains("s3cret"));
        assert!(!format!("{pg}").contains("s3cret"));
        assert_eq!(
            DatabaseUrl::parse("sqlite:data/licensor.db")
                .unwrap()
                .backend(),
            Backend::Sqlite
        );
        let err = DatabaseUrl::parse("mysql://root@db/licensor").unwrap_err();
        assert!(
            err.contains("postgres://") && err.contains("sqlite:"),
            "{err}"
        );
    }
}
