//! The store's SQL, written once for both backends.
//!
//! The statements use only what Postgres and SQLite share: `$N` placeholders, `RETURNING`,
//! `ON CONFLICT`, integer Unix seconds, UUIDs as text, JSON as text. [`impl_store!`] compiles
//! the same implementation against each backend's native driver; the backends differ only in
//! their migrations and connection settings (`postgres.rs`, `sqlite.rs`).

use super::*;
use license_core::{LicenseId, Timestamp};
use std::collections::BTreeMap;

pub(super) const ACCOUNT_COLUMNS: &str =
    "id, name, email, account_type, license_sequence, created_at";
pub(super) const LICENSE_COLUMNS: &str = "id, account_id, email, token, key_id, feature_set, features, \
    user_limit, deployment_ids, trial, evaluation, sequence, starts_at, expires_at, grace_ends_at, \
    issued_at, issued_by, status, revoked_at, revoke_reason, supersedes";

#[derive(sqlx::FromRow)]
pub(super) struct AccountRow {
    id: String,
    name: String,
    email: String,
    account_type: String,
    license_sequence: i64,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct LicenseRow {
    pub(super) id: String,
    account_id: String,
    email: String,
    token: String,
    key_id: String,
    feature_set: String,
    features: String,
    user_limit: Option<i64>,
    deployment_ids: String,
    trial: bool,
    evaluation: bool,
    sequence: i64,
    starts_at: i64,
    pub(super) expires_at: i64,
    grace_ends_at: i64,
    issued_at: i64,
    issued_by: String,
    status: String,
    revoked_at: Option<i64>,
    revoke_reason: Option<String>,
    supersedes: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    action: String,
    target: String,
    details: String,
}

pub(super) const OUTBOX_COLUMNS: &str = "id, kind, license_id, recipient, subject, message_id, state, \
    attempts, next_attempt_at, last_error, last_error_permanent, created_at, sent_at";

#[derive(sqlx::FromRow)]
pub(super) struct OutboxRow {
    id: String,
    kind: String,
    license_id: Option<String>,
    recipient: String,
    subject: String,
    message_id: String,
    state: String,
    attempts: i64,
    next_attempt_at: i64,
    last_error: Option<String>,
    last_error_permanent: bool,
    created_at: i64,
    sent_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
pub(super) struct ClaimedRow {
    id: String,
    sender: String,
    recipient: String,
    message_id: String,
    raw: String,
    attempts: i64,
}

impl TryFrom<OutboxRow> for OutboxEntry {
    type Error = StoreError;
    fn try_from(row: OutboxRow) -> StoreResult<Self> {
        Ok(OutboxEntry {
            id: uuid(&row.id)?,
            kind: row.kind,
            license_id: row.license_id.as_deref().map(uuid).transpose()?,
            recipient: row.recipient,
            subject: row.subject,
            message_id: row.message_id,
            state: OutboxState::parse(&row.state)
                .ok_or_else(|| corrupt("outbox state", &row.state))?,
            attempts: u32::try_from(row.attempts).map_err(|e| corrupt("attempts", e))?,
            next_attempt_at: timestamp(row.next_attempt_at)?,
            last_error: row.last_error,
            last_error_permanent: row.last_error_permanent,
            created_at: timestamp(row.created_at)?,
            sent_at: row.sent_at.map(timestamp).transpose()?,
        })
    }
}

impl TryFrom<ClaimedRow> for ClaimedMessage {
    type Error = StoreError;
    fn try_from(row: ClaimedRow) -> StoreResult<Self> {
        Ok(ClaimedMessage {
            id: uuid(&row.id)?,
            sender: row.sender,
            recipient: row.recipient,
            message_id: row.message_id,
            raw: row.raw,
            attempts: u32::try_from(row.attempts).map_err(|e| corrupt("attempts", e))?,
        })
    }
}

/// Claims the next due message: a pending one whose time has come, or one whose sender's
/// lease ran out (the worker died). `{lock}` is Postgres's `FOR UPDATE SKIP LOCKED`, so that
/// concurrent workers pass over each other's rows instead of queueing on them; without it
/// (SQLite, one writer at a time) the outer `WHERE` still refuses a row another worker took.
pub(super) fn claim_sql(lock: &str) -> String {
    format!(
        "UPDATE outbox SET state = 'sending', lease_owner = $1, next_attempt_at = $3, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM outbox WHERE state IN ('pending', 'sending') AND next_attempt_at <= $2 \
                     ORDER BY next_attempt_at, id LIMIT 1 {lock}) \
           AND state IN ('pending', 'sending') AND next_attempt_at <= $2 \
         RETURNING id, sender, recipient, message_id, raw, attempts"
    )
}

pub(super) const TRIAL_COLUMNS: &str = "id, email, email_key, email_domain, first_name, last_name, company, \
    country, developers, deployment_id, product_version, client_address, requested_at, outcome, refusal_code, \
    refusal_message, license_id, account_id, evaluation_id, expires_at";

pub(super) const EVALUATION_COLUMNS: &str = "id, account_id, email_key, email_domain, reason, approved_by, \
    starts_at, ends_at, waives, max_term_days, user_limit, created_at, created_by, ended_at, ended_by, end_reason";

#[derive(sqlx::FromRow)]
pub(super) struct TrialRow {
    id: String,
    email: String,
    email_key: String,
    email_domain: String,
    first_name: String,
    last_name: String,
    company: String,
    country: String,
    developers: String,
    deployment_id: String,
    product_version: String,
    client_address: Option<String>,
    requested_at: i64,
    outcome: String,
    refusal_code: Option<String>,
    refusal_message: Option<String>,
    license_id: Option<String>,
    account_id: Option<String>,
    evaluation_id: Option<String>,
    expires_at: Option<i64>,
}

impl TryFrom<TrialRow> for TrialRecord {
    type Error = StoreError;
    fn try_from(r: TrialRow) -> StoreResult<Self> {
        Ok(TrialRecord {
            id: uuid(&r.id)?,
            email: r.email,
            email_key: r.email_key,
            email_domain: r.email_domain,
            first_name: r.first_name,
            last_name: r.last_name,
            company: r.company,
            country: r.country,
            developers: r.developers,
            deployment_id: r.deployment_id,
            product_version: r.product_version,
            client_address: r.client_address,
            requested_at: timestamp(r.requested_at)?,
            outcome: r.outcome,
            refusal_code: r.refusal_code,
            refusal_message: r.refusal_message,
            license_id: r.license_id.as_deref().map(uuid).transpose()?,
            account_id: r
                .account_id
                .as_deref()
                .map(uuid)
                .transpose()?
                .map(AccountId),
            evaluation_id: r.evaluation_id.as_deref().map(uuid).transpose()?,
            expires_at: r.expires_at.map(timestamp).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct EvaluationRow {
    id: String,
    account_id: Option<String>,
    email_key: Option<String>,
    email_domain: Option<String>,
    reason: String,
    approved_by: String,
    starts_at: i64,
    ends_at: i64,
    waives: String,
    max_term_days: Option<i64>,
    user_limit: Option<i64>,
    created_at: i64,
    created_by: String,
    ended_at: Option<i64>,
    ended_by: Option<String>,
    end_reason: Option<String>,
}

impl TryFrom<EvaluationRow> for Evaluation {
    type Error = StoreError;
    fn try_from(r: EvaluationRow) -> StoreResult<Self> {
        let subject = match (r.account_id, r.email_key, r.email_domain) {
            (Some(account), None, None) => EvaluationSubject::Account(AccountId(uuid(&account)?)),
            (None, Some(email), None) => EvaluationSubject::Email(email),
            (None, None, Some(domain)) => EvaluationSubject::EmailDomain(domain),
            _ => return Err(corrupt("evaluation subject", &r.id)),
        };
        Ok(Evaluation {
            id: uuid(&r.id)?,
            subject,
            reason: r.reason,
            approved_by: r.approved_by,
            starts_at: timestamp(r.starts_at)?,
            ends_at: timestamp(r.ends_at)?,
            waives: serde_json::from_str(&r.waives).map_err(|e| corrupt("waives", e))?,
            max_term_days: r
                .max_term_days
                .map(|d| u32::try_from(d).map_err(|e| corrupt("max_term_days", e)))
                .transpose()?,
            user_limit: r.user_limit,
            created_at: timestamp(r.created_at)?,
            created_by: r.created_by,
            ended_at: r.ended_at.map(timestamp).transpose()?,
            ended_by: r.ended_by,
            end_reason: r.end_reason,
        })
    }
}

/// Which once-ever rule a unique violation on the trials table broke (by the column or
/// constraint named in the database's message, which both backends include).
pub(super) fn trial_conflict(error: &sqlx::Error) -> Option<TrialConflict> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    if db.kind() != sqlx::error::ErrorKind::UniqueViolation {
        return None;
    }
    let text = format!("{} {}", db.message(), db.constraint().unwrap_or_default());
    if text.contains("deployment_slot") {
        Some(TrialConflict::Deployment)
    } else if text.contains("email_slot") {
        Some(TrialConflict::Email)
    } else {
        None
    }
}

pub(super) const DEPLOYMENT_COLUMNS: &str = "id, first_seen_at, last_seen_at, product_version, active_users, \
    license_ids, user_limit, over_seat_limit, trial, account_id, checkins";

#[derive(sqlx::FromRow)]
pub(super) struct DeploymentRow {
    id: String,
    first_seen_at: i64,
    last_seen_at: i64,
    product_version: String,
    active_users: i64,
    license_ids: String,
    user_limit: Option<i64>,
    over_seat_limit: bool,
    trial: bool,
    account_id: Option<String>,
    checkins: i64,
}

impl TryFrom<DeploymentRow> for Deployment {
    type Error = StoreError;
    fn try_from(r: DeploymentRow) -> StoreResult<Self> {
        Ok(Deployment {
            id: r.id,
            first_seen_at: timestamp(r.first_seen_at)?,
            last_seen_at: timestamp(r.last_seen_at)?,
            product_version: r.product_version,
            active_users: unsigned(r.active_users)?,
            license_ids: serde_json::from_str(&r.license_ids)
                .map_err(|e| corrupt("license_ids", e))?,
            user_limit: r.user_limit,
            over_seat_limit: r.over_seat_limit,
            trial: r.trial,
            account_id: r
                .account_id
                .as_deref()
                .map(uuid)
                .transpose()?
                .map(AccountId),
            checkins: unsigned(r.checkins)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct CheckinRow {
    id: i64,
    at: i64,
    active_users: i64,
    product_version: String,
    license_ids: String,
    client_address: Option<String>,
}

impl TryFrom<CheckinRow> for CheckinEntry {
    type Error = StoreError;
    fn try_from(r: CheckinRow) -> StoreResult<Self> {
        Ok(CheckinEntry {
            id: r.id,
            at: timestamp(r.at)?,
            active_users: unsigned(r.active_users)?,
            product_version: r.product_version,
            license_ids: serde_json::from_str(&r.license_ids)
                .map_err(|e| corrupt("license_ids", e))?,
            client_address: r.client_address,
        })
    }
}

/// `$first, $first+1, …` for `count` parameters: an `IN (…)` list of bound values.
pub(super) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value}"))
}

fn uuid(text: &str) -> StoreResult<uuid::Uuid> {
    uuid::Uuid::parse_str(text).map_err(|e| corrupt("uuid", e))
}

fn timestamp(seconds: i64) -> StoreResult<Timestamp> {
    Timestamp::from_unix(seconds).map_err(|e| corrupt("time", e))
}

pub(super) fn unsigned(value: i64) -> StoreResult<u64> {
    u64::try_from(value).map_err(|e| corrupt("sequence", e))
}

impl TryFrom<AccountRow> for Account {
    type Error = StoreError;
    fn try_from(row: AccountRow) -> StoreResult<Self> {
        Ok(Account {
            id: AccountId(uuid(&row.id)?),
            name: row.name,
            email: row.email,
            account_type: row.account_type,
            license_sequence: unsigned(row.license_sequence)?,
            created_at: timestamp(row.created_at)?,
        })
    }
}

impl TryFrom<LicenseRow> for LicenseRecord {
    type Error = StoreError;
    fn try_from(row: LicenseRow) -> StoreResult<Self> {
        let features: BTreeMap<String, i64> =
            serde_json::from_str(&row.features).map_err(|e| corrupt("features", e))?;
        let deployment_ids: Vec<String> =
            serde_json::from_str(&row.deployment_ids).map_err(|e| corrupt("deployment_ids", e))?;
        Ok(LicenseRecord {
            id: uuid(&row.id)?,
            account_id: AccountId(uuid(&row.account_id)?),
            email: row.email,
            token: row.token,
            key_id: row.key_id,
            feature_set: row.feature_set,
            features,
            user_limit: row.user_limit,
            deployment_ids,
            trial: row.trial,
            evaluation: row.evaluation,
            sequence: unsigned(row.sequence)?,
            starts_at: timestamp(row.starts_at)?,
            expires_at: timestamp(row.expires_at)?,
            grace_ends_at: timestamp(row.grace_ends_at)?,
            issued_at: timestamp(row.issued_at)?,
            issued_by: row.issued_by,
            status: LicenseStatus::parse(&row.status)
                .ok_or_else(|| corrupt("status", &row.status))?,
            revoked_at: row.revoked_at.map(timestamp).transpose()?,
            revoke_reason: row.revoke_reason,
            supersedes: row.supersedes.as_deref().map(uuid).transpose()?,
        })
    }
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(row: AuditRow) -> StoreResult<Self> {
        Ok(AuditEntry {
            id: row.id,
            at: timestamp(row.at)?,
            actor: row.actor,
            action: row.action,
            target: row.target,
            details: serde_json::from_str(&row.details).map_err(|e| corrupt("details", e))?,
        })
    }
}

/// Turns rows fetched with one extra item into a page and its next cursor.
pub(super) fn to_page<R, T>(
    rows: Vec<R>,
    limit: u32,
    cursor_of: impl Fn(&T) -> Cursor,
) -> StoreResult<Page<T>>
where
    T: TryFrom<R, Error = StoreError>,
{
    let mut items = rows
        .into_iter()
        .map(T::try_from)
        .collect::<StoreResult<Vec<T>>>()?;
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = if more {
        items.last().map(|last| cursor_of(last).encode())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

pub(super) fn page_limit(page: &PageRequest) -> i64 {
    i64::from(page.limit.clamp(1, MAX_PAGE_SIZE)) + 1
}

pub(super) fn license_values(signed: &SignedLicense) -> StoreResult<(String, String)> {
    let features =
        serde_json::to_string(&signed.claims.features).map_err(|e| corrupt("features", e))?;
    let deployments: Vec<&str> = signed
        .claims
        .deployment_ids
        .iter()
        .map(|d| d.as_str())
        .collect();
    let deployments =
        serde_json::to_string(&deployments).map_err(|e| corrupt("deployment_ids", e))?;
    Ok((features, deployments))
}

pub(super) fn to_i64(value: u64) -> StoreResult<i64> {
    i64::try_from(value).map_err(|e| corrupt("integer", e))
}

pub(super) fn license_id_text(id: LicenseId) -> String {
    id.hyphenated().to_string()
}

/// Implements [`Store`] for a backend type with a `pool` field and a `begin_write` method.
macro_rules! impl_store {
    ($store:ty, $db:ty, $backend:expr, $claim_lock:expr) => {
        use $crate::store::sql::*;
        use $crate::store::*;
        use license_core::{LicenseId, Timestamp};

        async fn insert_audit(
            tx: &mut sqlx::Transaction<'_, $db>,
            audit: &AuditDraft,
            target: &str,
        ) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO audit_log (at, actor, action, target, details) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(audit.at.unix())
            .bind(&audit.actor)
            .bind(&audit.action)
            .bind(target)
            .bind(audit.details.to_string())
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        async fn insert_message(tx: &mut sqlx::Transaction<'_, $db>, m: &NewMessage) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO outbox (id, kind, license_id, sender, recipient, subject, message_id, raw, state, \
                 attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9)",
            )
            .bind(m.id.hyphenated().to_string())
            .bind(&m.kind)
            .bind(m.license_id.map(license_id_text))
            .bind(&m.sender)
            .bind(&m.recipient)
            .bind(&m.subject)
            .bind(&m.message_id)
            .bind(&m.raw)
            .bind(m.created_at.unix())
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Takes the account's next sequence, supersedes `supersedes` (when still active and
        /// of this account), signs, and stores the license and its messages.
        async fn issue_in(
            tx: &mut sqlx::Transaction<'_, $db>,
            account_id: AccountId,
            supersedes: Option<LicenseId>,
            sign: &SignFn<'_>,
        ) -> StoreResult<LicenseRow> {
            let sequence: Option<(i64, String)> = sqlx::query_as(
                "UPDATE accounts SET license_sequence = license_sequence + 1 WHERE id = $1 \
                 RETURNING license_sequence, account_type",
            )
            .bind(account_id.0.hyphenated().to_string())
            .fetch_optional(&mut **tx)
            .await?;
            let Some((sequence, account_type)) = sequence else {
                return Err(StoreError::NotFound);
            };
            if let Some(old) = supersedes {
                let updated = sqlx::query(
                    "UPDATE licenses SET status = 'superseded' \
                     WHERE id = $1 AND account_id = $2 AND status = 'active'",
                )
                .bind(license_id_text(old))
                .bind(account_id.0.hyphenated().to_string())
                .execute(&mut **tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    return Err(StoreError::Conflict("license_not_active"));
                }
            }
            let signed = sign(&Signing { sequence: unsigned(sequence)?, account_id, account_type: &account_type })?;
            let (features, deployments) = license_values(&signed)?;
            let c = &signed.claims;
            let sql = format!(
                "INSERT INTO licenses ({LICENSE_COLUMNS}, email_lower) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'active', NULL, NULL, $18, $19) \
                 RETURNING {LICENSE_COLUMNS}"
            );
            let row: LicenseRow = sqlx::query_as(&sql)
                .bind(license_id_text(c.jti))
                .bind(account_id.0.hyphenated().to_string())
                .bind(c.sub.as_str())
                .bind(&signed.token)
                .bind(&signed.key_id)
                .bind(c.feature_set.as_str())
                .bind(features)
                .bind(c.user_limit())
                .bind(deployments)
                .bind(c.trial)
                .bind(c.evaluation)
                .bind(to_i64(c.sequence)?)
                .bind(c.nbf.unix())
                .bind(c.license_expires.unix())
                .bind(c.exp.unix())
                .bind(c.iat.unix())
                .bind(&signed.issued_by)
                .bind(supersedes.map(license_id_text))
                .bind(c.sub.as_str().to_lowercase())
                .fetch_one(&mut **tx)
                .await?;
            for message in &signed.mail {
                insert_message(tx, message).await?;
            }
            Ok(row)
        }

        async fn insert_trial(
            executor: impl sqlx::Executor<'_, Database = $db>,
            t: &TrialRecord,
            slots: (Option<&str>, Option<&str>),
        ) -> StoreResult<()> {
            let sql = format!(
                "INSERT INTO trials ({TRIAL_COLUMNS}, deployment_slot, email_slot) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)"
            );
            sqlx::query(&sql)
                .bind(t.id.hyphenated().to_string())
                .bind(&t.email)
                .bind(&t.email_key)
                .bind(&t.email_domain)
                .bind(&t.first_name)
                .bind(&t.last_name)
                .bind(&t.company)
                .bind(&t.country)
                .bind(&t.developers)
                .bind(&t.deployment_id)
                .bind(&t.product_version)
                .bind(&t.client_address)
                .bind(t.requested_at.unix())
                .bind(&t.outcome)
                .bind(&t.refusal_code)
                .bind(&t.refusal_message)
                .bind(t.license_id.map(license_id_text))
                .bind(t.account_id.map(|a| a.0.hyphenated().to_string()))
                .bind(t.evaluation_id.map(|e| e.hyphenated().to_string()))
                .bind(t.expires_at.map(|e| e.unix()))
                .bind(slots.0)
                .bind(slots.1)
                .execute(executor)
                .await
                .map_err(|error| match trial_conflict(&error) {
                    Some(TrialConflict::Deployment) => StoreError::Conflict("trial_deployment_slot"),
                    Some(TrialConflict::Email) => StoreError::Conflict("trial_email_slot"),
                    _ => error.into(),
                })?;
            Ok(())
        }

        /// The granting half of `request_trial`: `Ok(Err(rule))` when a rule checked inside the
        /// transaction refuses (nothing is written).
        async fn grant_trial(
            store: &$store,
            draft: &TrialDraft,
            sign: &SignFn<'_>,
        ) -> StoreResult<Result<TrialRecord, TrialConflict>> {
            let record = &draft.record;
            let mut tx = store.begin_write().await?;
            if let Some((limit, since)) = draft.domain_limit {
                // The upsert locks the domain's row until commit: requests of one domain
                // queue here, so the count below cannot be raced past the limit.
                sqlx::query(
                    "INSERT INTO trial_domains (domain, touched_at) VALUES ($1, $2) \
                     ON CONFLICT (domain) DO UPDATE SET touched_at = excluded.touched_at",
                )
                .bind(&record.email_domain)
                .bind(record.requested_at.unix())
                .execute(&mut *tx)
                .await?;
                let (granted,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM trials WHERE email_domain = $1 AND outcome = 'granted' AND requested_at >= $2",
                )
                .bind(&record.email_domain)
                .bind(since.unix())
                .fetch_one(&mut *tx)
                .await?;
                if granted >= i64::from(limit) {
                    tx.rollback().await?;
                    return Ok(Err(TrialConflict::DomainLimit));
                }
            }
            for (applies, column, value, conflict) in [
                (draft.once_per_deployment, "deployment_slot", &record.deployment_id, TrialConflict::Deployment),
                (draft.once_per_email, "email_slot", &record.email_key, TrialConflict::Email),
            ] {
                if !applies {
                    continue;
                }
                let sql = format!("SELECT id FROM trials WHERE {column} = $1");
                let used: Option<(String,)> = sqlx::query_as(&sql).bind(value).fetch_optional(&mut *tx).await?;
                if used.is_some() {
                    tx.rollback().await?;
                    return Ok(Err(conflict));
                }
            }
            // A trial gets an account of its own: issued on a customer's account, its sequence
            // would supersede the customer's paid license where both are installed.
            let account_id = AccountId(uuid::Uuid::new_v4());
            sqlx::query(
                "INSERT INTO accounts (id, name, email, account_type, license_sequence, created_at) \
                 VALUES ($1, $2, $3, 'trial', 0, $4)",
            )
            .bind(account_id.0.hyphenated().to_string())
            .bind(&record.company)
            .bind(record.email.to_lowercase())
            .bind(record.requested_at.unix())
            .execute(&mut *tx)
            .await?;
            let license = issue_in(&mut tx, account_id, None, sign).await?;
            let mut granted = record.clone();
            granted.outcome = "granted".to_owned();
            granted.license_id = Some(uuid::Uuid::parse_str(&license.id).map_err(|e| StoreError::Corrupt(e.to_string()))?);
            granted.account_id = Some(account_id);
            granted.expires_at = Some(Timestamp::from_unix(license.expires_at).map_err(|e| StoreError::Corrupt(e.to_string()))?);
            // A granted trial takes its slots whenever they are free, waiver or not: a waiver only
            // keeps a taken slot from refusing, so the once-ever rules hold after it ends.
            let mut slots = (None, None);
            for (column, value, enforced) in [
                ("deployment_slot", record.deployment_id.as_str(), draft.once_per_deployment),
                ("email_slot", record.email_key.as_str(), draft.once_per_email),
            ] {
                let take = enforced || {
                    let sql = format!("SELECT id FROM trials WHERE {column} = $1");
                    let taken: Option<(String,)> = sqlx::query_as(&sql).bind(value).fetch_optional(&mut *tx).await?;
                    taken.is_none()
                };
                if take {
                    if column == "deployment_slot" { slots.0 = Some(value) } else { slots.1 = Some(value) }
                }
            }
            insert_trial(&mut *tx, &granted, slots).await?;
            tx.commit().await?;
            Ok(Ok(granted))
        }

        /// Why a conditional update changed no row: the row is missing (`NotFound`), or it is
        /// in a state the update does not apply to (`Conflict(conflict)`).
        async fn refused_update(
            tx: &mut sqlx::Transaction<'_, $db>,
            table: &'static str,
            id: uuid::Uuid,
            conflict: &'static str,
        ) -> StoreError {
            let sql = format!("SELECT id FROM {table} WHERE id = $1");
            let exists: Result<Option<(String,)>, sqlx::Error> =
                sqlx::query_as(&sql).bind(id.hyphenated().to_string()).fetch_optional(&mut **tx).await;
            match exists {
                Ok(Some(_)) => StoreError::Conflict(conflict),
                Ok(None) => StoreError::NotFound,
                Err(error) => error.into(),
            }
        }

        async fn select_license(
            executor: impl sqlx::Executor<'_, Database = $db>,
            id: LicenseId,
        ) -> StoreResult<LicenseRecord> {
            let sql = format!("SELECT {LICENSE_COLUMNS} FROM licenses WHERE id = $1");
            let row: Option<LicenseRow> = sqlx::query_as(&sql)
                .bind(license_id_text(id))
                .fetch_optional(executor)
                .await?;
            row.ok_or(StoreError::NotFound)?.try_into()
        }

        #[async_trait::async_trait]
        impl Store for $store {
            fn backend(&self) -> Backend {
                $backend
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
            }

            async fn create_account(&self, account: &NewAccount, audit: &AuditDraft) -> StoreResult<Account> {
                let mut tx = self.begin_write().await?;
                let sql = format!(
                    "INSERT INTO accounts (id, name, email, account_type, license_sequence, created_at) \
                     VALUES ($1, $2, $3, $4, 0, $5) RETURNING {ACCOUNT_COLUMNS}"
                );
                let row: AccountRow = sqlx::query_as(&sql)
                    .bind(account.id.0.hyphenated().to_string())
                    .bind(&account.name)
                    .bind(&account.email)
                    .bind(&account.account_type)
                    .bind(account.created_at.unix())
                    .fetch_one(&mut *tx)
                    .await?;
                insert_audit(&mut tx, audit, &account.id.to_string()).await?;
                tx.commit().await?;
                row.try_into()
            }

            async fn account(&self, id: AccountId) -> StoreResult<Account> {
                let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1");
                let row: Option<AccountRow> = sqlx::query_as(&sql)
                    .bind(id.0.hyphenated().to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.ok_or(StoreError::NotFound)?.try_into()
            }

            async fn list_accounts(&self, page: &PageRequest) -> StoreResult<Page<Account>> {
                let sql = format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts \
                     WHERE (created_at, id) < (COALESCE(CAST($1 AS BIGINT), 9223372036854775807), COALESCE(CAST($2 AS TEXT), '')) \
                     ORDER BY created_at DESC, id DESC LIMIT $3"
                );
                let rows: Vec<AccountRow> = sqlx::query_as(&sql)
                    .bind(page.after.as_ref().map(|c| c.at))
                    .bind(page.after.as_ref().map(|c| c.id.clone()))
                    .bind(page_limit(page))
                    .fetch_all(&self.pool)
                    .await?;
                to_page(rows, page.limit, |a: &Account| Cursor { at: a.created_at.unix(), id: a.id.to_string() })
            }

            async fn issue_license(
                &self,
                account_id: AccountId,
                supersedes: Option<LicenseId>,
                idempotency: Option<&IdempotencyClaim>,
                audit: &AuditDraft,
                sign: &SignFn<'_>,
            ) -> StoreResult<Issued> {
                let mut tx = self.begin_write().await?;
                if let Some(claim) = idempotency {
                    let inserted = sqlx::query(
                        "INSERT INTO idempotency_keys (actor, key, request_hash, created_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (actor, key) DO NOTHING",
                    )
                    .bind(&audit.actor)
                    .bind(claim.key.as_str())
                    .bind(&claim.request_hash)
                    .bind(audit.at.unix())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 0 {
                        let (hash, license_id): (String, Option<String>) = sqlx::query_as(
                            "SELECT request_hash, license_id FROM idempotency_keys WHERE actor = $1 AND key = $2",
                        )
                        .bind(&audit.actor)
                        .bind(claim.key.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                        tx.rollback().await?;
                        if hash != claim.request_hash {
                            return Err(StoreError::Conflict("idempotency_key_reused"));
                        }
                        let Some(license_id) = license_id else {
                            return Err(StoreError::Conflict("idempotency_key_in_flight"));
                        };
                        let license_id = uuid::Uuid::parse_str(&license_id)
                            .map_err(|e| StoreError::Corrupt(format!("idempotency license id: {e}")))?;
                        let license = select_license(&self.pool, license_id).await?;
                        return Ok(Issued { license, replayed: true });
                    }
                }
                let row = issue_in(&mut tx, account_id, supersedes, sign).await?;
                insert_audit(&mut tx, audit, &row.id).await?;
                if let Some(claim) = idempotency {
                    sqlx::query("UPDATE idempotency_keys SET license_id = $3 WHERE actor = $1 AND key = $2")
                        .bind(&audit.actor)
                        .bind(claim.key.as_str())
                        .bind(&row.id)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(Issued { license: row.try_into()?, replayed: false })
            }

            async fn license(&self, id: LicenseId) -> StoreResult<LicenseRecord> {
                select_license(&self.pool, id).await
            }

            async fn list_licenses(
                &self,
                filter: &LicenseFilter,
                page: &PageRequest,
            ) -> StoreResult<Page<LicenseRecord>> {
                let sql = format!(
                    "SELECT {LICENSE_COLUMNS} FROM licenses \
                     WHERE (CAST($1 AS TEXT) IS NULL OR account_id = $1) \
                       AND (CAST($2 AS TEXT) IS NULL OR email_lower = $2) \
                       AND (CAST($3 AS TEXT) IS NULL OR status = $3) \
                       AND (CAST($4 AS BOOLEAN) IS NULL OR trial = $4) \
                       AND (issued_at, id) < (COALESCE(CAST($5 AS BIGINT), 9223372036854775807), COALESCE(CAST($6 AS TEXT), '')) \
                     ORDER BY issued_at DESC, id DESC LIMIT $7"
                );
                let rows: Vec<LicenseRow> = sqlx::query_as(&sql)
                    .bind(filter.account_id.map(|a| a.0.hyphenated().to_string()))
                    // Folded in Rust: SQLite's lower() folds only ASCII.
                    .bind(filter.email.as_deref().map(str::to_lowercase))
                    .bind(filter.status.map(|s| s.as_str()))
                    .bind(filter.trial)
                    .bind(page.after.as_ref().map(|c| c.at))
                    .bind(page.after.as_ref().map(|c| c.id.clone()))
                    .bind(page_limit(page))
                    .fetch_all(&self.pool)
                    .await?;
                to_page(rows, page.limit, |l: &LicenseRecord| Cursor {
                    at: l.issued_at.unix(),
                    id: license_id_text(l.id),
                })
            }

            async fn revoke_license(
                &self,
                id: LicenseId,
                reason: &str,
                at: Timestamp,
                audit: &AuditDraft,
            ) -> StoreResult<LicenseRecord> {
                let mut tx = self.begin_write().await?;
                let updated = sqlx::query(
                    "UPDATE licenses SET status = 'revoked', revoked_at = $2, revoke_reason = $3 \
                     WHERE id = $1 AND status <> 'revoked'",
                )
                .bind(license_id_text(id))
                .bind(at.unix())
                .bind(reason)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if updated == 0 {
                    // Tell a missing license from one already revoked.
                    select_license(&mut *tx, id).await?;
                    return Err(StoreError::Conflict("already_revoked"));
                }
                // The counter's row lock orders revocation numbers by commit (0005's note).
                let (sequence,): (i64,) =
                    sqlx::query_as("UPDATE revocation_counter SET value = value + 1 WHERE id = 1 RETURNING value")
                        .fetch_one(&mut *tx)
                        .await?;
                sqlx::query("INSERT INTO revocations (sequence, license_id, revoked_at, reason) VALUES ($4, $1, $2, $3)")
                    .bind(license_id_text(id))
                    .bind(at.unix())
                    .bind(reason)
                    .bind(sequence)
                    .execute(&mut *tx)
                    .await?;
                insert_audit(&mut tx, audit, &license_id_text(id)).await?;
                let license = select_license(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(license)
            }

            async fn create_admin_token(&self, token: &NewAdminToken, audit: &AuditDraft) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO admin_tokens (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(token.id.hyphenated().to_string())
                .bind(&token.name)
                .bind(&token.token_hash)
                .bind(token.created_at.unix())
                .execute(&mut *tx)
                .await?;
                insert_audit(&mut tx, audit, &token.name).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn revoke_admin_token(&self, name: &str, audit: &AuditDraft) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                let revoked = sqlx::query("UPDATE admin_tokens SET revoked_at = $2 WHERE name = $1 AND revoked_at IS NULL")
                    .bind(name)
                    .bind(audit.at.unix())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if revoked == 0 {
                    return Err(StoreError::NotFound);
                }
                insert_audit(&mut tx, audit, name).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn authenticate(&self, token_hash: &str, at: Timestamp) -> StoreResult<AdminIdentity> {
                let row: Option<(String, String)> = sqlx::query_as(
                    "SELECT id, name FROM admin_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
                )
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
                let (token_id, name) = row.ok_or(StoreError::NotFound)?;
                // Record use at most once a minute, so that reads do not all become writes.
                sqlx::query(
                    "UPDATE admin_tokens SET last_used_at = $2 \
                     WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2 - 60)",
                )
                .bind(&token_id)
                .bind(at.unix())
                .execute(&self.pool)
                .await?;
                Ok(AdminIdentity { token_id, name })
            }

            async fn enqueue(&self, message: &NewMessage, audit: &AuditDraft) -> StoreResult<()> {
                let mut tx = self.begin_write().await?;
                insert_message(&mut tx, message).await?;
                insert_audit(&mut tx, audit, &message.id.to_string()).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn claim_message(
                &self,
                owner: &str,
                now: Timestamp,
                lease_until: Timestamp,
            ) -> StoreResult<Option<ClaimedMessage>> {
                let sql = claim_sql($claim_lock);
                let mut tx = self.begin_write().await?;
                let row: Option<ClaimedRow> = sqlx::query_as(&sql)
                    .bind(owner)
                    .bind(now.unix())
                    .bind(lease_until.unix())
                    .fetch_optional(&mut *tx)
                    .await?;
                tx.commit().await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn mark_sent(&self, id: uuid::Uuid, owner: &str, at: Timestamp) -> StoreResult<bool> {
                let updated = sqlx::query(
                    "UPDATE outbox SET state = 'sent', sent_at = $3, lease_owner = NULL, last_error = NULL, \
                     last_error_permanent = FALSE WHERE id = $1 AND lease_owner = $2 AND state = 'sending'",
                )
                .bind(id.hyphenated().to_string())
                .bind(owner)
                .bind(at.unix())
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(updated == 1)
            }

            async fn mark_failed(
                &self,
                id: uuid::Uuid,
                owner: &str,
                failure: &DeliveryFailure,
            ) -> StoreResult<Option<OutboxState>> {
                let state: Option<(String,)> = sqlx::query_as(
                    "UPDATE outbox SET \
                       state = CASE WHEN CAST($4 AS BOOLEAN) OR attempts >= $5 THEN 'dead' ELSE 'pending' END, \
                       next_attempt_at = $6, lease_owner = NULL, last_error = $3, last_error_permanent = $4 \
                     WHERE id = $1 AND lease_owner = $2 AND state = 'sending' RETURNING state",
                )
                .bind(id.hyphenated().to_string())
                .bind(owner)
                .bind(&failure.error)
                .bind(failure.permanent)
                .bind(i64::from(failure.max_attempts))
                .bind(failure.retry_at.unix())
                .fetch_optional(&self.pool)
                .await?;
                state
                    .map(|(s,)| OutboxState::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("outbox state {s}"))))
                    .transpose()
            }

            async fn list_outbox(
                &self,
                state: Option<OutboxState>,
                page: &PageRequest,
            ) -> StoreResult<Page<OutboxEntry>> {
                let sql = format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox \
                     WHERE (CAST($1 AS TEXT) IS NULL OR state = $1) \
                       AND (created_at, id) < (COALESCE(CAST($2 AS BIGINT), 9223372036854775807), COALESCE(CAST($3 AS TEXT), '')) \
                     ORDER BY created_at DESC, id DESC LIMIT $4"
                );
                let rows: Vec<OutboxRow> = sqlx::query_as(&sql)
                    .bind(state.map(|s| s.as_str()))
                    .bind(page.after.as_ref().map(|c| c.at))
                    .bind(page.after.as_ref().map(|c| c.id.clone()))
                    .bind(page_limit(page))
                    .fetch_all(&self.pool)
                    .await?;
                to_page(rows, page.limit, |m: &OutboxEntry| Cursor { at: m.created_at.unix(), id: m.id.hyphenated().to_string() })
            }

            async fn retry_message(&self, id: uuid::Uuid, at: Timestamp, audit: &AuditDraft) -> StoreResult<OutboxEntry> {
                let mut tx = self.begin_write().await?;
                let sql = format!(
                    "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = $2 \
                     WHERE id = $1 AND state = 'dead' RETURNING {OUTBOX_COLUMNS}"
                );
                let row: Option<OutboxRow> = sqlx::query_as(&sql)
                    .bind(id.hyphenated().to_string())
                    .bind(at.unix())
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else {
                    return Err(refused_update(&mut tx, "outbox", id, "message_not_dead").await);
                };
                insert_audit(&mut tx, audit, &id.to_string()).await?;
                tx.commit().await?;
                row.try_into()
            }

            async fn outbox_counts(&self) -> StoreResult<Vec<(OutboxState, u64)>> {
                let rows: Vec<(String, i64)> = sqlx::query_as("SELECT state, COUNT(*) FROM outbox GROUP BY state")
                    .fetch_all(&self.pool)
                    .await?;
                rows.into_iter()
                    .map(|(state, count)| {
                        let state = OutboxState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("outbox state {state}")))?;
                        Ok((state, u64::try_from(count).unwrap_or(0)))
                    })
                    .collect()
            }

            async fn request_trial(
                &self,
                draft: &TrialDraft,
                sign: &SignFn<'_>,
                refusal: &RefusalFn<'_>,
            ) -> StoreResult<TrialOutcome> {
                let conflict = match grant_trial(self, draft, sign).await {
                    Ok(Ok(granted)) => return Ok(TrialOutcome::Granted(granted)),
                    Ok(Err(conflict)) => conflict,
                    // A concurrent request won the race for a slot: the constraint said no.
                    Err(StoreError::Conflict("trial_deployment_slot")) => TrialConflict::Deployment,
                    Err(StoreError::Conflict("trial_email_slot")) => TrialConflict::Email,
                    Err(other) => return Err(other),
                };
                let (code, message) = refusal(conflict);
                let mut refused = draft.record.clone();
                refused.outcome = "refused".to_owned();
                refused.refusal_code = Some(code);
                refused.refusal_message = Some(message);
                refused.license_id = None;
                refused.account_id = None;
                refused.expires_at = None;
                insert_trial(&self.pool, &refused, (None, None)).await?;
                Ok(TrialOutcome::Refused(conflict, refused))
            }

            async fn extend_trial(
                &self,
                trial_id: uuid::Uuid,
                audit: &AuditDraft,
                sign: &SignFn<'_>,
            ) -> StoreResult<(TrialRecord, LicenseRecord)> {
                let mut tx = self.begin_write().await?;
                let sql = format!("SELECT {TRIAL_COLUMNS} FROM trials WHERE id = $1");
                let trial: Option<TrialRow> = sqlx::query_as(&sql)
                    .bind(trial_id.hyphenated().to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
                let trial: TrialRecord = trial.ok_or(StoreError::NotFound)?.try_into()?;
                let (Some(license_id), Some(account_id)) = (trial.license_id, trial.account_id) else {
                    return Err(StoreError::Conflict("trial_not_granted"));
                };
                let row = issue_in(&mut tx, account_id, Some(license_id), sign).await?;
                sqlx::query("UPDATE trials SET license_id = $2, expires_at = $3 WHERE id = $1")
                    .bind(trial_id.hyphenated().to_string())
                    .bind(&row.id)
                    .bind(row.expires_at)
                    .execute(&mut *tx)
                    .await?;
                insert_audit(&mut tx, audit, &trial_id.to_string()).await?;
                let sql = format!("SELECT {TRIAL_COLUMNS} FROM trials WHERE id = $1");
                let updated: TrialRow = sqlx::query_as(&sql)
                    .bind(trial_id.hyphenated().to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok((updated.try_into()?, row.try_into()?))
            }

            async fn record_trial(&self, record: &TrialRecord) -> StoreResult<()> {
                insert_trial(&self.pool, record, (None, None)).await
            }

            async fn trial(&self, id: uuid::Uuid) -> StoreResult<TrialRecord> {
                let sql = format!("SELECT {TRIAL_COLUMNS} FROM trials WHERE id = $1");
                let row: Option<TrialRow> = sqlx::query_as(&sql)
                    .bind(id.hyphenated().to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.ok_or(StoreError::NotFound)?.try_into()
            }

            async fn list_trials(&self, filter: &TrialFilter, page: &PageRequest) -> StoreResult<Page<TrialRecord>> {
                let sql = format!(
                    "SELECT {TRIAL_COLUMNS} FROM trials \
                     WHERE (CAST($1 AS TEXT) IS NULL OR email_key = $1) \
                       AND (CAST($2 AS TEXT) IS NULL OR email_domain = $2) \
                       AND (CAST($3 AS TEXT) IS NULL OR deployment_id = $3) \
                       AND (CAST($4 AS TEXT) IS NULL OR outcome = $4) \
                       AND (CAST($5 AS BIGINT) IS NULL OR requested_at >= $5) \
                       AND (CAST($6 AS BIGINT) IS NULL OR requested_at < $6) \
                       AND (requested_at, id) < (COALESCE(CAST($7 AS BIGINT), 9223372036854775807), COALESCE(CAST($8 AS TEXT), '')) \
                     ORDER BY requested_at DESC, id DESC LIMIT $9"
                );
                let rows: Vec<TrialRow> = sqlx::query_as(&sql)
                    .bind(filter.email_key.clone())
                    .bind(filter.email_domain.clone())
                    .bind(filter.deployment_id.clone())
                    .bind(filter.outcome.clone())
                    .bind(filter.since.map(|t| t.unix()))
                    .bind(filter.until.map(|t| t.unix()))
                    .bind(page.after.as_ref().map(|c| c.at))
                    .bind(page.after.as_ref().map(|c| c.id.clone()))
                    .bind(page_limit(page))
                    .fetch_all(&self.pool)
                    .await?;
                to_page(rows, page.limit, |t: &TrialRecord| Cursor { at: t.requested_at.unix(), id: t.id.hyphenated().to_string() })
            }

            async fn create_evaluation(&self, e: &NewEvaluation, audit: &AuditDraft) -> StoreResult<Evaluation> {
                let mut tx = self.begin_write().await?;
                let (account, email, domain) = match &e.subject {
                    EvaluationSubject::Account(id) => (Some(id.0.hyphenated().to_string()), None, None),
                    EvaluationSubject::Email(key) => (None, Some(key.clone()), None),
                    EvaluationSubject::EmailDomain(domain) => (None, None, Some(domain.clone())),
                };
                let waives = serde_json::to_string(&e.waives).map_err(|err| StoreError::Database(err.to_string()))?;
                let sql = format!(
                    "INSERT INTO evaluations ({EVALUATION_COLUMNS}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL, NULL, NULL) RETURNING {EVALUATION_COLUMNS}"
                );
                let row: EvaluationRow = sqlx::query_as(&sql)
                    .bind(e.id.hyphenated().to_string())
                    .bind(account)
                    .bind(email)
                    .bind(domain)
                    .bind(&e.reason)
                    .bind(&e.approved_by)
                    .bind(e.starts_at.unix())
                    .bind(e.ends_at.unix())
                    .bind(waives)
                    .bind(e.max_term_days.map(i64::from))
                    .bind(e.user_limit)
                    .bind(e.created_at.unix())
                    .bind(&e.created_by)
                    .fetch_one(&mut *tx)
                    .await?;
                insert_audit(&mut tx, audit, &e.id.to_string()).await?;
                tx.commit().await?;
                row.try_into()
            }

            async fn evaluation(&self, id: uuid::Uuid) -> StoreResult<Evaluation> {
                let sql = format!("SELECT {EVALUATION_COLUMNS} FROM evaluations WHERE id = $1");
                let row: Option<EvaluationRow> = sqlx::query_as(&sql)
                    .bind(id.hyphenated().to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.ok_or(StoreError::NotFound)?.try_into()
            }

            async fn list_evaluations(&self, active_at: Option<Timestamp>, page: &PageRequest) -> StoreResult<Page<Evaluation>> {
                let sql = format!(
                    "SELECT {EVALUATION_COLUMNS} FROM evaluations \
                     WHERE (CAST($1 AS BIGINT) IS NULL OR (ended_at IS NULL AND starts_at <= $1 AND ends_at > $1)) \
                       AND (created_at, id) < (COALESCE(CAST($2 AS BIGINT), 9223372036854775807), COALESCE(CAST($3 AS TEXT), '')) \
                     ORDER BY created_at DESC, id DESC LIMIT $4"
                );
                let rows: Vec<EvaluationRow> = sqlx::query_as(&sql)
                    .bind(active_at.map(|t| t.unix()))
                    .bind(page.after.as_ref().map(|c| c.at))
                    .bind(page.after.as_ref().map(|c| c.id.clone()))
                    .bind(page_limit(page))
                    .fetch_all(&self.pool)
                    .await?;
                to_page(rows, page.limit, |e: &Evaluation| Cursor { at: e.created_at.unix(), id: e.id.hyphenated().to_string() })
            }

            async fn end_evaluation(&self, id: uuid::Uuid, reason: &str, audit: &AuditDraft) -> StoreResult<Evaluation> {
                let mut tx = self.begin_write().await?;
                let sql = format!(
                    "UPDATE evaluations SET ended_at = $2, ended_by = $3, end_reason = $4 \
                     WHERE id = $1 AND ended_at IS NULL RETURNING {EVALUATION_COLUMNS}"
                );
                let row: Option<EvaluationRow> = sqlx::query_as(&sql)
                    .bind(id.hyphenated().to_string())
                    .bind(audit.at.unix())
                    .bind(&audit.actor)
                    .bind(reason)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else {
                    return Err(refused_update(&mut tx, "evaluations", id, "evaluation_ended").await);
                };
                insert_audit(&mut tx, audit, &id.to_string()).await?;
                tx.commit().await?;
                row.try_into()
            }

            async fn active_evaluation(
                &self,
                email_key: &str,
                email_domain: &str,
                account_email: &str,
                at: Timestamp,
            ) -> StoreResult<Option<Evaluation>> {
                let sql = format!(
                    "SELECT {EVALUATION_COLUMNS} FROM evaluations \
                     WHERE ended_at IS NULL AND starts_at <= $1 AND ends_at > $1 \
                       AND (email_key = $2 OR email_domain = $3 \
                            OR account_id IN (SELECT id FROM accounts WHERE lower(email) = $4)) \
                     ORDER BY created_at DESC, id DESC LIMIT 1"
                );
                let row: Option<EvaluationRow> = sqlx::query_as(&sql)
                    .bind(at.unix())
                    .bind(email_key)
                    .bind(email_domain)
                    .bind(account_email)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn licenses_by_ids(&self, ids: &[LicenseId]) -> StoreResult<Vec<LicenseRecord>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!("SELECT {LICENSE_COLUMNS} FROM licenses WHERE id IN ({})", placeholders(1, ids.len()));
                let mut query = sqlx::query_as::<_, LicenseRow>(&sql);
                for id in ids {
                    query = query.bind(license_id_text(*id));
                }
                query.fetch_all(&self.pool).await?.into_iter().map(TryInto::try_into).collect()
            }

            async fn record_checkin(&self, c: &CheckinDraft) -> StoreResult<Deployment> {
                let ids: Vec<String> = c.license_ids.iter().map(|id| license_id_text(*id)).collect();
                let ids = serde_json::to_string(&ids).map_err(|e| StoreError::Database(e.to_string()))?;
                let users = i64::try_from(c.active_users).unwrap_or(i64::MAX);
                let over = c.user_limit.is_some_and(|seats| users > seats);
                let mut tx = self.begin_write().await?;
                let sql = format!(
                    "INSERT INTO deployments ({DEPLOYMENT_COLUMNS}) VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, 1) \
                     ON CONFLICT (id) DO UPDATE SET \
                       last_seen_at = CASE WHEN excluded.last_seen_at > deployments.last_seen_at \
                                      THEN excluded.last_seen_at ELSE deployments.last_seen_at END, \
                       product_version = excluded.product_version, active_users = excluded.active_users, \
                       license_ids = excluded.license_ids, user_limit = excluded.user_limit, \
                       over_seat_limit = excluded.over_seat_limit, trial = excluded.trial, \
                       account_id = COALESCE(excluded.account_id, deployments.account_id), \
                       checkins = deployments.checkins + 1 \
                     RETURNING {DEPLOYMENT_COLUMNS}"
                );
                let row: DeploymentRow = sqlx::query_as(&sql)
                    .bind(&c.deployment_id)
                    .bind(c.at.unix())
                    .bind(&c.product_version)
                    .bind(users)
                    .bind(&ids)
                    .bind(c.user_limit)
                    .bind(over)
                    .bind(c.trial)
                    .bind(c.account_id.map(|a| a.0.hyphenated().to_string()))
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO checkins (deployment_id, at, active_users, product_version, license_ids, client_address) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&c.deployment_id)
                .bind(c.at.unix())
                .bind(users)
                .bind(&c.product_version)
                .bind(&ids)
                .bind(&c.client_address)
                .execute(&mut *tx)
                .await?;
                for license in &c.known_license_ids {
                    sqlx::query(
                        "INSERT INTO license_deployments (license_id, deployment_id, first_seen_at, last_seen_at) \
                         VALUES ($1, $2, $3, $3) ON CONFLICT (license_id, deployment_id) \
                         DO UPDATE SET last_seen_at = excluded.last_seen_at",
                    )
                    .bind(license_id_text(*license))
                    .bind(&c.deployment_id)
                    .bind(c.at.unix())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                row.try_into()
            }

            async fn revocations(&self) -> StoreResult<(u64, Vec<(LicenseId, Timestamp)>)> {
                let rows: Vec<(i64, String, i64)> =
                    sqlx::query_as("SELECT sequence, license_id, revoked_at FROM revocations ORDER BY sequence")
                        .fetch_all(&self.pool)
                        .await?;
                let sequence = rows.last().map_or(Ok(0), |(s, _, _)| unsigned(*s))?;
                let revoked = rows
                    .into_iter()
                    .map(|(_, id, at)| {
                        let id = uuid::Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        let at = Timestamp::from_unix(at).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        Ok((id, at))
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok((sequence, revoked))
            }

            async fn list_deployments(&self, filter: &DeploymentFilter, page: &PageRequest) -> StoreResult<Page<Deployment>> {
                let sql = format!(
                    "SELECT {DEPLOYMENT_COLUMNS} FROM deployments \
                     WHERE (CAST($1 AS BIGINT) IS NULL OR last_seen_at < $1) \
                       AND (CAST($2 AS BOOLEAN) IS NULL OR over_seat_limit = $2) \
                       AND (CAST($3 AS BOOLEAN) IS NULL OR trial = $3) \
                       AND (CAST($4 AS TEXT) IS NULL OR account_id = $4) \
                       AND (last_seen_at, id) < (COALESCE(CAST($5 AS BIGINT), 9223372036854775807), COALESCE(CAST($6 AS TEXT), '')) \
                     ORDER BY last_seen_at DESC, id DESC LIMIT $7"
                );
                let rows: Vec<DeploymentRow> = sqlx::query_as(&sql)
                    .bind(filter.not_seen_since.map(|t| t.unix()))
                    .bind(filter.over_seat_limit)
                    .bind(filter.trial)
                    .bind(filter.account_id.map(|a| a.0.hyphenated().to_string()))
                    .bind(page.after.as_ref().map(|c| c.at))
                    .bind(page.after.as_ref().map(|c| c.id.clone()))
                    .bind(page_limit(page))
                    .fetch_all(&self.pool)
                    .await?;
                to_page(rows, page.limit, |d: &Deployment| Cursor { at: d.last_seen_at.unix(), id: d.id.clone() })
            }

            async fn deployment(&self, id: &str) -> StoreResult<Deployment> {
                let sql = format!("SELECT {DEPLOYMENT_COLUMNS} FROM deployments WHERE id = $1");
                let row: Option<DeploymentRow> = sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.ok_or(StoreError::NotFound)?.try_into()
            }

            async fn list_checkins(&self, deployment_id: &str, page: &PageRequest) -> StoreResult<Page<CheckinEntry>> {
                let rows: Vec<CheckinRow> = sqlx::query_as(
                    "SELECT id, at, active_users, product_version, license_ids, client_address FROM checkins \
                     WHERE deployment_id = $1 AND id < COALESCE(CAST($2 AS BIGINT), 9223372036854775807) ORDER BY id DESC LIMIT $3",
                )
                .bind(deployment_id)
                .bind(page.after.as_ref().map(|c| c.at))
                .bind(page_limit(page))
                .fetch_all(&self.pool)
                .await?;
                to_page(rows, page.limit, |c: &CheckinEntry| Cursor { at: c.id, id: String::new() })
            }

            async fn license_deployment_counts(&self, ids: &[LicenseId], since: Timestamp) -> StoreResult<Vec<(LicenseId, u64)>> {
                if ids.is_empty() {
                    return Ok(Vec::new());
                }
                let sql = format!(
                    "SELECT license_id, COUNT(*) FROM license_deployments WHERE last_seen_at >= $1 AND license_id IN ({}) \
                     GROUP BY license_id",
                    placeholders(2, ids.len())
                );
                let mut query = sqlx::query_as::<_, (String, i64)>(&sql).bind(since.unix());
                for id in ids {
                    query = query.bind(license_id_text(*id));
                }
                query
                    .fetch_all(&self.pool)
                    .await?
                    .into_iter()
                    .map(|(id, count)| {
                        let id = uuid::Uuid::parse_str(&id).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                        Ok((id, unsigned(count)?))
                    })
                    .collect()
            }

            async fn list_audit(&self, page: &PageRequest) -> StoreResult<Page<AuditEntry>> {
                let rows: Vec<AuditRow> = sqlx::query_as(
                    "SELECT id, at, actor, action, target, details FROM audit_log \
                     WHERE id < COALESCE(CAST($1 AS BIGINT), 9223372036854775807) ORDER BY id DESC LIMIT $2",
                )
                .bind(page.after.as_ref().map(|c| c.at))
                .bind(page_limit(page))
                .fetch_all(&self.pool)
                .await?;
                to_page(rows, page.limit, |e: &AuditEntry| Cursor { at: e.id, id: String::new() })
            }
        }
    };
}

pub(super) use impl_store;
