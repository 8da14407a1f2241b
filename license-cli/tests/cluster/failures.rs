//! Every cluster failure: one line naming the object and what to do, exit 2, nothing lost.

use crate::support::*;
use license_kube_double::SECRETS;
use serde_json::json;

#[test]
fn no_kubeconfig() {
    let home = tempfile::tempdir().unwrap();
    run_cli(&["verify"], None, home.path()).expect_error(
        "no kubeconfig: pass --kubeconfig FILE, set KUBECONFIG, or create ~/.kube/config",
    );
    let missing = home.path().join("missing");
    run_cli(
        &["--kubeconfig", missing.to_str().unwrap(), "inspect"],
        None,
        home.path(),
    )
    .expect_error(&format!("cannot read kubeconfig {}", missing.display()));
}

#[test]
fn unreachable_api_server() {
    let env = Env::new();
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let text = std::fs::read_to_string(&env.kubeconfig)
        .unwrap()
        .replace(&env.double.server(), &format!("https://127.0.0.1:{port}"));
    let kubeconfig = env.write("unreachable.kubeconfig", &text);
    let file = env.license(&claims(1, 10));
    let out = run_cli(
        &[
            "--kubeconfig",
            &kubeconfig,
            "apply",
            "-f",
            &file,
            "--trust-key",
            &env.public,
            "--now",
            NOW,
        ],
        None,
        env.dir.path(),
    );
    out.expect_error(&format!(
        "cannot reach the Kubernetes API server https://127.0.0.1:{port} (context admin)"
    ));
}

#[test]
fn an_api_server_with_an_untrusted_certificate() {
    let env = Env::new();
    let other = license_kube_double::KubeDouble::start().unwrap();
    let text = std::fs::read_to_string(&env.kubeconfig).unwrap();
    let theirs = other.kubeconfig(Some(NS));
    let ca = |config: &str| {
        config
            .lines()
            .find(|l| l.contains("certificate-authority-data"))
            .unwrap()
            .to_owned()
    };
    let kubeconfig = env.write(
        "wrong-ca.kubeconfig",
        &text.replace(&ca(&text), &ca(&theirs)),
    );
    run_cli(
        &["--kubeconfig", &kubeconfig, "inspect"],
        None,
        env.dir.path(),
    )
    .expect_error("cannot reach the Kubernetes API server");
}

#[test]
fn wrong_context() {
    let env = Env::new();
    env.cli(&["--context", "nope", "inspect"])
        .expect_error("context \"nope\" is not in kubeconfig");
}

#[test]
fn missing_namespace() {
    let env = Env::new();
    env.cli(&["-n", "missing", "inspect"])
        .expect_error("namespace missing does not exist on");
    env.apply(&env.license(&claims(1, 10)), &["-n", "missing"])
        .expect_error("namespace missing does not exist");
    env.cli(&["-n", "Not_A_Namespace", "inspect"]).expect(2);
}

#[test]
fn rbac_forbidden() {
    let env = Env::new();
    let file = env.license(&claims(1, 10));
    env.apply(&file, &["--context", "reader"]).expect_error(
        "not allowed to create secret coder/coder-license: secrets is forbidden: User \"reader\" cannot create resource \"secrets\"",
    );
    assert!(env.secret().is_none());
    env.apply(&file, &[]).expect(0);
    let one = license_core::LicenseId::from_u128(1).to_string();
    env.cli(&["--context", "reader", "remove", &one])
        .expect_error("not allowed to delete secret coder/coder-license");
    env.apply(&env.license(&claims(2, 10)), &[]).expect(0);
    env.cli(&["--context", "reader", "remove", &one])
        .expect_error("not allowed to patch secret coder/coder-license");
    env.judge("inspect", &["--context", "nobody"])
        .expect_error("not allowed to get secret coder/coder-license");
    env.cli(&[
        "--context",
        "namespace-admin",
        "-n",
        "coder",
        "deployment-id",
    ])
    .expect_error("not allowed to get namespace kube-system");
    // The reader may read.
    env.judge("verify", &["--context", "reader"]).expect(0);
    assert!(env.data().contains_key(&key_of(1)));
}

#[test]
fn unauthenticated() {
    let env = Env::new();
    env.cli(&["--context", "anonymous", "inspect"])
        .expect_error("rejected the credentials of context anonymous (401 Unauthorized)");
}

#[test]
fn a_secret_not_managed_by_coder_license_is_never_touched() {
    let env = Env::new();
    env.double
        .create(
            &SECRETS,
            NS,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": SECRET},
                   "data": {"password": "aHVudGVyMg=="}}),
        )
        .unwrap();
    let before = env.secret().unwrap();
    env.apply(&env.license(&claims(1, 10)), &[]).expect_error(
        "secret coder/coder-license exists but is not managed by coder-license (it has no label app.kubernetes.io/managed-by)",
    );
    env.judge("verify", &[])
        .expect_error("is not managed by coder-license");
    env.cli(&["remove", &license_core::LicenseId::from_u128(1).to_string()])
        .expect_error("is not managed by coder-license");
    assert_eq!(env.secret().unwrap(), before);
}

#[test]
fn a_secret_with_data_that_is_not_a_license() {
    let env = Env::new();
    env.apply(&env.license(&claims(1, 10)), &[]).expect(0);
    env.double
        .patch(
            &SECRETS,
            NS,
            SECRET,
            &json!({"data": {"notes.txt": "aGk="}}),
            "kubectl-edit",
        )
        .unwrap();
    let before = env.secret().unwrap();
    env.judge("inspect", &[])
        .expect_error("secret coder/coder-license holds \"notes.txt\", which is not a license");
    env.apply(&env.license(&claims(2, 10)), &[])
        .expect_error("holds \"notes.txt\"");
    assert_eq!(env.secret().unwrap(), before);
    env.double
        .patch(
            &SECRETS,
            NS,
            SECRET,
            &json!({"data": {"notes.txt": null, "deployment-id": "bm8gc3BhY2VzIGFsbG93ZWQ="}}),
            "kubectl-edit",
        )
        .unwrap();
    env.judge("verify", &[])
        .expect_error("holds a deployment-id that is not a deployment id");
}
