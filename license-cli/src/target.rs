//! The global flags that say where the installed licenses are: a cluster (kubectl's
//! `--kubeconfig`, `--context`, `-n`, and `--secret-name`) or a directory (`--file-store`),
//! and [`Store`], the backend they open. This is the one module that knows every backend.

use crate::cluster::connect::{self, ClusterFlags};
use crate::cluster::secret::{DEFAULT_SECRET_NAME, SecretStore};
use crate::files::FileStore;
use crate::store::{Backend, Contents, Snapshot, WriteError};
use license_core::DeploymentId;
use std::path::PathBuf;

/// The store the flags chose: a Secret or a directory.
#[derive(Debug)]
pub enum Store {
    /// Licenses in a Kubernetes Secret.
    Secret(Box<SecretStore>),
    /// Licenses in a directory.
    Files(FileStore),
}

impl Backend for Store {
    fn describe(&self) -> String {
        match self {
            Store::Secret(s) => s.describe(),
            Store::Files(f) => f.describe(),
        }
    }

    async fn read(&self) -> anyhow::Result<Snapshot> {
        match self {
            Store::Secret(s) => s.read().await,
            Store::Files(f) => f.read().await,
        }
    }

    async fn write(&self, base: &Snapshot, new: &Contents) -> Result<(), WriteError> {
        match self {
            Store::Secret(s) => s.write(base, new).await,
            Store::Files(f) => f.write(base, new).await,
        }
    }

    async fn new_deployment_id(&self) -> anyhow::Result<DeploymentId> {
        match self {
            Store::Secret(s) => s.new_deployment_id().await,
            Store::Files(f) => f.new_deployment_id().await,
        }
    }
}

/// Where the licenses are installed.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// The kubeconfig file (default: KUBECONFIG, else ~/.kube/config, else the in-cluster
    /// service account).
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current context).
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace of the control plane (default: the context's namespace, else default).
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE", value_parser = parse_dns_label)]
    pub namespace: Option<String>,
    /// The Secret that holds the licenses.
    #[arg(long, global = true, value_name = "NAME", default_value = DEFAULT_SECRET_NAME, value_parser = parse_dns_subdomain)]
    pub secret_name: String,
    /// Keep the licenses in this directory instead of a cluster (for plain machines).
    #[arg(long, global = true, value_name = "DIR", conflicts_with_all = ["kubeconfig", "context", "namespace"])]
    pub file_store: Option<PathBuf>,
}

impl StoreArgs {
    /// Connects to the cluster (or opens the directory). Nothing is read yet.
    pub async fn open(&self) -> anyhow::Result<Store> {
        if let Some(dir) = &self.file_store {
            return Ok(Store::Files(FileStore::new(dir.clone())));
        }
        let connection = connect::connect(&ClusterFlags {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespace: self.namespace.clone(),
        })
        .await?;
        Ok(Store::Secret(Box::new(SecretStore::new(
            &connection,
            &self.secret_name,
        ))))
    }
}

/// A namespace name: an RFC 1123 label.
fn parse_dns_label(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-');
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a namespace name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        ))
    }
}

/// A Secret name: an RFC 1123 subdomain.
fn parse_dns_subdomain(text: &str) -> Result<String, String> {
    let ok = !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| parse_dns_label(label).is_ok());
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a Secret name: use lowercase letters, digits, '-' and '.', at most 253 characters"
        ))
    }
}
