//! `license-server keys generate`: a new Ed25519 signing key pair; `keys export`: the public
//! key a running licensor signs with, as PEM or JWKS, for the verifiers to trust.

use crate::keyfile;
use anyhow::Context as _;
use license_core::SigningKey;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;
use zeroize::Zeroizing;

/// Arguments of `keys generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Directory to write `<kid>.key.pem` (mode 0600) and `<kid>.pub.pem` into; created with
    /// mode 0700 when missing.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Generates a key from the operating system's random generator and writes both halves.
pub fn generate(args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut())
        .map_err(|e| anyhow::anyhow!("the operating system's random generator failed: {e}"))?;
    let key = SigningKey::from_seed(&seed);
    let written = keyfile::write_key_pair(&args.out, &key)
        .with_context(|| format!("cannot write the key pair to {}", args.out.display()))?;
    println!("generated an Ed25519 key pair");
    println!(
        "  private key: {} (mode 0600: keep it secret, never commit it)",
        written.private_key.display()
    );
    println!("  public key:  {}", written.public_key.display());
    println!("  key id:      {}", key.key_id());
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `keys export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The licensor's signing key (as given to `serve`); without it, the development key in
    /// the data directory.
    #[arg(long, value_name = "FILE", env = "LICENSOR_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
    /// The data directory `serve` keeps its development key in.
    #[arg(
        long,
        value_name = "DIR",
        env = "LICENSOR_DATA_DIR",
        default_value = "licensor-data"
    )]
    pub data_dir: PathBuf,
    /// `pem` (SPKI, one key) or `jwks` (the document `GET /api/v1/keys` serves).
    #[arg(long, value_enum, default_value_t = ExportFormat::Pem)]
    pub format: ExportFormat,
}

/// How `keys export` writes the public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// SubjectPublicKeyInfo PEM.
    Pem,
    /// A JWK set.
    Jwks,
}

/// Prints the public half of the signing key; never writes or creates a key.
pub fn export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let path = match &args.signing_key {
        Some(path) => path.clone(),
        None => keyfile::development_key_path(&args.data_dir),
    };
    if !Path::new(&path).exists() {
        anyhow::bail!(
            "no signing key at {}: start `license-server serve` once to create the development key there, or pass --signing-key FILE",
            path.display()
        );
    }
    let key = keyfile::read_signing_key(&path)?;
    let public = key.public_key();
    match args.format {
        ExportFormat::Pem => print!(
            "{}",
            public
                .to_spki_pem()
                .context("cannot write the public key as PEM")?
        ),
        ExportFormat::Jwks => {
            let set = license_core::JwkSet {
                keys: vec![public.to_jwk(key.key_id())],
            };
            println!("{}", serde_json::to_string_pretty(&set)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
