//! `license-server sign`: sign a license from a claims file, offline.
//!
//! The claims file is a JSON object with the claims of docs/license-format.md. For a person
//! writing one by hand, times may be RFC 3339 strings as well as Unix seconds, and these
//! claims may be left out: `jti` (a new UUID), `iat` (now), `nbf` (= `iat`), `exp`
//! (= `license_expires`, no grace period), `version` (3), `iss` (`licensor`). Everything is
//! then checked as a verifier would, and inconsistent claims are refused.

use crate::keyfile;
use anyhow::{Context as _, bail};
use license_core::{FORMAT_VERSION, KeyId, LicenseClaims, Timestamp, sign_license};
use serde_json::{Map, Value};
use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Claims files are small; anything larger is a mistake.
const MAX_CLAIMS_FILE_BYTES: u64 = 1024 * 1024;

/// Arguments of `sign`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The PKCS#8 PEM private key (mode 0600).
    #[arg(long, value_name = "FILE", env = "LICENSOR_SIGNING_KEY")]
    pub key: PathBuf,
    /// The claims, a JSON object; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub claims: PathBuf,
    /// Key id to put in the header, when verifiers know the key under a name other than its
    /// thumbprint.
    #[arg(long, value_name = "KID")]
    pub kid: Option<String>,
    /// The time to sign at (RFC 3339), instead of the clock: fills `iat` when it is absent.
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
}

/// Signs the claims and prints the token on standard output.
pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let mut key = keyfile::read_signing_key(&args.key)?;
    if let Some(kid) = &args.kid {
        key = key.with_key_id(KeyId::new(kid)?);
    }
    let now = match &args.now {
        Some(text) => Timestamp::parse_rfc3339(text)?,
        None => Timestamp::from_datetime(chrono::Utc::now())?,
    };
    let text = read_claims_file(&args.claims)?;
    let claims = claims_from_json(&text, now)
        .with_context(|| format!("refusing to sign {}", args.claims.display()))?;
    let token = sign_license(&claims, &key)
        .with_context(|| format!("refusing to sign {}", args.claims.display()))?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

fn read_claims_file(path: &PathBuf) -> anyhow::Result<String> {
    let mut text = String::new();
    let reader: Box<dyn std::io::Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(path)
                .with_context(|| format!("cannot open claims file {}", path.display()))?,
        )
    };
    reader
        .take(MAX_CLAIMS_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read claims file {} as text", path.display()))?;
    if text.len() as u64 > MAX_CLAIMS_FILE_BYTES {
        bail!("claims file {} is larger than 1 MiB", path.display());
    }
    Ok(text)
}

/// Parses a claims file, filling in the claims a person may leave out.
pub fn claims_from_json(text: &str, now: Timestamp) -> anyhow::Result<LicenseClaims> {
    let value: Value = serde_json::from_str(text).context("the claims are not valid JSON")?;
    let Value::Object(mut map) = value else {
        bail!("the claims must be a JSON object");
    };
    for name in ["iat", "nbf", "license_expires", "exp"] {
        if let Some(Value::String(text)) = map.get(name) {
            let at = Timestamp::parse_rfc3339(text).with_context(|| format!("claim {name}"))?;
            map.insert(name.to_owned(), at.unix().into());
        }
    }
    fill(&mut map, "jti", || uuid::Uuid::new_v4().to_string().into());
    fill(&mut map, "iat", || now.unix().into());
    let iat = map.get("iat").cloned().unwrap_or(Value::Null);
    fill(&mut map, "nbf", || iat);
    if let Some(expires) = map.get("license_expires").cloned() {
        fill(&mut map, "exp", || expires);
    }
    fill(&mut map, "version", || FORMAT_VERSION.into());
    fill(&mut map, "iss", || "licensor".into());
    fill(&mut map, "features", || Value::Object(Map::new()));
    let claims: LicenseClaims =
        serde_json::from_value(Value::Object(map)).context("the claims are malformed")?;
    claims.validate()?;
    Ok(claims)
}

fn fill(map: &mut Map<String, Value>, name: &str, value: impl FnOnce() -> Value) {
    if !map.contains_key(name) {
        map.insert(name.to_owned(), value());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::parse_rfc3339("2026-11-27T12:00:00Z").unwrap()
    }

    #[test]
    fn fills_defaults_and_parses_rfc3339_times() {
        let claims = claims_from_json(
            r#"{"sub":"admin@example.com","license_expires":"2027-11-27T00:00:00Z",
                "feature_set":"enterprise","features":{"user_limit":25}}"#,
            now(),
        )
        .unwrap();
        assert_eq!(claims.iat, now());
        assert_eq!(claims.nbf, now());
        assert_eq!(claims.exp, claims.license_expires);
        assert_eq!(claims.license_expires.date(), "2027-11-27");
        assert_eq!(claims.version, FORMAT_VERSION);
        assert_eq!(claims.iss, "licensor");
        assert_eq!(claims.user_limit(), Some(25));
    }

    #[test]
    fn refuses_inconsistent_or_malformed_claims() {
        for (text, expected) in [
            ("[]", "JSON object"),
            ("{", "not valid JSON"),
            (r#"{"sub":"admin@example.com"}"#, "license_expires"),
            (
                r#"{"sub":"not-an-email","license_expires":1900000000}"#,
                "email",
            ),
            (
                r#"{"sub":"a@example.com","nbf":"2027-01-01T00:00:00Z","license_expires":"2026-12-01T00:00:00Z"}"#,
                "starts",
            ),
            (
                r#"{"sub":"a@example.com","license_expires":1900000000,"exp":1800000000}"#,
                "grace period ends",
            ),
            (
                r#"{"sub":"a@example.com","license_expires":"soon"}"#,
                "RFC 3339",
            ),
            (
                r#"{"sub":"a@example.com","license_expires":1900000000,"features":{"user_limit":-5}}"#,
                "zero or positive",
            ),
        ] {
            let err = format!("{:#}", claims_from_json(text, now()).unwrap_err());
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
