//! Idempotency keys: a client's key for an issuing request, per admin, with the request's hash
//! and the license it produced.

use super::rows::uuid_opt;
use super::{Conn, Statement, StoreResult};
use license_core::{LicenseId, Timestamp};

/// A client's `Idempotency-Key` header: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Accepts 1 to 255 visible ASCII characters.
    pub fn parse(text: &str) -> Option<Self> {
        let ok =
            !text.is_empty() && text.len() <= 255 && text.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(text.to_owned()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a key already held when it was claimed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The hash of the request that first used the key.
    pub request_hash: String,
    /// The license it produced; none while that request is still in flight.
    pub license_id: Option<LicenseId>,
}

static CLAIM: Statement = Statement::new(
    "idempotency.claim",
    "INSERT INTO idempotency_keys (actor, key, request_hash, created_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (actor, key) DO NOTHING",
);
static GET: Statement = Statement::new(
    "idempotency.get",
    "SELECT request_hash, license_id FROM idempotency_keys WHERE actor = $1 AND key = $2",
);
static COMPLETE: Statement = Statement::new(
    "idempotency.complete",
    "UPDATE idempotency_keys SET license_id = $3 WHERE actor = $1 AND key = $2",
);

/// The statements of this module.
pub(super) static STATEMENTS: &[&Statement] = &[&CLAIM, &GET, &COMPLETE];

/// Claims `key` of `actor` for a request with `request_hash`. `None` when the key is new (it
/// is now held by this transaction); otherwise what it already holds.
pub async fn claim(
    mut conn: Conn<'_>,
    actor: &str,
    key: &IdempotencyKey,
    request_hash: &str,
    at: Timestamp,
) -> StoreResult<Option<Claimed>> {
    let inserted = CLAIM
        .bind(actor)
        .bind(key.as_str())
        .bind(request_hash)
        .bind(at)
        .execute(conn.reborrow())
        .await?;
    if inserted == 1 {
        return Ok(None);
    }
    let (request_hash, license_id): (String, Option<String>) =
        GET.bind(actor).bind(key.as_str()).fetch_one(conn).await?;
    Ok(Some(Claimed {
        request_hash,
        license_id: uuid_opt(license_id.as_deref())?,
    }))
}

/// Records the license a claimed key produced.
pub async fn complete(
    conn: Conn<'_>,
    actor: &str,
    key: &IdempotencyKey,
    license: LicenseId,
) -> StoreResult<()> {
    COMPLETE
        .bind(actor)
        .bind(key.as_str())
        .bind(license)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_bounded() {
        assert!(IdempotencyKey::parse("order-42").is_some());
        assert!(IdempotencyKey::parse("").is_none());
        assert!(IdempotencyKey::parse("has space").is_none());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_none());
    }
}
