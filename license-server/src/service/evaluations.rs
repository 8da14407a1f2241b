//! The evaluation program: enrollments whose members are exempt from chosen trial rules.

use super::Licensor;
use super::error::{Conflict, Error, OrNotFound, Result};
use super::requests::text_field;
use super::requests::{EndEvaluationRequest, EnrollRequest};
use super::terms::MAX_USER_LIMIT;
use super::trial_rules::email_key;
use super::webhooks::{EventType, evaluation_data};
use crate::store::accounts::{self, AccountId};
use crate::store::audit;
use crate::store::evaluations::{self, Evaluation, EvaluationSubject, NewEvaluation};
use crate::store::{Page, PageRequest, StoreError};
use license_core::{Email, Timestamp};
use serde_json::json;

impl Licensor {
    /// Enrolls a subject on the request of `actor`.
    pub async fn enroll(&self, actor: &str, request: &EnrollRequest) -> Result<Evaluation> {
        let now = self.now();
        let subject = match (&request.account_id, &request.email, &request.email_domain) {
            (Some(id), None, None) => {
                let id = AccountId(*id);
                match accounts::get(self.store().conn(), id).await {
                    Ok(_) => EvaluationSubject::Account(id),
                    Err(StoreError::NotFound) => {
                        return Err(Error::invalid(
                            "unknown_account",
                            format!("account {id} does not exist"),
                        ));
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            (None, Some(email), None) => {
                let email = Email::parse(email).map_err(|e| Error::field("email", e))?;
                EvaluationSubject::Email(email_key(&email, &self.trial_policy().mailbox)?.0)
            }
            (None, None, Some(domain)) => {
                let given = domain.as_str();
                Email::parse(&format!("check@{given}")).map_err(|_| {
                    Error::field("email_domain", format!("{given:?} is not a domain"))
                })?;
                let domain = self
                    .trial_policy()
                    .mailbox
                    .domain(given)
                    .map_err(|e| Error::field("email_domain", e))?;
                EvaluationSubject::EmailDomain(domain)
            }
            _ => {
                return Err(Error::invalid(
                    "invalid_field",
                    "give exactly one of `account_id`, `email` and `email_domain`: who is enrolled",
                ));
            }
        };
        let starts_at = match &request.starts_at {
            Some(text) => {
                Timestamp::parse_rfc3339(text).map_err(|e| Error::field("starts_at", e))?
            }
            None => now,
        };
        let ends_at =
            Timestamp::parse_rfc3339(&request.ends_at).map_err(|e| Error::field("ends_at", e))?;
        if ends_at <= starts_at || ends_at <= now {
            return Err(Error::field(
                "ends_at",
                "must be after starts_at and in the future",
            ));
        }
        let max = self.trial_policy().evaluation_max_term_days;
        if let Some(days) = request.max_term_days
            && !(1..=max).contains(&days)
        {
            return Err(Error::field(
                "max_term_days",
                format!("use 1 to {max} (the configured maximum)"),
            ));
        }
        if let Some(seats) = request.user_limit
            && !(1..=MAX_USER_LIMIT).contains(&seats)
        {
            return Err(Error::field(
                "user_limit",
                format!("use 1 to {MAX_USER_LIMIT}"),
            ));
        }
        let mut waives: Vec<String> = request
            .waives
            .iter()
            .map(|rule| rule.as_str().to_owned())
            .collect();
        waives.sort();
        waives.dedup();
        let evaluation = NewEvaluation {
            id: uuid::Uuid::new_v4(),
            subject,
            reason: text_field("reason", &request.reason, 500)?,
            approved_by: text_field("approved_by", &request.approved_by, 200)?,
            starts_at,
            ends_at,
            waives,
            max_term_days: request.max_term_days,
            user_limit: request.user_limit,
            created_at: now,
            created_by: actor.to_owned(),
        };
        let entry = self.audit(actor, "evaluation.enroll", json!({ "request": request }));
        let mut tx = self.store().begin().await?;
        let created = evaluations::insert(tx.conn(), &evaluation).await?;
        audit::record(tx.conn(), &entry, &evaluation.id.to_string()).await?;
        let data = json!({ "evaluation": evaluation_data(&created) });
        self.emit(&mut tx, EventType::EvaluationEnrolled, data)
            .await?;
        tx.commit().await?;
        self.webhook_wake().notify_one();
        Ok(created)
    }

    /// One enrollment.
    pub async fn evaluation(&self, id: uuid::Uuid) -> Result<Evaluation> {
        evaluations::get(self.store().conn(), id)
            .await
            .or_not_found(|| format!("evaluation {id}"))
    }

    /// Enrollments, newest first; with `active`, only those in force now.
    pub async fn evaluations(&self, active: bool, page: &PageRequest) -> Result<Page<Evaluation>> {
        let active_at = active.then(|| self.now());
        Ok(evaluations::list(self.store().conn(), active_at, page).await?)
    }

    /// Ends enrollment `id` early.
    pub async fn end_evaluation(
        &self,
        actor: &str,
        id: uuid::Uuid,
        request: &EndEvaluationRequest,
    ) -> Result<Evaluation> {
        let reason = text_field("reason", &request.reason, 500)?;
        let now = self.now();
        let entry = self.audit(actor, "evaluation.end", json!({ "reason": reason }));
        let mut tx = self.store().begin().await?;
        let ended = evaluations::end(tx.conn(), id, now, actor, &reason)
            .await
            .or_not_found(|| format!("evaluation {id}"))?
            .ok_or(Conflict::EvaluationEnded(id))?;
        audit::record(tx.conn(), &entry, &id.to_string()).await?;
        let data = json!({ "evaluation": evaluation_data(&ended) });
        self.emit(&mut tx, EventType::EvaluationEnded, data).await?;
        tx.commit().await?;
        self.webhook_wake().notify_one();
        Ok(ended)
    }
}
