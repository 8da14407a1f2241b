//! The values the store takes and returns: plain data, no SQL.

use license_core::{LicenseClaims, LicenseId, Timestamp, base64url};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// Writes a time as RFC 3339, as the API shows every time.
pub fn rfc3339<S: serde::Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.rfc3339())
}

/// Writes an optional time as RFC 3339 or null.
pub fn rfc3339_opt<S: serde::Serializer>(
    at: &Option<Timestamp>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&at.rfc3339()),
        None => serializer.serialize_none(),
    }
}

/// An account's id.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct AccountId(pub uuid::Uuid);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Its id, chosen by the caller.
    pub id: AccountId,
    /// The customer's name.
    pub name: String,
    /// The customer's contact email.
    pub email: String,
    /// `licensor` for accounts made here; other values name an external system.
    pub account_type: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A customer account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// The customer's name.
    pub name: String,
    /// The customer's contact email.
    pub email: String,
    /// `licensor` or the name of an external system.
    pub account_type: String,
    /// How many licenses it has been issued (the last sequence number used).
    pub license_sequence: u64,
    /// When it was created.
    pub created_at: Timestamp,
}

/// A license as signed, ready to store.
#[derive(Debug, Clone)]
pub struct SignedLicense {
    /// The signed claims.
    pub claims: LicenseClaims,
    /// The compact token.
    pub token: String,
    /// The key id it was signed with.
    pub key_id: String,
    /// The admin who issued it.
    pub issued_by: String,
    /// Messages to queue with it, in the same transaction (the license email).
    pub mail: Vec<NewMessage>,
}

/// Where a license stands at the licensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseStatus {
    /// Issued and not revoked or replaced.
    Active,
    /// Revoked: on the revocation list.
    Revoked,
    /// Replaced by a reissued license.
    Superseded,
}

impl LicenseStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseStatus::Active => "active",
            LicenseStatus::Revoked => "revoked",
            LicenseStatus::Superseded => "superseded",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(LicenseStatus::Active),
            "revoked" => Some(LicenseStatus::Revoked),
            "superseded" => Some(LicenseStatus::Superseded),
            _ => None,
        }
    }
}

/// A stored license with its indexed fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LicenseRecord {
    /// The license id (`jti`).
    pub id: LicenseId,
    /// The account it belongs to.
    pub account_id: AccountId,
    /// The licensee's email (`sub`).
    pub email: String,
    /// The signed token.
    pub token: String,
    /// The signing key's id.
    pub key_id: String,
    /// `""`, `enterprise` or `premium`.
    pub feature_set: String,
    /// Feature name → value.
    pub features: BTreeMap<String, i64>,
    /// The seat count.
    pub user_limit: Option<i64>,
    /// Deployments it is bound to.
    pub deployment_ids: Vec<String>,
    /// A trial license.
    pub trial: bool,
    /// Issued under the evaluation program.
    pub evaluation: bool,
    /// The account's sequence number for it.
    pub sequence: u64,
    /// Start of the term (`nbf`).
    pub starts_at: Timestamp,
    /// End of the term (`license_expires`).
    pub expires_at: Timestamp,
    /// End of the grace period (`exp`).
    pub grace_ends_at: Timestamp,
    /// When it was signed (`iat`).
    pub issued_at: Timestamp,
    /// The admin who issued it.
    pub issued_by: String,
    /// Active, revoked or superseded.
    pub status: LicenseStatus,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
    /// The license it replaced.
    pub supersedes: Option<LicenseId>,
}

/// The outcome of issuing.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The license.
    pub license: LicenseRecord,
    /// True when an idempotency key was replayed: nothing new was issued.
    pub replayed: bool,
}

/// A client's `Idempotency-Key` header: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Accepts 1 to 255 visible ASCII characters.
    pub fn parse(text: &str) -> Option<Self> {
        let ok =
            !text.is_empty() && text.len() <= 255 && text.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(text.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An idempotency key with the hash of the request it came with.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    /// The key.
    pub key: IdempotencyKey,
    /// SHA-256 of the canonical request, to tell a replay from a reuse.
    pub request_hash: String,
}

/// An audit entry to write with an admin action.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    /// When.
    pub at: Timestamp,
    /// Who: the admin token's name, or `cli` for server subcommands.
    pub actor: String,
    /// What, as `noun.verb` (`license.issue`).
    pub action: String,
    /// The object acted on (filled in by the store when created by the action).
    pub target: String,
    /// Details of the request, as JSON; never secrets or tokens.
    pub details: serde_json::Value,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Its position in the log.
    pub id: i64,
    /// When.
    pub at: Timestamp,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
    /// Details.
    pub details: serde_json::Value,
}

/// An admin token to store.
#[derive(Debug, Clone)]
pub struct NewAdminToken {
    /// Its id.
    pub id: uuid::Uuid,
    /// A unique name (who holds it).
    pub name: String,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// When it was created.
    pub created_at: Timestamp,
}

/// Who an authenticated admin request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminIdentity {
    /// The token's id.
    pub token_id: String,
    /// The token's name, recorded as the actor in the audit log.
    pub name: String,
}

/// Filters for listing licenses; all optional.
#[derive(Debug, Clone, Default)]
pub struct LicenseFilter {
    /// Of this account.
    pub account_id: Option<AccountId>,
    /// For this email address (case-insensitive).
    pub email: Option<String>,
    /// In this status.
    pub status: Option<LicenseStatus>,
    /// Trials or not.
    pub trial: Option<bool>,
}

/// The most items a page may hold.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Which page to list: at most `limit` items after `after`.
#[derive(Debug, Clone)]
pub struct PageRequest {
    /// Items on the page, 1 to [`MAX_PAGE_SIZE`].
    pub limit: u32,
    /// Continue after this cursor (from the previous page).
    pub after: Option<Cursor>,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: 50,
            after: None,
        }
    }
}

/// A position in a list ordered newest first: the sort time and the id that breaks ties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The sort time (Unix seconds) or position.
    pub at: i64,
    /// The id, for ties.
    pub id: String,
}

impl Cursor {
    /// The opaque text clients pass back.
    pub fn encode(&self) -> String {
        base64url::encode(format!("{}|{}", self.at, self.id).as_bytes())
    }

    /// Reads a cursor produced by [`Cursor::encode`].
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = base64url::decode(text).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (at, id) = text.split_once('|')?;
        Some(Self {
            at: at.parse().ok()?,
            id: id.to_owned(),
        })
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            at: 1_790_000_000,
            id: "a|b".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("!!"), None);
        assert_eq!(Cursor::decode(&base64url::encode(b"x|y")), None);
    }

    #[test]
    fn idempotency_keys_are_bounded() {
        assert!(IdempotencyKey::parse("order-42").is_some());
        assert!(IdempotencyKey::parse("").is_none());
        assert!(IdempotencyKey::parse("has space").is_none());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_none());
    }
}

/// A composed message to put in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The outbox row's id (also the local part of the Message-ID).
    pub id: uuid::Uuid,
    /// What the message is (`license`).
    pub kind: String,
    /// The license it carries, if any.
    pub license_id: Option<LicenseId>,
    /// The envelope sender.
    pub sender: String,
    /// The envelope recipient.
    pub recipient: String,
    /// The subject, for listings.
    pub subject: String,
    /// The `Message-ID` header, stable across retries.
    pub message_id: String,
    /// The whole RFC 5322 message.
    pub raw: String,
    /// When it was queued.
    pub created_at: Timestamp,
}

/// Where a message stands in the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    /// Waiting for its next attempt.
    Pending,
    /// Leased by a worker that is sending it.
    Sending,
    /// Delivered.
    Sent,
    /// Given up on: too many failures or a permanent refusal. An admin can retry it.
    Dead,
}

impl OutboxState {
    /// Every state.
    pub const ALL: [OutboxState; 4] = [
        OutboxState::Pending,
        OutboxState::Sending,
        OutboxState::Sent,
        OutboxState::Dead,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Sending => "sending",
            OutboxState::Sent => "sent",
            OutboxState::Dead => "dead",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A message a worker has leased for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMessage {
    /// The outbox row.
    pub id: uuid::Uuid,
    /// The envelope sender.
    pub sender: String,
    /// The envelope recipient.
    pub recipient: String,
    /// The `Message-ID`.
    pub message_id: String,
    /// The whole message.
    pub raw: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
}

/// An outbox row as listings show it (without the message body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxEntry {
    /// The row id.
    pub id: uuid::Uuid,
    /// What it is.
    pub kind: String,
    /// The license it carries.
    pub license_id: Option<LicenseId>,
    /// To whom.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// The `Message-ID`.
    pub message_id: String,
    /// Where it stands.
    pub state: OutboxState,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (pending) or the lease ends (sending).
    #[serde(serialize_with = "rfc3339")]
    pub next_attempt_at: Timestamp,
    /// The last failure.
    pub last_error: Option<String>,
    /// Whether the last failure was a permanent refusal.
    pub last_error_permanent: bool,
    /// When it was queued.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: Timestamp,
    /// When it was delivered.
    #[serde(serialize_with = "rfc3339_opt")]
    pub sent_at: Option<Timestamp>,
}

/// What a failed delivery leads to.
#[derive(Debug, Clone)]
pub struct DeliveryFailure {
    /// What went wrong.
    pub error: String,
    /// A permanent refusal: the message goes straight to `dead`.
    pub permanent: bool,
    /// When to try again.
    pub retry_at: Timestamp,
    /// After this many attempts the message goes to `dead`.
    pub max_attempts: u32,
}

/// An evaluation-program enrollment to create.
#[derive(Debug, Clone)]
pub struct NewEvaluation {
    /// Its id.
    pub id: uuid::Uuid,
    /// Who is enrolled: exactly one of an account, an email key, an email domain.
    pub subject: EvaluationSubject,
    /// Why.
    pub reason: String,
    /// Who approved it.
    pub approved_by: String,
    /// From when.
    pub starts_at: Timestamp,
    /// Until when.
    pub ends_at: Timestamp,
    /// The trial rules it waives (snake_case rule names).
    pub waives: Vec<String>,
    /// A longer trial term it grants, in days.
    pub max_term_days: Option<u32>,
    /// More seats it grants.
    pub user_limit: Option<i64>,
    /// When it was created.
    pub created_at: Timestamp,
    /// Which admin created it.
    pub created_by: String,
}

/// Who an enrollment covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvaluationSubject {
    /// An account (and trial requests from its email address).
    Account(AccountId),
    /// One email address (normalized: lowercase, no `+tag`).
    Email(String),
    /// Every address of an email domain (lowercase).
    EmailDomain(String),
}

/// A stored enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// Its id.
    pub id: uuid::Uuid,
    /// Who it covers.
    pub subject: EvaluationSubject,
    /// Why.
    pub reason: String,
    /// Who approved it.
    pub approved_by: String,
    /// From when.
    pub starts_at: Timestamp,
    /// Until when.
    pub ends_at: Timestamp,
    /// The waived rules.
    pub waives: Vec<String>,
    /// Longer term, days.
    pub max_term_days: Option<u32>,
    /// More seats.
    pub user_limit: Option<i64>,
    /// When created, by whom.
    pub created_at: Timestamp,
    /// Which admin created it.
    pub created_by: String,
    /// When it was ended early.
    pub ended_at: Option<Timestamp>,
    /// Who ended it.
    pub ended_by: Option<String>,
    /// Why it was ended.
    pub end_reason: Option<String>,
}

impl Evaluation {
    /// Whether it applies at `at`.
    pub fn is_active(&self, at: Timestamp) -> bool {
        self.ended_at.is_none() && self.starts_at <= at && at < self.ends_at
    }
}

/// A trial request as the store records it, granted or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrialRecord {
    /// Its id.
    pub id: uuid::Uuid,
    /// The address as given.
    pub email: String,
    /// Normalized address.
    pub email_key: String,
    /// Domain.
    pub email_domain: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Country.
    pub country: String,
    /// Team size.
    pub developers: String,
    /// Deployment.
    pub deployment_id: String,
    /// Product version.
    pub product_version: String,
    /// The client's address.
    pub client_address: Option<String>,
    /// When.
    #[serde(serialize_with = "rfc3339")]
    pub requested_at: Timestamp,
    /// `granted` or `refused`.
    pub outcome: String,
    /// The rule that refused it.
    pub refusal_code: Option<String>,
    /// The refusal's sentence.
    pub refusal_message: Option<String>,
    /// The trial license.
    pub license_id: Option<LicenseId>,
    /// The account it was issued to.
    pub account_id: Option<AccountId>,
    /// The enrollment it was granted under.
    pub evaluation_id: Option<uuid::Uuid>,
    /// When the trial ends.
    #[serde(serialize_with = "rfc3339_opt")]
    pub expires_at: Option<Timestamp>,
}

/// What the store needs to record a trial request.
#[derive(Debug, Clone)]
pub struct TrialDraft {
    /// The record, with outcome `granted` (the store turns it into `refused` when a rule
    /// it enforces says no).
    pub record: TrialRecord,
    /// Enforce one trial per deployment.
    pub once_per_deployment: bool,
    /// Enforce one trial per email.
    pub once_per_email: bool,
    /// Enforce at most this many granted trials for the domain since that time.
    pub domain_limit: Option<(u32, Timestamp)>,
}

/// Which store-enforced rule refused a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialConflict {
    /// The deployment had its trial.
    Deployment,
    /// The email had its trial.
    Email,
    /// The domain's limit is used up.
    DomainLimit,
}

/// What became of a trial request.
#[derive(Debug, Clone)]
pub enum TrialOutcome {
    /// Granted: the license and its email are stored.
    Granted(TrialRecord),
    /// Refused by a rule; the refusal is recorded.
    Refused(TrialConflict, TrialRecord),
}

/// Filters for listing trials.
#[derive(Debug, Clone, Default)]
pub struct TrialFilter {
    /// Normalized email.
    pub email_key: Option<String>,
    /// Domain.
    pub email_domain: Option<String>,
    /// Deployment.
    pub deployment_id: Option<String>,
    /// `granted` or `refused`.
    pub outcome: Option<String>,
    /// Requested at or after.
    pub since: Option<Timestamp>,
    /// Requested before.
    pub until: Option<Timestamp>,
}

/// A check-in to record, with what the licensor concluded from the reported licenses.
#[derive(Debug, Clone)]
pub struct CheckinDraft {
    /// The deployment.
    pub deployment_id: String,
    /// The licensor's time.
    pub at: Timestamp,
    /// Active users reported.
    pub active_users: u64,
    /// Product version reported.
    pub product_version: String,
    /// Every license id reported.
    pub license_ids: Vec<LicenseId>,
    /// The reported ids this licensor issued (recorded per license for the overuse flag).
    pub known_license_ids: Vec<LicenseId>,
    /// The seats of the best active license reported.
    pub user_limit: Option<i64>,
    /// An active reported license is a trial.
    pub trial: bool,
    /// The account of the reported licenses, when known.
    pub account_id: Option<AccountId>,
    /// The client's address.
    pub client_address: Option<String>,
}

/// A deployment as the licensor knows it from its check-ins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployment {
    /// Its id.
    pub id: String,
    /// First check-in.
    #[serde(serialize_with = "rfc3339")]
    pub first_seen_at: Timestamp,
    /// Latest check-in.
    #[serde(serialize_with = "rfc3339")]
    pub last_seen_at: Timestamp,
    /// Product version at the latest check-in.
    pub product_version: String,
    /// Active users at the latest check-in.
    pub active_users: u64,
    /// Licenses reported at the latest check-in.
    pub license_ids: Vec<String>,
    /// Seats of the best active license reported.
    pub user_limit: Option<i64>,
    /// More active users than seats at the latest check-in.
    pub over_seat_limit: bool,
    /// Runs a trial.
    pub trial: bool,
    /// The account its licenses belong to.
    pub account_id: Option<AccountId>,
    /// Check-ins so far.
    pub checkins: u64,
}

/// One recorded check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckinEntry {
    /// Its position in the history.
    pub id: i64,
    /// When.
    #[serde(serialize_with = "rfc3339")]
    pub at: Timestamp,
    /// Active users.
    pub active_users: u64,
    /// Product version.
    pub product_version: String,
    /// Licenses reported.
    pub license_ids: Vec<String>,
    /// The client's address.
    pub client_address: Option<String>,
}

/// Filters for listing deployments; all optional.
#[derive(Debug, Clone, Default)]
pub struct DeploymentFilter {
    /// Not seen since this time.
    pub not_seen_since: Option<Timestamp>,
    /// Over (or within) their seats.
    pub over_seat_limit: Option<bool>,
    /// Running a trial or not.
    pub trial: Option<bool>,
    /// Of this account.
    pub account_id: Option<AccountId>,
}
