//! `/api/v1/trials`: the public trial request (rate-limited), and the desk's view of trials.

use super::AppState;
use super::common::{page_request, page_view, parse_id, query_time};
use super::error::{ApiError, ApiResult};
use super::extract::{AdminAuth, ApiJson, ApiPath, ApiQuery, DeskAuth};
use super::ratelimit::{self, ClientAddress, RateLimiter};
use crate::service::requests::{ExtendTrial, TrialRequest};
use crate::store::accounts::AccountId;
use crate::store::trials::{TrialFilter, TrialOutcome, TrialRecord};
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use license_api::{Page, TrialAccepted};
use license_core::{Email, LicenseId, Timestamp};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The trial routes: `POST /trials` is public and rate-limited; the rest need an admin.
pub fn router(limiter: Arc<RateLimiter>) -> Router<AppState> {
    let limited = post(request).layer(axum::middleware::from_fn_with_state(
        limiter,
        ratelimit::limit,
    ));
    Router::new()
        .route("/trials", get(list).merge(limited))
        .route("/trials/{id}", get(show))
        .route("/trials/{id}/extend", post(extend))
}

/// A trial request as the desk sees it.
#[derive(Debug, Serialize)]
struct TrialView {
    id: uuid::Uuid,
    email: String,
    email_key: String,
    email_domain: String,
    first_name: String,
    last_name: String,
    company: String,
    country: String,
    developers: String,
    deployment_id: String,
    product_version: String,
    client_address: Option<String>,
    requested_at: String,
    outcome: &'static str,
    refusal_code: Option<String>,
    refusal_message: Option<String>,
    license_id: Option<LicenseId>,
    account_id: Option<AccountId>,
    evaluation_id: Option<uuid::Uuid>,
    expires_at: Option<String>,
    confirmed_at: Option<String>,
}

impl From<TrialRecord> for TrialView {
    fn from(t: TrialRecord) -> Self {
        Self {
            id: t.id,
            email: t.email,
            email_key: t.email_key,
            email_domain: t.email_domain,
            first_name: t.first_name,
            last_name: t.last_name,
            company: t.company,
            country: t.country,
            developers: t.developers,
            deployment_id: t.deployment_id,
            product_version: t.product_version,
            client_address: t.client_address,
            requested_at: t.requested_at.rfc3339(),
            outcome: t.outcome.as_str(),
            refusal_code: t.refusal_code,
            refusal_message: t.refusal_message,
            license_id: t.license_id,
            account_id: t.account_id,
            evaluation_id: t.evaluation_id,
            expires_at: t.expires_at.map(Timestamp::rfc3339),
            confirmed_at: t.confirmed_at.map(Timestamp::rfc3339),
        }
    }
}

async fn request(
    State(state): State<AppState>,
    Extension(client): Extension<ClientAddress>,
    ApiJson(body): ApiJson<TrialRequest>,
) -> ApiResult<(StatusCode, Json<TrialAccepted>)> {
    let granted = state.licensor.request_trial(&body, client.0).await?;
    let email = granted.trial.email;
    Ok((
        StatusCode::ACCEPTED,
        Json(TrialAccepted {
            trial_id: granted.trial.id,
            status: "granted".to_owned(),
            message: format!(
                "your trial license is on its way to {email}; install it with `coder-license apply -f license.jwt`"
            ),
            email,
            expires_at: granted.terms.expires_at.rfc3339(),
            user_limit: granted.terms.user_limit,
            evaluation: granted.terms.evaluation,
            checkin_required: granted.terms.checkin.is_some(),
        }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListTrials {
    email: Option<String>,
    domain: Option<String>,
    deployment_id: Option<String>,
    outcome: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

/// The longest domain name (RFC 1035), the `domain` filter's limit.
const MAX_DOMAIN_LEN: usize = 253;

/// The `domain` filter in the form trials store it. Text that is no domain (say `a..b`) names
/// no trial's domain: it filters by itself and matches nothing, as a search for a name that
/// does not exist would. Empty, longer than a domain can be, or holding a control character
/// (which no domain has, and which Postgres cannot even compare): 422 `invalid_query`.
fn domain_filter(state: &AppState, text: &str) -> Result<String, ApiError> {
    if text.is_empty()
        || text.chars().count() > MAX_DOMAIN_LEN
        || text.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "invalid_query",
            format!(
                "query parameter `domain`: give 1 to {MAX_DOMAIN_LEN} characters, none of them \
                 a control character"
            ),
        ));
    }
    Ok(state
        .licensor
        .trial_policy()
        .mailbox
        .domain(text.trim())
        .unwrap_or_else(|_| text.to_lowercase()))
}

async fn list(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiQuery(query): ApiQuery<ListTrials>,
) -> ApiResult<Json<Page<TrialView>>> {
    let email_key = query
        .email
        .as_deref()
        .map(|e| {
            let email = Email::parse(e.trim()).map_err(|err| {
                ApiError::invalid("invalid_query", format!("query parameter `email`: {err}"))
            })?;
            state
                .licensor
                .trial_policy()
                .mailbox
                .key(&email)
                .map(|key| key.key)
                .map_err(|err| {
                    ApiError::invalid("invalid_query", format!("query parameter `email`: {err}"))
                })
        })
        .transpose()?;
    let outcome = match query.outcome.as_deref() {
        None => None,
        Some("granted") => Some(TrialOutcome::Granted),
        Some("refused") => Some(TrialOutcome::Refused),
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_query",
                "query parameter `outcome`: use granted or refused",
            ));
        }
    };
    let filter = TrialFilter {
        email_key,
        email_domain: query
            .domain
            .as_deref()
            .map(|d| domain_filter(&state, d))
            .transpose()?,
        deployment_id: query
            .deployment_id
            .as_deref()
            .map(|text| {
                license_core::DeploymentId::parse(text)
                    .map(|id| id.as_str().to_owned())
                    .map_err(|e| {
                        ApiError::invalid(
                            "invalid_query",
                            format!("query parameter `deployment_id`: {e}"),
                        )
                    })
            })
            .transpose()?,
        outcome,
        since: query_time("since", query.since.as_deref())?,
        until: query_time("until", query.until.as_deref())?,
    };
    let page = page_request(query.limit, query.after.as_deref())?;
    let page = state.licensor.trials(&filter, &page).await?;
    Ok(Json(page_view(page, Into::into)))
}

async fn show(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<TrialView>> {
    let id = parse_id(&id, "trial")?;
    Ok(Json(state.licensor.trial(id).await?.into()))
}

async fn extend(
    State(state): State<AppState>,
    DeskAuth(admin): DeskAuth,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<ExtendTrial>,
) -> ApiResult<Json<TrialView>> {
    let id = parse_id(&id, "trial")?;
    let trial = state
        .licensor
        .extend_trial(&admin.name, id, body.days)
        .await?;
    Ok(Json(trial.into()))
}
