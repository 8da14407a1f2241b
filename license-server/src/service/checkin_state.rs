//! The check-in side of a `Licensor` as data: the batch settings, a validated check-in and
//! what was stored for it, the batcher's queue and the license cache. No rules here (they are
//! in `checkin_batch`); this module uses nothing of the service that uses it back.

use super::error::Result;
use crate::store::licenses::LicenseRecord;
use license_core::{DeploymentId, LicenseId, ReceiptLicense, Timestamp};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// A license that supersedes one the deployment reported, pushed to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renewal {
    /// The new license.
    pub license_id: LicenseId,
    /// The reported license it supersedes (directly or through reissues in between).
    pub supersedes: LicenseId,
    /// Its signed token, to verify and install.
    pub token: String,
    /// When its term ends.
    pub expires_at: Timestamp,
}

/// How check-ins are grouped into transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// The most check-ins in one transaction; 1 writes each on its own (no batching).
    pub max: usize,
    /// How long a batch waits for more check-ins after its first, at most.
    pub wait: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            max: DEFAULT_BATCH_MAX,
            wait: Duration::from_millis(DEFAULT_BATCH_WAIT_MS),
        }
    }
}

/// The default of `--checkin-batch-max`.
pub const DEFAULT_BATCH_MAX: usize = 256;
/// The default of `--checkin-batch-wait-ms`.
pub const DEFAULT_BATCH_WAIT_MS: u64 = 2;
/// Cached license records beyond this many empty the cache.
pub(super) const MAX_CACHED: usize = 100_000;

/// A check-in, validated, for the batcher.
#[derive(Debug, Clone)]
pub struct CheckinInput {
    /// The deployment.
    pub deployment: DeploymentId,
    /// The reported licenses, without repeats.
    pub ids: Vec<LicenseId>,
    /// Active users reported.
    pub active_users: u64,
    /// Product version reported (trimmed).
    pub product_version: String,
    /// The client's address.
    pub client_address: Option<String>,
}

/// What the batcher concluded and stored for one check-in.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The licensor's time of the check-in.
    pub now: Timestamp,
    /// What the licensor knows of each reported license.
    pub reported: Vec<ReceiptLicense>,
    /// Licenses that supersede reported ones, for the deployment to install.
    pub renewals: Vec<Renewal>,
}

/// A cached license: its record and the newest license of its reissue chain.
#[derive(Debug)]
pub(super) struct CachedLicense {
    pub(super) record: LicenseRecord,
    pub(super) newest: Option<LicenseRecord>,
}

#[derive(Debug, Default)]
pub(super) struct LicenseCache {
    /// The license generation the entries were read under.
    pub(super) generation: Option<i64>,
    pub(super) entries: HashMap<LicenseId, Arc<CachedLicense>>,
    /// Licenses known to have no pending trial to confirm.
    pub(super) no_pending_trial: HashSet<LicenseId>,
}

pub(super) struct Job {
    pub(super) input: CheckinInput,
    pub(super) reply: oneshot::Sender<Result<Recorded>>,
}

/// The check-in side of a [`Licensor`]: the batch settings, the batcher (started on the
/// first check-in) and the license cache.
pub struct CheckinState {
    pub(super) config: BatchConfig,
    pub(super) cache: Mutex<LicenseCache>,
    pub(super) batcher: OnceLock<mpsc::Sender<Job>>,
}

impl std::fmt::Debug for CheckinState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckinState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CheckinState {
    pub(super) fn new(config: BatchConfig) -> Self {
        Self {
            config: BatchConfig {
                max: config.max.max(1),
                wait: config.wait,
            },
            cache: Mutex::new(LicenseCache::default()),
            batcher: OnceLock::new(),
        }
    }
}
