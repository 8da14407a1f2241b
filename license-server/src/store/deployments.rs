//! Deployments as their check-ins describe them, the check-in history, and which deployments
//! each license was reported from (for the overuse flag).

use super::accounts::AccountId;
use super::rows::{json, timestamp, to_json, unsigned, uuid, uuid_opt};
use super::{Conn, Cursor, Page, PageRequest, Statement, StoreError, StoreResult};
use const_format::concatcp;
use license_core::{LicenseId, Timestamp};

/// A check-in to record, with what the licensor concluded from the reported licenses.
#[derive(Debug, Clone)]
pub struct CheckinDraft {
    /// The deployment.
    pub deployment_id: String,
    /// The licensor's time.
    pub at: Timestamp,
    /// Active users reported.
    pub active_users: u64,
    /// Product version reported.
    pub product_version: String,
    /// Every license id reported.
    pub license_ids: Vec<LicenseId>,
    /// The reported ids this licensor issued (recorded per license for the overuse flag).
    pub known_license_ids: Vec<LicenseId>,
    /// The seats of the best active license reported.
    pub user_limit: Option<i64>,
    /// An active reported license is a trial.
    pub trial: bool,
    /// The account of the reported licenses, when known.
    pub account_id: Option<AccountId>,
    /// The client's address.
    pub client_address: Option<String>,
}

/// A deployment as the licensor knows it from its check-ins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Its id.
    pub id: String,
    /// First check-in.
    pub first_seen_at: Timestamp,
    /// Latest check-in.
    pub last_seen_at: Timestamp,
    /// Product version at the latest check-in.
    pub product_version: String,
    /// Active users at the latest check-in.
    pub active_users: u64,
    /// Licenses reported at the latest check-in.
    pub license_ids: Vec<String>,
    /// Seats of the best active license reported.
    pub user_limit: Option<i64>,
    /// More active users than seats at the latest check-in.
    pub over_seat_limit: bool,
    /// Runs a trial.
    pub trial: bool,
    /// The account its licenses belong to.
    pub account_id: Option<AccountId>,
    /// Check-ins so far.
    pub checkins: u64,
}

/// One recorded check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckinEntry {
    /// Its position in the history.
    pub id: i64,
    /// When.
    pub at: Timestamp,
    /// Active users.
    pub active_users: u64,
    /// Product version.
    pub product_version: String,
    /// Licenses reported.
    pub license_ids: Vec<String>,
    /// The client's address.
    pub client_address: Option<String>,
}

/// Filters for listing deployments; all optional.
#[derive(Debug, Clone, Default)]
pub struct DeploymentFilter {
    /// Not seen since this time.
    pub not_seen_since: Option<Timestamp>,
    /// Over (or within) their seats.
    pub over_seat_limit: Option<bool>,
    /// Running a trial or not.
    pub trial: Option<bool>,
    /// Of this account.
    pub account_id: Option<AccountId>,
}

const COLUMNS: &str = "id, first_seen_at, last_seen_at, product_version, active_users, \
    license_ids, user_limit, over_seat_limit, trial, account_id, checkins";

static UPSERT: Statement = Statement::new(
    "deployments.upsert",
    concatcp!(
        "INSERT INTO deployments (",
        COLUMNS,
        ") VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8, $9, 1) \
         ON CONFLICT (id) DO UPDATE SET \
           last_seen_at = CASE WHEN excluded.last_seen_at > deployments.last_seen_at \
                          THEN excluded.last_seen_at ELSE deployments.last_seen_at END, \
           product_version = excluded.product_version, active_users = excluded.active_users, \
           license_ids = excluded.license_ids, user_limit = excluded.user_limit, \
           over_seat_limit = excluded.over_seat_limit, trial = excluded.trial, \
           account_id = COALESCE(excluded.account_id, deployments.account_id), \
           checkins = deployments.checkins + 1 \
         RETURNING ",
        COLUMNS
    ),
);
static INSERT_CHECKIN: Statement = Statement::new(
    "deployments.insert_checkin",
    "INSERT INTO checkins (deployment_id, at, active_users, product_version, license_ids, client_address) \
     VALUES ($1, $2, $3, $4, $5, $6)",
);
static SEEN_WITH: Statement = Statement::new(
    "deployments.seen_with",
    "INSERT INTO license_deployments (license_id, deployment_id, first_seen_at, last_seen_at) \
     VALUES ($1, $2, $3, $3) ON CONFLICT (license_id, deployment_id) \
     DO UPDATE SET last_seen_at = excluded.last_seen_at",
);
static LIST: Statement = Statement::new(
    "deployments.list",
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM deployments \
         WHERE (CAST($1 AS BIGINT) IS NULL OR last_seen_at < $1) \
           AND (CAST($2 AS BOOLEAN) IS NULL OR over_seat_limit = $2) \
           AND (CAST($3 AS BOOLEAN) IS NULL OR trial = $3) \
           AND (CAST($4 AS TEXT) IS NULL OR account_id = $4) \
           AND (last_seen_at, id) < (COALESCE(CAST($5 AS BIGINT), 9223372036854775807), COALESCE(CAST($6 AS TEXT), '')) \
         ORDER BY last_seen_at DESC, id DESC LIMIT $7"
    ),
);
static GET: Statement = Statement::new(
    "deployments.get",
    concatcp!("SELECT ", COLUMNS, " FROM deployments WHERE id = $1"),
);
static CHECKINS: Statement = Statement::new(
    "deployments.checkins",
    "SELECT id, at, active_users, product_version, license_ids, client_address FROM checkins \
     WHERE deployment_id = $1 AND id < COALESCE(CAST($2 AS BIGINT), 9223372036854775807) \
     ORDER BY id DESC LIMIT $3",
);
static SEEN_COUNTS: Statement = Statement::per_backend(
    "deployments.seen_counts",
    "SELECT license_id, COUNT(*) FROM license_deployments WHERE last_seen_at >= $1 \
     AND license_id IN (SELECT jsonb_array_elements_text(CAST($2 AS JSONB))) GROUP BY license_id",
    "SELECT license_id, COUNT(*) FROM license_deployments WHERE last_seen_at >= $1 \
     AND license_id IN (SELECT value FROM json_each($2)) GROUP BY license_id",
);

/// The `SET` of a batch's upsert: as [`UPSERT`]'s, with `checkins` raised by the batch's count.
const UPSERT_MANY_SET: &str = " ON CONFLICT (id) DO UPDATE SET \
       last_seen_at = CASE WHEN excluded.last_seen_at > deployments.last_seen_at \
                      THEN excluded.last_seen_at ELSE deployments.last_seen_at END, \
       product_version = excluded.product_version, active_users = excluded.active_users, \
       license_ids = excluded.license_ids, user_limit = excluded.user_limit, \
       over_seat_limit = excluded.over_seat_limit, trial = excluded.trial, \
       account_id = COALESCE(excluded.account_id, deployments.account_id), \
       checkins = deployments.checkins + excluded.checkins";
static UPSERT_MANY: Statement = Statement::per_backend(
    "deployments.upsert_many",
    concatcp!(
        "INSERT INTO deployments (",
        COLUMNS,
        ") SELECT x.id, x.first_seen_at, x.last_seen_at, x.product_version, x.active_users, \
           x.license_ids, x.user_limit, x.over_seat_limit, x.trial, x.account_id, x.checkins \
         FROM jsonb_to_recordset(CAST($1 AS JSONB)) AS x(id TEXT, first_seen_at BIGINT, \
           last_seen_at BIGINT, product_version TEXT, active_users BIGINT, license_ids TEXT, \
           user_limit BIGINT, over_seat_limit BOOLEAN, trial BOOLEAN, account_id TEXT, \
           checkins BIGINT)",
        UPSERT_MANY_SET
    ),
    concatcp!(
        "INSERT INTO deployments (",
        COLUMNS,
        ") SELECT json_extract(value, '$.id'), json_extract(value, '$.first_seen_at'), \
           json_extract(value, '$.last_seen_at'), json_extract(value, '$.product_version'), \
           json_extract(value, '$.active_users'), json_extract(value, '$.license_ids'), \
           json_extract(value, '$.user_limit'), json_extract(value, '$.over_seat_limit'), \
           json_extract(value, '$.trial'), json_extract(value, '$.account_id'), \
           json_extract(value, '$.checkins') \
         FROM json_each($1) WHERE true",
        UPSERT_MANY_SET
    ),
);
static INSERT_CHECKINS: Statement = Statement::per_backend(
    "deployments.insert_checkins",
    "INSERT INTO checkins (deployment_id, at, active_users, product_version, license_ids, client_address) \
     SELECT e.v->>'deployment_id', CAST(e.v->>'at' AS BIGINT), CAST(e.v->>'active_users' AS BIGINT), \
       e.v->>'product_version', e.v->>'license_ids', e.v->>'client_address' \
     FROM jsonb_array_elements(CAST($1 AS JSONB)) WITH ORDINALITY AS e(v, n) ORDER BY e.n",
    "INSERT INTO checkins (deployment_id, at, active_users, product_version, license_ids, client_address) \
     SELECT json_extract(value, '$.deployment_id'), json_extract(value, '$.at'), \
       json_extract(value, '$.active_users'), json_extract(value, '$.product_version'), \
       json_extract(value, '$.license_ids'), json_extract(value, '$.client_address') \
     FROM json_each($1) ORDER BY key",
);
static SEEN_WITH_MANY: Statement = Statement::per_backend(
    "deployments.seen_with_many",
    "INSERT INTO license_deployments (license_id, deployment_id, first_seen_at, last_seen_at) \
     SELECT x.license_id, x.deployment_id, x.at, x.at \
     FROM jsonb_to_recordset(CAST($1 AS JSONB)) AS x(license_id TEXT, deployment_id TEXT, at BIGINT) \
     ON CONFLICT (license_id, deployment_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
    "INSERT INTO license_deployments (license_id, deployment_id, first_seen_at, last_seen_at) \
     SELECT json_extract(value, '$.license_id'), json_extract(value, '$.deployment_id'), \
       json_extract(value, '$.at'), json_extract(value, '$.at') FROM json_each($1) WHERE true \
     ON CONFLICT (license_id, deployment_id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
);
static GET_MANY: Statement = Statement::per_backend(
    "deployments.get_many",
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM deployments WHERE id IN (SELECT jsonb_array_elements_text(CAST($1 AS JSONB)))"
    ),
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM deployments WHERE id IN (SELECT value FROM json_each($1))"
    ),
);
static LICENSE_GENERATION: Statement = Statement::new(
    "deployments.license_generation",
    "SELECT value FROM license_generation WHERE id = 1",
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[
    &UPSERT,
    &UPSERT_MANY,
    &INSERT_CHECKINS,
    &SEEN_WITH_MANY,
    &GET_MANY,
    &LICENSE_GENERATION,
    &INSERT_CHECKIN,
    &SEEN_WITH,
    &LIST,
    &GET,
    &CHECKINS,
    &SEEN_COUNTS,
];

#[derive(sqlx::FromRow)]
struct DeploymentRow {
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
            license_ids: json("license_ids", &r.license_ids)?,
            user_limit: r.user_limit,
            over_seat_limit: r.over_seat_limit,
            trial: r.trial,
            account_id: uuid_opt(r.account_id.as_deref())?.map(AccountId),
            checkins: unsigned(r.checkins)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct CheckinRow {
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
            license_ids: json("license_ids", &r.license_ids)?,
            client_address: r.client_address,
        })
    }
}

/// Records a check-in: the deployment's summary, the history row, and which deployments each
/// known license was reported from.
pub async fn record_checkin(mut conn: Conn<'_>, c: &CheckinDraft) -> StoreResult<Deployment> {
    let ids: Vec<String> = c
        .license_ids
        .iter()
        .map(|id| id.hyphenated().to_string())
        .collect();
    let ids = to_json("license_ids", &ids)?;
    let users = i64::try_from(c.active_users).unwrap_or(i64::MAX);
    let over = c.user_limit.is_some_and(|seats| users > seats);
    let row: DeploymentRow = UPSERT
        .bind(&c.deployment_id)
        .bind(c.at)
        .bind(&c.product_version)
        .bind(users)
        .bind(&ids)
        .bind(c.user_limit)
        .bind(over)
        .bind(c.trial)
        .bind(c.account_id.map(|a| a.0))
        .fetch_one(conn.reborrow())
        .await?;
    INSERT_CHECKIN
        .bind(&c.deployment_id)
        .bind(c.at)
        .bind(users)
        .bind(&c.product_version)
        .bind(&ids)
        .bind(c.client_address.as_deref())
        .execute(conn.reborrow())
        .await?;
    for license in &c.known_license_ids {
        SEEN_WITH
            .bind(*license)
            .bind(&c.deployment_id)
            .bind(c.at)
            .execute(conn.reborrow())
            .await?;
    }
    row.try_into()
}

/// Deployments, most recently seen first.
pub async fn list(
    conn: Conn<'_>,
    filter: &DeploymentFilter,
    page: &PageRequest,
) -> StoreResult<Page<Deployment>> {
    let rows: Vec<DeploymentRow> = LIST
        .bind(filter.not_seen_since)
        .bind(filter.over_seat_limit)
        .bind(filter.trial)
        .bind(filter.account_id.map(|a| a.0))
        .bind(page.after_at())
        .bind(page.after_id())
        .bind(page.fetch_limit())
        .fetch_all(conn)
        .await?;
    Page::from_rows(rows, page, |d: &Deployment| Cursor {
        at: d.last_seen_at.unix(),
        id: d.id.clone(),
    })
}

/// One deployment.
pub async fn get(conn: Conn<'_>, id: &str) -> StoreResult<Deployment> {
    GET.bind(id)
        .fetch_one::<DeploymentRow>(conn)
        .await?
        .try_into()
}

/// A deployment's check-ins, newest first.
pub async fn checkins(
    conn: Conn<'_>,
    deployment_id: &str,
    page: &PageRequest,
) -> StoreResult<Page<CheckinEntry>> {
    let rows: Vec<CheckinRow> = CHECKINS
        .bind(deployment_id)
        .bind(page.after_at())
        .bind(page.fetch_limit())
        .fetch_all(conn)
        .await?;
    Page::from_rows(rows, page, |c: &CheckinEntry| Cursor {
        at: c.id,
        id: String::new(),
    })
}

/// For each license, from how many deployments it was reported since `since`.
pub async fn seen_counts(
    conn: Conn<'_>,
    ids: &[LicenseId],
    since: Timestamp,
) -> StoreResult<Vec<(LicenseId, u64)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = ids.iter().map(|id| id.hyphenated().to_string()).collect();
    let rows: Vec<(String, i64)> = SEEN_COUNTS
        .bind(since)
        .bind(to_json("ids", &ids)?)
        .fetch_all(conn)
        .await?;
    rows.into_iter()
        .map(|(id, count)| Ok((uuid(&id)?, unsigned(count)?)))
        .collect()
}

/// The deployment as `draft` leaves it, from what it was `before` (none: first seen): what
/// [`UPSERT`] (and [`record_checkins`]) store, computed without asking the database.
pub fn after_checkin(before: Option<&Deployment>, draft: &CheckinDraft) -> Deployment {
    let users = i64::try_from(draft.active_users).unwrap_or(i64::MAX);
    let license_ids = draft
        .license_ids
        .iter()
        .map(|id| id.hyphenated().to_string())
        .collect();
    let (first_seen_at, last_seen_at, account_id, checkins) = match before {
        None => (draft.at, draft.at, draft.account_id, 1),
        Some(b) => (
            b.first_seen_at,
            draft.at.max(b.last_seen_at),
            draft.account_id.or(b.account_id),
            b.checkins.saturating_add(1),
        ),
    };
    Deployment {
        id: draft.deployment_id.clone(),
        first_seen_at,
        last_seen_at,
        product_version: draft.product_version.clone(),
        active_users: draft.active_users,
        license_ids,
        user_limit: draft.user_limit,
        over_seat_limit: draft.user_limit.is_some_and(|seats| users > seats),
        trial: draft.trial,
        account_id,
        checkins,
    }
}

/// The deployments among `ids` that exist.
pub async fn get_many(conn: Conn<'_>, ids: &[&str]) -> StoreResult<Vec<Deployment>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    GET_MANY
        .bind(to_json("ids", &ids)?)
        .fetch_all::<DeploymentRow>(conn)
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

/// The number that changes whenever a stored license is revoked or superseded (by any
/// process): a cache of license records holds while it stays the same.
pub async fn license_generation(conn: Conn<'_>) -> StoreResult<i64> {
    let (value,): (i64,) = LICENSE_GENERATION.query().fetch_one(conn).await?;
    Ok(value)
}

/// Records several check-ins, in order, in three statements: each deployment's summary as
/// its last check-in leaves it (with its count raised by as many), every history row in
/// order, and which deployments each known license was reported from. The same rows as
/// [`record_checkin`] for each draft in turn.
pub async fn record_checkins(mut conn: Conn<'_>, drafts: &[CheckinDraft]) -> StoreResult<()> {
    use serde_json::{Value as J, json as j};
    use std::collections::BTreeMap;
    if drafts.is_empty() {
        return Ok(());
    }
    // Per deployment, in id order (a stable lock order): the first check-in's time, and the
    // state the last one leaves.
    let mut summaries: BTreeMap<&str, J> = BTreeMap::new();
    let mut history = Vec::with_capacity(drafts.len());
    let mut seen: BTreeMap<(String, &str), i64> = BTreeMap::new();
    for c in drafts {
        let ids: Vec<String> = c
            .license_ids
            .iter()
            .map(|id| id.hyphenated().to_string())
            .collect();
        let ids = to_json("license_ids", &ids)?;
        let users = i64::try_from(c.active_users).unwrap_or(i64::MAX);
        let over = c.user_limit.is_some_and(|seats| users > seats);
        let account = c.account_id.map(|a| a.0.hyphenated().to_string());
        let at = c.at.unix();
        match summaries.get_mut(c.deployment_id.as_str()) {
            None => {
                summaries.insert(
                    &c.deployment_id,
                    j!({
                        "id": c.deployment_id, "first_seen_at": at, "last_seen_at": at,
                        "product_version": c.product_version, "active_users": users,
                        "license_ids": ids, "user_limit": c.user_limit, "over_seat_limit": over,
                        "trial": c.trial, "account_id": account, "checkins": 1,
                    }),
                );
            }
            Some(s) => {
                let last = s["last_seen_at"].as_i64().unwrap_or(at).max(at);
                let account = match account {
                    Some(a) => J::from(a),
                    None => s["account_id"].clone(),
                };
                let checkins = s["checkins"].as_i64().unwrap_or(1) + 1;
                let first = s["first_seen_at"].clone();
                *s = j!({
                    "id": c.deployment_id, "first_seen_at": first, "last_seen_at": last,
                    "product_version": c.product_version, "active_users": users,
                    "license_ids": ids, "user_limit": c.user_limit, "over_seat_limit": over,
                    "trial": c.trial, "account_id": account, "checkins": checkins,
                });
            }
        }
        history.push(j!({
            "deployment_id": c.deployment_id, "at": at, "active_users": users,
            "product_version": c.product_version, "license_ids": ids,
            "client_address": c.client_address,
        }));
        for license in &c.known_license_ids {
            seen.insert((license.hyphenated().to_string(), &c.deployment_id), at);
        }
    }
    let summaries: Vec<J> = summaries.into_values().collect();
    UPSERT_MANY
        .bind(to_json("deployments", &summaries)?)
        .execute(conn.reborrow())
        .await?;
    INSERT_CHECKINS
        .bind(to_json("checkins", &history)?)
        .execute(conn.reborrow())
        .await?;
    if !seen.is_empty() {
        let seen: Vec<J> = seen
            .into_iter()
            .map(|((license, deployment), at)| {
                j!({ "license_id": license, "deployment_id": deployment, "at": at })
            })
            .collect();
        SEEN_WITH_MANY
            .bind(to_json("license_deployments", &seen)?)
            .execute(conn)
            .await?;
    }
    Ok(())
}
