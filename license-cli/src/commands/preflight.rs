//! `coder-license preflight`: check the product's requirements page against the cluster, the
//! database, the installed license and the licensor, before installing (exit 0 when nothing
//! fails, 1 when a check fails, 2 when it could not run).

use crate::exit;
use crate::output::{self, Format};
use crate::preflight::licensing::Deployment;
use crate::preflight::sizing::{Ide, Plan};
use crate::preflight::spec::Spec;
use crate::preflight::{self, Inputs, render};
use crate::source::TrustArgs;
use crate::target::StoreArgs;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `preflight`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A requirements file to check instead of the built-in one (schema: docs/preflight.md).
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,
    /// Active developers to size the cluster for.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub developers: u32,
    /// The IDE they use, which sets each one's share.
    #[arg(long, value_enum, default_value_t = Ide::Jetbrains)]
    pub ide: Ide,
    /// The external PostgreSQL the product will use (postgres://USER:PASSWORD@HOST/DB).
    #[arg(long, value_name = "URL")]
    pub postgres_url: Option<String>,
    /// The licensor a trial license checks in with (checked only for a trial license).
    #[arg(long, value_name = "URL", env = "LICENSOR_URL")]
    pub licensor: Option<String>,
    /// The product version this deployment runs or will run.
    #[arg(long, value_name = "VERSION", env = "CODER_VERSION")]
    pub product_version: Option<String>,
    #[command(flatten)]
    pub trust: TrustArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// Runs every check and prints the report.
pub async fn run(args: &Args, store: &StoreArgs) -> anyhow::Result<ExitCode> {
    let (spec, spec_name) = match &args.spec {
        Some(path) => (Spec::read(path)?, path.display().to_string()),
        None => (Spec::built_in()?, "built-in".to_owned()),
    };
    let inputs = Inputs {
        spec: &spec,
        spec_name,
        plan: Plan {
            developers: args.developers,
            ide: args.ide,
        },
        postgres_url: args.postgres_url.as_deref(),
        deployment: Deployment {
            licensor: args.licensor.as_deref(),
            product_version: args.product_version.as_deref(),
        },
        store,
        trust: &args.trust,
    };
    let report = preflight::run(&inputs).await?;
    let mut out = std::io::stdout().lock();
    match args.output {
        Format::Table => render::print_table(&report, &mut out)?,
        format => output::print_document(&report, format, &mut out)?,
    }
    Ok(ExitCode::from(if report.failed() {
        exit::INVALID
    } else {
        exit::VALID
    }))
}
