//! Events and webhook endpoints: every event is recorded in the transaction of the change it
//! reports, with one delivery per endpoint that wants it; `webhook_delivery` sends them.
//! Endpoints are registered by the desk; their URLs are checked here (scheme, and no
//! private, loopback or link-local target unless the server allows them).

use super::Licensor;
use super::error::{Conflict, Error, OrNotFound, Result};
use crate::store::Tx;
use crate::store::audit;
use crate::store::licenses::LicenseRecord;
use crate::store::webhook_deliveries::{self, DeliveryEntry};
use crate::store::webhooks::{self, Endpoint, NewEndpoint, NewEvent};
use serde_json::{Value, json};
use std::net::IpAddr;

/// The events a webhook endpoint can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    LicenseIssued,
    LicenseReissued,
    LicenseRevoked,
    LicenseExpiring,
    LicenseExpired,
    TrialRequested,
    TrialGranted,
    TrialRefused,
    DeploymentFirstSeen,
    DeploymentOverSeats,
    DeploymentStale,
    EvaluationEnrolled,
    EvaluationEnded,
}

impl EventType {
    /// Every event type.
    pub const ALL: [EventType; 13] = [
        EventType::LicenseIssued,
        EventType::LicenseReissued,
        EventType::LicenseRevoked,
        EventType::LicenseExpiring,
        EventType::LicenseExpired,
        EventType::TrialRequested,
        EventType::TrialGranted,
        EventType::TrialRefused,
        EventType::DeploymentFirstSeen,
        EventType::DeploymentOverSeats,
        EventType::DeploymentStale,
        EventType::EvaluationEnrolled,
        EventType::EvaluationEnded,
    ];

    /// The name in the event's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LicenseIssued => "license.issued",
            EventType::LicenseReissued => "license.reissued",
            EventType::LicenseRevoked => "license.revoked",
            EventType::LicenseExpiring => "license.expiring",
            EventType::LicenseExpired => "license.expired",
            EventType::TrialRequested => "trial.requested",
            EventType::TrialGranted => "trial.granted",
            EventType::TrialRefused => "trial.refused",
            EventType::DeploymentFirstSeen => "deployment.first_seen",
            EventType::DeploymentOverSeats => "deployment.over_seats",
            EventType::DeploymentStale => "deployment.stale",
            EventType::EvaluationEnrolled => "evaluation.enrolled",
            EventType::EvaluationEnded => "evaluation.ended",
        }
    }

    /// The type named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// A webhook endpoint to register.
#[derive(Debug, Clone)]
pub struct EndpointRequest {
    /// Where to deliver: `http` or `https`.
    pub url: String,
    /// The event types wanted (at least one).
    pub events: Vec<String>,
    /// What it is for.
    pub description: Option<String>,
}

/// How many deliveries a listing shows.
const DELIVERY_LOG_LIMIT: i64 = 200;

/// A license as events show it.
pub(super) fn license_data(l: &LicenseRecord) -> Value {
    json!({
        "id": l.id,
        "account_id": l.account_id.to_string(),
        "email": l.email,
        "trial": l.trial,
        "evaluation": l.evaluation,
        "user_limit": l.user_limit,
        "deployment_ids": l.deployment_ids,
        "starts_at": l.starts_at.rfc3339(),
        "expires_at": l.expires_at.rfc3339(),
        "grace_ends_at": l.grace_ends_at.rfc3339(),
        "status": l.status.as_str(),
        "supersedes": l.supersedes,
    })
}

/// A trial request as events show it.
pub(super) fn trial_data(t: &crate::store::trials::TrialRecord) -> Value {
    json!({
        "id": t.id,
        "email": t.email,
        "company": t.company,
        "deployment_id": t.deployment_id,
        "product_version": t.product_version,
        "requested_at": t.requested_at.rfc3339(),
        "outcome": t.outcome.as_str(),
        "refusal_code": t.refusal_code,
        "refusal_message": t.refusal_message,
        "license_id": t.license_id,
        "evaluation_id": t.evaluation_id,
        "expires_at": t.expires_at.map(license_core::Timestamp::rfc3339),
    })
}

/// An enrollment as events show it.
pub(super) fn evaluation_data(e: &crate::store::evaluations::Evaluation) -> Value {
    use crate::store::evaluations::EvaluationSubject;
    let (kind, subject) = match &e.subject {
        EvaluationSubject::Account(id) => ("account_id", id.to_string()),
        EvaluationSubject::Email(email) => ("email", email.clone()),
        EvaluationSubject::EmailDomain(domain) => ("email_domain", domain.clone()),
    };
    json!({
        "id": e.id,
        kind: subject,
        "reason": e.reason,
        "approved_by": e.approved_by,
        "starts_at": e.starts_at.rfc3339(),
        "ends_at": e.ends_at.rfc3339(),
        "waives": e.waives,
        "ended_at": e.ended_at.map(license_core::Timestamp::rfc3339),
        "end_reason": e.end_reason,
    })
}

/// Whether `ip` is a target webhooks may reach without `--webhooks-allow-private`: not
/// loopback, private, link-local, unique-local, shared, unspecified, broadcast or multicast.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Checks a webhook URL: `http`/`https` with a host, no credentials, and (unless
/// `allow_private`) no literal address that is not public. Names are checked again when they
/// are resolved, at each delivery.
pub fn check_url(url: &str, allow_private: bool) -> std::result::Result<String, String> {
    // The URL parser drops surrounding blanks and inner tabs and newlines; openapi.json's
    // `format: uri` does not, so neither does the licensor.
    if url.trim() != url || url.chars().any(char::is_control) {
        return Err(format!(
            "{url:?} is not a URL: it holds blanks around it or control characters"
        ));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        format!("{url:?} is not a URL ({e}); give one such as https://hooks.example.com/licensor")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme {:?} is not allowed; use https (or http)",
            parsed.scheme()
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "credentials in the URL are not allowed: receivers verify the signature instead"
                .to_owned(),
        );
    }
    let Some(host) = parsed.host_str() else {
        return Err("the URL has no host".to_owned());
    };
    if !allow_private {
        let name = host.trim_start_matches('[').trim_end_matches(']');
        let lifted = "webhooks only go to public addresses (the server's --webhooks-allow-private lifts this)";
        if name.eq_ignore_ascii_case("localhost")
            || name.to_ascii_lowercase().ends_with(".localhost")
        {
            return Err(format!("{name} is a loopback name: {lifted}"));
        }
        if let Ok(ip) = name.parse::<IpAddr>()
            && !is_public(ip)
        {
            return Err(format!(
                "{ip} is a private, loopback or link-local address: {lifted}"
            ));
        }
    }
    Ok(parsed.to_string())
}

impl Licensor {
    /// Records event `event` with `data` in `tx`, with a delivery to every live endpoint
    /// that wants it.
    pub(super) async fn emit(&self, tx: &mut Tx, event: EventType, data: Value) -> Result<()> {
        let id = uuid::Uuid::new_v4();
        let now = self.now();
        let body = json!({
            "id": id,
            "type": event.as_str(),
            "created_at": now.rfc3339(),
            "data": data,
        });
        let wanted: Vec<uuid::Uuid> = webhooks::endpoints(tx.conn())
            .await?
            .into_iter()
            .filter(|e| e.events.iter().any(|t| t == event.as_str()))
            .map(|e| e.id)
            .collect();
        let event = NewEvent {
            id,
            event_type: event.as_str().to_owned(),
            occurred_at: now,
            body: body.to_string(),
        };
        webhooks::record_event(tx.conn(), &event, &wanted).await?;
        Ok(())
    }

    /// [`Licensor::emit`] for several events, in order, in two statements (and one read of
    /// the endpoints).
    pub(super) async fn emit_many(
        &self,
        tx: &mut Tx,
        events: Vec<(EventType, Value)>,
    ) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let endpoints = webhooks::endpoints(tx.conn()).await?;
        let rows: Vec<(NewEvent, Vec<uuid::Uuid>)> = events
            .into_iter()
            .map(|(event, data)| {
                let id = uuid::Uuid::new_v4();
                let body = json!({
                    "id": id,
                    "type": event.as_str(),
                    "created_at": now.rfc3339(),
                    "data": data,
                });
                let wanted = endpoints
                    .iter()
                    .filter(|e| e.events.iter().any(|t| t == event.as_str()))
                    .map(|e| e.id)
                    .collect();
                let row = NewEvent {
                    id,
                    event_type: event.as_str().to_owned(),
                    occurred_at: now,
                    body: body.to_string(),
                };
                (row, wanted)
            })
            .collect();
        webhooks::record_events(tx.conn(), &rows).await?;
        Ok(())
    }

    /// Registers a webhook endpoint on the request of `actor`.
    pub async fn register_webhook(
        &self,
        actor: &str,
        request: &EndpointRequest,
    ) -> Result<Endpoint> {
        let url = check_url(&request.url, self.allow_private_webhooks())
            .map_err(|e| Error::field("url", e))?;
        if request.events.is_empty() {
            return Err(Error::field("events", "name at least one event type"));
        }
        let mut events = Vec::new();
        for name in &request.events {
            let Some(event) = EventType::parse(name) else {
                let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
                return Err(Error::field(
                    "events",
                    format!("{name:?} is not an event type; use {}", known.join(", ")),
                ));
            };
            if !events.contains(&event.as_str().to_owned()) {
                events.push(event.as_str().to_owned());
            }
        }
        let description = request.description.clone().unwrap_or_default();
        // Free text shown on the desk; Postgres cannot store a NUL, and no control character
        // belongs in it.
        if description.chars().count() > 500 || description.chars().any(char::is_control) {
            return Err(Error::field(
                "description",
                "give at most 500 characters, without control characters",
            ));
        }
        let endpoint = NewEndpoint {
            id: uuid::Uuid::new_v4(),
            url,
            events,
            description,
            created_at: self.now(),
            created_by: actor.to_owned(),
        };
        let entry = self.audit(
            actor,
            "webhook.register",
            json!({ "url": endpoint.url, "events": endpoint.events }),
        );
        let mut tx = self.store().begin().await?;
        let created = webhooks::insert_endpoint(tx.conn(), &endpoint).await?;
        audit::record(tx.conn(), &entry, &endpoint.id.to_string()).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Every webhook endpoint.
    pub async fn webhooks(&self) -> Result<Vec<Endpoint>> {
        Ok(webhooks::endpoints(self.store().conn()).await?)
    }

    /// The delivery log of endpoint `id`, newest first.
    pub async fn webhook_deliveries(&self, id: uuid::Uuid) -> Result<Vec<DeliveryEntry>> {
        webhooks::endpoint(self.store().conn(), id)
            .await
            .or_not_found(|| format!("webhook endpoint {id}"))?;
        Ok(webhook_deliveries::deliveries(self.store().conn(), id, DELIVERY_LOG_LIMIT).await?)
    }

    /// Queues delivery `id` again, due now, and revives its endpoint if it was dead.
    pub async fn redeliver(&self, actor: &str, id: uuid::Uuid) -> Result<DeliveryEntry> {
        let entry = self.audit(actor, "webhook.redeliver", json!({}));
        let mut tx = self.store().begin().await?;
        let queued = webhook_deliveries::redeliver(tx.conn(), id, self.now())
            .await
            .or_not_found(|| format!("webhook delivery {id}"))?
            .ok_or(Conflict::DeliveryInFlight(id))?;
        audit::record(tx.conn(), &entry, &id.to_string()).await?;
        tx.commit().await?;
        self.webhook_wake().notify_one();
        Ok(queued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_http_and_public_unless_allowed() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        for refused in [
            "ftp://hooks.example.com/",
            "file:///etc/passwd",
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://100.64.0.1/",
            "https://user:pw@hooks.example.com/",
            "not a url",
        ] {
            assert!(check_url(refused, false).is_err(), "{refused} was accepted");
        }
        assert!(check_url("http://127.0.0.1:8080/", true).is_ok());
        assert!(is_public("93.184.216.34".parse().unwrap()));
    }

    #[test]
    fn every_event_type_round_trips_its_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("license.exploded"), None);
    }
}
