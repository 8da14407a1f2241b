//! The resource types the double serves, as discovery and URLs name them.

/// A resource type the double serves.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    /// Plural name, as in URLs: `secrets`.
    pub resource: &'static str,
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
    group: "",
    api_version: "v1",
    kind: "Secret",
    namespaced: true,
};
/// Core v1 Namespaces.
pub const NAMESPACES: Kind = Kind {
    resource: "namespaces",
    group: "",
    api_version: "v1",
    kind: "Namespace",
    namespaced: false,
};
/// apps/v1 Deployments.
pub const DEPLOYMENTS: Kind = Kind {
    resource: "deployments",
    group: "apps",
    api_version: "apps/v1",
    kind: "Deployment",
    namespaced: true,
};

/// The kind served at `group`/`version`/`resource`.
pub fn kind_of(group: &str, version: &str, resource: &str) -> Option<&'static Kind> {
    [&SECRETS, &NAMESPACES, &DEPLOYMENTS]
        .into_iter()
        .find(|k| k.group == group && version == "v1" && k.resource == resource)
}
