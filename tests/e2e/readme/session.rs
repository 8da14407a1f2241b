//! One bash session that runs a page's commands in order, as a reader pasting them would.
//!
//! The session is one `bash` process fed the commands on its standard input, so variables,
//! `export`s, `cd` and background jobs carry from one command to the next. Each command's
//! standard output and error go to files of their own, and its standard input is /dev/null
//! (it cannot eat the commands after it). bash runs in a process group of its own; dropping
//! the session kills the whole group, background servers included, whether the run passed or
//! failed.

use super::markdown::{Step, matches};
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const DONE: &str = "__doc_test_step_done__";

/// A running bash session in a working directory.
pub struct Session {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    logs: PathBuf,
    /// Longest a command may run.
    pub timeout: Duration,
    /// (from, to) replacements applied to every command and expected text.
    pub replacements: Vec<(String, String)>,
    count: usize,
    /// Background commands whose `prints:` is still to be checked, with their log index.
    pending: Vec<(usize, Step)>,
}

/// What one command did.
#[derive(Debug)]
pub struct Outcome {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Session {
    /// Starts `bash` in `dir` with exactly the variables in `env`; logs go to `dir/.doc-test`.
    pub fn start(dir: &Path, env: &[(&str, String)]) -> Self {
        let logs = dir.join(".doc-test");
        std::fs::create_dir_all(&logs).unwrap();
        let mut child = Command::new("bash")
            .args(["--noprofile", "--norc", "-s"])
            .current_dir(dir)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start bash: {e}"));
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut session = Self {
            child,
            stdin,
            lines,
            logs,
            timeout: Duration::from_secs(120),
            replacements: Vec::new(),
            count: 0,
            pending: Vec::new(),
        };
        // A failure inside a pipeline or a command substitution fails the command.
        session.send("set -o pipefail\n");
        session
    }

    fn send(&mut self, text: &str) {
        self.stdin
            .write_all(text.as_bytes())
            .and_then(|()| self.stdin.flush())
            .unwrap_or_else(|e| panic!("the bash session ended early: {e}"));
    }

    fn replaced(&self, text: &str) -> String {
        self.replacements
            .iter()
            .fold(text.to_owned(), |text, (from, to)| text.replace(from, to))
    }

    fn log(&self, index: usize, stream: &str) -> String {
        std::fs::read_to_string(self.logs.join(format!("{index}.{stream}"))).unwrap_or_default()
    }

    /// Runs one command and checks its exit status and output; the error is a report that
    /// names the line, the command, what was expected and everything it printed.
    pub fn run(&mut self, doc: &str, step: &Step) -> Result<Outcome, String> {
        self.count += 1;
        let index = self.count;
        let command = self.replaced(&step.command);
        let logs = self.logs.display().to_string();
        let amp = if step.background { " &" } else { "" };
        self.send(&format!(
            "{{\n{command}{amp}\n}} </dev/null >'{logs}/{index}.out' 2>'{logs}/{index}.err'\n\
             printf '\\n{DONE} %d\\n' \"$?\"\n"
        ));
        let deadline = Instant::now() + self.timeout;
        let code = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(code) = line.strip_prefix(DONE) {
                        break code.trim().parse::<i32>().unwrap_or(-1);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.report(doc, step, index, "did not finish in time", None));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.report(doc, step, index, "ended the shell", None));
                }
            }
        };
        let outcome = Outcome {
            stdout: self.log(index, "out"),
            stderr: self.log(index, "err"),
        };
        if step.background {
            self.pending.push((index, step.clone()));
            return Ok(outcome);
        }
        if code != step.exit {
            let why = format!("exited {code}, expected {}", step.exit);
            return Err(self.report(doc, step, index, &why, Some(&outcome)));
        }
        self.check_prints(doc, step, index, &outcome)?;
        // A background command's output is checked once the command after it is done.
        for (bg_index, bg_step) in std::mem::take(&mut self.pending) {
            let bg = Outcome {
                stdout: self.log(bg_index, "out"),
                stderr: self.log(bg_index, "err"),
            };
            self.check_prints(doc, &bg_step, bg_index, &bg)?;
        }
        Ok(outcome)
    }

    fn check_prints(
        &self,
        doc: &str,
        step: &Step,
        index: usize,
        outcome: &Outcome,
    ) -> Result<(), String> {
        let Some(expected) = &step.prints else {
            return Ok(());
        };
        let expected = self.replaced(expected);
        let printed = format!("{}\n{}", outcome.stdout, outcome.stderr);
        if matches(&printed, &expected) {
            return Ok(());
        }
        let why = format!("did not print {expected:?}");
        Err(self.report(doc, step, index, &why, Some(outcome)))
    }

    fn report(
        &self,
        doc: &str,
        step: &Step,
        index: usize,
        why: &str,
        outcome: Option<&Outcome>,
    ) -> String {
        let (stdout, stderr) = match outcome {
            Some(o) => (o.stdout.clone(), o.stderr.clone()),
            None => (self.log(index, "out"), self.log(index, "err")),
        };
        let mut report = format!(
            "{doc}:{}: `{}` {why}\n--- its standard output:\n{stdout}\n--- its standard error:\n{stderr}",
            step.line,
            self.replaced(&step.command)
        );
        for (bg_index, bg_step) in &self.pending {
            report.push_str(&format!(
                "\n--- output of the background command `{}` (line {}):\n{}{}",
                bg_step.command,
                bg_step.line,
                self.log(*bg_index, "out"),
                self.log(*bg_index, "err")
            ));
        }
        report
    }

    /// The process group id (bash's pid).
    pub fn group(&self) -> u32 {
        self.child.id()
    }
}

/// Whether any process of the group is still alive.
pub fn group_alive(group: u32) -> bool {
    Command::new("kill")
        .args(["-0", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Drop for Session {
    fn drop(&mut self) {
        // SIGTERM to the whole group (servers shut down gracefully), then SIGKILL to whatever
        // is left after 10 s.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while group_alive(self.child.id()) && Instant::now() < deadline {
            let _ = self.child.try_wait();
            std::thread::sleep(Duration::from_millis(20));
        }
        // Usually nothing is left ("no such process").
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}
