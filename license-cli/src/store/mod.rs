//! The storage abstraction every command changes licenses through: what a store held when it
//! was read ([`Snapshot`], at a [`Version`]), why a write did not happen ([`WriteError`]), and
//! [`Backend::update`], the read-change-write loop that re-reads and retries when someone else
//! changed the store in between. The backends (the cluster's Secret in
//! [`crate::cluster::secret`], a directory in [`crate::files`]) implement [`Backend`]; this
//! module knows neither of them.

pub mod contents;

pub use contents::{Contents, CorruptData};

use license_core::DeploymentId;
use std::future::Future;

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

impl Snapshot {
    /// An empty store that does not exist yet.
    pub fn absent() -> Self {
        Self {
            contents: Contents::default(),
            version: Version::Absent,
            high_water_mark: None,
        }
    }
}

/// The version a store was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// Nothing is stored (no Secret, no directory).
    Absent,
    /// A version the backend checks on write (a Secret's `resourceVersion`, as the API server
    /// gave it).
    Tagged(String),
    /// A store without versions (a directory).
    Unversioned,
}

/// Why a write did not happen.
#[derive(Debug)]
pub enum WriteError {
    /// The store changed since it was read: read it again and redo the change.
    Conflict,
    /// Anything else, explained.
    Failed(anyhow::Error),
}

/// What [`Backend::update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The store already held what the change asked for: nothing was written.
    Unchanged,
    /// The change was written.
    Written,
    /// The change left nothing to store, so the store was deleted.
    Deleted,
}

/// A place that holds one deployment's licenses.
pub trait Backend {
    /// How messages name it: `secret NS/NAME`, `directory DIR`.
    fn describe(&self) -> String;

    /// Reads what is installed; a store that does not exist is [`Snapshot::absent`].
    fn read(&self) -> impl Future<Output = anyhow::Result<Snapshot>>;

    /// Makes the store hold `new` if it is still as `base` read it ([`WriteError::Conflict`]
    /// otherwise); an empty `new` deletes what the backend can delete.
    fn write(
        &self,
        base: &Snapshot,
        new: &Contents,
    ) -> impl Future<Output = Result<(), WriteError>>;

    /// This deployment's id when none is stored (derived from the cluster's identity, or a new
    /// random one), not yet stored.
    fn new_deployment_id(&self) -> impl Future<Output = anyhow::Result<DeploymentId>>;

    /// Applies `change` to what is installed and writes the result, re-reading and retrying
    /// when the store changed in between (at most [`MAX_ATTEMPTS`] times). `change` also
    /// returns a value of its own (what it did), taken from the attempt that was written.
    fn update<T>(
        &self,
        mut change: impl FnMut(&Contents) -> anyhow::Result<(Contents, T)>,
    ) -> impl Future<Output = anyhow::Result<(Outcome, T)>> {
        async move {
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
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use license_core::LicenseId;
    use std::cell::{Cell, RefCell};

    /// A store in memory whose first `conflicts` writes find it changed.
    #[derive(Default)]
    struct Memory {
        contents: RefCell<Contents>,
        version: Cell<u32>,
        conflicts: Cell<u32>,
        writes: Cell<u32>,
    }

    impl Backend for Memory {
        fn describe(&self) -> String {
            "memory".to_owned()
        }

        async fn read(&self) -> anyhow::Result<Snapshot> {
            Ok(Snapshot {
                contents: self.contents.borrow().clone(),
                version: Version::Tagged(self.version.get().to_string()),
                high_water_mark: None,
            })
        }

        async fn write(&self, base: &Snapshot, new: &Contents) -> Result<(), WriteError> {
            if self.conflicts.get() > 0 {
                // Someone else wrote in between.
                self.conflicts.set(self.conflicts.get() - 1);
                self.version.set(self.version.get() + 1);
                return Err(WriteError::Conflict);
            }
            assert_eq!(
                base.version,
                Version::Tagged(self.version.get().to_string())
            );
            *self.contents.borrow_mut() = new.clone();
            self.version.set(self.version.get() + 1);
            self.writes.set(self.writes.get() + 1);
            Ok(())
        }

        async fn new_deployment_id(&self) -> anyhow::Result<DeploymentId> {
            Ok(DeploymentId::parse("memory-1")?)
        }
    }

    fn add(id: u128) -> impl FnMut(&Contents) -> anyhow::Result<(Contents, ())> {
        move |current| {
            let mut new = current.clone();
            new.licenses
                .insert(LicenseId::from_u128(id), b"token".to_vec());
            Ok((new, ()))
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn update_retries_conflicts_then_writes_once() {
        let store = Memory::default();
        store.conflicts.set(MAX_ATTEMPTS - 1);
        let (outcome, ()) = block_on(store.update(add(1))).unwrap();
        assert_eq!(outcome, Outcome::Written);
        assert_eq!(store.writes.get(), 1);
        // The same change again finds nothing to do.
        let (outcome, ()) = block_on(store.update(add(1))).unwrap();
        assert_eq!(outcome, Outcome::Unchanged);
        assert_eq!(store.writes.get(), 1);
    }

    #[test]
    fn update_gives_up_after_max_attempts() {
        let store = Memory::default();
        store.conflicts.set(MAX_ATTEMPTS);
        let err = block_on(store.update(add(1))).unwrap_err();
        assert!(err.to_string().contains("changed 5 times"), "{err}");
        assert!(store.contents.borrow().is_empty());
    }

    #[test]
    fn update_that_empties_the_store_deletes_it() {
        let store = Memory::default();
        block_on(store.update(add(1))).unwrap();
        let (outcome, removed) = block_on(store.update(|current| {
            let mut new = current.clone();
            let removed = new.licenses.remove(&LicenseId::from_u128(1)).is_some();
            Ok((new, removed))
        }))
        .unwrap();
        assert_eq!((outcome, removed), (Outcome::Deleted, true));
    }
}
