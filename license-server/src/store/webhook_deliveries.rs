//! Webhook deliveries: one per event and endpoint, leased to one worker at a time, retried,
//! dead after too many failures (and the endpoint with it), with the log of every attempt.

use super::rows::{corrupt, timestamp, timestamp_opt, unsigned, uuid};
use super::{Conn, Statement, StoreError, StoreResult};
use const_format::concatcp;
use license_core::Timestamp;

/// A delivery a worker has leased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// The delivery.
    pub id: uuid::Uuid,
    /// The event.
    pub event_id: uuid::Uuid,
    /// The endpoint.
    pub endpoint_id: uuid::Uuid,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// Where to send it.
    pub url: String,
    /// The body to send.
    pub body: String,
}

/// A delivery as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryEntry {
    /// The delivery.
    pub id: uuid::Uuid,
    /// The event.
    pub event_id: uuid::Uuid,
    /// The event's type.
    pub event_type: String,
    /// The endpoint.
    pub endpoint_id: uuid::Uuid,
    /// `pending`, `sending`, `delivered` or `dead`.
    pub state: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (pending) or the lease ends (sending).
    pub next_attempt_at: Timestamp,
    /// The last response's status code.
    pub last_status: Option<u16>,
    /// How long the last attempt took, in milliseconds.
    pub last_latency_ms: Option<u64>,
    /// What went wrong last.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When the endpoint accepted it.
    pub delivered_at: Option<Timestamp>,
}

/// One attempt's outcome.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The response's status code, if one came.
    pub status: Option<u16>,
    /// How long it took, in milliseconds.
    pub latency_ms: u64,
    /// What went wrong (none for a 2xx answer).
    pub error: Option<String>,
    /// When it ended.
    pub at: Timestamp,
}

const DELIVERY_COLUMNS: &str = "id, event_id, event_type, endpoint_id, state, attempts, \
    next_attempt_at, last_status, last_latency_ms, last_error, created_at, delivered_at";

/// Leases the next due delivery of a live endpoint that has no delivery in flight, so one
/// slow receiver holds at most one worker slot.
static CLAIM: Statement = Statement::per_backend(
    "webhook_deliveries.claim",
    "UPDATE webhook_deliveries SET state = 'sending', lease_owner = $1, next_attempt_at = $3, \
       attempts = attempts + 1 \
     WHERE id = (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                 WHERE d.state IN ('pending', 'sending') AND d.next_attempt_at <= $2 AND e.state = 'active' \
                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries s WHERE s.endpoint_id = d.endpoint_id \
                                   AND s.state = 'sending' AND s.next_attempt_at > $2) \
                 ORDER BY d.next_attempt_at, d.id LIMIT 1 FOR UPDATE OF d SKIP LOCKED) \
       AND state IN ('pending', 'sending') AND next_attempt_at <= $2 \
     RETURNING id, event_id, endpoint_id, attempts",
    "UPDATE webhook_deliveries SET state = 'sending', lease_owner = $1, next_attempt_at = $3, \
       attempts = attempts + 1 \
     WHERE id = (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                 WHERE d.state IN ('pending', 'sending') AND d.next_attempt_at <= $2 AND e.state = 'active' \
                   AND NOT EXISTS (SELECT 1 FROM webhook_deliveries s WHERE s.endpoint_id = d.endpoint_id \
                                   AND s.state = 'sending' AND s.next_attempt_at > $2) \
                 ORDER BY d.next_attempt_at, d.id LIMIT 1) \
       AND state IN ('pending', 'sending') AND next_attempt_at <= $2 \
     RETURNING id, event_id, endpoint_id, attempts",
);
static CLAIMED_PARTS: Statement = Statement::new(
    "webhook_deliveries.claimed_parts",
    "SELECT e.url, ev.body FROM webhook_endpoints e, events ev WHERE e.id = $1 AND ev.id = $2",
);
static MARK_DELIVERED: Statement = Statement::new(
    "webhook_deliveries.mark_delivered",
    "UPDATE webhook_deliveries SET state = 'delivered', delivered_at = $3, lease_owner = NULL, \
       last_status = $4, last_latency_ms = $5, last_error = NULL \
     WHERE id = $1 AND lease_owner = $2 AND state = 'sending'",
);
static MARK_FAILED: Statement = Statement::new(
    "webhook_deliveries.mark_failed",
    "UPDATE webhook_deliveries SET \
       state = CASE WHEN attempts >= $3 THEN 'dead' ELSE 'pending' END, \
       next_attempt_at = $4, lease_owner = NULL, last_status = $5, last_latency_ms = $6, last_error = $7 \
     WHERE id = $1 AND lease_owner = $2 AND state = 'sending' RETURNING state, endpoint_id",
);
static MARK_ENDPOINT_DEAD: Statement = Statement::new(
    "webhook_deliveries.mark_endpoint_dead",
    "UPDATE webhook_endpoints SET state = 'dead', dead_since = $2 WHERE id = $1 AND state = 'active'",
);
static REVIVE_ENDPOINT: Statement = Statement::new(
    "webhook_deliveries.revive_endpoint",
    "UPDATE webhook_endpoints SET state = 'active', dead_since = NULL WHERE id = $1",
);
static INSERT_ATTEMPT: Statement = Statement::new(
    "webhook_deliveries.insert_attempt",
    "INSERT INTO webhook_attempts (delivery_id, at, status, latency_ms, error) VALUES ($1, $2, $3, $4, $5)",
);
static LIST_DELIVERIES: Statement = Statement::new(
    "webhook_deliveries.list_deliveries",
    concatcp!(
        "SELECT ",
        DELIVERY_COLUMNS,
        " FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    ),
);
static REDELIVER: Statement = Statement::new(
    "webhook_deliveries.redeliver",
    concatcp!(
        "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $2, lease_owner = NULL, \
           delivered_at = NULL \
         WHERE id = $1 AND state IN ('delivered', 'dead') RETURNING ",
        DELIVERY_COLUMNS
    ),
);
static GET_DELIVERY: Statement = Statement::new(
    "webhook_deliveries.get_delivery",
    concatcp!(
        "SELECT ",
        DELIVERY_COLUMNS,
        " FROM webhook_deliveries WHERE id = $1"
    ),
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[
    &CLAIM,
    &CLAIMED_PARTS,
    &MARK_DELIVERED,
    &MARK_FAILED,
    &MARK_ENDPOINT_DEAD,
    &REVIVE_ENDPOINT,
    &INSERT_ATTEMPT,
    &LIST_DELIVERIES,
    &REDELIVER,
    &GET_DELIVERY,
];

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: String,
    event_id: String,
    event_type: String,
    endpoint_id: String,
    state: String,
    attempts: i64,
    next_attempt_at: i64,
    last_status: Option<i64>,
    last_latency_ms: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    delivered_at: Option<i64>,
}

impl TryFrom<DeliveryRow> for DeliveryEntry {
    type Error = StoreError;
    fn try_from(row: DeliveryRow) -> StoreResult<Self> {
        Ok(DeliveryEntry {
            id: uuid(&row.id)?,
            event_id: uuid(&row.event_id)?,
            event_type: row.event_type,
            endpoint_id: uuid(&row.endpoint_id)?,
            state: row.state,
            attempts: u32::try_from(row.attempts).map_err(|e| corrupt("attempts", e))?,
            next_attempt_at: timestamp(row.next_attempt_at)?,
            last_status: row
                .last_status
                .map(|s| u16::try_from(s).map_err(|e| corrupt("status", e)))
                .transpose()?,
            last_latency_ms: row.last_latency_ms.map(unsigned).transpose()?,
            last_error: row.last_error,
            created_at: timestamp(row.created_at)?,
            delivered_at: timestamp_opt(row.delivered_at)?,
        })
    }
}

/// Leases the next due delivery to `owner` until `lease_until`, counting the attempt.
pub async fn claim(
    mut conn: Conn<'_>,
    owner: &str,
    now: Timestamp,
    lease_until: Timestamp,
) -> StoreResult<Option<ClaimedDelivery>> {
    let row: Option<(String, String, String, i64)> = CLAIM
        .bind(owner)
        .bind(now)
        .bind(lease_until)
        .fetch_optional(conn.reborrow())
        .await?;
    let Some((id, event_id, endpoint_id, attempts)) = row else {
        return Ok(None);
    };
    let (url, body): (String, String) = CLAIMED_PARTS
        .bind(endpoint_id.as_str())
        .bind(event_id.as_str())
        .fetch_one(conn)
        .await?;
    Ok(Some(ClaimedDelivery {
        id: uuid(&id)?,
        event_id: uuid(&event_id)?,
        endpoint_id: uuid(&endpoint_id)?,
        attempts: u32::try_from(attempts).map_err(|e| corrupt("attempts", e))?,
        url,
        body,
    }))
}

/// Logs an attempt.
pub async fn log_attempt(conn: Conn<'_>, delivery: uuid::Uuid, a: &Attempt) -> StoreResult<()> {
    INSERT_ATTEMPT
        .bind(delivery)
        .bind(a.at)
        .bind(a.status.map(i64::from))
        .bind(i64::try_from(a.latency_ms).unwrap_or(i64::MAX))
        .bind(a.error.as_deref())
        .execute(conn)
        .await
        .map(|_| ())
}

/// Records an accepted delivery; false when `owner` no longer held the lease.
pub async fn mark_delivered(
    conn: Conn<'_>,
    id: uuid::Uuid,
    owner: &str,
    a: &Attempt,
) -> StoreResult<bool> {
    Ok(MARK_DELIVERED
        .bind(id)
        .bind(owner)
        .bind(a.at)
        .bind(a.status.map(i64::from))
        .bind(i64::try_from(a.latency_ms).unwrap_or(i64::MAX))
        .execute(conn)
        .await?
        == 1)
}

/// Records a failed attempt: pending until `retry_at`, or dead after `max_attempts`, which
/// also marks the endpoint dead. The new state, or `None` when the lease was lost.
pub async fn mark_failed(
    mut conn: Conn<'_>,
    id: uuid::Uuid,
    owner: &str,
    a: &Attempt,
    max_attempts: u32,
    retry_at: Timestamp,
) -> StoreResult<Option<String>> {
    let row: Option<(String, String)> = MARK_FAILED
        .bind(id)
        .bind(owner)
        .bind(i64::from(max_attempts))
        .bind(retry_at)
        .bind(a.status.map(i64::from))
        .bind(i64::try_from(a.latency_ms).unwrap_or(i64::MAX))
        .bind(a.error.as_deref())
        .fetch_optional(conn.reborrow())
        .await?;
    let Some((state, endpoint)) = row else {
        return Ok(None);
    };
    if state == "dead" {
        MARK_ENDPOINT_DEAD
            .bind(endpoint.as_str())
            .bind(a.at)
            .execute(conn)
            .await?;
    }
    Ok(Some(state))
}

/// The newest `limit` deliveries to `endpoint`.
pub async fn deliveries(
    conn: Conn<'_>,
    endpoint: uuid::Uuid,
    limit: i64,
) -> StoreResult<Vec<DeliveryEntry>> {
    let rows: Vec<DeliveryRow> = LIST_DELIVERIES
        .bind(endpoint)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// Queues delivery `id` again, due at `at`, and revives its endpoint. `None` when it is still
/// pending or in flight; [`StoreError::NotFound`] when it does not exist.
pub async fn redeliver(
    mut conn: Conn<'_>,
    id: uuid::Uuid,
    at: Timestamp,
) -> StoreResult<Option<DeliveryEntry>> {
    let row: Option<DeliveryRow> = REDELIVER
        .bind(id)
        .bind(at)
        .fetch_optional(conn.reborrow())
        .await?;
    match row {
        Some(row) => {
            let entry: DeliveryEntry = row.try_into()?;
            REVIVE_ENDPOINT
                .bind(entry.endpoint_id)
                .execute(conn)
                .await?;
            Ok(Some(entry))
        }
        None => {
            let _: DeliveryRow = GET_DELIVERY.bind(id).fetch_one(conn).await?;
            Ok(None)
        }
    }
}
