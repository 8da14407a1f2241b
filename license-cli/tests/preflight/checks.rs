//! The cluster and database checks: a small good cluster passes; each problem fails (or
//! warns) with a message that names the fix; missing permissions are warnings; the spec is
//! data, validated with line numbers; the JSON schema is stable.

use crate::support::*;
use license_kube_double::{API_SERVICES, NETWORK_POLICIES, NODES, PODS, STORAGE_CLASSES};
use serde_json::Value;

/// Every check, in the report's order (docs/preflight.md lists the same).
const IDS: [&str; 22] = [
    "control_plane.cpu",
    "control_plane.memory",
    "control_plane.storage",
    "api_groups.apps/v1",
    "api_groups.rbac.authorization.k8s.io/v1",
    "api_groups.metrics.k8s.io",
    "api_groups.storage.k8s.io/v1",
    "api_groups.networking.k8s.io/v1",
    "api_groups.extensions/v1beta1",
    "storage.dynamic_provisioning",
    "storage.block_volume_mode",
    "storage.performance",
    "network.policy_api",
    "network.cni",
    "postgres.external",
    "postgres.version",
    "postgres.extensions",
    "license.installed",
    "license.trial.licensor",
    "license.trial.product_version",
    "license.trial.checkin",
    "browsers",
];

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[test]
fn a_small_good_cluster_passes_and_the_json_schema_is_stable() {
    let env = Env::good();
    let (code, report) = env.report(&["--developers", "3", "--ide", "vscode"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        keys(&report),
        [
            "checks", "cluster", "counts", "outcome", "page", "schema", "spec"
        ]
    );
    assert_eq!(report["schema"], "licensor.coder.com/preflight/v1");
    assert_eq!(report["spec"], "built-in");
    assert_eq!(report["page"], "Coder: Requirements");
    assert_eq!(report["cluster"], env.double.server());
    assert_eq!(
        keys(&report["counts"]),
        ["fail", "info", "pass", "skipped", "waived", "warn"]
    );
    let ids: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, IDS);
    for c in report["checks"].as_array().unwrap() {
        assert_eq!(
            keys(c),
            [
                "id", "message", "observed", "outcome", "required", "source", "title"
            ],
            "{c:#}"
        );
        assert!(c["source"].as_str().unwrap().starts_with("Requirements > "));
    }
    // Nothing fails; the one warning explains the API group newer Kubernetes removed.
    assert_eq!(report["outcome"], "warn");
    assert_eq!(report["counts"]["fail"], 0);
    assert_eq!(report["counts"]["warn"], 1, "{report:#}");
    assert_check(
        &report,
        "api_groups.extensions/v1beta1",
        "warn",
        "Kubernetes 1.22 removed extensions/v1beta1 and this cluster runs 1.32; its resources are served by networking.k8s.io/v1 (served), apps/v1 (served)",
    );
    assert_check(&report, "control_plane.cpu", "pass", "utilization is 31%");
    assert_eq!(
        check(&report, "control_plane.cpu")["required"],
        "5 CPU = 2 CPU for the control services + 3 × 1 CPU per VS Code developer"
    );
    assert_eq!(
        check(&report, "control_plane.memory")["observed"],
        "68.7 GB allocatable on 2 ready, schedulable nodes (capacity 68.7 GB)"
    );
    assert_check(
        &report,
        "storage.dynamic_provisioning",
        "pass",
        "default class gp3",
    );
    assert_check(
        &report,
        "storage.block_volume_mode",
        "pass",
        "ebs.csi.aws.com supports",
    );
    assert_check(&report, "storage.performance", "info", "not measured");
    assert_eq!(
        check(&report, "storage.performance")["required"],
        "3000 IOPS and 50 MB/s per volume (recommended)"
    );
    assert_check(&report, "network.policy_api", "pass", "served");
    assert_eq!(
        check(&report, "network.policy_api")["observed"],
        "served; 1 network policy"
    );
    assert_check(
        &report,
        "network.cni",
        "pass",
        "Calico enforces NetworkPolicy",
    );
    assert_check(&report, "postgres.external", "pass", "connected");
    assert_eq!(
        check(&report, "postgres.external")["observed"],
        "127.0.0.1:5432/postgres"
    );
    assert_check(&report, "postgres.version", "pass", "supported");
    assert_check(&report, "postgres.extensions", "pass", "available");
    assert_check(&report, "license.installed", "pass", "valid");
    for id in [
        "license.trial.licensor",
        "license.trial.product_version",
        "license.trial.checkin",
    ] {
        assert_check(&report, id, "skipped", "no trial license is in force");
    }
    assert_check(&report, "browsers", "info", "their concern");
    assert_eq!(
        check(&report, "browsers")["required"],
        "Chrome 66+, Firefox 63+, Safari 12.1+, Edge 79+"
    );

    // The same as YAML, and as a table for people.
    let yaml = env
        .preflight(&["--postgres-url", POSTGRES, "-o", "yaml"])
        .expect(0);
    assert!(
        yaml.stdout
            .contains("schema: licensor.coder.com/preflight/v1"),
        "{}",
        yaml.stdout
    );
    let table = env.preflight(&["--postgres-url", POSTGRES]).expect(0);
    assert!(
        table
            .stdout
            .starts_with("PREFLIGHT: Coder: Requirements (built-in) against https://127.0.0.1:"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("\nRequirements > Storage\n  [pass]     storage.dynamic_provisioning: "),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains("             do: Kubernetes 1.22 removed extensions/v1beta1"),
        "{}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .ends_with("RESULT: warn (16 pass, 1 warn, 0 fail, 0 waived, 3 skipped, 2 info)\n"),
        "{}",
        table.stdout
    );
}

#[test]
fn a_cluster_with_every_problem_fails_naming_each_fix() {
    let env = Env::bare();
    // One small node, and a cordoned big one that does not count.
    env.node("small", "2", "4Gi", "30Gi");
    env.double
        .create(
            &NODES,
            "",
            serde_json::json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "cordoned"},
                "spec": {"unschedulable": true},
                "status": {"allocatable": {"cpu": "64", "memory": "256Gi"},
                           "conditions": [{"type": "Ready", "status": "True"}]}}),
        )
        .unwrap();
    env.storage_class("manual", "kubernetes.io/no-provisioner", true);
    env.metrics(false);
    env.pod("kube-flannel-ds-abcde", "docker.io/flannel/flannel:v0.26.1");
    env.double
        .delete(&API_SERVICES, "", "v1.networking.k8s.io")
        .unwrap();

    let (code, report) = env.report(&["--developers", "2"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["outcome"], "fail");
    assert_check(
        &report,
        "control_plane.cpu",
        "fail",
        "add nodes or use larger ones",
    );
    assert_eq!(
        check(&report, "control_plane.cpu")["observed"],
        "2 CPU allocatable on 1 ready, schedulable node (capacity 2 CPU); 1 not ready or cordoned, not counted"
    );
    assert_check(
        &report,
        "control_plane.memory",
        "fail",
        "the plan needs 20 GB",
    );
    assert_check(&report, "control_plane.storage", "fail", "add nodes");
    assert_check(
        &report,
        "api_groups.metrics.k8s.io",
        "fail",
        "registered but not available (failing or missing response from https://10.96.0.20:443/apis/metrics.k8s.io/v1beta1): install metrics-server",
    );
    assert_check(
        &report,
        "api_groups.networking.k8s.io/v1",
        "fail",
        "not served: enable the API group networking.k8s.io/v1",
    );
    assert_check(
        &report,
        "storage.dynamic_provisioning",
        "fail",
        "install a CSI driver for your storage",
    );
    assert_check(
        &report,
        "storage.block_volume_mode",
        "skipped",
        "no dynamic storage class",
    );
    assert_check(
        &report,
        "network.policy_api",
        "fail",
        "does not serve networking.k8s.io/v1 NetworkPolicy",
    );
    assert_check(
        &report,
        "network.cni",
        "fail",
        "Flannel does not enforce NetworkPolicy, so workspaces are not isolated from each other: add a policy engine",
    );
    assert_check(
        &report,
        "license.installed",
        "fail",
        "no license is installed: install the emailed license with coder-license apply -f license.jwt",
    );
    // Without --postgres-url, the page's word on the built-in database.
    let out = env.preflight(&["-o", "json"]).expect(1);
    let report = out.json();
    assert_check(
        &report,
        "postgres.external",
        "warn",
        "the built-in database is for evaluation only and is not backed up",
    );
    assert_check(&report, "postgres.version", "skipped", "no --postgres-url");
}

#[test]
fn warnings_near_the_limits() {
    let env = Env::good();
    // Storage: a dynamic class that is not the default, on a provisioner of unknown block
    // support; then one known not to support block volumes.
    env.double.delete(&STORAGE_CLASSES, "", "gp3").unwrap();
    env.storage_class("fast", "csi.example.com", false);
    // An unknown CNI.
    env.double
        .delete(&PODS, "kube-system", "calico-node-x7k2p")
        .unwrap();
    env.pod("mystery-net-abcde", "example.com/mystery:v1");
    // Planned CPU 2 + 3 × 4 = 14 of 16 (88%); memory 4 + 3 × 8 = 28 GB of 68.7 (41%).
    let (code, report) = env.report(&["--developers", "3"]);
    assert_eq!(code, 0, "{report:#}");
    assert_check(
        &report,
        "control_plane.cpu",
        "warn",
        "planned CPU utilization is 88%, above the page's guidance of 70%",
    );
    assert_check(&report, "control_plane.memory", "pass", "41%");
    assert_check(
        &report,
        "storage.dynamic_provisioning",
        "warn",
        "fast provisions dynamically but is not the default class: make it the default (kubectl patch storageclass fast",
    );
    assert_check(
        &report,
        "storage.block_volume_mode",
        "warn",
        "test it by creating a PersistentVolumeClaim with volumeMode: Block in class fast",
    );
    assert_check(
        &report,
        "network.cni",
        "warn",
        "unknown CNI plugin: test that it enforces NetworkPolicy",
    );

    env.storage_class("local-path", "rancher.io/local-path", true);
    let (code, report) = env.report(&[]);
    assert_eq!(code, 1);
    assert_check(
        &report,
        "storage.block_volume_mode",
        "fail",
        "rancher.io/local-path does not support volumeMode: Block: use a storage class whose CSI driver does",
    );
    // Memory above 50%: 4 + 4 × 8 = 36 GB of 68.7 (52%), CPU 2 + 4 × 4 = 18 of 16 fails.
    let (_, report) = env.report(&["--developers", "4"]);
    assert_check(
        &report,
        "control_plane.memory",
        "warn",
        "52%, above the page's guidance of 50%",
    );
}

#[test]
fn a_missing_permission_is_a_warning_naming_it() {
    let env = Env::good();
    env.double.deny(&NODES, "list");
    env.double.deny(&STORAGE_CLASSES, "list");
    env.double.deny(&API_SERVICES, "list");
    env.double.deny(&NETWORK_POLICIES, "list");
    env.double.deny(&PODS, "list");
    let (code, report) = env.report(&[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["counts"]["fail"], 0);
    for id in [
        "control_plane.cpu",
        "control_plane.memory",
        "control_plane.storage",
    ] {
        assert_check(
            &report,
            id,
            "warn",
            "not checked: this user may not list nodes; grant it with deploy/customer/preflight-rbac.yaml (check with: kubectl auth can-i list nodes)",
        );
    }
    assert_check(
        &report,
        "storage.dynamic_provisioning",
        "warn",
        "may not list storageclasses.storage.k8s.io",
    );
    assert_check(
        &report,
        "api_groups.metrics.k8s.io",
        "warn",
        "served, but its availability was not checked: this user may not list apiservices.apiregistration.k8s.io",
    );
    assert_check(
        &report,
        "network.policy_api",
        "warn",
        "served, but the policies were not listed: this user may not list networkpolicies.networking.k8s.io",
    );
    assert_check(
        &report,
        "network.cni",
        "warn",
        "may not list pods in namespace kube-system; grant it with deploy/customer/preflight-rbac.yaml (check with: kubectl auth can-i list pods -n kube-system)",
    );
    // A user who may not read the license Secret: a warning too.
    let out = env.preflight(&["--context", "nobody", "-o", "json"]);
    let report = out.json();
    assert_check(
        &report,
        "license.installed",
        "warn",
        "not checked: not allowed to get secret coder/coder-license",
    );
}

#[test]
fn postgres_version_and_extensions_against_the_real_server() {
    let env = Env::good();
    let newer = BUILT_IN.replace("min_version: 11", "min_version: 99");
    let newer = env.write("newer.yaml", &newer);
    let (code, report) = env.report(&["--spec", &newer]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["spec"], newer);
    assert_check(
        &report,
        "postgres.version",
        "fail",
        "is older than 99: upgrade the database",
    );
    assert_check(&report, "postgres.extensions", "pass", "available");

    let exotic = BUILT_IN.replace(
        "extensions: [pgcrypto,",
        "extensions: [no_such_extension, pgcrypto,",
    );
    let exotic = env.write("exotic.yaml", &exotic);
    let (code, report) = env.report(&["--spec", &exotic]);
    assert_eq!(code, 1);
    assert_check(
        &report,
        "postgres.extensions",
        "fail",
        "the server cannot create no_such_extension: install the PostgreSQL contrib package",
    );
    assert_eq!(
        check(&report, "postgres.extensions")["observed"],
        "missing: no_such_extension"
    );

    let closed = closed_port().replace("http://", "postgres://postgres@");
    let out = env
        .preflight(&["--postgres-url", &closed, "-o", "json"])
        .expect(1);
    let report = out.json();
    assert_check(
        &report,
        "postgres.external",
        "fail",
        "cannot connect to PostgreSQL at 127.0.0.1:",
    );
    assert_check(&report, "postgres.version", "skipped", "no connection");
    let out = env
        .preflight(&["--postgres-url", "mysql://nope", "-o", "json"])
        .expect(1);
    assert_check(
        &out.json(),
        "postgres.external",
        "fail",
        "--postgres-url is not a PostgreSQL URL",
    );
}

#[test]
fn the_spec_is_data_and_its_mistakes_are_reported_with_their_line() {
    let env = Env::good();
    let typo = BUILT_IN.replace("  min_version: 11", "  min_version: 11\n  max_version: 16");
    let line = typo
        .lines()
        .position(|l| l.contains("max_version"))
        .unwrap()
        + 1;
    let typo = env.write("typo.yaml", &typo);
    let out = env.preflight(&["--spec", &typo]).expect(2);
    assert!(
        out.stderr
            .starts_with(&format!("error: {typo}, line {line}, column ")),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("max_version"), "{}", out.stderr);
    assert!(out.stdout.is_empty());

    // A vendor's own requirements: bigger control services.
    let bigger = BUILT_IN.replace("base: {cpu: \"2\",", "base: {cpu: \"20\",");
    let bigger = env.write("bigger.yaml", &bigger);
    let (code, report) = env.report(&["--spec", &bigger]);
    assert_eq!(code, 1);
    assert_check(
        &report,
        "control_plane.cpu",
        "fail",
        "the plan needs 20 CPU",
    );

    env.preflight(&["--spec", "/nonexistent.yaml"]).expect(2);
}

#[test]
fn an_unreachable_cluster_or_rejected_credentials_are_exit_2() {
    let env = Env::bare();
    let out = env.preflight(&["--context", "anonymous"]).expect(2);
    assert!(
        out.stderr
            .starts_with("error: the API server https://127.0.0.1:")
            && out
                .stderr
                .contains("rejected the credentials of context anonymous (401 Unauthorized)"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "{}", out.stdout);

    let config = std::fs::read_to_string(&env.kubeconfig).unwrap();
    let server = env.double.server();
    let closed = closed_port().replace("http://", "https://");
    std::fs::write(&env.kubeconfig, config.replace(&server, &closed)).unwrap();
    let out = env.preflight(&[]).expect(2);
    assert!(
        out.stderr
            .starts_with("error: cannot reach the Kubernetes API server"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}
