//! Responses, and the `Status` bodies the real API server sends for failures, byte for byte in
//! shape: clients (kube-rs, kubectl) parse `reason`, `code` and `details`.

use serde_json::{Value, json};

/// One HTTP response of the double.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// The HTTP status code.
    pub code: u16,
    /// The JSON body.
    pub body: Value,
}

impl Reply {
    /// A 200 with `body`.
    pub fn ok(body: Value) -> Self {
        Self { code: 200, body }
    }

    /// A 201 with `body`.
    pub fn created(body: Value) -> Self {
        Self { code: 201, body }
    }
}

/// What a failure is about: the resource (plural, as in the URL), its API group and name.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The plural resource name, as the URL has it: `secrets`.
    pub resource: &'a str,
    /// The API group: empty for the core group.
    pub group: &'a str,
    /// The object's name, when there is one.
    pub name: Option<&'a str>,
}

fn failure(code: u16, reason: &str, message: String, details: Option<Value>) -> Reply {
    let mut body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    Reply { code, body }
}

fn details(target: &Target<'_>) -> Value {
    let mut details = json!({ "kind": target.resource });
    if let Some(name) = target.name {
        details["name"] = json!(name);
    }
    if !target.group.is_empty() {
        details["group"] = json!(target.group);
    }
    details
}

fn qualified(target: &Target<'_>) -> String {
    if target.group.is_empty() {
        target.resource.to_owned()
    } else {
        format!("{}.{}", target.resource, target.group)
    }
}

fn subject(target: &Target<'_>) -> String {
    match target.name {
        Some(name) => format!("{} \"{name}\"", qualified(target)),
        None => qualified(target),
    }
}

/// 404: `secrets "x" not found`.
pub fn not_found(target: &Target<'_>) -> Reply {
    failure(
        404,
        "NotFound",
        format!("{} not found", subject(target)),
        Some(details(target)),
    )
}

/// 409: `secrets "x" already exists`.
pub fn already_exists(target: &Target<'_>) -> Reply {
    failure(
        409,
        "AlreadyExists",
        format!("{} already exists", subject(target)),
        Some(details(target)),
    )
}

/// 409: the optimistic-concurrency failure of a write that carried a stale resourceVersion.
pub fn conflict(target: &Target<'_>, why: &str) -> Reply {
    failure(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {}: {why}",
            subject(target)
        ),
        Some(details(target)),
    )
}

/// 409: a server-side apply that would take fields owned by other managers, without force.
pub fn apply_conflict(target: &Target<'_>, conflicts: &[(String, String)]) -> Reply {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(manager, field)| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with \"{manager}\" using v1"),
                "field": field,
            })
        })
        .collect();
    let list: Vec<String> = conflicts
        .iter()
        .map(|(manager, field)| format!("conflict with \"{manager}\" using v1: {field}"))
        .collect();
    let mut details = details(target);
    details["causes"] = json!(causes);
    failure(
        409,
        "Conflict",
        format!(
            "Apply failed with {} conflict{}: {}",
            conflicts.len(),
            if conflicts.len() == 1 { "" } else { "s" },
            list.join("\n")
        ),
        Some(details),
    )
}

/// 403: what RBAC answers, naming the user, verb, resource and scope.
pub fn forbidden(target: &Target<'_>, user: &str, verb: &str, namespace: Option<&str>) -> Reply {
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_owned(),
    };
    failure(
        403,
        "Forbidden",
        format!(
            "{} is forbidden: User \"{user}\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
            subject(target),
            target.resource,
            target.group
        ),
        Some(details(target)),
    )
}

/// 503: an aggregated API whose server does not answer, as the aggregator reports it.
pub fn service_unavailable(group_version: &str) -> Reply {
    failure(
        503,
        "ServiceUnavailable",
        format!("the server is currently unable to handle the request ({group_version})"),
        None,
    )
}

/// 401: no or unknown bearer token.
pub fn unauthorized() -> Reply {
    failure(401, "Unauthorized", "Unauthorized".to_owned(), None)
}

/// 400: a request the server cannot decode.
pub fn bad_request(message: String) -> Reply {
    failure(400, "BadRequest", message, None)
}

/// 422: an object that fails validation.
pub fn invalid(kind: &str, name: &str, target: &Target<'_>, field: &str, why: String) -> Reply {
    let mut details = details(target);
    details["kind"] = json!(kind);
    details["causes"] = json!([{ "reason": "FieldValueInvalid", "message": why, "field": field }]);
    failure(
        422,
        "Invalid",
        format!("{kind} \"{name}\" is invalid: {field}: {why}"),
        Some(details),
    )
}

/// 405 for verbs the double does not serve on a path.
pub fn method_not_allowed() -> Reply {
    failure(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource".to_owned(),
        None,
    )
}

/// 415 for patch types the double does not implement.
pub fn unsupported_media_type(content_type: &str) -> Reply {
    failure(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json; got {content_type:?}"
        ),
        None,
    )
}

/// A successful delete: the real server answers with a `Status` of `Success`.
pub fn deleted(target: &Target<'_>, uid: &str) -> Reply {
    let mut details = details(target);
    details["uid"] = json!(uid);
    Reply::ok(json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }))
}
