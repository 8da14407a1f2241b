//! `/api/v1/webhooks`: registering webhook endpoints, their delivery logs, and redelivery.

use super::AppState;
use super::common::parse_id;
use super::error::ApiResult;
use super::extract::{AdminAuth, AdminRole, ApiJson, ApiPath, DeskAuth};
use crate::service::webhooks::EndpointRequest;
use crate::store::webhook_deliveries::DeliveryEntry;
use crate::store::webhooks::Endpoint;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use license_core::Timestamp;
use serde::{Deserialize, Serialize};

/// The webhook routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(list).post(register))
        .route("/webhooks/{id}/deliveries", get(deliveries))
        .route("/webhook-deliveries/{id}/redeliver", post(redeliver))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterWebhook {
    url: String,
    events: Vec<String>,
    description: Option<String>,
}

#[derive(Debug, Serialize)]
struct EndpointView {
    id: uuid::Uuid,
    url: String,
    events: Vec<String>,
    description: String,
    state: String,
    dead_since: Option<String>,
    created_at: String,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            events: e.events,
            description: e.description,
            state: e.state,
            dead_since: e.dead_since.map(Timestamp::rfc3339),
            created_at: e.created_at.rfc3339(),
        }
    }
}

#[derive(Debug, Serialize)]
struct DeliveryView {
    id: uuid::Uuid,
    event_id: uuid::Uuid,
    event_type: String,
    endpoint_id: uuid::Uuid,
    state: String,
    attempts: u32,
    next_attempt_at: String,
    last_status: Option<u16>,
    last_latency_ms: Option<u64>,
    last_error: Option<String>,
    created_at: String,
    delivered_at: Option<String>,
}

impl From<DeliveryEntry> for DeliveryView {
    fn from(d: DeliveryEntry) -> Self {
        Self {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            endpoint_id: d.endpoint_id,
            state: d.state,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at.rfc3339(),
            last_status: d.last_status,
            last_latency_ms: d.last_latency_ms,
            last_error: d.last_error,
            created_at: d.created_at.rfc3339(),
            delivered_at: d.delivered_at.map(Timestamp::rfc3339),
        }
    }
}

#[derive(Debug, Serialize)]
struct Items<T> {
    items: Vec<T>,
}

/// Registers an endpoint: the admin role only, since it sends every event to a URL of the
/// caller's choosing.
async fn register(
    State(state): State<AppState>,
    AdminRole(admin): AdminRole,
    ApiJson(body): ApiJson<RegisterWebhook>,
) -> ApiResult<(StatusCode, Json<EndpointView>)> {
    let request = EndpointRequest {
        url: body.url,
        events: body.events,
        description: body.description,
    };
    let created = state
        .licensor
        .register_webhook(&admin.name, &request)
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Every endpoint.
async fn list(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
) -> ApiResult<Json<Items<EndpointView>>> {
    let items = state.licensor.webhooks().await?;
    Ok(Json(Items {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// An endpoint's delivery log, newest first.
async fn deliveries(
    State(state): State<AppState>,
    AdminAuth(_): AdminAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<Items<DeliveryView>>> {
    let id = parse_id(&id, "webhook endpoint")?;
    let items = state.licensor.webhook_deliveries(id).await?;
    Ok(Json(Items {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Queues a delivered or dead delivery again and revives its endpoint.
async fn redeliver(
    State(state): State<AppState>,
    DeskAuth(admin): DeskAuth,
    ApiPath(id): ApiPath,
) -> ApiResult<Json<DeliveryView>> {
    let id = parse_id(&id, "webhook delivery")?;
    let queued = state.licensor.redeliver(&admin.name, id).await?;
    Ok(Json(queued.into()))
}
