//! Where licenses come from and how they are judged: license files (or standard input) or
//! an installed store, the keyring (built-in keys plus `--trust-key`), and the entitlement
//! context.

use crate::store::Backend as _;
use crate::target::StoreArgs;
use crate::trust;
use anyhow::{Context as _, bail};
use license_core::{
    Context, DeploymentId, Entitlements, HIGH_WATER_MARK_ANNOTATION, InstalledLicense, Timestamp,
    Verifier, evaluate,
};
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Files larger than this are not license files (a token is at most 16 KiB).
const MAX_LICENSE_FILE_BYTES: u64 = 1024 * 1024;

/// The keys to trust and the time to judge at: what every command that verifies takes.
#[derive(Debug, clap::Args)]
pub struct TrustArgs {
    /// Also trust a public key: an SPKI PEM file (under key id KID or, without `KID=`, under
    /// the key's RFC 7638 thumbprint), or a JWK or JWKS JSON file such as the licensor's
    /// `/api/v1/keys` (under each key's `kid`). Repeatable. Also read, every time, from
    /// CODER_LICENSE_TRUST_KEY (paths separated by ':') and from every *.pem and *.json file
    /// in $XDG_CONFIG_HOME/coder-license/trusted-keys/ (default ~/.config/…).
    #[arg(long = "trust-key", value_name = "[KID=]FILE")]
    pub trust_keys: Vec<String>,
    /// Judge the licenses at this time (RFC 3339) instead of the system clock.
    #[arg(long, value_name = "RFC3339", value_parser = parse_timestamp)]
    pub now: Option<Timestamp>,
}

impl TrustArgs {
    /// A verifier trusting the built-in keys and `--trust-key`.
    pub fn verifier(&self) -> anyhow::Result<Verifier> {
        Ok(Verifier::new(trust::keyring(&self.trust_keys)?))
    }

    /// `--now`, or the system clock.
    pub fn now(&self) -> anyhow::Result<Timestamp> {
        match self.now {
            Some(now) => Ok(now),
            None => Timestamp::from_datetime(chrono::Utc::now())
                .context("the system clock is outside the years 1970 to 9999"),
        }
    }
}

/// The arguments of the commands that judge installed licenses (`inspect`, `verify`).
#[derive(Debug, clap::Args)]
pub struct LicenseArgs {
    /// A license file (one token); `-` reads standard input. Repeat for several licenses.
    /// Without -f, the licenses installed in the cluster's Secret (or in --file-store DIR).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub trust: TrustArgs,
    /// This deployment's id, for licenses bound to deployments (default with an installed
    /// store: the id stored there).
    #[arg(long, value_name = "ID", env = "CODER_DEPLOYMENT_ID", value_parser = parse_deployment_id)]
    pub deployment_id: Option<DeploymentId>,
    /// Active users, compared with the licenses' user limit.
    #[arg(long, value_name = "N")]
    pub users: Option<u64>,
}

/// Licenses read and judged.
#[derive(Debug)]
pub struct Judged {
    /// Each license as installed, verified or refused, in the order given.
    pub installed: Vec<InstalledLicense>,
    /// What they grant now.
    pub entitlements: Entitlements,
}

/// Reads the licenses (the `-f` files, or else the installed store), verifies each one and
/// computes the entitlements: for a store, exactly as the control plane does at startup
/// ([`license_core::evaluate`]: its deployment id, check-in receipt, revocation list and
/// time high-water mark included).
pub async fn judge(args: &LicenseArgs, store: &StoreArgs) -> anyhow::Result<Judged> {
    let verifier = args.trust.verifier()?;
    let now = args.trust.now()?;
    if !args.files.is_empty() {
        let installed = read_files(&args.files, &verifier, now)?;
        let context = Context {
            now,
            deployment_id: args.deployment_id.as_ref(),
            active_users: args.users,
            high_water_mark: None,
            max_clock_skew_secs: verifier.max_clock_skew_secs(),
        };
        let entitlements = Entitlements::compute(&installed, &context);
        return Ok(Judged {
            installed,
            entitlements,
        });
    }
    let snapshot = store.open().await?.read().await?;
    let stored = snapshot.contents.installed();
    let mark = snapshot.high_water_mark.as_deref();
    let high_water_mark = mark.and_then(|m| Timestamp::parse_rfc3339(m).ok());
    let startup = evaluate(
        &stored,
        verifier.keyring(),
        now,
        args.deployment_id.clone(),
        high_water_mark,
        args.users,
    );
    let mut entitlements = startup.entitlements;
    if let (Some(mark), None) = (mark, high_water_mark) {
        entitlements.warnings.push(format!(
            "the time high-water mark annotation {HIGH_WATER_MARK_ANNOTATION}={mark:?} is unreadable and was ignored"
        ));
    }
    // The same licenses, in the same order, verified again for their claims.
    let installed = stored
        .licenses
        .iter()
        .map(|(name, token)| InstalledLicense {
            name: name.clone(),
            verdict: verifier.verify(token, now),
        })
        .collect();
    Ok(Judged {
        installed,
        entitlements,
    })
}

fn read_files(
    files: &[PathBuf],
    verifier: &Verifier,
    now: Timestamp,
) -> anyhow::Result<Vec<InstalledLicense>> {
    if files.iter().filter(|f| f.as_os_str() == "-").count() > 1 {
        bail!("standard input (-f -) can be read only once");
    }
    let mut installed = Vec::with_capacity(files.len());
    for path in files {
        let (name, token) = read_license_file(path)?;
        installed.push(InstalledLicense {
            name,
            verdict: verifier.verify(&token, now),
        });
    }
    Ok(installed)
}

/// Reads one license file, or standard input for `-`: its name for messages, and the text.
pub fn read_license_file(path: &Path) -> anyhow::Result<(String, String)> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(MAX_LICENSE_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .context("cannot read the license from standard input")?;
        check_size(bytes.len(), "standard input")?;
        return Ok((
            "stdin".to_owned(),
            String::from_utf8_lossy(&bytes).into_owned(),
        ));
    }
    let text = trust::read_text(path, MAX_LICENSE_FILE_BYTES, "license file")?;
    Ok((path.display().to_string(), text))
}

fn check_size(len: usize, name: &str) -> anyhow::Result<()> {
    if len as u64 > MAX_LICENSE_FILE_BYTES {
        bail!("{name} is larger than {MAX_LICENSE_FILE_BYTES} bytes; it is not a license");
    }
    Ok(())
}

fn parse_timestamp(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text).map_err(|e| e.to_string())
}

fn parse_deployment_id(text: &str) -> Result<DeploymentId, String> {
    DeploymentId::parse(text).map_err(|e| e.to_string())
}
