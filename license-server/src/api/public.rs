//! Unauthenticated endpoints: health, readiness, metrics, the OpenAPI document, the JWKS.

use super::AppState;
use super::error::{ApiError, ApiResult};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use license_core::JwkSet;
use serde_json::{Value, json};

/// The OpenAPI document of the API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Routes outside `/api/v1`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Public routes under `/api/v1`.
pub fn api_router() -> Router<AppState> {
    Router::new()
        .route("/keys", get(keys))
        .route("/openapi.json", get(openapi))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state.licensor.store().ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database does not answer",
        )
    })?;
    Ok(Json(
        json!({ "status": "ready", "database": state.licensor.store().backend().to_string() }),
    ))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let metrics = state.licensor.metrics();
    match state.licensor.outbox_counts().await {
        Ok(counts) => metrics.set_outbox_depth(&counts),
        Err(error) => tracing::warn!(%error, "cannot read the outbox depth for metrics"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        metrics.render(),
    )
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn keys(State(state): State<AppState>) -> Json<JwkSet> {
    Json(state.licensor.signer().jwks())
}
