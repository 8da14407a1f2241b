//! Where a deployment's licenses are installed: a Kubernetes Secret, or a directory
//! (`--file-store`). Commands change a store only through [`Store::update`], which re-reads
//! and retries when someone else changed it in between.

pub mod contents;
pub mod files;

pub use contents::{Contents, CorruptData};

use crate::cluster::secret::SecretStore;
use anyhow::Context as _;
use files::FileStore;
use license_core::DeploymentId;

/// How many times a change is tried against a store that keeps changing under it.
pub const MAX_ATTEMPTS: u32 = 5;

/// What a store held when it was read, and the version a write must still find.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The licenses and deployment id.
    pub contents: Contents,
    /// The version read.
    pub version: Version,
    /// The time high-water mark annotation of a Secret, as written (RFC 3339).
    pub high_water_mark: Option<String>,
}

/// The version a store was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// Nothing is stored (no Secret, no directory).
    Absent,
    /// The Secret's `resourceVersion`.
    Secret {
        /// As the API server gave it.
        resource_version: String,
    },
    /// A directory: no versions.
    Files,
}

/// Why a write did not happen.
#[derive(Debug)]
pub enum WriteError {
    /// The store changed since it was read: read it again and redo the change.
    Conflict,
    /// Anything else, explained.
    Failed(anyhow::Error),
}

/// What [`Store::update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The store already held what the change asked for: nothing was written.
    Unchanged,
    /// The change was written.
    Written,
    /// The change left nothing to store, so the store was deleted.
    Deleted,
}

/// A Secret or a directory.
#[derive(Debug)]
pub enum Store {
    /// Licenses in a Kubernetes Secret.
    Secret(Box<SecretStore>),
    /// Licenses in a directory.
    Files(FileStore),
}

impl Store {
    /// `secret NS/NAME` or `directory DIR`.
    pub fn describe(&self) -> String {
        match self {
            Store::Secret(s) => s.describe(),
            Store::Files(f) => f.describe(),
        }
    }

    /// Reads what is installed.
    pub async fn read(&self) -> anyhow::Result<Snapshot> {
        match self {
            Store::Secret(s) => s.read().await,
            Store::Files(f) => f.read(),
        }
    }

    async fn write(&self, base: &Snapshot, new: &Contents) -> Result<(), WriteError> {
        match self {
            Store::Secret(s) => s.write(base, new).await,
            Store::Files(f) => f.write(base, new),
        }
    }

    /// Applies `change` to what is installed and writes the result, re-reading and retrying
    /// when the store changed in between (at most [`MAX_ATTEMPTS`] times). `change` also
    /// returns a value of its own (what it did), taken from the attempt that was written.
    pub async fn update<T>(
        &self,
        mut change: impl FnMut(&Contents) -> anyhow::Result<(Contents, T)>,
    ) -> anyhow::Result<(Outcome, T)> {
        for _ in 0..MAX_ATTEMPTS {
            let base = self.read().await?;
            let (new, note) = change(&base.contents)?;
            if new == base.contents {
                return Ok((Outcome::Unchanged, note));
            }
            match self.write(&base, &new).await {
                Ok(()) if new.is_empty() => return Ok((Outcome::Deleted, note)),
                Ok(()) => return Ok((Outcome::Written, note)),
                Err(WriteError::Conflict) => continue,
                Err(WriteError::Failed(error)) => return Err(error),
            }
        }
        anyhow::bail!(
            "{} changed {MAX_ATTEMPTS} times while coder-license was writing it (another client keeps changing it); nothing was changed by this command; retry",
            self.describe()
        )
    }

    /// This deployment's id when none is stored: derived from the cluster's identity, or a
    /// new random UUID for a directory (which is stable once stored).
    pub async fn new_deployment_id(&self) -> anyhow::Result<DeploymentId> {
        match self {
            Store::Secret(s) => {
                let uid = s.kube_system_uid().await?;
                crate::cluster::derive_deployment_id(&uid, s.namespace())
                    .context("the cluster's identity does not make a deployment id")
            }
            Store::Files(_) => DeploymentId::parse(&uuid::Uuid::new_v4().to_string())
                .context("a UUID is not a deployment id"),
        }
    }
}
