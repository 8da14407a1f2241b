//! The README is a test: its quick start, and the walk-through in docs/flow.md, run as written.
//!
//! Each page's annotated shell blocks (see `markdown`) run in order, in one bash session, in a
//! fresh temporary directory, with the release binaries first on `PATH`: the licensor on its
//! embedded default (SQLite, mail as files) and `coder-license --file-store`, no cluster. Every
//! command's exit status and the lines it must print are asserted; a doc change that breaks
//! the story breaks the build.
//!
//! The release binaries: `LICENSOR_RELEASE_BIN_DIR` when set (a directory holding
//! `license-server` and `coder-license`), else this test runs `cargo build --release --bins
//! --locked` (a no-op when they are up to date; minutes on a cold target directory).
//!
//! The one liberty taken with the text: the licensor listens on a free port rather than 8080,
//! so that tests and a developer's own server never collide; `localhost:8080` in the page is
//! rewritten to that address, and `LICENSOR_LISTEN` is set to it.

mod markdown;
mod session;

use license_e2e::workspace_root;
use markdown::{Mode, blocks};
use session::Session;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The directory holding the release binaries, built once per test run.
fn release_binaries() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = match std::env::var_os("LICENSOR_RELEASE_BIN_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => {
                let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
                let status = Command::new(cargo)
                    .args(["build", "--release", "--bins", "--locked"])
                    .current_dir(workspace_root())
                    .status()
                    .unwrap_or_else(|e| panic!("cannot run cargo build --release: {e}"));
                assert!(
                    status.success(),
                    "cargo build --release --bins failed (its output is above)"
                );
                target_dir().join("release")
            }
        };
        for name in ["license-server", "coder-license"] {
            assert!(
                dir.join(name).is_file(),
                "{name} is missing from {}: build the release binaries (cargo build --release \
                 --bins) or point LICENSOR_RELEASE_BIN_DIR at them",
                dir.display()
            );
        }
        dir
    })
}

/// The target directory this test was built in (target/debug/deps/e2e-… → target).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors()
        .nth(3)
        .expect("the test runs from target/<profile>/deps")
        .to_owned()
}

/// A free port on 127.0.0.1 (bound and released; the licensor binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs every `run` block of `page` (relative to the workspace root) with `bin` first on
/// `PATH`; returns how many commands ran, or the report of the first that failed.
fn run_page(page: &str, text: &str, bin: &Path) -> Result<usize, String> {
    let blocks = blocks(text).map_err(|e| format!("{page}: {e}"))?;
    let work = tempfile::tempdir().unwrap();
    let home = work.path().join(".home");
    std::fs::create_dir_all(&home).unwrap();
    let address = format!("127.0.0.1:{}", free_port());
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_owned())
    );
    let env = [
        ("PATH", path),
        ("HOME", home.display().to_string()),
        ("LANG", "C.UTF-8".to_owned()),
        ("LICENSOR_LISTEN", address.clone()),
    ];
    let mut session = Session::start(work.path(), &env);
    session.replacements = vec![
        ("localhost:8080".to_owned(), address.clone()),
        ("127.0.0.1:8080".to_owned(), address),
    ];
    let mut ran = 0;
    for block in blocks.iter().filter(|b| b.mode == Mode::Run) {
        for step in &block.steps {
            session.run(page, step)?;
            ran += 1;
        }
    }
    Ok(ran)
}

fn run_doc(page: &str) -> usize {
    let text = std::fs::read_to_string(workspace_root().join(page)).unwrap();
    run_page(page, &text, release_binaries()).unwrap_or_else(|report| panic!("{report}"))
}

#[test]
fn the_readme_quick_start_runs_as_written() {
    let ran = run_doc("README.md");
    assert!(ran >= 15, "only {ran} commands of README.md ran");
}

#[test]
fn the_walk_through_in_docs_flow_runs_as_written() {
    let ran = run_doc("docs/flow.md");
    assert!(ran >= 10, "only {ran} commands of docs/flow.md ran");
}

#[test]
fn every_shell_block_of_the_readme_and_the_flow_is_annotated() {
    for page in ["README.md", "docs/flow.md"] {
        let text = std::fs::read_to_string(workspace_root().join(page)).unwrap();
        let blocks = blocks(&text).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            blocks.iter().any(|b| b.mode == Mode::Run),
            "{page} has no block the test runs"
        );
    }
}

/// The harness itself, on a page of plain shell commands (no binaries needed).
mod harness {
    use super::*;

    const STORY: &str = "<!-- doc-test: setup -->\n```sh\nexit 3\n```\n\n\
        <!-- doc-test: run -->\n```sh\n\
        sleep 600 &                       # a server that never ends\n\
        printf 'listening on localhost:8080\\n' && echo $$ > shell.pid\n\
        COUNT=$(printf 'one\\ntwo\\n' | wc -l)\n\
        export COUNT\n\
        cd sub 2>/dev/null || mkdir sub && cd sub\n\
        echo \"count $COUNT in $(basename \"$PWD\")\"  # prints: count 2 in sub\n\
        bash -c 'echo refused >&2; exit 1'   # exit 1, prints: refused\n\
        cat                                # reads /dev/null, not the commands after it\n\
        ```\n\n<!-- doc-test: skip not here -->\n```sh\nexit 4\n```\n";

    #[test]
    fn a_page_runs_in_one_session_with_its_state_and_expectations() {
        let ran = run_page("story.md", STORY, Path::new("/nonexistent")).unwrap();
        assert_eq!(ran, 8);
    }

    fn failure(page: &str) -> String {
        run_page("bad.md", page, Path::new("/nonexistent")).unwrap_err()
    }

    #[test]
    fn a_wrong_exit_status_or_a_missing_line_fails_with_a_report() {
        let report = failure(
            "<!-- doc-test: run -->\n```sh\necho fine\nbash -c 'echo oops >&2; exit 2'\n```\n",
        );
        assert!(report.starts_with("bad.md:4: `bash -c"), "{report}");
        assert!(report.contains("exited 2, expected 0"), "{report}");
        assert!(report.contains("oops"), "{report}");

        let report = failure("<!-- doc-test: run -->\n```sh\ntrue   # exit 1\n```\n");
        assert!(report.contains("exited 0, expected 1"), "{report}");

        let report =
            failure("<!-- doc-test: run -->\n```sh\necho valid   # prints: invalid\n```\n");
        assert!(report.contains("did not print \"invalid\""), "{report}");

        // A pipeline fails when any part of it fails (a reader would see the error).
        let report = failure("<!-- doc-test: run -->\n```sh\nX=$(false | tail -n 1)\n```\n");
        assert!(report.contains("exited 1, expected 0"), "{report}");
    }

    #[test]
    fn a_background_command_is_checked_after_the_next_one_and_killed_at_the_end() {
        let page = "<!-- doc-test: run -->\n```sh\n\
            (echo started; exec sleep 600) &   # prints: listening on\n\
            true\n```\n";
        let report = failure(page);
        assert!(
            report.contains("`(echo started; exec sleep 600)` did not print"),
            "{report}"
        );
        assert!(report.contains("started"), "{report}");

        // The session's process group, background jobs included, is gone after a failure.
        let dir = tempfile::tempdir().unwrap();
        let group;
        {
            let mut session = Session::start(dir.path(), &[("PATH", "/usr/bin:/bin".to_owned())]);
            group = session.group();
            let step = &blocks("<!-- doc-test: run -->\n```sh\nsleep 600 &\nfalse\n```\n").unwrap()
                [0]
            .steps;
            session.run("t.md", &step[0]).unwrap();
            assert!(session.run("t.md", &step[1]).is_err());
            assert!(session::group_alive(group));
        }
        assert!(
            !session::group_alive(group),
            "the background sleep survived"
        );
    }

    #[test]
    fn a_command_that_hangs_fails_after_the_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let mut session = Session::start(dir.path(), &[("PATH", "/usr/bin:/bin".to_owned())]);
        session.timeout = std::time::Duration::from_millis(300);
        let steps = &blocks("<!-- doc-test: run -->\n```sh\nsleep 600\n```\n").unwrap()[0].steps;
        let report = session.run("t.md", &steps[0]).unwrap_err();
        assert!(
            report.contains("`sleep 600` did not finish in time"),
            "{report}"
        );
    }
}
