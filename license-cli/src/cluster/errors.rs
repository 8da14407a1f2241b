//! Kubernetes client errors as one sentence that names the object and what to do.

use kube::Error;

/// Where the client connects, for messages.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The API server URL.
    pub server: String,
    /// The kubeconfig context, or `in-cluster`.
    pub context: String,
}

/// One request the CLI makes, for messages: `patch` `secrets` `secret ns/name` in `ns`.
#[derive(Debug, Clone, Copy)]
pub struct Op<'a> {
    /// The RBAC verb.
    pub verb: &'a str,
    /// The resource, as RBAC names it (`secrets`, `deployments.apps`, `namespaces`).
    pub resource: &'a str,
    /// The object, as people name it (`secret ns/name`).
    pub object: &'a str,
    /// The namespace, for namespaced resources.
    pub namespace: Option<&'a str>,
}

/// The status code of an API error, if the server answered.
pub fn status_code(error: &Error) -> Option<u16> {
    match error {
        Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// Whether the server said the namespace does not exist.
pub fn is_missing_namespace(error: &Error) -> bool {
    matches!(error, Error::Api(status) if status.code == 404
        && status.details.as_ref().is_some_and(|d| d.kind == "namespaces"))
}

/// The innermost cause of an error, which is the one that says what happened
/// ("Connection refused", "invalid peer certificate: UnknownIssuer").
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Explains a failed request in one line.
pub fn explain(error: &Error, op: Op<'_>, endpoint: &Endpoint) -> anyhow::Error {
    let Endpoint { server, context } = endpoint;
    let in_namespace = op
        .namespace
        .map(|ns| format!(" in namespace {ns}"))
        .unwrap_or_default();
    let ns_flag = op
        .namespace
        .map(|ns| format!(" -n {ns}"))
        .unwrap_or_default();
    let message = match error {
        Error::Api(status) => match status.code {
            401 => format!(
                "the API server {server} rejected the credentials of context {context} (401 Unauthorized): refresh the kubeconfig's token or certificate"
            ),
            403 => format!(
                "not allowed to {} {}: {}; ask a cluster admin for a Role granting {} on {}{in_namespace} (check with: kubectl auth can-i {} {}{ns_flag})",
                op.verb, op.object, status.message, op.verb, op.resource, op.verb, op.resource
            ),
            404 if is_missing_namespace(error) => {
                let ns = op.namespace.unwrap_or_default();
                format!(
                    "namespace {ns} does not exist on {server}: create it (kubectl create namespace {ns}) or choose another with -n"
                )
            }
            404 => format!("{} not found: {}", op.object, status.message),
            code => format!(
                "cannot {} {}: the API server answered {code} {}: {}",
                op.verb, op.object, status.reason, status.message
            ),
        },
        Error::HyperError(_) | Error::Service(_) => format!(
            "cannot reach the Kubernetes API server {server} (context {context}): {}; check that the cluster is running and that the kubeconfig points at it",
            root_cause(error)
        ),
        Error::Auth(_) => format!(
            "cannot authenticate to {server} with context {context}: {}; refresh the kubeconfig's credentials",
            root_cause(error)
        ),
        Error::SerdeError(_) => format!(
            "cannot {} {}: the API server's answer is not a valid object: {}",
            op.verb,
            op.object,
            root_cause(error)
        ),
        other => format!(
            "cannot {} {} on {server}: {}",
            op.verb,
            op.object,
            root_cause(other)
        ),
    };
    anyhow::Error::msg(message)
}
