//! `license-server migrate`: apply the database migrations and exit.

use super::database::{DatabaseArgs, runtime};
use std::process::ExitCode;

/// Arguments of `migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Connects (which applies pending migrations) and reports the backend.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let store = args.database.connect().await?;
        println!(
            "migrations applied ({} at {})",
            store.backend(),
            args.database.url()?
        );
        Ok(ExitCode::SUCCESS)
    })
}
