//! Deployments: public check-ins answered with signed receipts, the signed revocation list,
//! and the desk's view of deployments, their check-ins and overuse.

use super::AppState;
use super::common::page_request;
use super::common::page_view;
use super::error::ApiResult;
use super::extract::{AdminAuth, ApiJson, ApiPath, ApiQuery};
use super::ratelimit::{self, ClientAddress, RateLimiter};
use crate::service::deployments::{DeploymentLicense, DeploymentQuery};
use crate::service::requests::CheckinRequest;
use crate::store::PageRequest;
use crate::store::accounts::AccountId;
use crate::store::deployments::{CheckinEntry, Deployment};
use crate::store::licenses::LicenseStatus;
use axum::extract::{Extension, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use license_api::{CheckinResponse, Page, Renewal, Revocations};
use license_core::{LicenseId, ReceiptStatus};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The deployment routes; `POST /checkins` is public and rate-limited, `GET /revocations` public.
pub fn router(limiter: Arc<RateLimiter>) -> Router<AppState> {
    let limit = axum::middleware::from_fn_with_state(limiter, ratelimit::limit);
    Router::new()
        .route("/checkins", post(checkin).layer(limit.clone()))
        .route("/revocations", get(revocations).layer(limit))
        .route("/deployments", get(list))
        .route("/deployments/{id}", get(show))
        .route("/deployments/{id}/checkins", get(checkins))
}

async fn checkin(
    State(state): State<AppState>,
    Extension(client): Extension<ClientAddress>,
    ApiJson(body): ApiJson<CheckinRequest>,
) -> ApiResult<Json<CheckinResponse>> {
    let answer = state.licensor.checkin(&body, client.0).await?;
    // A trial license checking in proves its mailbox got it: its trial now takes the
    // once-per-email slot and counts toward the domain limit.
    let active: Vec<LicenseId> = answer
        .licenses
        .iter()
        .filter(|l| l.status == ReceiptStatus::Active)
        .map(|l| l.id)
        .collect();
    state
        .licensor
        .confirm_trials(&answer.deployment_id, &active)
        .await?;
    Ok(Json(CheckinResponse {
        receipt: answer.receipt,
        server_time: answer.server_time.rfc3339(),
        deployment_id: answer.deployment_id.to_string(),
        licenses: answer.licenses,
        nonce: answer.nonce,
        renewals: answer
            .renewals
            .into_iter()
            .map(|r| Renewal {
                license_id: r.license_id.to_string(),
                supersedes: r.supersedes.to_string(),
                token: r.token,
                expires_at: r.expires_at.rfc3339(),
            })
            .collect(),
    }))
}

async fn revocations(State(state): State<AppState>) -> ApiResult<Json<Revocations>> {
    let list = state.licensor.revocation_list().await?;
    Ok(Json(Revocations {
        revocation_list: list.token,
        sequence: list.sequence,
    }))
}

/// A deployment as the API shows it.
#[derive(Debug, Serialize)]
struct DeploymentView {
    id: String,
    first_seen_at: String,
    last_seen_at: String,
    product_version: String,
    active_users: u64,
    license_ids: Vec<String>,
    user_limit: Option<i64>,
    over_seat_limit: bool,
    trial: bool,
    account_id: Option<AccountId>,
    checkins: u64,
}

impl From<Deployment> for DeploymentView {
    fn from(d: Deployment) -> Self {
        Self {
            id: d.id,
            first_seen_at: d.first_seen_at.rfc3339(),
            last_seen_at: d.last_seen_at.rfc3339(),
            product_version: d.product_version,
            active_users: d.active_users,
            license_ids: d.license_ids,
            user_limit: d.user_limit,
            over_seat_limit: d.over_seat_limit,
            trial: d.trial,
            account_id: d.account_id,
            checkins: d.checkins,
        }
    }
}

/// One recorded check-in as the API shows it.
#[derive(Debug, Serialize)]
struct CheckinView {
    id: i64,
    at: String,
    active_users: u64,
    product_version: String,
    license_ids: Vec<String>,
    client_address: Option<String>,
}

impl From<CheckinEntry> for CheckinView {
    fn from(c: CheckinEntry) -> Self {
        Self {
            id: c.id,
            at: c.at.rfc3339(),
            active_users: c.active_users,
            product_version: c.product_version,
            license_ids: c.license_ids,
            client_address: c.client_address,
        }
    }
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
) -> ApiResult<Json<Page<DeploymentView>>> {
    let filter = DeploymentQuery {
        stale: query.stale.unwrap_or(false),
        over_seat_limit: query.over_seat_limit,
        trial: query.trial,
        account_id: query.account_id.map(AccountId),
    };
    let page = page_request(query.limit, query.after.as_deref())?;
    let page = state.licensor.deployments(&filter, &page).await?;
    Ok(Json(page_view(page, Into::into)))
}

/// A license of a deployment, with the overuse flag.
#[derive(Debug, Serialize)]
struct DeploymentLicenseView {
    id: LicenseId,
    known: bool,
    status: Option<LicenseStatus>,
    trial: bool,
    user_limit: Option<i64>,
    bound_to: Vec<String>,
    deployments_seen: u64,
    overused: bool,
}

impl From<DeploymentLicense> for DeploymentLicenseView {
    fn from(l: DeploymentLicense) -> Self {
        let record = l.record.as_ref();
        Self {
            id: l.id,
            known: record.is_some(),
            status: record.map(|r| r.status),
            trial: record.is_some_and(|r| r.trial),
            user_limit: record.and_then(|r| r.user_limit),
            bound_to: record.map(|r| r.deployment_ids.clone()).unwrap_or_default(),
            deployments_seen: l.deployments_seen,
            overused: l.overused,
        }
    }
}

/// One deployment with its licenses, overuse flags and latest check-ins.
#[derive(Debug, Serialize)]
struct DeploymentDetailView {
    #[serde(flatten)]
    deployment: DeploymentView,
    licenses: Vec<DeploymentLicenseView>,
    overused_licenses: bool,
    recent_checkins: Page<CheckinView>,
}

async fn show(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<DeploymentDetailView>> {
    let detail = state.licensor.deployment(&id).await?;
    let licenses: Vec<DeploymentLicenseView> =
        detail.licenses.into_iter().map(Into::into).collect();
    Ok(Json(DeploymentDetailView {
        overused_licenses: licenses.iter().any(|l| l.overused),
        deployment: detail.deployment.into(),
        licenses,
        recent_checkins: page_view(detail.recent_checkins, Into::into),
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
) -> ApiResult<Json<Page<CheckinView>>> {
    let page: PageRequest = page_request(query.limit, query.after.as_deref())?;
    let page = state.licensor.checkins(&id, &page).await?;
    Ok(Json(page_view(page, Into::into)))
}
