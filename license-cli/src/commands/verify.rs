//! `coder-license verify`: the startup gate for an init container or a script.

use crate::exit;
use crate::output::{self, Format};
use crate::source::{self, LicenseArgs};
use crate::target::StoreArgs;
use license_core::{KeySource, VerifiedLicense};
use std::io::Write as _;
use std::process::ExitCode;

/// Arguments of `verify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub licenses: LicenseArgs,
    /// Also print the full report on standard output in this format.
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<Format>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Exits 0 when the licenses are valid (warnings on standard error), 1 when they are not
/// (each reason on standard error).
pub async fn run(args: &Args, store: &StoreArgs) -> anyhow::Result<ExitCode> {
    let judged = source::judge(&args.licenses, store).await?;
    if let Some(format) = args.output {
        output::print_report(&judged, format, &mut std::io::stdout().lock())?;
    }
    let e = &judged.entitlements;
    let mut err = std::io::stderr().lock();
    for license in judged
        .installed
        .iter()
        .filter_map(|l| l.verdict.as_ref().ok())
    {
        if license.key_source() == KeySource::Added {
            writeln!(
                err,
                "note: license {} is signed by key {}, which is {}",
                license.id(),
                license.key_id(),
                output::key_source_text(KeySource::Added)
            )?;
        }
    }
    for warning in &e.warnings {
        writeln!(err, "warning: {warning}")?;
    }
    for error in &e.errors {
        writeln!(err, "invalid: {error}")?;
    }
    if e.is_valid() {
        if args.output.is_none() {
            println!("{}", summary(&judged.installed, e));
        }
        Ok(ExitCode::from(exit::VALID))
    } else {
        if !e.has_license && e.errors.is_empty() {
            writeln!(err, "invalid: no license grants anything now")?;
        }
        Ok(ExitCode::from(exit::INVALID))
    }
}

fn summary(installed: &[license_core::InstalledLicense], e: &license_core::Entitlements) -> String {
    let granting: Vec<String> = installed
        .iter()
        .zip(&e.licenses)
        .filter(|(_, report)| report.grants)
        .filter_map(|(l, _)| l.verdict.as_ref().ok().map(VerifiedLicense::id))
        .map(|id| id.to_string())
        .collect();
    let seats = e
        .features
        .get(license_core::USER_LIMIT)
        .and_then(|f| f.limit)
        .map_or_else(|| "no user limit".to_owned(), |n| format!("user limit {n}"));
    let kind = if e.trial { ", trial" } else { "" };
    format!("valid: license {} ({seats}{kind})", granting.join(", "))
}
