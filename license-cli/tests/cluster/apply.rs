//! `apply`: install, idempotence, other licenses kept, renewals, refusals, dry run, restart,
//! deployment binding, and retries when the Secret changes concurrently.

use crate::support::*;
use license_core::{LicenseId, Timestamp, jws::sign_with_header};
use license_kube_double::{DEPLOYMENTS, SECRETS};
use serde_json::Value;

fn id(n: u128) -> LicenseId {
    LicenseId::from_u128(n)
}

#[test]
fn apply_installs_is_idempotent_and_keeps_other_licenses() {
    let env = Env::new();
    let first = env.license(&claims(1, 10));
    let out = env.apply(&first, &[]).expect(0);
    assert_eq!(
        out.stdout,
        format!(
            "license {} installed in secret coder/coder-license\n",
            id(1)
        )
    );
    let version = env.secret().unwrap()["metadata"]["resourceVersion"].clone();
    assert_eq!(
        env.data()[&key_of(1)],
        std::fs::read_to_string(&first).unwrap().trim()
    );

    env.double.clear_requests();
    let again = env.apply(&first, &[]).expect(0);
    assert!(
        again.stdout.contains("is already installed"),
        "{}",
        again.stdout
    );
    assert_eq!(
        env.secret().unwrap()["metadata"]["resourceVersion"],
        version
    );
    assert!(env.writes().is_empty(), "{:?}", env.writes());

    let second = env.license(&claims(2, 20));
    env.apply(&second, &["-o", "json"]).expect(0);
    let kubectl = env.kubectl_secret();
    assert_eq!(
        kubectl["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "coder-license"
    );
    assert_eq!(kubectl["type"], "Opaque");
    let keys: Vec<String> = decode_data(&kubectl).into_keys().collect();
    assert_eq!(keys, [key_of(1), key_of(2)]);
    let apply_entry = kubectl["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["manager"] == "coder-license" && m["operation"] == "Apply")
        .cloned()
        .expect("the coder-license manager applied the Secret");
    for n in [1, 2] {
        assert!(
            apply_entry["fieldsV1"]["f:data"][format!("f:{}", key_of(n))].is_object(),
            "{apply_entry}"
        );
    }
}

#[test]
fn license_from_standard_input_and_json_output() {
    let env = Env::new();
    let token = license_core::sign_license(&claims(3, 30), &env.key).unwrap();
    let kubeconfig = env.kubeconfig.display().to_string();
    let out = run_cli(
        &[
            "--kubeconfig",
            &kubeconfig,
            "apply",
            "-f",
            "-",
            "--trust-key",
            &env.public,
            "--now",
            NOW,
            "-o",
            "json",
        ],
        Some(&format!("{token}\n")),
        env.dir.path(),
    )
    .expect(0);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["action"], "installed");
    assert_eq!(report["license_id"], id(3).to_string());
    assert_eq!(report["store"], "secret coder/coder-license");
    assert_eq!(env.data()[&key_of(3)], token);
}

#[test]
fn a_license_that_starts_later_is_installed_and_reported() {
    let env = Env::new();
    let later = |n| {
        let mut claims = claims(n, 10);
        claims.nbf = Timestamp::parse_rfc3339("2027-11-27T00:00:00Z").unwrap();
        claims.license_expires = Timestamp::parse_rfc3339("2028-11-27T00:00:00Z").unwrap();
        claims.exp = claims.license_expires;
        env.license(&claims)
    };
    // The first license installed is not a renewal, whenever it starts.
    let first = later(5);
    let out = env.apply(&first, &[]).expect(0);
    assert!(
        out.stdout.contains(&format!(
            "license {} starts on 2027-11-27; it grants nothing before then",
            id(5)
        )),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("renewal"), "{}", out.stdout);
    // Beside an installed license, it is a renewal installed early.
    let file = later(4);
    let out = env.apply(&file, &[]).expect(0);
    assert!(
        out.stdout.contains(&format!(
            "license {} starts on 2027-11-27: a renewal installed early",
            id(4)
        )),
        "{}",
        out.stdout
    );
    assert!(env.data().contains_key(&key_of(4)));
    let json = env.apply(&file, &["-o", "yaml"]).expect(0);
    assert!(
        json.stdout.contains("starts_later: true"),
        "{}",
        json.stdout
    );
    assert!(
        json.stdout.contains("state: not_yet_valid"),
        "{}",
        json.stdout
    );
}

#[test]
fn a_bad_license_is_refused_before_touching_the_cluster() {
    let env = Env::new();
    let good = env.license(&claims(5, 10));
    env.apply(&good, &[]).expect(0);
    let before = env.secret().unwrap();
    env.double.clear_requests();

    // Same license id, tampered: it must never replace the good one.
    let token = std::fs::read_to_string(&good).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    let mut richer = claims(5, 10_000);
    richer.account_id = "acct-5".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        license_core::base64url::encode(&serde_json::to_vec(&richer).unwrap()),
        parts[2]
    );
    let header = format!(
        r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#,
        env.key.key_id()
    );
    let hs256 = sign_with_header(
        header.as_bytes(),
        &serde_json::to_vec(&claims(6, 1)).unwrap(),
        &env.key,
    );
    let mut expired = claims(7, 10);
    expired.license_expires = Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").unwrap();
    expired.exp = Timestamp::parse_rfc3339("2026-12-15T00:00:00Z").unwrap();
    let cases = [
        (
            env.write("tampered.jwt", &tampered),
            "signature does not match",
        ),
        (env.write("hs256.jwt", &hs256), "algorithm \"HS256\""),
        (
            env.license(&expired),
            "expired on 2026-12-01 (grace ended 2026-12-15)",
        ),
        (env.write("empty.jwt", ""), "empty"),
    ];
    for (file, reason) in cases {
        let out = env.apply(&file, &[]).expect(1);
        assert!(out.stderr.starts_with("refused: "), "{}", out.stderr);
        assert!(out.stderr.contains(reason), "{reason:?} in {}", out.stderr);
        assert!(
            out.stderr.contains("nothing was installed"),
            "{}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
    assert!(
        env.double.requests().is_empty(),
        "a refused license must not reach the cluster: {:?}",
        env.double.requests()
    );
    assert_eq!(env.secret().unwrap(), before);

    // Unknown signing key: refused offline too (no --trust-key).
    let out = env.cli(&["apply", "-f", &good, "--now", NOW]).expect(1);
    assert!(out.stderr.contains("unknown key"), "{}", out.stderr);
    assert!(env.double.requests().is_empty());
}

#[test]
fn a_license_bound_to_another_deployment_is_refused_and_the_secret_untouched() {
    let env = Env::new();
    let this =
        license_cli::cluster::derive_deployment_id(env.double.kube_system_uid(), NS).unwrap();

    let mut here = claims(8, 10);
    here.deployment_ids = vec![this.clone()];
    let out = env.apply(&env.license(&here), &[]).expect(0);
    assert!(
        out.stdout.contains(&format!(
            "deployment id {this} (derived from the cluster's identity) stored in secret coder/coder-license"
        )),
        "{}",
        out.stdout
    );
    assert_eq!(env.data()["deployment-id"], this.as_str());
    let before = env.secret().unwrap();

    let mut elsewhere = claims(9, 10);
    elsewhere.deployment_ids = vec![deployment("other-deployment")];
    env.double.clear_requests();
    let out = env.apply(&env.license(&elsewhere), &[]).expect(1);
    assert!(
        out.stderr.contains(&format!(
            "is bound to deployment other-deployment; this deployment is {this}"
        )),
        "{}",
        out.stderr
    );
    assert!(env.writes().is_empty(), "{:?}", env.writes());
    assert_eq!(env.secret().unwrap(), before);
}

#[test]
fn dry_run_prints_the_object_and_changes_nothing() {
    let env = Env::new();
    let file = env.license(&claims(10, 10));
    let out = env.apply(&file, &["--dry-run", "-o", "json"]).expect(0);
    assert!(
        out.stderr.contains("dry run: nothing was changed"),
        "{}",
        out.stderr
    );
    let object: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(object["kind"], "Secret");
    assert_eq!(object["metadata"]["name"], SECRET);
    assert_eq!(object["metadata"]["namespace"], NS);
    assert_eq!(
        object["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "coder-license"
    );
    assert_eq!(
        decode_data(&object)[&key_of(10)],
        std::fs::read_to_string(&file).unwrap().trim()
    );
    assert!(env.writes().is_empty());
    assert!(env.secret().is_none());

    let yaml = env.apply(&file, &["--dry-run"]).expect(0);
    assert!(yaml.stdout.contains("kind: Secret"), "{}", yaml.stdout);
    assert!(env.secret().is_none());
}

#[test]
fn restart_patches_the_pod_template_like_kubectl_rollout_restart() {
    let env = Env::new();
    env.double.create_deployment(NS, "coder").unwrap();
    let file = env.license(&claims(11, 10));
    let out = env.apply(&file, &["--restart", "coder"]).expect(0);
    assert!(
        out.stdout.contains("deployment coder/coder restarted"),
        "{}",
        out.stdout
    );
    let deployment = env.double.object(&DEPLOYMENTS, NS, "coder").unwrap();
    let at = deployment["spec"]["template"]["metadata"]["annotations"]
        ["kubectl.kubernetes.io/restartedAt"]
        .as_str()
        .expect("the restart annotation");
    assert!(Timestamp::parse_rfc3339(at).is_ok(), "{at}");
    assert_eq!(deployment["metadata"]["generation"], 2);
    let patch = env
        .writes()
        .into_iter()
        .find(|r| r.path.ends_with("/deployments/coder"))
        .unwrap();
    assert_eq!(patch.method, "PATCH");
    assert_eq!(
        patch.content_type.as_deref(),
        Some("application/strategic-merge-patch+json")
    );
    let query: Vec<&str> = patch.query.split('&').filter(|p| !p.is_empty()).collect();
    assert_eq!(query, ["fieldManager=coder-license"]);

    let out = env.apply(&file, &["--restart", "nope"]);
    out.expect_error(
        "deployment coder/nope not found, so nothing was restarted (the license is installed)",
    );
    assert!(env.data().contains_key(&key_of(11)));
}

#[test]
fn a_secret_changed_concurrently_is_retried_with_the_fresh_version() {
    let env = Env::new();
    env.apply(&env.license(&claims(12, 10)), &[]).expect(0);
    // apply reads the Secret once to check the binding, then once per attempt: three
    // interfering writes make the first two attempts stale.
    env.double.touch_after_reads(&SECRETS, NS, SECRET, 3);
    env.double.clear_requests();
    env.apply(&env.license(&claims(13, 10)), &[]).expect(0);
    let conflicts = env.writes().iter().filter(|r| r.code == 409).count();
    assert_eq!(conflicts, 2, "{:?}", env.writes());
    let data = env.data();
    assert!(data.contains_key(&key_of(12)) && data.contains_key(&key_of(13)));
    let annotations = &env.secret().unwrap()["metadata"]["annotations"];
    assert_eq!(
        annotations["kube-double.test/touched"], "3",
        "the other client's change is kept"
    );

    env.double.touch_after_reads(&SECRETS, NS, SECRET, 100);
    env.apply(&env.license(&claims(14, 10)), &[]).expect_error(
        "secret coder/coder-license changed 5 times while coder-license was writing it",
    );
    assert!(!env.data().contains_key(&key_of(14)));
}
