//! Reminders: which stages a license gets (scheduled in the transaction that issues it,
//! cancelled by the one that supersedes or revokes it), and the scheduler that turns due
//! stages into outbox messages.
//!
//! Exactly once per license and stage, with any number of replicas and restarts: a stage is a
//! row with a unique (license, stage) key, and the scheduler moves it out of `scheduled` in
//! the same transaction that queues its email (on Postgres the due rows are locked with
//! `SKIP LOCKED`, so replicas take disjoint rows). A stage missed while no scheduler ran is
//! sent when one runs again, unless a later stage of its series is already due: then it is
//! skipped and only the later one is sent.

use super::Licensor;
use super::error::Result;
use super::reminder_policy::OVERUSE_WINDOW_DAYS;
use super::webhooks::EventType;
use crate::mail::{Reminder, ReminderMail};
use crate::store::Tx;
use crate::store::deployments;
use crate::store::licenses::{self, LicenseRecord, LicenseStatus};
use crate::store::notifications::{self, NewNotification, Notification, NotificationState, Series};
use crate::store::outbox;
use license_core::{DAY, LicenseId, Timestamp};
use serde_json::json;
use std::time::Duration;
use tokio::sync::watch;

/// How many due stages one scheduler pass takes.
const BATCH: i64 = 100;

impl Licensor {
    /// Schedules the reminders of `license`, just issued, and cancels those of the license it
    /// supersedes.
    pub(super) async fn schedule_reminders(
        &self,
        tx: &mut Tx,
        license: &LicenseRecord,
    ) -> Result<()> {
        let now = self.now();
        if let Some(old) = license.supersedes {
            notifications::cancel(tx.conn(), old, now).await?;
        }
        for stage in self.notification_policy().stages(license, now) {
            notifications::schedule(tx.conn(), &stage).await?;
        }
        Ok(())
    }

    /// Schedules (or moves later) the check-in reminder of trial `license` on `deployment`,
    /// seen now.
    pub(super) async fn checkin_seen(
        &self,
        tx: &mut Tx,
        license: &LicenseRecord,
        deployment: &str,
    ) -> Result<()> {
        let hours = self.notification_policy().checkin_overdue_hours;
        let due_at = self.now().add_seconds(i64::from(hours) * 3600);
        if due_at >= license.expires_at {
            return Ok(());
        }
        let stage = NewNotification {
            license_id: license.id,
            series: Series::Checkin,
            stage: "checkin_overdue".to_owned(),
            due_at,
            recipient: license.email.clone(),
            deployment_id: Some(deployment.to_owned()),
        };
        Ok(notifications::reschedule(tx.conn(), &stage).await?)
    }

    /// Schedules a desk alert about `license` (once per license and `stage`), due now.
    pub(super) async fn desk_alert(
        &self,
        tx: &mut Tx,
        license: LicenseId,
        stage: &str,
        deployment: &str,
    ) -> Result<()> {
        let Some(desk) = self.notification_policy().desk.clone() else {
            return Ok(());
        };
        let alert = NewNotification {
            license_id: license,
            series: Series::Desk,
            stage: stage.to_owned(),
            due_at: self.now(),
            recipient: desk,
            deployment_id: Some(deployment.to_owned()),
        };
        Ok(notifications::schedule(tx.conn(), &alert).await?)
    }

    /// Every reminder of license `id`, by due time.
    pub async fn notifications(&self, id: LicenseId) -> Result<Vec<Notification>> {
        Ok(notifications::for_license(self.store().conn(), id).await?)
    }

    /// One scheduler pass: queues the email of every due stage (skipping those a later due
    /// stage of their series makes redundant) and returns how many were queued. Safe to run
    /// on several replicas at once.
    pub async fn queue_due_notifications(&self) -> Result<usize> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let due = notifications::due(tx.conn(), now, BATCH).await?;
        let mut queued = 0;
        for n in due {
            let state = self.decide(&mut tx, &n, now).await?;
            let outbox_id = if state == NotificationState::Queued {
                queued += 1;
                Some(uuid::Uuid::new_v4())
            } else {
                None
            };
            if let Some(id) = outbox_id
                && !self.queue_reminder(&mut tx, &n, id, now).await?
            {
                notifications::decide(tx.conn(), n.id, NotificationState::Skipped, None, now)
                    .await?;
                queued -= 1;
                continue;
            }
            notifications::decide(tx.conn(), n.id, state, outbox_id, now).await?;
        }
        tx.commit().await?;
        if queued > 0 {
            self.outbox_wake().notify_one();
            self.webhook_wake().notify_one();
            tracing::info!(queued, "reminders queued");
        }
        Ok(queued)
    }

    async fn decide(
        &self,
        tx: &mut Tx,
        n: &Notification,
        now: Timestamp,
    ) -> Result<NotificationState> {
        if notifications::later_reached(tx.conn(), n, now).await? {
            return Ok(NotificationState::Skipped);
        }
        let license = licenses::get(tx.conn(), n.license_id).await?;
        Ok(if license.status == LicenseStatus::Active {
            NotificationState::Queued
        } else {
            NotificationState::Cancelled
        })
    }

    /// Composes and queues the email of `n` as outbox row `id`, with its event; false when
    /// it cannot be composed (logged; the stage is skipped rather than blocking the rest).
    async fn queue_reminder(
        &self,
        tx: &mut Tx,
        n: &Notification,
        id: uuid::Uuid,
        now: Timestamp,
    ) -> Result<bool> {
        let license = licenses::get(tx.conn(), n.license_id).await?;
        let deployment = n.deployment_id.as_deref().unwrap_or_default();
        // The desk's alerts carry the numbers as they stand when the alert goes out.
        let count = match n.stage.as_str() {
            "desk_over_seats" => deployments::get(tx.conn(), deployment).await?.active_users,
            "desk_overused" => {
                let since = now.add_seconds(-OVERUSE_WINDOW_DAYS * DAY);
                deployments::seen_counts(tx.conn(), &[license.id], since)
                    .await?
                    .first()
                    .map_or(0, |(_, seen)| *seen)
            }
            _ => 0,
        };
        let (reminder, event) = self.reminder_of(n, &license, count);
        let mail = ReminderMail {
            reminder,
            recipient: &n.recipient,
            license_id: license.id,
            licensee: &license.email,
            trial: license.trial,
            evaluation: license.evaluation,
            expires_at: license.expires_at,
            grace_ends_at: license.grace_ends_at,
        };
        let message = match self.composer().reminder_email(id, &mail, now) {
            Ok(message) => message,
            Err(error) => {
                tracing::error!(license_id = %license.id, stage = %n.stage, %error, "reminder cannot be composed; skipped");
                return Ok(false);
            }
        };
        outbox::insert(tx.conn(), &message).await?;
        if let Some((event, data)) = event {
            self.emit(tx, event, data).await?;
        }
        Ok(true)
    }

    /// The reminder a stage sends, and the event it emits.
    fn reminder_of(
        &self,
        n: &Notification,
        license: &LicenseRecord,
        count: u64,
    ) -> (Reminder, Option<(EventType, serde_json::Value)>) {
        let view = super::webhooks::license_data(license);
        let deployment = n.deployment_id.clone().unwrap_or_default();
        match (n.series, n.stage.as_str()) {
            (Series::Expiry, "expired") => (
                Reminder::Expired,
                Some((
                    EventType::LicenseExpired,
                    json!({ "license": view, "stage": "expired" }),
                )),
            ),
            (Series::Expiry, "grace_ended") => (
                Reminder::GraceEnded,
                Some((
                    EventType::LicenseExpired,
                    json!({ "license": view, "stage": "grace_ended" }),
                )),
            ),
            (Series::Expiry, stage) => {
                let days = stage
                    .trim_start_matches("expires_in_")
                    .trim_end_matches('d')
                    .parse()
                    .unwrap_or(0);
                (
                    Reminder::ExpiresIn { days },
                    Some((
                        EventType::LicenseExpiring,
                        json!({ "license": view, "stage": stage, "days_left": days }),
                    )),
                )
            }
            (Series::Checkin, _) => {
                let hours = self.notification_policy().checkin_overdue_hours;
                let last_seen = n.due_at.add_seconds(-i64::from(hours) * 3600);
                let allowance = self
                    .verified_claims(license)
                    .ok()
                    .and_then(|c| c.checkin)
                    .map_or(3 * DAY, |c| {
                        i64::try_from(c.max_offline_secs).unwrap_or(3 * DAY)
                    });
                let stops_at = last_seen.add_seconds(allowance);
                let data = json!({
                    "deployment_id": deployment,
                    "license": view,
                    "last_seen_at": last_seen.rfc3339(),
                    "stops_granting_at": stops_at.rfc3339(),
                    "hours_without_checkin": hours,
                });
                (
                    Reminder::CheckinOverdue {
                        deployment_id: deployment,
                        hours,
                        stops_at,
                    },
                    Some((EventType::DeploymentStale, data)),
                )
            }
            (Series::Desk, "desk_overused") => (
                Reminder::DeskOverused {
                    seen: count,
                    allowed: license.deployment_ids.len().max(1) as u64,
                },
                None,
            ),
            (Series::Desk, _) => (
                Reminder::DeskOverSeats {
                    deployment_id: deployment,
                    active_users: count,
                    user_limit: license.user_limit.unwrap_or(0),
                },
                None,
            ),
        }
    }
}

/// Runs the scheduler every `poll` until `shutdown` turns true.
pub async fn run_scheduler(
    licensor: Licensor,
    mut shutdown: watch::Receiver<bool>,
    poll: Duration,
) {
    tracing::info!("notification scheduler started");
    while !*shutdown.borrow() {
        if let Err(error) = licensor.queue_due_notifications().await {
            tracing::warn!(%error, "notification pass failed; retrying after the poll interval");
        }
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!("notification scheduler stopped");
}
