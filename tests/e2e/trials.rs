//! Free trials across the real binaries.
//!
//! - Trial limits hold across replicas: two `license-server serve` processes on one Postgres
//!   database receive 50 simultaneous requests for one deployment (or one address, or one email
//!   domain); exactly the allowed number is granted, every other request gets the rule's
//!   refusal, and exactly one email per granted trial is written by the two outbox workers.
//! - A trial request ends in the requester's mailbox (maildev, a real SMTP server) with a
//!   license that `coder-license` verifies with the licensor's published keys.

use license_e2e::{PostgresDb, Server, run, workspace_root};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Simultaneous requests per scenario.
const REQUESTS: usize = 50;

fn trial_body(email: &str, deployment: &str) -> Value {
    json!({
        "email": email,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Analytical Engines Ltd",
        "country": "GB",
        "developers": "51-200",
        "deployment_id": deployment,
        "product_version": "2.16.1",
    })
}

/// Generates a signing key with `license-server keys generate`; returns the private key file.
fn signing_key(dir: &Path) -> PathBuf {
    let generated = run(
        "license-server",
        &["keys", "generate", "--out", dir.to_str().unwrap()],
    );
    assert_eq!(generated.code, Some(0), "{}", generated.stderr);
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.to_string_lossy().ends_with(".key.pem"))
        .expect("keys generate writes <kid>.key.pem")
}

/// Creates an admin token named `desk` with `license-server token create`.
fn admin_token(database: &[&str]) -> String {
    let mut args = vec!["token", "create", "--name", "desk"];
    args.extend_from_slice(database);
    let created = run("license-server", &args);
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    created
        .stdout
        .split_whitespace()
        .last()
        .expect("token create prints the token last")
        .to_owned()
}

/// Two server processes on one Postgres database, sharing a signing key, each with its own
/// mail directory (no SMTP: the outbox writes .eml files).
struct Replicas {
    servers: Vec<Server>,
    mail_dirs: Vec<PathBuf>,
    token: String,
    http: reqwest::blocking::Client,
    _db: PostgresDb,
    _dir: tempfile::TempDir,
}

impl Replicas {
    fn start() -> Self {
        let db = PostgresDb::create();
        let dir = tempfile::tempdir().unwrap();
        let key = signing_key(&dir.path().join("keys"));
        let token = admin_token(&[
            "--database-url",
            &db.url,
            "--data-dir",
            dir.path().join("cli").to_str().unwrap(),
        ]);
        let mut servers = Vec::new();
        let mut mail_dirs = Vec::new();
        for i in 0..2 {
            let data = dir.path().join(format!("data-{i}"));
            let mail = dir.path().join(format!("mail-{i}"));
            servers.push(Server::start(&[
                "--database-url",
                &db.url,
                "--data-dir",
                data.to_str().unwrap(),
                "--signing-key",
                key.to_str().unwrap(),
                "--mail-dir",
                mail.to_str().unwrap(),
                "--outbox-poll-ms",
                "50",
                "--public-rate-limit-per-minute",
                "100000",
                "--public-rate-limit-burst",
                "100000",
            ]));
            mail_dirs.push(mail);
        }
        Self {
            servers,
            mail_dirs,
            token,
            http: reqwest::blocking::Client::new(),
            _db: db,
            _dir: dir,
        }
    }

    /// Sends every body at the same moment from its own thread, alternating between the two
    /// servers; returns the answers as (server, status, `status` or `error.code`).
    fn all_at_once(&self, bodies: Vec<Value>) -> Vec<(usize, u16, String)> {
        let barrier = Arc::new(Barrier::new(bodies.len()));
        let started = Instant::now();
        let threads: Vec<_> = bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                let server = i % self.servers.len();
                let url = self.servers[server].url("/api/v1/trials");
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let client = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(60))
                        .build()
                        .unwrap();
                    barrier.wait();
                    let response = client.post(url).json(&body).send().unwrap();
                    let status = response.status().as_u16();
                    let body: Value = response.json().unwrap();
                    let code = body["error"]["code"]
                        .as_str()
                        .or(body["status"].as_str())
                        .unwrap_or("?")
                        .to_owned();
                    (server, status, code)
                })
            })
            .collect();
        let answers: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        eprintln!(
            "{} simultaneous trial requests answered in {:?}",
            answers.len(),
            started.elapsed()
        );
        answers
    }

    /// The .eml files both servers have written.
    fn emails_written(&self) -> Vec<PathBuf> {
        self.mail_dirs
            .iter()
            .filter(|dir| dir.exists())
            .flat_map(|dir| std::fs::read_dir(dir).unwrap())
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|e| e == "eml"))
            .collect()
    }

    /// The outbox as the admin API shows it (from the first server).
    fn outbox(&self) -> Vec<Value> {
        let response = self
            .http
            .get(self.servers[0].url("/api/v1/outbox?limit=500"))
            .bearer_auth(&self.token)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().unwrap()["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Waits (polling, at most 30 s) until the outbox has delivered every message, then checks
    /// that exactly `count` messages exist and `count` .eml files were written in total.
    fn expect_emails(&self, count: usize) -> Vec<PathBuf> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let outbox = self.outbox();
            let delivered = outbox.iter().all(|m| m["state"] == "sent");
            let written = self.emails_written();
            if delivered && written.len() >= count {
                assert_eq!(outbox.len(), count, "messages in the outbox: {outbox:?}");
                assert!(outbox.iter().all(|m| m["attempts"] == 1), "{outbox:?}");
                assert_eq!(
                    written.len(),
                    count,
                    "exactly {count} emails written across both servers: {written:?}"
                );
                let per_dir: Vec<usize> = self
                    .mail_dirs
                    .iter()
                    .map(|d| written.iter().filter(|p| p.starts_with(d)).count())
                    .collect();
                eprintln!("emails written per server: {per_dir:?}");
                return written;
            }
            assert!(
                Instant::now() < deadline,
                "the outbox did not deliver within 30 s: {outbox:?}, files {written:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Counts answers by (status, code), and checks that both servers answered.
fn tally(answers: &[(usize, u16, String)]) -> BTreeMap<(u16, String), usize> {
    let mut counts = BTreeMap::new();
    for (_, status, code) in answers {
        *counts.entry((*status, code.clone())).or_insert(0) += 1;
    }
    let granted_by: Vec<usize> = answers
        .iter()
        .filter(|(_, status, _)| *status == 202)
        .map(|(server, _, _)| *server)
        .collect();
    eprintln!("answers: {counts:?}; granted by server {granted_by:?}");
    for server in 0..2 {
        assert_eq!(
            answers.iter().filter(|(s, _, _)| *s == server).count(),
            REQUESTS / 2,
            "both servers took half"
        );
    }
    counts
}

fn expected(granted: usize, refusal: &str) -> BTreeMap<(u16, String), usize> {
    [
        ((202, "granted".to_owned()), granted),
        ((409, refusal.to_owned()), REQUESTS - granted),
    ]
    .into()
}

#[test]
fn fifty_simultaneous_requests_for_one_deployment_on_two_replicas_grant_one_trial() {
    let replicas = Replicas::start();
    let deployment = format!("dep-{}", uuid::Uuid::new_v4());
    let bodies = (0..REQUESTS)
        .map(|i| trial_body(&format!("person{i}@company-{i}.example"), &deployment))
        .collect();
    let answers = replicas.all_at_once(bodies);
    assert_eq!(
        tally(&answers),
        expected(1, "trial_used_for_deployment"),
        "exactly one trial per deployment"
    );
    let written = replicas.expect_emails(1);
    let eml = std::fs::read_to_string(&written[0]).unwrap();
    assert!(eml.contains("license.jwt"), "the email carries the license");
}

/// An address's trial slot is taken when its license first checks in (a request proves no
/// mailbox); until then the licensor sends at most 3 trial emails to an address a day, and
/// that bound holds across replicas (a count under the domain's row lock).
#[test]
fn fifty_simultaneous_requests_for_one_address_on_two_replicas_send_at_most_three_emails() {
    let replicas = Replicas::start();
    let bodies = (0..REQUESTS)
        .map(|i| trial_body("ada@engines.example", &format!("dep-{i}")))
        .collect();
    let answers = replicas.all_at_once(bodies);
    assert_eq!(
        tally(&answers),
        expected(3, "trial_mail_limit"),
        "at most 3 trial emails per address a day"
    );
    let written = replicas.expect_emails(3);
    let eml = std::fs::read_to_string(&written[0]).unwrap();
    assert!(eml.contains("ada@engines.example"), "{eml}");
}

/// A domain's trials count toward its limit when their licenses first check in; until then
/// the licensor sends at most 20 trial emails to a domain a day, across replicas.
#[test]
fn fifty_simultaneous_requests_from_one_domain_on_two_replicas_send_at_most_the_domains_emails() {
    let replicas = Replicas::start();
    let bodies = (0..REQUESTS)
        .map(|i| trial_body(&format!("person{i}@popular.example"), &format!("dep-{i}")))
        .collect();
    let answers = replicas.all_at_once(bodies);
    assert_eq!(
        tally(&answers),
        expected(20, "trial_mail_limit"),
        "at most 20 trial emails per domain a day"
    );
    replicas.expect_emails(20);
}

/// maildev (tests/smtp), the SMTP server the story delivers to, read through its HTTP API.
struct Maildev {
    child: Child,
    smtp_port: u16,
    web_port: u16,
    http: reqwest::blocking::Client,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Maildev {
    /// Starts maildev on free ports and waits (at most 30 s) until it answers.
    fn start() -> Self {
        let binary = workspace_root().join("tests/smtp/node_modules/.bin/maildev");
        assert!(
            binary.exists(),
            "maildev is not installed: run `npm ci --prefix tests/smtp` (scripts/test does)"
        );
        let (smtp_port, web_port) = (free_port(), free_port());
        let child = Command::new("node")
            .arg(binary)
            .args(["-s", &smtp_port.to_string(), "-w", &web_port.to_string()])
            .args(["--ip", "127.0.0.1", "--web-ip", "127.0.0.1", "--silent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs maildev");
        let maildev = Self {
            child,
            smtp_port,
            web_port,
            http: reqwest::blocking::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let web = maildev.http.get(maildev.url("/email")).send();
            let smtp = std::net::TcpStream::connect(("127.0.0.1", smtp_port));
            if web.is_ok_and(|r| r.status().is_success()) && smtp.is_ok() {
                return maildev;
            }
            assert!(Instant::now() < deadline, "maildev did not start in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.web_port)
    }

    /// Waits (polling, at most 30 s) for a message to `address`.
    fn wait_for(&self, address: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let emails: Vec<Value> = self
                .http
                .get(self.url("/email"))
                .send()
                .unwrap()
                .json()
                .unwrap();
            if let Some(email) = emails.iter().find(|e| e["to"][0]["address"] == address) {
                return email.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no email to {address} within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The text of the one attachment of `email`.
    fn attachment(&self, email: &Value) -> String {
        let id = email["id"].as_str().unwrap();
        let stored = email["attachments"][0]["generatedFileName"]
            .as_str()
            .unwrap();
        let response = self
            .http
            .get(self.url(&format!("/email/{id}/attachment/{stored}")))
            .send()
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.text().unwrap()
    }
}

impl Drop for Maildev {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `coder-license ARGS -f FILE --trust-key KEYS --deployment-id ID`.
fn coder_license(args: &[&str], file: &Path, keys: &Path, deployment: &str) -> license_e2e::Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&[
        "-f",
        file.to_str().unwrap(),
        "--trust-key",
        keys.to_str().unwrap(),
        "--deployment-id",
        deployment,
    ]);
    run("coder-license", &all)
}

#[test]
fn a_trial_request_ends_in_the_mailbox_with_a_license_coder_license_verifies() {
    let maildev = Maildev::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let token = admin_token(&["--data-dir", data]);
    let smtp_url = format!("smtp://127.0.0.1:{}", maildev.smtp_port);
    let server = Server::start(&[
        "--data-dir",
        data,
        "--smtp-url",
        &smtp_url,
        "--outbox-poll-ms",
        "50",
    ]);
    let http = reqwest::blocking::Client::new();
    let deployment = format!("dep-{}", uuid::Uuid::new_v4());

    // The request, as a prospect's browser or `coder-license trial request` sends it.
    let response = http
        .post(server.url("/api/v1/trials"))
        .json(&trial_body("ada@engines.example", &deployment))
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
    let accepted: Value = response.json().unwrap();
    assert_eq!(accepted["user_limit"], 10);
    assert!(accepted.get("token").is_none(), "{accepted}");
    let expires_at = accepted["expires_at"].as_str().unwrap().to_owned();

    // The email arrives with the license attached.
    let email = maildev.wait_for("ada@engines.example");
    assert_eq!(email["subject"], "Your Coder trial license");
    let text = email["text"].as_str().unwrap();
    let end_date = &expires_at[..10];
    assert!(
        text.contains(&format!("It allows 10 users and runs until {end_date}")),
        "{text}"
    );
    assert_eq!(email["attachments"][0]["fileName"], "license.jwt");
    let license_file = dir.path().join("license.jwt");
    std::fs::write(&license_file, maildev.attachment(&email).trim()).unwrap();
    let keys_file = dir.path().join("keys.json");
    let jwks = http
        .get(server.url("/api/v1/keys"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    std::fs::write(&keys_file, &jwks).unwrap();

    // `inspect` verifies the signature with the published keys and shows the trial's terms.
    let inspected = coder_license(
        &["inspect", "-o", "json"],
        &license_file,
        &keys_file,
        &deployment,
    );
    let report: Value = serde_json::from_str(&inspected.stdout).unwrap_or_else(|e| {
        panic!(
            "inspect -o json: {e}: {}{}",
            inspected.stdout, inspected.stderr
        )
    });
    let license = &report["licenses"][0];
    let claims = &license["claims"];
    assert!(claims.is_object(), "the signature verified: {report}");
    let jwks: Value = serde_json::from_str(&jwks).unwrap();
    assert_eq!(license["key_id"], jwks["keys"][0]["kid"]);
    assert_eq!(claims["trial"], true, "{claims}");
    assert_eq!(claims["features"]["user_limit"], 10, "{claims}");
    assert_eq!(claims["deployment_ids"], json!([deployment]));
    assert_eq!(claims["sub"], "ada@engines.example");
    let term_end = claims["license_expires"].as_i64().unwrap();
    let expected_end = license_core::Timestamp::parse_rfc3339(&expires_at).unwrap();
    assert_eq!(term_end, expected_end.unix(), "the term the 202 announced");
    // Until the deployment checks in, a free trial grants nothing (no air-gapped trials).
    assert_eq!(license["state"], "checkin_required", "{report}");

    // `verify`: the signature and binding hold; a free trial must check in before it grants.
    let verified = coder_license(&["verify"], &license_file, &keys_file, &deployment);
    assert_eq!(verified.code, Some(1), "{}", verified.stderr);
    assert!(
        verified.stderr.contains("check-in"),
        "the only complaint is the missing check-in: {}",
        verified.stderr
    );
    assert_eq!(
        verified.stderr.matches("invalid:").count(),
        1,
        "{}",
        verified.stderr
    );
    let elsewhere = coder_license(&["verify"], &license_file, &keys_file, "dep-elsewhere");
    assert_eq!(elsewhere.code, Some(1));
    assert!(
        elsewhere.stderr.contains("bound to deployment"),
        "{}",
        elsewhere.stderr
    );

    // An air-gapped evaluation (check-in waived) verifies outright, showing trial and seats.
    let enrolled = http
        .post(server.url("/api/v1/evaluations"))
        .bearer_auth(&token)
        .json(&json!({
            "email_domain": "secure.example", "reason": "air-gapped pilot",
            "approved_by": "sales director", "ends_at": "2099-01-01T00:00:00Z",
            "waives": ["checkin"], "user_limit": 25
        }))
        .send()
        .unwrap();
    assert_eq!(enrolled.status(), 201);
    let airgap = format!("dep-{}", uuid::Uuid::new_v4());
    let response = http
        .post(server.url("/api/v1/trials"))
        .json(&trial_body("ops@secure.example", &airgap))
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
    let email = maildev.wait_for("ops@secure.example");
    let evaluation_file = dir.path().join("evaluation.jwt");
    std::fs::write(&evaluation_file, maildev.attachment(&email).trim()).unwrap();
    let verified = coder_license(&["verify"], &evaluation_file, &keys_file, &airgap);
    assert_eq!(verified.code, Some(0), "{}", verified.stderr);
    assert!(
        verified.stdout.contains("(user limit 25, trial)"),
        "{}",
        verified.stdout
    );
    let inspected = coder_license(
        &["inspect", "-o", "json"],
        &evaluation_file,
        &keys_file,
        &airgap,
    );
    let report: Value = serde_json::from_str(&inspected.stdout).unwrap();
    assert_eq!(report["entitlements"]["trial"], true, "{report}");
    assert_eq!(report["licenses"][0]["claims"]["evaluation"], true);
    assert!(report["licenses"][0]["claims"].get("checkin").is_none());
    assert_eq!(
        report["entitlements"]["features"]["user_limit"]["limit"],
        25
    );

    assert_eq!(server.terminate(), Some(0));
}
