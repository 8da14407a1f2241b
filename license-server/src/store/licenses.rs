//! Licenses as issued, their supersession and revocation, and the revocation list.

use super::accounts::AccountId;
use super::rows::{
    corrupt, json, signed, timestamp, timestamp_opt, to_json, unsigned, uuid, uuid_opt,
};
use super::{Conn, Cursor, Page, PageRequest, Statement, StoreError, StoreResult};
use const_format::concatcp;
use license_core::{FeatureSet, LicenseClaims, LicenseId, Timestamp};
use std::collections::BTreeMap;

/// Where a license stands at the licensor: the API's vocabulary, stored as its name.
pub use license_api::LicenseStatus;

fn parse_status(text: &str) -> StoreResult<LicenseStatus> {
    [
        LicenseStatus::Active,
        LicenseStatus::Revoked,
        LicenseStatus::Superseded,
    ]
    .into_iter()
    .find(|s| s.as_str() == text)
    .ok_or_else(|| corrupt("license status", text))
}

/// A signed license to store.
#[derive(Debug, Clone, Copy)]
pub struct NewLicense<'a> {
    /// The account it belongs to.
    pub account_id: AccountId,
    /// The signed claims.
    pub claims: &'a LicenseClaims,
    /// The compact token.
    pub token: &'a str,
    /// The key id it was signed with.
    pub key_id: &'a str,
    /// Who issued it.
    pub issued_by: &'a str,
    /// The license it replaces (already marked superseded).
    pub supersedes: Option<LicenseId>,
}

/// A stored license with its indexed fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseRecord {
    /// The license id (`jti`).
    pub id: LicenseId,
    /// The account it belongs to.
    pub account_id: AccountId,
    /// The licensee's email (`sub`).
    pub email: String,
    /// The signed token.
    pub token: String,
    /// The signing key's id.
    pub key_id: String,
    /// The feature set.
    pub feature_set: FeatureSet,
    /// Feature name → value.
    pub features: BTreeMap<String, i64>,
    /// The seat count.
    pub user_limit: Option<i64>,
    /// Deployments it is bound to.
    pub deployment_ids: Vec<String>,
    /// A trial license.
    pub trial: bool,
    /// Issued under the evaluation program.
    pub evaluation: bool,
    /// The account's sequence number for it.
    pub sequence: u64,
    /// Start of the term (`nbf`).
    pub starts_at: Timestamp,
    /// End of the term (`license_expires`).
    pub expires_at: Timestamp,
    /// End of the grace period (`exp`).
    pub grace_ends_at: Timestamp,
    /// When it was signed (`iat`).
    pub issued_at: Timestamp,
    /// The admin who issued it.
    pub issued_by: String,
    /// Active, revoked or superseded.
    pub status: LicenseStatus,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
    /// The license it replaced.
    pub supersedes: Option<LicenseId>,
}

/// Filters for listing licenses; all optional.
#[derive(Debug, Clone, Default)]
pub struct LicenseFilter {
    /// Of this account.
    pub account_id: Option<AccountId>,
    /// For this email address (case-insensitive).
    pub email: Option<String>,
    /// In this status.
    pub status: Option<LicenseStatus>,
    /// Trials or not.
    pub trial: Option<bool>,
    /// Issued under the evaluation program or not.
    pub evaluation: Option<bool>,
    /// Active, with the term ending within this window (`from`, `until`].
    pub expiring: Option<(Timestamp, Timestamp)>,
    /// Active, past the term but within the grace period at this time.
    pub in_grace_at: Option<Timestamp>,
    /// Bound to (or checked in by) a deployment that reported more users than seats.
    pub over_seats: bool,
}

/// A revoked license on the revocation list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// The license.
    pub license_id: LicenseId,
    /// When it was revoked.
    pub revoked_at: Timestamp,
}

const COLUMNS: &str = "id, account_id, email, token, key_id, feature_set, features, \
    user_limit, deployment_ids, trial, evaluation, sequence, starts_at, expires_at, grace_ends_at, \
    issued_at, issued_by, status, revoked_at, revoke_reason, supersedes";

static INSERT: Statement = Statement::new(
    "licenses.insert",
    concatcp!(
        "INSERT INTO licenses (",
        COLUMNS,
        ", email_lower) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 'active', NULL, NULL, $18, $19) \
         RETURNING ",
        COLUMNS
    ),
);
static GET: Statement = Statement::new(
    "licenses.get",
    concatcp!("SELECT ", COLUMNS, " FROM licenses WHERE id = $1"),
);
static LIST: Statement = Statement::new(
    "licenses.list",
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM licenses \
         WHERE (CAST($1 AS TEXT) IS NULL OR account_id = $1) \
           AND (CAST($2 AS TEXT) IS NULL OR email_lower = $2) \
           AND (CAST($3 AS TEXT) IS NULL OR status = $3) \
           AND (CAST($4 AS BOOLEAN) IS NULL OR trial = $4) \
           AND (CAST($5 AS BOOLEAN) IS NULL OR evaluation = $5) \
           AND (CAST($6 AS BIGINT) IS NULL OR (status = 'active' AND expires_at > $6 AND expires_at <= $7)) \
           AND (CAST($8 AS BIGINT) IS NULL OR (status = 'active' AND expires_at <= $8 AND grace_ends_at > $8)) \
           AND ($9 = FALSE OR EXISTS (SELECT 1 FROM license_deployments ld JOIN deployments d \
                ON d.id = ld.deployment_id WHERE ld.license_id = licenses.id AND d.over_seat_limit = TRUE)) \
           AND (issued_at, id) < (COALESCE(CAST($10 AS BIGINT), 9223372036854775807), COALESCE(CAST($11 AS TEXT), '')) \
         ORDER BY issued_at DESC, id DESC LIMIT $12"
    ),
);
static BY_IDS: Statement = Statement::per_backend(
    "licenses.by_ids",
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM licenses WHERE id IN (SELECT jsonb_array_elements_text(CAST($1 AS JSONB)))"
    ),
    concatcp!(
        "SELECT ",
        COLUMNS,
        " FROM licenses WHERE id IN (SELECT value FROM json_each($1))"
    ),
);
static SUCCESSOR: Statement = Statement::new(
    "licenses.successor",
    concatcp!("SELECT ", COLUMNS, " FROM licenses WHERE supersedes = $1"),
);
static SUPERSEDE: Statement = Statement::new(
    "licenses.supersede",
    "UPDATE licenses SET status = 'superseded' \
     WHERE id = $1 AND account_id = $2 AND status = 'active'",
);
static REVOKE: Statement = Statement::new(
    "licenses.revoke",
    "UPDATE licenses SET status = 'revoked', revoked_at = $2, revoke_reason = $3 \
     WHERE id = $1 AND status <> 'revoked'",
);
static NEXT_REVOCATION: Statement = Statement::new(
    "licenses.next_revocation",
    "UPDATE revocation_counter SET value = value + 1 WHERE id = 1 RETURNING value",
);
static INSERT_REVOCATION: Statement = Statement::new(
    "licenses.insert_revocation",
    "INSERT INTO revocations (sequence, license_id, revoked_at, reason) VALUES ($1, $2, $3, $4)",
);
/// The list's sequence (the counter: the highest revocation number, in one snapshot with the
/// rows) beside each revoked license whose grace period ends at or after `$1`; a license past
/// its grace grants nothing, listed or not (docs/license-format.md, "Revocation lists").
/// `licenses_revoked_grace` (migration 0013) finds them without reading every revocation.
static REVOCATIONS: Statement = Statement::new(
    "licenses.revocations",
    "SELECT c.value, k.license_id, k.revoked_at FROM revocation_counter c \
     LEFT JOIN ( \
       SELECT r.sequence, r.license_id, r.revoked_at FROM licenses l \
       JOIN revocations r ON r.license_id = l.id \
       WHERE l.status = 'revoked' AND l.grace_ends_at >= $1 \
     ) k ON TRUE \
     WHERE c.id = 1 \
     ORDER BY k.sequence",
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[
    &INSERT,
    &GET,
    &LIST,
    &BY_IDS,
    &SUCCESSOR,
    &SUPERSEDE,
    &REVOKE,
    &NEXT_REVOCATION,
    &INSERT_REVOCATION,
    &REVOCATIONS,
];

#[derive(sqlx::FromRow)]
struct LicenseRow {
    id: String,
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
    expires_at: i64,
    grace_ends_at: i64,
    issued_at: i64,
    issued_by: String,
    status: String,
    revoked_at: Option<i64>,
    revoke_reason: Option<String>,
    supersedes: Option<String>,
}

impl TryFrom<LicenseRow> for LicenseRecord {
    type Error = StoreError;
    fn try_from(row: LicenseRow) -> StoreResult<Self> {
        Ok(LicenseRecord {
            id: uuid(&row.id)?,
            account_id: AccountId(uuid(&row.account_id)?),
            email: row.email,
            token: row.token,
            key_id: row.key_id,
            feature_set: row
                .feature_set
                .parse()
                .map_err(|e| corrupt("feature_set", e))?,
            features: json("features", &row.features)?,
            user_limit: row.user_limit,
            deployment_ids: json("deployment_ids", &row.deployment_ids)?,
            trial: row.trial,
            evaluation: row.evaluation,
            sequence: unsigned(row.sequence)?,
            starts_at: timestamp(row.starts_at)?,
            expires_at: timestamp(row.expires_at)?,
            grace_ends_at: timestamp(row.grace_ends_at)?,
            issued_at: timestamp(row.issued_at)?,
            issued_by: row.issued_by,
            status: parse_status(&row.status)?,
            revoked_at: timestamp_opt(row.revoked_at)?,
            revoke_reason: row.revoke_reason,
            supersedes: uuid_opt(row.supersedes.as_deref())?,
        })
    }
}

/// Stores a signed license as active.
pub async fn insert(conn: Conn<'_>, license: &NewLicense<'_>) -> StoreResult<LicenseRecord> {
    let c = license.claims;
    let deployments: Vec<&str> = c.deployment_ids.iter().map(|d| d.as_str()).collect();
    INSERT
        .bind(c.jti)
        .bind(license.account_id.0)
        .bind(c.sub.as_str())
        .bind(license.token)
        .bind(license.key_id)
        .bind(c.feature_set.as_str())
        .bind(to_json("features", &c.features)?)
        .bind(c.user_limit())
        .bind(to_json("deployment_ids", &deployments)?)
        .bind(c.trial)
        .bind(c.evaluation)
        .bind(signed(c.sequence)?)
        .bind(c.nbf)
        .bind(c.license_expires)
        .bind(c.exp)
        .bind(c.iat)
        .bind(license.issued_by)
        .bind(license.supersedes)
        .bind(c.sub.as_str().to_lowercase())
        .fetch_one::<LicenseRow>(conn)
        .await?
        .try_into()
}

/// One license.
pub async fn get(conn: Conn<'_>, id: LicenseId) -> StoreResult<LicenseRecord> {
    GET.bind(id).fetch_one::<LicenseRow>(conn).await?.try_into()
}

/// Licenses matching `filter`, newest first.
pub async fn list(
    conn: Conn<'_>,
    filter: &LicenseFilter,
    page: &PageRequest,
) -> StoreResult<Page<LicenseRecord>> {
    let rows: Vec<LicenseRow> = LIST
        .bind(filter.account_id.map(|a| a.0))
        // Folded in Rust: SQLite's lower() folds only ASCII.
        .bind(filter.email.as_deref().map(str::to_lowercase))
        .bind(filter.status.map(LicenseStatus::as_str))
        .bind(filter.trial)
        .bind(filter.evaluation)
        .bind(filter.expiring.map(|(from, _)| from))
        .bind(filter.expiring.map(|(_, until)| until))
        .bind(filter.in_grace_at)
        .bind(filter.over_seats)
        .bind(page.after_at())
        .bind(page.after_id())
        .bind(page.fetch_limit())
        .fetch_all(conn)
        .await?;
    Page::from_rows(rows, page, |l: &LicenseRecord| Cursor {
        at: l.issued_at.unix(),
        id: l.id.hyphenated().to_string(),
    })
}

/// The licenses with these ids that exist.
pub async fn by_ids(conn: Conn<'_>, ids: &[LicenseId]) -> StoreResult<Vec<LicenseRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = ids.iter().map(|id| id.hyphenated().to_string()).collect();
    BY_IDS
        .bind(to_json("ids", &ids)?)
        .fetch_all::<LicenseRow>(conn)
        .await?
        .into_iter()
        .map(TryInto::try_into)
        .collect()
}

/// The license that supersedes `id`, if one does (a license is superseded at most once).
pub async fn successor(conn: Conn<'_>, id: LicenseId) -> StoreResult<Option<LicenseRecord>> {
    SUCCESSOR
        .bind(id)
        .fetch_optional::<LicenseRow>(conn)
        .await?
        .map(TryInto::try_into)
        .transpose()
}

/// Marks `id` superseded if it is an active license of `account`; false when it is not.
pub async fn supersede(conn: Conn<'_>, id: LicenseId, account: AccountId) -> StoreResult<bool> {
    Ok(SUPERSEDE.bind(id).bind(account.0).execute(conn).await? == 1)
}

/// Revokes `id` and appends it to the revocation list, numbered in commit order (the
/// counter's row lock orders concurrent revocations). `None` when it was already revoked;
/// [`StoreError::NotFound`] when it does not exist.
pub async fn revoke(
    mut conn: Conn<'_>,
    id: LicenseId,
    reason: &str,
    at: Timestamp,
) -> StoreResult<Option<LicenseRecord>> {
    let updated = REVOKE
        .bind(id)
        .bind(at)
        .bind(reason)
        .execute(conn.reborrow())
        .await?;
    if updated == 0 {
        get(conn, id).await?;
        return Ok(None);
    }
    let (sequence,): (i64,) = NEXT_REVOCATION.query().fetch_one(conn.reborrow()).await?;
    INSERT_REVOCATION
        .bind(sequence)
        .bind(id)
        .bind(at)
        .bind(reason)
        .execute(conn.reborrow())
        .await?;
    get(conn, id).await.map(Some)
}

/// The revocation list's entries: every revoked license whose grace period ends at or after
/// `grace_ends_from` (the caller's cutoff, `license_core::revocation_list_cutoff`), in
/// revocation order, and the list's sequence: the highest revocation number, listed or not (0
/// when nothing was ever revoked), so a list that dropped a license never looks older than
/// the one that listed it.
pub async fn revocations(
    conn: Conn<'_>,
    grace_ends_from: Timestamp,
) -> StoreResult<(u64, Vec<Revocation>)> {
    let rows: Vec<(i64, Option<String>, Option<i64>)> =
        REVOCATIONS.bind(grace_ends_from).fetch_all(conn).await?;
    let sequence = rows.first().map_or(Ok(0), |(s, _, _)| unsigned(*s))?;
    let revoked = rows
        .into_iter()
        .filter_map(|(_, id, at)| Some((id?, at)))
        .map(|(id, at)| {
            Ok(Revocation {
                license_id: uuid(&id)?,
                revoked_at: timestamp(at.ok_or_else(|| {
                    StoreError::Corrupt(format!("revocation of {id} without a time"))
                })?)?,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok((sequence, revoked))
}
