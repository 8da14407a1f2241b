//! The web console in a real browser (issue #14): Chromium driven through chromedriver,
//! against a running `license-server serve` on SQLite and on Postgres. Every page visited is
//! checked with axe-core (no serious or critical violation) and saved as a screenshot under
//! `target/browser/<backend>/`. With `LICENSOR_UPDATE_SCREENSHOTS=1`, the dashboard, an
//! account and a deployment chart are copied to `docs/console/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;

use browser::{Driver, Page, axe_source, wait_for_file};
use license_e2e::{PostgresDb, Server, binary, run, workspace_root};
use std::io::Write as _;
use std::process::{Command, Stdio};

const DESK_PASSWORD: &str = "desk password 12345";
const VIEWER_PASSWORD: &str = "viewer password 12345";

/// The database flags of one backend.
fn database_args(data: &std::path::Path, postgres: Option<&PostgresDb>) -> Vec<String> {
    let mut args = vec!["--data-dir".to_owned(), data.display().to_string()];
    if let Some(db) = postgres {
        args.extend(["--database-url".to_owned(), db.url.clone()]);
    }
    args
}

/// `license-server user create`; the password given on standard input, or the generated one.
fn create_user(db: &[String], name: &str, role: &str, password: Option<&str>) -> String {
    let mut command = Command::new(binary("license-server"));
    command
        .args(["user", "create", "--name", name, "--role", role])
        .args(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if password.is_some() {
        command.arg("--password-stdin");
    }
    let mut child = command.spawn().unwrap();
    if let Some(password) = password {
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    match password {
        Some(password) => password.to_owned(),
        None => stdout.lines().last().unwrap().trim().to_owned(),
    }
}

fn create_token(db: &[String], name: &str, role: &str) -> String {
    let mut args = vec!["token", "create", "--name", name, "--role", role];
    args.extend(db.iter().map(String::as_str));
    let out = run("license-server", &args);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    out.stdout.lines().last().unwrap().trim().to_owned()
}

#[test]
fn the_console_in_chromium_on_sqlite() {
    journey("sqlite", None);
}

#[test]
fn the_console_in_chromium_on_postgres() {
    let db = PostgresDb::create();
    journey("postgres", Some(&db));
}

fn journey(backend: &str, postgres: Option<&PostgresDb>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = database_args(&data, postgres);
    let admin_password = create_user(&db, "ada", "admin", None);
    create_user(&db, "dee", "desk", Some(DESK_PASSWORD));
    create_user(&db, "vera", "viewer", Some(VIEWER_PASSWORD));
    let viewer_token = create_token(&db, "api-viewer", "viewer");
    let desk_token = create_token(&db, "api-desk", "desk");
    let admin_token = create_token(&db, "api-admin", "admin");
    let args: Vec<&str> = db.iter().map(String::as_str).collect();
    let server = Server::start(&args);
    let shots = workspace_root().join("target/browser").join(backend);
    let downloads = dir.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let driver = Driver::start();
    runtime.block_on(async {
        let client = driver.browser(&downloads).await;
        let page = Page::new(client, &server.base, shots.clone(), axe_source());
        let tokens = Tokens {
            viewer: viewer_token,
            desk: desk_token,
            admin: admin_token,
        };
        let result = steps(&page, &server, &tokens, &admin_password, dir.path()).await;
        let _ = page.client.clone().close().await;
        result
    });
    if std::env::var_os("LICENSOR_UPDATE_SCREENSHOTS").is_some() && backend == "sqlite" {
        let docs = workspace_root().join("docs/console");
        std::fs::create_dir_all(&docs).unwrap();
        for name in ["dashboard", "account", "deployment"] {
            std::fs::copy(
                shots.join(format!("{name}.png")),
                docs.join(format!("{name}.png")),
            )
            .unwrap();
        }
    }
}

struct Tokens {
    viewer: String,
    desk: String,
    admin: String,
}

async fn steps(
    page: &Page,
    server: &Server,
    tokens: &Tokens,
    admin_password: &str,
    dir: &std::path::Path,
) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Without a session every page leads to the sign-in page; a wrong password says so.
    page.open("/console/licenses").await;
    assert!(page.url().await.ends_with("/console/login"));
    page.check("login").await;
    page.fill("#name", "vera").await;
    page.fill("#password", "not the password").await;
    page.submit("button[type=submit]").await;
    assert!(page.text("#login-error").await.contains("wrong"));
    assert_eq!(page.value("#name").await, "vera", "the name typed is kept");

    // A viewer sees everything but cannot issue: no button, and the POST is refused.
    page.sign_in("vera", VIEWER_PASSWORD).await;
    page.check("dashboard-empty").await;
    page.open("/console/licenses").await;
    assert!(
        !page.has("#new-license").await,
        "a viewer sees no issue button"
    );
    page.open("/console/accounts").await;
    assert!(
        !page.has("#account-form").await,
        "a viewer sees no account form"
    );
    let (cookie, csrf) = (page.cookie().await, page.csrf().await);
    let refused = http
        .post(server.url("/console/accounts"))
        .header("cookie", &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Sneaky"),
            ("email", "s@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "a viewer's POST is refused");
    page.open("/console/licenses/new").await;
    assert!(
        page.text("#error-message")
            .await
            .contains("needs the desk role")
    );
    let api = http
        .post(server.url("/api/v1/accounts"))
        .bearer_auth(&tokens.viewer)
        .json(&serde_json::json!({"name": "Sneaky", "email": "s@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 403);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    page.open("/console/dashboard").await;
    page.sign_out().await;
    // The session ended on the server: the old cookie opens nothing.
    let stale = http
        .get(server.url("/console/dashboard"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 303, "a signed-out session is void");

    // The desk creates an account; a bad value is shown next to its field, input kept.
    page.sign_in("dee", DESK_PASSWORD).await;
    page.open("/console/accounts").await;
    page.fill("#account-name", "Acme Rockets").await;
    page.fill("#account-email", "not-an-email").await;
    page.submit("#create-account").await;
    assert!(
        page.has("#email-error").await,
        "the email error is next to the field"
    );
    assert_eq!(page.value("#account-name").await, "Acme Rockets");
    assert_eq!(page.value("#account-email").await, "not-an-email");
    page.check("account-form-error").await;
    page.fill("#account-email", "ops@acme.example").await;
    page.submit("#create-account").await;
    let account_id = page.text("#account-id").await;
    assert!(
        page.url()
            .await
            .ends_with(&format!("/console/accounts/{account_id}"))
    );

    // Issue: a bad seat count first, then a good one.
    page.submit("#issue-license").await;
    assert_eq!(page.value("#account_id").await, account_id);
    page.fill("#email", "admin@acme.example").await;
    page.fill("#user_limit", "lots").await;
    page.fill("#expires_at", "2030-12-31").await;
    page.submit("#submit-license").await;
    assert!(
        page.text("#user_limit-error")
            .await
            .contains("not a whole number")
    );
    assert_eq!(
        page.value("#email").await,
        "admin@acme.example",
        "input kept"
    );
    page.check("issue-form-error").await;
    page.fill("#user_limit", "-5").await;
    page.submit("#submit-license").await;
    assert!(
        page.text("#user_limit-error")
            .await
            .contains("out of range"),
        "the service's own validation is shown next to the field"
    );
    page.fill("#user_limit", "5").await;
    page.fill("#deployment_ids", "acme-prod").await;
    page.submit("#submit-license").await;
    assert!(page.text("#notice").await.contains("License issued"));
    let license_url = page.url().await;
    let license_id = license_url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    page.check("license").await;
    assert!(!page.has("#revoke-form").await, "the desk cannot revoke");

    // Download license.jwt; coder-license verify accepts it.
    page.click("#download").await;
    let jwt = wait_for_file(&dir.join("downloads").join("license.jwt"));
    let keys = http
        .get(server.url("/api/v1/keys"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    std::fs::write(dir.join("keys.json"), keys).unwrap();
    let verified = run(
        "coder-license",
        &[
            "verify",
            "-f",
            &dir.join("downloads/license.jwt").display().to_string(),
            "--trust-key",
            &dir.join("keys.json").display().to_string(),
            "--deployment-id",
            "acme-prod",
        ],
    );
    assert_eq!(
        verified.code,
        Some(0),
        "{}{}",
        verified.stdout,
        verified.stderr
    );
    assert!(verified.stdout.contains(&license_id), "{}", verified.stdout);
    assert!(!jwt.is_empty());

    // The desk may not revoke, in the console or the API.
    let (cookie, csrf) = (page.cookie().await, page.csrf().await);
    let revoke_path = format!("/console/licenses/{license_id}/revoke");
    let refused = http
        .post(server.url(&revoke_path))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("reason", "x"), ("confirm", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let api = http
        .post(server.url(&format!("/api/v1/licenses/{license_id}/revoke")))
        .bearer_auth(&tokens.desk)
        .json(&serde_json::json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 403);

    // Forms without the CSRF token, and posts from another site, fail.
    let no_token = http
        .post(server.url("/console/accounts"))
        .header("cookie", &cookie)
        .form(&[("name", "No Token"), ("email", "n@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_token.status(),
        403,
        "a form without the CSRF token is refused"
    );
    let cross_site = http
        .post(server.url("/console/accounts"))
        .header("cookie", &cookie)
        .header("origin", "https://attacker.example")
        .header("sec-fetch-site", "cross-site")
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Cross"),
            ("email", "c@example.com"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403, "a cross-site post is refused");

    // Check-ins: the deployment's chart has a point for each.
    for users in [2u64, 4, 7] {
        let checkin = http
            .post(server.url("/api/v1/checkins"))
            .json(&serde_json::json!({
                "deployment_id": "acme-prod",
                "license_ids": [license_id],
                "active_users": users,
                "product_version": "2.20.0"
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(checkin.status(), 200, "{}", checkin.text().await.unwrap());
    }
    page.open("/console/deployments/acme-prod").await;
    let points = page
        .client
        .find_all(fantoccini::Locator::Css("#usage-chart svg circle"))
        .await
        .unwrap();
    assert_eq!(points.len(), 3, "one marker per check-in");
    assert!(
        page.has("#over-seats-flag").await,
        "7 users on 5 seats is flagged"
    );
    page.check("deployment").await;
    page.open("/console/deployments").await;
    page.check("deployments").await;

    // An evaluation enrollment, created and ended.
    page.open("/console/evaluations").await;
    page.click("#subject-domain").await;
    page.fill("#email_domain", "acme.example").await;
    page.fill("#reason", "design partner").await;
    page.fill("#approved_by", "sales").await;
    page.fill("#ends_at", "2030-01-01").await;
    page.click("#waive-domain_limit").await;
    page.submit("#enroll").await;
    assert!(
        page.text("#evaluations")
            .await
            .contains("domain acme.example")
    );
    assert!(page.text("#evaluations .state").await.contains("active"));
    page.check("evaluations").await;
    page.fill("#evaluations input[name=reason]", "signed the contract")
        .await;
    page.submit("#evaluations button[type=submit]").await;
    assert!(
        page.text("#evaluations .state")
            .await
            .contains("ended by dee")
    );
    page.open("/console/trials").await;
    page.check("trials").await;
    page.open("/console/outbox").await;
    page.check("outbox").await;
    page.sign_out().await;

    // The admin revokes (a reason and the confirmation box); the list and the audit show it.
    page.sign_in("ada", admin_password).await;
    page.open(&format!("/console/licenses/{license_id}")).await;
    page.fill("#reason", "customer churned").await;
    // console.js asks "Revoke this license?" first: answer yes.
    page.client
        .execute("window.confirm = () => true; return true;", vec![])
        .await
        .unwrap();
    page.submit("#revoke").await;
    assert!(
        page.has("#confirm-error").await,
        "revoking needs the confirmation"
    );
    assert_eq!(page.value("#reason").await, "customer churned");
    page.client
        .execute("window.confirm = () => true; return true;", vec![])
        .await
        .unwrap();
    page.click("#confirm").await;
    page.submit("#revoke").await;
    assert!(page.text("#license-status").await.starts_with("revoked"));
    page.open("/console/licenses?status=revoked").await;
    assert!(
        page.text(&format!("tr[data-license='{license_id}'] .status"))
            .await
            == "revoked"
    );
    page.check("licenses").await;
    page.open("/console/audit").await;
    let audit = page.text("#audit").await;
    assert!(audit.contains("license.revoke"), "{audit}");
    assert!(audit.contains("ada"), "the audit names the person: {audit}");
    assert!(
        audit.contains("license.issue") && audit.contains("dee"),
        "{audit}"
    );
    page.check("audit").await;
    page.open(&format!("/console/accounts/{account_id}")).await;
    assert!(page.text("#account-audit").await.contains("license.revoke"));
    page.check("account").await;
    page.open("/console/access").await;
    page.check("access").await;
    page.open("/console/dashboard").await;
    assert_eq!(page.text("#count-revoked").await, "1");
    page.check("dashboard").await;

    // The CSV export is the API's list.
    let cookie = page.cookie().await;
    let csv = http
        .get(server.url("/console/licenses?format=csv"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let api: serde_json::Value = http
        .get(server.url("/api/v1/licenses"))
        .bearer_auth(&tokens.admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = api["items"].as_array().unwrap();
    assert_eq!(rows.len(), items.len());
    for (row, item) in rows.iter().zip(items) {
        assert_eq!(&row[0], item["id"].as_str().unwrap());
        assert_eq!(&row[2], item["email"].as_str().unwrap());
        assert_eq!(&row[3], item["status"].as_str().unwrap());
    }

    // A viewer's token reads a license without its token; the desk's with it.
    let path = format!("/api/v1/licenses/{license_id}");
    let as_viewer: serde_json::Value = http
        .get(server.url(&path))
        .bearer_auth(&tokens.viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        as_viewer
            .get("token")
            .is_none_or(serde_json::Value::is_null),
        "{as_viewer}"
    );
    let as_desk: serde_json::Value = http
        .get(server.url(&path))
        .bearer_auth(&tokens.desk)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(as_desk["token"].is_string());
}
