//! Every Kubernetes manifest in `deploy/` validates against the Kubernetes API schemas.
//!
//! The schemas and the validator are `kubernetes-validate` from PyPI, at the exact version
//! `scripts/services` installs into a virtual environment (`KUBERNETES_VALIDATE` names another
//! copy). Strict mode: an unknown field is an error, as it is for `kubectl apply` with server-side
//! field validation.

use license_e2e::workspace_root;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The version `scripts/services` pins (keep the two equal).
const KUBERNETES_VALIDATE_VERSION: &str = "1.37.0";

/// The Kubernetes versions the manifests must be valid for: the oldest the product supports
/// and the newest the validator knows.
const KUBERNETES_VERSIONS: &[&str] = &["1.30", "1.37"];

fn validator() -> PathBuf {
    if let Some(path) = std::env::var_os("KUBERNETES_VALIDATE") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME is set");
    let path = cache
        .join("licensor")
        .join(format!("kubernetes-validate-{KUBERNETES_VALIDATE_VERSION}"))
        .join("bin")
        .join("kubernetes-validate");
    assert!(
        path.exists(),
        "kubernetes-validate {KUBERNETES_VALIDATE_VERSION} is missing at {}: run scripts/services \
         (it installs it from PyPI into that virtual environment), or set KUBERNETES_VALIDATE to \
         its path",
        path.display()
    );
    path
}

/// Runs the validator in strict mode; returns (success, everything it printed).
fn validate(files: &[PathBuf], kubernetes_version: &str) -> (bool, String) {
    let output = Command::new(validator())
        .args(["--strict", "--kubernetes-version", kubernetes_version])
        .args(files)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run kubernetes-validate: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn manifests(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            manifests(&path, found);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            found.push(path);
        }
    }
}

#[test]
fn every_manifest_in_deploy_validates_against_the_kubernetes_schemas() {
    let mut files = Vec::new();
    manifests(&workspace_root().join("deploy"), &mut files);
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.strip_prefix(workspace_root())
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    for expected in [
        "deploy/licensor/licensor.yaml",
        "deploy/customer/control-plane.yaml",
        "deploy/customer/rbac.yaml",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} not found among {names:?}"
        );
    }
    for version in KUBERNETES_VERSIONS {
        let (ok, report) = validate(&files, version);
        assert!(
            ok,
            "deploy/ manifests do not validate against Kubernetes {version}:\n{report}"
        );
        // Every file has resources reported as passed: none was skipped as unknown.
        for name in &names {
            assert!(
                report
                    .lines()
                    .any(|l| l.contains(name.as_str()) && l.contains("passed")),
                "kubernetes-validate reported nothing as passed for {name}:\n{report}"
            );
        }
        assert!(
            !report.contains("WARN"),
            "kubernetes-validate warns about deploy/ for Kubernetes {version}:\n{report}"
        );
    }
}

#[test]
fn the_validator_rejects_a_manifest_that_breaks_the_schema() {
    // The check above can fail: a wrong type is refused, and so is an unknown field.
    let dir = tempfile::tempdir().unwrap();
    let deployment = |replicas: &str, container_field: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: licensor}}\nspec:\n  \
             replicas: {replicas}\n  selector: {{matchLabels: {{app: licensor}}}}\n  template:\n    \
             metadata: {{labels: {{app: licensor}}}}\n    \
             spec: {{containers: [{{name: licensor, image: licensor, {container_field}: Always}}]}}\n"
        )
    };
    let cases = [
        (
            "wrong-type.yaml",
            deployment("two", "imagePullPolicy"),
            "replicas",
        ),
        (
            "unknown-field.yaml",
            deployment("2", "imagePullPolcy"),
            "imagePullPolcy",
        ),
    ];
    for (name, text, named) in cases {
        let bad = dir.path().join(name);
        std::fs::write(&bad, text).unwrap();
        let (ok, report) = validate(&[bad], KUBERNETES_VERSIONS[1]);
        assert!(!ok, "{name} passed:\n{report}");
        assert!(report.contains(named), "{name}: {report}");
    }
    // And the same document with both fixed passes, so the failures above are the two faults.
    let good = dir.path().join("good.yaml");
    std::fs::write(&good, deployment("2", "imagePullPolicy")).unwrap();
    let (ok, report) = validate(&[good], KUBERNETES_VERSIONS[1]);
    assert!(ok, "{report}");
}
