//! A Kubernetes API double set up as a cluster (nodes, storage classes, APIServices, pods in
//! kube-system), licenses signed in-process, a licensor stand-in, and the real
//! `coder-license` binary run against them.

use license_core::{
    CheckinPolicy, Email, FORMAT_VERSION, FeatureSet, LicenseClaims, LicenseId, Timestamp,
    sign_license,
};
use license_kube_double::{
    API_SERVICES, NETWORK_POLICIES, NODES, PODS, STORAGE_CLASSES, api_service,
};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The time licenses are judged at.
pub const NOW: &str = "2027-01-01T00:00:00Z";
/// The control plane's namespace.
pub const NS: &str = "coder";
/// The machine's PostgreSQL (scripts/services starts it).
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The built-in requirements, to derive variants from.
pub const BUILT_IN: &str = include_str!("../../preflight/requirements.yaml");

/// What a command did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit {} (expected {code})\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    /// The JSON report.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// One check of a JSON report, by id.
#[track_caller]
pub fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

/// Asserts a check's outcome, and that its message contains `says`.
#[track_caller]
pub fn assert_check(report: &Value, id: &str, outcome: &str, says: &str) {
    let c = check(report, id);
    assert_eq!(c["outcome"], outcome, "{id}: {c:#}");
    let message = c["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(says),
        "{id}: expected {says:?} in {message:?}"
    );
}

#[path = "../common/env.rs"]
mod env;
pub use env::Env;

impl Env {
    /// An empty cluster (no nodes, no storage classes, no add-ons) with namespace `coder`.
    pub fn bare() -> Self {
        Self::with_namespace(NS)
    }

    /// A small, good cluster: two 8-CPU 32 GiB nodes, a default storage class on a CSI
    /// driver with block volumes, metrics-server available, Calico, one network policy, and a
    /// paid license installed.
    pub fn good() -> Self {
        let env = Self::bare();
        env.node("node-a", "8", "32Gi", "200Gi");
        env.node("node-b", "8", "32Gi", "200Gi");
        env.storage_class("gp3", "ebs.csi.aws.com", true);
        env.metrics(true);
        env.pod("calico-node-x7k2p", "docker.io/calico/node:v3.29.0");
        env.pod(
            "coredns-6d4b75cb6d-abcde",
            "registry.k8s.io/coredns/coredns:v1.11.1",
        );
        env.create(
            &NETWORK_POLICIES,
            NS,
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                   "metadata": {"name": "workspaces"},
                   "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}),
        );
        env.install(&claims(1));
        env
    }

    fn create(&self, kind: &'static license_kube_double::Kind, ns: &str, object: Value) {
        self.double
            .create(kind, ns, object)
            .unwrap_or_else(|r| panic!("{}", r.body));
    }

    /// A ready, schedulable node.
    pub fn node(&self, name: &str, cpu: &str, memory: &str, storage: &str) {
        let resources =
            json!({"cpu": cpu, "memory": memory, "ephemeral-storage": storage, "pods": "110"});
        self.create(
            &NODES,
            "",
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
                   "spec": {},
                   "status": {"capacity": resources, "allocatable": resources,
                              "conditions": [{"type": "Ready", "status": "True"}]}}),
        );
    }

    /// A storage class.
    pub fn storage_class(&self, name: &str, provisioner: &str, default: bool) {
        let mut class = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                               "metadata": {"name": name}, "provisioner": provisioner,
                               "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"});
        if default {
            class["metadata"]["annotations"] =
                json!({"storageclass.kubernetes.io/is-default-class": "true"});
        }
        self.create(&STORAGE_CLASSES, "", class);
    }

    /// metrics-server's APIService, available or not.
    pub fn metrics(&self, available: bool) {
        let mut service = api_service("metrics.k8s.io", "v1beta1");
        service["spec"]["service"] = json!({"name": "metrics-server", "namespace": "kube-system"});
        if !available {
            service["status"]["conditions"][0] = json!({"type": "Available", "status": "False",
                "reason": "FailedDiscoveryCheck",
                "message": "failing or missing response from https://10.96.0.20:443/apis/metrics.k8s.io/v1beta1"});
        }
        self.create(&API_SERVICES, "", service);
    }

    /// A running pod in kube-system.
    pub fn pod(&self, name: &str, image: &str) {
        self.create(
            &PODS,
            "kube-system",
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                   "spec": {"containers": [{"name": "main", "image": image}]},
                   "status": {"phase": "Running"}}),
        );
    }

    /// Runs `coder-license` with this cluster's kubeconfig.
    pub fn cli(&self, args: &[&str]) -> Out {
        let mut full = vec![
            "--kubeconfig",
            self.kubeconfig.to_str().expect("utf-8 path"),
        ];
        full.extend_from_slice(args);
        run(&full, &self.dir.path().to_path_buf())
    }

    /// `preflight` trusting the test key, at [`NOW`].
    pub fn preflight(&self, extra: &[&str]) -> Out {
        let mut args = vec!["preflight", "--trust-key", &self.public, "--now", NOW];
        args.extend_from_slice(extra);
        self.cli(&args)
    }

    /// `preflight -o json` with the machine's PostgreSQL.
    pub fn report(&self, extra: &[&str]) -> (i32, Value) {
        let mut args = vec!["--postgres-url", POSTGRES, "-o", "json"];
        args.extend_from_slice(extra);
        let out = self.preflight(&args);
        let report = out.json();
        (out.code, report)
    }

    /// `apply -f FILE` trusting the test key, at [`NOW`].
    pub fn apply(&self, file: &str, extra: &[&str]) -> Out {
        let mut args = vec![
            "apply",
            "-f",
            file,
            "--trust-key",
            &self.public,
            "--now",
            NOW,
        ];
        args.extend_from_slice(extra);
        self.cli(&args)
    }

    /// Signs `claims` into a license file; returns its path.
    pub fn license(&self, claims: &LicenseClaims) -> String {
        let token = sign_license(claims, &self.key).expect("consistent claims");
        self.write(&format!("{}.jwt", claims.jti), &token)
    }

    /// Installs a license with `apply --skip-preflight`.
    pub fn install(&self, claims: &LicenseClaims) {
        let file = self.license(claims);
        self.apply(&file, &["--skip-preflight"]).expect(0);
    }

    /// Writes a file in the temporary directory; returns its path.
    pub fn write(&self, name: &str, content: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("the file is written");
        path.display().to_string()
    }
}

/// Runs `coder-license` with `HOME` set to `home` and nothing inherited that could point it
/// elsewhere.
pub fn run(args: &[&str], home: &PathBuf) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_coder-license"))
        .args(args)
        .env("HOME", home)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env_remove("CODER_DEPLOYMENT_ID")
        .env_remove("LICENSOR_URL")
        .env_remove("CODER_VERSION")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("coder-license runs");
    Out {
        code: out.status.code().expect("an exit code"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

/// A paid license `n`, in force at [`NOW`].
pub fn claims(n: u128) -> LicenseClaims {
    let at = |t: &str| Timestamp::parse_rfc3339(t).expect("a time");
    LicenseClaims {
        iss: "licensor".into(),
        sub: Email::parse("admin@example.com").expect("an email"),
        jti: LicenseId::from_u128(n),
        iat: at("2026-11-27T00:00:00Z"),
        nbf: at("2026-11-27T00:00:00Z"),
        license_expires: at("2027-11-27T00:00:00Z"),
        exp: at("2027-12-04T00:00:00Z"),
        version: FORMAT_VERSION,
        account_type: "licensor".into(),
        account_id: format!("acct-{n}"),
        deployment_ids: vec![],
        trial: false,
        feature_set: FeatureSet::Enterprise,
        features: [("user_limit".to_owned(), 10)].into(),
        require_telemetry: false,
        evaluation: false,
        checkin: None,
        min_product_version: None,
        sequence: 0,
    }
}

/// A trial license `n` with the licensor's rules: a minimum version and, when `checkin`, a
/// check-in policy.
pub fn trial(n: u128, checkin: bool) -> LicenseClaims {
    LicenseClaims {
        trial: true,
        feature_set: FeatureSet::Premium,
        min_product_version: Some("2.15.0".into()),
        checkin: checkin.then_some(CheckinPolicy {
            interval_secs: 24 * 3600,
            max_offline_secs: 72 * 3600,
        }),
        sub: Email::parse("ada@engines.example").expect("an email"),
        ..claims(n)
    }
}

/// A licensor stand-in: `GET /healthz` answers 200. Returns its base URL; it serves until
/// the test process ends.
pub fn licensor() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.set_nonblocking(true).expect("non-blocking");
    let address = listener.local_addr().expect("an address");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
            let app = axum::Router::new().route(
                "/healthz",
                axum::routing::get(|| async { axum::Json(json!({"status": "ok"})) }),
            );
            axum::serve(listener, app)
                .await
                .expect("the licensor serves");
        });
    });
    format!("http://{address}")
}

/// A URL on a loopback port nothing listens on.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = listener.local_addr().expect("an address");
    drop(listener);
    format!("http://{address}")
}
