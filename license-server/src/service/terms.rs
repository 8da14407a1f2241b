//! License terms: an issue or reissue request checked against every rule a verifier applies,
//! so the licensor never signs what a verifier would refuse.

use super::error::Error;
use super::requests::{IssueRequest, ReissueRequest};
use license_core::{
    CheckinPolicy, DAY, DeploymentId, Email, FORMAT_VERSION, FeatureSet, LicenseClaims, LicenseId,
    MAX_DEPLOYMENT_IDS, ProductVersion, Timestamp, USER_LIMIT,
};
use std::collections::BTreeMap;

/// The largest seat count a license may carry.
pub const MAX_USER_LIMIT: i64 = 10_000_000;
/// The longest grace period, in days.
pub const MAX_GRACE_DAYS: u32 = 365;
/// The largest feature value issued (2^53 - 1): every JSON reader, JavaScript's included,
/// reads it exactly.
pub const MAX_FEATURE_VALUE: i64 = 9_007_199_254_740_991;

/// A validated license request: everything but the id, the time and the sequence.
#[derive(Debug, Clone)]
pub struct LicenseTerms {
    /// Licensee.
    pub email: Email,
    /// Feature set.
    pub feature_set: FeatureSet,
    /// Features including `user_limit`.
    pub features: BTreeMap<String, i64>,
    /// Term start.
    pub starts_at: Timestamp,
    /// Term end.
    pub expires_at: Timestamp,
    /// Grace end.
    pub grace_ends_at: Timestamp,
    /// Binding.
    pub deployment_ids: Vec<DeploymentId>,
    /// Trial.
    pub trial: bool,
    /// Evaluation program.
    pub evaluation: bool,
    /// The check-in requirement (trials).
    pub checkin: Option<CheckinPolicy>,
    /// The lowest product version (trials).
    pub min_product_version: Option<ProductVersion>,
}

impl LicenseTerms {
    /// Validates an issue request; the term starts `now` unless the request says otherwise.
    pub fn from_request(request: &IssueRequest, now: Timestamp) -> Result<Self, Error> {
        let starts_at = match &request.starts_at {
            Some(text) => time_field("starts_at", text)?,
            None => now,
        };
        let expires_at = time_field("expires_at", &request.expires_at)?;
        Self::build(TermsInput {
            email: &request.email,
            feature_set: request.feature_set,
            features: request.features.clone(),
            user_limit: request.user_limit,
            starts_at,
            expires_at,
            grace_days: request.grace_days,
            deployment_ids: &request.deployment_ids,
            trial: request.trial,
            evaluation: false,
        })
    }

    /// Validates a reissue request against the license it replaces (its verified claims).
    /// Everything the request does not change is kept, the trial rules included: a reissued
    /// trial still needs its check-ins and its minimum version.
    pub fn from_reissue(old: &LicenseClaims, request: &ReissueRequest) -> Result<Self, Error> {
        let starts_at = match &request.starts_at {
            Some(text) => time_field("starts_at", text)?,
            None => old.nbf,
        };
        let expires_at = match &request.expires_at {
            Some(text) => time_field("expires_at", text)?,
            None => old.license_expires,
        };
        let old_grace_days =
            u32::try_from(old.exp.seconds_since(old.license_expires) / DAY).unwrap_or(0);
        let mut features = request
            .features
            .clone()
            .unwrap_or_else(|| old.features.clone());
        features.remove(USER_LIMIT);
        let old_deployments: Vec<String> = old
            .deployment_ids
            .iter()
            .map(|d| d.as_str().to_owned())
            .collect();
        let mut terms = Self::build(TermsInput {
            email: request.email.as_deref().unwrap_or(old.sub.as_str()),
            feature_set: request.feature_set.unwrap_or(old.feature_set),
            features,
            user_limit: request.user_limit.or(old.user_limit()).unwrap_or(0),
            starts_at,
            expires_at,
            grace_days: request.grace_days.unwrap_or(old_grace_days),
            deployment_ids: request
                .deployment_ids
                .as_deref()
                .unwrap_or(&old_deployments),
            trial: old.trial,
            evaluation: old.evaluation,
        })?;
        terms.checkin = old.checkin;
        terms.min_product_version = old
            .min_product_version
            .as_deref()
            .and_then(ProductVersion::parse);
        Ok(terms)
    }

    fn build(input: TermsInput<'_>) -> Result<Self, Error> {
        let email = Email::parse(input.email)
            .map_err(|e| Error::invalid("invalid_field", format!("field `email`: {e}")))?;
        if !crate::mail::Composer::accepts_recipient(email.as_str()) {
            return Err(Error::invalid(
                "invalid_field",
                format!("field `email`: {email} is not an address mail can be sent to"),
            ));
        }
        if !(0..=MAX_USER_LIMIT).contains(&input.user_limit) {
            return Err(Error::invalid(
                "invalid_field",
                format!(
                    "field `user_limit`: {} is out of range; use 0 to {MAX_USER_LIMIT}",
                    input.user_limit
                ),
            ));
        }
        let mut features = input.features;
        if let Some(&given) = features.get(USER_LIMIT)
            && given != input.user_limit
        {
            return Err(Error::invalid(
                "invalid_field",
                format!(
                    "field `features`: user_limit {given} contradicts field `user_limit` {}",
                    input.user_limit
                ),
            ));
        }
        if let Some((name, value)) = features.iter().find(|(_, v)| **v > MAX_FEATURE_VALUE) {
            return Err(Error::invalid(
                "invalid_field",
                format!("field `features`: {name} is {value}; use 0 to {MAX_FEATURE_VALUE}"),
            ));
        }
        features.insert(USER_LIMIT.to_owned(), input.user_limit);
        if input.expires_at <= input.starts_at {
            return Err(Error::invalid(
                "invalid_field",
                format!(
                    "field `expires_at`: {} is not after starts_at {}",
                    input.expires_at, input.starts_at
                ),
            ));
        }
        if input.grace_days > MAX_GRACE_DAYS {
            return Err(Error::invalid(
                "invalid_field",
                format!("field `grace_days`: at most {MAX_GRACE_DAYS} days"),
            ));
        }
        if input.deployment_ids.len() > MAX_DEPLOYMENT_IDS {
            return Err(Error::invalid(
                "invalid_field",
                format!("field `deployment_ids`: at most {MAX_DEPLOYMENT_IDS} deployments"),
            ));
        }
        let mut deployment_ids = Vec::with_capacity(input.deployment_ids.len());
        for text in input.deployment_ids {
            let id = DeploymentId::parse(text).map_err(|e| {
                Error::invalid("invalid_field", format!("field `deployment_ids`: {e}"))
            })?;
            if !deployment_ids.contains(&id) {
                deployment_ids.push(id);
            }
        }
        let grace_ends_at = input
            .expires_at
            .add_seconds(i64::from(input.grace_days) * DAY);
        Ok(Self {
            email,
            feature_set: input.feature_set,
            features,
            starts_at: input.starts_at,
            expires_at: input.expires_at,
            grace_ends_at,
            deployment_ids,
            trial: input.trial,
            evaluation: input.evaluation,
            checkin: None,
            min_product_version: None,
        })
    }

    /// The claims of a license with these terms for the account `(id, type)`.
    pub fn claims(
        &self,
        id: LicenseId,
        issuer: &str,
        account: (&str, &str),
        issued_at: Timestamp,
        sequence: u64,
    ) -> Result<LicenseClaims, Error> {
        let claims = LicenseClaims {
            iss: issuer.to_owned(),
            sub: self.email.clone(),
            jti: id,
            iat: issued_at,
            nbf: self.starts_at,
            license_expires: self.expires_at,
            exp: self.grace_ends_at,
            version: FORMAT_VERSION,
            account_type: account.1.to_owned(),
            account_id: account.0.to_owned(),
            deployment_ids: self.deployment_ids.clone(),
            trial: self.trial,
            feature_set: self.feature_set,
            features: self.features.clone(),
            require_telemetry: false,
            evaluation: self.evaluation,
            checkin: self.checkin,
            min_product_version: self.min_product_version.map(|v| v.to_string()),
            sequence,
        };
        claims
            .validate()
            .map_err(|e| Error::invalid("invalid_license", e.to_string()))?;
        Ok(claims)
    }
}

struct TermsInput<'a> {
    email: &'a str,
    feature_set: FeatureSet,
    features: BTreeMap<String, i64>,
    user_limit: i64,
    starts_at: Timestamp,
    expires_at: Timestamp,
    grace_days: u32,
    deployment_ids: &'a [String],
    trial: bool,
    evaluation: bool,
}

fn time_field(name: &str, text: &str) -> Result<Timestamp, Error> {
    Timestamp::parse_rfc3339(text)
        .map_err(|e| Error::invalid("invalid_field", format!("field `{name}`: {e}")))
}
