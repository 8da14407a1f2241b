//! Reminder emails: a license's coming expiry, its grace period, a trial deployment that
//! stopped checking in, and the desk's alerts. Each says what happens next and what to do,
//! in plain text and HTML (`templates/reminder.*`).

use super::compose::{ComposeError, Composer};
use crate::store::outbox::NewMessage;
use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, Message};
use license_core::{LicenseId, Timestamp};
use minijinja::context;
use std::time::{Duration, UNIX_EPOCH};

/// What a reminder is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reminder {
    /// The license expires in `days` days.
    ExpiresIn { days: u32 },
    /// The license expired (its grace period begins, if it has one).
    Expired,
    /// The grace period ended.
    GraceEnded,
    /// A trial deployment has not checked in for `hours` hours; it stops granting at
    /// `stops_at`.
    CheckinOverdue {
        deployment_id: String,
        hours: u32,
        stops_at: Timestamp,
    },
    /// To the desk: a deployment runs over its seats.
    DeskOverSeats {
        deployment_id: String,
        active_users: u64,
        user_limit: i64,
    },
    /// To the desk: a license was seen on more deployments than it allows.
    DeskOverused { seen: u64, allowed: u64 },
}

/// A reminder about one license.
#[derive(Debug, Clone)]
pub struct ReminderMail<'a> {
    /// What it is about.
    pub reminder: Reminder,
    /// To whom.
    pub recipient: &'a str,
    /// The license.
    pub license_id: LicenseId,
    /// The licensee.
    pub licensee: &'a str,
    /// A trial license.
    pub trial: bool,
    /// Issued under the evaluation program.
    pub evaluation: bool,
    /// End of the term.
    pub expires_at: Timestamp,
    /// End of the grace period.
    pub grace_ends_at: Timestamp,
}

impl Composer {
    /// Composes reminder `mail` for a new outbox row `id`, dated `at`.
    pub fn reminder_email(
        &self,
        id: uuid::Uuid,
        mail: &ReminderMail<'_>,
        at: Timestamp,
    ) -> Result<NewMessage, ComposeError> {
        let to: Address = mail
            .recipient
            .parse()
            .map_err(|e: lettre::address::AddressError| {
                ComposeError::Recipient(mail.recipient.to_owned(), e.to_string())
            })?;
        let kind = match (mail.trial, mail.evaluation) {
            (true, true) => "evaluation license",
            (true, false) => "trial license",
            (false, _) => "license",
        };
        let (what, days, hours, deployment, stops_at, users, limit, seen, allowed) =
            match &mail.reminder {
                Reminder::ExpiresIn { days } => ("expires_in", *days, 0, "", None, 0, 0, 0, 0),
                Reminder::Expired => ("expired", 0, 0, "", None, 0, 0, 0, 0),
                Reminder::GraceEnded => ("grace_ended", 0, 0, "", None, 0, 0, 0, 0),
                Reminder::CheckinOverdue {
                    deployment_id,
                    hours,
                    stops_at,
                } => {
                    let stops = Some(stops_at.rfc3339());
                    let d = deployment_id.as_str();
                    ("checkin_overdue", 0, *hours, d, stops, 0, 0, 0, 0)
                }
                Reminder::DeskOverSeats {
                    deployment_id,
                    active_users,
                    user_limit,
                } => {
                    let d = deployment_id.as_str();
                    (
                        "desk_over_seats",
                        0,
                        0,
                        d,
                        None,
                        *active_users,
                        *user_limit,
                        0,
                        0,
                    )
                }
                Reminder::DeskOverused { seen, allowed } => {
                    ("desk_overused", 0, 0, "", None, 0, 0, *seen, *allowed)
                }
            };
        let values = context! {
            what => what,
            product => self.product,
            issuer => self.issuer,
            kind => kind,
            trial => mail.trial,
            evaluation => mail.evaluation,
            license_id => mail.license_id.to_string(),
            licensee => mail.licensee,
            expires_on => mail.expires_at.date(),
            grace_ends_on => mail.grace_ends_at.date(),
            grace => mail.grace_ends_at > mail.expires_at,
            days => days,
            hours => hours,
            deployment_id => deployment,
            stops_at => stops_at,
            active_users => users,
            user_limit => limit,
            seen => seen,
            allowed => allowed,
        };
        let render = |name: &str| {
            self.templates
                .get_template(name)
                .and_then(|t| t.render(&values))
                .map_err(|e| ComposeError::Template(name.to_owned(), e.to_string()))
        };
        let (text, html) = (render("reminder.txt")?, render("reminder.html")?);
        let program = if mail.evaluation {
            " (evaluation program)"
        } else {
            ""
        };
        let product = &self.product;
        let subject = match &mail.reminder {
            Reminder::ExpiresIn { days } => {
                format!("Your {product} {kind}{program} expires in {days} day(s)")
            }
            Reminder::Expired => format!("Your {product} {kind}{program} has expired"),
            Reminder::GraceEnded => {
                format!("The grace period of your {product} {kind}{program} has ended")
            }
            Reminder::CheckinOverdue { deployment_id, .. } => format!(
                "Your {product} {kind}{program}: deployment {deployment_id} has not checked in"
            ),
            Reminder::DeskOverSeats { deployment_id, .. } => {
                format!("Deployment {deployment_id} runs over its seats")
            }
            Reminder::DeskOverused { .. } => format!(
                "License {} is seen on more deployments than it allows",
                mail.license_id
            ),
        };
        let message_id = format!("<{}@{}>", id.simple(), self.from.email.domain());
        let date = UNIX_EPOCH + Duration::from_secs(u64::try_from(at.unix()).unwrap_or(0));
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to.clone()))
            .subject(subject.clone())
            .message_id(Some(message_id.clone()))
            .date(date)
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| ComposeError::Message(e.to_string()))?;
        Ok(NewMessage {
            id,
            kind: "reminder".to_owned(),
            license_id: Some(mail.license_id),
            sender: self.from.email.to_string(),
            recipient: to.to_string(),
            subject,
            message_id,
            raw: String::from_utf8_lossy(&message.formatted()).into_owned(),
            created_at: at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(reminder: Reminder, trial: bool, evaluation: bool) -> NewMessage {
        let composer =
            Composer::new("Coder <licenses@coder.example>", "Coder", "licensor").unwrap();
        let at = |t: &str| Timestamp::parse_rfc3339(t).unwrap();
        let mail = ReminderMail {
            reminder,
            recipient: "eve@bank.example",
            license_id: uuid::Uuid::from_u128(5),
            licensee: "eve@bank.example",
            trial,
            evaluation,
            expires_at: at("2027-01-26T00:00:00Z"),
            grace_ends_at: at("2027-02-09T00:00:00Z"),
        };
        composer
            .reminder_email(uuid::Uuid::from_u128(9), &mail, at("2026-12-27T00:00:00Z"))
            .unwrap()
    }

    fn parts(message: &NewMessage) -> (String, String) {
        let parsed = mail_parser::MessageParser::default()
            .parse(message.raw.as_bytes())
            .unwrap();
        (
            parsed.body_text(0).unwrap().into_owned(),
            parsed.body_html(0).unwrap().into_owned(),
        )
    }

    #[test]
    fn an_expiry_reminder_says_what_happens_and_what_to_do_in_text_and_html() {
        let message = mail(Reminder::ExpiresIn { days: 30 }, false, false);
        assert_eq!(message.subject, "Your Coder license expires in 30 day(s)");
        let (text, html) = parts(&message);
        for body in [&text, &html] {
            assert!(body.contains("2027-01-26"), "{body}");
            assert!(body.contains("What happens next"), "{body}");
            assert!(body.contains("grace period begins"), "{body}");
            assert!(body.contains("2027-02-09"), "{body}");
            assert!(
                body.contains("coder-license apply -f license.jwt"),
                "{body}"
            );
        }
        assert_eq!(message.kind, "reminder");
    }

    #[test]
    fn an_evaluation_members_reminder_names_the_program() {
        let message = mail(Reminder::ExpiresIn { days: 7 }, true, true);
        assert!(
            message.subject.contains("(evaluation program)"),
            "{}",
            message.subject
        );
        let (text, html) = parts(&message);
        assert!(
            text.contains("issued under the evaluation program"),
            "{text}"
        );
        assert!(html.contains("evaluation program"), "{html}");
    }

    #[test]
    fn a_checkin_reminder_names_the_deployment_and_the_deadline() {
        let stops_at = Timestamp::parse_rfc3339("2026-12-30T00:00:00Z").unwrap();
        let reminder = Reminder::CheckinOverdue {
            deployment_id: "dep-<1>".to_owned(),
            hours: 24,
            stops_at,
        };
        let (text, html) = parts(&mail(reminder, true, false));
        assert!(text.contains("dep-<1> has not checked in"), "{text}");
        assert!(text.contains("2026-12-30T00:00:00Z"), "{text}");
        assert!(html.contains("dep-&lt;1&gt;"), "HTML is escaped: {html}");
    }
}
