//! A Kubernetes API test double on loopback, for testing `coder-license` (and `kubectl`)
//! against the parts of the API they use, with the real API's semantics:
//!
//! - discovery (`/api`, `/apis`, `/apis/GROUP`, `/api/v1`, `/apis/GROUP/VERSION`,
//!   `/version`), listing what the APIService objects register: the built-in group versions
//!   of a 1.32 control plane, plus any a test registers (an aggregated API such as
//!   `metrics.k8s.io`, available or not);
//! - namespaces (`default`, `kube-system` with a stable uid, and any a test adds);
//! - nodes, pods, storage classes, network policies (also listed across namespaces) and
//!   APIServices, created by tests as they please and read with get and list, for
//!   `coder-license preflight`;
//! - Secrets: create, get, list, update, delete with preconditions, server-side apply with
//!   field managers, `force` and `managedFields`, merge patch; `resourceVersion` increases on
//!   every change and a write carrying a stale one gets 409 Conflict;
//! - Deployments: get and patch (merge, strategic merge, apply) of the pod template;
//! - `Status` bodies for 401, 403, 404, 409 and 422 as the real server sends them;
//! - TLS from a CA made per run, bearer tokens, and RBAC-like users (admin, namespace-admin,
//!   read-only, nothing); [`KubeDouble::deny`] takes a permission away from everyone.
//!
//! [`KubeDouble::start`] serves on `127.0.0.1:0` from its own thread until dropped, and
//! writes a kubeconfig that clients use as they would a real cluster's.

mod api;
mod discovery;
mod fields;
mod kinds;
mod kubeconfig;
mod objects;
mod rules;
mod server;
mod status;
mod tls;

pub use api::{Access, Logged, User};
pub use discovery::api_service;
pub use objects::{
    API_SERVICES, DEPLOYMENTS, Kind, NAMESPACES, NETWORK_POLICIES, NODES, PODS, SECRETS,
    STORAGE_CLASSES,
};
pub use status::Reply;

use anyhow::Context as _;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// What to start the double with.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The uid of the `kube-system` namespace (the cluster's identity); random when `None`.
    pub kube_system_uid: Option<String>,
}

/// A running double. Dropping it stops the server.
#[derive(Debug)]
pub struct KubeDouble {
    address: SocketAddr,
    api: Arc<Mutex<api::Api>>,
    ca_pem: String,
    users: Vec<User>,
    kube_system_uid: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The users every double knows; each is also a kubeconfig context of the same name.
fn default_users() -> Vec<User> {
    [
        ("admin", Access::Admin),
        ("namespace-admin", Access::NamespaceAdmin),
        ("reader", Access::ReadOnly),
        ("nobody", Access::Nothing),
    ]
    .into_iter()
    .map(|(name, access)| User {
        name: name.to_owned(),
        token: format!("{name}-{}", uuid::Uuid::new_v4().simple()),
        access,
    })
    .collect()
}

/// Now, as the API server writes times: RFC 3339 in whole seconds, UTC.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl KubeDouble {
    /// Starts a double with a random `kube-system` uid.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(Options::default())
    }

    /// Starts a double on `127.0.0.1:0`.
    pub fn start_with(options: Options) -> anyhow::Result<Self> {
        let tls = tls::generate()?;
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let kube_system_uid = options
            .kube_system_uid
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let users = default_users();
        let cluster = objects::Cluster::new(&kube_system_uid, &now());
        let api = Arc::new(Mutex::new(api::Api::new(
            cluster,
            users.clone(),
            address.to_string(),
        )));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot build the double's runtime")?;
        let (shutdown, stop) = oneshot::channel();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config);
        let served = api.clone();
        let thread = std::thread::Builder::new()
            .name("kube-double".to_owned())
            .spawn(move || {
                let _ = runtime.block_on(server::serve(listener, acceptor, served, stop));
            })?;
        Ok(Self {
            address,
            api,
            ca_pem: tls.ca_pem,
            users,
            kube_system_uid,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// `https://127.0.0.1:PORT`.
    pub fn server(&self) -> String {
        format!("https://{}", self.address)
    }

    /// The CA certificate (PEM) the server's certificate chains to.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The users and their tokens.
    pub fn users(&self) -> &[User] {
        &self.users
    }

    /// The kubeconfig (YAML): contexts `admin` (current), `namespace-admin`, `reader`,
    /// `nobody` and `anonymous`, each with `namespace` when given.
    pub fn kubeconfig(&self, namespace: Option<&str>) -> String {
        kubeconfig::render(&self.server(), &self.ca_pem, &self.users, namespace)
    }

    /// Writes [`Self::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path, namespace: Option<&str>) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig(namespace))
    }

    /// The uid of `kube-system`: the cluster's identity.
    pub fn kube_system_uid(&self) -> &str {
        &self.kube_system_uid
    }

    fn api(&self) -> MutexGuard<'_, api::Api> {
        // A test that panicked while holding the lock already failed; keep serving.
        self.api
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Creates a namespace.
    pub fn create_namespace(&self, name: &str) {
        let uid = uuid::Uuid::new_v4().to_string();
        self.api().cluster.add_namespace(name, &uid, &now());
    }

    /// Creates an object as `kubectl create` would (manager `kubectl-create`).
    pub fn create(
        &self,
        kind: &'static Kind,
        namespace: &str,
        object: Value,
    ) -> Result<Value, Reply> {
        self.api()
            .cluster
            .create(kind, namespace, object, "kubectl-create", &now())
    }

    /// Creates a one-replica Deployment `name` with an empty pod template annotation map.
    pub fn create_deployment(&self, namespace: &str, name: &str) -> Result<Value, Reply> {
        self.create(
            &DEPLOYMENTS,
            namespace,
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "labels": {"app": name}},
                "spec": {
                    "replicas": 1,
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": "coder", "image": "ghcr.io/coder/coder:v2"}]},
                    },
                },
            }),
        )
    }

    /// Changes an object as another client would (a merge patch by `manager`).
    pub fn patch(
        &self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
        patch: &Value,
        manager: &str,
    ) -> Result<Value, Reply> {
        self.api()
            .cluster
            .merge_patch(kind, namespace, name, patch, manager, &now())
    }

    /// Deletes an object as another client would (no preconditions).
    pub fn delete(&self, kind: &'static Kind, namespace: &str, name: &str) -> Result<(), Reply> {
        self.api()
            .cluster
            .delete(kind, namespace, name, &Value::Null)
            .map(drop)
    }

    /// From now on every user gets 403 Forbidden for `verb` (`get`, `list`, …) on `kind`.
    pub fn deny(&self, kind: &'static Kind, verb: &str) {
        self.api().deny(kind, verb);
    }

    /// The object as a client would read it, if it exists.
    pub fn object(&self, kind: &'static Kind, namespace: &str, name: &str) -> Option<Value> {
        self.api().cluster.get(kind, namespace, name).ok()
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<Logged> {
        self.api().log().to_vec()
    }

    /// Forgets the requests answered so far.
    pub fn clear_requests(&self) {
        self.api().clear_log();
    }

    /// After each of the next `times` reads of the object, another client changes it, so a
    /// write based on that read carries a stale `resourceVersion`.
    pub fn touch_after_reads(&self, kind: &'static Kind, namespace: &str, name: &str, times: u32) {
        self.api().touch_after_reads(kind, namespace, name, times);
    }
}

impl Drop for KubeDouble {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests;
