//! Seat usage per license and day (the true-up report's rollup), maintained as check-ins
//! arrive: each deployment's peak for a license on a day, and the day's sum of those peaks.
//! A check-in raises a peak or leaves it, so the rollup does not depend on the order in
//! which check-ins arrive, nor on one arriving twice. Per license and deployment, the totals
//! over all days let a report that covers them all skip the deployment-days.

use super::rows::unsigned;
use super::{Conn, Statement, StoreResult};
use license_core::{DAY, LicenseId, Timestamp};

/// The UTC day (days since 1970-01-01) of `at`.
pub fn day_of(at: Timestamp) -> i64 {
    at.unix().div_euclid(DAY)
}

/// One day of a license's usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageDay {
    /// Days since 1970-01-01.
    pub day: i64,
    /// The sum of the deployments' peaks that day.
    pub users: u64,
    /// How many deployments reported the license that day.
    pub deployments: u64,
}

/// One deployment's usage of a license over a range of days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentUsage {
    /// The deployment.
    pub deployment_id: String,
    /// Days on which it reported the license.
    pub days: u64,
    /// Its highest daily peak.
    pub peak_users: u64,
}

/// One deployment's usage of a license over all its days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentTotal {
    /// The first day it reported the license.
    pub first_day: i64,
    /// The last day it reported the license.
    pub last_day: i64,
    /// Its days and peak over all of them.
    pub usage: DeploymentUsage,
}

/// Locks (creating it) the license's row for the day: check-ins for one license and day then
/// update the sum one at a time, on either backend.
static LOCK_DAY: Statement = Statement::new(
    "usage.lock_day",
    "INSERT INTO license_usage_days (license_id, day, users, deployments) VALUES ($1, $2, 0, 0) \
     ON CONFLICT (license_id, day) DO UPDATE SET users = license_usage_days.users",
);
static DEPLOYMENT_PEAK: Statement = Statement::new(
    "usage.deployment_peak",
    "SELECT peak_users FROM license_usage_deployments \
     WHERE license_id = $1 AND day = $2 AND deployment_id = $3",
);
static SET_DEPLOYMENT_PEAK: Statement = Statement::new(
    "usage.set_deployment_peak",
    "INSERT INTO license_usage_deployments (license_id, day, deployment_id, peak_users) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (license_id, day, deployment_id) \
     DO UPDATE SET peak_users = excluded.peak_users",
);
static ADD_TO_DAY: Statement = Statement::new(
    "usage.add_to_day",
    "UPDATE license_usage_days SET users = users + $3, deployments = deployments + $4 \
     WHERE license_id = $1 AND day = $2",
);
static ADD_TO_TOTALS: Statement = Statement::new(
    "usage.add_to_totals",
    "INSERT INTO license_usage_totals \
       (license_id, deployment_id, first_day, last_day, days, peak_users) \
     VALUES ($1, $2, $3, $3, $4, $5) ON CONFLICT (license_id, deployment_id) DO UPDATE SET \
       first_day = CASE WHEN excluded.first_day < license_usage_totals.first_day \
                   THEN excluded.first_day ELSE license_usage_totals.first_day END, \
       last_day = CASE WHEN excluded.last_day > license_usage_totals.last_day \
                  THEN excluded.last_day ELSE license_usage_totals.last_day END, \
       days = license_usage_totals.days + excluded.days, \
       peak_users = CASE WHEN excluded.peak_users > license_usage_totals.peak_users \
                    THEN excluded.peak_users ELSE license_usage_totals.peak_users END",
);
static TOTALS: Statement = Statement::new(
    "usage.totals",
    "SELECT deployment_id, first_day, last_day, days, peak_users FROM license_usage_totals \
     WHERE license_id = $1 ORDER BY deployment_id",
);
static DAYS: Statement = Statement::new(
    "usage.days",
    "SELECT day, users, deployments FROM license_usage_days \
     WHERE license_id = $1 AND day >= $2 AND day <= $3 ORDER BY day",
);
static DEPLOYMENTS: Statement = Statement::new(
    "usage.deployments",
    "SELECT deployment_id, COUNT(*), MAX(peak_users) FROM license_usage_deployments \
     WHERE license_id = $1 AND day >= $2 AND day <= $3 \
     GROUP BY deployment_id ORDER BY deployment_id",
);
static ON_DAY: Statement = Statement::new(
    "usage.on_day",
    "SELECT deployment_id, peak_users FROM license_usage_deployments \
     WHERE license_id = $1 AND day = $2",
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[
    &LOCK_DAY,
    &DEPLOYMENT_PEAK,
    &SET_DEPLOYMENT_PEAK,
    &ADD_TO_DAY,
    &ADD_TO_TOTALS,
    &TOTALS,
    &DAYS,
    &DEPLOYMENTS,
    &ON_DAY,
];

/// Records that `deployment` reported `license` with `users` active users at `at`: raises the
/// deployment's peak for that day, and the day's sum by as much. Run it in the check-in's
/// transaction.
pub async fn record(
    mut conn: Conn<'_>,
    license: LicenseId,
    deployment: &str,
    at: Timestamp,
    users: i64,
) -> StoreResult<()> {
    let day = day_of(at);
    LOCK_DAY
        .bind(license)
        .bind(day)
        .execute(conn.reborrow())
        .await?;
    let old: Option<(i64,)> = DEPLOYMENT_PEAK
        .bind(license)
        .bind(day)
        .bind(deployment)
        .fetch_optional(conn.reborrow())
        .await?;
    let old = old.map(|(peak,)| peak);
    if old.is_some_and(|peak| peak >= users) {
        return Ok(());
    }
    SET_DEPLOYMENT_PEAK
        .bind(license)
        .bind(day)
        .bind(deployment)
        .bind(users)
        .execute(conn.reborrow())
        .await?;
    ADD_TO_DAY
        .bind(license)
        .bind(day)
        .bind(users - old.unwrap_or(0))
        .bind(i64::from(old.is_none()))
        .execute(conn.reborrow())
        .await?;
    ADD_TO_TOTALS
        .bind(license)
        .bind(deployment)
        .bind(day)
        .bind(i64::from(old.is_none()))
        .bind(users)
        .execute(conn)
        .await?;
    Ok(())
}

/// Each deployment's usage of the license over all its days.
pub async fn totals(conn: Conn<'_>, license: LicenseId) -> StoreResult<Vec<DeploymentTotal>> {
    let rows: Vec<(String, i64, i64, i64, i64)> = TOTALS.bind(license).fetch_all(conn).await?;
    rows.into_iter()
        .map(|(deployment_id, first_day, last_day, days, peak)| {
            Ok(DeploymentTotal {
                first_day,
                last_day,
                usage: DeploymentUsage {
                    deployment_id,
                    days: unsigned(days)?,
                    peak_users: unsigned(peak)?,
                },
            })
        })
        .collect()
}

/// The license's days from `first` to `last` (inclusive) that have usage, in order.
pub async fn days(
    conn: Conn<'_>,
    license: LicenseId,
    first: i64,
    last: i64,
) -> StoreResult<Vec<UsageDay>> {
    let rows: Vec<(i64, i64, i64)> = DAYS
        .bind(license)
        .bind(first)
        .bind(last)
        .fetch_all(conn)
        .await?;
    rows.into_iter()
        .filter(|(_, _, deployments)| *deployments > 0)
        .map(|(day, users, deployments)| {
            Ok(UsageDay {
                day,
                users: unsigned(users)?,
                deployments: unsigned(deployments)?,
            })
        })
        .collect()
}

/// Each deployment that reported the license from `first` to `last`: its days and peak.
pub async fn deployments(
    conn: Conn<'_>,
    license: LicenseId,
    first: i64,
    last: i64,
) -> StoreResult<Vec<DeploymentUsage>> {
    let rows: Vec<(String, i64, i64)> = DEPLOYMENTS
        .bind(license)
        .bind(first)
        .bind(last)
        .fetch_all(conn)
        .await?;
    rows.into_iter()
        .map(|(deployment_id, days, peak)| {
            Ok(DeploymentUsage {
                deployment_id,
                days: unsigned(days)?,
                peak_users: unsigned(peak)?,
            })
        })
        .collect()
}

/// Each deployment's peak for the license on `day`.
pub async fn on_day(
    conn: Conn<'_>,
    license: LicenseId,
    day: i64,
) -> StoreResult<Vec<(String, u64)>> {
    let rows: Vec<(String, i64)> = ON_DAY.bind(license).bind(day).fetch_all(conn).await?;
    rows.into_iter()
        .map(|(deployment, peak)| Ok((deployment, unsigned(peak)?)))
        .collect()
}
