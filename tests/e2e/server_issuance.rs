//! A license issued over the licensor's API verifies with `coder-license`, trusting the keys
//! the licensor publishes; on the embedded SQLite default and on Postgres.

use license_e2e::{PostgresDb, Server, run};
use serde_json::{Value, json};

fn issue_and_verify(database: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data = data_dir.to_str().unwrap();
    let mut token_args = vec!["token", "create", "--name", "desk", "--data-dir", data];
    token_args.extend_from_slice(database);
    let created = run("license-server", &token_args);
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    let token = created.stdout.split_whitespace().last().unwrap().to_owned();

    let mut serve_args = vec!["--data-dir", data];
    serve_args.extend_from_slice(database);
    let server = Server::start(&serve_args);
    let http = reqwest::blocking::Client::new();
    let post = |path: &str, body: Value| -> Value {
        let response = http
            .post(server.url(path))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(response.status(), 201, "{path}");
        response.json().unwrap()
    };
    let account = post(
        "/api/v1/accounts",
        json!({ "name": "Acme", "email": "ops@acme.example" }),
    );
    let license = post(
        "/api/v1/licenses",
        json!({
            "account_id": account["id"], "email": "admin@acme.example", "feature_set": "premium",
            "user_limit": 40, "starts_at": "2026-01-01T00:00:00Z", "expires_at": "2036-01-01T00:00:00Z",
            "grace_days": 14, "deployment_ids": ["dep-1"]
        }),
    );
    let jwks = http
        .get(server.url("/api/v1/keys"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    std::fs::write(dir.path().join("keys.json"), &jwks).unwrap();
    std::fs::write(
        dir.path().join("license.jwt"),
        license["token"].as_str().unwrap(),
    )
    .unwrap();
    let keys = dir.path().join("keys.json").display().to_string();
    let file = dir.path().join("license.jwt").display().to_string();

    let verified = run(
        "coder-license",
        &[
            "verify",
            "-f",
            &file,
            "--trust-key",
            &keys,
            "--deployment-id",
            "dep-1",
            "--users",
            "12",
        ],
    );
    assert_eq!(verified.code, Some(0), "{}", verified.stderr);
    assert!(
        verified.stdout.contains(&format!(
            "valid: license {} (user limit 40)",
            license["id"].as_str().unwrap()
        )),
        "{}",
        verified.stdout
    );

    let inspected = run(
        "coder-license",
        &[
            "inspect",
            "-f",
            &file,
            "--trust-key",
            &keys,
            "--deployment-id",
            "dep-1",
            "-o",
            "json",
        ],
    );
    let report: Value = serde_json::from_str(&inspected.stdout).unwrap();
    let jwks: Value = serde_json::from_str(&jwks).unwrap();
    assert_eq!(report["licenses"][0]["key_id"], jwks["keys"][0]["kid"]);
    assert_eq!(report["licenses"][0]["claims"]["sequence"], 1);
    assert_eq!(
        report["entitlements"]["features"]["multiple_organizations"]["entitlement"],
        "entitled"
    );

    let elsewhere = run(
        "coder-license",
        &[
            "verify",
            "-f",
            &file,
            "--trust-key",
            &keys,
            "--deployment-id",
            "dep-2",
        ],
    );
    assert_eq!(elsewhere.code, Some(1));

    // Revoking the desk's token shuts it out at once.
    let mut revoke_args = vec!["token", "revoke", "--name", "desk", "--data-dir", data];
    revoke_args.extend_from_slice(database);
    let revoked = run("license-server", &revoke_args);
    assert_eq!(revoked.code, Some(0), "{}", revoked.stderr);
    let refused = http
        .get(server.url("/api/v1/licenses"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(refused.status(), 401);

    assert_eq!(
        server.terminate(),
        Some(0),
        "SIGTERM shuts the server down gracefully"
    );
}

#[test]
fn a_license_issued_on_the_embedded_default_verifies_with_the_published_keys() {
    issue_and_verify(&[]);
}

#[test]
fn a_license_issued_on_postgres_verifies_with_the_published_keys() {
    let db = PostgresDb::create();
    issue_and_verify(&["--database-url", &db.url]);
}
