//! The resource types the double serves, as discovery and URLs name them.

/// A resource type the double serves.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    /// Plural name, as in URLs: `secrets`.
    pub resource: &'static str,
    /// Singular name, as discovery gives it: `secret`.
    pub singular: &'static str,
    /// API group, empty for core.
    pub group: &'static str,
    /// `apiVersion` of its objects.
    pub api_version: &'static str,
    /// `kind` of its objects.
    pub kind: &'static str,
    /// Whether its objects live in namespaces.
    pub namespaced: bool,
}

/// Core v1 Secrets.
pub const SECRETS: Kind = Kind {
    resource: "secrets",
    singular: "secret",
    group: "",
    api_version: "v1",
    kind: "Secret",
    namespaced: true,
};
/// Core v1 Namespaces.
pub const NAMESPACES: Kind = Kind {
    resource: "namespaces",
    singular: "namespace",
    group: "",
    api_version: "v1",
    kind: "Namespace",
    namespaced: false,
};
/// Core v1 Nodes (capacity and allocatable resources in `status`).
pub const NODES: Kind = Kind {
    resource: "nodes",
    singular: "node",
    group: "",
    api_version: "v1",
    kind: "Node",
    namespaced: false,
};
/// Core v1 Pods.
pub const PODS: Kind = Kind {
    resource: "pods",
    singular: "pod",
    group: "",
    api_version: "v1",
    kind: "Pod",
    namespaced: true,
};
/// apps/v1 Deployments.
pub const DEPLOYMENTS: Kind = Kind {
    resource: "deployments",
    singular: "deployment",
    group: "apps",
    api_version: "apps/v1",
    kind: "Deployment",
    namespaced: true,
};
/// storage.k8s.io/v1 StorageClasses.
pub const STORAGE_CLASSES: Kind = Kind {
    resource: "storageclasses",
    singular: "storageclass",
    group: "storage.k8s.io",
    api_version: "storage.k8s.io/v1",
    kind: "StorageClass",
    namespaced: false,
};
/// networking.k8s.io/v1 NetworkPolicies.
pub const NETWORK_POLICIES: Kind = Kind {
    resource: "networkpolicies",
    singular: "networkpolicy",
    group: "networking.k8s.io",
    api_version: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    namespaced: true,
};
/// apiregistration.k8s.io/v1 APIServices: one per served group version; discovery (`/api`,
/// `/apis`) lists what they register.
pub const API_SERVICES: Kind = Kind {
    resource: "apiservices",
    singular: "apiservice",
    group: "apiregistration.k8s.io",
    api_version: "apiregistration.k8s.io/v1",
    kind: "APIService",
    namespaced: false,
};

/// Every kind the double serves.
pub const ALL: [&Kind; 8] = [
    &SECRETS,
    &NAMESPACES,
    &NODES,
    &PODS,
    &DEPLOYMENTS,
    &STORAGE_CLASSES,
    &NETWORK_POLICIES,
    &API_SERVICES,
];

/// The kind served at `group`/`version`/`resource`.
pub fn kind_of(group: &str, version: &str, resource: &str) -> Option<&'static Kind> {
    ALL.into_iter()
        .find(|k| k.group == group && version == "v1" && k.resource == resource)
}

/// The kinds served in `group`/`version`.
pub fn kinds_in(group: &str, version: &str) -> impl Iterator<Item = &'static Kind> {
    ALL.into_iter()
        .filter(move |k| k.group == group && version == "v1")
}
