//! The environment the cluster and preflight suites share: one Kubernetes API double, a
//! temporary directory with a kubeconfig for it, and the vendor's test key. Each suite's
//! `support.rs` includes this file and adds its own constructors and helpers to `Env`.

use license_core::SigningKey;
use license_kube_double::KubeDouble;
use std::path::PathBuf;

/// A double, a temporary directory with its kubeconfig, and the vendor's test key.
pub struct Env {
    pub double: KubeDouble,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub key: SigningKey,
    pub public: String,
}

impl Env {
    /// A fresh, empty cluster with namespace `namespace`, and a kubeconfig whose contexts use
    /// it; the vendor's key written beside it as `vendor.pub.pem`.
    pub fn with_namespace(namespace: &str) -> Self {
        let double = KubeDouble::start().expect("the double starts");
        double.create_namespace(namespace);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let kubeconfig = dir.path().join("kubeconfig");
        double
            .write_kubeconfig(&kubeconfig, Some(namespace))
            .expect("the kubeconfig is written");
        let key = SigningKey::from_seed(&[5; 32]);
        let public = dir.path().join("vendor.pub.pem");
        std::fs::write(&public, key.public_key().to_spki_pem().expect("a PEM key"))
            .expect("the key is written");
        Self {
            double,
            kubeconfig,
            key,
            public: public.display().to_string(),
            dir,
        }
    }
}
