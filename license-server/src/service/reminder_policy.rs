//! Which reminders a license gets: the stages of its expiry series, from the configured days.
//! Plain data and rules; `notifications` schedules and sends them.

use crate::store::licenses::LicenseRecord;
use crate::store::notifications::{NewNotification, Series};
use license_core::{DAY, Timestamp};

/// How far back the overuse flag looks for the deployments a license was reported from.
pub(super) const OVERUSE_WINDOW_DAYS: i64 = 30;

/// Which reminders are sent, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationPolicy {
    /// Days before a paid license expires on which its licensee is reminded.
    pub paid_days: Vec<u32>,
    /// Days before a trial ends on which its licensee is reminded.
    pub trial_days: Vec<u32>,
    /// Hours without a check-in after which a trial deployment's licensee is told.
    pub checkin_overdue_hours: u32,
    /// The vendor's desk: over-seat and overuse alerts (none: not sent).
    pub desk: Option<String>,
}

impl Default for NotificationPolicy {
    fn default() -> Self {
        Self {
            paid_days: vec![60, 30, 7, 1],
            trial_days: vec![7, 1],
            checkin_overdue_hours: 24,
            desk: None,
        }
    }
}

/// The stage name of a reminder `days` before expiry.
fn expires_in(days: u32) -> String {
    format!("expires_in_{days}d")
}

impl NotificationPolicy {
    /// The expiry series of `license`, issued at `now`: the configured days before expiry
    /// that are still ahead, the expiry, and the end of grace when there is one.
    pub fn stages(&self, license: &LicenseRecord, now: Timestamp) -> Vec<NewNotification> {
        let days = if license.trial {
            &self.trial_days
        } else {
            &self.paid_days
        };
        let stage = |stage: String, due_at: Timestamp| NewNotification {
            license_id: license.id,
            series: Series::Expiry,
            stage,
            due_at,
            recipient: license.email.clone(),
            deployment_id: None,
        };
        let mut stages: Vec<NewNotification> = days
            .iter()
            .map(|d| (*d, license.expires_at.add_seconds(-i64::from(*d) * DAY)))
            .filter(|(_, due)| *due > now)
            .map(|(d, due)| stage(expires_in(d), due))
            .collect();
        stages.push(stage("expired".to_owned(), license.expires_at));
        if license.grace_ends_at > license.expires_at {
            stages.push(stage("grace_ended".to_owned(), license.grace_ends_at));
        }
        stages
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::licenses::LicenseStatus;

    #[test]
    fn stages_already_past_at_issue_are_not_scheduled() {
        let at = |t: &str| Timestamp::parse_rfc3339(t).unwrap();
        let license = LicenseRecord {
            id: uuid::Uuid::from_u128(1),
            account_id: crate::store::accounts::AccountId(uuid::Uuid::from_u128(2)),
            email: "a@b.example".into(),
            token: String::new(),
            key_id: String::new(),
            feature_set: license_core::FeatureSet::Premium,
            features: Default::default(),
            user_limit: Some(10),
            deployment_ids: vec![],
            trial: false,
            evaluation: false,
            sequence: 1,
            starts_at: at("2027-01-01T00:00:00Z"),
            expires_at: at("2027-03-02T00:00:00Z"),
            grace_ends_at: at("2027-03-16T00:00:00Z"),
            issued_at: at("2027-01-01T00:00:00Z"),
            issued_by: "desk".into(),
            status: LicenseStatus::Active,
            revoked_at: None,
            revoke_reason: None,
            supersedes: None,
        };
        let stages = NotificationPolicy::default().stages(&license, at("2027-01-20T00:00:00Z"));
        let names: Vec<&str> = stages.iter().map(|s| s.stage.as_str()).collect();
        assert_eq!(
            names,
            [
                "expires_in_30d",
                "expires_in_7d",
                "expires_in_1d",
                "expired",
                "grace_ended"
            ]
        );
        assert_eq!(stages[0].due_at, at("2027-01-31T00:00:00Z"));
    }
}
