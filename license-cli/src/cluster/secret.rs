//! The Secret that holds a cluster's licenses: read, written with server-side apply under the
//! `coder-license` field manager, deleted when it holds nothing. Every write carries the
//! `resourceVersion` it was based on, so a concurrent change is a conflict, never a loss.

use super::connect::Connection;
use super::errors::{self, Endpoint, Op};
use crate::store::{Backend, Contents, Snapshot, Version, WriteError};
use anyhow::Context as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams, Preconditions};
use license_core::{DeploymentId, HIGH_WATER_MARK_ANNOTATION};
use std::collections::BTreeMap;

/// The field manager of every write, as `managedFields` shows it.
pub const FIELD_MANAGER: &str = "coder-license";
/// The label that marks the Secret as ours.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The Secret's name unless `--secret-name` says otherwise.
pub const DEFAULT_SECRET_NAME: &str = "coder-license";

/// One Secret in one namespace.
#[derive(Clone)]
pub struct SecretStore {
    api: Api<Secret>,
    client: kube::Client,
    namespace: String,
    name: String,
    endpoint: Endpoint,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretStore")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// A Secret that exists but that coder-license must not touch.
#[derive(Debug, thiserror::Error)]
#[error(
    "secret {namespace}/{name} exists but is not managed by coder-license ({why}): coder-license will not change it; delete it, or keep the licenses in another Secret with --secret-name"
)]
pub struct ForeignSecret {
    namespace: String,
    name: String,
    why: String,
}

impl SecretStore {
    /// The Secret `name` in the connection's namespace.
    pub fn new(connection: &Connection, name: &str) -> Self {
        Self {
            api: Api::namespaced(connection.client.clone(), &connection.namespace),
            client: connection.client.clone(),
            namespace: connection.namespace.clone(),
            name: name.to_owned(),
            endpoint: connection.endpoint.clone(),
        }
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The client, for the other objects a command touches.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Where the client points, for messages.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn explain(&self, error: &kube::Error, verb: &str) -> anyhow::Error {
        let object = self.describe();
        errors::explain(
            error,
            Op {
                verb,
                resource: "secrets",
                object: &object,
                namespace: Some(&self.namespace),
            },
            &self.endpoint,
        )
    }

    /// Whether the namespace exists; `None` when the client may not tell.
    async fn namespace_exists(&self) -> Option<bool> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        namespaces
            .get_opt(&self.namespace)
            .await
            .ok()
            .map(|n| n.is_some())
    }

    /// The Secret as coder-license applies it: ours by label, one data entry per license
    /// and the deployment id.
    pub fn object(&self, contents: &Contents, resource_version: Option<String>) -> Secret {
        let data: BTreeMap<String, ByteString> = contents
            .entries()
            .into_iter()
            .map(|(key, value)| (key, ByteString(value)))
            .collect();
        Secret {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(labels()),
                resource_version,
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".to_owned()),
            data: Some(data),
            ..Secret::default()
        }
    }

    /// Creates the Secret empty, so that the apply that fills it can carry a
    /// `resourceVersion`: two installs racing to create it then conflict instead of one
    /// silently replacing the other's license.
    async fn create_empty(&self) -> Result<String, WriteError> {
        let empty = Secret {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(labels()),
                ..ObjectMeta::default()
            },
            type_: Some("Opaque".to_owned()),
            ..Secret::default()
        };
        let params = PostParams {
            dry_run: false,
            field_manager: Some(FIELD_MANAGER.to_owned()),
        };
        let created = self
            .api
            .create(&params, &empty)
            .await
            .map_err(|e| self.write_error(&e, "create"))?;
        Ok(created.metadata.resource_version.unwrap_or_default())
    }

    async fn delete(&self, base: &Snapshot) -> Result<(), WriteError> {
        let Version::Tagged(resource_version) = &base.version else {
            return Ok(());
        };
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: Some(resource_version.clone()),
                uid: None,
            }),
            ..DeleteParams::default()
        };
        match self.api.delete(&self.name, &params).await {
            Ok(_) => Ok(()),
            Err(e) if errors::status_code(&e) == Some(404) => Ok(()),
            Err(e) => Err(self.write_error(&e, "delete")),
        }
    }

    /// A conflict (409), or the object vanished under a versioned write (404 that is not a
    /// missing namespace): both mean "read again".
    fn write_error(&self, error: &kube::Error, verb: &str) -> WriteError {
        match errors::status_code(error) {
            Some(409) => WriteError::Conflict,
            Some(404) if verb == "patch" && !errors::is_missing_namespace(error) => {
                WriteError::Conflict
            }
            _ => WriteError::Failed(self.explain(error, verb)),
        }
    }

    /// The uid of the `kube-system` namespace: what identifies the cluster.
    pub async fn kube_system_uid(&self) -> anyhow::Result<String> {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let namespace = namespaces.get("kube-system").await.map_err(|e| {
            errors::explain(
                &e,
                Op {
                    verb: "get",
                    resource: "namespaces",
                    object: "namespace kube-system (the cluster's identity, for the deployment id)",
                    namespace: None,
                },
                &self.endpoint,
            )
        })?;
        namespace
            .metadata
            .uid
            .filter(|uid| !uid.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "namespace kube-system has no uid on {}",
                    self.endpoint.server
                )
            })
    }
}

impl Backend for SecretStore {
    /// `secret NAMESPACE/NAME`.
    fn describe(&self) -> String {
        format!("secret {}/{}", self.namespace, self.name)
    }

    /// Reads the Secret: absent, or ours with licenses; foreign or corrupt data is an error.
    async fn read(&self) -> anyhow::Result<Snapshot> {
        let secret = match self.api.get_opt(&self.name).await {
            Ok(Some(secret)) => secret,
            Ok(None) => {
                if self.namespace_exists().await == Some(false) {
                    return Err(anyhow::anyhow!(
                        "namespace {ns} does not exist on {}: create it (kubectl create namespace {ns}) or choose another with -n",
                        self.endpoint.server,
                        ns = self.namespace
                    ));
                }
                return Ok(Snapshot::absent());
            }
            Err(e) => return Err(self.explain(&e, "get")),
        };
        let label = secret
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(MANAGED_BY_LABEL));
        let why = match (label.map(String::as_str), secret.type_.as_deref()) {
            (Some(FIELD_MANAGER), None | Some("Opaque")) => None,
            (Some(FIELD_MANAGER), Some(other)) => Some(format!("its type is {other}, not Opaque")),
            (Some(other), _) => Some(format!("label {MANAGED_BY_LABEL} is {other:?}")),
            (None, _) => Some(format!("it has no label {MANAGED_BY_LABEL}")),
        };
        if let Some(why) = why {
            return Err(ForeignSecret {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                why,
            }
            .into());
        }
        let entries = secret
            .data
            .unwrap_or_default()
            .into_iter()
            .map(|(key, ByteString(value))| (key, value));
        let contents = Contents::from_entries(&self.describe(), entries)?;
        Ok(Snapshot {
            contents,
            version: Version::Tagged(secret.metadata.resource_version.unwrap_or_default()),
            high_water_mark: secret
                .metadata
                .annotations
                .and_then(|mut a| a.remove(HIGH_WATER_MARK_ANNOTATION)),
        })
    }

    /// Makes the Secret hold `new`, if it is still as `base` read it; deletes it when `new`
    /// is empty.
    async fn write(&self, base: &Snapshot, new: &Contents) -> Result<(), WriteError> {
        if new.is_empty() {
            return self.delete(base).await;
        }
        let resource_version = match &base.version {
            Version::Tagged(resource_version) => resource_version.clone(),
            _ => self.create_empty().await?,
        };
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let applied = self
            .api
            .patch(
                &self.name,
                &params,
                &Patch::Apply(self.object(new, Some(resource_version))),
            )
            .await
            .map_err(|e| self.write_error(&e, "patch"))?;
        let kept: Vec<String> = applied
            .data
            .unwrap_or_default()
            .into_keys()
            .filter(|key| !new.entries().contains_key(key))
            .collect();
        if let Some(key) = kept.first() {
            return Err(WriteError::Failed(anyhow::anyhow!(
                "data key {key} of {} is also managed by another client, so it was not removed; remove it with kubectl edit secret {} -n {}",
                self.describe(),
                self.name,
                self.namespace
            )));
        }
        Ok(())
    }

    /// Derived from the cluster's identity and the namespace (stable for this install).
    async fn new_deployment_id(&self) -> anyhow::Result<DeploymentId> {
        let uid = self.kube_system_uid().await?;
        super::derive_deployment_id(&uid, &self.namespace)
            .context("the cluster's identity does not make a deployment id")
    }
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY_LABEL.to_owned(), FIELD_MANAGER.to_owned()),
        (
            "app.kubernetes.io/name".to_owned(),
            "coder-license".to_owned(),
        ),
    ])
}
