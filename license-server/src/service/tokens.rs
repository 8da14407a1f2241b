//! Admin API tokens: random, shown once, stored only as a SHA-256 hash; creating, revoking and
//! authenticating them.
//!
//! A token carries 256 random bits, so a fast hash is enough (there is nothing to brute
//! force), and looking a token up by its hash compares no secret bytes in the application.

use super::Licensor;
use super::error::{Conflict, Error, Result};
use super::roles::{Principal, Role};
use crate::store::audit::{self, AuditDraft};
use crate::store::tokens::{self, NewAdminToken, TokenRow};
use crate::store::{Conflict as StoreConflict, Store, StoreError, UniqueRule};
use license_core::{Timestamp, base64url};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

const PREFIX: &str = "lsr_";

/// A new token from the operating system's random generator.
pub fn generate() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("the random generator failed: {e}"))?;
    Ok(format!("{PREFIX}{}", base64url::encode(&bytes)))
}

/// Whether `text` has a token's shape (checked before any database lookup).
pub fn looks_like_token(text: &str) -> bool {
    text.strip_prefix(PREFIX).is_some_and(|rest| {
        rest.len() == 43 && base64url::decode(rest).is_ok_and(|b| b.len() == 32)
    })
}

/// The stored form: SHA-256, hex.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// What a token's name may be.
pub const NAME_RULE: &str = "use 1 to 64 characters of A-Z a-z 0-9 - _ . @";

/// Whether `name` may name a token (it becomes the actor of the audit log).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
}

/// Creates an admin token named `name` with `role` on `store`, as `actor` (`cli` for the
/// server's own subcommand): the token, shown only now.
pub async fn create(
    store: &Store,
    actor: &str,
    name: &str,
    role: Role,
    at: Timestamp,
) -> Result<String> {
    if !valid_name(name) {
        return Err(Error::field("name", NAME_RULE));
    }
    let token = generate().map_err(|e| Error::Internal(super::Internal::Random(e.to_string())))?;
    let new = NewAdminToken {
        id: uuid::Uuid::new_v4(),
        name: name.to_owned(),
        token_hash: hash(&token),
        created_at: at,
        role: role.as_str().to_owned(),
    };
    let entry = AuditDraft::new(
        at,
        actor,
        "token.create",
        serde_json::json!({ "name": name, "role": role.as_str() }),
    );
    let mut tx = store.begin().await?;
    match tokens::insert(tx.conn(), &new).await {
        Ok(()) => {}
        Err(StoreError::Conflict(StoreConflict::Unique(UniqueRule::AdminTokenName))) => {
            return Err(Conflict::TokenNameTaken(name.to_owned()).into());
        }
        Err(other) => return Err(other.into()),
    }
    audit::record(tx.conn(), &entry, name).await?;
    tx.commit().await?;
    Ok(token)
}

/// Revokes the active admin token named `name` on `store`: every request with it is refused
/// from now on, on every replica.
pub async fn revoke(store: &Store, actor: &str, name: &str, at: Timestamp) -> Result<()> {
    let name = name.trim();
    let entry = AuditDraft::new(
        at,
        actor,
        "token.revoke",
        serde_json::json!({ "name": name }),
    );
    let mut tx = store.begin().await?;
    if !tokens::revoke(tx.conn(), name, at).await? {
        return Err(Conflict::NoSuchToken(name.to_owned()).into());
    }
    audit::record(tx.conn(), &entry, name).await?;
    tx.commit().await?;
    Ok(())
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// It does not have a token's shape.
    #[error("the bearer token is malformed; tokens start with lsr_")]
    Malformed,
    /// No active token has its hash.
    #[error("the bearer token is unknown or revoked")]
    Unknown,
}

impl Licensor {
    /// Who a bearer token belongs to, with its role; `Ok(Err(_))` when it is refused.
    pub async fn authenticate(
        &self,
        token: &str,
    ) -> Result<std::result::Result<Principal, Refused>> {
        if !looks_like_token(token) {
            return Ok(Err(Refused::Malformed));
        }
        let Some(identity) = tokens::by_hash(self.store().conn(), &hash(token)).await? else {
            return Ok(Err(Refused::Unknown));
        };
        let role = identity.role.parse::<Role>().map_err(|e| {
            Error::Internal(super::Internal::Store(crate::store::StoreError::Corrupt(
                format!("admin token {:?}: {e}", identity.name),
            )))
        })?;
        let now = self.now();
        if identity.touch_due(now) {
            tokens::touch(self.store().conn(), &identity.token_id, now).await?;
        }
        Ok(Ok(Principal {
            name: identity.name,
            role,
        }))
    }

    /// Every admin token, newest first, with its role (never the token). Admins only.
    pub async fn tokens(&self, caller: &Principal) -> Result<Vec<TokenRow>> {
        caller.role.require(super::roles::Action::ManageAccess)?;
        Ok(tokens::list(self.store().conn()).await?)
    }

    /// Creates an admin token with `role` as `caller` (an admin): the token, shown only now.
    pub async fn create_token(&self, caller: &Principal, name: &str, role: Role) -> Result<String> {
        caller.role.require(super::roles::Action::ManageAccess)?;
        create(self.store(), &caller.name, name, role, self.now()).await
    }

    /// Revokes the admin token `name` as `caller` (an admin).
    pub async fn revoke_token(&self, caller: &Principal, name: &str) -> Result<()> {
        caller.role.require(super::roles::Action::ManageAccess)?;
        revoke(self.store(), &caller.name, name, self.now()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_a_recognisable_shape_and_a_stable_hash() {
        let token = generate().unwrap();
        assert!(looks_like_token(&token), "{token}");
        assert!(!looks_like_token("lsr_short"));
        assert!(!looks_like_token(&token.replace("lsr_", "xyz_")));
        assert_eq!(hash(&token).len(), 64);
        assert_eq!(hash(&token), hash(&token));
        assert_ne!(hash(&token), hash(&generate().unwrap()));
    }
}
