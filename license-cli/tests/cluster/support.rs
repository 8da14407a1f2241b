//! One Kubernetes API double per test, a kubeconfig for it, licenses signed in-process, and
//! the real `coder-license` and `kubectl` binaries run against it.

use license_core::{
    DeploymentId, Email, FORMAT_VERSION, FeatureSet, LicenseClaims, LicenseId, Timestamp,
    sign_license,
};
use license_kube_double::SECRETS;
use serde_json::Value;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// The time every command judges at, unless a test says otherwise.
pub const NOW: &str = "2027-01-01T00:00:00Z";
/// The namespace the control plane runs in, and the kubeconfig contexts' namespace.
pub const NS: &str = "coder";
/// The Secret's default name.
pub const SECRET: &str = "coder-license";

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

    /// Asserts a failure: exit 2 and exactly one line `error: …` containing `expected`.
    #[track_caller]
    pub fn expect_error(self, expected: &str) -> Self {
        let out = self.expect(2);
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line expected:\n{}", out.stderr);
        assert!(lines[0].starts_with("error: "), "{}", out.stderr);
        assert!(
            out.stderr.contains(expected),
            "expected {expected:?} in:\n{}",
            out.stderr
        );
        out
    }
}

#[path = "../common/env.rs"]
mod env;
pub use env::Env;

impl Env {
    /// A fresh cluster with namespace `coder`, and a kubeconfig whose contexts use it.
    pub fn new() -> Self {
        Self::with_namespace(NS)
    }

    /// Runs `coder-license` with this environment's kubeconfig and nothing inherited that
    /// could point it elsewhere.
    pub fn cli(&self, args: &[&str]) -> Out {
        let mut full = vec![
            "--kubeconfig",
            self.kubeconfig.to_str().expect("utf-8 path"),
        ];
        full.extend_from_slice(args);
        run_cli(&full, None, self.dir.path())
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

    /// `COMMAND` (inspect or verify) on the installed licenses, trusting the test key.
    pub fn judge(&self, command: &str, extra: &[&str]) -> Out {
        let mut args = vec![command, "--trust-key", &self.public, "--now", NOW];
        args.extend_from_slice(extra);
        self.cli(&args)
    }

    /// Signs `claims` into a license file; returns its path.
    pub fn license(&self, claims: &LicenseClaims) -> String {
        let token = sign_license(claims, &self.key).expect("consistent claims");
        self.write(&format!("{}.jwt", claims.jti), &token)
    }

    /// Writes a file in the temporary directory; returns its path.
    pub fn write(&self, name: &str, content: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("the file is written");
        path.display().to_string()
    }

    /// The license Secret as the double holds it.
    pub fn secret(&self) -> Option<Value> {
        self.double.object(&SECRETS, NS, SECRET)
    }

    /// The Secret's data, decoded to text, by key.
    pub fn data(&self) -> std::collections::BTreeMap<String, String> {
        decode_data(&self.secret().expect("the Secret exists"))
    }

    /// Requests that could have changed something.
    pub fn writes(&self) -> Vec<license_kube_double::Logged> {
        self.double
            .requests()
            .into_iter()
            .filter(|r| r.is_write())
            .collect()
    }

    /// Runs the real kubectl against the double.
    pub fn kubectl(&self, args: &[&str]) -> Out {
        kubectl(&self.kubeconfig, self.dir.path(), args)
    }

    /// The Secret as `kubectl get secret coder-license -n coder -o json` shows it.
    pub fn kubectl_secret(&self) -> Value {
        let out = self
            .kubectl(&[
                "get",
                "secret",
                SECRET,
                "-n",
                NS,
                "-o",
                "json",
                "--show-managed-fields",
            ])
            .expect(0);
        serde_json::from_str(&out.stdout).expect("kubectl prints JSON")
    }
}

/// Runs `coder-license` with `HOME` set to `home` and no `KUBECONFIG`, no in-cluster
/// variables and no `CODER_DEPLOYMENT_ID` from the test's environment.
pub fn run_cli(args: &[&str], stdin: Option<&str>, home: &Path) -> Out {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coder-license"))
        .args(args)
        .env("HOME", home)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env_remove("CODER_DEPLOYMENT_ID")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("coder-license runs");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        match input.write_all(text.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.expect("stdin is written"),
        }
    }
    drop(input);
    let out = child.wait_with_output().expect("coder-license ends");
    Out {
        code: out.status.code().expect("an exit code"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

const KUBECTL: &str = "/usr/bin/kubectl";

/// Runs `/usr/bin/kubectl` with `kubeconfig`, its caches under `home`.
pub fn kubectl(kubeconfig: &Path, home: &Path, args: &[&str]) -> Out {
    assert!(
        Path::new(KUBECTL).exists(),
        "{KUBECTL} is missing: install kubectl (these tests read the cluster back with the real client; they never skip)"
    );
    let out = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(home.join("kubectl-cache"))
        .args(args)
        .env("HOME", home)
        .env_remove("KUBECONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("kubectl runs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A Secret's `data`, base64-decoded to text.
pub fn decode_data(secret: &Value) -> std::collections::BTreeMap<String, String> {
    use base64::Engine as _;
    secret["data"]
        .as_object()
        .map(|data| {
            data.iter()
                .map(|(k, v)| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(v.as_str().expect("base64 text"))
                        .expect("base64");
                    (k.clone(), String::from_utf8(bytes).expect("utf-8"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A paid license `n` for account `acct-n` with `seats` users, in force at [`NOW`].
pub fn claims(n: u128, seats: i64) -> LicenseClaims {
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
        features: [("user_limit".to_owned(), seats)].into(),
        require_telemetry: false,
        evaluation: false,
        checkin: None,
        min_product_version: None,
        sequence: 0,
    }
}

/// The data key of license `n`.
pub fn key_of(n: u128) -> String {
    format!("license-{}.jwt", LicenseId::from_u128(n))
}

/// A deployment id.
pub fn deployment(id: &str) -> DeploymentId {
    DeploymentId::parse(id).expect("a deployment id")
}
