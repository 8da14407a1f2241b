//! `license-server token create` and `token revoke`: admin API tokens, printed once.

use super::database::{DatabaseArgs, runtime};
use crate::clock::{Clock, SystemClock};
use crate::service::roles::Role;
use crate::service::tokens::{self, NAME_RULE};
use crate::service::{Conflict, Error};
use anyhow::bail;
use std::process::ExitCode;

/// Arguments of `token create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Who holds the token (unique): recorded as the actor of every action taken with it.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// What the token may do: viewer (reads, no license tokens), desk (accounts, issuing,
    /// trials, evaluations, mail), admin (also revoking, users and tokens).
    #[arg(long, value_name = "ROLE", default_value = "admin")]
    pub role: Role,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Creates the token, stores its hash, and prints it as the last word of the output.
pub fn create(args: &CreateArgs) -> anyhow::Result<ExitCode> {
    let name = args.name.trim();
    if !tokens::valid_name(name) {
        bail!("--name must be 1 to 64 characters of A-Z a-z 0-9 - _ . @ ({NAME_RULE})");
    }
    runtime()?.block_on(async {
        let store = args.database.connect().await?;
        let token = match tokens::create(&store, "cli", name, args.role, SystemClock.now()).await {
            Ok(token) => token,
            Err(Error::Conflict(conflict @ Conflict::TokenNameTaken(_))) => bail!("{conflict}"),
            Err(other) => return Err(other.into()),
        };
        println!(
            "created admin token {name:?} with role {}; it is shown only now, store it safely:",
            args.role
        );
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
    let name = args.name.trim();
    runtime()?.block_on(async {
        let store = args.database.connect().await?;
        match tokens::revoke(&store, "cli", name, SystemClock.now()).await {
            Ok(()) => {
                println!("revoked admin token {name:?}");
                Ok(ExitCode::SUCCESS)
            }
            Err(Error::Conflict(conflict @ Conflict::NoSuchToken(_))) => {
                eprintln!("error: {conflict}");
                Ok(ExitCode::from(1))
            }
            Err(other) => Err(other.into()),
        }
    })
}
