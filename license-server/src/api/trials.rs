//! `/api/v1/trials`: the public trial request (rate-limited), and the desk's view of trials.

use super::AppState;
use super::common::{page_request, parse_id};
use super::error::{ApiError, ApiResult};
use super::extract::{AdminAuth, ApiJson, ApiPath, ApiQuery};
use super::ratelimit::{self, ClientAddress};
use crate::issuance::{LicenseTerms, license_signer};
use crate::store::{
    AuditDraft, Page, StoreError, TrialConflict, TrialDraft, TrialFilter, TrialOutcome, TrialRecord,
};
use crate::trials::{Refusal, TrialRequest, TrialRule, Waivers, email_key};
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use license_core::{DAY, Email, Timestamp, USER_LIMIT};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The trial routes: `POST /trials` is public and rate-limited; the rest need an admin.
pub fn router(state: AppState) -> Router<AppState> {
    let limited = post(request).layer(axum::middleware::from_fn_with_state(
        state,
        ratelimit::limit,
    ));
    Router::new()
        .route("/trials", get(list).merge(limited))
        .route("/trials/{id}", get(show))
        .route("/trials/{id}/extend", post(extend))
}

/// The answer to a granted trial request: where the license went, not the license.
#[derive(Debug, Serialize)]
struct TrialAccepted {
    trial_id: uuid::Uuid,
    status: &'static str,
    email: String,
    expires_at: String,
    user_limit: i64,
    evaluation: bool,
    checkin_required: bool,
    message: String,
}

async fn request(
    State(state): State<AppState>,
    Extension(client): Extension<ClientAddress>,
    ApiJson(body): ApiJson<TrialRequest>,
) -> ApiResult<(StatusCode, Json<TrialAccepted>)> {
    let request = body.validate()?;
    let now = state.clock.now();
    let policy = state.trial_policy.clone();
    let account_email = request.email.as_str().to_lowercase();
    let enrollment = state
        .store
        .active_evaluation(
            &request.email_key,
            &request.email_domain,
            &account_email,
            now,
        )
        .await?;
    let waivers = enrollment.map_or_else(Waivers::default, |e| Waivers {
        evaluation_id: Some(e.id),
        waives: e
            .waives
            .iter()
            .filter_map(|rule| serde_json::from_value(json!(rule)).ok())
            .collect(),
        max_term_days: e.max_term_days,
        user_limit: e.user_limit,
    });
    let mut record = TrialRecord {
        id: uuid::Uuid::new_v4(),
        email: request.email.to_string(),
        email_key: request.email_key.clone(),
        email_domain: request.email_domain.clone(),
        first_name: request.first_name.clone(),
        last_name: request.last_name.clone(),
        company: request.company.clone(),
        country: request.country.clone(),
        developers: request.developers.clone(),
        deployment_id: request.deployment_id.to_string(),
        product_version: request.product_version.clone(),
        client_address: client.0.map(|ip| ip.to_string()),
        requested_at: now,
        outcome: "granted".into(),
        refusal_code: None,
        refusal_message: None,
        license_id: None,
        account_id: None,
        evaluation_id: waivers.evaluation_id,
        expires_at: None,
    };
    let terms = match policy.terms(&request, &waivers, now) {
        Ok(terms) => terms,
        Err(refusal) => {
            record.outcome = "refused".into();
            record.refusal_code = Some(refusal.code.to_owned());
            record.refusal_message = Some(refusal.message.clone());
            state.store.record_trial(&record).await?;
            tracing::info!(trial_id = %record.id, code = refusal.code, "trial refused");
            return Err(refusal.into_api_error());
        }
    };
    let license_terms = LicenseTerms {
        email: request.email.clone(),
        feature_set: policy.feature_set,
        features: [(USER_LIMIT.to_owned(), terms.user_limit)].into(),
        starts_at: terms.starts_at,
        expires_at: terms.expires_at,
        grace_ends_at: terms.expires_at,
        deployment_ids: vec![request.deployment_id.clone()],
        trial: true,
        evaluation: terms.evaluation,
        checkin: terms.checkin,
        min_product_version: terms.min_product_version,
    };
    let license_id = uuid::Uuid::new_v4();
    license_terms.claims(
        license_id,
        state.signer.issuer(),
        (&license_id.to_string(), "trial"),
        now,
        1,
    )?;
    let sign = license_signer(
        &state,
        license_terms,
        license_id,
        now,
        "trial-request".to_owned(),
    );
    let draft = TrialDraft {
        record,
        once_per_deployment: terms.once_per_deployment,
        once_per_email: terms.once_per_email,
        domain_limit: terms.domain_limit,
    };
    let refusal = |conflict: TrialConflict| {
        let rule = match conflict {
            TrialConflict::Deployment => TrialRule::OneTrialPerDeployment,
            TrialConflict::Email => TrialRule::OneTrialPerEmail,
            TrialConflict::DomainLimit => TrialRule::DomainLimit,
        };
        let refusal = Refusal::of(rule, &policy);
        (refusal.code.to_owned(), refusal.message)
    };
    match state.store.request_trial(&draft, &sign, &refusal).await? {
        TrialOutcome::Granted(trial) => {
            state.outbox_wake.notify_one();
            state.metrics.license_issued(if terms.evaluation {
                "evaluation"
            } else {
                "trial"
            });
            tracing::info!(trial_id = %trial.id, evaluation = terms.evaluation, "trial granted");
            Ok((
                StatusCode::ACCEPTED,
                Json(TrialAccepted {
                    trial_id: trial.id,
                    status: "granted",
                    email: trial.email.clone(),
                    expires_at: terms.expires_at.rfc3339(),
                    user_limit: terms.user_limit,
                    evaluation: terms.evaluation,
                    checkin_required: terms.checkin.is_some(),
                    message: format!(
                        "your trial license is on its way to {}; install it with `coder-license apply -f license.jwt`",
                        trial.email
                    ),
                }),
            ))
        }
        TrialOutcome::Refused(_, trial) => {
            tracing::info!(trial_id = %trial.id, code = ?trial.refusal_code, "trial refused");
            let code = trial.refusal_code.unwrap_or_default();
            let message = trial.refusal_message.unwrap_or_default();
            let code = match code.as_str() {
                "trial_used_for_deployment" => "trial_used_for_deployment",
                "trial_used_for_email" => "trial_used_for_email",
                _ => "trial_domain_limit",
            };
            Err(Refusal { code, message }.into_api_error())
        }
    }
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

fn query_time(name: &str, text: Option<&str>) -> ApiResult<Option<Timestamp>> {
    text.map(|t| {
        Timestamp::parse_rfc3339(t).map_err(|e| {
            ApiError::invalid("invalid_query", format!("query parameter `{name}`: {e}"))
        })
    })
    .transpose()
}

async fn list(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiQuery(query): ApiQuery<ListTrials>,
) -> ApiResult<Json<Page<TrialRecord>>> {
    let email_key = query
        .email
        .as_deref()
        .map(|e| {
            Email::parse(e.trim())
                .map(|email| email_key(&email).0)
                .map_err(|err| {
                    ApiError::invalid("invalid_query", format!("query parameter `email`: {err}"))
                })
        })
        .transpose()?;
    if let Some(outcome) = &query.outcome
        && outcome != "granted"
        && outcome != "refused"
    {
        return Err(ApiError::invalid(
            "invalid_query",
            "query parameter `outcome`: use granted or refused",
        ));
    }
    let filter = TrialFilter {
        email_key,
        email_domain: query.domain.as_deref().map(|d| d.trim().to_lowercase()),
        deployment_id: query.deployment_id.clone(),
        outcome: query.outcome.clone(),
        since: query_time("since", query.since.as_deref())?,
        until: query_time("until", query.until.as_deref())?,
    };
    let page = page_request(query.limit, query.after.as_deref())?;
    Ok(Json(state.store.list_trials(&filter, &page).await?))
}

async fn show(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<TrialRecord>> {
    let id = parse_id(&id, "trial")?;
    match state.store.trial(id).await {
        Ok(record) => Ok(Json(record)),
        Err(StoreError::NotFound) => Err(ApiError::not_found(format!("trial {id}"))),
        Err(other) => Err(other.into()),
    }
}

/// `POST /trials/{id}/extend`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ExtendTrial {
    days: u32,
}

async fn extend(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<ExtendTrial>,
) -> ApiResult<Json<TrialRecord>> {
    let id = parse_id(&id, "trial")?;
    if !(1..=state.trial_policy.evaluation_max_term_days).contains(&body.days) {
        return Err(ApiError::invalid(
            "invalid_field",
            format!(
                "field `days`: use 1 to {}",
                state.trial_policy.evaluation_max_term_days
            ),
        ));
    }
    let trial = state.store.trial(id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found(format!("trial {id}")),
        other => other.into(),
    })?;
    let (Some(license_id), Some(expires_at)) = (trial.license_id, trial.expires_at) else {
        return Err(ApiError::conflict(
            "trial_not_granted",
            format!("trial {id} was refused; there is nothing to extend"),
        ));
    };
    let now = state.clock.now();
    let license = state.store.license(license_id).await?;
    let verified = state
        .signer
        .verify(&license.token, now)
        .map_err(ApiError::internal)?;
    let old = verified.claims();
    let new_end = expires_at.max(now).add_seconds(i64::from(body.days) * DAY);
    let terms = LicenseTerms {
        email: old.sub.clone(),
        feature_set: old.feature_set,
        features: old.features.clone(),
        starts_at: old.nbf,
        expires_at: new_end,
        grace_ends_at: new_end,
        deployment_ids: old.deployment_ids.clone(),
        trial: true,
        evaluation: old.evaluation,
        checkin: old.checkin,
        min_product_version: old
            .min_product_version
            .as_deref()
            .and_then(license_core::ProductVersion::parse),
    };
    let new_id = uuid::Uuid::new_v4();
    let audit = AuditDraft {
        at: now,
        actor: admin.name.clone(),
        action: "trial.extend".into(),
        target: String::new(),
        details: json!({ "days": body.days, "expires_at": new_end.rfc3339(), "supersedes": license_id }),
    };
    let sign = license_signer(&state, terms, new_id, now, admin.name);
    let (trial, _) = state
        .store
        .extend_trial(id, &audit, &sign)
        .await
        .map_err(|e| match e {
            StoreError::Conflict("license_not_active") => ApiError::conflict(
                "license_not_active",
                format!("trial {id}'s license is revoked or replaced"),
            ),
            other => other.into(),
        })?;
    state.outbox_wake.notify_one();
    Ok(Json(trial))
}
