//! What preflight found: one [`Check`] per requirement, and the report `-o json|yaml` prints
//! (its schema is documented in docs/preflight.md and is stable).

use serde::Serialize;

/// The schema name of the JSON and YAML report.
pub const SCHEMA: &str = "licensor.coder.com/preflight/v1";

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The requirement is met.
    Pass,
    /// Information from the page, not checked.
    Info,
    /// The requirement does not apply here (a trial rule without a trial license).
    Skipped,
    /// An evaluation-program enrollment waives the requirement.
    Waived,
    /// Met, but close to the limit, or not checked (a missing permission or input).
    Warn,
    /// Not met: the product will not work, or is not allowed to run, as is.
    Fail,
}

impl Outcome {
    /// As printed: `pass`, `warn`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Info => "info",
            Outcome::Skipped => "skipped",
            Outcome::Waived => "waived",
            Outcome::Warn => "warn",
            Outcome::Fail => "fail",
        }
    }
}

/// One requirement, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// A stable identifier: `control_plane.cpu`, `api_groups.apps/v1`, …
    pub id: String,
    /// What is checked, for people.
    pub title: String,
    /// How it came out.
    pub outcome: Outcome,
    /// What the cluster (or database, license, licensor) has.
    pub observed: Option<String>,
    /// What the requirement asks for.
    pub required: Option<String>,
    /// What it means and, unless it passed, what to do.
    pub message: String,
    /// Where the requirements page says it.
    pub source: String,
}

impl Check {
    /// A check with no observed or required value yet.
    pub fn new(id: impl Into<String>, title: impl Into<String>, source: &str) -> Self {
        Self {
            id: id.into(),
            title: title.into(),
            outcome: Outcome::Pass,
            observed: None,
            required: None,
            message: String::new(),
            source: source.to_owned(),
        }
    }

    /// Sets the outcome and message.
    pub fn outcome(mut self, outcome: Outcome, message: impl Into<String>) -> Self {
        self.outcome = outcome;
        self.message = message.into();
        self
    }

    /// Sets the observed value.
    pub fn observed(mut self, observed: impl Into<String>) -> Self {
        self.observed = Some(observed.into());
        self
    }

    /// Sets the required value.
    pub fn required(mut self, required: impl Into<String>) -> Self {
        self.required = Some(required.into());
        self
    }
}

/// A missing RBAC permission, named as `kubectl auth can-i` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// `list`, `get`.
    pub verb: &'static str,
    /// `nodes`, `storageclasses.storage.k8s.io`.
    pub resource: &'static str,
    /// The namespace, for namespaced permissions.
    pub namespace: Option<&'static str>,
}

impl Permission {
    /// What is missing and how to grant it, as a sentence.
    pub fn explain(&self) -> String {
        let ns = self
            .namespace
            .map(|n| format!(" -n {n}"))
            .unwrap_or_default();
        let scope = self
            .namespace
            .map(|n| format!(" in namespace {n}"))
            .unwrap_or_default();
        format!(
            "this user may not {verb} {resource}{scope}; grant it with deploy/customer/preflight-rbac.yaml (check with: kubectl auth can-i {verb} {resource}{ns})",
            verb = self.verb,
            resource = self.resource,
        )
    }

    /// A warning for `check` that says the permission is missing, and how to grant it.
    pub fn warning(&self, check: Check) -> Check {
        let message = format!("not checked: {}", self.explain());
        check.outcome(Outcome::Warn, message)
    }
}

/// How many checks came out each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Passed.
    pub pass: usize,
    /// Information.
    pub info: usize,
    /// Not applicable.
    pub skipped: usize,
    /// Waived.
    pub waived: usize,
    /// Warnings.
    pub warn: usize,
    /// Failures.
    pub fail: usize,
}

/// Everything preflight found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: &'static str,
    /// The requirements checked: `built-in` or the `--spec` file.
    pub spec: String,
    /// The requirements page they encode.
    pub page: String,
    /// The cluster's API server, when there is one.
    pub cluster: Option<String>,
    /// `pass`, `warn` or `fail`: the worst outcome of any check.
    pub outcome: Outcome,
    /// How many checks came out each way.
    pub counts: Counts,
    /// Every check, in the page's order.
    pub checks: Vec<Check>,
}

impl Report {
    /// A report of `checks`.
    pub fn new(spec: String, page: String, cluster: Option<String>, checks: Vec<Check>) -> Self {
        let count = |outcome| checks.iter().filter(|c| c.outcome == outcome).count();
        let counts = Counts {
            pass: count(Outcome::Pass),
            info: count(Outcome::Info),
            skipped: count(Outcome::Skipped),
            waived: count(Outcome::Waived),
            warn: count(Outcome::Warn),
            fail: count(Outcome::Fail),
        };
        let outcome = if counts.fail > 0 {
            Outcome::Fail
        } else if counts.warn > 0 {
            Outcome::Warn
        } else {
            Outcome::Pass
        };
        Self {
            schema: SCHEMA,
            spec,
            page,
            cluster,
            outcome,
            counts,
            checks,
        }
    }

    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.outcome == Outcome::Fail
    }
}
