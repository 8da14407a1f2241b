//! Evaluation-program enrollments: who is exempt from which trial rules, and until when.

use super::accounts::AccountId;
use super::rows::{corrupt, json, timestamp, timestamp_opt, to_json, uuid};
use super::{Conn, Cursor, Page, PageRequest, Statement, StoreError, StoreResult};
use const_format::concatcp;
use license_core::Timestamp;

/// An enrollment to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvaluation {
    /// Its id.
    pub id: uuid::Uuid,
    /// Who is enrolled: exactly one of an account, an email key, an email domain.
    pub subject: EvaluationSubject,
    /// Why.
    pub reason: String,
    /// Who approved it.
    pub approved_by: String,
    /// From when.
    pub starts_at: Timestamp,
    /// Until when.
    pub ends_at: Timestamp,
    /// The trial rules it waives (snake_case rule names).
    pub waives: Vec<String>,
    /// A longer trial term it grants, in days.
    pub max_term_days: Option<u32>,
    /// More seats it grants.
    pub user_limit: Option<i64>,
    /// When it was created.
    pub created_at: Timestamp,
    /// Which admin created it.
    pub created_by: String,
}

/// Who an enrollment covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvaluationSubject {
    /// An account (and trial requests from its email address).
    Account(AccountId),
    /// One email address (normalized: lowercase, no `+tag`).
    Email(String),
    /// Every address of an email domain (lowercase).
    EmailDomain(String),
}

/// A stored enrollment: as created, and how it ended early, if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// What was enrolled (read through `Deref`: `evaluation.waives`).
    pub enrollment: NewEvaluation,
    /// When it was ended early.
    pub ended_at: Option<Timestamp>,
    /// Who ended it.
    pub ended_by: Option<String>,
    /// Why it was ended.
    pub end_reason: Option<String>,
}

impl std::ops::Deref for Evaluation {
    type Target = NewEvaluation;
    fn deref(&self) -> &NewEvaluation {
        &self.enrollment
    }
}

impl Evaluation {
    /// Whether it applies at `at`.
    pub fn is_active(&self, at: Timestamp) -> bool {
        self.ended_at.is_none() && self.starts_at <= at && at < self.ends_at
    }
}

const COLUMNS: &str = "id, account_id, email_key, email_domain, reason, approved_by, \
    starts_at, ends_at, waives, max_term_days, user_limit, created_at, created_by, ended_at, ended_by, end_reason";

static INSERT: Statement = Statement::new(
    "evaluations.insert",
    concatcp!(
        "INSERT INTO evaluations (",
        COLUMNS,
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, NULL, NULL) RETURNING ",
        COLUMNS
    ),
);
static GET: Statement = Statement::new(
    "evaluations.get",
    concatcp!("SELECT ", COLUMNS, " FROM evaluations WHERE id = $1"),
);
static LIST: Statement = Statement::new(
    "evaluations.list",
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM evaluations \
         WHERE (CAST($1 AS BIGINT) IS NULL OR (ended_at IS NULL AND starts_at <= $1 AND ends_at > $1)) \
           AND (created_at, id) < (COALESCE(CAST($2 AS BIGINT), 9223372036854775807), COALESCE(CAST($3 AS TEXT), '')) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ),
);
static END: Statement = Statement::new(
    "evaluations.end",
    concatcp!(
        "UPDATE evaluations SET ended_at = $2, ended_by = $3, end_reason = $4 \
         WHERE id = $1 AND ended_at IS NULL RETURNING ",
        COLUMNS
    ),
);
static ACTIVE_FOR: Statement = Statement::new(
    "evaluations.active_for",
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM evaluations \
         WHERE ended_at IS NULL AND starts_at <= $1 AND ends_at > $1 \
           AND (email_key = $2 OR email_domain = $3 \
                OR account_id IN (SELECT id FROM accounts WHERE email_lower = $4)) \
         ORDER BY created_at DESC, id DESC LIMIT 1"
    ),
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[&INSERT, &GET, &LIST, &END, &ACTIVE_FOR];

#[derive(sqlx::FromRow)]
struct EvaluationRow {
    id: String,
    account_id: Option<String>,
    email_key: Option<String>,
    email_domain: Option<String>,
    reason: String,
    approved_by: String,
    starts_at: i64,
    ends_at: i64,
    waives: String,
    max_term_days: Option<i64>,
    user_limit: Option<i64>,
    created_at: i64,
    created_by: String,
    ended_at: Option<i64>,
    ended_by: Option<String>,
    end_reason: Option<String>,
}

impl TryFrom<EvaluationRow> for Evaluation {
    type Error = StoreError;
    fn try_from(r: EvaluationRow) -> StoreResult<Self> {
        let subject = match (r.account_id, r.email_key, r.email_domain) {
            (Some(account), None, None) => EvaluationSubject::Account(AccountId(uuid(&account)?)),
            (None, Some(email), None) => EvaluationSubject::Email(email),
            (None, None, Some(domain)) => EvaluationSubject::EmailDomain(domain),
            _ => return Err(corrupt("evaluation subject", &r.id)),
        };
        Ok(Evaluation {
            enrollment: NewEvaluation {
                id: uuid(&r.id)?,
                subject,
                reason: r.reason,
                approved_by: r.approved_by,
                starts_at: timestamp(r.starts_at)?,
                ends_at: timestamp(r.ends_at)?,
                waives: json("waives", &r.waives)?,
                max_term_days: r
                    .max_term_days
                    .map(|d| u32::try_from(d).map_err(|e| corrupt("max_term_days", e)))
                    .transpose()?,
                user_limit: r.user_limit,
                created_at: timestamp(r.created_at)?,
                created_by: r.created_by,
            },
            ended_at: timestamp_opt(r.ended_at)?,
            ended_by: r.ended_by,
            end_reason: r.end_reason,
        })
    }
}

/// Enrolls a subject.
pub async fn insert(conn: Conn<'_>, e: &NewEvaluation) -> StoreResult<Evaluation> {
    let (account, email, domain) = match &e.subject {
        EvaluationSubject::Account(id) => (Some(id.0), None, None),
        EvaluationSubject::Email(key) => (None, Some(key.as_str()), None),
        EvaluationSubject::EmailDomain(domain) => (None, None, Some(domain.as_str())),
    };
    INSERT
        .bind(e.id)
        .bind(account)
        .bind(email)
        .bind(domain)
        .bind(&e.reason)
        .bind(&e.approved_by)
        .bind(e.starts_at)
        .bind(e.ends_at)
        .bind(to_json("waives", &e.waives)?)
        .bind(e.max_term_days.map(i64::from))
        .bind(e.user_limit)
        .bind(e.created_at)
        .bind(&e.created_by)
        .fetch_one::<EvaluationRow>(conn)
        .await?
        .try_into()
}

/// One enrollment.
pub async fn get(conn: Conn<'_>, id: uuid::Uuid) -> StoreResult<Evaluation> {
    GET.bind(id)
        .fetch_one::<EvaluationRow>(conn)
        .await?
        .try_into()
}

/// Enrollments, newest first; with `active_at`, only those in force then.
pub async fn list(
    conn: Conn<'_>,
    active_at: Option<Timestamp>,
    page: &PageRequest,
) -> StoreResult<Page<Evaluation>> {
    let rows: Vec<EvaluationRow> = LIST
        .bind(active_at)
        .bind(page.after_at())
        .bind(page.after_id())
        .bind(page.fetch_limit())
        .fetch_all(conn)
        .await?;
    Page::from_rows(rows, page, |e: &Evaluation| Cursor {
        at: e.created_at.unix(),
        id: e.id.hyphenated().to_string(),
    })
}

/// Ends an enrollment early. `None` when it had ended already; [`StoreError::NotFound`] when
/// it does not exist.
pub async fn end(
    mut conn: Conn<'_>,
    id: uuid::Uuid,
    at: Timestamp,
    by: &str,
    reason: &str,
) -> StoreResult<Option<Evaluation>> {
    let row: Option<EvaluationRow> = END
        .bind(id)
        .bind(at)
        .bind(by)
        .bind(reason)
        .fetch_optional(conn.reborrow())
        .await?;
    match row {
        Some(row) => row.try_into().map(Some),
        None => get(conn, id).await.map(|_| None),
    }
}

/// The newest enrollment in force at `at` that covers the email key, its domain, or an
/// account with the email address `account_email` (lowercase).
pub async fn active_for(
    conn: Conn<'_>,
    email_key: &str,
    email_domain: &str,
    account_email: &str,
    at: Timestamp,
) -> StoreResult<Option<Evaluation>> {
    let row: Option<EvaluationRow> = ACTIVE_FOR
        .bind(at)
        .bind(email_key)
        .bind(email_domain)
        .bind(account_email)
        .fetch_optional(conn)
        .await?;
    row.map(TryInto::try_into).transpose()
}
