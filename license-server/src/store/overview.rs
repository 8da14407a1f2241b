//! The console's dashboard figures: license counts by standing, the trial funnel per week,
//! deployments over their seats.

use super::{Conn, Statement, StoreResult};

/// Licenses by standing at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct LicenseCounts {
    /// Active and within the term.
    pub active: i64,
    /// Active, with the term ending within the window.
    pub expiring: i64,
    /// Active, past the term, within the grace period.
    pub in_grace: i64,
    /// Revoked.
    pub revoked: i64,
}

/// One week of the trial funnel (weeks start on Thursdays 00:00 UTC: Unix time's weeks).
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct FunnelWeek {
    /// The week's first second, Unix time.
    pub week: i64,
    /// Trials asked for.
    pub requested: i64,
    /// Granted.
    pub granted: i64,
    /// Refused by a rule.
    pub refused: i64,
    /// Granted, and the deployment checked in since.
    pub checked_in: i64,
    /// Granted, and the account has a paid (non-trial) license issued since.
    pub converted: i64,
}

/// Refusals of one rule in one week.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefusalCount {
    /// The week's first second.
    pub week: i64,
    /// The rule's code.
    pub rule: String,
    /// How many.
    pub count: i64,
}

/// A deployment that reported more active users than its seats.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OverSeats {
    /// The deployment id.
    pub id: String,
    /// Active users at the last check-in.
    pub active_users: i64,
    /// Seats of its licenses.
    pub user_limit: Option<i64>,
    /// The last check-in, Unix seconds.
    pub last_seen_at: i64,
    /// Its account, if known.
    pub account_id: Option<String>,
}

/// Seconds in a week.
pub const WEEK: i64 = 7 * 24 * 3600;

static LICENSE_COUNTS: Statement = Statement::new(
    "overview.license_counts",
    "SELECT \
       COALESCE(SUM(CASE WHEN status = 'active' AND expires_at > $1 THEN 1 ELSE 0 END), 0) AS active, \
       COALESCE(SUM(CASE WHEN status = 'active' AND expires_at > $1 AND expires_at <= $2 THEN 1 ELSE 0 END), 0) AS expiring, \
       COALESCE(SUM(CASE WHEN status = 'active' AND expires_at <= $1 AND grace_ends_at > $1 THEN 1 ELSE 0 END), 0) AS in_grace, \
       COALESCE(SUM(CASE WHEN status = 'revoked' THEN 1 ELSE 0 END), 0) AS revoked \
     FROM licenses",
);
static FUNNEL: Statement = Statement::new(
    "overview.funnel",
    "SELECT (t.requested_at / 604800) * 604800 AS week, \
       COUNT(*) AS requested, \
       COALESCE(SUM(CASE WHEN t.outcome = 'granted' THEN 1 ELSE 0 END), 0) AS granted, \
       COALESCE(SUM(CASE WHEN t.outcome = 'refused' THEN 1 ELSE 0 END), 0) AS refused, \
       COALESCE(SUM(CASE WHEN t.outcome = 'granted' AND EXISTS (SELECT 1 FROM checkins c \
         WHERE c.deployment_id = t.deployment_id AND c.at >= t.requested_at) THEN 1 ELSE 0 END), 0) AS checked_in, \
       COALESCE(SUM(CASE WHEN t.outcome = 'granted' AND EXISTS (SELECT 1 FROM licenses l \
         WHERE l.account_id = t.account_id AND l.trial = FALSE AND l.issued_at >= t.requested_at) \
         THEN 1 ELSE 0 END), 0) AS converted \
     FROM trials t WHERE t.requested_at >= $1 \
     GROUP BY (t.requested_at / 604800) * 604800 ORDER BY week DESC",
);
static REFUSALS: Statement = Statement::new(
    "overview.refusals",
    "SELECT (requested_at / 604800) * 604800 AS week, COALESCE(refusal_code, 'unknown') AS rule, \
       COUNT(*) AS count \
     FROM trials WHERE outcome = 'refused' AND requested_at >= $1 \
     GROUP BY (requested_at / 604800) * 604800, COALESCE(refusal_code, 'unknown') \
     ORDER BY week DESC, count DESC",
);
static OVER_SEATS: Statement = Statement::new(
    "overview.over_seats",
    "SELECT id, active_users, user_limit, last_seen_at, account_id FROM deployments \
     WHERE over_seat_limit = TRUE ORDER BY last_seen_at DESC LIMIT $1",
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[&LICENSE_COUNTS, &FUNNEL, &REFUSALS, &OVER_SEATS];

/// Licenses by standing at `now`; "expiring" means the term ends by `until`.
pub async fn license_counts(conn: Conn<'_>, now: i64, until: i64) -> StoreResult<LicenseCounts> {
    LICENSE_COUNTS.bind(now).bind(until).fetch_one(conn).await
}

/// The trial funnel of the weeks since `since`, newest first.
pub async fn funnel(conn: Conn<'_>, since: i64) -> StoreResult<Vec<FunnelWeek>> {
    FUNNEL.bind(since).fetch_all(conn).await
}

/// Refusals by rule and week since `since`.
pub async fn refusals(conn: Conn<'_>, since: i64) -> StoreResult<Vec<RefusalCount>> {
    REFUSALS.bind(since).fetch_all(conn).await
}

/// Up to `limit` deployments over their seats, latest check-in first.
pub async fn over_seats(conn: Conn<'_>, limit: i64) -> StoreResult<Vec<OverSeats>> {
    OVER_SEATS.bind(limit).fetch_all(conn).await
}
