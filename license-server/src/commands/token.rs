//! `license-server token create`: a new admin API token, printed once.

use super::database::{DatabaseArgs, runtime};
use crate::clock::{Clock, SystemClock};
use crate::store::{AuditDraft, NewAdminToken, StoreError};
use crate::tokens;
use anyhow::bail;
use std::process::ExitCode;

/// Arguments of `token create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Who holds the token (unique): recorded as the actor of every action taken with it.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Creates the token, stores its hash, and prints it as the last word of the output.
pub fn create(args: &CreateArgs) -> anyhow::Result<ExitCode> {
    let name = args.name.trim();
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
    {
        bail!("--name must be 1 to 64 characters of A-Z a-z 0-9 - _ . @");
    }
    runtime()?.block_on(async {
        let store = args.database.connect().await?;
        let token = tokens::generate()?;
        let now = SystemClock.now();
        let new = NewAdminToken {
            id: uuid::Uuid::new_v4(),
            name: name.to_owned(),
            token_hash: tokens::hash(&token),
            created_at: now,
        };
        let audit = AuditDraft {
            at: now,
            actor: "cli".into(),
            action: "token.create".into(),
            target: String::new(),
            details: serde_json::json!({ "name": name }),
        };
        match store.create_admin_token(&new, &audit).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                bail!("an admin token named {name:?} already exists; choose another name")
            }
            Err(other) => return Err(other.into()),
        }
        println!("created admin token {name:?}; it is shown only now, store it safely:");
        println!("{token}");
        Ok(ExitCode::SUCCESS)
    })
}

/// Arguments of `token revoke`.
#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// The name the token was created with.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Revokes the token: every request with it is refused (401) from now on, on every replica.
pub fn revoke(args: &RevokeArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = args.database.connect().await?;
        let audit = AuditDraft {
            at: SystemClock.now(),
            actor: "cli".into(),
            action: "token.revoke".into(),
            target: String::new(),
            details: serde_json::json!({ "name": args.name }),
        };
        match store.revoke_admin_token(args.name.trim(), &audit).await {
            Ok(()) => {
                println!("revoked admin token {:?}", args.name.trim());
                Ok(ExitCode::SUCCESS)
            }
            Err(StoreError::NotFound) => {
                eprintln!(
                    "error: no active admin token is named {:?}",
                    args.name.trim()
                );
                Ok(ExitCode::from(1))
            }
            Err(other) => Err(other.into()),
        }
    })
}
