//! `coder-license preflight`: the product's requirements page, checked against the cluster,
//! the database, the installed license and the licensor. The requirements are data
//! ([`spec`]); each check has a pass, warn or fail outcome and says what to do
//! ([`report`]). Read-only: it lists and gets, never writes.
//!
//! Module map: [`cluster`] reads the cluster, [`sizing`] and [`platform`] judge it,
//! [`postgres`] and [`licensing`] check the database and the license, [`gate`] is the part
//! `apply` runs, [`render`] prints the table.

pub mod cluster;
pub mod gate;
pub mod licensing;
pub mod platform;
pub mod postgres;
pub mod render;
pub mod report;
pub mod sizing;
pub mod spec;

use crate::cluster::connect::{self, ClusterFlags};
use crate::source::TrustArgs;
use crate::target::StoreArgs;
use report::{Check, Outcome, Report};

/// What a preflight run is given.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// The requirements.
    pub spec: &'a spec::Spec,
    /// How they are named in the report: `built-in` or the file.
    pub spec_name: String,
    /// The developers to size for.
    pub plan: sizing::Plan,
    /// `--postgres-url`.
    pub postgres_url: Option<&'a str>,
    /// `--licensor` and `--product-version`.
    pub deployment: licensing::Deployment<'a>,
    /// Where the cluster and the licenses are.
    pub store: &'a StoreArgs,
    /// The keys to verify licenses with, and the time.
    pub trust: &'a TrustArgs,
}

/// Runs every check, in the page's order. Errors only when the run cannot happen (the
/// cluster cannot be reached).
pub async fn run(inputs: &Inputs<'_>) -> anyhow::Result<Report> {
    let spec = inputs.spec;
    let mut checks: Vec<Check> = Vec::new();
    let mut server = None;
    if inputs.store.file_store.is_some() {
        checks.push(
            Check::new("cluster", "the Kubernetes cluster", &spec.control_plane.source).outcome(
                Outcome::Skipped,
                "--file-store: no cluster to check; run preflight against the cluster the product runs on",
            ),
        );
    } else {
        let connection = connect::connect(&ClusterFlags {
            kubeconfig: inputs.store.kubeconfig.clone(),
            context: inputs.store.context.clone(),
            namespace: inputs.store.namespace.clone(),
        })
        .await?;
        let observed = cluster::observe(&connection).await?;
        server = Some(observed.server.clone());
        checks.extend(sizing::checks(
            &spec.control_plane,
            inputs.plan,
            &observed.nodes,
        ));
        checks.extend(platform::api_groups(&spec.api_groups, &observed));
        checks.extend(platform::storage(&spec.storage, &observed.storage_classes));
        checks.extend(platform::network(&spec.network, &observed));
    }
    checks.extend(postgres::checks(&spec.postgres, inputs.postgres_url).await);
    checks.extend(
        licensing::checks(
            &spec.licensing,
            inputs.deployment,
            inputs.store,
            inputs.trust,
        )
        .await,
    );
    checks.push(platform::browsers(&spec.browsers));
    Ok(Report::new(
        inputs.spec_name.clone(),
        spec.page.clone(),
        server,
        checks,
    ))
}
