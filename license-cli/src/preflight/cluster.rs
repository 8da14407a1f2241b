//! What preflight reads from the cluster, read-only: the server version, discovery, the
//! APIServices, nodes, storage classes, network policies and the pods in `kube-system`. A
//! permission the user lacks (403) is recorded as such and becomes a warning naming it; an
//! unreachable cluster ends the run (exit 2).

use super::report::Permission;
use super::spec::Quantity;
use crate::cluster::connect::Connection;
use crate::cluster::errors::{self, Op};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService;
use kube::api::{Api, ListParams};
use std::collections::BTreeMap;

/// The annotation that marks the default storage class (and its beta predecessor).
const DEFAULT_CLASS: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

/// Every permission preflight uses on resources (discovery is open to every authenticated
/// user; the license Secret is read as `apply` and `inspect` read it).
/// `deploy/customer/preflight-rbac.yaml` grants exactly these; a test holds them together.
pub const PERMISSIONS: [Permission; 5] = [
    Permission {
        verb: "list",
        resource: "nodes",
        namespace: None,
    },
    Permission {
        verb: "list",
        resource: "storageclasses.storage.k8s.io",
        namespace: None,
    },
    Permission {
        verb: "list",
        resource: "apiservices.apiregistration.k8s.io",
        namespace: None,
    },
    Permission {
        verb: "list",
        resource: "networkpolicies.networking.k8s.io",
        namespace: None,
    },
    Permission {
        verb: "list",
        resource: "pods",
        namespace: Some("kube-system"),
    },
];
const NODES: usize = 0;
const STORAGE_CLASSES: usize = 1;
const API_SERVICES: usize = 2;
const NETWORK_POLICIES: usize = 3;
const KUBE_SYSTEM_PODS: usize = 4;

/// Why something could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    /// RBAC said no.
    Denied(Permission),
    /// The API server answered with another error.
    Failed(String),
}

/// CPU cores, memory and ephemeral storage bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Amounts {
    /// Cores.
    pub cpu: f64,
    /// Bytes.
    pub memory: f64,
    /// Bytes.
    pub storage: f64,
}

/// A node, as preflight sizes it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInfo {
    /// Its name.
    pub name: String,
    /// Its `Ready` condition is `True`.
    pub ready: bool,
    /// Not cordoned.
    pub schedulable: bool,
    /// What pods may use.
    pub allocatable: Amounts,
    /// What the machine has.
    pub capacity: Amounts,
}

/// A storage class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassInfo {
    /// Its name.
    pub name: String,
    /// Its provisioner.
    pub provisioner: String,
    /// Marked as the default class.
    pub default: bool,
}

/// An APIService: a registered group version and whether it is available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiServiceInfo {
    /// `v1beta1.metrics.k8s.io`.
    pub name: String,
    /// The group.
    pub group: String,
    /// The version.
    pub version: String,
    /// Its `Available` condition, when it has one.
    pub available: Option<bool>,
    /// Why, when it is not available.
    pub message: Option<String>,
}

/// A pod in `kube-system`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodInfo {
    /// Its name.
    pub name: String,
    /// Its containers' images.
    pub images: Vec<String>,
}

/// Everything preflight reads from the cluster.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The API server.
    pub server: String,
    /// Its Kubernetes release, `(major, minor)`.
    pub release: Option<(u32, u32)>,
    /// Its `gitVersion`.
    pub git_version: String,
    /// The group versions discovery lists: `v1` for core, `GROUP/VERSION` for the others.
    pub group_versions: Vec<String>,
    /// Whether `networking.k8s.io/v1` serves `networkpolicies`.
    pub network_policy_api: Result<bool, Gap>,
    /// The APIServices.
    pub api_services: Result<Vec<ApiServiceInfo>, Gap>,
    /// The nodes.
    pub nodes: Result<Vec<NodeInfo>, Gap>,
    /// The storage classes.
    pub storage_classes: Result<Vec<ClassInfo>, Gap>,
    /// The network policies, as `namespace/name`.
    pub network_policies: Result<Vec<String>, Gap>,
    /// The pods in `kube-system`.
    pub kube_system_pods: Result<Vec<PodInfo>, Gap>,
}

/// Reads what preflight needs. Errors only when the cluster cannot be asked at all.
pub async fn observe(connection: &Connection) -> anyhow::Result<Observed> {
    let client = &connection.client;
    let endpoint = &connection.endpoint;
    // Discovery is open to every authenticated user; `kubectl auth can-i get /apis` names
    // a non-resource URL as RBAC does.
    let fatal = |error: &kube::Error, url: &str| {
        errors::explain(
            error,
            Op {
                verb: "get",
                resource: url,
                object: &format!("the API server's discovery ({url})"),
                namespace: None,
            },
            endpoint,
        )
    };
    let info = client
        .apiserver_version()
        .await
        .map_err(|e| fatal(&e, "/version"))?;
    let release = super::spec::parse_release(&format!(
        "{}.{}",
        info.major,
        info.minor.trim_end_matches('+')
    ));
    let mut group_versions: Vec<String> = client
        .list_core_api_versions()
        .await
        .map_err(|e| fatal(&e, "/api"))?
        .versions;
    let groups = client
        .list_api_groups()
        .await
        .map_err(|e| fatal(&e, "/apis"))?;
    for group in groups.groups {
        group_versions.extend(group.versions.into_iter().map(|v| v.group_version));
    }
    let network_policy_api = if group_versions.iter().any(|g| g == "networking.k8s.io/v1") {
        read(
            client
                .list_api_group_resources("networking.k8s.io/v1")
                .await,
            Permission {
                verb: "get",
                resource: "networking.k8s.io/v1 discovery",
                namespace: None,
            },
        )?
        .map(|list| list.resources.iter().any(|r| r.name == "networkpolicies"))
    } else {
        Ok(false)
    };
    Ok(Observed {
        server: endpoint.server.clone(),
        release,
        git_version: info.git_version,
        group_versions,
        network_policy_api,
        api_services: api_services(client).await?,
        nodes: nodes(client).await?,
        storage_classes: storage_classes(client).await?,
        network_policies: network_policies(client).await?,
        kube_system_pods: kube_system_pods(client).await?,
    })
}

/// Sorts an answer: the value, a missing permission, another API error, or (for transport
/// and credential failures) an error that ends the run.
fn read<T>(answer: kube::Result<T>, permission: Permission) -> anyhow::Result<Result<T, Gap>> {
    match answer {
        Ok(value) => Ok(Ok(value)),
        Err(kube::Error::Api(status)) if status.code == 403 => Ok(Err(Gap::Denied(permission))),
        Err(kube::Error::Api(status)) if status.code == 401 => anyhow::bail!(
            "the API server rejected the credentials (401 Unauthorized): refresh the kubeconfig's token or certificate"
        ),
        Err(kube::Error::Api(status)) => Ok(Err(Gap::Failed(format!(
            "the API server answered {} {}: {}",
            status.code, status.reason, status.message
        )))),
        Err(kube::Error::SerdeError(error)) => Ok(Err(Gap::Failed(format!(
            "the API server's answer is not a valid list: {error}"
        )))),
        Err(other) => anyhow::bail!(
            "cannot {} {}: {}; check that the cluster is running and that the kubeconfig points at it",
            permission.verb,
            permission.resource,
            root_cause(&other)
        ),
    }
}

/// The innermost cause of an error, the one that says what happened.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

async fn api_services(client: &kube::Client) -> anyhow::Result<Result<Vec<ApiServiceInfo>, Gap>> {
    let api: Api<APIService> = Api::all(client.clone());
    let listed = read(
        api.list(&ListParams::default()).await,
        PERMISSIONS[API_SERVICES].clone(),
    )?;
    Ok(listed.map(|list| {
        list.items
            .into_iter()
            .map(|service| {
                let spec = service.spec.unwrap_or_default();
                let available = service
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .into_iter()
                    .find(|c| c.type_ == "Available");
                ApiServiceInfo {
                    name: service.metadata.name.unwrap_or_default(),
                    group: spec.group.unwrap_or_default(),
                    version: spec.version.unwrap_or_default(),
                    available: available.as_ref().map(|c| c.status == "True"),
                    message: available.and_then(|c| c.message),
                }
            })
            .collect()
    }))
}

fn amounts(
    resources: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> Amounts {
    let get = |name: &str| {
        resources
            .and_then(|r| r.get(name))
            .and_then(|q| Quantity::parse(&q.0))
            .map_or(0.0, |q| q.0)
    };
    Amounts {
        cpu: get("cpu"),
        memory: get("memory"),
        storage: get("ephemeral-storage"),
    }
}

async fn nodes(client: &kube::Client) -> anyhow::Result<Result<Vec<NodeInfo>, Gap>> {
    let api: Api<Node> = Api::all(client.clone());
    let listed = read(
        api.list(&ListParams::default()).await,
        PERMISSIONS[NODES].clone(),
    )?;
    Ok(listed.map(|list| {
        list.items
            .into_iter()
            .map(|node| {
                let status = node.status.unwrap_or_default();
                let ready = status
                    .conditions
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True");
                NodeInfo {
                    name: node.metadata.name.unwrap_or_default(),
                    ready,
                    schedulable: !node.spec.and_then(|s| s.unschedulable).unwrap_or(false),
                    allocatable: amounts(status.allocatable.as_ref()),
                    capacity: amounts(status.capacity.as_ref()),
                }
            })
            .collect()
    }))
}

async fn storage_classes(client: &kube::Client) -> anyhow::Result<Result<Vec<ClassInfo>, Gap>> {
    let api: Api<StorageClass> = Api::all(client.clone());
    let listed = read(
        api.list(&ListParams::default()).await,
        PERMISSIONS[STORAGE_CLASSES].clone(),
    )?;
    Ok(listed.map(|list| {
        list.items
            .into_iter()
            .map(|class| {
                let default = class.metadata.annotations.as_ref().is_some_and(|a| {
                    DEFAULT_CLASS
                        .iter()
                        .any(|key| a.get(*key).is_some_and(|v| v == "true"))
                });
                ClassInfo {
                    name: class.metadata.name.unwrap_or_default(),
                    provisioner: class.provisioner,
                    default,
                }
            })
            .collect()
    }))
}

async fn network_policies(client: &kube::Client) -> anyhow::Result<Result<Vec<String>, Gap>> {
    let api: Api<NetworkPolicy> = Api::all(client.clone());
    let listed = read(
        api.list(&ListParams::default()).await,
        PERMISSIONS[NETWORK_POLICIES].clone(),
    )?;
    Ok(listed.map(|list| {
        list.items
            .into_iter()
            .map(|p| {
                format!(
                    "{}/{}",
                    p.metadata.namespace.unwrap_or_default(),
                    p.metadata.name.unwrap_or_default()
                )
            })
            .collect()
    }))
}

async fn kube_system_pods(client: &kube::Client) -> anyhow::Result<Result<Vec<PodInfo>, Gap>> {
    let api: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let listed = read(
        api.list(&ListParams::default()).await,
        PERMISSIONS[KUBE_SYSTEM_PODS].clone(),
    )?;
    Ok(listed.map(|list| {
        list.items
            .into_iter()
            .map(|pod| PodInfo {
                name: pod.metadata.name.unwrap_or_default(),
                images: pod
                    .spec
                    .map(|s| {
                        s.init_containers
                            .unwrap_or_default()
                            .into_iter()
                            .chain(s.containers)
                            .filter_map(|c| c.image)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::Value;

    /// `deploy/customer/preflight-rbac.yaml` grants every permission preflight uses, and
    /// only read verbs.
    #[test]
    fn the_shipped_rbac_grants_what_preflight_reads() {
        let text = include_str!("../../../deploy/customer/preflight-rbac.yaml");
        let documents: Vec<Value> = serde_saphyr::from_multiple(text).unwrap();
        let mut granted = Vec::new();
        for document in &documents {
            let namespace = document["metadata"]["namespace"]
                .as_str()
                .map(str::to_owned);
            for rule in document["rules"].as_array().into_iter().flatten() {
                for verb in rule["verbs"].as_array().unwrap() {
                    let verb = verb.as_str().unwrap();
                    assert!(matches!(verb, "get" | "list"), "{rule}");
                    for group in rule["apiGroups"].as_array().unwrap() {
                        for resource in rule["resources"].as_array().unwrap() {
                            let (group, resource) =
                                (group.as_str().unwrap(), resource.as_str().unwrap());
                            let name = if group.is_empty() {
                                resource.to_owned()
                            } else {
                                format!("{resource}.{group}")
                            };
                            granted.push((verb.to_owned(), name, namespace.clone()));
                        }
                    }
                }
            }
        }
        for permission in PERMISSIONS {
            let wanted = (
                permission.verb.to_owned(),
                permission.resource.to_owned(),
                permission.namespace.map(str::to_owned),
            );
            assert!(
                granted.contains(&wanted),
                "{wanted:?} is not granted: {granted:?}"
            );
        }
    }
}
