//! The discovery documents clients read before they ask for an object (`/api`, `/apis`,
//! `/apis/GROUP`, `/api/v1`, `/apis/GROUP/VERSION`), in the legacy (non-aggregated) format,
//! which every client accepts. As on a real API server, what discovery lists is what the
//! APIService objects register: a test adds an aggregated API (`metrics.k8s.io`) by creating
//! its APIService, marks it unavailable through the APIService's status, and removes a group
//! by deleting it.

use crate::kinds::{self, Kind};
use crate::status::{self, Reply, Target};
use serde_json::{Value, json};

/// `GET /version`.
pub fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-kube-double",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// The group versions every double registers at start (an APIService each), as a
/// Kubernetes 1.32 control plane without add-ons serves them.
pub const BUILT_IN: [(&str, &str); 6] = [
    ("", "v1"),
    ("apps", "v1"),
    ("rbac.authorization.k8s.io", "v1"),
    ("storage.k8s.io", "v1"),
    ("networking.k8s.io", "v1"),
    ("apiregistration.k8s.io", "v1"),
];

/// The APIService object that registers `group`/`version`, served locally (no `service`)
/// and available.
pub fn api_service(group: &str, version: &str) -> Value {
    json!({
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": format!("{version}.{group}")},
        "spec": {
            "group": group,
            "version": version,
            "groupPriorityMinimum": 18000,
            "versionPriority": 15,
        },
        "status": {"conditions": [{
            "type": "Available",
            "status": "True",
            "reason": "Local",
            "message": "Local APIServices are always available",
        }]},
    })
}

/// A group version as an APIService registers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// The API group, empty for core.
    pub group: String,
    /// The version.
    pub version: String,
    /// Whether its `Available` condition is `True`.
    pub available: bool,
}

impl Registered {
    /// Reads an APIService object; `None` when it has no group version.
    pub fn of(api_service: &Value) -> Option<Self> {
        let spec = api_service.get("spec")?;
        let available = api_service
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Available"))
            .is_none_or(|c| c["status"] == "True");
        Some(Self {
            group: spec.get("group").and_then(Value::as_str)?.to_owned(),
            version: spec.get("version").and_then(Value::as_str)?.to_owned(),
            available,
        })
    }

    fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// `GET /`.
pub fn root(registered: &[Registered]) -> Value {
    let mut paths = vec!["/api".to_owned(), "/apis".to_owned(), "/version".to_owned()];
    for r in registered {
        if r.group.is_empty() {
            paths.push(format!("/api/{}", r.version));
        } else {
            paths.push(format!("/apis/{}", r.group));
            paths.push(format!("/apis/{}", r.group_version()));
        }
    }
    paths.sort();
    paths.dedup();
    json!({ "paths": paths })
}

/// `GET /api`.
pub fn api(server_address: &str, registered: &[Registered]) -> Value {
    let versions: Vec<&str> = registered
        .iter()
        .filter(|r| r.group.is_empty())
        .map(|r| r.version.as_str())
        .collect();
    json!({
        "kind": "APIVersions",
        "versions": versions,
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    })
}

fn group_document(name: &str, registered: &[Registered]) -> Option<Value> {
    let versions: Vec<Value> = registered
        .iter()
        .filter(|r| r.group == name)
        .map(|r| json!({"groupVersion": r.group_version(), "version": r.version}))
        .collect();
    let preferred = versions.first()?.clone();
    Some(json!({
        "name": name,
        "versions": versions,
        "preferredVersion": preferred,
    }))
}

/// `GET /apis`.
pub fn apis(registered: &[Registered]) -> Value {
    let mut names: Vec<&str> = Vec::new();
    for r in registered {
        if !r.group.is_empty() && !names.contains(&r.group.as_str()) {
            names.push(&r.group);
        }
    }
    let groups: Vec<Value> = names
        .into_iter()
        .filter_map(|name| group_document(name, registered))
        .collect();
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": groups,
    })
}

/// `GET /apis/GROUP`.
pub fn group(name: &str, registered: &[Registered]) -> Reply {
    match group_document(name, registered) {
        Some(mut document) => {
            document["kind"] = json!("APIGroup");
            document["apiVersion"] = json!("v1");
            Reply::ok(document)
        }
        None => not_found(),
    }
}

const ALL_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn short_names(kind: &Kind) -> &'static [&'static str] {
    match kind.resource {
        "namespaces" => &["ns"],
        "nodes" => &["no"],
        "pods" => &["po"],
        "deployments" => &["deploy"],
        "storageclasses" => &["sc"],
        "networkpolicies" => &["netpol"],
        _ => &[],
    }
}

/// `GET /api/v1` and `GET /apis/GROUP/VERSION`: the resources the double serves there; 404
/// when no APIService registers the group version, 503 when its APIService is unavailable
/// (an aggregated API whose server is down).
pub fn resources(group: &str, version: &str, registered: &[Registered]) -> Reply {
    let Some(found) = registered
        .iter()
        .find(|r| r.group == group && r.version == version)
    else {
        return not_found();
    };
    if !found.available {
        return status::service_unavailable(&found.group_version());
    }
    let resources: Vec<Value> = kinds::kinds_in(group, version)
        .map(|kind| {
            json!({
                "name": kind.resource,
                "singularName": kind.singular,
                "namespaced": kind.namespaced,
                "kind": kind.kind,
                "verbs": ALL_VERBS,
                "shortNames": short_names(kind),
            })
        })
        .collect();
    Reply::ok(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": found.group_version(),
        "resources": resources,
    }))
}

fn not_found() -> Reply {
    status::not_found(&Target {
        resource: "",
        group: "",
        name: None,
    })
}
