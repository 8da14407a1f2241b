//! Email: composing license messages and reminders (`reminders.rs`), and the transports that deliver them.
//!
//! Request handlers never send mail: they write a composed message to the outbox in the
//! transaction that issues the license, and the outbox worker (`crate::outbox`) delivers it
//! through a [`Mailer`]: SMTP in production, a directory of `.eml` files when no SMTP server is
//! configured.

mod compose;
mod reminders;
mod transport;

pub use compose::{ComposeError, Composer, LicenseMail, MailReason};
pub use reminders::{Reminder, ReminderMail};
pub use transport::{FileMailer, Mailer, SendError, SmtpMailer, SmtpUrl};
