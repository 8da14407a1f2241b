//! Events and webhook endpoints: the event log, and the endpoints registered by the desk.
//! Recording an event queues one delivery per endpoint that wants it (`webhook_deliveries`
//! delivers them).

use super::rows::{json, timestamp, timestamp_opt, to_json, uuid};
use super::{Conn, Statement, StoreError, StoreResult};
use const_format::concatcp;
use license_core::Timestamp;

/// An event to record: its JSON body is what every delivery of it carries.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The event id (`id` in the body).
    pub id: uuid::Uuid,
    /// Its type (`license.issued`, …).
    pub event_type: String,
    /// When it happened.
    pub occurred_at: Timestamp,
    /// The JSON body.
    pub body: String,
}

/// An endpoint to register.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    /// Its id.
    pub id: uuid::Uuid,
    /// The validated URL.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<String>,
    /// What it is for.
    pub description: String,
    /// When it was registered.
    pub created_at: Timestamp,
    /// Who registered it.
    pub created_by: String,
}

/// A registered endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its id.
    pub id: uuid::Uuid,
    /// Where deliveries go.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<String>,
    /// What it is for.
    pub description: String,
    /// `active`, or `dead` after a delivery exhausted its attempts (manual redelivery
    /// revives it).
    pub state: String,
    /// Since when it is dead.
    pub dead_since: Option<Timestamp>,
    /// When it was registered.
    pub created_at: Timestamp,
}

const ENDPOINT_COLUMNS: &str = "id, url, events, description, state, dead_since, created_at";

static INSERT_EVENT: Statement = Statement::new(
    "webhooks.insert_event",
    "INSERT INTO events (id, event_type, occurred_at, body) VALUES ($1, $2, $3, $4)",
);
static INSERT_ENDPOINT: Statement = Statement::new(
    "webhooks.insert_endpoint",
    concatcp!(
        "INSERT INTO webhook_endpoints (id, url, events, description, state, created_at, created_by) \
         VALUES ($1, $2, $3, $4, 'active', $5, $6) RETURNING ",
        ENDPOINT_COLUMNS
    ),
);
static GET_ENDPOINT: Statement = Statement::new(
    "webhooks.get_endpoint",
    concatcp!(
        "SELECT ",
        ENDPOINT_COLUMNS,
        " FROM webhook_endpoints WHERE id = $1"
    ),
);
static LIST_ENDPOINTS: Statement = Statement::new(
    "webhooks.list_endpoints",
    concatcp!(
        "SELECT ",
        ENDPOINT_COLUMNS,
        " FROM webhook_endpoints ORDER BY created_at, id"
    ),
);
static INSERT_DELIVERY: Statement = Statement::new(
    "webhooks.insert_delivery",
    "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, event_type, state, attempts, \
     next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) \
     ON CONFLICT (event_id, endpoint_id) DO NOTHING",
);
static INSERT_EVENTS: Statement = Statement::per_backend(
    "webhooks.insert_events",
    "INSERT INTO events (id, event_type, occurred_at, body) \
     SELECT x.id, x.event_type, x.occurred_at, x.body FROM jsonb_to_recordset(CAST($1 AS JSONB)) \
       AS x(id TEXT, event_type TEXT, occurred_at BIGINT, body TEXT)",
    "INSERT INTO events (id, event_type, occurred_at, body) \
     SELECT json_extract(value, '$.id'), json_extract(value, '$.event_type'), \
       json_extract(value, '$.occurred_at'), json_extract(value, '$.body') FROM json_each($1)",
);
static INSERT_DELIVERIES: Statement = Statement::per_backend(
    "webhooks.insert_deliveries",
    "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, event_type, state, attempts, \
       next_attempt_at, created_at) \
     SELECT x.id, x.event_id, x.endpoint_id, x.event_type, 'pending', 0, x.at, x.at \
     FROM jsonb_to_recordset(CAST($1 AS JSONB)) \
       AS x(id TEXT, event_id TEXT, endpoint_id TEXT, event_type TEXT, at BIGINT) \
     ON CONFLICT (event_id, endpoint_id) DO NOTHING",
    "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, event_type, state, attempts, \
       next_attempt_at, created_at) \
     SELECT json_extract(value, '$.id'), json_extract(value, '$.event_id'), \
       json_extract(value, '$.endpoint_id'), json_extract(value, '$.event_type'), 'pending', 0, \
       json_extract(value, '$.at'), json_extract(value, '$.at') FROM json_each($1) WHERE true \
     ON CONFLICT (event_id, endpoint_id) DO NOTHING",
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[
    &INSERT_EVENT,
    &INSERT_EVENTS,
    &INSERT_DELIVERIES,
    &INSERT_ENDPOINT,
    &GET_ENDPOINT,
    &LIST_ENDPOINTS,
    &INSERT_DELIVERY,
];

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: String,
    url: String,
    events: String,
    description: String,
    state: String,
    dead_since: Option<i64>,
    created_at: i64,
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = StoreError;
    fn try_from(row: EndpointRow) -> StoreResult<Self> {
        Ok(Endpoint {
            id: uuid(&row.id)?,
            url: row.url,
            events: json("webhook events", &row.events)?,
            description: row.description,
            state: row.state,
            dead_since: timestamp_opt(row.dead_since)?,
            created_at: timestamp(row.created_at)?,
        })
    }
}

/// Records an event and queues a delivery to every live endpoint `wants` it (returns how
/// many).
pub async fn record_event(
    mut conn: Conn<'_>,
    event: &NewEvent,
    endpoints: &[uuid::Uuid],
) -> StoreResult<usize> {
    INSERT_EVENT
        .bind(event.id)
        .bind(event.event_type.as_str())
        .bind(event.occurred_at)
        .bind(event.body.as_str())
        .execute(conn.reborrow())
        .await?;
    for endpoint in endpoints {
        INSERT_DELIVERY
            .bind(uuid::Uuid::new_v4())
            .bind(event.id)
            .bind(*endpoint)
            .bind(event.event_type.as_str())
            .bind(event.occurred_at)
            .execute(conn.reborrow())
            .await?;
    }
    Ok(endpoints.len())
}

/// [`record_event`] for several events at once, in two statements: each event with the
/// deliveries to the endpoints named beside it.
pub async fn record_events(
    mut conn: Conn<'_>,
    events: &[(NewEvent, Vec<uuid::Uuid>)],
) -> StoreResult<usize> {
    use serde_json::json;
    if events.is_empty() {
        return Ok(0);
    }
    let rows: Vec<serde_json::Value> = events
        .iter()
        .map(|(e, _)| {
            json!({
                "id": e.id.hyphenated().to_string(), "event_type": e.event_type,
                "occurred_at": e.occurred_at.unix(), "body": e.body,
            })
        })
        .collect();
    INSERT_EVENTS
        .bind(to_json("events", &rows)?)
        .execute(conn.reborrow())
        .await?;
    let deliveries: Vec<serde_json::Value> = events
        .iter()
        .flat_map(|(e, endpoints)| {
            endpoints.iter().map(move |endpoint| {
                json!({
                    "id": uuid::Uuid::new_v4().hyphenated().to_string(),
                    "event_id": e.id.hyphenated().to_string(),
                    "endpoint_id": endpoint.hyphenated().to_string(),
                    "event_type": e.event_type, "at": e.occurred_at.unix(),
                })
            })
        })
        .collect();
    if !deliveries.is_empty() {
        INSERT_DELIVERIES
            .bind(to_json("deliveries", &deliveries)?)
            .execute(conn)
            .await?;
    }
    Ok(deliveries.len())
}

/// Registers an endpoint.
pub async fn insert_endpoint(conn: Conn<'_>, e: &NewEndpoint) -> StoreResult<Endpoint> {
    let row: EndpointRow = INSERT_ENDPOINT
        .bind(e.id)
        .bind(e.url.as_str())
        .bind(to_json("webhook events", &e.events)?)
        .bind(e.description.as_str())
        .bind(e.created_at)
        .bind(e.created_by.as_str())
        .fetch_one(conn)
        .await?;
    row.try_into()
}

/// One endpoint.
pub async fn endpoint(conn: Conn<'_>, id: uuid::Uuid) -> StoreResult<Endpoint> {
    let row: EndpointRow = GET_ENDPOINT.bind(id).fetch_one(conn).await?;
    row.try_into()
}

/// Every endpoint, oldest first.
pub async fn endpoints(conn: Conn<'_>) -> StoreResult<Vec<Endpoint>> {
    let rows: Vec<EndpointRow> = LIST_ENDPOINTS.query().fetch_all(conn).await?;
    rows.into_iter().map(TryInto::try_into).collect()
}
