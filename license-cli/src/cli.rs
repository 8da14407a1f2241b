//! Command-line definitions of `coder-license` and the dispatch to each command.

use crate::commands;
use crate::exit;
use crate::target::StoreArgs;
use clap::{CommandFactory as _, Parser, Subcommand};
use std::process::ExitCode;

/// Install, inspect, verify and remove Coder licenses, on a Kubernetes cluster (in a Secret)
/// or on a plain machine (--file-store DIR).
#[derive(Debug, Parser)]
#[command(name = "coder-license", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a license offline, then install it beside the installed ones (exit 1 when it
    /// is refused, and nothing is changed).
    Apply(commands::apply::Args),
    /// Show each license with its claims and status, and the entitlements the control plane
    /// would compute now: the installed ones, or the files given with -f.
    Inspect(commands::inspect::Args),
    /// The startup gate: exit 0 when the licenses are valid (warnings on standard error),
    /// 1 when they are not (reasons on standard error), 2 for usage, cluster or I/O errors.
    Verify(commands::verify::Args),
    /// Remove an installed license (an already removed one is not an error).
    Remove(commands::remove::Args),
    /// Print this deployment's id; derive one from the cluster's identity and store it when
    /// none is stored.
    DeploymentId(commands::deployment_id::Args),
    /// Check the product's requirements page against the cluster, database, license and
    /// licensor before installing (exit 1 when a check fails, 2 when it could not run).
    Preflight(commands::preflight::Args),
    /// Ask the licensor for a free trial for this deployment (the license comes by email).
    Trial {
        #[command(subcommand)]
        command: TrialCommand,
    },
    /// Check in with the licensor and store its signed receipt and revocation list (for a
    /// CronJob; trials must check in to keep granting).
    Checkin(commands::checkin::Args),
    /// The vendor desk's commands over the licensor's admin API (token in LICENSOR_TOKEN).
    Admin(commands::admin::Args),
    /// Print a shell completion script.
    Completions(commands::completions::Args),
    /// Print the man page (roff).
    Man(commands::completions::ManArgs),
}

#[derive(Debug, Subcommand)]
enum TrialCommand {
    /// Request a trial license for this deployment.
    Request(commands::trial::RequestArgs),
}

/// Parses the command line, runs the command, and turns errors into one line and exit 2.
pub fn main() -> ExitCode {
    // kube-rs (and anything else using rustls) shares one crypto provider: ring. Installing
    // fails only when one is already installed, which is then the same one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::Error::new(e).context("cannot start the async runtime"))
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            exit::error()
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let before = &cli.store;
    match &cli.command {
        Command::Apply(args) => commands::apply::run(args, &before.merge(&args.store)?).await,
        Command::Inspect(args) => commands::inspect::run(args, &before.merge(&args.store)?).await,
        Command::Verify(args) => commands::verify::run(args, &before.merge(&args.store)?).await,
        Command::Remove(args) => commands::remove::run(args, &before.merge(&args.store)?).await,
        Command::DeploymentId(args) => {
            commands::deployment_id::run(args, &before.merge(&args.store)?).await
        }
        Command::Preflight(args) => {
            commands::preflight::run(args, &before.merge(&args.store)?).await
        }
        Command::Trial {
            command: TrialCommand::Request(args),
        } => commands::trial::request(args, &before.merge(&args.store)?).await,
        Command::Checkin(args) => commands::checkin::run(args, &before.merge(&args.store)?).await,
        Command::Admin(args) => {
            before.refuse_for("admin")?;
            commands::admin::run(args).await
        }
        Command::Completions(args) => {
            before.refuse_for("completions")?;
            commands::completions::run(args, Cli::command())
        }
        Command::Man(args) => {
            before.refuse_for("man")?;
            commands::completions::man(args, Cli::command())
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
