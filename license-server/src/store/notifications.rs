//! Scheduled notifications: one row per license and stage, turned into an outbox message by
//! the scheduler exactly once (`state` leaves `scheduled` once, in the transaction that
//! queues the message).

use super::rows::{corrupt, timestamp, uuid};
use super::{Conn, Statement, StoreResult};
use const_format::concatcp;
use license_core::{LicenseId, Timestamp};

/// Which family a stage belongs to: a later due stage of the same series makes an earlier
/// one that was missed redundant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    /// The license's term: days before expiry, grace beginning and ending.
    Expiry,
    /// A trial deployment that stopped checking in.
    Checkin,
    /// Alerts for the vendor's desk.
    Desk,
}

impl Series {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Series::Expiry => "expiry",
            Series::Checkin => "checkin",
            Series::Desk => "desk",
        }
    }

    fn parse(text: &str) -> StoreResult<Self> {
        [Series::Expiry, Series::Checkin, Series::Desk]
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| corrupt("notification series", text))
    }
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationState {
    /// Waiting for its time.
    Scheduled,
    /// Its email is in the outbox.
    Queued,
    /// Passed over: a later stage of its series was already due.
    Skipped,
    /// The license was superseded or revoked before it was due.
    Cancelled,
}

impl NotificationState {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationState::Scheduled => "scheduled",
            NotificationState::Queued => "queued",
            NotificationState::Skipped => "skipped",
            NotificationState::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> StoreResult<Self> {
        [
            NotificationState::Scheduled,
            NotificationState::Queued,
            NotificationState::Skipped,
            NotificationState::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .ok_or_else(|| corrupt("notification state", text))
    }
}

/// A notification to schedule.
#[derive(Debug, Clone)]
pub struct NewNotification {
    /// The license it is about.
    pub license_id: LicenseId,
    /// Its family.
    pub series: Series,
    /// The stage (`expires_in_30d`, `grace_ended`, `checkin_overdue`, …).
    pub stage: String,
    /// When it is due.
    pub due_at: Timestamp,
    /// Who receives it.
    pub recipient: String,
    /// The deployment it is about, for the check-in and desk series.
    pub deployment_id: Option<String>,
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The row id.
    pub id: uuid::Uuid,
    /// The license.
    pub license_id: LicenseId,
    /// Its family.
    pub series: Series,
    /// The stage.
    pub stage: String,
    /// When it is due.
    pub due_at: Timestamp,
    /// Who receives it.
    pub recipient: String,
    /// The deployment it is about.
    pub deployment_id: Option<String>,
    /// Where it stands.
    pub state: NotificationState,
    /// The outbox message, once queued.
    pub outbox_id: Option<uuid::Uuid>,
}

const COLUMNS: &str =
    "id, license_id, series, stage, due_at, recipient, deployment_id, state, outbox_id";

static SCHEDULE: Statement = Statement::new(
    "notifications.schedule",
    "INSERT INTO notifications (id, license_id, series, stage, due_at, recipient, deployment_id, state) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'scheduled') ON CONFLICT (license_id, stage) DO NOTHING",
);
/// Schedules a stage, or moves it while it is still waiting (each check-in pushes the
/// check-in reminder later).
static RESCHEDULE: Statement = Statement::new(
    "notifications.reschedule",
    "INSERT INTO notifications (id, license_id, series, stage, due_at, recipient, deployment_id, state) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'scheduled') ON CONFLICT (license_id, stage) \
     DO UPDATE SET due_at = excluded.due_at, deployment_id = excluded.deployment_id \
     WHERE notifications.state = 'scheduled'",
);
static CANCEL: Statement = Statement::new(
    "notifications.cancel",
    "UPDATE notifications SET state = 'cancelled', decided_at = $2 \
     WHERE license_id = $1 AND state = 'scheduled'",
);
/// The due notifications; on Postgres each is locked and others' locked rows are passed
/// over, so replicas running the scheduler together take disjoint rows. SQLite has one
/// writer at a time (`BEGIN IMMEDIATE`).
static DUE: Statement = Statement::per_backend(
    "notifications.due",
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM notifications WHERE state = 'scheduled' AND due_at <= $1 \
         ORDER BY due_at, id LIMIT $2 FOR UPDATE SKIP LOCKED"
    ),
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM notifications WHERE state = 'scheduled' AND due_at <= $1 \
         ORDER BY due_at, id LIMIT $2"
    ),
);
static LATER_REACHED: Statement = Statement::new(
    "notifications.later_reached",
    "SELECT COUNT(*) FROM notifications WHERE license_id = $1 AND series = $2 \
       AND due_at > $3 AND due_at <= $4 AND state <> 'cancelled'",
);
static DECIDE: Statement = Statement::new(
    "notifications.decide",
    "UPDATE notifications SET state = $2, outbox_id = $3, decided_at = $4 \
     WHERE id = $1 AND state = 'scheduled'",
);
static FOR_LICENSE: Statement = Statement::new(
    "notifications.for_license",
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM notifications WHERE license_id = $1 ORDER BY due_at, stage"
    ),
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[
    &SCHEDULE,
    &RESCHEDULE,
    &CANCEL,
    &DUE,
    &LATER_REACHED,
    &DECIDE,
    &FOR_LICENSE,
];

#[derive(sqlx::FromRow)]
struct NotificationRow {
    id: String,
    license_id: String,
    series: String,
    stage: String,
    due_at: i64,
    recipient: String,
    deployment_id: Option<String>,
    state: String,
    outbox_id: Option<String>,
}

impl TryFrom<NotificationRow> for Notification {
    type Error = super::StoreError;
    fn try_from(row: NotificationRow) -> StoreResult<Self> {
        Ok(Notification {
            id: uuid(&row.id)?,
            license_id: uuid(&row.license_id)?,
            series: Series::parse(&row.series)?,
            stage: row.stage,
            due_at: timestamp(row.due_at)?,
            recipient: row.recipient,
            deployment_id: row.deployment_id,
            state: NotificationState::parse(&row.state)?,
            outbox_id: row.outbox_id.as_deref().map(uuid).transpose()?,
        })
    }
}

fn bind(statement: &'static Statement, n: &NewNotification) -> super::db::Query {
    statement
        .bind(uuid::Uuid::new_v4())
        .bind(n.license_id)
        .bind(n.series.as_str())
        .bind(n.stage.as_str())
        .bind(n.due_at)
        .bind(n.recipient.as_str())
        .bind(n.deployment_id.as_deref())
}

/// Schedules `n` unless its license already has that stage (then nothing changes).
pub async fn schedule(conn: Conn<'_>, n: &NewNotification) -> StoreResult<()> {
    bind(&SCHEDULE, n).execute(conn).await.map(|_| ())
}

/// Schedules `n`, or moves its stage to `n.due_at` while that stage is still waiting.
pub async fn reschedule(conn: Conn<'_>, n: &NewNotification) -> StoreResult<()> {
    bind(&RESCHEDULE, n).execute(conn).await.map(|_| ())
}

/// Cancels every waiting notification of `license`; how many.
pub async fn cancel(conn: Conn<'_>, license: LicenseId, at: Timestamp) -> StoreResult<u64> {
    CANCEL.bind(license).bind(at).execute(conn).await
}

/// Up to `limit` due notifications, locked for this transaction where the backend can.
pub async fn due(conn: Conn<'_>, now: Timestamp, limit: i64) -> StoreResult<Vec<Notification>> {
    let rows: Vec<NotificationRow> = DUE.bind(now).bind(limit).fetch_all(conn).await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// Whether a later stage of `n`'s series is already due at `now`.
pub async fn later_reached(conn: Conn<'_>, n: &Notification, now: Timestamp) -> StoreResult<bool> {
    let (count,): (i64,) = LATER_REACHED
        .bind(n.license_id)
        .bind(n.series.as_str())
        .bind(n.due_at)
        .bind(now)
        .fetch_one(conn)
        .await?;
    Ok(count > 0)
}

/// Moves a scheduled notification to `state`; false when it had already left `scheduled`.
pub async fn decide(
    conn: Conn<'_>,
    id: uuid::Uuid,
    state: NotificationState,
    outbox_id: Option<uuid::Uuid>,
    at: Timestamp,
) -> StoreResult<bool> {
    Ok(DECIDE
        .bind(id)
        .bind(state.as_str())
        .bind(outbox_id)
        .bind(at)
        .execute(conn)
        .await?
        == 1)
}

/// Every notification of `license`, by due time.
pub async fn for_license(conn: Conn<'_>, license: LicenseId) -> StoreResult<Vec<Notification>> {
    let rows: Vec<NotificationRow> = FOR_LICENSE.bind(license).fetch_all(conn).await?;
    rows.into_iter().map(TryInto::try_into).collect()
}
