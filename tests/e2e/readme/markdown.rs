//! Reading the runnable shell blocks of a markdown page and the expectations written beside them.
//!
//! Every ```` ```sh ```` (or `bash`, `shell`) fence must follow an annotation line:
//!
//! - `<!-- doc-test: run -->`: each command runs, in order, in one shell session;
//! - `<!-- doc-test: setup -->`: the test does this itself (builds the binaries, sets `PATH`);
//! - `<!-- doc-test: skip REASON -->`: shown, not run (a cluster, a real mail server, …).
//!
//! A command is one line, or several joined by a trailing `\`. It must exit 0, unless its
//! trailing comment begins with `exit N` (or has `; exit N` after some prose). A trailing
//! comment containing `prints: TEXT` also requires TEXT in the command's standard output or
//! error; `…` in TEXT stands for anything. A command ending in `&` runs in the background; its
//! `prints:` is checked after the next command. Any other comment is prose.

/// What a block's annotation asks of the test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Run every command.
    Run,
    /// The test does what the block does itself.
    Setup,
    /// Not run, for the reason given.
    Skip(String),
}

/// One fenced shell block.
#[derive(Debug, Clone)]
pub struct Block {
    /// Line of the opening fence (1-based).
    pub line: usize,
    /// The annotation.
    pub mode: Mode,
    /// The commands, in order.
    pub steps: Vec<Step>,
}

/// One command and what it must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Line of the command's first line (1-based).
    pub line: usize,
    /// The command as written (continuation lines kept), without its comment, and without the
    /// trailing `&` of a background command.
    pub command: String,
    /// Runs in the background (`… &`).
    pub background: bool,
    /// The expected exit status.
    pub exit: i32,
    /// Text the output must contain (`…` = anything), if any.
    pub prints: Option<String>,
}

const ANNOTATION: &str = "<!-- doc-test:";

/// The shell blocks of `text`, in order; an error names the line of a fence without an
/// annotation, an unknown annotation or an unclosed fence.
pub fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(lang) = lines[i].trim_start().strip_prefix("```") else {
            i += 1;
            continue;
        };
        let fence_line = i + 1;
        let end = (i + 1..lines.len())
            .find(|&j| lines[j].trim() == "```")
            .ok_or_else(|| format!("line {fence_line}: the fence is never closed"))?;
        if matches!(lang.trim(), "sh" | "bash" | "shell") {
            let mode = annotation(&lines[..i])
                .ok_or_else(|| {
                    format!(
                        "line {fence_line}: a shell block without an annotation: put \
                         `<!-- doc-test: run -->`, `<!-- doc-test: setup -->` or \
                         `<!-- doc-test: skip REASON -->` on the line before it"
                    )
                })?
                .map_err(|e| format!("line {}: {e}", fence_line - 1))?;
            let steps = steps(&lines[i + 1..end], i + 2)?;
            blocks.push(Block {
                line: fence_line,
                mode,
                steps,
            });
        }
        i = end + 1;
    }
    Ok(blocks)
}

/// The annotation on the last non-blank line before a fence.
fn annotation(before: &[&str]) -> Option<Result<Mode, String>> {
    let line = before.iter().rev().find(|l| !l.trim().is_empty())?.trim();
    let inner = line.strip_prefix(ANNOTATION)?.strip_suffix("-->")?.trim();
    Some(match inner.split_once(' ') {
        None if inner == "run" => Ok(Mode::Run),
        None if inner == "setup" => Ok(Mode::Setup),
        Some(("skip", reason)) if !reason.trim().is_empty() => {
            Ok(Mode::Skip(reason.trim().to_owned()))
        }
        _ => Err(format!(
            "unknown annotation {line:?}: use run, setup or skip REASON"
        )),
    })
}

fn steps(lines: &[&str], first_line: usize) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (offset, raw) in lines.iter().enumerate() {
        let number = first_line + offset;
        let (code, comment) = split_comment(raw);
        let code = code.trim_end();
        let (start, mut command) = match pending.take() {
            Some((start, text)) => (start, text + "\n" + code),
            None if code.trim().is_empty() => continue,
            None => (number, code.to_owned()),
        };
        if command.ends_with('\\') {
            if comment.is_some() {
                return Err(format!(
                    "line {number}: a comment after a line continuation"
                ));
            }
            pending = Some((start, command));
            continue;
        }
        let (exit, prints) =
            expectations(comment.unwrap_or("")).map_err(|e| format!("line {number}: {e}"))?;
        let trimmed = command.trim_end();
        let background = trimmed.ends_with('&') && !trimmed.ends_with("&&");
        if background {
            command = trimmed.trim_end_matches('&').trim_end().to_owned();
        }
        steps.push(Step {
            line: start,
            command,
            background,
            exit,
            prints,
        });
    }
    match pending {
        Some((start, _)) => Err(format!(
            "line {start}: the command's last line ends in a continuation"
        )),
        None => Ok(steps),
    }
}

/// Splits a line at its comment: a `#` outside quotes at the start or after whitespace.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (index, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && previous.is_whitespace() => {
                return (&line[..index], Some(line[index + 1..].trim()));
            }
            None => {}
        }
        previous = c;
    }
    (line, None)
}

/// `exit N` at the start of a comment or after a `; `, and `prints: TEXT` anywhere in it.
fn expectations(comment: &str) -> Result<(i32, Option<String>), String> {
    let mut exit = 0;
    let clause = comment
        .strip_prefix("exit ")
        .or_else(|| comment.split_once("; exit ").map(|(_, rest)| rest));
    if let Some(rest) = clause {
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        exit = digits
            .parse()
            .map_err(|_| format!("`exit` without a number in the comment {comment:?}"))?;
    }
    let prints = comment
        .split_once("prints: ")
        .map(|(_, text)| text.trim().to_owned())
        .filter(|text| !text.is_empty());
    Ok((exit, prints))
}

/// Whether `output` contains `pattern`, where `…` in the pattern stands for anything (the
/// pieces must appear in order).
pub fn matches(output: &str, pattern: &str) -> bool {
    let mut rest = output;
    for piece in pattern.split('…').map(str::trim).filter(|p| !p.is_empty()) {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "# A page\n\n\
        <!-- doc-test: setup -->\n```sh\ncargo build --release\n```\n\n\
        Some prose.\n\n<!-- doc-test: run -->\n\n```sh\n\
        # a comment line\n\
        server serve &                 # starts it; prints: listening on …:8080\n\
        tool --flag \"#not-a-comment\" \\\n  --other 'a # b'   # exit 1, prints: refused\n\
        X=$(tool -o name)              # the id\n\
        a && b\n```\n\n\
        ```json\n{\"not\": \"shell\"}\n```\n\n\
        <!-- doc-test: skip needs a cluster -->\n```bash\nkubectl get pods\n```\n";

    #[test]
    fn blocks_steps_and_expectations_are_read_from_the_annotations_and_comments() {
        let blocks = blocks(PAGE).unwrap();
        let modes: Vec<&Mode> = blocks.iter().map(|b| &b.mode).collect();
        assert_eq!(
            modes,
            [
                &Mode::Setup,
                &Mode::Run,
                &Mode::Skip("needs a cluster".to_owned())
            ]
        );
        let run = &blocks[1];
        assert_eq!(run.line, 12);
        assert_eq!(
            run.steps,
            vec![
                Step {
                    line: 14,
                    command: "server serve".to_owned(),
                    background: true,
                    exit: 0,
                    prints: Some("listening on …:8080".to_owned()),
                },
                Step {
                    line: 15,
                    command: "tool --flag \"#not-a-comment\" \\\n  --other 'a # b'".to_owned(),
                    background: false,
                    exit: 1,
                    prints: Some("refused".to_owned()),
                },
                Step {
                    line: 17,
                    command: "X=$(tool -o name)".to_owned(),
                    background: false,
                    exit: 0,
                    prints: None,
                },
                Step {
                    line: 18,
                    command: "a && b".to_owned(),
                    background: false,
                    exit: 0,
                    prints: None,
                },
            ]
        );
    }

    #[test]
    fn a_shell_block_without_an_annotation_is_an_error_that_names_its_line() {
        let err = blocks("text\n\n```sh\necho hi\n```\n").unwrap_err();
        assert!(
            err.starts_with("line 3: a shell block without an annotation"),
            "{err}"
        );
        let err = blocks("<!-- doc-test: maybe -->\n```sh\necho hi\n```\n").unwrap_err();
        assert!(err.contains("unknown annotation"), "{err}");
        let err = blocks("<!-- doc-test: skip -->\n```sh\necho hi\n```\n").unwrap_err();
        assert!(err.contains("unknown annotation"), "{err}");
        let err = blocks("<!-- doc-test: run -->\n```sh\necho \\\n").unwrap_err();
        assert!(err.contains("never closed"), "{err}");
        let err = blocks("<!-- doc-test: run -->\n```sh\necho \\\n```\n").unwrap_err();
        assert!(err.contains("ends in a continuation"), "{err}");
        let err = blocks("<!-- doc-test: run -->\n```sh\nfalse   # exit one\n```\n").unwrap_err();
        assert!(err.contains("line 3: `exit` without a number"), "{err}");
    }

    #[test]
    fn an_exit_status_may_follow_prose_after_a_semicolon() {
        assert_eq!(
            expectations("the gate; exit 2, prints: no license").unwrap(),
            (2, Some("no license".to_owned()))
        );
        assert_eq!(expectations("exits 2 when unset").unwrap(), (0, None));
        assert_eq!(expectations("exit 1").unwrap(), (1, None));
    }

    #[test]
    fn an_ellipsis_in_an_expected_text_matches_anything_in_between() {
        assert!(matches(
            "invalid: license 1234: was revoked",
            "license … revoked"
        ));
        assert!(matches("anything", ""));
        assert!(!matches("revoked … license", "license … revoked"));
        assert!(!matches("valid", "invalid"));
    }
}
