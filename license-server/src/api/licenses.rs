//! `/api/v1/licenses`: issue, list, show, revoke, reissue, resend.

use super::AppState;
use super::common::page_view;
use super::common::{page_request, parse_id};
use super::error::ApiResult;
use super::extract::{AdminAuth, AdminRole, ApiJson, ApiPath, ApiQuery, DeskAuth, Idempotency};
use crate::service::requests::{IssueRequest, ReissueRequest, RevokeRequest};
use crate::service::roles::Action;
use crate::store::accounts::AccountId;
use crate::store::licenses::{LicenseFilter, LicenseRecord, LicenseStatus};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use license_api::{LicenseView, Page};
use license_core::Timestamp;
use serde::{Deserialize, Serialize};

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
fn view(l: LicenseRecord, with_token: bool) -> LicenseView {
    LicenseView {
        id: l.id,
        account_id: l.account_id.0,
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
        starts_at: l.starts_at.rfc3339(),
        expires_at: l.expires_at.rfc3339(),
        grace_ends_at: l.grace_ends_at.rfc3339(),
        issued_at: l.issued_at.rfc3339(),
        issued_by: l.issued_by,
        status: l.status,
        revoked_at: l.revoked_at.map(Timestamp::rfc3339),
        revoke_reason: l.revoke_reason,
        supersedes: l.supersedes,
    }
}

async fn issue(
    State(state): State<AppState>,
    DeskAuth(admin): DeskAuth,
    Idempotency(key): Idempotency,
    ApiJson(body): ApiJson<IssueRequest>,
) -> ApiResult<(StatusCode, Json<LicenseView>)> {
    let issued = state
        .licensor
        .issue(&admin.name, key.as_ref(), &body)
        .await?;
    Ok((StatusCode::CREATED, Json(view(issued.license, true))))
}

async fn reissue(
    State(state): State<AppState>,
    DeskAuth(admin): DeskAuth,
    Idempotency(key): Idempotency,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<ReissueRequest>,
) -> ApiResult<(StatusCode, Json<LicenseView>)> {
    let id = parse_id(&id, "license")?;
    let issued = state
        .licensor
        .reissue(&admin.name, key.as_ref(), id, &body)
        .await?;
    Ok((StatusCode::CREATED, Json(view(issued.license, true))))
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
    let filter = LicenseFilter {
        account_id: query.account_id.map(AccountId),
        email: query.email.clone(),
        status: query.status,
        trial: query.trial,
        ..LicenseFilter::default()
    };
    let page = page_request(query.limit, query.after.as_deref())?;
    let page = state.licensor.licenses(&filter, &page).await?;
    Ok(Json(page_view(page, |l| view(l, false))))
}

/// One license; its signed token only for a role that may read tokens (not a viewer).
async fn show(
    State(state): State<AppState>,
    AdminAuth(caller): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<LicenseView>> {
    let id = parse_id(&id, "license")?;
    // Reading a token is audited; a role that may not read tokens gets the license without.
    if caller.may(Action::ReadToken) {
        let license = state.licensor.read_license(&caller.name, id).await?;
        Ok(Json(view(license, true)))
    } else {
        Ok(Json(view(state.licensor.license(id).await?, false)))
    }
}

async fn revoke(
    State(state): State<AppState>,
    AdminRole(admin): AdminRole,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<RevokeRequest>,
) -> ApiResult<Json<LicenseView>> {
    let id = parse_id(&id, "license")?;
    let license = state.licensor.revoke(&admin.name, id, &body.reason).await?;
    Ok(Json(view(license, false)))
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
    DeskAuth(admin): DeskAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<(StatusCode, Json<Resent>)> {
    let id = parse_id(&id, "license")?;
    let message = state.licensor.resend(&admin.name, id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Resent {
            outbox_id: message.id,
            message_id: message.message_id,
            recipient: message.recipient,
        }),
    ))
}
