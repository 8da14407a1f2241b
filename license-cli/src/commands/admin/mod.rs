//! `coder-license admin …`: the vendor desk's commands over the licensor's admin API
//! (`--licensor URL` before or after the command, the token in `LICENSOR_TOKEN`). Every
//! answer prints as a table by default; `-o json|yaml` prints the licensor's answer as it is,
//! `-o csv` the table's rows (RFC 4180, with a header), and `-o name` only the ids, one a line
//! (`ID=$(coder-license admin create-account … -o name)`).
//!
//! `args.rs` defines the commands, `calls.rs` talks to the licensor, `render.rs` prints what
//! it answered.

mod args;
mod calls;
mod render;

pub use args::{AdminCommand, Args};

use crate::exit;
use crate::licensor::{Licensor, is_refusal};
use std::process::ExitCode;

/// Runs one admin command.
pub async fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let Some(base) = &args.licensor else {
        anyhow::bail!(
            "admin commands need the licensor's URL: pass --licensor URL (before or after the command) or set LICENSOR_URL"
        );
    };
    let licensor = Licensor::admin(base)?;
    let result = match &args.command {
        AdminCommand::Get { id, out, force } => {
            calls::get_token(&licensor, *id, out.as_deref(), *force).await
        }
        command => match calls::call(&licensor, command).await {
            Ok(shown) => {
                let mut out = std::io::stdout().lock();
                render::print(&shown, args.output, &mut out)?;
                Ok(())
            }
            Err(error) => Err(error),
        },
    };
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) if is_refusal(&error) => {
            eprintln!("refused: {error:#}");
            Ok(ExitCode::from(exit::INVALID))
        }
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::cli::Cli;
    use clap::Parser as _;

    #[test]
    fn the_licensor_goes_before_or_after_the_command() {
        for args in [
            &[
                "coder-license",
                "admin",
                "--licensor",
                "http://l",
                "accounts",
            ][..],
            &[
                "coder-license",
                "admin",
                "accounts",
                "--licensor",
                "http://l",
            ],
            &[
                "coder-license",
                "admin",
                "-o",
                "csv",
                "list",
                "--licensor",
                "http://l",
            ],
            &[
                "coder-license",
                "admin",
                "list",
                "-o",
                "name",
                "--licensor",
                "http://l",
            ],
        ] {
            Cli::try_parse_from(args).unwrap();
        }
    }

    #[test]
    fn admin_help_lists_no_store_flags() {
        let err = Cli::try_parse_from(["coder-license", "admin", "--help"]).unwrap_err();
        let help = err.to_string();
        assert!(help.contains("--licensor"), "{help}");
        for flag in [
            "--kubeconfig",
            "--file-store",
            "--secret-name",
            "--namespace",
        ] {
            assert!(!help.contains(flag), "{flag} in {help}");
        }
        let err = Cli::try_parse_from(["coder-license", "admin", "accounts", "--file-store", "d"])
            .unwrap_err();
        assert!(err.to_string().contains("--file-store"), "{err}");
    }
}
