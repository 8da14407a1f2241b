//! What `apply` and license sync (`checkin`) share: judging a license before anything is
//! written (its signature, its term, a trial's rules, its deployment binding) and restarting
//! the control plane afterwards. One code path, so that a license the licensor pushes meets
//! exactly the keys, rules and refusal messages of `apply`.

use crate::cluster::restart;
use crate::preflight::gate::{self, ApplyArgs};
use crate::store::{Backend as _, Contents};
use crate::target::{Store, StoreArgs};
use license_core::{
    Context, DeploymentId, Entitlements, InstalledLicense, LicenseState, Timestamp,
    VerifiedLicense, Verifier, license_key,
};

/// A license that passed the checks made before the store is touched.
#[derive(Debug)]
pub struct Admitted {
    /// The verified license.
    pub license: VerifiedLicense,
    /// Where its term stands.
    pub state: LicenseState,
    /// Why, in words, when it is not simply active.
    pub note: Option<String>,
}

/// Where a license goes: this deployment's id, and whether it was derived just now.
#[derive(Debug, Default)]
pub struct Binding {
    /// This deployment's id, when stored or derived.
    pub deployment_id: Option<DeploymentId>,
    /// Derived now (for a bound license, when the store held none): store it with the license.
    pub derived: Option<DeploymentId>,
}

/// `--restart` needs a cluster; refuses it with `--file-store`.
pub fn check_restart(restart: Option<&str>, store_args: &StoreArgs) -> anyhow::Result<()> {
    if restart.is_some() && store_args.file_store.is_some() {
        anyhow::bail!(
            "--restart restarts a Deployment, and --file-store has no cluster: restart the control plane yourself"
        );
    }
    Ok(())
}

/// Judges `token` (read from `name`) before anything is written: it must verify with
/// `verifier`, grant something at `now` (or start later, or wait for a check-in), and a
/// trial must pass the licensing preflight. `Err` holds the refusal, as a sentence.
pub async fn judge(
    name: &str,
    token: &str,
    verifier: &Verifier,
    now: Timestamp,
    preflight: &ApplyArgs,
) -> anyhow::Result<Result<Admitted, String>> {
    let license = match verifier.verify(token, now) {
        Ok(license) => license,
        Err(error) => return Ok(Err(format!("{name}: {error}"))),
    };
    let id = license.id();
    let (state, note) = term(&license, now, verifier.max_clock_skew_secs());
    // A license that requires check-ins is judged here without a receipt (the check-in
    // reports the installed licenses, so it comes after the install): it is installed, and
    // the admin is told to check in.
    if !matches!(
        state,
        LicenseState::Active
            | LicenseState::GracePeriod
            | LicenseState::NotYetValid
            | LicenseState::CheckinRequired
    ) {
        let why = note.unwrap_or_else(|| "grants nothing".to_owned());
        return Ok(Err(format!("license {id} {why}")));
    }
    // A trial must pass the licensing preflight (licensor reachable, product recent enough).
    if let Some(why) = gate::before_apply(&license, preflight).await? {
        return Ok(Err(why));
    }
    Ok(Ok(Admitted {
        license,
        state,
        note,
    }))
}

/// Checks `license`'s deployment binding against the store's `contents`, deriving this
/// deployment's id when a bound license needs one and none is stored. `Err` holds the
/// refusal, as a sentence.
pub async fn bind(
    license: &VerifiedLicense,
    store: &Store,
    contents: &Contents,
) -> anyhow::Result<Result<Binding, String>> {
    let bound = &license.claims().deployment_ids;
    let mut derived: Option<DeploymentId> = None;
    let deployment_id = match &contents.deployment_id {
        Some(stored) => Some(stored.clone()),
        None if !bound.is_empty() => {
            let new = store.new_deployment_id().await?;
            derived = Some(new.clone());
            Some(new)
        }
        None => None,
    };
    if let Some(this) = &deployment_id
        && !bound.is_empty()
        && !bound.contains(this)
    {
        let bound: Vec<&str> = bound.iter().map(DeploymentId::as_str).collect();
        return Ok(Err(format!(
            "license {} is bound to deployment {}; this deployment is {this}",
            license.id(),
            bound.join(", ")
        )));
    }
    Ok(Ok(Binding {
        deployment_id,
        derived,
    }))
}

/// Restarts Deployment `deployment` of the store's namespace, as `kubectl rollout restart`
/// does, so that it verifies the licenses at startup. `None` for a file store (no cluster).
pub async fn restart(store: &Store, deployment: &str) -> anyhow::Result<Option<String>> {
    let Store::Secret(secret) = store else {
        return Ok(None);
    };
    let at = Timestamp::from_datetime(chrono::Utc::now())
        .map(Timestamp::rfc3339)
        .unwrap_or_default();
    restart::restart(
        secret.client(),
        secret.namespace(),
        deployment,
        &at,
        secret.endpoint(),
    )
    .await?;
    Ok(Some(format!(
        "deployment {}/{deployment}",
        secret.namespace()
    )))
}

/// Where the license's term stands at `now`, judged alone and as on a deployment it is bound
/// to (binding is checked against the store afterwards).
fn term(license: &VerifiedLicense, now: Timestamp, skew: i64) -> (LicenseState, Option<String>) {
    let bound_to = license.claims().deployment_ids.first().cloned();
    let installed = [InstalledLicense {
        name: license_key(license.id()),
        verdict: Ok(license.clone()),
    }];
    let context = Context {
        now,
        deployment_id: bound_to.as_ref(),
        active_users: None,
        high_water_mark: None,
        max_clock_skew_secs: skew,
    };
    let entitlements = Entitlements::compute(&installed, &context);
    entitlements
        .licenses
        .into_iter()
        .next()
        .map_or((LicenseState::Invalid, None), |r| (r.state, r.reason))
}
