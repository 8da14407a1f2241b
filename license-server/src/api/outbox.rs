//! `/api/v1/outbox`: the email queue, for the license desk and operators.

use super::AppState;
use super::common::{page_request, page_view, parse_id};
use super::error::ApiResult;
use super::extract::{AdminAuth, ApiPath, ApiQuery, DeskAuth};
use crate::store::outbox::{OutboxEntry, OutboxState};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use license_api::Page;
use license_core::{LicenseId, Timestamp};
use serde::{Deserialize, Serialize};

/// The outbox routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/outbox", get(list))
        .route("/outbox/{id}/retry", post(retry))
}

/// An outbox message as listings show it (without the message body).
#[derive(Debug, Serialize)]
struct OutboxView {
    id: uuid::Uuid,
    kind: String,
    license_id: Option<LicenseId>,
    recipient: String,
    subject: String,
    message_id: String,
    state: OutboxState,
    attempts: u32,
    next_attempt_at: String,
    last_error: Option<String>,
    last_error_permanent: bool,
    created_at: String,
    sent_at: Option<String>,
}

impl From<OutboxEntry> for OutboxView {
    fn from(m: OutboxEntry) -> Self {
        Self {
            id: m.id,
            kind: m.kind,
            license_id: m.license_id,
            recipient: m.recipient,
            subject: m.subject,
            message_id: m.message_id,
            state: m.state,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at.rfc3339(),
            last_error: m.last_error,
            last_error_permanent: m.last_error_permanent,
            created_at: m.created_at.rfc3339(),
            sent_at: m.sent_at.map(Timestamp::rfc3339),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListOutbox {
    state: Option<OutboxState>,
    limit: Option<u32>,
    after: Option<String>,
}

async fn list(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiQuery(query): ApiQuery<ListOutbox>,
) -> ApiResult<Json<Page<OutboxView>>> {
    let page = page_request(query.limit, query.after.as_deref())?;
    let page = state.licensor.outbox(query.state, &page).await?;
    Ok(Json(page_view(page, Into::into)))
}

/// Puts a dead message back in the queue.
async fn retry(
    State(state): State<AppState>,
    DeskAuth(admin): DeskAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<OutboxView>> {
    let id = parse_id(&id, "outbox message")?;
    let entry = state.licensor.retry_message(&admin.name, id).await?;
    Ok(Json(entry.into()))
}
