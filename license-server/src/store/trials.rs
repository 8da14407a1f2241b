//! Trial requests, granted and refused, with the slots that make the once-ever rules hold
//! across replicas (unique columns) and the per-domain row the domain limit is counted under.

use super::accounts::AccountId;
use super::rows::{corrupt, timestamp, timestamp_opt, uuid, uuid_opt};
use super::{
    Conflict, Conn, Cursor, Page, PageRequest, Statement, StoreError, StoreResult, UniqueRule,
};
use const_format::concatcp;
use license_core::{LicenseId, Timestamp};

/// Whether a trial request was granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrialOutcome {
    /// A trial license was issued.
    Granted,
    /// A rule refused it.
    Refused,
}

impl TrialOutcome {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            TrialOutcome::Granted => "granted",
            TrialOutcome::Refused => "refused",
        }
    }

    fn parse(text: &str) -> StoreResult<Self> {
        match text {
            "granted" => Ok(TrialOutcome::Granted),
            "refused" => Ok(TrialOutcome::Refused),
            other => Err(corrupt("trial outcome", other)),
        }
    }
}

/// A trial request as recorded, granted or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialRecord {
    /// Its id.
    pub id: uuid::Uuid,
    /// The address as given.
    pub email: String,
    /// Normalized address.
    pub email_key: String,
    /// Domain.
    pub email_domain: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Company.
    pub company: String,
    /// Country.
    pub country: String,
    /// Team size.
    pub developers: String,
    /// Deployment.
    pub deployment_id: String,
    /// Product version.
    pub product_version: String,
    /// The client's address.
    pub client_address: Option<String>,
    /// When.
    pub requested_at: Timestamp,
    /// Granted or refused.
    pub outcome: TrialOutcome,
    /// The code of the rule that refused it.
    pub refusal_code: Option<String>,
    /// The refusal's sentence.
    pub refusal_message: Option<String>,
    /// The trial license.
    pub license_id: Option<LicenseId>,
    /// The account it was issued to.
    pub account_id: Option<AccountId>,
    /// The enrollment it was granted under.
    pub evaluation_id: Option<uuid::Uuid>,
    /// When the trial ends.
    pub expires_at: Option<Timestamp>,
    /// When its license first checked in (proving the mailbox received it); until then it
    /// holds no email slot and does not count toward the domain limit.
    pub confirmed_at: Option<Timestamp>,
}

/// The once-ever slots a granted trial takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slots {
    /// Take the deployment's slot.
    pub deployment: bool,
    /// Take the email's slot.
    pub email: bool,
}

/// A once-ever rule kept by a unique slot column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// One trial per deployment.
    Deployment,
    /// One trial per email.
    Email,
}

/// Filters for listing trials.
#[derive(Debug, Clone, Default)]
pub struct TrialFilter {
    /// Normalized email.
    pub email_key: Option<String>,
    /// Domain.
    pub email_domain: Option<String>,
    /// Deployment.
    pub deployment_id: Option<String>,
    /// Granted or refused.
    pub outcome: Option<TrialOutcome>,
    /// Requested at or after.
    pub since: Option<Timestamp>,
    /// Requested before.
    pub until: Option<Timestamp>,
}

const COLUMNS: &str = "id, email, email_key, email_domain, first_name, last_name, company, \
    country, developers, deployment_id, product_version, client_address, requested_at, outcome, refusal_code, \
    refusal_message, license_id, account_id, evaluation_id, expires_at, confirmed_at";

static INSERT: Statement = Statement::new(
    "trials.insert",
    concatcp!(
        "INSERT INTO trials (",
        COLUMNS,
        ", deployment_slot, email_slot) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) \
         ON CONFLICT DO NOTHING"
    ),
);
static GET: Statement = Statement::new(
    "trials.get",
    concatcp!("SELECT ", COLUMNS, " FROM trials WHERE id = $1"),
);
static LIST: Statement = Statement::new(
    "trials.list",
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM trials \
         WHERE (CAST($1 AS TEXT) IS NULL OR email_key = $1) \
           AND (CAST($2 AS TEXT) IS NULL OR email_domain = $2) \
           AND (CAST($3 AS TEXT) IS NULL OR deployment_id = $3) \
           AND (CAST($4 AS TEXT) IS NULL OR outcome = $4) \
           AND (CAST($5 AS BIGINT) IS NULL OR requested_at >= $5) \
           AND (CAST($6 AS BIGINT) IS NULL OR requested_at < $6) \
           AND (requested_at, id) < (COALESCE(CAST($7 AS BIGINT), 9223372036854775807), COALESCE(CAST($8 AS TEXT), '')) \
         ORDER BY requested_at DESC, id DESC LIMIT $9"
    ),
);
static LOCK_DOMAIN: Statement = Statement::new(
    "trials.lock_domain",
    "INSERT INTO trial_domains (domain, touched_at) VALUES ($1, $2) \
     ON CONFLICT (domain) DO UPDATE SET touched_at = excluded.touched_at",
);
static CONFIRMED_SINCE: Statement = Statement::new(
    "trials.confirmed_since",
    "SELECT COUNT(*) FROM trials WHERE email_domain = $1 AND outcome = 'granted' \
     AND confirmed_at IS NOT NULL AND requested_at >= $2",
);
static MAILED_TO_ADDRESS_SINCE: Statement = Statement::new(
    "trials.mailed_to_address_since",
    "SELECT COUNT(*) FROM trials WHERE email_key = $1 AND outcome = 'granted' AND requested_at >= $2",
);
static MAILED_TO_DOMAIN_SINCE: Statement = Statement::new(
    "trials.mailed_to_domain_since",
    "SELECT COUNT(*) FROM trials WHERE email_domain = $1 AND outcome = 'granted' AND requested_at >= $2",
);
static PENDING_FOR_LICENSE: Statement = Statement::new(
    "trials.pending_for_license",
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM trials WHERE license_id = $1 AND outcome = 'granted' AND confirmed_at IS NULL"
    ),
);
static CONFIRM: Statement = Statement::new(
    "trials.confirm",
    "UPDATE trials SET confirmed_at = $2, email_slot = $3 WHERE id = $1 AND confirmed_at IS NULL",
);
static REFUSE_PENDING: Statement = Statement::new(
    "trials.refuse_pending",
    "UPDATE trials SET outcome = 'refused', refusal_code = $2, refusal_message = $3 \
     WHERE id = $1 AND confirmed_at IS NULL",
);
static DEPLOYMENT_SLOT: Statement = Statement::new(
    "trials.deployment_slot",
    "SELECT id FROM trials WHERE deployment_slot = $1",
);
static EMAIL_SLOT: Statement = Statement::new(
    "trials.email_slot",
    "SELECT id FROM trials WHERE email_slot = $1",
);
static SET_LICENSE: Statement = Statement::new(
    "trials.set_license",
    "UPDATE trials SET license_id = $2, expires_at = $3 WHERE id = $1",
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[
    &INSERT,
    &GET,
    &LIST,
    &LOCK_DOMAIN,
    &CONFIRMED_SINCE,
    &MAILED_TO_ADDRESS_SINCE,
    &MAILED_TO_DOMAIN_SINCE,
    &PENDING_FOR_LICENSE,
    &CONFIRM,
    &REFUSE_PENDING,
    &DEPLOYMENT_SLOT,
    &EMAIL_SLOT,
    &SET_LICENSE,
];

#[derive(sqlx::FromRow)]
struct TrialRow {
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
    confirmed_at: Option<i64>,
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
            outcome: TrialOutcome::parse(&r.outcome)?,
            refusal_code: r.refusal_code,
            refusal_message: r.refusal_message,
            license_id: uuid_opt(r.license_id.as_deref())?,
            account_id: uuid_opt(r.account_id.as_deref())?.map(AccountId),
            evaluation_id: uuid_opt(r.evaluation_id.as_deref())?,
            expires_at: timestamp_opt(r.expires_at)?,
            confirmed_at: timestamp_opt(r.confirmed_at)?,
        })
    }
}

/// Records a trial request, taking `slots`. A slot another trial holds is refused as
/// `Err(slot)`: the unique column decides, so concurrent requests on any number of replicas
/// cannot both take it.
pub async fn insert(
    mut conn: Conn<'_>,
    t: &TrialRecord,
    slots: Slots,
) -> StoreResult<Result<(), Slot>> {
    let inserted = INSERT
        .bind(t.id)
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
        .bind(t.client_address.as_deref())
        .bind(t.requested_at)
        .bind(t.outcome.as_str())
        .bind(t.refusal_code.as_deref())
        .bind(t.refusal_message.as_deref())
        .bind(t.license_id)
        .bind(t.account_id.map(|a| a.0))
        .bind(t.evaluation_id)
        .bind(t.expires_at)
        .bind(t.confirmed_at)
        .bind(slots.deployment.then_some(t.deployment_id.as_str()))
        .bind(slots.email.then_some(t.email_key.as_str()))
        .execute(conn.reborrow())
        .await?;
    if inserted == 1 {
        return Ok(Ok(()));
    }
    // Nothing inserted, and no error raised (which on Postgres would abort the caller's
    // transaction): find the rule that said no. A concurrent holder has committed by now,
    // as the insert waited for it.
    if slots.deployment && slot_taken(conn.reborrow(), Slot::Deployment, &t.deployment_id).await? {
        return Ok(Err(Slot::Deployment));
    }
    if slots.email && slot_taken(conn, Slot::Email, &t.email_key).await? {
        return Ok(Err(Slot::Email));
    }
    Err(StoreError::Conflict(Conflict::Unique(UniqueRule::Other)))
}

/// One trial request.
pub async fn get(conn: Conn<'_>, id: uuid::Uuid) -> StoreResult<TrialRecord> {
    GET.bind(id).fetch_one::<TrialRow>(conn).await?.try_into()
}

/// Trial requests, newest first.
pub async fn list(
    conn: Conn<'_>,
    filter: &TrialFilter,
    page: &PageRequest,
) -> StoreResult<Page<TrialRecord>> {
    let rows: Vec<TrialRow> = LIST
        .bind(filter.email_key.as_deref())
        .bind(filter.email_domain.as_deref())
        .bind(filter.deployment_id.as_deref())
        .bind(filter.outcome.map(TrialOutcome::as_str))
        .bind(filter.since)
        .bind(filter.until)
        .bind(page.after_at())
        .bind(page.after_id())
        .bind(page.fetch_limit())
        .fetch_all(conn)
        .await?;
    Page::from_rows(rows, page, |t: &TrialRecord| Cursor {
        at: t.requested_at.unix(),
        id: t.id.hyphenated().to_string(),
    })
}

/// Locks the domain's row until the transaction ends: requests of one domain queue here, so
/// counting its grants afterwards cannot be raced past the limit.
pub async fn lock_domain(conn: Conn<'_>, domain: &str, at: Timestamp) -> StoreResult<()> {
    LOCK_DOMAIN.bind(domain).bind(at).execute(conn).await?;
    Ok(())
}

/// How many trials of `domain` requested since `since` were granted and confirmed.
pub async fn confirmed_since(conn: Conn<'_>, domain: &str, since: Timestamp) -> StoreResult<u64> {
    count(&CONFIRMED_SINCE, conn, domain, since).await
}

/// How many trial licenses were mailed to mailbox `email_key` since `since`.
pub async fn mailed_to_address_since(
    conn: Conn<'_>,
    email_key: &str,
    since: Timestamp,
) -> StoreResult<u64> {
    count(&MAILED_TO_ADDRESS_SINCE, conn, email_key, since).await
}

/// How many trial licenses were mailed to addresses of `domain` since `since`.
pub async fn mailed_to_domain_since(
    conn: Conn<'_>,
    domain: &str,
    since: Timestamp,
) -> StoreResult<u64> {
    count(&MAILED_TO_DOMAIN_SINCE, conn, domain, since).await
}

async fn count(
    statement: &'static Statement,
    conn: Conn<'_>,
    key: &str,
    since: Timestamp,
) -> StoreResult<u64> {
    let (count,): (i64,) = statement.bind(key).bind(since).fetch_one(conn).await?;
    super::rows::unsigned(count)
}

/// The granted, unconfirmed trial whose current license is `license`.
pub async fn pending_for_license(
    conn: Conn<'_>,
    license: LicenseId,
) -> StoreResult<Option<TrialRecord>> {
    PENDING_FOR_LICENSE
        .bind(license)
        .fetch_optional::<TrialRow>(conn)
        .await?
        .map(TryInto::try_into)
        .transpose()
}

/// Confirms pending trial `id` at `at`, taking its email slot when `email_slot` is given.
/// False when it was confirmed (or refused) already.
pub async fn confirm(
    conn: Conn<'_>,
    id: uuid::Uuid,
    at: Timestamp,
    email_slot: Option<&str>,
) -> StoreResult<bool> {
    let changed = CONFIRM
        .bind(id)
        .bind(at)
        .bind(email_slot)
        .execute(conn)
        .await?;
    Ok(changed == 1)
}

/// Marks pending trial `id` refused by the rule `code` at its confirmation.
pub async fn refuse_pending(
    conn: Conn<'_>,
    id: uuid::Uuid,
    code: &str,
    message: &str,
) -> StoreResult<bool> {
    let changed = REFUSE_PENDING
        .bind(id)
        .bind(code)
        .bind(message)
        .execute(conn)
        .await?;
    Ok(changed == 1)
}

/// Whether another trial holds `slot` for `value` (the deployment id or the email key).
pub async fn slot_taken(conn: Conn<'_>, slot: Slot, value: &str) -> StoreResult<bool> {
    let statement = match slot {
        Slot::Deployment => &DEPLOYMENT_SLOT,
        Slot::Email => &EMAIL_SLOT,
    };
    let holder: Option<(String,)> = statement.bind(value).fetch_optional(conn).await?;
    Ok(holder.is_some())
}

/// Points a granted trial at its current license (after an extension).
pub async fn set_license(
    conn: Conn<'_>,
    id: uuid::Uuid,
    license: LicenseId,
    expires_at: Timestamp,
) -> StoreResult<()> {
    SET_LICENSE
        .bind(id)
        .bind(license)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}
