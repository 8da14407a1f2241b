//! `license-server user create`: a console user, the first admin in particular. The password
//! comes from standard input (`--password-stdin`) or is generated and printed once.

use super::database::{DatabaseArgs, runtime};
use crate::clock::{Clock, SystemClock};
use crate::service::roles::Role;
use crate::service::users;
use crate::service::{Conflict, Error};
use anyhow::{Context as _, bail};
use std::io::Read as _;
use std::process::ExitCode;
use zeroize::Zeroizing;

/// Arguments of `user create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The name the person signs in with (unique); the actor of their audit entries.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// viewer (reads, no license tokens), desk (accounts, issuing, trials, evaluations,
    /// mail), or admin (also revoking, users and admin tokens).
    #[arg(long, value_name = "ROLE")]
    pub role: Role,
    /// Read the password from standard input (its first line) instead of generating one.
    #[arg(long)]
    pub password_stdin: bool,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Creates the user; prints the generated password once, as the last word of the output.
pub fn create(args: &CreateArgs) -> anyhow::Result<ExitCode> {
    let name = args.name.trim();
    if !crate::service::tokens::valid_name(name) {
        bail!("--name: {}", users::NAME_RULE);
    }
    let password = if args.password_stdin {
        let mut text = Zeroizing::new(String::new());
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the password from standard input")?;
        let line = text.lines().next().unwrap_or_default().to_owned();
        if let Err(error) = users::check_password(&line) {
            bail!("the password on standard input is refused: {error}");
        }
        Some(Zeroizing::new(line))
    } else {
        None
    };
    runtime()?.block_on(async {
        let store = args.database.connect().await?;
        let created = match users::create(
            &store,
            "cli",
            name,
            args.role,
            password.as_deref().map(String::as_str),
            SystemClock.now(),
        )
        .await
        {
            Ok(created) => created,
            Err(Error::Conflict(conflict @ Conflict::UserNameTaken(_))) => bail!("{conflict}"),
            Err(other) => return Err(other.into()),
        };
        match created.generated_password {
            Some(password) => {
                println!(
                    "created console user {name:?} with role {}; the password is shown only now:",
                    args.role
                );
                println!("{}", password.as_str());
            }
            None => println!("created console user {name:?} with role {}", args.role),
        }
        Ok(ExitCode::SUCCESS)
    })
}
