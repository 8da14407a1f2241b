//! Console users: creating them (the first admin from `license-server user create`), checking
//! a password at sign-in, changing roles, disabling (which ends every session of the person).
//!
//! Passwords are hashed with argon2id (the `argon2` crate's defaults, OWASP's minimum) and a
//! random salt; verifying runs on the blocking pool so a sign-in never stalls the server.

use super::Licensor;
use super::error::{Conflict, Error, Internal, Result};
use super::roles::{Action, Principal, Role};
use crate::store::audit::{self, AuditDraft};
use crate::store::users::{self, UserRecord};
use crate::store::{Conflict as StoreConflict, Store, StoreError, UniqueRule, sessions};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use license_core::{Timestamp, base64url};
use zeroize::Zeroizing;

/// The shortest password accepted.
pub const MIN_PASSWORD: usize = 12;
/// The longest password accepted (argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD: usize = 256;

/// What a user's name may be (it becomes the actor of the audit log).
pub const NAME_RULE: &str = super::tokens::NAME_RULE;

/// A user as the console and the API show it (never the hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The sign-in name.
    pub name: String,
    /// The role.
    pub role: Role,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was disabled, if it was.
    pub disabled_at: Option<Timestamp>,
}

/// A user just created, with the password when one was generated (shown only now).
#[derive(Debug)]
pub struct CreatedUser {
    /// The user.
    pub user: User,
    /// The generated password, when none was given.
    pub generated_password: Option<Zeroizing<String>>,
}

fn random_error(e: impl std::fmt::Display) -> Error {
    Error::Internal(Internal::Random(e.to_string()))
}

/// A new random password: 24 characters of base64url (144 bits).
pub fn generate_password() -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; 18]);
    getrandom::fill(bytes.as_mut()).map_err(random_error)?;
    Ok(Zeroizing::new(base64url::encode(bytes.as_ref())))
}

/// Checks the password rules: a sentence naming the rule when it breaks one.
pub fn check_password(password: &str) -> Result<()> {
    let length = password.chars().count();
    if length < MIN_PASSWORD {
        return Err(Error::field(
            "password",
            format!("use at least {MIN_PASSWORD} characters (a passphrase is fine)"),
        ));
    }
    if length > MAX_PASSWORD {
        return Err(Error::field(
            "password",
            format!("use at most {MAX_PASSWORD} characters"),
        ));
    }
    Ok(())
}

/// The argon2id PHC string of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(random_error)?;
    let salt = SaltString::encode_b64(&salt).map_err(random_error)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| Error::Internal(Internal::Signing(format!("argon2 failed: {e}"))))
}

/// Whether `password` matches the PHC string `hash` (false for an unreadable hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash no password matches, verified when the user does not exist so that a wrong name
/// takes as long as a wrong password.
static DECOY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    hash_password("decoy password that nobody has").unwrap_or_default()
});

fn user_of(record: UserRecord) -> Result<User> {
    let role = record.role.parse::<Role>().map_err(|e| {
        Error::Internal(Internal::Store(StoreError::Corrupt(format!(
            "console user {:?}: {e}",
            record.name
        ))))
    })?;
    Ok(User {
        name: record.name,
        role,
        created_at: record.created_at,
        disabled_at: record.disabled_at,
    })
}

/// Creates a console user on `store` as `actor` (`cli` for the server's own subcommand), with
/// `password` or a generated one.
pub async fn create(
    store: &Store,
    actor: &str,
    name: &str,
    role: Role,
    password: Option<&str>,
    at: Timestamp,
) -> Result<CreatedUser> {
    if !super::tokens::valid_name(name) {
        return Err(Error::field("name", NAME_RULE));
    }
    let (password, generated) = match password {
        Some(given) => {
            check_password(given)?;
            (Zeroizing::new(given.to_owned()), None)
        }
        None => {
            let generated = generate_password()?;
            (generated.clone(), Some(generated))
        }
    };
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| Error::Internal(Internal::Signing(format!("argon2 task failed: {e}"))))??;
    let record = UserRecord {
        id: uuid::Uuid::new_v4(),
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        password_hash: hash,
        created_at: at,
        disabled_at: None,
    };
    let entry = AuditDraft::new(
        at,
        actor,
        "user.create",
        serde_json::json!({ "name": name, "role": role.as_str() }),
    );
    let mut tx = store.begin().await?;
    match users::insert(tx.conn(), &record).await {
        Ok(()) => {}
        Err(StoreError::Conflict(StoreConflict::Unique(UniqueRule::ConsoleUserName))) => {
            return Err(Conflict::UserNameTaken(name.to_owned()).into());
        }
        Err(other) => return Err(other.into()),
    }
    audit::record(tx.conn(), &entry, name).await?;
    tx.commit().await?;
    Ok(CreatedUser {
        user: user_of(record)?,
        generated_password: generated,
    })
}

impl Licensor {
    /// The enabled user `name` when `password` is theirs; `None` otherwise (a wrong name, a
    /// wrong password and a disabled user look the same, and take as long).
    pub async fn check_login(&self, name: &str, password: &str) -> Result<Option<Principal>> {
        let record = users::by_name(self.store().conn(), name.trim()).await?;
        let (hash, usable) = match &record {
            Some(user) if user.disabled_at.is_none() => (user.password_hash.clone(), true),
            _ => (DECOY.clone(), false),
        };
        let password = Zeroizing::new(password.to_owned());
        let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .map_err(|e| Error::Internal(Internal::Signing(format!("argon2 task failed: {e}"))))?;
        match record {
            Some(user) if usable && matches => {
                let user = user_of(user)?;
                Ok(Some(Principal {
                    name: user.name,
                    role: user.role,
                }))
            }
            _ => Ok(None),
        }
    }

    /// The current state of a signed-in person: `None` when they were disabled or deleted
    /// since (their session is then void). Their role is read afresh on every request.
    pub async fn session_principal(&self, name: &str) -> Result<Option<Principal>> {
        let Some(record) = users::by_name(self.store().conn(), name).await? else {
            return Ok(None);
        };
        if record.disabled_at.is_some() {
            return Ok(None);
        }
        let user = user_of(record)?;
        Ok(Some(Principal {
            name: user.name,
            role: user.role,
        }))
    }

    /// Every console user, by name. Admins only.
    pub async fn users(&self, caller: &Principal) -> Result<Vec<User>> {
        caller.require(Action::ManageAccess)?;
        users::list(self.store().conn())
            .await?
            .into_iter()
            .map(user_of)
            .collect()
    }

    /// Creates a console user as `caller` (an admin).
    pub async fn create_user(
        &self,
        caller: &Principal,
        name: &str,
        role: Role,
        password: Option<&str>,
    ) -> Result<CreatedUser> {
        caller.require(Action::ManageAccess)?;
        create(self.store(), &caller.name, name, role, password, self.now()).await
    }

    /// Disables the user `name` and ends all their sessions, as `caller` (an admin). The last
    /// enabled admin cannot be disabled (nobody could manage access any more).
    pub async fn disable_user(&self, caller: &Principal, name: &str) -> Result<()> {
        caller.require(Action::ManageAccess)?;
        let name = name.trim();
        let Some(record) = users::by_name(self.store().conn(), name).await? else {
            return Err(Conflict::NoSuchUser(name.to_owned()).into());
        };
        let entry = self.audit(
            &caller.name,
            "user.disable",
            serde_json::json!({ "name": name }),
        );
        let mut tx = self.store().begin().await?;
        if record.role == Role::Admin.as_str() && users::count_admins(tx.conn()).await? <= 1 {
            return Err(Error::field(
                "name",
                format!("{name:?} is the last enabled admin; create another admin first"),
            ));
        }
        if !users::disable(tx.conn(), name, self.now()).await? {
            return Err(Conflict::NoSuchUser(name.to_owned()).into());
        }
        sessions::delete_for_user(tx.conn(), name).await?;
        audit::record(tx.conn(), &entry, name).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every console session of `name` (they must sign in again), as `caller`: an admin,
    /// or the person themselves. How many sessions ended.
    pub async fn end_sessions(&self, caller: &Principal, name: &str) -> Result<u64> {
        if caller.name != name {
            caller.require(Action::ManageAccess)?;
        }
        let entry = self.audit(
            &caller.name,
            "user.end_sessions",
            serde_json::json!({ "name": name }),
        );
        let mut tx = self.store().begin().await?;
        let ended = sessions::delete_for_user(tx.conn(), name).await?;
        audit::record(tx.conn(), &entry, name).await?;
        tx.commit().await?;
        Ok(ended)
    }

    /// Records that `name` signed in or out (the audit trail of the console).
    pub async fn record_session_event(&self, name: &str, action: &str, from: &str) -> Result<()> {
        let entry = self.audit(name, action, serde_json::json!({ "from": from }));
        audit::record(self.store().conn(), &entry, name).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_a_salt_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert_ne!(hash, hash_password("correct horse battery").unwrap());
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("anything", "not a hash"));
        assert!(check_password("short").is_err());
        assert!(check_password("long enough passphrase").is_ok());
        assert_eq!(generate_password().unwrap().len(), 24);
    }
}
