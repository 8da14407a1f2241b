//! `coder-license apply -f FILE|-`: verify a license offline, then install it beside the
//! others (server-side apply of the Secret, or a file in `--file-store`), and optionally
//! restart the control plane so that it verifies it at startup.

use super::admit::{self, Admitted, Binding};
use crate::exit;
use crate::output::{self, Format};
use crate::source::{self, TrustArgs};
use crate::store::{Backend as _, Contents, Outcome};
use crate::target::Store;
use crate::target::StoreArgs;
use license_core::LicenseState;
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `apply`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The license file, as received by email; `-` reads standard input.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Print the object that would be written, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Then restart this Deployment (the control plane), as `kubectl rollout restart` does,
    /// so that it verifies the licenses at startup.
    #[arg(long, value_name = "DEPLOYMENT")]
    pub restart: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub preflight: crate::preflight::gate::ApplyArgs,
}

/// What `apply` did, as `-o json|yaml` prints it.
#[derive(Debug, Serialize)]
struct Applied {
    license_id: String,
    store: String,
    /// `installed`, `updated`, `unchanged`, or `dry_run`.
    action: &'static str,
    state: LicenseState,
    /// Installed before its term starts.
    starts_later: bool,
    /// Other licenses were installed already (so a later start is a renewal installed early).
    renewal: bool,
    starts_at: String,
    note: Option<String>,
    deployment_id: Option<String>,
    /// The deployment id was derived now and stored with the license.
    deployment_id_stored: bool,
    restarted: Option<String>,
}

/// Refuses (exit 1) a license that does not verify, has expired, or is bound to another
/// deployment, before anything is written; otherwise installs it (exit 0).
pub async fn run(args: &Args, store_args: &StoreArgs) -> anyhow::Result<ExitCode> {
    admit::check_restart(args.restart.as_deref(), store_args)?;
    let verifier = args.trust.verifier()?;
    let now = args.trust.now()?;
    let (name, token) = source::read_license_file(&args.file)?;
    let Admitted {
        license,
        state,
        note,
    } = match admit::judge(&name, &token, &verifier, now, &args.preflight).await? {
        Ok(admitted) => admitted,
        Err(why) => return refuse(&why),
    };
    let id = license.id();

    // Only now is the cluster (or the directory) touched.
    let store = store_args.open().await?;
    let snapshot = store.read().await?;
    let Binding {
        deployment_id,
        derived,
    } = match admit::bind(&license, &store, &snapshot.contents).await? {
        Ok(binding) => binding,
        Err(why) => return refuse(&why),
    };

    let token = token.trim().as_bytes().to_vec();
    let change = |current: &Contents| {
        let mut new = current.clone();
        let previous = new.licenses.insert(id, token.clone());
        // Installed by hand: no longer a license the admin removed on purpose.
        new.set_removed(id, false);
        if new.deployment_id.is_none() {
            new.deployment_id.clone_from(&derived);
        }
        Ok((new, previous))
    };
    let mut report = Applied {
        license_id: id.to_string(),
        store: store.describe(),
        action: "dry_run",
        state,
        starts_later: state == LicenseState::NotYetValid,
        renewal: snapshot.contents.licenses.keys().any(|other| *other != id),
        starts_at: license.claims().nbf.rfc3339(),
        note,
        deployment_id: deployment_id.as_ref().map(|d| d.to_string()),
        deployment_id_stored: false,
        restarted: None,
    };
    let mut out = std::io::stdout().lock();
    if args.dry_run {
        let (new, _) = change(&snapshot.contents)?;
        print_dry_run(&store, &new, args.output, &mut out)?;
        eprintln!("dry run: nothing was changed");
        return Ok(ExitCode::from(exit::VALID));
    }
    let (outcome, previous) = store.update(change).await?;
    report.action = match (outcome, &previous) {
        (Outcome::Unchanged, _) => "unchanged",
        (_, None) => "installed",
        (_, Some(_)) => "updated",
    };
    report.deployment_id_stored = derived.is_some() && outcome != Outcome::Unchanged;
    crate::preflight::gate::record_skip(
        &args.preflight,
        store_args,
        &store,
        &license,
        &now.rfc3339(),
    )
    .await?;
    if let Some(deployment) = &args.restart {
        report.restarted = admit::restart(&store, deployment).await?;
    }
    match args.output {
        Format::Table => print_table(&report, &mut out)?,
        format => output::print_document(&report, format, &mut out)?,
    }
    if state == LicenseState::GracePeriod
        && let Some(note) = &report.note
    {
        eprintln!("warning: license {id} {note}; install its renewal");
    }
    if state == LicenseState::CheckinRequired && !args.dry_run {
        eprintln!(
            "warning: license {id} requires regular check-ins with the licensor: it grants nothing until the deployment checks in; run `coder-license checkin --licensor URL` now, and regularly (deploy/customer/control-plane.yaml has a CronJob)"
        );
    }
    Ok(ExitCode::from(exit::VALID))
}

fn refuse(why: &str) -> anyhow::Result<ExitCode> {
    eprintln!("refused: {why}; nothing was installed");
    Ok(ExitCode::from(exit::INVALID))
}

fn print_dry_run(
    store: &Store,
    new: &Contents,
    format: Format,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let format = if format == Format::Table {
        Format::Yaml
    } else {
        format
    };
    match store {
        Store::Secret(secret) => output::print_document(&secret.object(new, None), format, out)?,
        Store::Files(files) => {
            let files: Vec<String> = new
                .entries()
                .keys()
                .map(|key| files.path_of(key).display().to_string())
                .collect();
            output::print_document(&serde_json::json!({ "files": files }), format, out)?;
        }
    }
    Ok(())
}

fn print_table(report: &Applied, out: &mut impl std::io::Write) -> std::io::Result<()> {
    let Applied {
        license_id: id,
        store,
        ..
    } = report;
    match report.action {
        "unchanged" => writeln!(
            out,
            "license {id} is already installed in {store}; nothing changed"
        )?,
        "updated" => writeln!(out, "license {id} updated in {store}")?,
        _ => writeln!(out, "license {id} installed in {store}")?,
    }
    if report.starts_later {
        let date = report.starts_at.get(..10).unwrap_or(&report.starts_at);
        if report.renewal {
            writeln!(
                out,
                "license {id} starts on {date}: a renewal installed early; it grants nothing before then"
            )?;
        } else {
            writeln!(
                out,
                "license {id} starts on {date}; it grants nothing before then"
            )?;
        }
    }
    if report.deployment_id_stored
        && let Some(deployment_id) = &report.deployment_id
    {
        writeln!(
            out,
            "deployment id {deployment_id} (derived from the cluster's identity) stored in {store}"
        )?;
    }
    match &report.restarted {
        Some(deployment) => writeln!(
            out,
            "{deployment} restarted: its new pods verify the licenses at startup"
        ),
        None => Ok(()),
    }
}
