//! The licensing part of the page: a license is installed and valid, and a trial license's
//! rules hold here (the licensor is reachable, so the deployment is not air-gapped; the
//! product is recent enough; it checks in). An evaluation-program license waives the trial
//! rules, and the checks say so, naming the enrollment.

use super::report::{Check, Outcome};
use super::spec::Licensing;
use crate::source::{self, LicenseArgs, TrustArgs};
use crate::target::StoreArgs;
use license_core::{LicenseClaims, LicenseState, ProductVersion, VerifiedLicense};
use std::time::Duration;

/// What the licensing checks are told about the deployment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Deployment<'a> {
    /// The licensor's base URL (`--licensor`).
    pub licensor: Option<&'a str>,
    /// The product version the deployment runs (`--product-version`).
    pub product_version: Option<&'a str>,
}

/// The installed license, and the trial rules for it.
pub async fn checks(
    spec: &Licensing,
    deployment: Deployment<'_>,
    store: &StoreArgs,
    trust: &TrustArgs,
) -> Vec<Check> {
    let installed = Check::new(
        "license.installed",
        "a valid license is installed",
        &spec.source,
    )
    .required("at least one license that grants now");
    let args = LicenseArgs {
        files: Vec::new(),
        trust: TrustArgs {
            trust_keys: trust.trust_keys.clone(),
            now: trust.now,
        },
        deployment_id: None,
        users: None,
    };
    let judged = match source::judge(&args, store).await {
        Ok(judged) => judged,
        Err(error) => {
            let text = format!("{error:#}");
            let (outcome, message) = if text.contains("not allowed to") {
                (Outcome::Warn, format!("not checked: {text}"))
            } else {
                (Outcome::Fail, text)
            };
            let mut checks = vec![installed.outcome(outcome, message)];
            checks.extend(skipped(spec, "the installed licenses could not be read"));
            return checks;
        }
    };
    // The licenses that are, or are about to be, in force: a trial waiting for its first
    // check-in is one of them.
    let current: Vec<(&VerifiedLicense, LicenseState)> = judged
        .installed
        .iter()
        .zip(&judged.entitlements.licenses)
        .filter_map(|(license, report)| {
            let in_force = matches!(
                report.state,
                LicenseState::Active
                    | LicenseState::GracePeriod
                    | LicenseState::CheckinRequired
                    | LicenseState::NotYetValid
            );
            license
                .verdict
                .as_ref()
                .ok()
                .filter(|_| in_force)
                .map(|l| (l, report.state))
        })
        .collect();
    let e = &judged.entitlements;
    let describe = |(license, state): &(&VerifiedLicense, LicenseState)| {
        let state = serde_json::to_value(state)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        format!("{} ({}, {state})", license.id(), kind(license.claims()))
    };
    let observed = if current.is_empty() {
        format!("{} installed, none in force", judged.installed.len())
    } else {
        current.iter().map(describe).collect::<Vec<_>>().join(", ")
    };
    let installed = installed.observed(observed);
    let installed = if e.is_valid() && e.has_license {
        installed.outcome(Outcome::Pass, "valid")
    } else if judged.installed.is_empty() {
        installed.outcome(
            Outcome::Fail,
            "no license is installed: install the emailed license with coder-license apply -f license.jwt (for a free trial: coder-license trial request)",
        )
    } else {
        let why = if e.errors.is_empty() {
            "no license grants anything now".to_owned()
        } else {
            e.errors.join("; ")
        };
        installed.outcome(
            Outcome::Fail,
            format!("{why}: install a valid license with coder-license apply -f license.jwt"),
        )
    };
    let mut checks = vec![installed];
    // A plain trial is held to the trial rules; an evaluation-program license (a trial or
    // not) waives them.
    let plain = current
        .iter()
        .find(|(l, _)| l.claims().trial && !l.claims().evaluation);
    let evaluation = current.iter().find(|(l, _)| l.claims().evaluation);
    match (plain, evaluation) {
        (Some((license, state)), _) => {
            checks.extend(trial_rules(spec, license, deployment).await);
            checks.push(checkin(spec, license, *state));
        }
        (None, Some((license, _))) => checks.extend(waived(spec, license)),
        (None, None) => checks.extend(skipped(
            spec,
            "no trial license is in force: the trial rules do not apply",
        )),
    }
    checks
}

/// `trial`, `paid`, with `evaluation program` when it is one.
fn kind(claims: &LicenseClaims) -> String {
    let mut kind = if claims.trial { "trial" } else { "paid" }.to_owned();
    if claims.evaluation {
        kind.push_str(", evaluation program");
    }
    kind
}

const TRIAL_CHECKS: [(&str, &str); 3] = [
    (
        "license.trial.licensor",
        "the licensor is reachable (trials may not be air-gapped)",
    ),
    (
        "license.trial.product_version",
        "the product version is at least the trial minimum",
    ),
    (
        "license.trial.checkin",
        "the trial checks in with the licensor",
    ),
];

fn skipped(spec: &Licensing, why: &str) -> Vec<Check> {
    TRIAL_CHECKS
        .iter()
        .map(|(id, title)| Check::new(*id, *title, &spec.source).outcome(Outcome::Skipped, why))
        .collect()
}

/// The enrollment an evaluation-program license carries, in words.
pub fn enrollment(license: &VerifiedLicense) -> String {
    let c = license.claims();
    let mut who = format!("licensee {}", c.sub);
    if !c.account_id.is_empty() {
        who.push_str(&format!(", account {}", c.account_id));
        if !c.account_type.is_empty() {
            who.push_str(&format!(" ({})", c.account_type));
        }
    }
    format!(
        "license {} is an evaluation-program license ({who}): the enrollment waives the trial rules",
        license.id()
    )
}

fn waived(spec: &Licensing, license: &VerifiedLicense) -> Vec<Check> {
    let why = format!("waived: {}", enrollment(license));
    TRIAL_CHECKS
        .iter()
        .map(|(id, title)| {
            Check::new(*id, *title, &spec.source)
                .observed(format!("license {} (evaluation program)", license.id()))
                .outcome(Outcome::Waived, why.clone())
        })
        .collect()
}

/// The trial rules that can be checked before the license is installed: the licensor is
/// reachable, and the product version is recent enough.
pub async fn trial_rules(
    spec: &Licensing,
    license: &VerifiedLicense,
    deployment: Deployment<'_>,
) -> Vec<Check> {
    vec![
        licensor(spec, deployment.licensor).await,
        product_version(spec, license.claims(), deployment.product_version),
    ]
}

async fn licensor(spec: &Licensing, base: Option<&str>) -> Check {
    let (id, title) = TRIAL_CHECKS[0];
    let check = Check::new(id, title, &spec.source).required(format!(
        "GET {} answers 2xx from the deployment",
        spec.trial.health_path
    ));
    let Some(base) = base else {
        return check.outcome(
            Outcome::Warn,
            "not checked: pass --licensor URL (or set LICENSOR_URL), the licensor the trial checks in with",
        );
    };
    let base = base.trim().trim_end_matches('/');
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        return check.outcome(
            Outcome::Fail,
            format!("--licensor {base:?} is not an http:// or https:// URL"),
        );
    }
    let url = format!("{base}{}", spec.trial.health_path);
    let timeout = Duration::from_secs(u64::from(spec.trial.timeout_seconds.max(1)));
    let client = match reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("coder-license/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            return check.outcome(
                Outcome::Warn,
                format!("not checked: no HTTP client: {error}"),
            );
        }
    };
    let air_gap = "trials must reach the licensor (no air-gapped trials): allow egress from the cluster to it, or ask the vendor about the evaluation program for air-gapped use";
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => check
            .observed(format!("GET {url}: HTTP {}", response.status().as_u16()))
            .outcome(Outcome::Pass, "reachable"),
        Ok(response) => check
            .observed(format!("GET {url}: HTTP {}", response.status().as_u16()))
            .outcome(
                Outcome::Fail,
                format!(
                    "the licensor at {base} answered HTTP {} to its health check: it is not healthy, or the URL is not a licensor's; {air_gap}",
                    response.status().as_u16()
                ),
            ),
        Err(error) => {
            let mut cause: &dyn std::error::Error = &error;
            while let Some(next) = cause.source() {
                cause = next;
            }
            let why = if error.is_timeout() {
                format!("no answer within {} seconds", timeout.as_secs())
            } else {
                cause.to_string()
            };
            check
                .observed(format!("GET {url}: {why}"))
                .outcome(
                    Outcome::Fail,
                    format!("cannot reach the licensor at {base} ({why}); {air_gap}"),
                )
        }
    }
}

fn product_version(spec: &Licensing, claims: &LicenseClaims, given: Option<&str>) -> Check {
    let (id, title) = TRIAL_CHECKS[1];
    let from_license = claims
        .min_product_version
        .as_deref()
        .and_then(ProductVersion::parse);
    let minimum = from_license.map_or(spec.trial.min_product_version, |v| {
        v.max(spec.trial.min_product_version)
    });
    let check = Check::new(id, title, &spec.source).required(format!("{minimum} or later"));
    let Some(given) = given else {
        return check.outcome(
            Outcome::Warn,
            "not checked: pass --product-version VERSION (or set CODER_VERSION), the version this deployment runs",
        );
    };
    let check = check.observed(given);
    match ProductVersion::parse(given) {
        None => check.outcome(
            Outcome::Fail,
            format!("--product-version {given:?} is not a version MAJOR.MINOR.PATCH"),
        ),
        Some(version) if version < minimum => check.outcome(
            Outcome::Fail,
            format!(
                "trials require the product at {minimum} or later and this deployment runs {version}: upgrade the product first"
            ),
        ),
        Some(_) => check.outcome(Outcome::Pass, "recent enough"),
    }
}

fn checkin(spec: &Licensing, license: &VerifiedLicense, state: LicenseState) -> Check {
    let (id, title) = TRIAL_CHECKS[2];
    let check = Check::new(id, title, &spec.source);
    let Some(policy) = license.claims().checkin else {
        return check
            .required("none: the license has no check-in policy")
            .outcome(Outcome::Pass, "the license requires no check-in");
    };
    let hours = |secs: u64| secs / 3600;
    let check = check.required(format!(
        "a check-in every {}h, at most {}h offline",
        hours(policy.interval_secs),
        hours(policy.max_offline_secs)
    ));
    if state == LicenseState::CheckinRequired {
        check.observed("no valid check-in receipt").outcome(
            Outcome::Fail,
            format!(
                "trial license {} grants nothing until the deployment checks in: run coder-license checkin --licensor URL now, and schedule it (deploy/customer/control-plane.yaml has a CronJob)",
                license.id()
            ),
        )
    } else {
        check
            .observed("a valid check-in receipt is installed")
            .outcome(Outcome::Pass, "checked in")
    }
}
