//! `coder-license remove LICENSE_ID`: uninstall one license; the Secret goes when it holds
//! nothing else. A license that is already gone is not an error.

use crate::output::{self, Format};
use crate::store::{Backend as _, Outcome};
use crate::target::Store;
use crate::target::StoreArgs;
use license_core::LicenseId;
use serde::Serialize;
use std::io::Write as _;
use std::process::ExitCode;

/// Arguments of `remove`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The id of the license to remove (its `jti`, as `inspect` shows it).
    #[arg(value_name = "LICENSE_ID", value_parser = parse_license_id)]
    pub license_id: LicenseId,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Serialize)]
struct Removed {
    license_id: String,
    store: String,
    /// `removed` or `not_installed`.
    action: &'static str,
    /// The store held nothing else, so it was deleted.
    store_deleted: bool,
    licenses_left: usize,
}

/// Removes the license; exits 0 whether it was installed or not.
pub async fn run(args: &Args, store_args: &StoreArgs) -> anyhow::Result<ExitCode> {
    let id = args.license_id;
    let store = store_args.open().await?;
    let (outcome, (was_installed, left)) = store
        .update(|current| {
            let mut new = current.clone();
            let was_installed = new.licenses.remove(&id).is_some();
            // Removed on purpose: license sync (`checkin`) does not install it again.
            new.set_removed(id, true);
            let left = new.licenses.len();
            Ok((new, (was_installed, left)))
        })
        .await?;
    let report = Removed {
        license_id: id.to_string(),
        store: store.describe(),
        action: if was_installed {
            "removed"
        } else {
            "not_installed"
        },
        // A directory stays (it may be configured elsewhere); only its files go.
        store_deleted: outcome == Outcome::Deleted && matches!(store, Store::Secret(_)),
        licenses_left: left,
    };
    let mut out = std::io::stdout().lock();
    if args.output != Format::Table {
        output::print_document(&report, args.output, &mut out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let store = &report.store;
    match (was_installed, outcome) {
        (false, _) => writeln!(
            out,
            "license {id} is not installed in {store} (already removed); nothing to do"
        )?,
        (true, _) if report.store_deleted => writeln!(
            out,
            "license {id} removed; it was the last license, so {store} was deleted"
        )?,
        (true, Outcome::Written) if left == 0 => writeln!(
            out,
            "license {id} removed from {store}; no license is installed now ({store} keeps this deployment's id and its other entries)"
        )?,
        (true, _) if left == 0 => writeln!(
            out,
            "license {id} removed from {store}; no license is installed now"
        )?,
        (true, _) => writeln!(
            out,
            "license {id} removed from {store}; {left} license(s) remain"
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_license_id(text: &str) -> Result<LicenseId, String> {
    LicenseId::try_parse(text.trim())
        .map_err(|_| format!("{text:?} is not a license id: give the UUID that inspect shows"))
}
