//! Command-line definitions of `coder-license` and the dispatch to each command.

use crate::commands;
use crate::exit;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Install, inspect and verify Coder licenses.
#[derive(Debug, Parser)]
#[command(name = "coder-license", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show each license with its claims and status, and the entitlements the control plane
    /// would compute now.
    Inspect(commands::inspect::Args),
    /// The startup gate: exit 0 when the licenses are valid (warnings on standard error),
    /// 1 when they are not (reasons on standard error), 2 for usage or I/O errors.
    Verify(commands::verify::Args),
}

/// Parses the command line, runs the command, and turns errors into one line and exit 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(args) => commands::inspect::run(&args),
        Command::Verify(args) => commands::verify::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            exit::error()
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
