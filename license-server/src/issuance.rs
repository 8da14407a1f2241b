//! Turning an admin's license request into signed claims.
//!
//! The request is parsed at the edge into `license-core` types; every rule a verifier would
//! apply is checked here first, so the licensor never signs what a verifier would refuse.

use crate::api::error::ApiError;
use crate::store::{LicenseRecord, SignedLicense, Signing, StoreError, StoreResult};
use license_core::{
    CheckinPolicy, DAY, DeploymentId, Email, FORMAT_VERSION, FeatureSet, JwkSet, KeyId, Keyring,
    LicenseClaims, LicenseId, MAX_DEPLOYMENT_IDS, ProductVersion, PublicKey, SigningKey, Timestamp,
    USER_LIMIT, VerifiedLicense, Verifier, VerifyError, sign_license,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The largest seat count a license may carry.
pub const MAX_USER_LIMIT: i64 = 10_000_000;
/// The longest grace period, in days.
pub const MAX_GRACE_DAYS: u32 = 365;

/// Signs licenses with the licensor's key and publishes the verification keys.
#[derive(Debug)]
pub struct Signer {
    key: SigningKey,
    issuer: String,
    published: Vec<(KeyId, PublicKey)>,
}

impl Signer {
    /// Signs with `key` as `issuer`; `also_publish` are older keys still trusted (rotation).
    pub fn new(key: SigningKey, issuer: String, also_publish: Vec<(KeyId, PublicKey)>) -> Self {
        Self {
            key,
            issuer,
            published: also_publish,
        }
    }

    /// The issuer name (`iss`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The signing key's id.
    pub fn key_id(&self) -> &KeyId {
        self.key.key_id()
    }

    /// Signs claims; inconsistent claims are refused.
    pub fn sign(&self, claims: LicenseClaims, issued_by: &str) -> StoreResult<SignedLicense> {
        let token = sign_license(&claims, &self.key)
            .map_err(|e| StoreError::Database(format!("refused to sign: {e}")))?;
        Ok(SignedLicense {
            claims,
            token,
            key_id: self.key.key_id().to_string(),
            issued_by: issued_by.to_owned(),
            mail: Vec::new(),
        })
    }

    /// Signs a check-in receipt.
    pub fn sign_receipt(
        &self,
        claims: &license_core::ReceiptClaims,
    ) -> Result<String, license_core::ArtefactError> {
        license_core::sign_receipt(claims, &self.key)
    }

    /// Signs a revocation list.
    pub fn sign_revocation_list(
        &self,
        claims: &license_core::RevocationListClaims,
    ) -> Result<String, license_core::ArtefactError> {
        license_core::sign_revocation_list(claims, &self.key)
    }

    /// Verifies a token this licensor signed (with the current or an older published key).
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<VerifiedLicense, VerifyError> {
        let mut keyring = Keyring::empty();
        // Ids in `jwks()` are distinct by construction, so adding cannot conflict.
        for jwk in self.jwks().keys {
            if let Ok(key) = jwk.public_key() {
                let _ = keyring.add(jwk.kid, key);
            }
        }
        Verifier::new(keyring).verify(token, now)
    }

    /// The JWKS document: the signing key and any older published keys.
    pub fn jwks(&self) -> JwkSet {
        let current = self.key.public_key().to_jwk(self.key.key_id());
        let older = self
            .published
            .iter()
            .filter(|(kid, _)| kid != self.key.key_id())
            .map(|(kid, key)| key.to_jwk(kid));
        JwkSet {
            keys: std::iter::once(current).chain(older).collect(),
        }
    }
}

/// The signing step of an issuing transaction: claims for `terms` and the account the
/// transaction names, signed, with the license email composed for the outbox.
pub fn license_signer(
    state: &crate::api::AppState,
    terms: LicenseTerms,
    license_id: LicenseId,
    now: Timestamp,
    issued_by: String,
) -> impl Fn(&Signing<'_>) -> StoreResult<SignedLicense> + Send + Sync + use<> {
    let signer = state.signer.clone();
    let composer = state.composer.clone();
    let issuer = signer.issuer().to_owned();
    move |signing: &Signing<'_>| {
        let account = signing.account_id.to_string();
        let claims = terms
            .claims(
                license_id,
                &issuer,
                (&account, signing.account_type),
                now,
                signing.sequence,
            )
            .map_err(|e| StoreError::Database(e.message))?;
        let mut signed = signer.sign(claims, &issued_by)?;
        let mail = crate::mail::LicenseMail {
            claims: &signed.claims,
            token: &signed.token,
            reason: "issued",
        };
        let message = composer.license_email(uuid::Uuid::new_v4(), mail, now)?;
        signed.mail.push(message);
        Ok(signed)
    }
}

/// `POST /api/v1/licenses`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueRequest {
    /// The account the license belongs to.
    pub account_id: uuid::Uuid,
    /// The licensee's email: the license is sent there.
    pub email: String,
    /// A bundle of features.
    #[serde(default)]
    pub feature_set: FeatureSet,
    /// Further features, name → value.
    #[serde(default)]
    pub features: BTreeMap<String, i64>,
    /// Seats.
    pub user_limit: i64,
    /// Start of the term, RFC 3339.
    pub starts_at: String,
    /// End of the term, RFC 3339.
    pub expires_at: String,
    /// Days of grace after the term.
    #[serde(default)]
    pub grace_days: u32,
    /// Deployments the license is bound to; empty means any.
    #[serde(default)]
    pub deployment_ids: Vec<String>,
    /// A trial license.
    #[serde(default)]
    pub trial: bool,
}

/// `POST /api/v1/licenses/{id}/reissue`: what changes; everything else is copied.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReissueRequest {
    /// A new licensee email.
    pub email: Option<String>,
    /// A new feature set.
    pub feature_set: Option<FeatureSet>,
    /// New features (replacing the old map, `user_limit` aside).
    pub features: Option<BTreeMap<String, i64>>,
    /// New seats.
    pub user_limit: Option<i64>,
    /// A new start, RFC 3339.
    pub starts_at: Option<String>,
    /// A new end, RFC 3339 (an extension).
    pub expires_at: Option<String>,
    /// A new grace period in days.
    pub grace_days: Option<u32>,
    /// New deployment binding.
    pub deployment_ids: Option<Vec<String>>,
}

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
    /// Validates an issue request.
    pub fn from_request(request: &IssueRequest) -> Result<Self, ApiError> {
        let starts_at = time_field("starts_at", &request.starts_at)?;
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

    /// Validates a reissue request against the license it replaces.
    pub fn from_reissue(old: &LicenseRecord, request: &ReissueRequest) -> Result<Self, ApiError> {
        let starts_at = match &request.starts_at {
            Some(text) => time_field("starts_at", text)?,
            None => old.starts_at,
        };
        let expires_at = match &request.expires_at {
            Some(text) => time_field("expires_at", text)?,
            None => old.expires_at,
        };
        let old_grace_days =
            u32::try_from(old.grace_ends_at.seconds_since(old.expires_at) / DAY).unwrap_or(0);
        let mut features = request
            .features
            .clone()
            .unwrap_or_else(|| old.features.clone());
        features.remove(USER_LIMIT);
        Self::build(TermsInput {
            email: request.email.as_deref().unwrap_or(&old.email),
            feature_set: request
                .feature_set
                .unwrap_or(match old.feature_set.as_str() {
                    "enterprise" => FeatureSet::Enterprise,
                    "premium" => FeatureSet::Premium,
                    _ => FeatureSet::None,
                }),
            features,
            user_limit: request.user_limit.or(old.user_limit).unwrap_or(0),
            starts_at,
            expires_at,
            grace_days: request.grace_days.unwrap_or(old_grace_days),
            deployment_ids: request
                .deployment_ids
                .as_deref()
                .unwrap_or(&old.deployment_ids),
            trial: old.trial,
            evaluation: old.evaluation,
        })
    }

    fn build(input: TermsInput<'_>) -> Result<Self, ApiError> {
        let email = Email::parse(input.email.trim())
            .map_err(|e| ApiError::invalid("invalid_field", format!("field `email`: {e}")))?;
        if !crate::mail::Composer::accepts_recipient(email.as_str()) {
            return Err(ApiError::invalid(
                "invalid_field",
                format!("field `email`: {email} is not an address mail can be sent to"),
            ));
        }
        if !(0..=MAX_USER_LIMIT).contains(&input.user_limit) {
            return Err(ApiError::invalid(
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
            return Err(ApiError::invalid(
                "invalid_field",
                format!(
                    "field `features`: user_limit {given} contradicts field `user_limit` {}",
                    input.user_limit
                ),
            ));
        }
        features.insert(USER_LIMIT.to_owned(), input.user_limit);
        if input.expires_at <= input.starts_at {
            return Err(ApiError::invalid(
                "invalid_field",
                format!(
                    "field `expires_at`: {} is not after starts_at {}",
                    input.expires_at, input.starts_at
                ),
            ));
        }
        if input.grace_days > MAX_GRACE_DAYS {
            return Err(ApiError::invalid(
                "invalid_field",
                format!("field `grace_days`: at most {MAX_GRACE_DAYS} days"),
            ));
        }
        if input.deployment_ids.len() > MAX_DEPLOYMENT_IDS {
            return Err(ApiError::invalid(
                "invalid_field",
                format!("field `deployment_ids`: at most {MAX_DEPLOYMENT_IDS} deployments"),
            ));
        }
        let mut deployment_ids = Vec::with_capacity(input.deployment_ids.len());
        for text in input.deployment_ids {
            let id = DeploymentId::parse(text).map_err(|e| {
                ApiError::invalid("invalid_field", format!("field `deployment_ids`: {e}"))
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
    ) -> Result<LicenseClaims, ApiError> {
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
            .map_err(|e| ApiError::invalid("invalid_license", e.to_string()))?;
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

fn time_field(name: &str, text: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse_rfc3339(text)
        .map_err(|e| ApiError::invalid("invalid_field", format!("field `{name}`: {e}")))
}
