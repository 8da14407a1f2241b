//! `coder-license inspect`: each license with its claims and status, and the entitlements.

use crate::output::{self, Format};
use crate::source::{self, LicenseArgs};
use crate::target::StoreArgs;
use std::process::ExitCode;

/// Arguments of `inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub licenses: LicenseArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Prints the report. Exits 0 whenever the report could be made, even for an invalid
/// license: judging is `verify`'s job.
pub async fn run(args: &Args, store: &StoreArgs) -> anyhow::Result<ExitCode> {
    let judged = source::judge(&args.licenses, store).await?;
    output::print_report(&judged, args.output, &mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}
