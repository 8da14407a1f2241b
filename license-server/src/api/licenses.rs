//! `/api/v1/licenses`: issue, list, show, revoke, reissue.

use super::AppState;
use super::common::{page_request, parse_id, rfc3339};
use super::error::{ApiError, ApiResult};
use super::extract::{AdminAuth, ApiJson, ApiPath, ApiQuery, Idempotency};
use crate::issuance::{IssueRequest, LicenseTerms, ReissueRequest, license_signer};
use crate::mail::LicenseMail;
use crate::store::{
    AccountId, AdminIdentity, AuditDraft, IdempotencyClaim, IdempotencyKey, LicenseFilter,
    LicenseRecord, LicenseStatus, Page, StoreError,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use license_core::{Email, LicenseId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The license routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/licenses", get(list).post(issue))
        .route("/licenses/{id}", get(show))
        .route("/licenses/{id}/revoke", post(revoke))
        .route("/licenses/{id}/reissue", post(reissue))
        .route("/licenses/{id}/resend", post(resend))
}

/// A license as the API shows it; `token` only when showing one license.
#[derive(Debug, Serialize)]
pub struct LicenseView {
    id: LicenseId,
    account_id: AccountId,
    email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    key_id: String,
    feature_set: String,
    features: BTreeMap<String, i64>,
    user_limit: Option<i64>,
    deployment_ids: Vec<String>,
    trial: bool,
    evaluation: bool,
    sequence: u64,
    starts_at: String,
    expires_at: String,
    grace_ends_at: String,
    issued_at: String,
    issued_by: String,
    status: LicenseStatus,
    revoked_at: Option<String>,
    revoke_reason: Option<String>,
    supersedes: Option<LicenseId>,
}

impl LicenseView {
    fn new(l: LicenseRecord, with_token: bool) -> Self {
        Self {
            id: l.id,
            account_id: l.account_id,
            email: l.email,
            token: with_token.then_some(l.token),
            key_id: l.key_id,
            feature_set: l.feature_set,
            features: l.features,
            user_limit: l.user_limit,
            deployment_ids: l.deployment_ids,
            trial: l.trial,
            evaluation: l.evaluation,
            sequence: l.sequence,
            starts_at: rfc3339(l.starts_at),
            expires_at: rfc3339(l.expires_at),
            grace_ends_at: rfc3339(l.grace_ends_at),
            issued_at: rfc3339(l.issued_at),
            issued_by: l.issued_by,
            status: l.status,
            revoked_at: l.revoked_at.map(rfc3339),
            revoke_reason: l.revoke_reason,
            supersedes: l.supersedes,
        }
    }
}

async fn issue(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    Idempotency(key): Idempotency,
    ApiJson(body): ApiJson<IssueRequest>,
) -> ApiResult<(StatusCode, Json<LicenseView>)> {
    let terms = LicenseTerms::from_request(&body)?;
    let account_id = AccountId(body.account_id);
    let details = json!({ "request": &body });
    issue_terms(
        &state,
        admin,
        key,
        &body,
        account_id,
        None,
        terms,
        "license.issue",
        details,
    )
    .await
}

async fn reissue(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    Idempotency(key): Idempotency,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<ReissueRequest>,
) -> ApiResult<(StatusCode, Json<LicenseView>)> {
    let id = parse_id(&id, "license")?;
    // Whether the old license is still active is decided in the issuing transaction, after
    // the idempotency key: a replayed reissue returns its license although the old one is
    // superseded by then.
    let old = find(&state, id).await?;
    let terms = LicenseTerms::from_reissue(&old, &body)?;
    let details = json!({ "supersedes": id, "request": &body });
    let hashed = (id, &body);
    issue_terms(
        &state,
        admin,
        key,
        &hashed,
        old.account_id,
        Some(id),
        terms,
        "license.reissue",
        details,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn issue_terms(
    state: &AppState,
    admin: AdminIdentity,
    key: Option<IdempotencyKey>,
    request: &impl Serialize,
    account_id: AccountId,
    supersedes: Option<LicenseId>,
    terms: LicenseTerms,
    action: &'static str,
    details: serde_json::Value,
) -> ApiResult<(StatusCode, Json<LicenseView>)> {
    let now = state.clock.now();
    let license_id = uuid::Uuid::new_v4();
    // Check the claims before opening a transaction: the account and the sequence do not
    // affect their validity.
    terms.claims(
        license_id,
        state.signer.issuer(),
        (&account_id.to_string(), "licensor"),
        now,
        1,
    )?;
    let claim = key.map(|key| IdempotencyClaim {
        key,
        request_hash: request_hash(action, request),
    });
    let audit = AuditDraft {
        at: now,
        actor: admin.name.clone(),
        action: action.to_owned(),
        target: String::new(),
        details,
    };
    let sign = license_signer(state, terms, license_id, now, admin.name);
    let issued = state
        .store
        .issue_license(account_id, supersedes, claim.as_ref(), &audit, &sign)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::invalid(
                "unknown_account",
                format!("account {account_id} does not exist"),
            ),
            StoreError::Conflict("idempotency_key_reused") => ApiError::invalid(
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request; use a new key",
            ),
            StoreError::Conflict("idempotency_key_in_flight") => ApiError::conflict(
                "idempotency_key_in_flight",
                "a request with this Idempotency-Key is still being processed; retry",
            ),
            StoreError::Conflict("license_not_active") => ApiError::conflict(
                "license_not_active",
                "the license to reissue is no longer active",
            ),
            other => other.into(),
        })?;
    if issued.replayed {
        return Ok((
            StatusCode::CREATED,
            Json(LicenseView::new(issued.license, true)),
        ));
    }
    state.outbox_wake.notify_one();
    state
        .metrics
        .license_issued(match (supersedes, issued.license.trial) {
            (Some(_), _) => "reissue",
            (None, true) => "trial",
            (None, false) => "paid",
        });
    tracing::info!(license_id = %issued.license.id, account_id = %account_id, actor = %issued.license.issued_by, "license issued");
    Ok((
        StatusCode::CREATED,
        Json(LicenseView::new(issued.license, true)),
    ))
}

fn request_hash(action: &str, request: &impl Serialize) -> String {
    let body = serde_json::to_vec(request).unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(action.as_bytes());
    hasher.update([0]);
    hasher.update(&body);
    license_core::base64url::encode(&hasher.finalize())
}

/// `GET /licenses` filters and paging.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListLicenses {
    account_id: Option<uuid::Uuid>,
    email: Option<String>,
    status: Option<LicenseStatus>,
    trial: Option<bool>,
    limit: Option<u32>,
    after: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiQuery(query): ApiQuery<ListLicenses>,
) -> ApiResult<Json<Page<LicenseView>>> {
    if let Some(email) = &query.email {
        Email::parse(email).map_err(|e| {
            ApiError::invalid("invalid_query", format!("query parameter `email`: {e}"))
        })?;
    }
    let filter = LicenseFilter {
        account_id: query.account_id.map(AccountId),
        email: query.email.clone(),
        status: query.status,
        trial: query.trial,
    };
    let page = state
        .store
        .list_licenses(&filter, &page_request(query.limit, query.after.as_deref())?)
        .await?;
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|l| LicenseView::new(l, false))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

async fn find(state: &AppState, id: LicenseId) -> ApiResult<LicenseRecord> {
    state.store.license(id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found(format!("license {id}")),
        other => other.into(),
    })
}

async fn show(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<LicenseView>> {
    let id = parse_id(&id, "license")?;
    Ok(Json(LicenseView::new(find(&state, id).await?, true)))
}

/// `POST /licenses/{id}/revoke`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    reason: String,
}

async fn revoke(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<RevokeRequest>,
) -> ApiResult<Json<LicenseView>> {
    let id = parse_id(&id, "license")?;
    let reason = body.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::invalid(
            "invalid_field",
            "field `reason`: give 1 to 500 characters",
        ));
    }
    let now = state.clock.now();
    let audit = AuditDraft {
        at: now,
        actor: admin.name,
        action: "license.revoke".into(),
        target: String::new(),
        details: json!({ "reason": reason }),
    };
    let license = state
        .store
        .revoke_license(id, reason, now, &audit)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found(format!("license {id}")),
            StoreError::Conflict(_) => ApiError::conflict(
                "already_revoked",
                format!("license {id} is already revoked"),
            ),
            other => other.into(),
        })?;
    tracing::info!(license_id = %id, "license revoked");
    Ok(Json(LicenseView::new(license, false)))
}

/// What `POST /licenses/{id}/resend` queued.
#[derive(Debug, Serialize)]
struct Resent {
    outbox_id: uuid::Uuid,
    message_id: String,
    recipient: String,
}

/// Queues the license email again, to the licensee on the license.
async fn resend(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<(StatusCode, Json<Resent>)> {
    let id = parse_id(&id, "license")?;
    let license = find(&state, id).await?;
    if license.status == LicenseStatus::Revoked {
        return Err(ApiError::conflict(
            "license_revoked",
            format!("license {id} is revoked; it is not sent again"),
        ));
    }
    let now = state.clock.now();
    // Claims are read only from a verified token, here against the licensor's own keys.
    let verified = state
        .signer
        .verify(&license.token, now)
        .map_err(ApiError::internal)?;
    let mail = LicenseMail {
        claims: verified.claims(),
        token: &license.token,
        reason: "resent",
    };
    let message = state
        .composer
        .license_email(uuid::Uuid::new_v4(), mail, now)?;
    let audit = AuditDraft {
        at: now,
        actor: admin.name,
        action: "license.resend".into(),
        target: String::new(),
        details: json!({ "license_id": id, "recipient": message.recipient }),
    };
    state.store.enqueue(&message, &audit).await?;
    state.outbox_wake.notify_one();
    Ok((
        StatusCode::ACCEPTED,
        Json(Resent {
            outbox_id: message.id,
            message_id: message.message_id,
            recipient: message.recipient,
        }),
    ))
}
