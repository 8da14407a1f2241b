//! License sync, the part of `checkin` that installs the renewals a check-in answer carries:
//! each is judged exactly as `apply` judges a license file (`admit`), a license the admin
//! removed on purpose is left out, and the rest are installed together in one write that
//! only adds, so the store never loses the license that was granting. One refusal and nothing
//! is installed.

use super::admit::{self, Admitted, Binding};
use crate::preflight::gate::ApplyArgs;
use crate::store::{Backend as _, Contents};
use crate::target::{Store, StoreArgs};
use license_api::Renewal;
use license_core::{DeploymentId, LicenseId, Timestamp, Verifier};

/// Arguments of `checkin` for license sync.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// After installing a renewal the licensor pushed, restart this Deployment (the control
    /// plane), as `apply --restart` does, so that it verifies the licenses at startup.
    #[arg(long, value_name = "DEPLOYMENT")]
    pub restart: Option<String>,
}

/// What license sync did.
#[derive(Debug, Default)]
pub struct Synced {
    /// Renewals installed now: (new license, the license it renews, its expiry).
    pub installed: Vec<(LicenseId, String, String)>,
    /// Renewals left out because the admin removed them.
    pub removed: Vec<LicenseId>,
    /// Refusals, as `apply` words them; nothing was installed when there is one.
    pub refused: Vec<String>,
    /// The Deployment restarted.
    pub restarted: Option<String>,
}

/// One renewal that passed every check.
struct Accepted {
    id: LicenseId,
    token: Vec<u8>,
    derived: Option<DeploymentId>,
    renews: String,
    expires_at: String,
}

/// Judges the `renewals` as `apply` would and installs them in `store`, unless one is
/// refused. `licensor` and `product_version` feed a trial's licensing preflight, as
/// `apply --licensor --product-version` would.
pub async fn install(
    renewals: &[Renewal],
    store: &Store,
    verifier: &Verifier,
    now: Timestamp,
    preflight: &ApplyArgs,
    args: &SyncArgs,
) -> anyhow::Result<Synced> {
    let mut synced = Synced::default();
    if renewals.is_empty() {
        return Ok(synced);
    }
    let snapshot = store.read().await?;
    let removed = snapshot.contents.removed();
    let mut accepted: Vec<Accepted> = Vec::new();
    for renewal in renewals {
        let name = format!(
            "license {} pushed by the licensor (renewing {})",
            renewal.license_id, renewal.supersedes
        );
        let admitted = match admit::judge(&name, &renewal.token, verifier, now, preflight).await? {
            Ok(admitted) => admitted,
            Err(why) => {
                synced.refused.push(why);
                continue;
            }
        };
        let Admitted { license, .. } = admitted;
        let id = license.id();
        if id.to_string() != renewal.license_id.trim() {
            synced.refused.push(format!(
                "{name}: its token is license {id}, not the license the licensor named"
            ));
            continue;
        }
        if removed.contains(&id) {
            synced.removed.push(id);
            continue;
        }
        if snapshot.contents.licenses.contains_key(&id) {
            continue;
        }
        match admit::bind(&license, store, &snapshot.contents).await? {
            Ok(Binding { derived, .. }) => accepted.push(Accepted {
                id,
                token: renewal.token.trim().as_bytes().to_vec(),
                derived,
                renews: renewal.supersedes.clone(),
                expires_at: license.claims().license_expires.date(),
            }),
            Err(why) => synced.refused.push(why),
        }
    }
    if !synced.refused.is_empty() || accepted.is_empty() {
        return Ok(synced);
    }
    let (_, installed) = store
        .update(|current: &Contents| {
            let mut next = current.clone();
            let mut installed = Vec::new();
            for renewal in &accepted {
                // Removed while this ran: still respected.
                if current.removed().contains(&renewal.id) {
                    continue;
                }
                next.licenses.insert(renewal.id, renewal.token.clone());
                if next.deployment_id.is_none() {
                    next.deployment_id.clone_from(&renewal.derived);
                }
                installed.push(renewal.id);
            }
            Ok((next, installed))
        })
        .await?;
    synced.installed = accepted
        .into_iter()
        .filter(|a| installed.contains(&a.id))
        .map(|a| (a.id, a.renews, a.expires_at))
        .collect();
    if synced.installed.is_empty() {
        return Ok(synced);
    }
    if let Some(deployment) = &args.restart {
        synced.restarted = admit::restart(store, deployment).await?;
    }
    Ok(synced)
}

/// `--restart` needs a cluster, as with `apply`.
pub fn check(args: &SyncArgs, store_args: &StoreArgs) -> anyhow::Result<()> {
    admit::check_restart(args.restart.as_deref(), store_args)
}

/// Prints what license sync did to `out` (refusals to standard error, as `apply` does).
pub fn report(synced: &Synced, store: &str, out: &mut impl std::io::Write) -> std::io::Result<()> {
    for why in &synced.refused {
        eprintln!("refused: {why}; nothing was installed");
    }
    for id in &synced.removed {
        writeln!(
            out,
            "license {id}, a renewal the licensor pushed, was removed here on purpose (coder-license remove); not installed again (apply it to install it)"
        )?;
    }
    for (id, renews, expires) in &synced.installed {
        writeln!(
            out,
            "license {id} (renewing {renews}, expires {expires}) installed in {store}"
        )?;
    }
    if let Some(deployment) = &synced.restarted {
        writeln!(
            out,
            "{deployment} restarted: its new pods verify the licenses at startup"
        )?;
    }
    Ok(())
}
