//! Field ownership as server-side apply keeps it: each manager owns a set of leaf paths, and
//! `metadata.managedFields` renders those sets in the `FieldsV1` format.
//!
//! Maps are merged key by key; lists and scalars are atomic leaves, which is exact for the
//! fields the CLI touches (Secret `data`, labels, annotations).

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// A path of object keys from the root of an object to a field.
pub type FieldPath = Vec<String>;
/// The fields a manager owns.
pub type FieldSet = BTreeSet<FieldPath>;

/// How a manager last wrote its fields: a server-side apply, or any other write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `PATCH` with `application/apply-patch+yaml`.
    Apply,
    /// Create, update, merge or strategic-merge patch.
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manager {
    /// The field manager's name.
    pub name: String,
    /// Apply or Update.
    pub operation: Operation,
    /// The API version the manager wrote with.
    pub api_version: String,
    /// When it last changed its fields (RFC 3339).
    pub time: String,
    /// The fields it owns.
    pub fields: FieldSet,
}

/// Whether a path is bookkeeping that nobody owns (identity, versions, status).
fn ignored(path: &[String]) -> bool {
    match path {
        [first, ..] if first == "apiVersion" || first == "kind" || first == "status" => true,
        [meta, field, ..] if meta == "metadata" => matches!(
            field.as_str(),
            "name"
                | "namespace"
                | "resourceVersion"
                | "uid"
                | "creationTimestamp"
                | "managedFields"
                | "generation"
                | "deletionTimestamp"
                | "selfLink"
        ),
        _ => false,
    }
}

/// The leaf fields of `value` that a manager can own.
pub fn leaves(value: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

fn walk(value: &Value, path: &mut Vec<String>, out: &mut FieldSet) {
    if ignored(path) {
        return;
    }
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                path.push(key.clone());
                walk(child, path, out);
                path.pop();
            }
        }
        _ if path.is_empty() => {}
        _ => {
            out.insert(path.clone());
        }
    }
}

/// The value at `path`, if any.
pub fn get<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

/// Removes the field at `path`, then any map that this leaves empty (but never `metadata`).
pub fn remove(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    if let Some(Value::Object(map)) = get_mut(value, parents) {
        map.remove(last);
        let empty = map.is_empty();
        if empty && !parents.is_empty() && parents != ["metadata"] {
            remove(value, parents);
        }
    }
}

fn get_mut<'a>(value: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, key| v.get_mut(key))
}

/// JSON merge patch (RFC 7386): maps merge, `null` deletes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in patch {
            if value.is_null() {
                map.remove(key);
            } else {
                merge(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Renders managers as `metadata.managedFields`.
pub fn render(managers: &[Manager]) -> Value {
    Value::Array(
        managers
            .iter()
            .map(|m| {
                json!({
                    "manager": m.name,
                    "operation": m.operation.as_str(),
                    "apiVersion": m.api_version,
                    "time": m.time,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": fields_v1(&m.fields),
                })
            })
            .collect(),
    )
}

/// The `FieldsV1` trie of a field set: `{"f:data":{".":{},"f:key":{}}}`.
fn fields_v1(fields: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in fields {
        let mut node = &mut root;
        for (depth, key) in path.iter().enumerate() {
            let is_map_parent =
                matches!(key.as_str(), "data" | "labels" | "annotations") && depth + 1 < path.len();
            let entry = node
                .entry(format!("f:{key}"))
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(child) = entry else { break };
            if is_map_parent {
                child.insert(".".to_owned(), json!({}));
            }
            node = child;
        }
    }
    Value::Object(root)
}

/// The JSON path as the API server prints it in conflicts: `.data.key`.
pub fn dotted(path: &[String]) -> String {
    path.iter().map(|k| format!(".{k}")).collect()
}

/// Ownership after a non-apply write: the writer takes every field it changed, from whoever
/// owned it; removed fields are owned by nobody.
pub fn record_update(
    managers: &mut Vec<Manager>,
    old: Option<&Value>,
    new: &Value,
    manager: &str,
    api_version: &str,
    now: &str,
) {
    let old_leaves = old.map(leaves).unwrap_or_default();
    let new_leaves = leaves(new);
    let changed: FieldSet = new_leaves
        .iter()
        .filter(|path| old.and_then(|o| get(o, path)) != get(new, path))
        .cloned()
        .collect();
    let removed: FieldSet = old_leaves.difference(&new_leaves).cloned().collect();
    let is_self = |m: &Manager| m.name == manager && m.operation == Operation::Update;
    for m in managers.iter_mut() {
        let own = is_self(m);
        m.fields
            .retain(|p| !removed.contains(p) && (own || !changed.contains(p)));
    }
    if !changed.is_empty() {
        match managers.iter_mut().find(|m| is_self(m)) {
            Some(own) => {
                own.fields.extend(changed);
                own.time = now.to_owned();
            }
            None => managers.push(Manager {
                name: manager.to_owned(),
                operation: Operation::Update,
                api_version: api_version.to_owned(),
                time: now.to_owned(),
                fields: changed,
            }),
        }
    }
    managers.retain(|m| !m.fields.is_empty());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn p(parts: &[&str]) -> FieldPath {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn leaves_skip_identity_and_status() {
        let object = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "x", "resourceVersion": "3", "labels": {"a": "b"}},
            "data": {"k": "dg=="}, "type": "Opaque", "status": {"x": 1}
        });
        let expected: FieldSet = [
            p(&["metadata", "labels", "a"]),
            p(&["data", "k"]),
            p(&["type"]),
        ]
        .into();
        assert_eq!(leaves(&object), expected);
    }

    #[test]
    fn remove_prunes_empty_maps_but_not_metadata() {
        let mut object = json!({"metadata": {"labels": {"a": "b"}}, "data": {"k": "v"}});
        remove(&mut object, &p(&["data", "k"]));
        remove(&mut object, &p(&["metadata", "labels", "a"]));
        assert_eq!(object, json!({"metadata": {}}));
    }

    #[test]
    fn merge_patch_semantics() {
        let mut object = json!({"a": {"b": 1, "c": 2}, "d": [1]});
        merge(&mut object, &json!({"a": {"b": null, "e": 3}, "d": [2]}));
        assert_eq!(object, json!({"a": {"c": 2, "e": 3}, "d": [2]}));
    }

    #[test]
    fn fields_v1_marks_maps() {
        let set: FieldSet = [p(&["data", "k"]), p(&["metadata", "labels", "a"])].into();
        assert_eq!(
            fields_v1(&set),
            json!({"f:data": {".": {}, "f:k": {}}, "f:metadata": {"f:labels": {".": {}, "f:a": {}}}})
        );
    }
}
