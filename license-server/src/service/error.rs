//! The service layer's errors: what went wrong, in the domain's terms. `api::error` maps them
//! to HTTP in one place; nothing here knows a status code.

use crate::mail::ComposeError;
use crate::store::{Conflict as StoreConflict, StoreError};
use license_core::{LicenseId, Timestamp};
use std::fmt;

/// The result of a service call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is readable, but a value is wrong (the client's mistake).
    #[error("{0}")]
    Invalid(Invalid),
    /// What the request names does not exist.
    #[error("{0} does not exist")]
    NotFound(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(Conflict),
    /// A trial rule refused the request; the refusal is recorded.
    #[error("{}", .0.message)]
    TrialRefused(TrialRefusal),
    /// The database cannot serve now: retry later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// The caller's role may not do this (HTTP 403).
    #[error("{0}")]
    Forbidden(super::roles::Forbidden),
    /// A fault of the licensor (database, signing, templates): never the client's.
    #[error("{0}")]
    Internal(Internal),
}

/// A wrong value in a request: a stable code and a sentence naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// `invalid_field`, `invalid_query`, `invalid_license`, `unknown_account`, …
    pub code: &'static str,
    /// For the person who sent it.
    pub message: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why a request conflicts with what is stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// The `Idempotency-Key` was used with another request.
    #[error("this Idempotency-Key was used with a different request; use a new key")]
    IdempotencyKeyReused,
    /// The first request with this `Idempotency-Key` has not finished.
    #[error("a request with this Idempotency-Key is still being processed; retry")]
    IdempotencyKeyInFlight,
    /// The license to reissue was revoked or replaced in the meantime.
    #[error("the license to reissue is no longer active")]
    LicenseNotActive,
    /// A reissue that keeps the old term, of a license whose term and grace period are over:
    /// the new license would be born expired.
    #[error("license {0}'s term and grace period ended at {1}; give `expires_at` for the new term")]
    LicenseEnded(LicenseId, Timestamp),
    /// The trial's license was revoked or replaced.
    #[error("trial {0}'s license is revoked or replaced")]
    TrialLicenseNotActive(uuid::Uuid),
    /// Revoking twice.
    #[error("license {0} is already revoked")]
    AlreadyRevoked(LicenseId),
    /// A revoked license is not sent again.
    #[error("license {0} is revoked; it is not sent again")]
    LicenseRevoked(LicenseId),
    /// Only dead messages are retried by hand.
    #[error("outbox message {0} is not dead; only dead messages are retried by hand")]
    MessageNotDead(uuid::Uuid),
    /// A webhook delivery still waiting or in flight is not redelivered by hand.
    #[error(
        "webhook delivery {0} is still pending or in flight; only delivered or dead deliveries are redelivered by hand"
    )]
    DeliveryInFlight(uuid::Uuid),
    /// Ending an enrollment twice.
    #[error("evaluation {0} has already ended")]
    EvaluationEnded(uuid::Uuid),
    /// A refused trial has no license to extend.
    #[error("trial {0} was refused; there is nothing to extend")]
    TrialNotGranted(uuid::Uuid),
    /// Admin token names are unique.
    #[error("an admin token named {0:?} already exists; choose another name")]
    TokenNameTaken(String),
    /// No active admin token has this name.
    #[error("no active admin token is named {0:?}")]
    NoSuchToken(String),
    /// Console user names are unique.
    #[error("a console user named {0:?} already exists; choose another name")]
    UserNameTaken(String),
    /// No console user has this name.
    #[error("no console user is named {0:?}")]
    NoSuchUser(String),
    /// A unique rule of the schema that no rule above covers.
    #[error("the request conflicts with existing data")]
    Stored(StoreConflict),
}

impl Conflict {
    /// The stable code clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            Conflict::IdempotencyKeyReused => "idempotency_key_reused",
            Conflict::IdempotencyKeyInFlight => "idempotency_key_in_flight",
            Conflict::LicenseNotActive | Conflict::TrialLicenseNotActive(_) => "license_not_active",
            Conflict::AlreadyRevoked(_) => "already_revoked",
            Conflict::LicenseEnded(..) => "license_ended",
            Conflict::LicenseRevoked(_) => "license_revoked",
            Conflict::MessageNotDead(_) => "message_not_dead",
            Conflict::DeliveryInFlight(_) => "delivery_in_flight",
            Conflict::EvaluationEnded(_) => "evaluation_ended",
            Conflict::TrialNotGranted(_) => "trial_not_granted",
            Conflict::TokenNameTaken(_) => "token_name_taken",
            Conflict::NoSuchToken(_) => "no_such_token",
            Conflict::UserNameTaken(_) => "user_name_taken",
            Conflict::NoSuchUser(_) => "no_such_user",
            Conflict::Stored(_) => "conflict",
        }
    }
}

/// A trial rule's refusal: the rule's code and a sentence for the person who asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialRefusal {
    /// `trial_used_for_deployment`, `trial_used_for_email`, `trial_domain_limit`,
    /// `version_too_old`, `email_domain_blocked`.
    pub code: &'static str,
    /// For the person who asked.
    pub message: String,
}

impl TrialRefusal {
    /// A limit already used up (409), rather than a requirement not met (422).
    pub fn is_limit(&self) -> bool {
        !matches!(self.code, "version_too_old" | "email_domain_blocked")
    }
}

/// A fault of the licensor.
#[derive(Debug, thiserror::Error)]
pub enum Internal {
    /// The database failed (not merely unavailable) or holds corrupt data.
    #[error("{0}")]
    Store(StoreError),
    /// Valid claims could not be signed.
    #[error("refused to sign: {0}")]
    Signing(String),
    /// The license email could not be composed.
    #[error("{0}")]
    Compose(#[from] ComposeError),
    /// The operating system's random generator failed.
    #[error("the random generator failed: {0}")]
    Random(String),
    /// A license stored here does not verify against the licensor's own keys.
    #[error("a stored license does not verify: {0}")]
    StoredLicense(String),
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Error::NotFound("the object".to_owned()),
            StoreError::Conflict(conflict) => Error::Conflict(Conflict::Stored(conflict)),
            StoreError::Unavailable(cause) => Error::Unavailable(cause),
            other => Error::Internal(Internal::Store(other)),
        }
    }
}

impl From<ComposeError> for Error {
    fn from(error: ComposeError) -> Self {
        Error::Internal(Internal::Compose(error))
    }
}

impl From<super::roles::Forbidden> for Error {
    fn from(refused: super::roles::Forbidden) -> Self {
        Error::Forbidden(refused)
    }
}

impl From<Conflict> for Error {
    fn from(conflict: Conflict) -> Self {
        Error::Conflict(conflict)
    }
}

impl Error {
    /// A wrong value with `code`.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid(Invalid {
            code,
            message: message.into(),
        })
    }

    /// `field `NAME`: MESSAGE` with the code `invalid_field`.
    pub fn field(name: &str, message: impl fmt::Display) -> Self {
        Self::invalid("invalid_field", format!("field `{name}`: {message}"))
    }

    /// `what` does not exist.
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound(what.into())
    }
}

/// Turns the store's "no such row" into a not-found error naming `what`.
pub trait OrNotFound<T> {
    /// `NotFound(what)` for a missing row; every other error as it is.
    fn or_not_found(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> OrNotFound<T> for std::result::Result<T, StoreError> {
    fn or_not_found(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| match e {
            StoreError::NotFound => Error::NotFound(what()),
            other => other.into(),
        })
    }
}
