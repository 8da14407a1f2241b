//! Licenses in a directory, for deployments on plain machines (`--file-store DIR`): one file
//! per entry, written atomically (a temporary file, fsync, rename, fsync of the directory),
//! files 0644 and the directory 0755.

use crate::store::{Backend, Contents, Snapshot, Version, WriteError};
use anyhow::Context as _;
use license_core::DeploymentId;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// Entries larger than this are not licenses (a token is at most 16 KiB).
const MAX_ENTRY_BYTES: u64 = 1024 * 1024;

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
        let listing = match std::fs::read_dir(&self.dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Snapshot::absent());
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.describe()));
            }
        };
        let mut entries = Vec::new();
        for entry in listing {
            let entry = entry.with_context(|| format!("cannot read {}", self.describe()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            let mut bytes = Vec::new();
            std::fs::File::open(&path)
                .and_then(|f| f.take(MAX_ENTRY_BYTES + 1).read_to_end(&mut bytes))
                .with_context(|| format!("cannot read {}", path.display()))?;
            if bytes.len() as u64 > MAX_ENTRY_BYTES {
                anyhow::bail!(
                    "{} is larger than {MAX_ENTRY_BYTES} bytes: it is not a license; move it out of {}",
                    path.display(),
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
        if !new.is_empty() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&self.dir)
                .with_context(|| format!("cannot create {}", self.describe()))?;
        }
        for (key, value) in &new {
            if old.get(key) != Some(value) {
                write_atomically(&self.dir, key, value)?;
            }
        }
        for key in old.keys().filter(|k| !new.contains_key(*k)) {
            let path = self.dir.join(key);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot remove {}", path.display()));
                }
                _ => {}
            }
        }
        sync_dir(&self.dir)
    }
}

impl Backend for FileStore {
    /// `directory DIR`.
    fn describe(&self) -> String {
        format!("directory {}", self.dir.display())
    }

    /// Reads every entry; a missing directory is an empty store. Hidden files (our own
    /// temporary files among them) are not entries.
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

fn write_atomically(dir: &Path, key: &str, value: &[u8]) -> anyhow::Result<()> {
    let path = dir.join(key);
    let temp = dir.join(format!(".{key}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&temp)?;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        file.write_all(value)?;
        file.sync_all()?;
        std::fs::rename(&temp, &path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::File::open(dir) {
        Ok(d) => d
            .sync_all()
            .with_context(|| format!("cannot sync {}", dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot open {}", dir.display())),
    }
}
