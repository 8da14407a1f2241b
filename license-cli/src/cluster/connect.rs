//! Finding the cluster as kubectl does: `--kubeconfig`, else `KUBECONFIG`, else
//! `~/.kube/config`, else the in-cluster service account; `--context` or the current context;
//! `-n` or the context's namespace, else `default`.

use super::errors::Endpoint;
use anyhow::{Context as _, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// How long to wait for a TCP and TLS connection to the API server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for an answer.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The flags that choose the cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterFlags {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
    /// `-n/--namespace`.
    pub namespace: Option<String>,
}

/// Where the client configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Kubeconfig files, merged in order (kubectl's rule for `KUBECONFIG` lists).
    Files(Vec<PathBuf>),
    /// The service account of the pod this runs in.
    InCluster,
}

/// A connected client, the namespace to work in, and where it points (for messages).
#[derive(Clone)]
pub struct Connection {
    /// The client.
    pub client: Client,
    /// `-n`, or the context's namespace, or `default`.
    pub namespace: String,
    /// The server and context.
    pub endpoint: Endpoint,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("namespace", &self.namespace)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Picks the configuration source: the flag, else the `KUBECONFIG` list (files that exist),
/// else `~/.kube/config` if it exists, else in-cluster when running in a pod.
pub fn source(
    flag: Option<&PathBuf>,
    kubeconfig_env: Option<OsString>,
    home: Option<PathBuf>,
    in_cluster: bool,
) -> anyhow::Result<Source> {
    if let Some(path) = flag {
        return Ok(Source::Files(vec![path.clone()]));
    }
    if let Some(list) = kubeconfig_env.filter(|v| !v.is_empty()) {
        let files: Vec<PathBuf> = std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty() && p.exists())
            .collect();
        if files.is_empty() {
            bail!(
                "no kubeconfig: none of the files in KUBECONFIG ({}) exists; fix KUBECONFIG or pass --kubeconfig FILE",
                list.to_string_lossy()
            );
        }
        return Ok(Source::Files(files));
    }
    if let Some(default) = home.map(|h| h.join(".kube").join("config"))
        && default.exists()
    {
        return Ok(Source::Files(vec![default]));
    }
    if in_cluster {
        return Ok(Source::InCluster);
    }
    bail!(
        "no kubeconfig: pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config; without a cluster use --file-store DIR, or -f/--file FILE to read license files"
    )
}

/// Connects as the flags and the environment say.
pub async fn connect(flags: &ClusterFlags) -> anyhow::Result<Connection> {
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let source = source(
        flags.kubeconfig.as_ref(),
        std::env::var_os("KUBECONFIG"),
        home,
        in_cluster,
    )?;
    let (mut config, context) = match source {
        Source::InCluster => {
            if let Some(context) = &flags.context {
                bail!(
                    "--context {context} needs a kubeconfig, and none was found (running in-cluster); pass --kubeconfig FILE"
                );
            }
            let config = Config::incluster().map_err(|e| {
                anyhow::anyhow!(
                    "cannot use the in-cluster service account: {e}; pass --kubeconfig FILE"
                )
            })?;
            (config, "in-cluster".to_owned())
        }
        Source::Files(files) => from_files(&files, flags.context.as_deref()).await?,
    };
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    let server = config.cluster_url.to_string();
    let server = server.trim_end_matches('/').to_owned();
    let namespace = flags
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config)
        .with_context(|| format!("cannot set up a client for {server} (context {context})"))?;
    Ok(Connection {
        client,
        namespace,
        endpoint: Endpoint { server, context },
    })
}

async fn from_files(files: &[PathBuf], context: Option<&str>) -> anyhow::Result<(Config, String)> {
    let names = files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(":");
    let mut merged: Option<Kubeconfig> = None;
    for file in files {
        let config = Kubeconfig::read_from(file).map_err(|e| {
            anyhow::anyhow!("cannot read kubeconfig {}: {}", file.display(), cause(&e))
        })?;
        merged = Some(match merged {
            None => config,
            Some(m) => m
                .merge(config)
                .map_err(|e| anyhow::anyhow!("cannot merge the kubeconfig files {names}: {e}"))?,
        });
    }
    let kubeconfig = merged.unwrap_or_default();
    let contexts: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let listed = if contexts.is_empty() {
        "it has none".to_owned()
    } else {
        format!("it has {}", contexts.join(", "))
    };
    let context = match context.or(kubeconfig.current_context.as_deref()) {
        None => {
            bail!("kubeconfig {names} has no current context; choose one with --context ({listed})")
        }
        Some(name) if !contexts.contains(&name) => bail!(
            "context {name:?} is not in kubeconfig {names} ({listed}); choose one with --context"
        ),
        Some(name) => name.to_owned(),
    };
    let options = KubeConfigOptions {
        context: Some(context.clone()),
        cluster: None,
        user: None,
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot use context {context} of kubeconfig {names}: {}",
                cause(&e)
            )
        })?;
    Ok((config, context))
}

fn cause(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(next) = source {
        let next_text = next.to_string();
        if !text.contains(&next_text) {
            text = format!("{text}: {next_text}");
        }
        source = next.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn kubectl_order_of_sources() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, "").unwrap();
        std::fs::write(&b, "").unwrap();
        let home = dir.path().to_path_buf();
        std::fs::create_dir(home.join(".kube")).unwrap();
        std::fs::write(home.join(".kube/config"), "").unwrap();
        let flag = PathBuf::from("/flag");
        assert_eq!(
            source(
                Some(&flag),
                Some(a.clone().into()),
                Some(home.clone()),
                true
            )
            .unwrap(),
            Source::Files(vec![flag])
        );
        let list = std::env::join_paths([&a, &dir.path().join("missing"), &b]).unwrap();
        assert_eq!(
            source(None, Some(list), Some(home.clone()), true).unwrap(),
            Source::Files(vec![a.clone(), b])
        );
        assert_eq!(
            source(None, None, Some(home.clone()), true).unwrap(),
            Source::Files(vec![home.join(".kube/config")])
        );
        let empty_home = dir.path().join("nohome");
        assert_eq!(
            source(None, Some("".into()), Some(empty_home.clone()), true).unwrap(),
            Source::InCluster
        );
        let err = source(None, None, Some(empty_home), false).unwrap_err();
        assert!(err.to_string().starts_with("no kubeconfig"), "{err}");
        let err = source(None, Some(dir.path().join("missing").into()), None, true).unwrap_err();
        assert!(err.to_string().contains("KUBECONFIG"), "{err}");
    }
}
