//! `/api/v1/evaluations`: the evaluation program, whose members are exempt from trial rules.

use super::AppState;
use super::common::{page_request, page_view, parse_id};
use super::error::ApiResult;
use super::extract::{AdminAuth, ApiJson, ApiPath, ApiQuery, DeskAuth};
use crate::service::requests::{EndEvaluationRequest, EnrollRequest};
use crate::store::accounts::AccountId;
use crate::store::evaluations::{Evaluation, EvaluationSubject};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use license_api::Page;
use license_core::Timestamp;
use serde::{Deserialize, Serialize};

/// The evaluation routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/evaluations", get(list).post(enroll))
        .route("/evaluations/{id}", get(show))
        .route("/evaluations/{id}/end", post(end))
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
    fn new(evaluation: Evaluation, now: Timestamp) -> Self {
        let active = evaluation.is_active(now);
        let Evaluation {
            enrollment: e,
            ended_at,
            ended_by,
            end_reason,
        } = evaluation;
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
            ended_at: ended_at.map(Timestamp::rfc3339),
            ended_by,
            end_reason,
        }
    }
}

async fn enroll(
    State(state): State<AppState>,
    DeskAuth(admin): DeskAuth,
    ApiJson(body): ApiJson<EnrollRequest>,
) -> ApiResult<(StatusCode, Json<EvaluationView>)> {
    let created = state.licensor.enroll(&admin.name, &body).await?;
    let now = state.licensor.now();
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
    let page = page_request(query.limit, query.after.as_deref())?;
    let page = state
        .licensor
        .evaluations(query.active.unwrap_or(false), &page)
        .await?;
    let now = state.licensor.now();
    Ok(Json(page_view(page, |e| EvaluationView::new(e, now))))
}

async fn show(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<EvaluationView>> {
    let id = parse_id(&id, "evaluation")?;
    let evaluation = state.licensor.evaluation(id).await?;
    Ok(Json(EvaluationView::new(evaluation, state.licensor.now())))
}

async fn end(
    State(state): State<AppState>,
    DeskAuth(admin): DeskAuth,
    ApiPath(id): ApiPath,
    ApiJson(body): ApiJson<EndEvaluationRequest>,
) -> ApiResult<Json<EvaluationView>> {
    let id = parse_id(&id, "evaluation")?;
    let ended = state
        .licensor
        .end_evaluation(&admin.name, id, &body)
        .await?;
    Ok(Json(EvaluationView::new(ended, state.licensor.now())))
}
