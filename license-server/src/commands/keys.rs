//! `license-server keys generate`: a new Ed25519 signing key pair.

use crate::keyfile;
use anyhow::Context as _;
use license_core::SigningKey;
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
