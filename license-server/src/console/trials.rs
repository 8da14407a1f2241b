//! Trials (granted, and refused with their rule), extending one; evaluation enrollments with
//! what they waive: enrolling and ending.

use super::ConsoleState;
use super::auth::{Signed, SignedForm};
use super::chrome::Chrome;
use super::csv::{self, wants_csv};
use super::forms::{FieldErrors, into_field, number, opt, time, uuid_in_path};
use super::views::{ConsoleError, render, when};
use crate::service::requests::{EndEvaluationRequest, EnrollRequest, TrialRule};
use crate::service::roles::Action;
use crate::store::evaluations::{Evaluation, EvaluationSubject};
use crate::store::trials::{TrialFilter, TrialOutcome, TrialRecord};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use license_core::Timestamp;
use serde::Deserialize;

type Page = Result<Response, ConsoleError>;

/// The trial list's filters.
#[derive(Debug, Default, Deserialize)]
pub struct TrialQuery {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    domain: String,
    after: Option<String>,
    format: Option<String>,
}

#[derive(Template)]
#[template(path = "trials.html")]
struct TrialsPage {
    chrome: Chrome,
    q: TrialQuery,
    trials: Vec<TrialRecord>,
    next: Option<String>,
}

impl TrialsPage {
    fn t(&self, at: &Timestamp) -> String {
        when(at)
    }
}

/// `GET /console/trials`.
pub async fn list(
    State(state): State<ConsoleState>,
    user: Signed,
    Query(query): Query<TrialQuery>,
) -> Page {
    let outcome = match query.outcome.as_str() {
        "" => None,
        "granted" => Some(TrialOutcome::Granted),
        "refused" => Some(TrialOutcome::Refused),
        _ => {
            return Err(ConsoleError::new(
                StatusCode::BAD_REQUEST,
                "outcome must be granted or refused",
            ));
        }
    };
    let filter = TrialFilter {
        email_domain: opt(&query.domain).map(|d| d.to_lowercase()),
        outcome,
        ..TrialFilter::default()
    };
    if wants_csv(query.format.as_deref()) {
        let trials = csv::all(|page| {
            let licensor = state.licensor.clone();
            let filter = filter.clone();
            async move { licensor.trials(&filter, &page).await }
        })
        .await?;
        return csv::download(
            "trials",
            &[
                "id",
                "requested_at",
                "email",
                "company",
                "deployment_id",
                "product_version",
                "outcome",
                "refusal_code",
                "refusal_message",
                "license_id",
                "expires_at",
            ],
            trials.into_iter().map(|t| {
                vec![
                    t.id.to_string(),
                    t.requested_at.rfc3339(),
                    t.email,
                    t.company,
                    t.deployment_id,
                    t.product_version,
                    t.outcome.as_str().to_owned(),
                    t.refusal_code.unwrap_or_default(),
                    t.refusal_message.unwrap_or_default(),
                    t.license_id.map(|l| l.to_string()).unwrap_or_default(),
                    t.expires_at.map(Timestamp::rfc3339).unwrap_or_default(),
                ]
            }),
        );
    }
    let page = state
        .licensor
        .trials(&filter, &csv::page(query.after.as_deref())?)
        .await?;
    render(
        StatusCode::OK,
        &TrialsPage {
            chrome: Chrome::new(&user, "trials"),
            q: query,
            trials: page.items,
            next: page.next_cursor,
        },
    )
}

/// The extend form.
#[derive(Debug, Deserialize)]
pub struct ExtendForm {
    #[serde(default)]
    days: String,
}

/// `POST /console/trials/{id}/extend` (desk).
pub async fn extend(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    SignedForm { user, form }: SignedForm<ExtendForm>,
) -> Page {
    user.require(Action::Desk)?;
    let id = uuid_in_path(&id, "trial")?;
    let mut errors = FieldErrors::new();
    let Some(days) = number::<u32>("days", &form.days, &mut errors) else {
        return Err(ConsoleError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Days: give a whole number of days.",
        ));
    };
    state
        .licensor
        .extend_trial(&user.principal.name, id, days)
        .await?;
    Ok(Redirect::to("/console/trials").into_response())
}

/// The enrollment form's inputs, as typed.
#[derive(Debug, Default)]
struct EnrollForm {
    subject: String,
    account_id: String,
    email: String,
    email_domain: String,
    reason: String,
    approved_by: String,
    starts_at: String,
    ends_at: String,
    waives: Vec<String>,
    max_term_days: String,
    user_limit: String,
}

impl EnrollForm {
    fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        let mut form = EnrollForm::default();
        for (key, value) in pairs {
            match key.as_str() {
                "subject" => form.subject = value,
                "account_id" => form.account_id = value,
                "email" => form.email = value,
                "email_domain" => form.email_domain = value,
                "reason" => form.reason = value,
                "approved_by" => form.approved_by = value,
                "starts_at" => form.starts_at = value,
                "ends_at" => form.ends_at = value,
                "waives" => form.waives.push(value),
                "max_term_days" => form.max_term_days = value,
                "user_limit" => form.user_limit = value,
                _ => {}
            }
        }
        form
    }
}

#[derive(Template)]
#[template(path = "evaluations.html")]
struct EvaluationsPage {
    chrome: Chrome,
    evaluations: Vec<Evaluation>,
    next: Option<String>,
    active_only: bool,
    f: EnrollForm,
    errors: FieldErrors,
    rules: Vec<&'static str>,
    now: Timestamp,
}

impl EvaluationsPage {
    fn err(&self, field: &str) -> Option<&str> {
        self.errors.get(field).map(String::as_str)
    }
    fn t(&self, at: &Timestamp) -> String {
        when(at)
    }
    fn subject(&self, e: &Evaluation) -> String {
        subject_text(&e.subject)
    }
    fn active(&self, e: &Evaluation) -> bool {
        e.is_active(self.now)
    }
    fn waived(&self, rule: &str) -> bool {
        self.f.waives.iter().any(|w| w == rule)
    }
}

fn subject_text(subject: &EvaluationSubject) -> String {
    match subject {
        EvaluationSubject::Account(id) => format!("account {id}"),
        EvaluationSubject::Email(email) => format!("email {email}"),
        EvaluationSubject::EmailDomain(domain) => format!("domain {domain}"),
    }
}

/// The evaluation list's query.
#[derive(Debug, Deserialize)]
pub struct EvaluationQuery {
    active: Option<String>,
    after: Option<String>,
    format: Option<String>,
}

async fn evaluations_page(
    state: &ConsoleState,
    user: &Signed,
    active_only: bool,
    after: Option<&str>,
    f: EnrollForm,
    errors: FieldErrors,
) -> Page {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = state
        .licensor
        .evaluations(active_only, &csv::page(after)?)
        .await?;
    render(
        status,
        &EvaluationsPage {
            chrome: Chrome::new(user, "evaluations"),
            evaluations: page.items,
            next: page.next_cursor,
            active_only,
            f,
            errors,
            rules: TrialRule::ALL.iter().map(|r| r.as_str()).collect(),
            now: state.licensor.now(),
        },
    )
}

/// `GET /console/evaluations`.
pub async fn evaluations(
    State(state): State<ConsoleState>,
    user: Signed,
    Query(query): Query<EvaluationQuery>,
) -> Page {
    let active_only = super::forms::checked(&query.active);
    if wants_csv(query.format.as_deref()) {
        let all = csv::all(|page| {
            let licensor = state.licensor.clone();
            async move { licensor.evaluations(active_only, &page).await }
        })
        .await?;
        return csv::download(
            "evaluations",
            &[
                "id",
                "subject",
                "reason",
                "approved_by",
                "starts_at",
                "ends_at",
                "waives",
                "max_term_days",
                "user_limit",
                "created_by",
                "ended_at",
                "ended_by",
            ],
            all.into_iter().map(|e| {
                vec![
                    e.id.to_string(),
                    subject_text(&e.subject),
                    e.reason.clone(),
                    e.approved_by.clone(),
                    e.starts_at.rfc3339(),
                    e.ends_at.rfc3339(),
                    e.waives.join(" "),
                    e.max_term_days.map(|d| d.to_string()).unwrap_or_default(),
                    e.user_limit.map(|n| n.to_string()).unwrap_or_default(),
                    e.created_by.clone(),
                    e.ended_at.map(Timestamp::rfc3339).unwrap_or_default(),
                    e.ended_by.clone().unwrap_or_default(),
                ]
            }),
        );
    }
    let f = EnrollForm {
        subject: "account_id".to_owned(),
        ..EnrollForm::default()
    };
    evaluations_page(
        &state,
        &user,
        active_only,
        query.after.as_deref(),
        f,
        FieldErrors::new(),
    )
    .await
}

/// `POST /console/evaluations` (desk).
pub async fn enroll(
    State(state): State<ConsoleState>,
    SignedForm { user, form }: SignedForm<Vec<(String, String)>>,
) -> Page {
    user.require(Action::Desk)?;
    let f = EnrollForm::from_pairs(form);
    let mut errors = FieldErrors::new();
    let mut waives = Vec::new();
    for text in &f.waives {
        match text.parse::<TrialRule>() {
            Ok(rule) => waives.push(rule),
            Err(e) => {
                errors.insert("waives".to_owned(), e);
            }
        }
    }
    let account_id = match (f.subject.as_str(), opt(&f.account_id)) {
        ("account_id", Some(text)) => match uuid::Uuid::parse_str(&text) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.insert("account_id".to_owned(), "not an account id".to_owned());
                None
            }
        },
        _ => None,
    };
    let max_term_days =
        opt(&f.max_term_days).and_then(|text| number::<u32>("max_term_days", &text, &mut errors));
    let user_limit =
        opt(&f.user_limit).and_then(|text| number::<i64>("user_limit", &text, &mut errors));
    if errors.is_empty() {
        let request = EnrollRequest {
            account_id,
            email: (f.subject == "email").then(|| f.email.trim().to_owned()),
            email_domain: (f.subject == "email_domain").then(|| f.email_domain.trim().to_owned()),
            reason: f.reason.clone(),
            approved_by: f.approved_by.clone(),
            starts_at: opt(&f.starts_at).map(|t| time(&t)),
            ends_at: time(&f.ends_at),
            waives,
            max_term_days,
            user_limit,
        };
        match state.licensor.enroll(&user.principal.name, &request).await {
            Ok(_) => return Ok(Redirect::to("/console/evaluations").into_response()),
            Err(error) => into_field(error, &mut errors)?,
        }
    }
    evaluations_page(&state, &user, false, None, f, errors).await
}

/// The end form.
#[derive(Debug, Deserialize)]
pub struct EndForm {
    #[serde(default)]
    reason: String,
}

/// `POST /console/evaluations/{id}/end` (desk).
pub async fn end(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    SignedForm { user, form }: SignedForm<EndForm>,
) -> Page {
    user.require(Action::Desk)?;
    let id = uuid_in_path(&id, "evaluation")?;
    let request = EndEvaluationRequest {
        reason: form.reason,
    };
    state
        .licensor
        .end_evaluation(&user.principal.name, id, &request)
        .await?;
    Ok(Redirect::to("/console/evaluations").into_response())
}
