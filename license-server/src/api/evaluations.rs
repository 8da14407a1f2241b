//! `/api/v1/evaluations`: the evaluation program, whose members are exempt from trial rules.

use super::AppState;
use super::common::{page_request, parse_id};
use super::error::{ApiError, ApiResult};
use super::extract::{AdminAuth, ApiJson, ApiPath, ApiQuery};
use crate::issuance::MAX_USER_LIMIT;
use crate::store::{
    AccountId, AuditDraft, Evaluation, EvaluationSubject, NewEvaluation, Page, StoreError,
};
use crate::trials::{TrialRule, email_key};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use license_core::{Email, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The evaluation routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/evaluations", get(list).post(enroll))
        .route("/evaluations/{id}", get(show))
        .route("/evaluations/{id}/end", post(end))
}

/// `POST /evaluations`: exactly one of `account_id`, `email`, `email_domain`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Enroll {
    account_id: Option<uuid::Uuid>,
    email: Option<String>,
    email_domain: Option<String>,
    reason: String,
    approved_by: String,
    starts_at: Option<String>,
    ends_at: String,
    #[serde(default)]
    waives: Vec<TrialRule>,
    max_term_days: Option<u32>,
    user_limit: Option<i64>,
}

/// An enrollment as the API shows it.
#[derive(Debug, Serialize)]
struct EvaluationView {
    id: uuid::Uuid,
    account_id: Option<AccountId>,
    email: Option<String>,
    email_domain: Option<String>,
    reason: String,
    approved_by: String,
    starts_at: String,
    ends_at: String,
    waives: Vec<String>,
    max_term_days: Option<u32>,
    user_limit: Option<i64>,
    active: bool,
    created_at: String,
    created_by: String,
    ended_at: Option<String>,
    ended_by: Option<String>,
    end_reason: Option<String>,
}

impl EvaluationView {
    fn new(e: Evaluation, now: Timestamp) -> Self {
        let active = e.is_active(now);
        let (account_id, email, email_domain) = match e.subject {
            EvaluationSubject::Account(id) => (Some(id), None, None),
            EvaluationSubject::Email(key) => (None, Some(key), None),
            EvaluationSubject::EmailDomain(domain) => (None, None, Some(domain)),
        };
        Self {
            id: e.id,
            account_id,
            email,
            email_domain,
            reason: e.reason,
            approved_by: e.approved_by,
            starts_at: e.starts_at.rfc3339(),
            ends_at: e.ends_at.rfc3339(),
            waives: e.waives,
            max_term_days: e.max_term_days,
            user_limit: e.user_limit,
            active,
            created_at: e.created_at.rfc3339(),
            created_by: e.created_by,
            ended_at: e.ended_at.map(Timestamp::rfc3339),
            ended_by: e.ended_by,
            end_reason: e.end_reason,
        }
    }
}

fn invalid(name: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::invalid("invalid_field", format!("field `{name}`: {message}"))
}

fn words(name: &str, text: &str, max: usize) -> ApiResult<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(invalid(name, format!("give 1 to {max} characters")));
    }
    Ok(text.to_owned())
}

async fn enroll(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    ApiJson(body): ApiJson<Enroll>,
) -> ApiResult<(StatusCode, Json<EvaluationView>)> {
    let now = state.clock.now();
    let subject = match (&body.account_id, &body.email, &body.email_domain) {
        (Some(id), None, None) => {
            let id = AccountId(*id);
            match state.store.account(id).await {
                Ok(_) => EvaluationSubject::Account(id),
                Err(StoreError::NotFound) => {
                    return Err(ApiError::invalid(
                        "unknown_account",
                        format!("account {id} does not exist"),
                    ));
                }
                Err(other) => return Err(other.into()),
            }
        }
        (None, Some(email), None) => {
            let email = Email::parse(email.trim()).map_err(|e| invalid("email", e))?;
            EvaluationSubject::Email(email_key(&email).0)
        }
        (None, None, Some(domain)) => {
            let domain = domain.trim().to_lowercase();
            Email::parse(&format!("check@{domain}"))
                .map_err(|_| invalid("email_domain", format!("{domain:?} is not a domain")))?;
            EvaluationSubject::EmailDomain(domain)
        }
        _ => {
            return Err(ApiError::invalid(
                "invalid_field",
                "give exactly one of `account_id`, `email` and `email_domain`: who is enrolled",
            ));
        }
    };
    let starts_at = match &body.starts_at {
        Some(text) => Timestamp::parse_rfc3339(text).map_err(|e| invalid("starts_at", e))?,
        None => now,
    };
    let ends_at = Timestamp::parse_rfc3339(&body.ends_at).map_err(|e| invalid("ends_at", e))?;
    if ends_at <= starts_at || ends_at <= now {
        return Err(invalid(
            "ends_at",
            "must be after starts_at and in the future",
        ));
    }
    let max = state.trial_policy.evaluation_max_term_days;
    if let Some(days) = body.max_term_days
        && !(1..=max).contains(&days)
    {
        return Err(invalid(
            "max_term_days",
            format!("use 1 to {max} (the configured maximum)"),
        ));
    }
    if let Some(seats) = body.user_limit
        && !(1..=MAX_USER_LIMIT).contains(&seats)
    {
        return Err(invalid("user_limit", format!("use 1 to {MAX_USER_LIMIT}")));
    }
    let mut waives: Vec<String> = body
        .waives
        .iter()
        .map(|rule| {
            serde_json::to_value(rule)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .collect();
    waives.sort();
    waives.dedup();
    let evaluation = NewEvaluation {
        id: uuid::Uuid::new_v4(),
        subject,
        reason: words("reason", &body.reason, 500)?,
        approved_by: words("approved_by", &body.approved_by, 200)?,
        starts_at,
        ends_at,
        waives,
        max_term_days: body.max_term_days,
        user_limit: body.user_limit,
        created_at: now,
        created_by: admin.name.clone(),
    };
    let audit = AuditDraft {
        at: now,
        actor: admin.name,
        action: "evaluation.enroll".into(),
        target: String::new(),
        details: json!({ "request": &body }),
    };
    let created = state.store.create_evaluation(&evaluation, &audit).await?;
    Ok((StatusCode::CREATED, Json(EvaluationView::new(created, now))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListEvaluations {
    active: Option<bool>,
    limit: Option<u32>,
    after: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiQuery(query): ApiQuery<ListEvaluations>,
) -> ApiResult<Json<Page<EvaluationView>>> {
    let now = state.clock.now();
    let active_at = query.active.unwrap_or(false).then_some(now);
    let page = state
        .store
        .list_evaluations(
            active_at,
            &page_request(query.limit, query.after.as_deref())?,
        )
        .await?;
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|e| EvaluationView::new(e, now))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

async fn show(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<EvaluationView>> {
    let id = parse_id(&id, "evaluation")?;
    match state.store.evaluation(id).await {
        Ok(e) => Ok(Json(EvaluationView::new(e, state.clock.now()))),
        Err(StoreError::NotFound) => Err(ApiError::not_found(format!("evaluation {id}"))),
        Err(other) => Err(other.into()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndEvaluation {
    reason: String,
}

async fn end(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<EndEvaluation>,
) -> ApiResult<Json<EvaluationView>> {
    let id = parse_id(&id, "evaluation")?;
    let reason = words("reason", &body.reason, 500)?;
    let now = state.clock.now();
    let audit = AuditDraft {
        at: now,
        actor: admin.name,
        action: "evaluation.end".into(),
        target: String::new(),
        details: json!({ "reason": reason }),
    };
    match state.store.end_evaluation(id, &reason, &audit).await {
        Ok(e) => Ok(Json(EvaluationView::new(e, now))),
        Err(StoreError::NotFound) => Err(ApiError::not_found(format!("evaluation {id}"))),
        Err(StoreError::Conflict(_)) => Err(ApiError::conflict(
            "evaluation_ended",
            format!("evaluation {id} has already ended"),
        )),
        Err(other) => Err(other.into()),
    }
}
