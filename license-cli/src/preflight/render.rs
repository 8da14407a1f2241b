//! The table `preflight` prints for people (JSON and YAML are [`Report`] as it is).

use super::report::{Outcome, Report};
use std::io::{self, Write};

/// Prints the report as text: each check with its outcome, what was observed and required,
/// and what to do; then the summary.
pub fn print_table(report: &Report, out: &mut impl Write) -> io::Result<()> {
    let against = report
        .cluster
        .as_deref()
        .map(|c| format!(" against {c}"))
        .unwrap_or_default();
    writeln!(out, "PREFLIGHT: {} ({}){against}", report.page, report.spec)?;
    let mut section = "";
    for check in &report.checks {
        if check.source != section {
            section = &check.source;
            writeln!(out)?;
            writeln!(out, "{section}")?;
        }
        writeln!(
            out,
            "  {:<10} {}: {}",
            format!("[{}]", check.outcome.as_str()),
            check.id,
            check.title
        )?;
        if let Some(observed) = &check.observed {
            writeln!(out, "             observed: {observed}")?;
        }
        if let Some(required) = &check.required {
            writeln!(out, "             required: {required}")?;
        }
        if !check.message.is_empty() {
            let label = match check.outcome {
                Outcome::Fail | Outcome::Warn => "do",
                _ => "note",
            };
            writeln!(out, "             {label}: {}", check.message)?;
        }
    }
    let c = &report.counts;
    writeln!(out)?;
    writeln!(
        out,
        "RESULT: {} ({} pass, {} warn, {} fail, {} waived, {} skipped, {} info)",
        report.outcome.as_str(),
        c.pass,
        c.warn,
        c.fail,
        c.waived,
        c.skipped,
        c.info
    )
}
