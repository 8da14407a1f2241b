//! Restarting the control plane's Deployment as `kubectl rollout restart` does: a new pod
//! template annotation, so that new pods verify the licenses at startup.

use super::errors::{self, Endpoint, Op};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

/// The annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// Sets the pod template's `restartedAt` annotation of Deployment `name` to `at` (RFC 3339).
pub async fn restart(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    at: &str,
    endpoint: &Endpoint,
) -> anyhow::Result<()> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let patch = json!({
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}
    });
    let params = PatchParams {
        field_manager: Some(super::secret::FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    let object = format!("deployment {namespace}/{name}");
    match api.patch(name, &params, &Patch::Strategic(patch)).await {
        Ok(_) => Ok(()),
        Err(e) if errors::status_code(&e) == Some(404) && !errors::is_missing_namespace(&e) => {
            Err(anyhow::anyhow!(
                "{object} not found, so nothing was restarted (the license is installed); name the control plane's Deployment (kubectl get deployments -n {namespace})"
            ))
        }
        Err(e) => Err(errors::explain(
            &e,
            Op {
                verb: "patch",
                resource: "deployments.apps",
                object: &object,
                namespace: Some(namespace),
            },
            endpoint,
        )
        .context("the license is installed, but the control plane was not restarted")),
    }
}
