//! `serve`'s notification options: reminder stages, the desk's address, and webhooks.

use crate::app::Config;
use crate::service::reminder_policy::NotificationPolicy;
use crate::service::webhook_delivery::WebhookSettings;
use std::time::Duration;

/// Reminders and webhooks.
#[derive(Debug, Clone, clap::Args)]
pub struct NotifyArgs {
    /// Days before a paid license expires on which its licensee is reminded (comma-separated).
    #[arg(
        long,
        value_name = "DAYS",
        env = "LICENSOR_REMINDER_DAYS",
        value_delimiter = ',',
        default_value = "60,30,7,1"
    )]
    pub reminder_days: Vec<u32>,
    /// Days before a trial ends on which its licensee is reminded (comma-separated).
    #[arg(
        long,
        value_name = "DAYS",
        env = "LICENSOR_TRIAL_REMINDER_DAYS",
        value_delimiter = ',',
        default_value = "7,1"
    )]
    pub trial_reminder_days: Vec<u32>,
    /// Hours without a check-in after which a trial deployment's licensee is told.
    #[arg(
        long,
        value_name = "HOURS",
        env = "LICENSOR_CHECKIN_OVERDUE_HOURS",
        default_value_t = 24
    )]
    pub checkin_overdue_hours: u32,
    /// The vendor desk's address for over-seat and overuse alerts (none: not sent).
    #[arg(long, value_name = "ADDRESS", env = "LICENSOR_DESK_EMAIL")]
    pub desk_email: Option<String>,
    /// Seconds between the reminder scheduler's passes.
    #[arg(
        long,
        value_name = "SECONDS",
        env = "LICENSOR_SCHEDULER_INTERVAL",
        default_value_t = 60
    )]
    pub scheduler_interval: u64,
    /// Let webhook endpoints be private, loopback or link-local addresses (tests, closed
    /// networks). Off by default, so that the licensor cannot be used to reach internal
    /// services.
    #[arg(long, env = "LICENSOR_WEBHOOKS_ALLOW_PRIVATE")]
    pub webhooks_allow_private: bool,
    /// Seconds a webhook delivery may take (connecting, sending, reading the answer).
    #[arg(
        long,
        value_name = "SECONDS",
        env = "LICENSOR_WEBHOOK_TIMEOUT",
        default_value_t = 10
    )]
    pub webhook_timeout: u64,
}

impl NotifyArgs {
    /// Applies these options to `config`: the scheduler and the webhook worker run here.
    pub fn apply(&self, config: &mut Config) -> anyhow::Result<()> {
        if let Some(desk) = &self.desk_email
            && !crate::mail::Composer::accepts_recipient(desk)
        {
            anyhow::bail!("--desk-email {desk:?} is not an email address");
        }
        config.notifications = NotificationPolicy {
            paid_days: self.reminder_days.clone(),
            trial_days: self.trial_reminder_days.clone(),
            checkin_overdue_hours: self.checkin_overdue_hours.max(1),
            desk: self.desk_email.clone(),
        };
        config.scheduler = Some(Duration::from_secs(self.scheduler_interval.max(1)));
        config.allow_private_webhooks = self.webhooks_allow_private;
        config.webhooks = Some(WebhookSettings {
            timeout: Duration::from_secs(self.webhook_timeout.clamp(1, 60)),
            ..WebhookSettings::default()
        });
        Ok(())
    }
}
