//! The licensing preflight `apply` runs before it installs a trial license: the licensor must
//! be reachable and the product recent enough, or the license is refused, unless
//! `--skip-preflight`, which is recorded in the Secret's annotations.

use super::licensing::{self, Deployment};
use super::report::Outcome;
use super::spec::Spec;
use crate::store::Backend as _;
use crate::target::Store;
use crate::target::StoreArgs;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use license_core::{LicenseId, VerifiedLicense};

/// The annotation that records an install that skipped the preflight.
pub const SKIPPED_ANNOTATION: &str = "licensor.coder.com/preflight-skipped";
/// The field manager of that annotation.
const FIELD_MANAGER: &str = "coder-license-preflight";

/// `apply`'s preflight flags.
#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    /// Install a trial license even when the licensing preflight fails (the Secret records
    /// it in the annotation licensor.coder.com/preflight-skipped).
    #[arg(long)]
    pub skip_preflight: bool,
    /// The licensor a trial license checks in with: apply checks that it is reachable.
    #[arg(long, value_name = "URL", env = "LICENSOR_URL")]
    pub licensor: Option<String>,
    /// The product version this deployment runs: apply checks it against a trial's minimum.
    #[arg(long, value_name = "VERSION", env = "CODER_VERSION")]
    pub product_version: Option<String>,
}

/// Runs the trial rules for `license` (nothing for other licenses, or an evaluation-program
/// license, which waives them). Returns why the license must be refused; warnings go to
/// standard error.
pub async fn before_apply(
    license: &VerifiedLicense,
    args: &ApplyArgs,
) -> anyhow::Result<Option<String>> {
    let claims = license.claims();
    if !claims.trial {
        return Ok(None);
    }
    if claims.evaluation {
        eprintln!("note: {}", licensing::enrollment(license));
        return Ok(None);
    }
    if args.skip_preflight {
        eprintln!(
            "warning: --skip-preflight: the trial rules were not checked for license {}; the Secret records it ({SKIPPED_ANNOTATION})",
            license.id()
        );
        return Ok(None);
    }
    let spec = Spec::built_in()?;
    let deployment = Deployment {
        licensor: args.licensor.as_deref(),
        product_version: args.product_version.as_deref(),
    };
    let checks = licensing::trial_rules(&spec.licensing, license, deployment).await;
    let mut failures = Vec::new();
    for check in checks {
        match check.outcome {
            Outcome::Fail => failures.push(check.message),
            Outcome::Warn => eprintln!("warning: preflight {}: {}", check.id, check.message),
            _ => {}
        }
    }
    if failures.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!(
        "trial license {} fails the licensing preflight: {} (install anyway with --skip-preflight, which is recorded on the Secret)",
        license.id(),
        failures.join("; ")
    )))
}

/// Records on the Secret that `license` was installed with `--skip-preflight` (a directory
/// store has nowhere to record it, and says so).
pub async fn record_skip(
    args: &ApplyArgs,
    store_args: &StoreArgs,
    store: &Store,
    license: &VerifiedLicense,
    at: &str,
) -> anyhow::Result<()> {
    if !args.skip_preflight || !license.claims().trial || license.claims().evaluation {
        return Ok(());
    }
    let Store::Secret(secret) = store else {
        eprintln!(
            "note: --skip-preflight is not recorded in {} (a directory has no annotations)",
            store.describe()
        );
        return Ok(());
    };
    let value = skip_record(license.id(), at);
    let patch = serde_json::json!({"metadata": {"annotations": {SKIPPED_ANNOTATION: value}}});
    let api: Api<Secret> = Api::namespaced(secret.client().clone(), secret.namespace());
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    api.patch(store_args.secret_name(), &params, &Patch::Merge(&patch))
        .await
        .map_err(|e| {
            crate::cluster::errors::explain(
                &e,
                crate::cluster::errors::Op {
                    verb: "patch",
                    resource: "secrets",
                    object: &secret.describe(),
                    namespace: Some(secret.namespace()),
                },
                secret.endpoint(),
            )
            .context("the license is installed, but --skip-preflight could not be recorded")
        })?;
    Ok(())
}

/// The annotation's value: when, and which license.
pub fn skip_record(id: LicenseId, at: &str) -> String {
    format!("{at} license {id}")
}
