//! Seat usage per license and day (the true-up report's rollup), maintained as check-ins
//! arrive: each deployment's peak for a license on a day, and the day's sum of those peaks.
//! A check-in raises a peak or leaves it, so the rollup does not depend on the order in
//! which check-ins arrive, nor on one arriving twice. Per license and deployment, the totals
//! over all days let a report that covers them all skip the deployment-days.

use super::rows::{to_json, unsigned, uuid};
use super::{Conn, Statement, StoreResult};
use const_format::concatcp;
use license_core::{DAY, LicenseId, Timestamp};
use std::collections::BTreeMap;

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

static LOCK_DAYS: Statement = Statement::per_backend(
    "usage.lock_days",
    "INSERT INTO license_usage_days (license_id, day, users, deployments) \
     SELECT x.license_id, x.day, 0, 0 \
     FROM jsonb_to_recordset(CAST($1 AS JSONB)) AS x(license_id TEXT, day BIGINT) \
     ON CONFLICT (license_id, day) DO UPDATE SET users = license_usage_days.users",
    "INSERT INTO license_usage_days (license_id, day, users, deployments) \
     SELECT json_extract(value, '$.license_id'), json_extract(value, '$.day'), 0, 0 \
     FROM json_each($1) WHERE true \
     ON CONFLICT (license_id, day) DO UPDATE SET users = license_usage_days.users",
);
static DEPLOYMENT_PEAKS: Statement = Statement::per_backend(
    "usage.deployment_peaks",
    "SELECT u.license_id, u.day, u.deployment_id, u.peak_users \
     FROM jsonb_to_recordset(CAST($1 AS JSONB)) AS x(license_id TEXT, day BIGINT, deployment_id TEXT) \
     JOIN license_usage_deployments u \
       ON u.license_id = x.license_id AND u.day = x.day AND u.deployment_id = x.deployment_id",
    "SELECT u.license_id, u.day, u.deployment_id, u.peak_users FROM json_each($1) AS x \
     JOIN license_usage_deployments u ON u.license_id = json_extract(x.value, '$.license_id') \
       AND u.day = json_extract(x.value, '$.day') \
       AND u.deployment_id = json_extract(x.value, '$.deployment_id')",
);
static SET_DEPLOYMENT_PEAKS: Statement = Statement::per_backend(
    "usage.set_deployment_peaks",
    "INSERT INTO license_usage_deployments (license_id, day, deployment_id, peak_users) \
     SELECT x.license_id, x.day, x.deployment_id, x.peak_users \
     FROM jsonb_to_recordset(CAST($1 AS JSONB)) \
       AS x(license_id TEXT, day BIGINT, deployment_id TEXT, peak_users BIGINT) \
     ON CONFLICT (license_id, day, deployment_id) DO UPDATE SET peak_users = excluded.peak_users",
    "INSERT INTO license_usage_deployments (license_id, day, deployment_id, peak_users) \
     SELECT json_extract(value, '$.license_id'), json_extract(value, '$.day'), \
       json_extract(value, '$.deployment_id'), json_extract(value, '$.peak_users') \
     FROM json_each($1) WHERE true \
     ON CONFLICT (license_id, day, deployment_id) DO UPDATE SET peak_users = excluded.peak_users",
);
static ADD_TO_DAYS: Statement = Statement::per_backend(
    "usage.add_to_days",
    "UPDATE license_usage_days AS d SET users = d.users + x.users, \
       deployments = d.deployments + x.deployments \
     FROM jsonb_to_recordset(CAST($1 AS JSONB)) \
       AS x(license_id TEXT, day BIGINT, users BIGINT, deployments BIGINT) \
     WHERE d.license_id = x.license_id AND d.day = x.day",
    "UPDATE license_usage_days SET users = license_usage_days.users + x.users, \
       deployments = license_usage_days.deployments + x.deployments \
     FROM (SELECT json_extract(value, '$.license_id') AS license_id, \
             json_extract(value, '$.day') AS day, json_extract(value, '$.users') AS users, \
             json_extract(value, '$.deployments') AS deployments FROM json_each($1)) AS x \
     WHERE license_usage_days.license_id = x.license_id AND license_usage_days.day = x.day",
);
/// The `ON CONFLICT` of [`ADD_TO_TOTALS`], shared by the batch's statement.
const TOTALS_CONFLICT: &str = " ON CONFLICT (license_id, deployment_id) DO UPDATE SET \
       first_day = CASE WHEN excluded.first_day < license_usage_totals.first_day \
                   THEN excluded.first_day ELSE license_usage_totals.first_day END, \
       last_day = CASE WHEN excluded.last_day > license_usage_totals.last_day \
                  THEN excluded.last_day ELSE license_usage_totals.last_day END, \
       days = license_usage_totals.days + excluded.days, \
       peak_users = CASE WHEN excluded.peak_users > license_usage_totals.peak_users \
                    THEN excluded.peak_users ELSE license_usage_totals.peak_users END";
static ADD_TO_TOTALS_MANY: Statement = Statement::per_backend(
    "usage.add_to_totals_many",
    concatcp!(
        "INSERT INTO license_usage_totals \
           (license_id, deployment_id, first_day, last_day, days, peak_users) \
         SELECT x.license_id, x.deployment_id, x.first_day, x.last_day, x.days, x.peak_users \
         FROM jsonb_to_recordset(CAST($1 AS JSONB)) AS x(license_id TEXT, deployment_id TEXT, \
           first_day BIGINT, last_day BIGINT, days BIGINT, peak_users BIGINT)",
        TOTALS_CONFLICT
    ),
    concatcp!(
        "INSERT INTO license_usage_totals \
           (license_id, deployment_id, first_day, last_day, days, peak_users) \
         SELECT json_extract(value, '$.license_id'), json_extract(value, '$.deployment_id'), \
           json_extract(value, '$.first_day'), json_extract(value, '$.last_day'), \
           json_extract(value, '$.days'), json_extract(value, '$.peak_users') \
         FROM json_each($1) WHERE true",
        TOTALS_CONFLICT
    ),
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[
    &LOCK_DAYS,
    &DEPLOYMENT_PEAKS,
    &SET_DEPLOYMENT_PEAKS,
    &ADD_TO_DAYS,
    &ADD_TO_TOTALS_MANY,
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

/// One check-in's report of a license, for [`record_many`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    /// The license reported.
    pub license: LicenseId,
    /// The deployment that reported it.
    pub deployment: String,
    /// When.
    pub at: Timestamp,
    /// Its active users.
    pub users: i64,
}

/// [`record`] for several reports at once, in five statements whatever their number: the
/// days' rows locked (created) in key order, the deployments' peaks read, the raised ones
/// written, and the days' sums and the totals raised by as much. The rows are those that
/// [`record`] leaves for each report in turn. Run it in the check-ins' transaction.
pub async fn record_many(mut conn: Conn<'_>, reports: &[UsageReport]) -> StoreResult<()> {
    use serde_json::{Value as J, json as j};
    if reports.is_empty() {
        return Ok(());
    }
    // The highest users per license, day and deployment: the order of reports within one
    // deployment-day does not change the peak it leaves.
    let mut wanted: BTreeMap<(LicenseId, i64, &str), i64> = BTreeMap::new();
    for r in reports {
        let peak = wanted
            .entry((r.license, day_of(r.at), r.deployment.as_str()))
            .or_insert(r.users);
        *peak = (*peak).max(r.users);
    }
    let days: std::collections::BTreeSet<(LicenseId, i64)> =
        wanted.keys().map(|(l, d, _)| (*l, *d)).collect();
    let days: Vec<J> = days
        .into_iter()
        .map(|(l, d)| j!({ "license_id": l.hyphenated().to_string(), "day": d }))
        .collect();
    LOCK_DAYS
        .bind(to_json("days", &days)?)
        .execute(conn.reborrow())
        .await?;
    let keys: Vec<J> = wanted
        .keys()
        .map(|(l, d, dep)| j!({ "license_id": l.hyphenated().to_string(), "day": d, "deployment_id": dep }))
        .collect();
    let rows: Vec<(String, i64, String, i64)> = DEPLOYMENT_PEAKS
        .bind(to_json("keys", &keys)?)
        .fetch_all(conn.reborrow())
        .await?;
    let mut old: BTreeMap<(LicenseId, i64, String), i64> = BTreeMap::new();
    for (license, day, deployment, peak) in rows {
        old.insert((uuid(&license)?, day, deployment), peak);
    }
    let mut peaks = Vec::new();
    let mut sums: BTreeMap<(LicenseId, i64), (i64, i64)> = BTreeMap::new();
    // Per license and deployment: first and last raised day, new days, highest raised peak.
    let mut totals: BTreeMap<(LicenseId, &str), (i64, i64, i64, i64)> = BTreeMap::new();
    for ((license, day, deployment), users) in &wanted {
        let before = old
            .get(&(*license, *day, (*deployment).to_owned()))
            .copied();
        if before.is_some_and(|peak| peak >= *users) {
            continue;
        }
        let new_day = i64::from(before.is_none());
        peaks.push(j!({
            "license_id": license.hyphenated().to_string(), "day": day,
            "deployment_id": deployment, "peak_users": users,
        }));
        let sum = sums.entry((*license, *day)).or_insert((0, 0));
        sum.0 += users - before.unwrap_or(0);
        sum.1 += new_day;
        let total = totals
            .entry((*license, deployment))
            .or_insert((*day, *day, 0, *users));
        total.0 = total.0.min(*day);
        total.1 = total.1.max(*day);
        total.2 += new_day;
        total.3 = total.3.max(*users);
    }
    if peaks.is_empty() {
        return Ok(());
    }
    SET_DEPLOYMENT_PEAKS
        .bind(to_json("peaks", &peaks)?)
        .execute(conn.reborrow())
        .await?;
    let sums: Vec<J> = sums
        .into_iter()
        .map(|((l, d), (users, deployments))| {
            j!({ "license_id": l.hyphenated().to_string(), "day": d, "users": users, "deployments": deployments })
        })
        .collect();
    ADD_TO_DAYS
        .bind(to_json("days", &sums)?)
        .execute(conn.reborrow())
        .await?;
    let totals: Vec<J> = totals
        .into_iter()
        .map(|((l, dep), (first, last, days, peak))| {
            j!({
                "license_id": l.hyphenated().to_string(), "deployment_id": dep,
                "first_day": first, "last_day": last, "days": days, "peak_users": peak,
            })
        })
        .collect();
    ADD_TO_TOTALS_MANY
        .bind(to_json("totals", &totals)?)
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
