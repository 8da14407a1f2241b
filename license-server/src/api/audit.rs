//! `/api/v1/audit`: the append-only log of every admin action.

use super::AppState;
use super::common::ListQuery;
use super::common::page_view;
use super::error::ApiResult;
use super::extract::{AdminAuth, ApiQuery};
use crate::store::audit::AuditEntry;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use license_api::Page;
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
    let page = state.licensor.audit_log(&query.page()?).await?;
    Ok(Json(page_view(page, Into::into)))
}
