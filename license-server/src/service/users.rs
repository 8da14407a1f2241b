//! Console users: creating them (the first admin from `license-server user create`), checking
//! a password at sign-in, changing roles, disabling (which ends every session of the person).
//!
//! Passwords are hashed with argon2id (the `argon2` crate's defaults, OWASP's minimum) and a
//! random salt; hashing and verifying run on the blocking pool so a sign-in never stalls the
//! server, at most `MAX_CONCURRENT_HASHES` at once, in working memory that is reused.

use super::Licensor;
use super::error::{Conflict, Error, Internal, Result};
use super::roles::{Action, Principal, Role};
use crate::store::audit::{self, AuditDraft};
use crate::store::users::{self, UserRecord};
use crate::store::{Conflict as StoreConflict, Store, StoreError, UniqueRule, sessions};
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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

/// Password hashes computed at once, at most. Each argon2id hash holds 19 MiB while it runs (the
/// crate's default parameters), so a crowd of sign-ins or user creations must not multiply it:
/// 32 at once took the server's peak memory past 600 MB. The rest wait their turn.
const MAX_CONCURRENT_HASHES: usize = 2;

static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_HASHES);

/// Runs `job` (an argon2 hash or verification) on the blocking pool once one of the
/// `MAX_CONCURRENT_HASHES` places is free.
async fn argon2_job<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let failed = |e: &dyn std::fmt::Display| {
        Error::Internal(Internal::Signing(format!("argon2 task failed: {e}")))
    };
    // The semaphore is never closed, so acquiring fails only in theory.
    let _place = HASHING.acquire().await.map_err(|e| failed(&e))?;
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| failed(&e))
}

/// The working memory of finished hashes, kept for the next ones (at most
/// `MAX_CONCURRENT_HASHES` of them). Allocating 19 MiB afresh for each hash grew glibc's heap
/// by about that much every time, because it could not reuse the freed aligned block.
static MEMORY: std::sync::Mutex<Vec<Vec<Block>>> = std::sync::Mutex::new(Vec::new());

/// Runs `f` with working memory of at least `blocks` blocks, taken from `MEMORY` and given
/// back wiped (it held state derived from a password).
fn with_memory<T>(blocks: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let pool = || {
        MEMORY
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let mut memory = pool().pop().unwrap_or_default();
    if memory.len() < blocks {
        memory = vec![Block::default(); blocks];
    }
    let answer = f(&mut memory);
    memory.fill(Block::default());
    let mut kept = pool();
    // A hash stored with larger parameters than ours does not keep its memory.
    if kept.len() < MAX_CONCURRENT_HASHES && memory.len() <= Params::default().block_count() {
        kept.push(memory);
    }
    answer
}

/// `argon2`'s hash of `password` and `salt` under `argon2`'s parameters, `len` bytes long.
fn argon2_output(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &str,
    salt: &[u8],
    len: usize,
) -> argon2::password_hash::Result<Output> {
    Output::init_with(len, |out| {
        with_memory(params.block_count(), |memory| {
            argon2.hash_password_into_with_memory(password.as_bytes(), salt, out, memory)
        })
        .map_err(Into::into)
    })
}

/// The argon2id PHC string of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let failed = |e: argon2::password_hash::Error| {
        Error::Internal(Internal::Signing(format!("argon2 failed: {e}")))
    };
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(random_error)?;
    let encoded = SaltString::encode_b64(&salt).map_err(random_error)?;
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let output = argon2_output(&argon2, &params, password, &salt, len).map_err(failed)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(failed)?,
        salt: Some(encoded.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `hash` (false for an unreadable hash). The
/// comparison is constant-time (`Output`'s equality).
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let mut buffer = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut buffer) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    argon2_output(&argon2, &params, password, salt, expected.len())
        .is_ok_and(|computed| computed == expected)
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
    let hash = argon2_job(move || hash_password(&password)).await??;
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
        let matches = argon2_job(move || verify_password(&password, &hash)).await?;
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

    /// Hashes made before the working memory was reused (by `argon2`'s own `PasswordHasher`)
    /// still verify, and the hashes made now verify with `argon2`'s own verifier.
    #[test]
    fn hashes_agree_with_the_argon2_crates_own() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"correct horse battery", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password("correct horse battery", &theirs));
        assert!(!verify_password("correct horse batterY", &theirs));
        let ours = hash_password("correct horse battery").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery", &parsed)
                .is_ok()
        );
        // The same password and salt give the same string as the crate's.
        let params = Params::default();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let output = argon2_output(
            &argon2,
            &params,
            "correct horse battery",
            b"sixteen byte sal",
            32,
        )
        .unwrap();
        assert_eq!(PasswordHash::new(&theirs).unwrap().hash.unwrap(), output);
    }
}
