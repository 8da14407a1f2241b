//! The double's state: namespaces, Secrets, Deployments and the other kinds with resource
//! versions, field managers and the write semantics of the real API server (create,
//! server-side apply, merge patch, update, delete with preconditions).

use crate::discovery::{self, Registered};
use crate::fields::{self, FieldSet, Manager, Operation, record_update};
pub use crate::kinds::{
    API_SERVICES, DEPLOYMENTS, Kind, NAMESPACES, NETWORK_POLICIES, NODES, PODS, SECRETS,
    STORAGE_CLASSES, kind_of,
};
use crate::rules::{check_identity, fold_string_data, meta_str, normalize, stamp};
use crate::status::{self, Reply, Target};
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
struct Stored {
    object: Value,
    managers: Vec<Manager>,
}

type Key = (&'static str, String, String);

/// Every object the double holds, and the resource version counter they share.
#[derive(Debug, Clone)]
pub struct Cluster {
    resource_version: u64,
    objects: BTreeMap<Key, Stored>,
}

fn target<'a>(kind: &'a Kind, name: Option<&'a str>) -> Target<'a> {
    Target {
        resource: kind.resource,
        group: kind.group,
        name,
    }
}

impl Cluster {
    /// A cluster with the namespaces every cluster has (`kube-system` gets
    /// `kube_system_uid`) and the APIServices of the built-in group versions.
    pub fn new(kube_system_uid: &str, now: &str) -> Self {
        let mut cluster = Self {
            resource_version: 100,
            objects: BTreeMap::new(),
        };
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let uid = if name == "kube-system" {
                kube_system_uid.to_owned()
            } else {
                uuid::Uuid::new_v4().to_string()
            };
            cluster.add_namespace(name, &uid, now);
        }
        for (group, version) in discovery::BUILT_IN {
            // Built from constants: always a valid APIService.
            let _ = cluster.create(
                &API_SERVICES,
                "",
                discovery::api_service(group, version),
                "kube-apiserver",
                now,
            );
        }
        cluster
    }

    /// The group versions the APIServices register, by APIService name.
    pub fn registered(&self) -> Vec<Registered> {
        self.objects
            .iter()
            .filter(|((resource, _, _), _)| *resource == API_SERVICES.resource)
            .filter_map(|(_, stored)| Registered::of(&stored.object))
            .collect()
    }

    fn next_rv(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// Creates a namespace (the test setup's way; idempotent).
    pub fn add_namespace(&mut self, name: &str, uid: &str, now: &str) {
        if self.exists(&NAMESPACES, "", name) {
            return;
        }
        let rv = self.next_rv();
        let object = json!({
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": name,
                "uid": uid,
                "resourceVersion": rv,
                "creationTimestamp": now,
                "labels": {"kubernetes.io/metadata.name": name},
            },
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        });
        self.objects.insert(
            (NAMESPACES.resource, String::new(), name.to_owned()),
            Stored {
                object,
                managers: Vec::new(),
            },
        );
    }

    fn exists(&self, kind: &Kind, namespace: &str, name: &str) -> bool {
        self.objects
            .contains_key(&(kind.resource, namespace.to_owned(), name.to_owned()))
    }

    fn key(kind: &'static Kind, namespace: &str, name: &str) -> Key {
        (kind.resource, namespace.to_owned(), name.to_owned())
    }

    fn require_namespace(&self, namespace: &str) -> Result<(), Reply> {
        if namespace.is_empty() || self.exists(&NAMESPACES, "", namespace) {
            Ok(())
        } else {
            Err(status::not_found(&target(&NAMESPACES, Some(namespace))))
        }
    }

    /// The object as a client reads it, `managedFields` included.
    pub fn get(&self, kind: &'static Kind, namespace: &str, name: &str) -> Result<Value, Reply> {
        self.objects
            .get(&Self::key(kind, namespace, name))
            .map(render)
            .ok_or_else(|| status::not_found(&target(kind, Some(name))))
    }

    /// The objects of a kind in a namespace (in every namespace when `None`), as a `…List`.
    pub fn list(&self, kind: &'static Kind, namespace: Option<&str>) -> Value {
        let items: Vec<Value> = self
            .objects
            .iter()
            .filter(|((resource, ns, _), _)| {
                *resource == kind.resource && namespace.is_none_or(|n| n == ns)
            })
            .map(|(_, stored)| {
                let mut item = render(stored);
                if let Value::Object(map) = &mut item {
                    map.remove("apiVersion");
                    map.remove("kind");
                }
                item
            })
            .collect();
        json!({
            "kind": format!("{}List", kind.kind),
            "apiVersion": kind.api_version,
            "metadata": {"resourceVersion": self.resource_version.to_string()},
            "items": items,
        })
    }

    /// `POST`: creates the object named in `body`.
    pub fn create(
        &mut self,
        kind: &'static Kind,
        namespace: &str,
        mut body: Value,
        manager: &str,
        now: &str,
    ) -> Result<Value, Reply> {
        let name = check_identity(kind, namespace, &mut body, None)?;
        if meta_str(&body, "resourceVersion").is_some() {
            return Err(status::bad_request(
                "resourceVersion should not be set on objects to be created".to_owned(),
            ));
        }
        self.require_namespace(namespace)?;
        if self.exists(kind, namespace, &name) {
            return Err(status::already_exists(&target(kind, Some(&name))));
        }
        normalize(kind, &name, &mut body)?;
        let mut managers = Vec::new();
        record_update(&mut managers, None, &body, manager, kind.api_version, now);
        let rv = self.next_rv();
        stamp(&mut body, namespace, &name, &rv, now);
        let stored = Stored {
            object: body,
            managers,
        };
        let out = render(&stored);
        self.objects
            .insert(Self::key(kind, namespace, &name), stored);
        Ok(out)
    }

    /// `PATCH` with `application/apply-patch+yaml`: server-side apply by `manager`. Returns the
    /// object and whether it was created.
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &mut self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
        mut body: Value,
        manager: &str,
        force: bool,
        now: &str,
    ) -> Result<(Value, bool), Reply> {
        check_identity(kind, namespace, &mut body, Some(name))?;
        let expected_rv = meta_str(&body, "resourceVersion").map(str::to_owned);
        if let Some(Value::Object(meta)) = body.get_mut("metadata") {
            meta.remove("resourceVersion");
        }
        if kind == &SECRETS {
            fold_string_data(&mut body)?;
        }
        let applied = fields::leaves(&body);
        let key = Self::key(kind, namespace, name);
        let Some(stored) = self.objects.get(&key).cloned() else {
            if expected_rv.is_some() {
                return Err(status::not_found(&target(kind, Some(name))));
            }
            self.require_namespace(namespace)?;
            normalize(kind, name, &mut body)?;
            let rv = self.next_rv();
            stamp(&mut body, namespace, name, &rv, now);
            let stored = Stored {
                object: body,
                managers: vec![Manager {
                    name: manager.to_owned(),
                    operation: Operation::Apply,
                    api_version: kind.api_version.to_owned(),
                    time: now.to_owned(),
                    fields: applied,
                }],
            };
            let out = render(&stored);
            self.objects.insert(key, stored);
            return Ok((out, true));
        };
        if let Some(expected) = expected_rv
            && meta_str(&stored.object, "resourceVersion") != Some(expected.as_str())
        {
            return Err(status::conflict(
                &target(kind, Some(name)),
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let mut object = stored.object.clone();
        let mut managers = stored.managers.clone();
        let is_self = |m: &Manager| m.name == manager && m.operation == Operation::Apply;
        let mut conflicts = Vec::new();
        for path in &applied {
            for other in managers.iter().filter(|m| !is_self(m)) {
                if other.fields.contains(path)
                    && fields::get(&object, path) != fields::get(&body, path)
                {
                    conflicts.push((other.name.clone(), fields::dotted(path)));
                }
            }
        }
        if !conflicts.is_empty() {
            if !force {
                return Err(status::apply_conflict(
                    &target(kind, Some(name)),
                    &conflicts,
                ));
            }
            for other in managers.iter_mut().filter(|m| !is_self(m)) {
                other.fields.retain(|path| {
                    !(applied.contains(path)
                        && fields::get(&object, path) != fields::get(&body, path))
                });
            }
        }
        let previous: FieldSet = managers
            .iter()
            .find(|m| is_self(m))
            .map(|m| m.fields.clone())
            .unwrap_or_default();
        for path in previous.difference(&applied) {
            let shared = managers
                .iter()
                .any(|m| !is_self(m) && m.fields.contains(path));
            if !shared {
                fields::remove(&mut object, path);
            }
        }
        fields::merge(&mut object, &body);
        normalize(kind, name, &mut object)?;
        match managers.iter_mut().find(|m| is_self(m)) {
            Some(own) => own.fields = applied,
            None => managers.push(Manager {
                name: manager.to_owned(),
                operation: Operation::Apply,
                api_version: kind.api_version.to_owned(),
                time: now.to_owned(),
                fields: applied,
            }),
        }
        managers.retain(|m| !m.fields.is_empty());
        let changed = object != stored.object
            || managers
                .iter()
                .map(|m| &m.fields)
                .ne(stored.managers.iter().map(|m| &m.fields));
        if !changed {
            return Ok((render(&stored), false));
        }
        if let Some(own) = managers.iter_mut().find(|m| is_self(m)) {
            own.time = now.to_owned();
        }
        self.commit(kind, key, object, managers, &stored.object);
        Ok((self.get(kind, namespace, name)?, false))
    }

    /// `PATCH` with a merge or strategic-merge patch (maps only, so both merge alike).
    pub fn merge_patch(
        &mut self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
        patch: &Value,
        manager: &str,
        now: &str,
    ) -> Result<Value, Reply> {
        let key = Self::key(kind, namespace, name);
        let stored = self
            .objects
            .get(&key)
            .ok_or_else(|| status::not_found(&target(kind, Some(name))))?;
        if !patch.is_object() {
            return Err(status::bad_request(
                "a merge patch must be a JSON object".to_owned(),
            ));
        }
        if let Some(expected) = patch
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            && meta_str(&stored.object, "resourceVersion") != Some(expected)
        {
            return Err(status::conflict(
                &target(kind, Some(name)),
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        let mut object = stored.object.clone();
        let mut patch = patch.clone();
        if let Some(Value::Object(meta)) = patch.get_mut("metadata") {
            meta.remove("resourceVersion");
        }
        fields::merge(&mut object, &patch);
        let mut scratch = object.clone();
        check_identity(kind, namespace, &mut scratch, Some(name))?;
        normalize(kind, name, &mut object)?;
        let old = stored.object.clone();
        if object == old {
            return Ok(render(stored));
        }
        let mut managers = stored.managers.clone();
        record_update(
            &mut managers,
            Some(&old),
            &object,
            manager,
            kind.api_version,
            now,
        );
        self.commit(kind, key, object, managers, &old);
        self.get(kind, namespace, name)
    }

    /// `PUT`: replaces the object; a stale `resourceVersion` is a conflict.
    pub fn replace(
        &mut self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
        mut body: Value,
        manager: &str,
        now: &str,
    ) -> Result<Value, Reply> {
        check_identity(kind, namespace, &mut body, Some(name))?;
        let key = Self::key(kind, namespace, name);
        let stored = self
            .objects
            .get(&key)
            .ok_or_else(|| status::not_found(&target(kind, Some(name))))?;
        if let Some(expected) = meta_str(&body, "resourceVersion")
            && meta_str(&stored.object, "resourceVersion") != Some(expected)
        {
            return Err(status::conflict(
                &target(kind, Some(name)),
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        normalize(kind, name, &mut body)?;
        let old = stored.object.clone();
        for field in ["uid", "creationTimestamp", "resourceVersion"] {
            if let Some(value) = old.pointer(&format!("/metadata/{field}")) {
                body["metadata"][field] = value.clone();
            }
        }
        if body == old {
            return Ok(render(stored));
        }
        let mut managers = stored.managers.clone();
        record_update(
            &mut managers,
            Some(&old),
            &body,
            manager,
            kind.api_version,
            now,
        );
        self.commit(kind, key, body, managers, &old);
        self.get(kind, namespace, name)
    }

    /// `DELETE`, honouring `preconditions.resourceVersion` and `preconditions.uid`.
    pub fn delete(
        &mut self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
        options: &Value,
    ) -> Result<Reply, Reply> {
        let key = Self::key(kind, namespace, name);
        let stored = self
            .objects
            .get(&key)
            .ok_or_else(|| status::not_found(&target(kind, Some(name))))?;
        let rv = meta_str(&stored.object, "resourceVersion").unwrap_or_default();
        let uid = meta_str(&stored.object, "uid")
            .unwrap_or_default()
            .to_owned();
        if let Some(expected) = options
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            && expected != rv
        {
            return Err(status::conflict(
                &target(kind, Some(name)),
                &format!(
                    "the ResourceVersion in the precondition ({expected}) does not match the ResourceVersion in record ({rv}). The object might have been modified"
                ),
            ));
        }
        if let Some(expected) = options
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            && expected != uid
        {
            return Err(status::conflict(
                &target(kind, Some(name)),
                &format!(
                    "the UID in the precondition ({expected}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
                ),
            ));
        }
        self.objects.remove(&key);
        self.next_rv();
        Ok(status::deleted(&target(kind, Some(name)), &uid))
    }

    fn commit(
        &mut self,
        kind: &Kind,
        key: Key,
        mut object: Value,
        managers: Vec<Manager>,
        old: &Value,
    ) {
        if kind == &DEPLOYMENTS && object.get("spec") != old.get("spec") {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            object["metadata"]["generation"] = json!(generation + 1);
        }
        let rv = self.next_rv();
        object["metadata"]["resourceVersion"] = json!(rv);
        self.objects.insert(key, Stored { object, managers });
    }
}

fn render(stored: &Stored) -> Value {
    let mut object = stored.object.clone();
    if !stored.managers.is_empty() {
        object["metadata"]["managedFields"] = fields::render(&stored.managers);
    }
    object
}
