//! Everything that knows Kubernetes: finding the cluster, the Secret that holds the licenses,
//! the cluster's identity, restarting the control plane, and explaining client errors.

pub mod connect;
pub mod errors;
pub mod restart;
pub mod secret;

use license_core::{DeploymentId, InvalidDeploymentId};
use uuid::Uuid;

/// The UUIDv5 namespace of derived deployment ids.
fn id_namespace() -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        b"https://coder.com/licensor/deployment-id",
    )
}

/// This deployment's id when none is stored: a UUIDv5 of the cluster's identity (the
/// `kube-system` namespace uid) and the namespace, so the same install gets the same id
/// every time, and two installs in one cluster get two.
pub fn derive_deployment_id(
    kube_system_uid: &str,
    namespace: &str,
) -> Result<DeploymentId, InvalidDeploymentId> {
    let name = format!("{kube_system_uid}/{namespace}");
    DeploymentId::parse(&Uuid::new_v5(&id_namespace(), name.as_bytes()).to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let derive = |uid, ns| derive_deployment_id(uid, ns).unwrap();
        let uid = "5f0c6d3e-1111-4222-8333-944444444444";
        let a = derive(uid, "coder");
        assert_eq!(a, derive(uid, "coder"));
        assert_eq!(a.as_str(), "787a2f88-ce47-504f-9832-63cd25b8a099");
        assert_ne!(a, derive(uid, "other"));
        assert_ne!(a, derive("another-cluster", "coder"));
    }
}

#[cfg(test)]
#[path = "tests/requests.rs"]
mod mock_tests;
