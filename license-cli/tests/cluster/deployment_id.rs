//! `deployment-id`: derived from the cluster's identity, stored, stable.

use crate::support::*;
use license_kube_double::{KubeDouble, Options};
use serde_json::Value;

#[test]
fn derived_from_the_cluster_identity_stored_and_stable() {
    let env = Env::new();
    let expected =
        license_cli::cluster::derive_deployment_id(env.double.kube_system_uid(), NS).unwrap();
    let first = env.cli(&["deployment-id"]).expect(0);
    assert_eq!(first.stdout, format!("{expected}\n"));
    assert!(
        first.stderr.contains("derived from the cluster's identity"),
        "{}",
        first.stderr
    );
    assert_eq!(env.data()["deployment-id"], expected.as_str());
    let kubectl = env.kubectl_secret();
    assert_eq!(decode_data(&kubectl)["deployment-id"], expected.as_str());

    let second = env.cli(&["deployment-id", "-o", "json"]).expect(0);
    let shown: Value = serde_json::from_str(&second.stdout).unwrap();
    assert_eq!(shown["deployment_id"], expected.as_str());
    assert_eq!(shown["source"], "stored");

    // Another namespace of the same cluster is another deployment.
    env.double.create_namespace("coder-2");
    let other = env.cli(&["-n", "coder-2", "deployment-id"]).expect(0);
    assert_ne!(other.stdout.trim(), expected.as_str());
}

#[test]
fn the_same_cluster_identity_gives_the_same_id() {
    let uid = "7b1d2c4e-0000-4000-8000-000000000001";
    let ids: Vec<String> = (0..2)
        .map(|_| {
            let double = KubeDouble::start_with(Options {
                kube_system_uid: Some(uid.to_owned()),
            })
            .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let kubeconfig = dir.path().join("kubeconfig");
            double.write_kubeconfig(&kubeconfig, None).unwrap();
            run_cli(
                &[
                    "--kubeconfig",
                    kubeconfig.to_str().unwrap(),
                    "deployment-id",
                ],
                None,
                dir.path(),
            )
            .expect(0)
            .stdout
        })
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(
        ids[0].trim(),
        license_cli::cluster::derive_deployment_id(uid, "default")
            .unwrap()
            .as_str()
    );
}
