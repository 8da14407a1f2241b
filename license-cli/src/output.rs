//! Every way `coder-license` prints licenses and entitlements: a table for people, JSON or
//! YAML for scripts.

use crate::source::Judged;
use license_core::{
    Entitlement, Entitlements, KeyId, KeySource, LicenseClaims, LicenseReport, VerifiedLicense,
};
use serde::Serialize;
use std::io::{self, Write};

/// The output format (`-o`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Table,
    /// One JSON document for scripts.
    Json,
    /// One YAML document.
    Yaml,
}

/// Writes `value` as one JSON or YAML document (the table format of a document is JSON's).
pub fn print_document<T: Serialize>(
    value: &T,
    format: Format,
    out: &mut impl Write,
) -> io::Result<()> {
    match format {
        Format::Yaml => {
            let text = serde_saphyr::to_string(value).map_err(io::Error::other)?;
            out.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                writeln!(out)?;
            }
            Ok(())
        }
        Format::Json | Format::Table => {
            serde_json::to_writer_pretty(&mut *out, value)?;
            writeln!(out)
        }
    }
}

#[derive(Serialize)]
struct Report<'a> {
    licenses: Vec<LicenseView<'a>>,
    entitlements: &'a Entitlements,
}

#[derive(Serialize)]
struct LicenseView<'a> {
    #[serde(flatten)]
    report: &'a LicenseReport,
    key_id: Option<&'a KeyId>,
    key_source: Option<KeySource>,
    claims: Option<&'a LicenseClaims>,
}

/// Prints the judged licenses and the entitlements in `format`.
pub fn print_report(judged: &Judged, format: Format, out: &mut impl Write) -> io::Result<()> {
    match format {
        Format::Json | Format::Yaml => {
            let licenses = judged
                .entitlements
                .licenses
                .iter()
                .zip(&judged.installed)
                .map(|(report, installed)| {
                    let verified = installed.verdict.as_ref().ok();
                    LicenseView {
                        report,
                        key_id: verified.map(VerifiedLicense::key_id),
                        key_source: verified.map(VerifiedLicense::key_source),
                        claims: verified.map(VerifiedLicense::claims),
                    }
                })
                .collect();
            let report = Report {
                licenses,
                entitlements: &judged.entitlements,
            };
            print_document(&report, format, out)
        }
        Format::Table => print_table(judged, out),
    }
}

fn print_table(judged: &Judged, out: &mut impl Write) -> io::Result<()> {
    for (report, installed) in judged.entitlements.licenses.iter().zip(&judged.installed) {
        match &installed.verdict {
            Ok(license) => print_license(report, license, out)?,
            Err(error) => {
                writeln!(out, "LICENSE {}", report.name)?;
                writeln!(out, "  state:        invalid")?;
                writeln!(out, "  reason:       {error}")?;
            }
        }
        writeln!(out)?;
    }
    print_entitlements(&judged.entitlements, out)
}

fn print_license(
    report: &LicenseReport,
    license: &VerifiedLicense,
    out: &mut impl Write,
) -> io::Result<()> {
    let c = license.claims();
    writeln!(out, "LICENSE {} ({})", license.id(), report.name)?;
    let state = serde_json::to_value(report.state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    writeln!(out, "  state:        {state}")?;
    if let Some(reason) = &report.reason {
        writeln!(out, "  note:         {reason}")?;
    }
    writeln!(out, "  licensee:     {}", c.sub)?;
    if !c.account_id.is_empty() || !c.account_type.is_empty() {
        writeln!(out, "  account:      {} ({})", c.account_id, c.account_type)?;
    }
    let grace = if c.exp > c.license_expires {
        format!(", grace until {}", c.exp.date())
    } else {
        String::new()
    };
    writeln!(
        out,
        "  term:         {} to {}{grace}",
        c.nbf.date(),
        c.license_expires.date()
    )?;
    writeln!(out, "  issued:       {} by {}", c.iat, c.iss)?;
    let mut kind = vec![if c.trial { "trial" } else { "paid" }];
    if c.evaluation {
        kind.push("evaluation program");
    }
    writeln!(out, "  kind:         {}", kind.join(", "))?;
    let set = if c.feature_set.as_str().is_empty() {
        "none"
    } else {
        c.feature_set.as_str()
    };
    writeln!(out, "  feature set:  {set}")?;
    let features: Vec<String> = c.features.iter().map(|(k, v)| format!("{k}={v}")).collect();
    writeln!(
        out,
        "  features:     {}",
        if features.is_empty() {
            "none".into()
        } else {
            features.join(", ")
        }
    )?;
    let deployments: Vec<&str> = c.deployment_ids.iter().map(|d| d.as_str()).collect();
    writeln!(
        out,
        "  deployments:  {}",
        if deployments.is_empty() {
            "any".into()
        } else {
            deployments.join(", ")
        }
    )?;
    if let Some(policy) = c.checkin {
        writeln!(
            out,
            "  check-in:     every {}s, at most {}s offline",
            policy.interval_secs, policy.max_offline_secs
        )?;
    }
    if let Some(version) = &c.min_product_version {
        writeln!(out, "  min version:  {version}")?;
    }
    if c.sequence > 0 {
        writeln!(out, "  sequence:     {}", c.sequence)?;
    }
    writeln!(
        out,
        "  signed by:    {} ({})",
        license.key_id(),
        key_source_text(license.key_source())
    )
}

/// How the table names where a key came from.
pub fn key_source_text(source: KeySource) -> &'static str {
    match source {
        KeySource::BuiltIn => "built-in key",
        KeySource::Added => {
            "NOT a built-in key: trusted with --trust-key, CODER_LICENSE_TRUST_KEY or the config directory"
        }
    }
}

fn print_entitlements(e: &Entitlements, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "ENTITLEMENTS at {}", e.evaluated_at)?;
    writeln!(
        out,
        "  licensed: {}   trial: {}   evaluation: {}",
        yes_no(e.has_license),
        yes_no(e.trial),
        yes_no(e.evaluation)
    )?;
    writeln!(
        out,
        "  {:<32} {:<14} {:>8} {:>8}",
        "FEATURE", "ENTITLEMENT", "LIMIT", "ACTUAL"
    )?;
    for (name, feature) in &e.features {
        let entitlement = match feature.entitlement {
            Entitlement::Entitled => "entitled",
            Entitlement::GracePeriod => "grace_period",
            Entitlement::NotEntitled => "not_entitled",
        };
        let number = |n: Option<i64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
        writeln!(
            out,
            "  {name:<32} {entitlement:<14} {:>8} {:>8}",
            number(feature.limit),
            number(feature.actual)
        )?;
    }
    for (title, lines) in [("WARNINGS", &e.warnings), ("ERRORS", &e.errors)] {
        if !lines.is_empty() {
            writeln!(out, "{title}")?;
            for line in lines {
                writeln!(out, "  - {line}")?;
            }
        }
    }
    Ok(())
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}
