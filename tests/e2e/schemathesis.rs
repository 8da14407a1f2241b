//! The API contract under an OpenAPI fuzzer (issue 12, finding 13): schemathesis, pinned,
//! runs every check against the real `license-server` on the embedded default and on
//! Postgres, authenticated with an admin token, bounded in time; any failure fails the test.
//! `scripts/services` installs schemathesis into a virtual environment (`SCHEMATHESIS` names
//! another executable).

use license_e2e::{PostgresDb, Server, run};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The schemathesis release `scripts/services` installs.
const SCHEMATHESIS_VERSION: &str = "4.32.5";

fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME is set");
    let path = cache
        .join("licensor")
        .join(format!("schemathesis-{SCHEMATHESIS_VERSION}"))
        .join("bin")
        .join("schemathesis");
    assert!(
        path.exists(),
        "schemathesis {SCHEMATHESIS_VERSION} is missing at {}: run scripts/services (it installs \
         it from PyPI into that virtual environment), or set SCHEMATHESIS to its path",
        path.display()
    );
    path
}

fn fuzz(database: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let mut token_args = vec!["token", "create", "--name", "fuzzer", "--data-dir", data];
    token_args.extend_from_slice(database);
    let created = run("license-server", &token_args);
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    let token = created.stdout.split_whitespace().last().unwrap().to_owned();
    let mut serve_args = vec![
        "--data-dir",
        data,
        // The fuzzer is one client sending thousands of requests.
        "--public-rate-limit-per-minute",
        "1000000",
        "--public-rate-limit-burst",
        "1000000",
    ];
    serve_args.extend_from_slice(database);
    let server = Server::start(&serve_args);
    let output = Command::new(schemathesis())
        .current_dir(dir.path())
        .args(["run", &server.url("/api/v1/openapi.json")])
        .args(["--url", &server.url("")])
        .args(["--checks", "all"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args([
            "--max-examples",
            "10",
            "--max-time",
            "100",
            "--workers",
            "2",
        ])
        .args(["--seed", "12"])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .output()
        .expect("schemathesis runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: Vec<&str> = stdout
        .lines()
        .skip_while(|line| !line.contains("SUMMARY"))
        .collect();
    println!("{}", summary.join("\n"));
    assert!(
        output.status.success(),
        "schemathesis found disagreements between the server and openapi.json:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(" generated"), "{stdout}");
    assert_eq!(server.terminate(), Some(0));
}

#[test]
#[ignore = "known disagreements remain (ST202 on `after=`, `{id}` = None from links, \
            product_version, equal start and end times, extend days): issue 12, finding 13"]
fn the_api_keeps_its_openapi_contract_on_the_embedded_default() {
    fuzz(&[]);
}

#[test]
#[ignore = "known disagreements remain: see the embedded default's test"]
fn the_api_keeps_its_openapi_contract_on_postgres() {
    let db = PostgresDb::create();
    fuzz(&["--database-url", &db.url]);
}
