//! What a deployment is entitled to, computed from its installed licenses at startup.
//!
//! Longer than 500 lines on purpose: it is one rule set over one table of license states,
//! read top to bottom; the evidence pass (receipts, revocations, supersession) writes the same
//! table the rest reads, and a module of its own would have to use this one back.
//!
//! The rules: licenses stack and per feature the better grant wins;
//! the grace period grants with a warning; a license not yet in force grants nothing but
//! suppresses the expiry warning of the license it continues; expiry is announced 30 days
//! ahead (7 for trials); over the user limit is a warning, never a lockout; a license bound
//! to other deployments, invalid, or superseded grants nothing; a clock turned back is an
//! error, and licenses are then judged at the latest time already seen, so turning the clock
//! back never revives an expired license. Nothing here panics on a bad license.

use crate::claims::LicenseClaims;
use crate::features::{self, USER_LIMIT};
use crate::ids::{DeploymentId, LicenseId};
use crate::license::{DEFAULT_MAX_CLOCK_SKEW_SECS, VerifiedLicense, VerifyError};
use crate::receipts::{ReceiptStatus, VerifiedReceipt, VerifiedRevocationList};
use crate::timestamp::{DAY, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Days before `license_expires` from which a paid license's expiry is announced.
pub const EXPIRY_WARNING_DAYS: i64 = 30;
/// Days before `license_expires` from which a trial's expiry is announced.
pub const TRIAL_EXPIRY_WARNING_DAYS: i64 = 7;

/// One license as installed on a deployment, with the outcome of verifying it.
#[derive(Debug, Clone)]
pub struct InstalledLicense {
    /// Where it was found (a file name, a Secret data key): how errors point at it.
    pub name: String,
    /// The verified license, or why it was refused.
    pub verdict: Result<VerifiedLicense, VerifyError>,
}

/// What the entitlements are computed for.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The current time, read by the caller.
    pub now: Timestamp,
    /// This deployment's id, when known; licenses bound to deployments need it.
    pub deployment_id: Option<&'a DeploymentId>,
    /// Active users, when known, compared to the user limit.
    pub active_users: Option<u64>,
    /// The latest time this deployment has already seen (persisted by the caller), to detect
    /// a clock turned back across restarts.
    pub high_water_mark: Option<Timestamp>,
    /// The clock difference tolerated, in seconds.
    pub max_clock_skew_secs: i64,
}

impl<'a> Context<'a> {
    /// A context at `now` with nothing else known and the default skew.
    pub fn at(now: Timestamp) -> Self {
        Self {
            now,
            deployment_id: None,
            active_users: None,
            high_water_mark: None,
            max_clock_skew_secs: DEFAULT_MAX_CLOCK_SKEW_SECS,
        }
    }
}

/// How a feature is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entitlement {
    /// Not granted.
    NotEntitled,
    /// Granted by a license whose term ended; it stops at the end of the grace period.
    GracePeriod,
    /// Granted.
    Entitled,
}

/// One feature's entitlement, with its limit and actual use where it has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FeatureEntitlement {
    /// How the feature is granted.
    pub entitlement: Entitlement,
    /// The limit (seats for `user_limit`).
    pub limit: Option<i64>,
    /// The actual use (active users for `user_limit`).
    pub actual: Option<i64>,
}

/// Where one installed license stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseState {
    /// In its term: grants.
    Active,
    /// Past its term, within its grace period: grants, with a warning.
    GracePeriod,
    /// Its term has not started: grants nothing yet.
    NotYetValid,
    /// Past its grace period: grants nothing.
    Expired,
    /// A license of the same account with a higher sequence is in force: grants nothing.
    Superseded,
    /// Bound to other deployments: grants nothing.
    WrongDeployment,
    /// Refused by verification: grants nothing.
    Invalid,
    /// Revoked by the licensor (revocation list or check-in receipt): grants nothing.
    Revoked,
    /// Requires check-ins, and no recent enough receipt lists it as active: grants nothing
    /// until the deployment checks in.
    CheckinRequired,
}

impl LicenseState {
    /// Whether a license in this state grants its features.
    pub fn grants(self) -> bool {
        matches!(self, LicenseState::Active | LicenseState::GracePeriod)
    }
}

/// One installed license in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LicenseReport {
    /// Where it was found.
    pub name: String,
    /// Its id, when it verified.
    pub id: Option<LicenseId>,
    /// Where it stands.
    pub state: LicenseState,
    /// Whether it grants its features now.
    pub grants: bool,
    /// Why it grants nothing, or what to watch, in words.
    pub reason: Option<String>,
}

/// The deployment's entitlements: what the control plane may enable, and what to tell people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entitlements {
    /// At least one license grants now.
    pub has_license: bool,
    /// A license that grants now is a trial.
    pub trial: bool,
    /// A license that grants now was issued under the evaluation program.
    pub evaluation: bool,
    /// Every known feature, and any other feature a license grants.
    pub features: BTreeMap<String, FeatureEntitlement>,
    /// Each installed license, in the order given.
    pub licenses: Vec<LicenseReport>,
    /// Things to act on that do not stop the deployment.
    pub warnings: Vec<String>,
    /// Things that are wrong: a license that grants nothing, a clock turned back.
    pub errors: Vec<String>,
    /// The time the licenses were judged at: `now`, or the high-water mark when the clock
    /// was turned back.
    pub evaluated_at: Timestamp,
    /// The latest time seen, for the caller to persist and pass back next time.
    pub high_water_mark: Timestamp,
}

impl Entitlements {
    /// Whether the deployment may start: no errors and at least one license granting.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty() && self.has_license
    }

    /// The entitlement of `feature` (not entitled when unknown).
    pub fn entitlement(&self, feature: &str) -> Entitlement {
        self.features
            .get(feature)
            .map_or(Entitlement::NotEntitled, |f| f.entitlement)
    }

    /// Computes the entitlements of `installed` licenses in `context`.
    pub fn compute(installed: &[InstalledLicense], context: &Context<'_>) -> Self {
        Self::compute_with(installed, context, &Evidence::default())
    }

    /// Computes the entitlements with what the licensor said: the latest check-in receipt
    /// (trials that require check-in grant only while it is recent; a license it calls
    /// revoked grants nothing) and the latest revocation list.
    pub fn compute_with(
        installed: &[InstalledLicense],
        context: &Context<'_>,
        evidence: &Evidence<'_>,
    ) -> Self {
        let skew = context.max_clock_skew_secs.max(0);
        let mut warnings = Vec::new();
        let mut errors = Vec::new();

        let now = context.now;
        let mut evaluated_at = now;
        if let Some(mark) = context.high_water_mark {
            if mark > now.add_seconds(skew) {
                errors.push(format!(
                    "this machine's clock reads {now}, earlier than {mark}, a time it has already seen: the clock was turned back; fix the clock (NTP). Licenses are judged as of {mark}."
                ));
            }
            evaluated_at = evaluated_at.max(mark);
        }
        let high_water_mark = installed
            .iter()
            .filter_map(|l| l.verdict.as_ref().ok())
            .map(|l| l.claims().iat)
            .chain(evidence.receipt.map(|r| r.claims().iat))
            .chain(evidence.revocations.map(|r| r.claims().iat))
            .fold(evaluated_at, Timestamp::max);

        let mut states: Vec<(LicenseState, Option<String>)> = installed
            .iter()
            .map(|l| match &l.verdict {
                Err(error) => (LicenseState::Invalid, Some(error.to_string())),
                Ok(license) => state_of(license, context.deployment_id, evaluated_at, skew),
            })
            .collect();
        apply_evidence(installed, &mut states, context, evidence, evaluated_at);
        mark_superseded(installed, &mut states);

        let mut features: BTreeMap<String, FeatureEntitlement> = features::known_features()
            .map(|name| (name.to_owned(), NOT_ENTITLED))
            .collect();
        let granting = || {
            installed
                .iter()
                .zip(&states)
                .filter(|(_, (state, _))| state.grants())
                .filter_map(|(l, (state, _))| Some((l.verdict.as_ref().ok()?, *state)))
        };
        for (license, state) in granting() {
            let level = match state {
                LicenseState::Active => Entitlement::Entitled,
                _ => Entitlement::GracePeriod,
            };
            for (name, limit) in grants_of(license.claims()) {
                grant(&mut features, name, level, limit);
            }
        }
        let has_license = granting().next().is_some();

        if let Some(users) = context.active_users {
            let actual = i64::try_from(users).unwrap_or(i64::MAX);
            if let Some(seats) = features.get_mut(USER_LIMIT) {
                seats.actual = Some(actual);
                if let (Entitlement::Entitled | Entitlement::GracePeriod, Some(limit)) =
                    (seats.entitlement, seats.limit)
                    && actual > limit
                {
                    warnings.push(format!(
                        "{actual} active users exceed the user limit of {limit}; add seats to the license (users are not locked out)"
                    ));
                }
            }
        }

        let mut reports = Vec::with_capacity(installed.len());
        for (index, (license, (state, reason))) in installed.iter().zip(&states).enumerate() {
            let verified = license.verdict.as_ref().ok();
            let label = verified.map_or_else(|| license.name.clone(), |v| v.id().to_string());
            match (state, verified) {
                (LicenseState::Active | LicenseState::GracePeriod, Some(v)) => {
                    if !is_continued(index, installed, &states, skew)
                        && let Some(warning) = expiry_warning(v, *state, evaluated_at)
                    {
                        warnings.push(warning);
                    }
                }
                (LicenseState::Expired | LicenseState::NotYetValid | LicenseState::Revoked, _)
                    if has_license =>
                {
                    if matches!(state, LicenseState::Expired | LicenseState::Revoked) {
                        warnings.push(format!(
                            "license {label} {}; remove it with `coder-license remove {label}`",
                            reason.as_deref().unwrap_or("expired")
                        ));
                    }
                }
                (LicenseState::Superseded, _) if has_license => warnings.push(format!(
                    "license {label} {}; remove it with `coder-license remove {label}`",
                    reason.as_deref().unwrap_or("is superseded")
                )),
                (LicenseState::Active | LicenseState::GracePeriod, None) => {}
                _ => errors.push(format!(
                    "license {label}: {}",
                    reason.as_deref().unwrap_or("grants nothing")
                )),
            }
            reports.push(LicenseReport {
                name: license.name.clone(),
                id: verified.map(VerifiedLicense::id),
                state: *state,
                grants: state.grants(),
                reason: reason.clone(),
            });
        }
        if installed.is_empty() {
            errors.push(
                "no license is installed: install the license you received by email with `coder-license apply -f license.jwt`"
                    .to_owned(),
            );
        }

        let any = |f: fn(&VerifiedLicense) -> bool| granting().any(|(l, _)| f(l));
        Self {
            has_license,
            trial: any(|l| l.claims().trial),
            evaluation: any(|l| l.claims().evaluation),
            features,
            licenses: reports,
            warnings,
            errors,
            evaluated_at,
            high_water_mark,
        }
    }
}

const NOT_ENTITLED: FeatureEntitlement = FeatureEntitlement {
    entitlement: Entitlement::NotEntitled,
    limit: None,
    actual: None,
};

/// The features `claims` grant, with the limit of each (`user_limit` has one).
fn grants_of(claims: &LicenseClaims) -> impl Iterator<Item = (&str, Option<i64>)> {
    let from_set = claims.feature_set.features().map(|name| (name, None));
    let from_map = claims.features.iter().filter(|(_, v)| **v > 0);
    let from_map =
        from_map.map(|(name, &value)| (name.as_str(), (name == USER_LIMIT).then_some(value)));
    from_set.chain(from_map)
}

fn grant(
    features: &mut BTreeMap<String, FeatureEntitlement>,
    name: &str,
    level: Entitlement,
    limit: Option<i64>,
) {
    let current = features.entry(name.to_owned()).or_insert(NOT_ENTITLED);
    if (level, limit) > (current.entitlement, current.limit) {
        current.entitlement = level;
        current.limit = limit;
    }
}

fn state_of(
    license: &VerifiedLicense,
    deployment_id: Option<&DeploymentId>,
    at: Timestamp,
    skew: i64,
) -> (LicenseState, Option<String>) {
    let c = license.claims();
    if c.is_bound() {
        let bound: Vec<&str> = c.deployment_ids.iter().map(DeploymentId::as_str).collect();
        let bound = bound.join(", ");
        match deployment_id {
            None => {
                return (
                    LicenseState::WrongDeployment,
                    Some(format!(
                        "is bound to deployment {bound}, but this deployment's id is not known; give it (--deployment-id)"
                    )),
                );
            }
            Some(id) if !c.deployment_ids.contains(id) => {
                return (
                    LicenseState::WrongDeployment,
                    Some(format!(
                        "is bound to deployment {bound}; this deployment is {id}"
                    )),
                );
            }
            Some(_) => {}
        }
    }
    if c.nbf > at.add_seconds(skew) {
        (
            LicenseState::NotYetValid,
            Some(format!(
                "starts on {}; it grants nothing before then",
                c.nbf.date()
            )),
        )
    } else if at <= c.license_expires {
        (LicenseState::Active, None)
    } else if at <= c.exp {
        (
            LicenseState::GracePeriod,
            Some(format!(
                "expired on {}; its grace period ends on {}",
                c.license_expires.date(),
                c.exp.date()
            )),
        )
    } else if c.exp > c.license_expires {
        (
            LicenseState::Expired,
            Some(format!(
                "expired on {} (grace ended {})",
                c.license_expires.date(),
                c.exp.date()
            )),
        )
    } else {
        (
            LicenseState::Expired,
            Some(format!("expired on {}", c.license_expires.date())),
        )
    }
}

/// What the licensor said, as installed beside the licenses.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence<'a> {
    /// The latest check-in receipt.
    pub receipt: Option<&'a VerifiedReceipt>,
    /// The latest revocation list.
    pub revocations: Option<&'a VerifiedRevocationList>,
}

/// Revocation (by the list, or by a receipt for this deployment) takes a license out whatever
/// its dates; the check-in requirement takes out a granting license without a recent receipt.
fn apply_evidence(
    installed: &[InstalledLicense],
    states: &mut [(LicenseState, Option<String>)],
    context: &Context<'_>,
    evidence: &Evidence<'_>,
    at: Timestamp,
) {
    let receipt = evidence.receipt;
    let receipt_here = receipt.filter(|r| context.deployment_id == Some(&r.claims().deployment_id));
    for (license, slot) in installed.iter().zip(states.iter_mut()) {
        let Ok(license) = &license.verdict else {
            continue;
        };
        if matches!(
            slot.0,
            LicenseState::WrongDeployment | LicenseState::Invalid
        ) {
            continue;
        }
        let id = license.id();
        if let Some(when) = evidence.revocations.and_then(|list| list.revoked_at(id)) {
            *slot = (
                LicenseState::Revoked,
                Some(format!(
                    "was revoked by the licensor on {}; it grants nothing",
                    when.date()
                )),
            );
            continue;
        }
        if let Some(r) = receipt_here
            && r.status_of(id) == Some(ReceiptStatus::Revoked)
        {
            *slot = (
                LicenseState::Revoked,
                Some(format!(
                    "was reported revoked by the licensor at the check-in of {}; it grants nothing",
                    r.claims().iat
                )),
            );
            continue;
        }
        // Replaced by a reissue or a trial extension: dead for good, even when the license
        // that replaced it is revoked, expired or removed (finding 1 of issue 12).
        if let Some(r) = receipt_here
            && r.status_of(id) == Some(ReceiptStatus::Superseded)
        {
            *slot = (
                LicenseState::Superseded,
                Some(format!(
                    "was replaced by a newer license (a reissue or a trial extension), as the licensor reported at the check-in of {}; it never grants again",
                    r.claims().iat
                )),
            );
            continue;
        }
        let Some(policy) = license.claims().checkin else {
            continue;
        };
        if !slot.0.grants() {
            continue;
        }
        let offline = i64::try_from(policy.max_offline_secs).unwrap_or(i64::MAX);
        let hours = |secs: i64| secs / 3600;
        let stale_list = |r: &VerifiedReceipt| match evidence.revocations {
            _ if r.status_of(id) != Some(ReceiptStatus::Active) => None,
            None => Some("no revocation list is installed".to_owned()),
            // A list as old as a missed check-in is a missed check-in: an old list cannot
            // stand in for a current one.
            Some(list) if at.seconds_since(list.issued_at()) > offline => Some(format!(
                "the installed revocation list was signed at {}, {} hours ago; the license allows {} hours without a new one",
                list.issued_at(),
                hours(at.seconds_since(list.issued_at())),
                hours(offline)
            )),
            Some(_) => None,
        };
        let problem = match (receipt, receipt_here) {
            (None, _) => Some("no check-in receipt is installed".to_owned()),
            (Some(r), None) => Some(format!(
                "the installed check-in receipt is for deployment {}, not this one",
                r.claims().deployment_id
            )),
            (_, Some(r)) => match r.status_of(id) {
                Some(ReceiptStatus::Active) if at.seconds_since(r.claims().iat) <= offline => {
                    stale_list(r)
                }
                Some(ReceiptStatus::Active) => Some(format!(
                    "the last check-in was at {}, {} hours ago; the license allows {} hours without one",
                    r.claims().iat,
                    hours(at.seconds_since(r.claims().iat)),
                    hours(offline)
                )),
                Some(status) => Some(format!(
                    "the last check-in receipt reports it as {}",
                    serde_json::to_value(status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                )),
                None => Some("the last check-in receipt does not list it".to_owned()),
            },
        };
        if let Some(problem) = problem {
            *slot = (
                LicenseState::CheckinRequired,
                Some(format!(
                    "requires regular check-ins with the licensor (no air-gapped use), and {problem}; it grants nothing until the deployment checks in (`coder-license checkin`)"
                )),
            );
        }
    }
}

/// A granting license is superseded by a granting license of the same account with a higher
/// sequence: a reissue (say, with fewer seats) replaces the old one instead of stacking on it.
fn mark_superseded(installed: &[InstalledLicense], states: &mut [(LicenseState, Option<String>)]) {
    let granting: Vec<(usize, &VerifiedLicense)> = installed
        .iter()
        .enumerate()
        .filter(|(i, _)| states[*i].0.grants())
        .filter_map(|(i, l)| Some((i, l.verdict.as_ref().ok()?)))
        .collect();
    for &(index, license) in &granting {
        let claims = license.claims();
        if claims.account_id.is_empty() {
            continue;
        }
        let newer = granting
            .iter()
            .filter(|(_, other)| {
                other.claims().account_id == claims.account_id
                    && other.claims().sequence > claims.sequence
            })
            .max_by_key(|(_, other)| other.claims().sequence);
        if let Some((_, newer)) = newer {
            states[index] = (
                LicenseState::Superseded,
                Some(format!(
                    "is superseded by license {} (sequence {} over {})",
                    newer.id(),
                    newer.claims().sequence,
                    claims.sequence
                )),
            );
        }
    }
}

/// Whether another license takes over without a gap when license `index` ends its term,
/// granting at least every feature it grants: only then is its expiry no news.
fn is_continued(
    index: usize,
    installed: &[InstalledLicense],
    states: &[(LicenseState, Option<String>)],
    skew: i64,
) -> bool {
    let Some(Ok(current)) = installed.get(index).map(|l| &l.verdict) else {
        return false;
    };
    let ends = current.claims().license_expires;
    let features = |claims| {
        grants_of(claims)
            .map(|(name, _)| name)
            .collect::<BTreeSet<_>>()
    };
    let needed = features(current.claims());
    installed
        .iter()
        .zip(states)
        .enumerate()
        .any(|(i, (other, (state, _)))| {
            let Ok(other) = &other.verdict else {
                return false;
            };
            i != index
                && matches!(
                    state,
                    LicenseState::Active | LicenseState::GracePeriod | LicenseState::NotYetValid
                )
                && other.claims().nbf <= ends.add_seconds(skew)
                && other.claims().license_expires > ends
                && needed.is_subset(&features(other.claims()))
        })
}

fn expiry_warning(license: &VerifiedLicense, state: LicenseState, at: Timestamp) -> Option<String> {
    let c = license.claims();
    let id = license.id();
    if state == LicenseState::GracePeriod {
        return Some(format!(
            "license {id} expired on {}; its grace period ends on {}, after which its features stop: renew it now",
            c.license_expires.date(),
            c.exp.date()
        ));
    }
    let (window, kind) = if c.trial {
        (TRIAL_EXPIRY_WARNING_DAYS, "trial license")
    } else {
        (EXPIRY_WARNING_DAYS, "license")
    };
    let left = c.license_expires.seconds_since(at);
    if left > window * DAY {
        return None;
    }
    let days = (left + DAY - 1) / DAY;
    let when = match days {
        0 => "today".to_owned(),
        1 => "in 1 day".to_owned(),
        n => format!("in {n} days"),
    };
    Some(format!(
        "{kind} {id} expires on {} ({when}); renew it to keep its features",
        c.license_expires.date()
    ))
}
