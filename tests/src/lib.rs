//! Helpers for the end-to-end tests: locating the workspace's binaries and running them.
//!
//! The binaries are the ones `cargo test --workspace` builds (each binary crate has
//! integration tests of its own, so cargo builds its binary before any test runs).
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_owned()
}

/// The path of a workspace binary in the same target directory as this test.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/debug/deps/e2e-hash → target/debug/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first (cargo test --workspace builds them)",
        path.display()
    );
    path
}

/// What a finished command left behind.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output, as text.
    pub stdout: String,
    /// Standard error, as text.
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs a workspace binary with `args` and no standard input.
pub fn run(name: &str, args: &[&str]) -> Run {
    Command::new(binary(name))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {name}: {e}"))
        .into()
}

/// Runs `node` with `args` from `tests/interop`, whose `node_modules` `scripts/test` installs.
pub fn node(args: &[&str]) -> Run {
    let dir = workspace_root().join("tests").join("interop");
    assert!(
        dir.join("node_modules").join("jose").exists(),
        "tests/interop/node_modules is missing: run `npm ci --prefix tests/interop` (scripts/test does)"
    );
    Command::new("node")
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (install Node.js 20 or later): {e}"))
        .into()
}
