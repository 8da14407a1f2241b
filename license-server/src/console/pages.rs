//! The dashboard, the audit log and the outbox.

use super::ConsoleState;
use super::auth::{Signed, SignedForm};
use super::chrome::Chrome;
use super::csv::{self, wants_csv};
use super::views::{ConsoleError, day, render, when, when_opt};
use crate::service::dashboard::{Dashboard, EXPIRING_DAYS};
use crate::service::roles::Action;
use crate::store::audit::AuditEntry;
use crate::store::outbox::{OutboxEntry, OutboxState};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

type Page = Result<Response, ConsoleError>;

/// `GET /console`.
pub async fn home() -> Redirect {
    Redirect::to("/console/dashboard")
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    d: Dashboard,
    expiring_days: i64,
}

impl DashboardPage {
    fn week(&self, seconds: &i64) -> String {
        day(*seconds)
    }

    fn refusals_of(&self, week: &i64) -> String {
        let parts: Vec<String> = self
            .d
            .refusals
            .iter()
            .filter(|r| r.week == *week)
            .map(|r| format!("{} {}", r.rule, r.count))
            .collect();
        if parts.is_empty() {
            "—".to_owned()
        } else {
            parts.join(", ")
        }
    }

    fn seen(&self, seconds: &i64) -> String {
        day(*seconds)
    }
}

/// `GET /console/dashboard`.
pub async fn dashboard(State(state): State<ConsoleState>, user: Signed) -> Page {
    let d = state.licensor.dashboard().await?;
    render(
        StatusCode::OK,
        &DashboardPage {
            chrome: Chrome::new(&user, "dashboard"),
            d,
            expiring_days: EXPIRING_DAYS,
        },
    )
}

/// A list's query: the page and the format.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    after: Option<String>,
    format: Option<String>,
    state: Option<String>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    entries: Vec<AuditEntry>,
    next: Option<String>,
}

impl AuditPage {
    fn when(&self, entry: &AuditEntry) -> String {
        when(&entry.at)
    }
}

fn audit_row(e: AuditEntry) -> Vec<String> {
    vec![
        e.id.to_string(),
        e.at.rfc3339(),
        e.actor,
        e.action,
        e.target,
        e.details.to_string(),
    ]
}

/// `GET /console/audit`.
pub async fn audit(
    State(state): State<ConsoleState>,
    user: Signed,
    Query(query): Query<ListQuery>,
) -> Page {
    if wants_csv(query.format.as_deref()) {
        let entries = csv::all(|page| {
            let licensor = state.licensor.clone();
            async move { licensor.audit_log(&page).await }
        })
        .await?;
        return csv::download(
            "audit",
            &["id", "at", "actor", "action", "target", "details"],
            entries.into_iter().map(audit_row),
        );
    }
    let page = state
        .licensor
        .audit_log(&csv::page(query.after.as_deref())?)
        .await?;
    render(
        StatusCode::OK,
        &AuditPage {
            chrome: Chrome::new(&user, "audit"),
            entries: page.items,
            next: page.next_cursor,
        },
    )
}

#[derive(Template)]
#[template(path = "outbox.html")]
struct OutboxPage {
    chrome: Chrome,
    messages: Vec<OutboxEntry>,
    next: Option<String>,
    state: String,
}

impl OutboxPage {
    fn created(&self, m: &OutboxEntry) -> String {
        when(&m.created_at)
    }
    fn sent(&self, m: &OutboxEntry) -> String {
        when_opt(&m.sent_at)
    }
    fn dead(&self, m: &OutboxEntry) -> bool {
        m.state == OutboxState::Dead
    }
}

fn outbox_state(text: Option<&str>) -> Result<Option<OutboxState>, ConsoleError> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => [
            OutboxState::Pending,
            OutboxState::Sending,
            OutboxState::Sent,
            OutboxState::Dead,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
        .map(Some)
        .ok_or_else(|| {
            ConsoleError::new(
                StatusCode::BAD_REQUEST,
                "state must be pending, sending, sent or dead",
            )
        }),
    }
}

/// `GET /console/outbox`.
pub async fn outbox(
    State(state): State<ConsoleState>,
    user: Signed,
    Query(query): Query<ListQuery>,
) -> Page {
    let filter = outbox_state(query.state.as_deref())?;
    if wants_csv(query.format.as_deref()) {
        let messages = csv::all(|page| {
            let licensor = state.licensor.clone();
            async move { licensor.outbox(filter, &page).await }
        })
        .await?;
        return csv::download(
            "outbox",
            &[
                "id",
                "kind",
                "license_id",
                "recipient",
                "subject",
                "state",
                "attempts",
                "last_error",
                "created_at",
                "sent_at",
            ],
            messages.into_iter().map(|m| {
                vec![
                    m.id.to_string(),
                    m.kind,
                    m.license_id.map(|l| l.to_string()).unwrap_or_default(),
                    m.recipient,
                    m.subject,
                    m.state.as_str().to_owned(),
                    m.attempts.to_string(),
                    m.last_error.unwrap_or_default(),
                    m.created_at.rfc3339(),
                    m.sent_at.map(|t| t.rfc3339()).unwrap_or_default(),
                ]
            }),
        );
    }
    let page = state
        .licensor
        .outbox(filter, &csv::page(query.after.as_deref())?)
        .await?;
    render(
        StatusCode::OK,
        &OutboxPage {
            chrome: Chrome::new(&user, "outbox"),
            messages: page.items,
            next: page.next_cursor,
            state: query.state.unwrap_or_default(),
        },
    )
}

/// `POST /console/outbox/{id}/retry` (desk).
pub async fn retry(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    SignedForm { user, .. }: SignedForm<serde::de::IgnoredAny>,
) -> Page {
    user.require(Action::Desk)?;
    let id = super::forms::uuid_in_path(&id, "outbox message")?;
    state
        .licensor
        .retry_message(&user.principal.name, id)
        .await?;
    Ok(Redirect::to("/console/outbox").into_response())
}
