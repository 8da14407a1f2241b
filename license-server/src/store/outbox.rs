//! The outbox: composed messages queued in the transaction that produced them, leased to one
//! worker at a time for delivery, with retries and a dead state.

use super::rows::{corrupt, timestamp, timestamp_opt, unsigned, uuid, uuid_opt};
use super::{Conn, Cursor, Page, PageRequest, Statement, StoreError, StoreResult};
use const_format::concatcp;
use license_core::{LicenseId, Timestamp};
use serde::{Deserialize, Serialize};

/// A composed message to put in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The outbox row's id (also the local part of the Message-ID).
    pub id: uuid::Uuid,
    /// What the message is (`license`).
    pub kind: String,
    /// The license it carries, if any.
    pub license_id: Option<LicenseId>,
    /// The envelope sender.
    pub sender: String,
    /// The envelope recipient.
    pub recipient: String,
    /// The subject, for listings.
    pub subject: String,
    /// The `Message-ID` header, stable across retries.
    pub message_id: String,
    /// The whole RFC 5322 message.
    pub raw: String,
    /// When it was queued.
    pub created_at: Timestamp,
}

/// Where a message stands in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for its next attempt.
    Pending,
    /// Leased by a worker that is sending it.
    Sending,
    /// Delivered.
    Sent,
    /// Given up on: too many failures or a permanent refusal. An admin can retry it.
    Dead,
}

impl OutboxState {
    /// Every state.
    pub const ALL: [OutboxState; 4] = [
        OutboxState::Pending,
        OutboxState::Sending,
        OutboxState::Sent,
        OutboxState::Dead,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sending => "sending",
            OutboxState::Sent => "sent",
            OutboxState::Dead => "dead",
        }
    }

    fn parse(text: &str) -> StoreResult<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| corrupt("outbox state", text))
    }
}

/// A message a worker has leased for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMessage {
    /// The outbox row.
    pub id: uuid::Uuid,
    /// The envelope sender.
    pub sender: String,
    /// The envelope recipient.
    pub recipient: String,
    /// The `Message-ID`.
    pub message_id: String,
    /// The whole message.
    pub raw: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// An outbox row as listings show it (without the message body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The row id.
    pub id: uuid::Uuid,
    /// What it is.
    pub kind: String,
    /// The license it carries.
    pub license_id: Option<LicenseId>,
    /// To whom.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// The `Message-ID`.
    pub message_id: String,
    /// Where it stands.
    pub state: OutboxState,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (pending) or the lease ends (sending).
    pub next_attempt_at: Timestamp,
    /// The last failure.
    pub last_error: Option<String>,
    /// Whether the last failure was a permanent refusal.
    pub last_error_permanent: bool,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When it was delivered.
    pub sent_at: Option<Timestamp>,
}

/// What a failed delivery leads to.
#[derive(Debug, Clone)]
pub struct DeliveryFailure {
    /// What went wrong.
    pub error: String,
    /// A permanent refusal: the message goes straight to `dead`.
    pub permanent: bool,
    /// When to try again.
    pub retry_at: Timestamp,
    /// After this many attempts the message goes to `dead`.
    pub max_attempts: u32,
}

const COLUMNS: &str = "id, kind, license_id, recipient, subject, message_id, state, \
    attempts, next_attempt_at, last_error, last_error_permanent, created_at, sent_at";

static INSERT: Statement = Statement::new(
    "outbox.insert",
    "INSERT INTO outbox (id, kind, license_id, sender, recipient, subject, message_id, raw, state, \
     attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9)",
);
/// Claims the next due message: a pending one whose time has come, or one whose sender's
/// lease ran out (the worker died). On Postgres `FOR UPDATE SKIP LOCKED` makes concurrent
/// workers pass over each other's rows instead of queueing on them; SQLite has one writer at
/// a time, and the outer `WHERE` still refuses a row another worker took.
static CLAIM: Statement = Statement::per_backend(
    "outbox.claim",
    "UPDATE outbox SET state = 'sending', lease_owner = $1, next_attempt_at = $3, attempts = attempts + 1 \
     WHERE id = (SELECT id FROM outbox WHERE state IN ('pending', 'sending') AND next_attempt_at <= $2 \
                 ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
       AND state IN ('pending', 'sending') AND next_attempt_at <= $2 \
     RETURNING id, sender, recipient, message_id, raw, attempts",
    "UPDATE outbox SET state = 'sending', lease_owner = $1, next_attempt_at = $3, attempts = attempts + 1 \
     WHERE id = (SELECT id FROM outbox WHERE state IN ('pending', 'sending') AND next_attempt_at <= $2 \
                 ORDER BY next_attempt_at, id LIMIT 1) \
       AND state IN ('pending', 'sending') AND next_attempt_at <= $2 \
     RETURNING id, sender, recipient, message_id, raw, attempts",
);
static MARK_SENT: Statement = Statement::new(
    "outbox.mark_sent",
    "UPDATE outbox SET state = 'sent', sent_at = $3, lease_owner = NULL, last_error = NULL, \
     last_error_permanent = FALSE WHERE id = $1 AND lease_owner = $2 AND state = 'sending'",
);
static MARK_FAILED: Statement = Statement::new(
    "outbox.mark_failed",
    "UPDATE outbox SET \
       state = CASE WHEN CAST($4 AS BOOLEAN) OR attempts >= $5 THEN 'dead' ELSE 'pending' END, \
       next_attempt_at = $6, lease_owner = NULL, last_error = $3, last_error_permanent = $4 \
     WHERE id = $1 AND lease_owner = $2 AND state = 'sending' RETURNING state",
);
static LIST: Statement = Statement::new(
    "outbox.list",
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM outbox \
         WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) \
           AND (created_at, id) < (COALESCE(CAST($2 AS BIGINT), 9223372036854775807), COALESCE(CAST($3 AS TEXT), '')) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ),
);
static RETRY: Statement = Statement::new(
    "outbox.retry",
    concatcp!(
        "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $2 \
         WHERE id = $1 AND state = 'dead' RETURNING ",
        COLUMNS
    ),
);
static EXISTS: Statement = Statement::new("outbox.exists", "SELECT id FROM outbox WHERE id = $1");
static COUNTS: Statement = Statement::new(
    "outbox.counts",
    "SELECT state, COUNT(*) FROM outbox GROUP BY state",
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[
    &INSERT,
    &CLAIM,
    &MARK_SENT,
    &MARK_FAILED,
    &LIST,
    &RETRY,
    &EXISTS,
    &COUNTS,
];

#[derive(sqlx::FromRow)]
struct ClaimedRow {
    id: String,
    sender: String,
    recipient: String,
    message_id: String,
    raw: String,
    attempts: i64,
}

impl TryFrom<ClaimedRow> for ClaimedMessage {
    type Error = StoreError;
    fn try_from(row: ClaimedRow) -> StoreResult<Self> {
        Ok(ClaimedMessage {
            id: uuid(&row.id)?,
            sender: row.sender,
            recipient: row.recipient,
            message_id: row.message_id,
            raw: row.raw,
            attempts: u32::try_from(row.attempts).map_err(|e| corrupt("attempts", e))?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct OutboxRow {
    id: String,
    kind: String,
    license_id: Option<String>,
    recipient: String,
    subject: String,
    message_id: String,
    state: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    last_error_permanent: bool,
    created_at: i64,
    sent_at: Option<i64>,
}

impl TryFrom<OutboxRow> for OutboxEntry {
    type Error = StoreError;
    fn try_from(row: OutboxRow) -> StoreResult<Self> {
        Ok(OutboxEntry {
            id: uuid(&row.id)?,
            kind: row.kind,
            license_id: uuid_opt(row.license_id.as_deref())?,
            recipient: row.recipient,
            subject: row.subject,
            message_id: row.message_id,
            state: OutboxState::parse(&row.state)?,
            attempts: u32::try_from(row.attempts).map_err(|e| corrupt("attempts", e))?,
            next_attempt_at: timestamp(row.next_attempt_at)?,
            last_error: row.last_error,
            last_error_permanent: row.last_error_permanent,
            created_at: timestamp(row.created_at)?,
            sent_at: timestamp_opt(row.sent_at)?,
        })
    }
}

/// Queues a message.
pub async fn insert(conn: Conn<'_>, m: &NewMessage) -> StoreResult<()> {
    INSERT
        .bind(m.id)
        .bind(&m.kind)
        .bind(m.license_id)
        .bind(&m.sender)
        .bind(&m.recipient)
        .bind(&m.subject)
        .bind(&m.message_id)
        .bind(&m.raw)
        .bind(m.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Leases the next due message to `owner` until `lease_until`, counting the attempt. Safe
/// with many workers on one database: each due message goes to one of them.
pub async fn claim(
    conn: Conn<'_>,
    owner: &str,
    now: Timestamp,
    lease_until: Timestamp,
) -> StoreResult<Option<ClaimedMessage>> {
    let row: Option<ClaimedRow> = CLAIM
        .bind(owner)
        .bind(now)
        .bind(lease_until)
        .fetch_optional(conn)
        .await?;
    row.map(TryInto::try_into).transpose()
}

/// Records a delivery; false when `owner` no longer held the lease (nothing changes).
pub async fn mark_sent(
    conn: Conn<'_>,
    id: uuid::Uuid,
    owner: &str,
    at: Timestamp,
) -> StoreResult<bool> {
    Ok(MARK_SENT
        .bind(id)
        .bind(owner)
        .bind(at)
        .execute(conn)
        .await?
        == 1)
}

/// Records a failed attempt: back to pending until `retry_at`, or dead after too many
/// attempts or a permanent refusal. `None` when `owner` no longer held the lease.
pub async fn mark_failed(
    conn: Conn<'_>,
    id: uuid::Uuid,
    owner: &str,
    failure: &DeliveryFailure,
) -> StoreResult<Option<OutboxState>> {
    let state: Option<(String,)> = MARK_FAILED
        .bind(id)
        .bind(owner)
        .bind(&failure.error)
        .bind(failure.permanent)
        .bind(i64::from(failure.max_attempts))
        .bind(failure.retry_at)
        .fetch_optional(conn)
        .await?;
    state.map(|(s,)| OutboxState::parse(&s)).transpose()
}

/// Messages, newest first, optionally in one state.
pub async fn list(
    conn: Conn<'_>,
    state: Option<OutboxState>,
    page: &PageRequest,
) -> StoreResult<Page<OutboxEntry>> {
    let rows: Vec<OutboxRow> = LIST
        .bind(state.map(OutboxState::as_str))
        .bind(page.after_at())
        .bind(page.after_id())
        .bind(page.fetch_limit())
        .fetch_all(conn)
        .await?;
    Page::from_rows(rows, page, |m: &OutboxEntry| Cursor {
        at: m.created_at.unix(),
        id: m.id.hyphenated().to_string(),
    })
}

/// Puts a dead message back in the queue, due at `at`, with its attempts reset. `None` when
/// the message is not dead; [`StoreError::NotFound`] when it does not exist.
pub async fn retry(
    mut conn: Conn<'_>,
    id: uuid::Uuid,
    at: Timestamp,
) -> StoreResult<Option<OutboxEntry>> {
    let row: Option<OutboxRow> = RETRY
        .bind(id)
        .bind(at)
        .fetch_optional(conn.reborrow())
        .await?;
    match row {
        Some(row) => row.try_into().map(Some),
        None => {
            let _: (String,) = EXISTS.bind(id).fetch_one(conn).await?;
            Ok(None)
        }
    }
}

/// How many messages are in each state.
pub async fn counts(conn: Conn<'_>) -> StoreResult<Vec<(OutboxState, u64)>> {
    let rows: Vec<(String, i64)> = COUNTS.query().fetch_all(conn).await?;
    rows.into_iter()
        .map(|(state, count)| Ok((OutboxState::parse(&state)?, unsigned(count)?)))
        .collect()
}
