//! Deployments: public check-ins answered with signed receipts, the signed revocation list,
//! and the desk's view of deployments, their check-ins and overuse.

use super::AppState;
use super::common::page_request;
use super::error::{ApiError, ApiResult};
use super::extract::{AdminAuth, ApiJson, ApiPath, ApiQuery};
use super::ratelimit::{self, ClientAddress};
use crate::store::{
    AccountId, CheckinDraft, CheckinEntry, Deployment, DeploymentFilter, LicenseRecord,
    LicenseStatus, Page, PageRequest, StoreError,
};
use axum::extract::{Extension, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use license_core::{
    DAY, DeploymentId, LicenseId, MAX_NONCE_LEN, MAX_RECEIPT_LICENSES, ProductVersion,
    ReceiptClaims, ReceiptLicense, ReceiptStatus, RevocationListClaims, RevokedLicense, Timestamp,
};
use serde::{Deserialize, Serialize};

/// How far back the overuse flag looks for the deployments a license was reported from.
const OVERUSE_WINDOW_DAYS: i64 = 30;

/// The deployment routes; `POST /checkins` is public and rate-limited, `GET /revocations` public.
pub fn router(state: AppState) -> Router<AppState> {
    let limit = axum::middleware::from_fn_with_state(state, ratelimit::limit);
    Router::new()
        .route("/checkins", post(checkin).layer(limit.clone()))
        .route("/revocations", get(revocations).layer(limit))
        .route("/deployments", get(list))
        .route("/deployments/{id}", get(show))
        .route("/deployments/{id}/checkins", get(checkins))
}

/// `POST /checkins`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckinRequest {
    deployment_id: String,
    license_ids: Vec<String>,
    active_users: u64,
    product_version: String,
    #[serde(default)]
    nonce: Option<String>,
}

/// The answer to a check-in.
#[derive(Debug, Serialize)]
struct CheckinResponse {
    receipt: String,
    server_time: String,
    deployment_id: String,
    licenses: Vec<ReceiptLicense>,
    nonce: Option<String>,
}

fn invalid(name: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::invalid("invalid_field", format!("field `{name}`: {message}"))
}

/// What the licensor knows of a reported license, for a deployment, at `now`.
fn status_of(
    record: Option<&LicenseRecord>,
    deployment: &DeploymentId,
    now: Timestamp,
) -> ReceiptStatus {
    match record {
        None => ReceiptStatus::Unknown,
        Some(l) if l.status == LicenseStatus::Revoked => ReceiptStatus::Revoked,
        Some(l) if now > l.grace_ends_at => ReceiptStatus::Expired,
        Some(l)
            if !l.deployment_ids.is_empty()
                && !l.deployment_ids.iter().any(|d| d == deployment.as_str()) =>
        {
            ReceiptStatus::BoundElsewhere
        }
        Some(_) => ReceiptStatus::Active,
    }
}

async fn checkin(
    State(state): State<AppState>,
    Extension(client): Extension<ClientAddress>,
    ApiJson(body): ApiJson<CheckinRequest>,
) -> ApiResult<Json<CheckinResponse>> {
    let deployment =
        DeploymentId::parse(body.deployment_id.trim()).map_err(|e| invalid("deployment_id", e))?;
    if body.license_ids.len() > MAX_RECEIPT_LICENSES {
        return Err(ApiError::invalid(
            "too_many_licenses",
            format!("field `license_ids`: at most {MAX_RECEIPT_LICENSES} licenses per check-in"),
        ));
    }
    let mut ids: Vec<LicenseId> = Vec::with_capacity(body.license_ids.len());
    for text in &body.license_ids {
        let id = uuid::Uuid::parse_str(text.trim())
            .map_err(|_| invalid("license_ids", format!("{text:?} is not a license id")))?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ProductVersion::parse(body.product_version.trim())
        .ok_or_else(|| invalid("product_version", "give a version such as 2.16.1"))?;
    if let Some(nonce) = &body.nonce
        && (nonce.is_empty()
            || nonce.len() > MAX_NONCE_LEN
            || !nonce.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(invalid(
            "nonce",
            format!("1 to {MAX_NONCE_LEN} visible ASCII characters"),
        ));
    }
    let now = state.clock.now();
    let known = state.store.licenses_by_ids(&ids).await?;
    let licenses: Vec<ReceiptLicense> = ids
        .iter()
        .map(|id| ReceiptLicense {
            id: *id,
            status: status_of(known.iter().find(|l| l.id == *id), &deployment, now),
        })
        .collect();
    let active: Vec<&LicenseRecord> = known
        .iter()
        .filter(|l| {
            licenses
                .iter()
                .any(|r| r.id == l.id && r.status == ReceiptStatus::Active)
        })
        .collect();
    let draft = CheckinDraft {
        deployment_id: deployment.to_string(),
        at: now,
        active_users: body.active_users,
        product_version: body.product_version.trim().to_owned(),
        license_ids: ids.clone(),
        known_license_ids: known.iter().map(|l| l.id).collect(),
        user_limit: active.iter().filter_map(|l| l.user_limit).max(),
        trial: active.iter().any(|l| l.trial),
        account_id: active.first().map(|l| l.account_id),
        client_address: client.0.map(|ip| ip.to_string()),
    };
    state.store.record_checkin(&draft).await?;
    let claims = ReceiptClaims {
        iss: state.signer.issuer().to_owned(),
        jti: uuid::Uuid::new_v4(),
        iat: now,
        deployment_id: deployment.clone(),
        licenses: licenses.clone(),
        nonce: body.nonce.clone(),
    };
    let receipt = state
        .signer
        .sign_receipt(&claims)
        .map_err(ApiError::internal)?;
    Ok(Json(CheckinResponse {
        receipt,
        server_time: now.rfc3339(),
        deployment_id: deployment.to_string(),
        licenses,
        nonce: body.nonce,
    }))
}

/// `GET /revocations`.
#[derive(Debug, Serialize)]
struct Revocations {
    revocation_list: String,
    sequence: u64,
}

async fn revocations(State(state): State<AppState>) -> ApiResult<Json<Revocations>> {
    let (sequence, revoked) = state.store.revocations().await?;
    let claims = RevocationListClaims {
        iss: state.signer.issuer().to_owned(),
        iat: state.clock.now(),
        sequence,
        revoked: revoked
            .into_iter()
            .map(|(id, revoked_at)| RevokedLicense { id, revoked_at })
            .collect(),
    };
    let revocation_list = state
        .signer
        .sign_revocation_list(&claims)
        .map_err(ApiError::internal)?;
    Ok(Json(Revocations {
        revocation_list,
        sequence,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListDeployments {
    stale: Option<bool>,
    over_seat_limit: Option<bool>,
    trial: Option<bool>,
    account_id: Option<uuid::Uuid>,
    limit: Option<u32>,
    after: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiQuery(query): ApiQuery<ListDeployments>,
) -> ApiResult<Json<Page<Deployment>>> {
    let now = state.clock.now();
    let offline = i64::try_from(state.trial_policy.checkin.max_offline_secs).unwrap_or(i64::MAX);
    let filter = DeploymentFilter {
        // Stale: not seen within the offline window a trial is allowed.
        not_seen_since: query
            .stale
            .unwrap_or(false)
            .then(|| now.add_seconds(-offline)),
        over_seat_limit: query.over_seat_limit,
        trial: query.trial,
        account_id: query.account_id.map(AccountId),
    };
    Ok(Json(
        state
            .store
            .list_deployments(&filter, &page_request(query.limit, query.after.as_deref())?)
            .await?,
    ))
}

/// A license of a deployment, with the overuse flag.
#[derive(Debug, Serialize)]
struct DeploymentLicense {
    id: LicenseId,
    known: bool,
    status: Option<LicenseStatus>,
    trial: bool,
    user_limit: Option<i64>,
    bound_to: Vec<String>,
    deployments_seen: u64,
    overused: bool,
}

/// One deployment with its licenses, overuse flags and latest check-ins.
#[derive(Debug, Serialize)]
struct DeploymentDetail {
    #[serde(flatten)]
    deployment: Deployment,
    licenses: Vec<DeploymentLicense>,
    overused_licenses: bool,
    recent_checkins: Page<CheckinEntry>,
}

async fn show(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<DeploymentDetail>> {
    let deployment = state.store.deployment(&id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found(format!("deployment {id}")),
        other => other.into(),
    })?;
    let ids: Vec<LicenseId> = deployment
        .license_ids
        .iter()
        .filter_map(|text| uuid::Uuid::parse_str(text).ok())
        .collect();
    let records = state.store.licenses_by_ids(&ids).await?;
    let since = state.clock.now().add_seconds(-OVERUSE_WINDOW_DAYS * DAY);
    let counts = state.store.license_deployment_counts(&ids, since).await?;
    let licenses: Vec<DeploymentLicense> = ids
        .iter()
        .map(|id| {
            let record = records.iter().find(|l| l.id == *id);
            let seen = counts.iter().find(|(l, _)| l == id).map_or(0, |(_, n)| *n);
            let allowed = record.map_or(1, |l| l.deployment_ids.len().max(1)) as u64;
            DeploymentLicense {
                id: *id,
                known: record.is_some(),
                status: record.map(|l| l.status),
                trial: record.is_some_and(|l| l.trial),
                user_limit: record.and_then(|l| l.user_limit),
                bound_to: record.map(|l| l.deployment_ids.clone()).unwrap_or_default(),
                deployments_seen: seen,
                overused: seen > allowed,
            }
        })
        .collect();
    let recent_checkins = state
        .store
        .list_checkins(
            &id,
            &PageRequest {
                limit: 20,
                after: None,
            },
        )
        .await?;
    Ok(Json(DeploymentDetail {
        overused_licenses: licenses.iter().any(|l| l.overused),
        deployment,
        licenses,
        recent_checkins,
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListCheckins {
    limit: Option<u32>,
    after: Option<String>,
}

async fn checkins(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
    ApiQuery(query): ApiQuery<ListCheckins>,
) -> ApiResult<Json<Page<CheckinEntry>>> {
    let page = page_request(query.limit, query.after.as_deref())?;
    state.store.deployment(&id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found(format!("deployment {id}")),
        other => other.into(),
    })?;
    Ok(Json(state.store.list_checkins(&id, &page).await?))
}
