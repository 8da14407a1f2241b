//! License sync: the licenses a check-in answer carries besides the receipt. For each license
//! the deployment reported, the newest license of its reissue chain, when that one is active
//! and may run on the deployment, travels to it as its signed token.

use super::Licensor;
use super::error::Result;
use crate::store::licenses::{self, LicenseRecord, LicenseStatus};
use license_core::{DeploymentId, LicenseId, Timestamp};

/// How many reissues a chain is followed through; longer chains end there.
const MAX_CHAIN: usize = 64;

pub use super::checkin_state::Renewal;

/// Whether `license` may be installed on `deployment` at `now`: active, within its grace,
/// and bound to it or to no deployment at all.
fn grants_on(license: &LicenseRecord, deployment: &DeploymentId, now: Timestamp) -> bool {
    license.status == LicenseStatus::Active
        && now <= license.grace_ends_at
        && (license.deployment_ids.is_empty()
            || license
                .deployment_ids
                .iter()
                .any(|d| d == deployment.as_str()))
}

/// The renewals for `deployment` at `now` of the reported licenses, each given with the
/// newest license of its reissue chain: that one, unless the deployment reported it already
/// or may not run it.
pub(super) fn renewals_from(
    reported: &[(&LicenseRecord, Option<&LicenseRecord>)],
    deployment: &DeploymentId,
    now: Timestamp,
) -> Vec<Renewal> {
    let mut renewals: Vec<Renewal> = Vec::new();
    for (old, newest) in reported {
        let Some(newest) = newest else { continue };
        let already = reported.iter().any(|(r, _)| r.id == newest.id)
            || renewals.iter().any(|r| r.license_id == newest.id);
        if already || !grants_on(newest, deployment, now) {
            continue;
        }
        renewals.push(Renewal {
            license_id: newest.id,
            supersedes: old.id,
            token: newest.token.clone(),
            expires_at: newest.expires_at,
        });
    }
    renewals
}

impl Licensor {
    /// The renewals of the `reported` licenses for `deployment`: the newest license of each
    /// one's reissue chain, unless the deployment reported it already or may not run it.
    pub async fn renewals(
        &self,
        reported: &[LicenseRecord],
        deployment: &DeploymentId,
        now: Timestamp,
    ) -> Result<Vec<Renewal>> {
        let mut chains = Vec::with_capacity(reported.len());
        for old in reported {
            chains.push(self.newest_successor(old.id).await?);
        }
        let pairs: Vec<(&LicenseRecord, Option<&LicenseRecord>)> = reported
            .iter()
            .zip(chains.iter().map(Option::as_ref))
            .collect();
        Ok(renewals_from(&pairs, deployment, now))
    }

    /// The newest license of `id`'s reissue chain after it, if it was reissued.
    pub(super) async fn newest_successor(&self, id: LicenseId) -> Result<Option<LicenseRecord>> {
        let mut newest: Option<LicenseRecord> = None;
        let mut current = id;
        for _ in 0..MAX_CHAIN {
            match licenses::successor(self.store().conn(), current).await? {
                Some(next) => {
                    current = next.id;
                    newest = Some(next);
                }
                None => break,
            }
        }
        Ok(newest)
    }
}
