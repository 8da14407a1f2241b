//! What the API server's strategies do to every write: check the object's identity
//! (`apiVersion`, `kind`, name, namespace), validate and default Secrets, and stamp new
//! objects with uid, resourceVersion and creation time.

use crate::kinds::{Kind, SECRETS};
use crate::status::{self, Reply, Target};
use base64::Engine as _;
use serde_json::{Map, Value, json};

fn target<'a>(kind: &'a Kind, name: Option<&'a str>) -> Target<'a> {
    Target {
        resource: kind.resource,
        group: kind.group,
        name,
    }
}

pub(crate) fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Checks `apiVersion`, `kind`, name and namespace of a body; returns the name.
pub(crate) fn check_identity(
    kind: &Kind,
    namespace: &str,
    body: &mut Value,
    url_name: Option<&str>,
) -> Result<String, Reply> {
    let Value::Object(map) = body else {
        return Err(status::bad_request(format!(
            "the body must be a {} object",
            kind.kind
        )));
    };
    for (field, expected) in [("apiVersion", kind.api_version), ("kind", kind.kind)] {
        match map.get(field).and_then(Value::as_str) {
            Some(found) if found == expected => {}
            Some(found) => {
                return Err(status::bad_request(format!(
                    "the API version in the data ({found}) does not match the expected API version ({expected})"
                )));
            }
            None => {
                return Err(status::bad_request(format!(
                    "{field} must be set to {expected:?}"
                )));
            }
        }
    }
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let body_name = meta.get("name").and_then(Value::as_str).map(str::to_owned);
    let name = match (body_name, url_name) {
        (Some(body_name), Some(url_name)) if body_name != url_name => {
            return Err(status::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({url_name})"
            )));
        }
        (Some(name), _) => name,
        (None, Some(url_name)) => url_name.to_owned(),
        (None, None) => {
            return Err(status::invalid(
                kind.kind,
                "",
                &target(kind, None),
                "metadata.name",
                "Required value: name or generateName is required".to_owned(),
            ));
        }
    };
    if let Some(ns) = meta.get("namespace").and_then(Value::as_str)
        && ns != namespace
    {
        return Err(status::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
                .to_owned(),
        ));
    }
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if !valid {
        return Err(status::invalid(
            kind.kind,
            &name,
            &target(kind, Some(&name)),
            "metadata.name",
            format!(
                "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
            ),
        ));
    }
    Ok(name)
}

pub(crate) fn fold_string_data(body: &mut Value) -> Result<(), Reply> {
    let Some(Value::Object(string_data)) =
        body.as_object_mut().and_then(|m| m.remove("stringData"))
    else {
        return Ok(());
    };
    for (key, value) in string_data {
        let text = value
            .as_str()
            .ok_or_else(|| status::bad_request(format!("stringData[{key}] must be a string")))?;
        body["data"][key] = json!(base64::engine::general_purpose::STANDARD.encode(text));
    }
    Ok(())
}

/// Validates and completes an object as the API server's strategies do.
pub(crate) fn normalize(kind: &Kind, name: &str, object: &mut Value) -> Result<(), Reply> {
    if kind != &SECRETS {
        return Ok(());
    }
    fold_string_data(object)?;
    if object.get("type").is_none() {
        object["type"] = json!("Opaque");
    }
    let mut total = 0;
    if let Some(data) = object.get("data") {
        let Value::Object(data) = data else {
            return Err(status::bad_request("data must be an object".to_owned()));
        };
        for (key, value) in data {
            let key_ok = !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
            if !key_ok {
                return Err(status::invalid(
                    "Secret",
                    name,
                    &target(&SECRETS, Some(name)),
                    &format!("data[{key}]"),
                    format!(
                        "Invalid value: {key:?}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
                    ),
                ));
            }
            let decoded = value
                .as_str()
                .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
                .ok_or_else(|| {
                    status::bad_request(format!(
                        "Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data in data[{key}]"
                    ))
                })?;
            total += decoded.len();
        }
    }
    if total > 1024 * 1024 {
        return Err(status::invalid(
            "Secret",
            name,
            &target(&SECRETS, Some(name)),
            "data",
            "Too long: must have at most 1048576 bytes".to_owned(),
        ));
    }
    Ok(())
}

pub(crate) fn stamp(object: &mut Value, namespace: &str, name: &str, rv: &str, now: &str) {
    let meta = &mut object["metadata"];
    meta["name"] = json!(name);
    if !namespace.is_empty() {
        meta["namespace"] = json!(namespace);
    }
    meta["uid"] = json!(uuid::Uuid::new_v4().to_string());
    meta["resourceVersion"] = json!(rv);
    meta["creationTimestamp"] = json!(now);
    if object.get("spec").is_some() && object.pointer("/metadata/generation").is_none() {
        object["metadata"]["generation"] = json!(1);
    }
}
