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

/// Where the licenses are installed. These flags go before or after the command (kubectl's
/// habit): the top level and each command that uses a store take them, and [`merge`] joins
/// the two.
///
/// [`merge`]: StoreArgs::merge
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
#[command(next_help_heading = "Where the licenses are")]
pub struct StoreArgs {
    /// The kubeconfig file (default: KUBECONFIG, else ~/.kube/config, else the in-cluster
    /// service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// The namespace of the control plane (default: the context's namespace, else default).
    #[arg(short = 'n', long, value_name = "NAMESPACE", value_parser = parse_dns_label)]
    pub namespace: Option<String>,
    /// The Secret that holds the licenses [default: coder-license].
    #[arg(long, value_name = "NAME", value_parser = parse_dns_subdomain)]
    pub secret_name: Option<String>,
    /// Keep the licenses in this directory instead of a cluster (for plain machines).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["kubeconfig", "context", "namespace"])]
    pub file_store: Option<PathBuf>,
}

impl StoreArgs {
    /// The flags given before the command joined with those given after it. A flag given on
    /// both sides must say the same; a directory excludes the cluster flags.
    pub fn merge(&self, after: &StoreArgs) -> anyhow::Result<StoreArgs> {
        fn one<T: Clone + PartialEq + std::fmt::Debug>(
            flag: &str,
            before: &Option<T>,
            after: &Option<T>,
        ) -> anyhow::Result<Option<T>> {
            match (before, after) {
                (Some(a), Some(b)) if a != b => {
                    anyhow::bail!("{flag} is given twice, as {a:?} and {b:?}: give it once")
                }
                (Some(a), _) => Ok(Some(a.clone())),
                (None, b) => Ok(b.clone()),
            }
        }
        let merged = StoreArgs {
            kubeconfig: one("--kubeconfig", &self.kubeconfig, &after.kubeconfig)?,
            context: one("--context", &self.context, &after.context)?,
            namespace: one("--namespace", &self.namespace, &after.namespace)?,
            secret_name: one("--secret-name", &self.secret_name, &after.secret_name)?,
            file_store: one("--file-store", &self.file_store, &after.file_store)?,
        };
        if merged.file_store.is_some()
            && (merged.kubeconfig.is_some()
                || merged.context.is_some()
                || merged.namespace.is_some())
        {
            anyhow::bail!(
                "--file-store keeps the licenses in a directory and cannot be combined with --kubeconfig, --context or --namespace"
            );
        }
        Ok(merged)
    }

    /// Refuses store flags given to a command that uses no store (`admin`, `completions`).
    pub fn refuse_for(&self, command: &str) -> anyhow::Result<()> {
        if *self != StoreArgs::default() {
            anyhow::bail!(
                "{command} uses no license store: drop --kubeconfig, --context, --namespace, --secret-name and --file-store"
            );
        }
        Ok(())
    }

    /// The Secret's name.
    pub fn secret_name(&self) -> &str {
        self.secret_name.as_deref().unwrap_or(DEFAULT_SECRET_NAME)
    }

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
            self.secret_name(),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn flags_before_and_after_the_command_are_joined() {
        let before = StoreArgs {
            file_store: Some(PathBuf::from("/d")),
            ..StoreArgs::default()
        };
        let after = StoreArgs {
            secret_name: Some("x".into()),
            ..StoreArgs::default()
        };
        let merged = before.merge(&after).unwrap();
        assert_eq!(merged.file_store, Some(PathBuf::from("/d")));
        assert_eq!(merged.secret_name(), "x");
        assert_eq!(StoreArgs::default().secret_name(), DEFAULT_SECRET_NAME);
        let same = before.merge(&before).unwrap();
        assert_eq!(same, before);
        let other = StoreArgs {
            file_store: Some(PathBuf::from("/e")),
            ..StoreArgs::default()
        };
        assert!(
            before
                .merge(&other)
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        let cluster = StoreArgs {
            context: Some("c".into()),
            ..StoreArgs::default()
        };
        assert!(
            before
                .merge(&cluster)
                .unwrap_err()
                .to_string()
                .contains("cannot be combined")
        );
        assert!(before.refuse_for("admin").is_err());
        assert!(StoreArgs::default().refuse_for("admin").is_ok());
    }
}
