//! Reading and writing key files, with the permissions a private key needs.
//!
//! A private key file must be readable by its owner only (as ssh insists): a key that others
//! could have read is refused, with the command that fixes it.

use anyhow::{Context as _, bail};
use license_core::{PublicKey, SigningKey};
use std::fs;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Key files are small; anything larger is not a key.
const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;

/// The files a generated key pair was written to.
#[derive(Debug)]
pub struct WrittenKeyPair {
    /// `<kid>.key.pem`, mode 0600.
    pub private_key: PathBuf,
    /// `<kid>.pub.pem`.
    pub public_key: PathBuf,
}

/// Where `serve` keeps the development key it generates when no `--signing-key` is given.
pub fn development_key_path(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("development-signing.key.pem")
}

/// Reads a PKCS#8 PEM Ed25519 private key, refusing a file that others may read.
pub fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let file = fs::File::open(path)
        .with_context(|| format!("cannot open private key {}", path.display()))?;
    let metadata = file
        .metadata()
        .with_context(|| format!("cannot stat {}", path.display()))?;
    check_owner_only(path, &metadata)?;
    let pem = read_limited(file, path)?;
    SigningKey::from_pkcs8_pem(&pem).with_context(|| format!("cannot use {}", path.display()))
}

/// Reads an SPKI PEM Ed25519 public key.
pub fn read_public_key(path: &Path) -> anyhow::Result<PublicKey> {
    let file = fs::File::open(path)
        .with_context(|| format!("cannot open public key {}", path.display()))?;
    let pem = read_limited(file, path)?;
    PublicKey::from_spki_pem(&pem).with_context(|| format!("cannot use {}", path.display()))
}

/// Writes `key` to `dir` as `<kid>.key.pem` (mode 0600, never overwriting) and
/// `<kid>.pub.pem`. Creates `dir` with mode 0700 when missing.
pub fn write_key_pair(dir: &Path, key: &SigningKey) -> anyhow::Result<WrittenKeyPair> {
    create_private_dir(dir)?;
    let kid = key.key_id().as_str();
    let private_key = dir.join(format!("{kid}.key.pem"));
    let public_key = dir.join(format!("{kid}.pub.pem"));
    write_private_key(&private_key, key)?;
    write_new(
        &public_key,
        key.public_key().to_spki_pem()?.as_bytes(),
        0o644,
    )?;
    Ok(WrittenKeyPair {
        private_key,
        public_key,
    })
}

/// Writes `key` to `path` as PKCS#8 PEM with mode 0600, never overwriting.
pub fn write_private_key(path: &Path, key: &SigningKey) -> anyhow::Result<()> {
    write_new(path, key.to_pkcs8_pem()?.as_bytes(), 0o600)
}

fn read_limited(file: fs::File, path: &Path) -> anyhow::Result<Zeroizing<String>> {
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_KEY_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read {} as text", path.display()))?;
    if text.len() as u64 > MAX_KEY_FILE_BYTES {
        bail!(
            "{} is larger than {MAX_KEY_FILE_BYTES} bytes; it is not a key file",
            path.display()
        );
    }
    Ok(text)
}

#[cfg(unix)]
fn check_owner_only(path: &Path, metadata: &fs::Metadata) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "private key {} has mode {mode:04o}, so other users can read it; make it readable by its owner only: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path, _metadata: &fs::Metadata) -> anyhow::Result<()> {
    Ok(())
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).with_context(|| {
        if path.exists() {
            format!(
                "{} already exists; refusing to overwrite a key",
                path.display()
            )
        } else {
            format!("cannot create {}", path.display())
        }
    })?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_owner_only_private_key_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::from_seed(&[3; 32]);
        let written = write_key_pair(&dir.path().join("keys"), &key).unwrap();
        let back = read_signing_key(&written.private_key).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(
            read_public_key(&written.public_key).unwrap(),
            key.public_key()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&written.private_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = write_key_pair(&dir.path().join("keys"), &key).unwrap_err();
        assert!(
            format!("{again:#}").contains("refusing to overwrite"),
            "{again:#}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_private_keys_others_can_read() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let written = write_key_pair(dir.path(), &SigningKey::from_seed(&[4; 32])).unwrap();
        for mode in [0o644, 0o640, 0o604] {
            fs::set_permissions(&written.private_key, fs::Permissions::from_mode(mode)).unwrap();
            let err = format!("{:#}", read_signing_key(&written.private_key).unwrap_err());
            assert!(err.contains("chmod 600"), "{mode:o}: {err}");
        }
    }

    #[test]
    fn refuses_oversized_and_non_key_files() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.pem");
        fs::write(&big, vec![b'a'; 70 * 1024]).unwrap();
        let err = format!("{:#}", read_public_key(&big).unwrap_err());
        assert!(err.contains("not a key file"), "{err}");
        let text = dir.path().join("text.pem");
        fs::write(&text, "hello").unwrap();
        let err = format!("{:#}", read_public_key(&text).unwrap_err());
        assert!(err.contains("SPKI PEM"), "{err}");
    }
}
