//! `coder-license deployment-id`: this deployment's id, which licenses are bound to and
//! trials are requested for. When none is stored, one is derived from the cluster's identity
//! (or generated, for `--file-store`) and stored, so it never changes afterwards.

use crate::output::{self, Format};
use crate::store::Backend as _;
use crate::target::StoreArgs;
use serde::Serialize;
use std::io::Write as _;
use std::process::ExitCode;

/// Arguments of `deployment-id`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format: `table` prints the id alone, for scripts (`ID=$(coder-license
    /// deployment-id)`).
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Serialize)]
struct Shown {
    deployment_id: String,
    /// `stored`, or `derived` / `generated` now (and stored).
    source: &'static str,
    store: String,
}

/// This deployment's id and where it came from (`stored`, or `derived` / `generated` now and
/// stored): every command that needs the id (trial requests, check-ins) gets it here.
pub async fn ensure(
    store: &crate::target::Store,
) -> anyhow::Result<(license_core::DeploymentId, &'static str)> {
    let snapshot = store.read().await?;
    if let Some(id) = snapshot.contents.deployment_id {
        return Ok((id, "stored"));
    }
    let new = store.new_deployment_id().await?;
    let (_, id) = store
        .update(|current| {
            let mut next = current.clone();
            let id = next
                .deployment_id
                .get_or_insert_with(|| new.clone())
                .clone();
            Ok((next, id))
        })
        .await?;
    let source = match (store, id == new) {
        (_, false) => "stored",
        (crate::target::Store::Secret(_), true) => "derived",
        (crate::target::Store::Files(_), true) => "generated",
    };
    Ok((id, source))
}

/// Prints the id, storing a new one first when none is stored.
pub async fn run(args: &Args, store_args: &StoreArgs) -> anyhow::Result<ExitCode> {
    let store = store_args.open().await?;
    let (id, source) = ensure(&store).await?;
    let shown = Shown {
        deployment_id: id.to_string(),
        source,
        store: store.describe(),
    };
    let mut out = std::io::stdout().lock();
    if args.output != Format::Table {
        output::print_document(&shown, args.output, &mut out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{id}")?;
    match source {
        "derived" => eprintln!(
            "derived from the cluster's identity (the kube-system namespace uid and the namespace) and stored in {}",
            shown.store
        ),
        "generated" => eprintln!("generated and stored in {}", shown.store),
        _ => {}
    }
    Ok(ExitCode::SUCCESS)
}
