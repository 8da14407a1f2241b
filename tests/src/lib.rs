//! Helpers for the end-to-end tests: locating the workspace's binaries and running them.
//!
//! The binaries are the ones `cargo test --workspace` builds (each binary crate has
//! integration tests of its own, so cargo builds its binary before any test runs).
#![allow(clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

/// A `license-server serve` process, killed when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Server {
    /// Starts `license-server serve --listen 127.0.0.1:0` with `args` and waits for the
    /// "listening on" line it prints once the port is bound.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(binary("license-server"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("LICENSOR_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("license-server starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        reader
            .read_line(&mut line)
            .expect("license-server prints its address");
        // Keep reading what it prints next (the next steps), so that it never writes to a
        // closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from license-server: {line:?}"))
            .to_owned();
        Self { child, base }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits (at most 10 s) for a graceful exit; returns the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh, uniquely named Postgres database (made with `psql`), dropped when dropped.
#[derive(Debug)]
pub struct PostgresDb {
    name: String,
    /// Its URL.
    pub url: String,
}

impl PostgresDb {
    /// Creates the database on 127.0.0.1:5432 as user postgres; fails loudly when Postgres
    /// cannot be reached.
    pub fn create() -> Self {
        let name = format!("licensor_e2e_{}", uuid::Uuid::new_v4().simple());
        psql(&format!("CREATE DATABASE {name}"));
        Self {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        }
    }
}

impl Drop for PostgresDb {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

fn psql(sql: &str) {
    let out = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-qc",
            sql,
        ])
        .output()
        .unwrap_or_else(|e| panic!("psql is required for the Postgres end-to-end tests: {e}"));
    assert!(
        out.status.success(),
        "Postgres at 127.0.0.1:5432 is required and refused {sql:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
