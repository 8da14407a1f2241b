//! The requirements preflight checks, as data: the built-in default
//! (`license-cli/preflight/requirements.yaml`, compiled in) or a vendor's file given with
//! `--spec`. Unknown fields, wrong types and bad sizes are refused with their line.

use anyhow::Context as _;
use serde::{Deserialize, Deserializer};
use std::path::Path;

/// The built-in requirements: the product's requirements page.
pub const BUILT_IN: &str = include_str!("../../preflight/requirements.yaml");

/// Files larger than this are not requirement files.
const MAX_SPEC_BYTES: u64 = 1024 * 1024;

/// A whole requirements file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// The schema version: 1.
    pub version: u32,
    /// The requirements page the file encodes, for messages.
    pub page: String,
    /// Sizing of the control plane.
    pub control_plane: ControlPlane,
    /// API groups the cluster must serve.
    pub api_groups: ApiGroups,
    /// Storage classes.
    pub storage: Storage,
    /// Network isolation.
    pub network: Network,
    /// The external database.
    pub postgres: Postgres,
    /// The licensing rules.
    pub licensing: Licensing,
    /// The supported browsers (information only).
    pub browsers: Browsers,
}

/// CPU (cores), memory and storage (bytes), each a Kubernetes quantity.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// CPU cores.
    pub cpu: Quantity,
    /// Memory, bytes.
    pub memory: Quantity,
    /// Storage, bytes.
    pub storage: Quantity,
}

/// Per-developer sizes by IDE.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerDeveloper {
    /// JetBrains IDEs (remote development).
    pub jetbrains: Resources,
    /// VS Code over SSH.
    pub vscode: Resources,
}

/// Utilization thresholds, percent.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Planned CPU utilization above which to warn.
    pub cpu: Percent,
    /// Planned memory utilization above which to warn.
    pub memory: Percent,
}

/// Sizing of the control plane.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlane {
    /// Where the page says it.
    pub source: String,
    /// The control services themselves.
    pub base: Resources,
    /// Added per active developer.
    pub per_developer: PerDeveloper,
    /// When to warn.
    pub warn_above_percent: Thresholds,
}

/// API groups.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiGroups {
    /// Where the page says it.
    pub source: String,
    /// Each required group (`metrics.k8s.io`) or group version (`apps/v1`).
    pub required: Vec<ApiGroup>,
}

/// One required API group or group version.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiGroup {
    /// `GROUP/VERSION`, or `GROUP` for any version.
    pub name: String,
    /// What to do when it is missing.
    #[serde(default)]
    pub fix: Option<String>,
    /// The Kubernetes release (`MAJOR.MINOR`) that removed it: from then on its absence is a
    /// warning that explains the removal, not a failure.
    #[serde(default, deserialize_with = "kubernetes_release")]
    pub removed_in: Option<(u32, u32)>,
    /// What serves its resources on newer releases.
    #[serde(default)]
    pub replaced_by: Vec<String>,
}

/// Storage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Where the page says it.
    pub source: String,
    /// Provisioners that do not provision dynamically.
    pub static_provisioners: Vec<String>,
    /// Provisioners known to support block volume mode, or not.
    pub block_volume_mode: BlockVolumeMode,
    /// The recommended performance (printed, not measured).
    pub recommended: Performance,
}

/// Provisioners known to support `volumeMode: Block`, or not.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockVolumeMode {
    /// Known to support it.
    pub supported: Vec<String>,
    /// Known not to.
    pub unsupported: Vec<String>,
}

/// Recommended volume performance.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Performance {
    /// I/O operations per second.
    pub iops: u32,
    /// Throughput.
    pub throughput_mb_per_second: u32,
}

/// Network isolation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Where the page says it.
    pub source: String,
    /// CNI plugins that enforce NetworkPolicy.
    pub enforcing: Vec<Cni>,
    /// CNI plugins that do not.
    pub not_enforcing: Vec<Cni>,
}

/// How to recognise a CNI plugin from the pods in `kube-system`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cni {
    /// Its name.
    pub name: String,
    /// Prefixes of its pods' names.
    #[serde(default)]
    pub pods: Vec<String>,
    /// Substrings of its containers' images.
    #[serde(default)]
    pub images: Vec<String>,
}

/// The external database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Postgres {
    /// Where the page says it.
    pub source: String,
    /// The lowest major version.
    pub min_version: u32,
    /// Extensions that must be available.
    pub extensions: Vec<String>,
}

/// The licensing rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Licensing {
    /// Where the page says it.
    pub source: String,
    /// The rules for trial licenses.
    pub trial: TrialRules,
}

/// The rules for trial licenses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrialRules {
    /// The lowest product version a trial may run.
    #[serde(deserialize_with = "product_version")]
    pub min_product_version: license_core::ProductVersion,
    /// The licensor's health endpoint.
    pub health_path: String,
    /// How long to wait for it.
    pub timeout_seconds: u32,
}

/// The supported browsers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Browsers {
    /// Where the page says it.
    pub source: String,
    /// Each browser's minimum version.
    pub minimum: Vec<Browser>,
}

/// A browser's minimum version.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Browser {
    /// Its name.
    pub name: String,
    /// Its lowest supported version.
    pub version: String,
}

/// A Kubernetes quantity (`2`, `500m`, `4G`, `8Gi`), as written and as a number (cores or
/// bytes).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity(pub f64);

impl Quantity {
    /// Parses a Kubernetes quantity.
    pub fn parse(text: &str) -> Option<Self> {
        let parsed = kube_quantity::ParsedQuantity::try_from(text.trim()).ok()?;
        parsed
            .to_bytes_f64()
            .filter(|n| n.is_finite() && *n >= 0.0)
            .map(Self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not a Kubernetes quantity (such as 2, 500m, 4G or 8Gi)"
            ))
        })
    }
}

/// A percentage, 1 to 100.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percent(pub f64);

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(deserializer)?;
        if (1..=100).contains(&n) {
            Ok(Self(f64::from(n)))
        } else {
            Err(serde::de::Error::custom(format!(
                "{n} is not a percentage from 1 to 100"
            )))
        }
    }
}

fn product_version<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<license_core::ProductVersion, D::Error> {
    let text = String::deserialize(deserializer)?;
    license_core::ProductVersion::parse(&text).ok_or_else(|| {
        serde::de::Error::custom(format!("{text:?} is not a version MAJOR.MINOR.PATCH"))
    })
}

/// Parses `MAJOR.MINOR` (a Kubernetes release).
pub fn parse_release(text: &str) -> Option<(u32, u32)> {
    let text = text.trim().strip_prefix('v').unwrap_or(text.trim());
    let (major, minor) = text.split_once('.')?;
    let minor = minor.split('.').next()?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn kubernetes_release<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<(u32, u32)>, D::Error> {
    let Some(text) = Option::<String>::deserialize(deserializer)? else {
        return Ok(None);
    };
    parse_release(&text).map(Some).ok_or_else(|| {
        serde::de::Error::custom(format!("{text:?} is not a Kubernetes release MAJOR.MINOR"))
    })
}

impl Spec {
    /// The built-in requirements.
    pub fn built_in() -> anyhow::Result<Self> {
        Self::parse(BUILT_IN, "the built-in requirements")
    }

    /// Reads and validates `path`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        use std::io::Read as _;
        let file = std::fs::File::open(path)
            .with_context(|| format!("cannot open the requirements file {}", path.display()))?;
        let mut text = String::new();
        file.take(MAX_SPEC_BYTES + 1)
            .read_to_string(&mut text)
            .with_context(|| format!("cannot read the requirements file {}", path.display()))?;
        if text.len() as u64 > MAX_SPEC_BYTES {
            anyhow::bail!(
                "the requirements file {} is larger than {MAX_SPEC_BYTES} bytes",
                path.display()
            );
        }
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates `text`, named `name` in errors, which give the line.
    pub fn parse(text: &str, name: &str) -> anyhow::Result<Self> {
        let spec: Spec = serde_saphyr::from_str(text).map_err(|error| {
            let at = error
                .location()
                .map(|l| format!("line {}, column {}", l.line(), l.column()))
                .unwrap_or_else(|| "somewhere".to_owned());
            let message = error.without_snippet().to_string();
            let message = message.lines().next().unwrap_or_default();
            // The message ends with the location, which leads here.
            let message = message
                .strip_suffix(&format!(" at {at}"))
                .unwrap_or(message);
            anyhow::anyhow!(
                "{name}, {at}: {message}; fix the file (its schema is in docs/preflight.md)"
            )
        })?;
        if spec.version != 1 {
            anyhow::bail!(
                "{name}: version {} is not a requirements schema this coder-license knows (1); use a newer coder-license or a version 1 file",
                spec.version
            );
        }
        if let Some(group) = spec
            .api_groups
            .required
            .iter()
            .find(|g| g.name.trim().is_empty())
        {
            anyhow::bail!(
                "{name}: an API group has an empty name ({group:?}); name it GROUP or GROUP/VERSION"
            );
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_built_in_spec_is_valid() {
        let spec = Spec::built_in().unwrap();
        assert!((spec.control_plane.base.cpu.0 - 2.0).abs() < 1e-9);
        assert!((spec.control_plane.base.memory.0 - 4e9).abs() < 1e-3);
        assert_eq!(
            spec.licensing.trial.min_product_version.to_string(),
            "1.10.0"
        );
        assert_eq!(spec.postgres.min_version, 11);
    }

    #[test]
    fn quantities() {
        let n = |text| Quantity::parse(text).unwrap().0;
        assert!((n("3800m") - 3.8).abs() < 1e-9);
        assert!((n("16Gi") - 17_179_869_184.0).abs() < 1e-3);
        assert!((n("4G") - 4e9).abs() < 1e-3);
        assert!((n("1e3") - 1000.0).abs() < 1e-9);
        assert_eq!(Quantity::parse("lots"), None);
        assert_eq!(Quantity::parse("-1"), None);
    }

    #[test]
    fn mistakes_are_reported_with_their_line() {
        let unknown = BUILT_IN.replace("  min_version: 11", "  min_version: 11\n  max_version: 16");
        let line = unknown
            .lines()
            .position(|l| l.contains("max_version"))
            .unwrap()
            + 1;
        let error = Spec::parse(&unknown, "spec.yaml").unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("spec.yaml, line {line}")),
            "{error}"
        );
        assert!(error.contains("max_version"), "{error}");

        let bad = BUILT_IN.replace("memory: 8G,", "memory: eight,");
        let line = bad.lines().position(|l| l.contains("eight")).unwrap() + 1;
        let error = Spec::parse(&bad, "spec.yaml").unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("spec.yaml, line {line}")),
            "{error}"
        );
        assert!(error.contains("not a Kubernetes quantity"), "{error}");

        let wrong_type = BUILT_IN.replace("min_version: 11", "min_version: eleven");
        let error = Spec::parse(&wrong_type, "spec.yaml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("line "), "{error}");

        let error = Spec::parse("version: 2\n", "spec.yaml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("spec.yaml, line"), "{error}");
    }
}
