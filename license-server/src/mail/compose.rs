//! Composing messages: the license email with its plain-text and HTML parts (rendered from
//! the templates beside this file) and the license attached as `license.jwt`.

use crate::store::outbox::NewMessage;
use lettre::message::Body;
use lettre::message::header::ContentTransferEncoding;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::{Address, Message};
use license_core::{LicenseClaims, Timestamp};
use minijinja::{Environment, context};
use std::time::{Duration, UNIX_EPOCH};

const LICENSE_TXT: &str = include_str!("templates/license.txt");
const LICENSE_HTML: &str = include_str!("templates/license.html");

/// Builds outgoing messages from the sender's identity and the templates.
#[derive(Debug)]
pub struct Composer {
    pub(super) from: Mailbox,
    pub(super) product: String,
    pub(super) issuer: String,
    pub(super) templates: Environment<'static>,
}

/// What a license email says.
#[derive(Debug, Clone, Copy)]
pub struct LicenseMail<'a> {
    /// The signed claims.
    pub claims: &'a LicenseClaims,
    /// The token, attached as `license.jwt`.
    pub token: &'a str,
    /// Why the mail is sent.
    pub reason: MailReason,
}

/// Why a license email is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailReason {
    /// The license was just issued.
    Issued,
    /// The desk sent it again.
    Resent,
}

/// A license email that could not be composed: a fault of the licensor's configuration or
/// templates, never of the request (addresses are checked before anything is signed).
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// The licensee's address cannot be written as a recipient.
    #[error("recipient {0} is not addressable: {1}")]
    Recipient(String, String),
    /// A template failed to render.
    #[error("template {0}: {1}")]
    Template(String, String),
    /// lettre refused the message.
    #[error("cannot compose the license email: {0}")]
    Message(String),
}

impl Composer {
    /// A composer sending as `from` (`Name <address>`) on behalf of `issuer`.
    pub fn new(from: &str, product: &str, issuer: &str) -> anyhow::Result<Self> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| anyhow::anyhow!("--mail-from {from:?} is not an address such as `Licensor <licenses@example.com>`: {e}"))?;
        let mut templates = Environment::new();
        templates.add_template("license.txt", LICENSE_TXT)?;
        templates.add_template("license.html", LICENSE_HTML)?;
        // The reminders' templates (composed in `reminders.rs`).
        templates.add_template("reminder.txt", include_str!("templates/reminder.txt"))?;
        templates.add_template("reminder.html", include_str!("templates/reminder.html"))?;
        Ok(Self {
            from,
            product: product.to_owned(),
            issuer: issuer.to_owned(),
            templates,
        })
    }

    /// The sender address (the SMTP envelope's `MAIL FROM`).
    pub fn from_address(&self) -> &Address {
        &self.from.email
    }

    /// Whether lettre can address mail to `email` (checked at issuance, so that a license
    /// is never issued to an address the outbox could not use).
    pub fn accepts_recipient(email: &str) -> bool {
        email.parse::<Address>().is_ok()
    }

    /// Composes the license email for a new outbox row `id`, dated `at`.
    pub fn license_email(
        &self,
        id: uuid::Uuid,
        mail: LicenseMail<'_>,
        at: Timestamp,
    ) -> Result<NewMessage, ComposeError> {
        let c = mail.claims;
        let to: Address = c
            .sub
            .as_str()
            .parse()
            .map_err(|e: lettre::address::AddressError| {
                ComposeError::Recipient(c.sub.to_string(), e.to_string())
            })?;
        let deployments: Vec<&str> = c.deployment_ids.iter().map(|d| d.as_str()).collect();
        let feature_set = if c.feature_set.as_str().is_empty() {
            "custom"
        } else {
            c.feature_set.as_str()
        };
        let values = context! {
            product => self.product,
            issuer => self.issuer,
            trial => c.trial,
            evaluation => c.evaluation,
            checkin => c.checkin.is_some(),
            license_id => c.jti.to_string(),
            licensee => c.sub.as_str(),
            starts_on => c.nbf.date(),
            expires_on => c.license_expires.date(),
            grace_ends_on => c.exp.date(),
            user_limit => c.user_limit().unwrap_or(0),
            feature_set => feature_set,
            deployments => deployments.join(", "),
        };
        let render = |name: &str| {
            self.templates
                .get_template(name)
                .and_then(|t| t.render(&values))
                .map_err(|e| ComposeError::Template(name.to_owned(), e.to_string()))
        };
        let (text, html) = (render("license.txt")?, render("license.html")?);
        let kind = match (c.trial, c.evaluation) {
            (true, true) => "evaluation license",
            (true, false) => "trial license",
            (false, _) => "license",
        };
        let subject = match mail.reason {
            MailReason::Resent => format!("Your {} {kind} (resent)", self.product),
            MailReason::Issued => format!("Your {} {kind}", self.product),
        };
        let message_id = format!("<{}@{}>", id.simple(), self.from.email.domain());
        let date = UNIX_EPOCH + Duration::from_secs(u64::try_from(at.unix()).unwrap_or(0));
        // Base64, never quoted-printable: the token is one long line that a soft line break
        // would cut, and an admin who copies the attachment's text must get the token intact.
        let body = Body::new_with_encoding(mail.token.to_owned(), ContentTransferEncoding::Base64)
            .map_err(|_| ComposeError::Message("the license cannot be attached".to_owned()))?;
        let attachment = Attachment::new("license.jwt".to_owned()).body(
            body,
            ContentType::parse("application/jwt")
                .map_err(|e| ComposeError::Message(e.to_string()))?,
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to.clone()))
            .subject(subject.clone())
            .message_id(Some(message_id.clone()))
            .date(date)
            .multipart(
                MultiPart::mixed()
                    .multipart(MultiPart::alternative_plain_html(text, html))
                    .singlepart(attachment),
            )
            .map_err(|e| ComposeError::Message(e.to_string()))?;
        Ok(NewMessage {
            id,
            kind: "license".to_owned(),
            license_id: Some(c.jti),
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
    use license_core::{CheckinPolicy, DeploymentId, Email, FORMAT_VERSION, FeatureSet};

    fn claims(trial: bool, evaluation: bool) -> LicenseClaims {
        let at = |t: &str| Timestamp::parse_rfc3339(t).unwrap();
        LicenseClaims {
            iss: "licensor".into(),
            sub: Email::parse("eve@bank.example").unwrap(),
            jti: uuid::Uuid::from_u128(5),
            iat: at("2026-11-27T00:00:00Z"),
            nbf: at("2026-11-27T00:00:00Z"),
            license_expires: at("2027-01-26T00:00:00Z"),
            exp: at("2027-01-26T00:00:00Z"),
            version: FORMAT_VERSION,
            account_type: "trial".into(),
            account_id: "a".into(),
            deployment_ids: vec![DeploymentId::parse("dep-1").unwrap()],
            trial,
            feature_set: FeatureSet::Premium,
            features: [("user_limit".to_owned(), 40)].into(),
            require_telemetry: false,
            evaluation,
            checkin: (!evaluation).then_some(CheckinPolicy {
                interval_secs: 86_400,
                max_offline_secs: 259_200,
            }),
            min_product_version: None,
            sequence: 1,
        }
    }

    fn compose(claims: &LicenseClaims) -> NewMessage {
        let composer =
            Composer::new("Coder <licenses@coder.example>", "Coder", "licensor").unwrap();
        let mail = LicenseMail {
            claims,
            token: "e30.e30.sig",
            reason: MailReason::Issued,
        };
        composer
            .license_email(uuid::Uuid::from_u128(9), mail, claims.iat)
            .unwrap()
    }

    #[test]
    fn each_kind_of_license_is_named_in_its_email() {
        let evaluation = compose(&claims(true, true));
        assert_eq!(evaluation.subject, "Your Coder evaluation license");
        assert!(
            evaluation
                .raw
                .contains("issued under the evaluation program"),
            "{}",
            evaluation.raw
        );
        assert!(
            !evaluation.raw.contains("must stay in contact"),
            "air-gapped: no check-in sentence"
        );
        let trial = compose(&claims(true, false));
        assert_eq!(trial.subject, "Your Coder trial license");
        assert!(trial.raw.contains("must stay in contact with the licensor"));
        assert_eq!(compose(&claims(false, false)).subject, "Your Coder license");
        assert_eq!(
            trial.message_id,
            "<00000000000000000000000000000009@coder.example>"
        );
        assert_eq!(trial.recipient, "eve@bank.example");
    }

    /// The attachment is base64: a quoted-printable one breaks the token's one long line with
    /// soft line breaks, so text copied out of the mail was not the token.
    #[test]
    fn the_license_attachment_is_base64_and_decodes_to_the_token() {
        let composer =
            Composer::new("Coder <licenses@coder.example>", "Coder", "licensor").unwrap();
        let long_token = format!("{}.{}.{}", "a".repeat(300), "b".repeat(500), "c".repeat(86));
        let c = claims(false, false);
        let mail = LicenseMail {
            claims: &c,
            token: &long_token,
            reason: MailReason::Issued,
        };
        let raw = composer
            .license_email(uuid::Uuid::from_u128(7), mail, c.iat)
            .unwrap()
            .raw;
        let message = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .expect("an RFC 5322 message");
        let attachment = message.attachment(0).expect("the license attachment");
        use mail_parser::MimeHeaders as _;
        assert_eq!(attachment.attachment_name(), Some("license.jwt"));
        assert_eq!(
            attachment.content_transfer_encoding(),
            Some("base64"),
            "{raw}"
        );
        let decoded = attachment.contents().to_vec();
        assert_eq!(String::from_utf8(decoded).unwrap(), long_token);
    }
}
