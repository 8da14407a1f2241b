//! `/api/v1/outbox`: the email queue, for the license desk and operators.

use super::AppState;
use super::common::{page_request, parse_id};
use super::error::{ApiError, ApiResult};
use super::extract::{AdminAuth, ApiPath, ApiQuery};
use crate::store::{AuditDraft, OutboxEntry, OutboxState, Page, StoreError};
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

/// The outbox routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/outbox", get(list))
        .route("/outbox/{id}/retry", post(retry))
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
) -> ApiResult<Json<Page<OutboxEntry>>> {
    let page = page_request(query.limit, query.after.as_deref())?;
    Ok(Json(state.store.list_outbox(query.state, &page).await?))
}

/// Puts a dead message back in the queue.
async fn retry(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<OutboxEntry>> {
    let id = parse_id(&id, "outbox message")?;
    let now = state.clock.now();
    let audit = AuditDraft {
        at: now,
        actor: admin.name,
        action: "outbox.retry".into(),
        target: String::new(),
        details: json!({}),
    };
    let entry = state
        .store
        .retry_message(id, now, &audit)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found(format!("outbox message {id}")),
            StoreError::Conflict(_) => ApiError::conflict(
                "message_not_dead",
                format!("outbox message {id} is not dead; only dead messages are retried by hand"),
            ),
            other => other.into(),
        })?;
    state.outbox_wake.notify_one();
    Ok(Json(entry))
}
