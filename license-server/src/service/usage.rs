//! Seat usage over a term (the true-up report): per license, the daily peak of active users
//! summed across its deployments, the peak and the 95th percentile of those days, the days
//! over the seat limit, and each deployment's part; per account, the same for each of its
//! licenses. Read from the daily rollup (`store::usage`), at most a year or a term plus its
//! grace at a time.

use super::Licensor;
use super::error::{Error, OrNotFound, Result};
use crate::store::accounts::{self, AccountId};
use crate::store::licenses::{self, LicenseFilter, LicenseRecord};
use crate::store::usage::{self, UsageDay, day_of};
use crate::store::{Cursor, MAX_PAGE_SIZE, PageRequest};
use license_core::{DAY, LicenseId, Timestamp};

/// The longest range a report covers when the license's term plus grace is shorter.
pub const MAX_RANGE_DAYS: i64 = 366;

/// The days a report covers, both included, as UTC days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    /// The first day.
    pub first: i64,
    /// The last day.
    pub last: i64,
}

impl DayRange {
    /// How many days it covers.
    pub fn len(self) -> i64 {
        self.last - self.first + 1
    }

    /// Whether it covers no day (never, once validated).
    pub fn is_empty(self) -> bool {
        self.len() <= 0
    }
}

/// The range a caller asked for: dates as `2027-01-31`, each optional.
#[derive(Debug, Clone, Default)]
pub struct UsageQuery {
    /// The first day.
    pub from: Option<String>,
    /// The last day.
    pub to: Option<String>,
}

/// One deployment's part in a license's usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentPart {
    /// The deployment.
    pub deployment_id: String,
    /// Days on which it reported the license.
    pub days_reported: u64,
    /// Its highest daily peak.
    pub peak_users: u64,
    /// Its users on the license's peak day (its part of the peak).
    pub users_on_peak_day: u64,
}

/// A license's usage over a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseUsage {
    /// The license.
    pub license_id: LicenseId,
    /// Its account.
    pub account_id: AccountId,
    /// Its seats; `None` when it does not limit users.
    pub user_limit: Option<i64>,
    /// The days covered.
    pub range: DayRange,
    /// Each day with check-ins, in order.
    pub days: Vec<UsageDay>,
    /// The highest daily sum.
    pub peak_users: u64,
    /// The first day it was reached.
    pub peak_day: Option<i64>,
    /// The 95th percentile of the daily sums (nearest rank, over days with check-ins).
    pub p95_users: u64,
    /// Days whose sum exceeded the seats.
    pub days_over_limit: u64,
    /// Each deployment's part.
    pub deployments: Vec<DeploymentPart>,
}

/// An account's usage: each of its licenses over one range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountUsage {
    /// The account.
    pub account_id: AccountId,
    /// The days covered.
    pub range: DayRange,
    /// Each license whose term overlaps the range, newest first.
    pub licenses: Vec<LicenseUsage>,
}

/// The 95th percentile of `values` by nearest rank: the smallest value that at least 95 % of
/// the values do not exceed; 0 for no values.
pub fn p95(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (sorted.len() * 95).div_ceil(100);
    rank.checked_sub(1)
        .and_then(|i| sorted.get(i))
        .copied()
        .unwrap_or(0)
}

fn parse_day(name: &str, text: &str) -> Result<i64> {
    let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| Error::field(name, format!("{text:?} is not a date such as 2027-01-31")))?;
    let at = date
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .and_then(|t| Timestamp::from_datetime(t).ok())
        .ok_or_else(|| Error::field(name, format!("{text:?} is out of range")))?;
    Ok(day_of(at))
}

/// The range `query` asks for, `default` where it says nothing, refused when it is reversed
/// or longer than `max_days`.
fn range_of(query: &UsageQuery, default: DayRange, max_days: i64) -> Result<DayRange> {
    let first = match &query.from {
        Some(text) => parse_day("from", text)?,
        None => default.first,
    };
    let last = match &query.to {
        Some(text) => parse_day("to", text)?,
        None => default.last,
    };
    let range = DayRange { first, last };
    if range.is_empty() {
        return Err(Error::invalid(
            "invalid_range",
            "`from` is after `to`: give a range that starts before it ends",
        ));
    }
    if range.len() > max_days {
        return Err(Error::invalid(
            "range_too_long",
            format!(
                "the range covers {} days; a usage report covers at most {max_days}: narrow `from` and `to`",
                range.len()
            ),
        ));
    }
    Ok(range)
}

impl Licensor {
    /// License `id`'s usage over its term, or over the days `query` names (at most its term
    /// plus grace, or a year when that is longer).
    pub async fn license_usage(&self, id: LicenseId, query: &UsageQuery) -> Result<LicenseUsage> {
        let license = licenses::get(self.store().conn(), id)
            .await
            .or_not_found(|| format!("license {id}"))?;
        let term = DayRange {
            first: day_of(license.starts_at),
            last: day_of(license.expires_at),
        };
        let with_grace = day_of(license.grace_ends_at) - term.first + 1;
        let range = range_of(query, term, with_grace.max(MAX_RANGE_DAYS))?;
        self.usage_of(&license, range).await
    }

    /// Account `id`'s usage: each of its licenses whose term overlaps the range (default: the
    /// year up to today; at most a year).
    pub async fn account_usage(&self, id: AccountId, query: &UsageQuery) -> Result<AccountUsage> {
        accounts::get(self.store().conn(), id)
            .await
            .or_not_found(|| format!("account {id}"))?;
        let today = day_of(self.now());
        let year = DayRange {
            first: today - (MAX_RANGE_DAYS - 2),
            last: today,
        };
        let range = range_of(query, year, MAX_RANGE_DAYS)?;
        let filter = LicenseFilter {
            account_id: Some(id),
            ..LicenseFilter::default()
        };
        let mut page = PageRequest {
            limit: MAX_PAGE_SIZE,
            after: None,
        };
        let mut licenses = Vec::new();
        loop {
            let found = licenses::list(self.store().conn(), &filter, &page).await?;
            for license in &found.items {
                let overlaps = day_of(license.starts_at) <= range.last
                    && day_of(license.grace_ends_at) >= range.first;
                if overlaps {
                    licenses.push(self.usage_of(license, range).await?);
                }
            }
            match found.next_cursor.as_deref().and_then(Cursor::decode) {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        Ok(AccountUsage {
            account_id: id,
            range,
            licenses,
        })
    }

    async fn usage_of(&self, license: &LicenseRecord, range: DayRange) -> Result<LicenseUsage> {
        let conn = self.store().conn();
        let days = usage::days(conn, license.id, range.first, range.last).await?;
        let sums: Vec<u64> = days.iter().map(|d| d.users).collect();
        let peak = days.iter().max_by_key(|d| (d.users, -d.day));
        let peak_users = peak.map_or(0, |d| d.users);
        let peak_day = peak.filter(|d| d.users > 0).map(|d| d.day);
        let days_over_limit = match license.user_limit {
            Some(seats) => days
                .iter()
                .filter(|d| i64::try_from(d.users).unwrap_or(i64::MAX) > seats)
                .count() as u64,
            None => 0,
        };
        let on_peak = match peak_day {
            Some(day) => usage::on_day(self.store().conn(), license.id, day).await?,
            None => Vec::new(),
        };
        // Every deployment's days inside the range: its totals are the range's (one row per
        // deployment); otherwise the deployment-days of the range are read.
        let totals = usage::totals(self.store().conn(), license.id).await?;
        let covered = totals
            .iter()
            .all(|t| t.first_day >= range.first && t.last_day <= range.last);
        let parts = if covered {
            totals.into_iter().map(|t| t.usage).collect()
        } else {
            usage::deployments(self.store().conn(), license.id, range.first, range.last).await?
        };
        let deployments = parts
            .into_iter()
            .map(|d| DeploymentPart {
                users_on_peak_day: on_peak
                    .iter()
                    .find(|(id, _)| *id == d.deployment_id)
                    .map_or(0, |(_, users)| *users),
                deployment_id: d.deployment_id,
                days_reported: d.days,
                peak_users: d.peak_users,
            })
            .collect();
        Ok(LicenseUsage {
            license_id: license.id,
            account_id: license.account_id,
            user_limit: license.user_limit,
            range,
            days,
            peak_users,
            peak_day,
            p95_users: p95(&sums),
            days_over_limit,
            deployments,
        })
    }
}

/// The date of UTC day `day`, `2027-01-31`.
pub fn date_of(day: i64) -> String {
    Timestamp::from_unix(day.saturating_mul(DAY))
        .unwrap_or(Timestamp::EPOCH)
        .date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_is_the_nearest_rank() {
        assert_eq!(p95(&[]), 0);
        assert_eq!(p95(&[7]), 7);
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(p95(&hundred), 95);
        let twenty: Vec<u64> = (1..=20).rev().collect();
        assert_eq!(p95(&twenty), 19);
        assert_eq!(p95(&[5, 1, 3]), 5);
    }

    #[test]
    fn ranges_are_bounded_and_ordered() {
        let default = DayRange {
            first: 10,
            last: 20,
        };
        let query = UsageQuery::default();
        assert_eq!(range_of(&query, default, 366).ok(), Some(default));
        let reversed = UsageQuery {
            from: Some("1970-01-21".into()),
            to: Some("1970-01-11".into()),
        };
        assert!(range_of(&reversed, default, 366).is_err());
        let long = UsageQuery {
            from: Some("1970-01-01".into()),
            to: Some("1972-01-01".into()),
        };
        assert!(range_of(&long, default, 366).is_err());
        let bad = UsageQuery {
            from: Some("yesterday".into()),
            to: None,
        };
        assert!(range_of(&bad, default, 366).is_err());
        let dated = UsageQuery {
            from: Some("1970-01-02".into()),
            to: None,
        };
        assert_eq!(
            range_of(&dated, default, 366).ok(),
            Some(DayRange { first: 1, last: 20 })
        );
        assert_eq!(date_of(1), "1970-01-02");
    }
}
