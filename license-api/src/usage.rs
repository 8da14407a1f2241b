//! `GET /api/v1/licenses/{id}/usage` and `GET /api/v1/accounts/{id}/usage`: seat usage over a
//! term (the true-up report).

use serde::{Deserialize, Serialize};

/// One day of a license's usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDayView {
    /// The UTC date, `2027-01-31`.
    pub date: String,
    /// The sum of the deployments' peak active users that day.
    pub users: u64,
    /// How many deployments reported the license that day.
    pub deployments: u64,
}

/// One deployment's part in a license's usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentUsageView {
    /// The deployment.
    pub deployment_id: String,
    /// Days on which it reported the license.
    pub days_reported: u64,
    /// Its highest daily peak.
    pub peak_users: u64,
    /// Its users on the license's peak day.
    pub users_on_peak_day: u64,
}

/// A license's usage over a range of days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseUsageView {
    /// The license.
    pub license_id: String,
    /// Its account.
    pub account_id: String,
    /// Its seats; `null` when it does not limit users.
    pub user_limit: Option<i64>,
    /// The first day covered, `2027-01-01`.
    pub from: String,
    /// The last day covered (included).
    pub to: String,
    /// Days with at least one check-in.
    pub days_reported: u64,
    /// The highest daily sum of active users.
    pub peak_users: u64,
    /// The first day it was reached; `null` without check-ins.
    pub peak_date: Option<String>,
    /// The 95th percentile of the daily sums (nearest rank, over days with check-ins).
    pub p95_users: u64,
    /// Days whose sum exceeded `user_limit`.
    pub days_over_limit: u64,
    /// Each deployment's part.
    pub deployments: Vec<DeploymentUsageView>,
    /// Each day with check-ins, in order.
    pub daily: Vec<UsageDayView>,
}

/// An account's usage: each of its licenses whose term overlaps the range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountUsageView {
    /// The account.
    pub account_id: String,
    /// The first day covered.
    pub from: String,
    /// The last day covered (included).
    pub to: String,
    /// Each license, newest first.
    pub licenses: Vec<LicenseUsageView>,
}
