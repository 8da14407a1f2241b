//! Licenses in a directory, for deployments on plain machines (`--file-store DIR`): one file
//! per entry, files 0644 and the directory 0755. The tool often runs as root on a directory
//! others may write to, so every access goes through [`crate::safe_fs`]: the directory is
//! opened once and must not be a symbolic link, entries are read and written without
//! following links, each write is a new temporary file under a random name (fsync, `fchmod`,
//! rename, fsync of the directory).

use crate::safe_fs::Dir;
use crate::store::{Backend, Contents, Snapshot, Version, WriteError};
use anyhow::Context as _;
use license_core::DeploymentId;
use std::path::PathBuf;

/// Entries larger than this are not licenses (a token is at most 16 KiB).
const MAX_ENTRY_BYTES: u64 = 1024 * 1024;
/// The mode of every entry: licenses are not secret, and the control plane reads them.
const ENTRY_MODE: u32 = 0o644;
/// The mode of a directory the tool creates.
const DIR_MODE: u32 = 0o755;

/// A directory of license files.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
}

impl FileStore {
    /// The store in `dir` (created on the first write).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The path of an entry, for messages and dry runs.
    pub fn path_of(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    fn read_entries(&self) -> anyhow::Result<Snapshot> {
        let dir = match Dir::open(&self.dir) {
            Ok(dir) => dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Snapshot::absent()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", self.describe())),
        };
        let listing = std::fs::read_dir(&self.dir)
            .with_context(|| format!("cannot read {}", self.describe()))?;
        let mut entries = Vec::new();
        for entry in listing {
            let entry = entry.with_context(|| format!("cannot read {}", self.describe()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // Hidden files (our own temporary files among them) are not entries.
            if name.starts_with('.') {
                continue;
            }
            // Gone since the listing: not an entry any more.
            let Some(bytes) = dir.read(&name, MAX_ENTRY_BYTES)? else {
                continue;
            };
            if bytes.len() as u64 > MAX_ENTRY_BYTES {
                anyhow::bail!(
                    "{} is larger than {MAX_ENTRY_BYTES} bytes: it is not a license; move it out of {}",
                    self.dir.join(&name).display(),
                    self.dir.display()
                );
            }
            entries.push((name, bytes));
        }
        Ok(Snapshot {
            contents: Contents::from_entries(&self.describe(), entries)?,
            version: Version::Unversioned,
            high_water_mark: None,
        })
    }

    /// Writes the entries of `new` that differ from `base`, and deletes those `new` lacks.
    fn write_entries(&self, base: &Snapshot, new: &Contents) -> anyhow::Result<()> {
        let old = base.contents.entries();
        let new = new.entries();
        let dir = if new.is_empty() {
            match Dir::open(&self.dir) {
                Ok(dir) => dir,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        } else {
            Dir::create(&self.dir, DIR_MODE)?
        };
        for (key, value) in &new {
            if old.get(key) != Some(value) {
                dir.write_atomically(key, value, ENTRY_MODE)?;
            }
        }
        for key in old.keys().filter(|k| !new.contains_key(*k)) {
            dir.remove(key)?;
        }
        dir.sync()?;
        Ok(())
    }
}

impl Backend for FileStore {
    /// `directory DIR`.
    fn describe(&self) -> String {
        format!("directory {}", self.dir.display())
    }

    /// Reads every entry; a missing directory is an empty store.
    async fn read(&self) -> anyhow::Result<Snapshot> {
        self.read_entries()
    }

    /// One writer at a time: the directory has no versions to detect a concurrent change.
    /// The directory itself stays when `new` is empty (it may be configured elsewhere).
    async fn write(&self, base: &Snapshot, new: &Contents) -> Result<(), WriteError> {
        self.write_entries(base, new).map_err(WriteError::Failed)
    }

    /// A new random UUID (stable once stored).
    async fn new_deployment_id(&self) -> anyhow::Result<DeploymentId> {
        DeploymentId::parse(&uuid::Uuid::new_v4().to_string())
            .context("a UUID is not a deployment id")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use license_core::LicenseId;
    use std::os::unix::fs::PermissionsExt as _;
    use std::path::Path;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn with_license(n: u128) -> impl FnMut(&Contents) -> anyhow::Result<(Contents, ())> {
        move |current| {
            let mut new = current.clone();
            new.licenses
                .insert(LicenseId::from_u128(n), b"a.b.c".to_vec());
            new.deployment_id = Some(DeploymentId::parse("dep-1").unwrap());
            Ok((new, ()))
        }
    }

    /// A victim file only root may read, as a root run would find it.
    fn victim(dir: &Path) -> PathBuf {
        let victim = dir.join("shadow");
        std::fs::write(&victim, "root:secret").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
        victim
    }

    fn unchanged(victim: &Path) {
        assert_eq!(std::fs::read_to_string(victim).unwrap(), "root:secret");
        let mode = std::fs::metadata(victim).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the victim was chmodded");
    }

    #[test]
    fn a_planted_temporary_file_link_is_never_written_through() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = victim(tmp.path());
        let dir = tmp.path().join("store");
        std::fs::create_dir(&dir).unwrap();
        // Every temporary name a predictable writer could use for these entries.
        let id = LicenseId::from_u128(1);
        for key in [
            license_core::license_key(id),
            license_core::DEPLOYMENT_ID_KEY.to_owned(),
        ] {
            let planted = dir.join(format!(".{key}.{}.tmp", std::process::id()));
            std::os::unix::fs::symlink(&victim, planted).unwrap();
        }
        let store = FileStore::new(dir.clone());
        block_on(store.update(with_license(1))).unwrap();
        unchanged(&victim);
        let snapshot = block_on(store.read()).unwrap();
        assert_eq!(snapshot.contents.licenses[&id], b"a.b.c");
        let mode = std::fs::metadata(dir.join(license_core::license_key(id)))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn a_store_directory_that_is_a_link_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let link = tmp.path().join("store");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let store = FileStore::new(link);
        let err = block_on(store.update(with_license(1))).unwrap_err();
        assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    }

    #[test]
    fn an_entry_that_is_a_link_is_not_read_through() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = victim(tmp.path());
        let dir = tmp.path().join("store");
        std::fs::create_dir(&dir).unwrap();
        std::os::unix::fs::symlink(&victim, dir.join(license_core::DEPLOYMENT_ID_KEY)).unwrap();
        let err = block_on(FileStore::new(dir).read()).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("symbolic link"), "{text}");
        assert!(
            !text.contains("secret"),
            "the victim's content leaked: {text}"
        );
        unchanged(&victim);
    }
}
