//! docs/notifications/verify.py (Python, `cryptography`) and verify.mjs (Node, `jose`) run
//! against a delivery the test receiver captured: they accept it, and refuse it tampered or
//! replayed later.

use crate::receiver::Captured;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const CRYPTOGRAPHY_VERSION: &str = "50.0.2";

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The Python with `cryptography` that scripts/services installs.
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("LICENSOR_VERIFY_PYTHON") {
        return PathBuf::from(path);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
        .expect("HOME or XDG_CACHE_HOME is set");
    let path = cache
        .join("licensor")
        .join(format!("cryptography-{CRYPTOGRAPHY_VERSION}"))
        .join("bin")
        .join("python");
    assert!(
        path.exists(),
        "Python with cryptography {CRYPTOGRAPHY_VERSION} is missing at {}: run scripts/services \
         (it installs it from PyPI into that virtual environment), or set LICENSOR_VERIFY_PYTHON",
        path.display()
    );
    path
}

/// Runs `program script capture`; (success, stdout, stderr).
fn run(program: &Path, script: &Path, capture: &Path) -> (bool, String, String) {
    let output = Command::new(program)
        .arg(script)
        .arg(capture)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Both snippets accept `captured` and refuse it altered.
pub fn check(captured: &Captured, jwks: &Value) {
    let dir = tempfile::tempdir().unwrap();
    let root = repository();
    let modules = root.join("tests/interop/node_modules");
    assert!(
        modules.join("jose").exists(),
        "jose is missing at {}: run `npm ci --prefix tests/interop`",
        modules.display()
    );
    // The Node snippet imports `jose`: beside a link to the interop tests' node_modules.
    std::os::unix::fs::symlink(&modules, dir.path().join("node_modules")).unwrap();
    let node_script = dir.path().join("verify.mjs");
    std::fs::copy(root.join("docs/notifications/verify.mjs"), &node_script).unwrap();
    let python_script = root.join("docs/notifications/verify.py");
    let timestamp: i64 = captured.headers["webhook-timestamp"].parse().unwrap();
    let event: Value = serde_json::from_str(&captured.body).unwrap();
    let expected = format!(
        "{} {}",
        event["type"].as_str().unwrap(),
        event["id"].as_str().unwrap()
    );
    let write = |name: &str, body: &str, now: i64| {
        let path = dir.path().join(name);
        let capture =
            json!({ "headers": captured.headers, "body": body, "jwks": jwks, "now": now });
        std::fs::write(&path, capture.to_string()).unwrap();
        path
    };
    let genuine = write("genuine.json", &captured.body, timestamp + 5);
    let tampered_body =
        captured
            .body
            .replacen("\"status\":\"active\"", "\"status\":\"revoked\"", 1);
    assert_ne!(tampered_body, captured.body);
    let tampered = write("tampered.json", &tampered_body, timestamp);
    let replayed = write("replayed.json", &captured.body, timestamp + 3600);
    let node = PathBuf::from("node");
    for (program, script) in [(python(), python_script), (node, node_script)] {
        let (ok, out, err) = run(&program, &script, &genuine);
        assert!(ok, "{} {}: {out}{err}", program.display(), script.display());
        assert_eq!(out.trim(), expected);
        let (ok, _, err) = run(&program, &script, &tampered);
        assert!(
            !ok && err.contains("no valid signature"),
            "{}: {err}",
            script.display()
        );
        let (ok, _, err) = run(&program, &script, &replayed);
        assert!(
            !ok && err.contains("timestamp outside"),
            "{}: {err}",
            script.display()
        );
    }
}
