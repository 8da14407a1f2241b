//! The whole story with every real part running: the licensor (Postgres, SMTP to maildev),
//! `coder-license` against the Kubernetes API test double, the example control plane reading
//! the Secret as it would be mounted, check-ins, and a revocation reaching the control plane;
//! then the same on the embedded SQLite default with a file store, for an air-gapped member of
//! the evaluation program, and for a paid license issued through `coder-license admin`.

use base64::Engine as _;
use license_e2e::{PostgresDb, Server, binary, workspace_root};
use license_kube_double::{KubeDouble, SECRETS};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const VERSION: &str = "2.16.0";

/// Polls `probe` until it returns something, for at most 30 s.
fn poll<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A child process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// maildev, the real SMTP server, with its HTTP API.
struct Maildev {
    _process: Running,
    smtp: u16,
    web: u16,
}

impl Maildev {
    fn start() -> Self {
        let bin = workspace_root().join("tests/smtp/node_modules/.bin/maildev");
        assert!(
            bin.exists(),
            "maildev is not installed: run `npm ci --prefix tests/smtp` (scripts/test does)"
        );
        let (smtp, web) = (free_port(), free_port());
        let child = Command::new("node")
            .arg(bin)
            .args([
                "-s",
                &smtp.to_string(),
                "-w",
                &web.to_string(),
                "--ip",
                "127.0.0.1",
                "--web-ip",
                "127.0.0.1",
                "--silent",
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let maildev = Self {
            _process: Running(child),
            smtp,
            web,
        };
        poll("maildev", || maildev.emails_now().ok());
        maildev
    }

    fn emails_now(&self) -> reqwest::Result<Vec<Value>> {
        reqwest::blocking::get(format!("http://127.0.0.1:{}/email", self.web))?.json()
    }

    /// The decoded `license.jwt` of the message to `to`, once it has arrived.
    fn license_for(&self, to: &str) -> String {
        let email = poll("the license email", || {
            self.emails_now()
                .ok()?
                .into_iter()
                .find(|e| e["to"][0]["address"] == to)
        });
        let attachment = email["attachments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["fileName"] == "license.jwt")
            .unwrap();
        let url = format!(
            "http://127.0.0.1:{}/email/{}/attachment/{}",
            self.web,
            email["id"].as_str().unwrap(),
            attachment["generatedFileName"].as_str().unwrap()
        );
        reqwest::blocking::get(url)
            .unwrap()
            .text()
            .unwrap()
            .trim()
            .to_owned()
    }
}

/// `license.jwt` from the `.eml` file the licensor wrote for `to` (no SMTP configured).
fn license_from_mail_dir(dir: &Path, to: &str) -> String {
    poll("the license email file", || {
        for entry in std::fs::read_dir(dir).ok()? {
            let path = entry.ok()?.path();
            if path.extension()? != "eml" {
                continue;
            }
            let bytes = std::fs::read(&path).ok()?;
            let message = mail_parser::MessageParser::default().parse(&bytes)?;
            if message.to()?.first()?.address()? != to {
                continue;
            }
            let attachment = message.attachments().next()?;
            return Some(
                String::from_utf8_lossy(attachment.contents())
                    .trim()
                    .to_owned(),
            );
        }
        None
    })
}

/// `first` then `second`, owned.
fn joined(first: &[&str], second: &[&str]) -> Vec<String> {
    first
        .iter()
        .chain(second)
        .map(|s| (*s).to_owned())
        .collect()
}

/// `coder-license` with `args`, the admin token in the environment; returns (code, stdout, stderr).
fn coder<S: AsRef<std::ffi::OsStr>>(args: &[S], token: &str) -> (i32, String, String) {
    let out = Command::new(binary("coder-license"))
        .args(args)
        .env("LICENSOR_TOKEN", token)
        // Only the keys a test names are trusted: none from the environment or a config dir.
        .env_remove("CODER_LICENSE_TRUST_KEY")
        .env("XDG_CONFIG_HOME", "/nonexistent/coder-license-e2e")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(result: (i32, String, String), what: &str) -> String {
    assert_eq!(result.0, 0, "{what}: {}\n{}", result.1, result.2);
    result.1
}

/// The licensor's keys: `keys.json` (JWKS, for coder-license) and `vendor.pem` (for the
/// control plane), in `dir`.
fn save_keys(server: &Server, dir: &Path) -> (String, String) {
    let jwks: license_core::JwkSet = reqwest::blocking::get(server.url("/api/v1/keys"))
        .unwrap()
        .json()
        .unwrap();
    let json_path = dir.join("keys.json");
    std::fs::write(&json_path, serde_json::to_string(&jwks).unwrap()).unwrap();
    let pem_path = dir.join("vendor.pem");
    std::fs::write(
        &pem_path,
        jwks.keys[0].public_key().unwrap().to_spki_pem().unwrap(),
    )
    .unwrap();
    (
        json_path.display().to_string(),
        pem_path.display().to_string(),
    )
}

/// The example control plane on `licenses`, started fresh (a restart of the product).
struct ControlPlane {
    _process: Running,
    base: String,
}

impl ControlPlane {
    fn start(licenses: &Path, state: &Path, vendor_pem: &str, users: u64) -> Self {
        let mut child = Command::new(binary("example-control-plane"))
            .args([
                "--licenses-dir",
                licenses.to_str().unwrap(),
                "--state-dir",
                state.to_str().unwrap(),
            ])
            .args([
                "--trust-key",
                vendor_pem,
                "--active-users",
                &users.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("control plane said {line:?}"))
            .to_owned();
        Self {
            _process: Running(child),
            base,
        }
    }

    fn entitlements(&self) -> Value {
        reqwest::blocking::get(format!("{}/entitlements", self.base))
            .unwrap()
            .json()
            .unwrap()
    }

    fn feature(&self, name: &str) -> (u16, Value) {
        let response = reqwest::blocking::get(format!("{}/features/{name}", self.base)).unwrap();
        (response.status().as_u16(), response.json().unwrap())
    }
}

fn trial_args<'a>(licensor: &'a str, email: &'a str) -> Vec<&'a str> {
    vec![
        "trial",
        "request",
        "--licensor",
        licensor,
        "--email",
        email,
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        "--company",
        "Engines",
        "--country",
        "GB",
        "--developers",
        "11-50",
        "--product-version",
        VERSION,
    ]
}

/// Writes the Secret's data into `dir`, one file per key, as the kubelet mounts a Secret.
fn mount_secret(double: &KubeDouble, namespace: &str, dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let secret = double
        .object(&SECRETS, namespace, "coder-license")
        .expect("the coder-license Secret exists");
    for (key, value) in secret["data"].as_object().unwrap() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(value.as_str().unwrap())
            .unwrap();
        std::fs::write(dir.join(key), bytes).unwrap();
    }
}

fn token_for(args: &[&str]) -> String {
    let created = license_e2e::run("license-server", args);
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    created.stdout.split_whitespace().last().unwrap().to_owned()
}

#[test]
fn a_trial_on_a_cluster_from_request_to_revocation_with_postgres_and_smtp() {
    let dir = tempfile::tempdir().unwrap();
    let db = PostgresDb::create();
    let maildev = Maildev::start();
    let token = token_for(&[
        "token",
        "create",
        "--name",
        "desk",
        "--database-url",
        &db.url,
    ]);
    let smtp = format!("smtp://127.0.0.1:{}", maildev.smtp);
    let data = dir.path().join("licensor").display().to_string();
    let server = Server::start(&[
        "--database-url",
        &db.url,
        "--data-dir",
        &data,
        "--smtp-url",
        &smtp,
        "--outbox-poll-ms",
        "50",
    ]);
    let licensor = server.base.clone();
    let (keys, vendor_pem) = save_keys(&server, dir.path());

    let double = KubeDouble::start().unwrap();
    double.create_namespace("coder");
    double.create_deployment("coder", "coder").unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    double.write_kubeconfig(&kubeconfig, Some("coder")).unwrap();
    let cluster = ["--kubeconfig", kubeconfig.to_str().unwrap()];
    let with_cluster = |args: &[&str]| -> Vec<String> { joined(&cluster, args) };

    // The prospective customer asks for a trial; the license comes by email.
    let said = ok(
        coder(
            &with_cluster(&trial_args(&licensor, "ada@engines.example")),
            &token,
        ),
        "trial request",
    );
    assert!(said.contains("on its way to ada@engines.example"), "{said}");
    let token_text = maildev.license_for("ada@engines.example");
    let license_file = dir.path().join("license.jwt");
    std::fs::write(&license_file, &token_text).unwrap();
    let license = license_file.to_str().unwrap();

    // The cluster admin installs it and restarts the control plane; the CronJob checks in.
    ok(
        coder(
            &with_cluster(&[
                "apply",
                "-f",
                license,
                "--trust-key",
                &keys,
                "--restart",
                "coder",
            ]),
            &token,
        ),
        "apply",
    );
    let restarted = double
        .object(&license_kube_double::DEPLOYMENTS, "coder", "coder")
        .unwrap();
    assert!(restarted["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string());
    let checked = ok(
        coder(
            &with_cluster(&[
                "checkin",
                "--licensor",
                &licensor,
                "--product-version",
                VERSION,
                "--users",
                "4",
                "--trust-key",
                &keys,
            ]),
            &token,
        ),
        "checkin",
    );
    assert!(checked.contains(": active"), "{checked}");

    // The control plane starts with the Secret mounted and is entitled to a trial.
    let mounted = dir.path().join("mounted");
    let state = dir.path().join("state");
    mount_secret(&double, "coder", &mounted);
    let plane = ControlPlane::start(&mounted, &state, &vendor_pem, 4);
    let e = plane.entitlements();
    assert_eq!(e["entitlements"]["has_license"], true, "{e}");
    assert_eq!(e["entitlements"]["trial"], true);
    assert_eq!(e["entitlements"]["features"]["user_limit"]["limit"], 10);
    assert_eq!(plane.feature("audit_log").0, 200);
    ok(
        coder(&with_cluster(&["verify", "--trust-key", &keys]), &token),
        "verify",
    );
    drop(plane);

    // The vendor revokes it; the next check-in brings the revocation.
    let license_id = e["entitlements"]["licenses"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        coder(
            &[
                "admin",
                "--licensor",
                &licensor,
                "revoke",
                &license_id,
                "--reason",
                "abuse",
            ],
            &token,
        ),
        "admin revoke",
    );
    let checked = ok(
        coder(
            &with_cluster(&[
                "checkin",
                "--licensor",
                &licensor,
                "--product-version",
                VERSION,
                "--trust-key",
                &keys,
            ]),
            &token,
        ),
        "checkin after revoke",
    );
    assert!(checked.contains(": revoked"), "{checked}");

    // The control plane, restarted, is not entitled and says why.
    mount_secret(&double, "coder", &mounted);
    let plane = ControlPlane::start(&mounted, &state, &vendor_pem, 4);
    let (status, body) = plane.feature("audit_log");
    assert_eq!(status, 403, "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    assert_eq!(plane.entitlements()["entitlements"]["has_license"], false);
    let (code, _, stderr) = coder(&with_cluster(&["verify", "--trust-key", &keys]), &token);
    assert_eq!(code, 1, "the init container would stop the start: {stderr}");
    assert!(stderr.contains("revoked"), "{stderr}");
}

#[test]
fn on_the_embedded_default_with_a_file_store_trials_evaluations_and_paid_licenses() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("licensor");
    let mail: PathBuf = data.join("mail");
    let data = data.display().to_string();
    let token = token_for(&["token", "create", "--name", "desk", "--data-dir", &data]);
    let server = Server::start(&["--data-dir", &data, "--outbox-poll-ms", "50"]);
    let licensor = server.base.clone();
    let (keys, vendor_pem) = save_keys(&server, dir.path());

    // A trial, on a plain VM: the same story with files instead of a Secret.
    let store = dir.path().join("trial-store");
    let store_flag = ["--file-store", store.to_str().unwrap()];
    let with_store = |store: &[&str], args: &[&str]| -> Vec<String> { joined(store, args) };
    let mut request = trial_args(&licensor, "ada@engines.example");
    request.extend(["--trust-key", &keys]);
    let said = ok(
        coder(&with_store(&store_flag, &request), &token),
        "trial request",
    );
    // The follow-up hint installs into the same store and trusts the same key.
    assert!(
        said.contains(&format!(
            "install it with: coder-license --file-store {} apply -f license.jwt --trust-key {keys}",
            store.display()
        )),
        "{said}"
    );
    // The same deployment asking again is refused (exit 1), with the rule named.
    let (code, _, stderr) = coder(
        &with_store(&store_flag, &trial_args(&licensor, "bob@engines.example")),
        &token,
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("trial_used_for_deployment"), "{stderr}");
    // Admin commands without a token are an environment error (exit 2), not a refusal.
    let (code, _, stderr) = coder(&["admin", "--licensor", &licensor, "trials"], "");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("LICENSOR_TOKEN"), "{stderr}");
    let listed = ok(
        coder(
            &[
                "admin",
                "--licensor",
                &licensor,
                "trials",
                "--outcome",
                "refused",
            ],
            &token,
        ),
        "admin trials",
    );
    assert!(
        listed.contains("bob@engines.example") && listed.contains("trial_used_for_deployment"),
        "{listed}"
    );
    let license_file = dir.path().join("trial.jwt");
    std::fs::write(
        &license_file,
        license_from_mail_dir(&mail, "ada@engines.example"),
    )
    .unwrap();
    ok(
        coder(
            &with_store(
                &store_flag,
                &[
                    "apply",
                    "-f",
                    license_file.to_str().unwrap(),
                    "--trust-key",
                    &keys,
                ],
            ),
            &token,
        ),
        "apply",
    );
    // Without the development key, the check-in is refused, and says once how to trust it.
    let (code, _, stderr) = coder(
        &with_store(
            &store_flag,
            &[
                "checkin",
                "--licensor",
                &licensor,
                "--product-version",
                VERSION,
            ],
        ),
        &token,
    );
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stderr.matches("--trust-key").count(), 1, "{stderr}");
    // The store flag may follow the command too.
    ok(
        coder(
            &joined(
                &[
                    "checkin",
                    "--licensor",
                    &licensor,
                    "--product-version",
                    VERSION,
                    "--trust-key",
                    &keys,
                ],
                &store_flag,
            ),
            &token,
        ),
        "checkin",
    );
    let plane = ControlPlane::start(&store, &dir.path().join("trial-state"), &vendor_pem, 2);
    assert_eq!(plane.entitlements()["entitlements"]["trial"], true);
    assert_eq!(plane.feature("scim").0, 200);
    drop(plane);
    let installed: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let license_id = installed
        .iter()
        .find_map(|n| n.strip_prefix("license-")?.strip_suffix(".jwt"))
        .unwrap()
        .to_owned();
    ok(
        coder(
            &[
                "admin",
                "--licensor",
                &licensor,
                "revoke",
                &license_id,
                "--reason",
                "test",
            ],
            &token,
        ),
        "revoke",
    );
    ok(
        coder(
            &with_store(
                &store_flag,
                &[
                    "checkin",
                    "--licensor",
                    &licensor,
                    "--product-version",
                    VERSION,
                    "--trust-key",
                    &keys,
                ],
            ),
            &token,
        ),
        "checkin",
    );
    let plane = ControlPlane::start(&store, &dir.path().join("trial-state"), &vendor_pem, 2);
    let (status, body) = plane.feature("scim");
    assert_eq!(status, 403);
    assert!(
        body["reason"].as_str().unwrap().contains("revoked"),
        "{body}"
    );
    drop(plane);

    // An evaluation-program member, air-gapped: no check-in ever, and still entitled.
    ok(
        coder(
            &[
                "admin",
                "--licensor",
                &licensor,
                "enroll",
                "--email",
                "eve@bank.example",
                "--reason",
                "bank pilot",
                "--approved-by",
                "sales-lead",
                "--ends-at",
                "2099-01-01T00:00:00Z",
                "--waive",
                "checkin",
                "--max-term-days",
                "60",
                "--user-limit",
                "40",
            ],
            &token,
        ),
        "enroll",
    );
    let store = dir.path().join("evaluation-store");
    let store_flag = ["--file-store", store.to_str().unwrap()];
    let said = ok(
        coder(
            &with_store(&store_flag, &trial_args(&licensor, "eve@bank.example")),
            &token,
        ),
        "evaluation trial",
    );
    assert!(said.contains("under the evaluation program"), "{said}");
    assert!(!said.contains("must check in"), "{said}");
    let license_file = dir.path().join("evaluation.jwt");
    std::fs::write(
        &license_file,
        license_from_mail_dir(&mail, "eve@bank.example"),
    )
    .unwrap();
    ok(
        coder(
            &with_store(
                &store_flag,
                &[
                    "apply",
                    "-f",
                    license_file.to_str().unwrap(),
                    "--trust-key",
                    &keys,
                ],
            ),
            &token,
        ),
        "apply",
    );
    let plane = ControlPlane::start(
        &store,
        &dir.path().join("evaluation-state"),
        &vendor_pem,
        30,
    );
    let e = plane.entitlements();
    assert_eq!(e["entitlements"]["evaluation"], true, "{e}");
    assert_eq!(e["entitlements"]["features"]["user_limit"]["limit"], 40);
    assert!(
        e["entitlements"]["errors"].as_array().unwrap().is_empty(),
        "air-gapped and valid: {e}"
    );
    drop(plane);

    // A paid license issued by the desk through coder-license admin.
    // `-o name` prints the id alone, and --licensor may follow the command.
    let account_id = ok(
        coder(
            &[
                "admin",
                "create-account",
                "--name",
                "Acme, Inc.",
                "--email",
                "ops@acme.example",
                "-o",
                "name",
                "--licensor",
                &licensor,
            ],
            &token,
        ),
        "create-account",
    );
    let account = json!({ "id": account_id.trim() });
    uuid::Uuid::parse_str(account_id.trim()).unwrap();
    let accounts = ok(
        coder(
            &["admin", "--licensor", &licensor, "accounts", "-o", "csv"],
            &token,
        ),
        "admin accounts",
    );
    assert!(
        accounts.starts_with("id,name,email,type,license_sequence,created_at\n")
            && accounts.contains(&format!(
                "{},\"Acme, Inc.\",ops@acme.example,licensor,0,",
                account_id.trim()
            )),
        "{accounts}"
    );
    let issued = ok(
        coder(
            &[
                "admin",
                "--licensor",
                &licensor,
                "-o",
                "json",
                "issue",
                "--account",
                account["id"].as_str().unwrap(),
                "--email",
                "admin@acme.example",
                "--user-limit",
                "100",
                "--feature-set",
                "enterprise",
                "--starts-at",
                "2026-01-01T00:00:00Z",
                "--expires-at",
                "2099-01-01T00:00:00Z",
                "--grace-days",
                "14",
                "--idempotency-key",
                "acme-paid",
            ],
            &token,
        ),
        "issue",
    );
    let issued: Value = serde_json::from_str(&issued).unwrap();
    let store = dir.path().join("paid-store");
    let store_flag = ["--file-store", store.to_str().unwrap()];
    let license_file = dir.path().join("paid.jwt");
    let emailed = license_from_mail_dir(&mail, "admin@acme.example");
    assert_eq!(
        emailed,
        issued["token"].as_str().unwrap(),
        "the email carries the issued license"
    );
    // The desk saves the same license to a file.
    ok(
        coder(
            &[
                "admin",
                "--licensor",
                &licensor,
                "get",
                issued["id"].as_str().unwrap(),
                "--out",
                license_file.to_str().unwrap(),
            ],
            &token,
        ),
        "admin get --out",
    );
    assert_eq!(
        std::fs::read_to_string(&license_file).unwrap().trim(),
        emailed.trim()
    );
    ok(
        coder(
            &with_store(
                &store_flag,
                &[
                    "apply",
                    "-f",
                    license_file.to_str().unwrap(),
                    "--trust-key",
                    &keys,
                ],
            ),
            &token,
        ),
        "apply",
    );
    // The control plane trusts the licensor's JWKS (`/api/v1/keys`) as well as its PEM.
    let plane = ControlPlane::start(&store, &dir.path().join("paid-state"), &keys, 80);
    let e = plane.entitlements();
    assert_eq!(e["entitlements"]["trial"], false, "{e}");
    assert_eq!(e["entitlements"]["features"]["user_limit"]["limit"], 100);
    assert_eq!(plane.feature("audit_log").0, 200);
    assert_eq!(
        plane.feature("multiple_organizations").0,
        403,
        "premium-only features stay off"
    );
    let list = ok(
        coder(
            &[
                "admin",
                "--licensor",
                &licensor,
                "list",
                "--email",
                "admin@acme.example",
            ],
            &token,
        ),
        "admin list",
    );
    assert!(list.contains(issued["id"].as_str().unwrap()), "{list}");
    json!(null);
}
