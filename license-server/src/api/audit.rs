//! `/api/v1/audit`: the append-only log of every admin action.

use super::AppState;
use super::common::ListQuery;
use super::error::ApiResult;
use super::extract::{AdminAuth, ApiQuery};
use crate::store::{AuditEntry, Page};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

/// The audit routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(list))
}

#[derive(Debug, Serialize)]
struct AuditView {
    id: i64,
    at: String,
    actor: String,
    action: String,
    target: String,
    details: serde_json::Value,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id,
            at: e.at.rfc3339(),
            actor: e.actor,
            action: e.action,
            target: e.target,
            details: e.details,
        }
    }
}

async fn list(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Page<AuditView>>> {
    let page = state.store.list_audit(&query.page()?).await?;
    Ok(Json(Page {
        items: page.items.into_iter().map(Into::into).collect(),
        next_cursor: page.next_cursor,
    }))
}
