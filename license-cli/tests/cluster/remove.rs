//! `remove`: one data key at a time, the Secret when it was the last, already removed is
//! not an error; the removal is recorded while the Secret stays.

use crate::support::*;
use license_core::LicenseId;

#[test]
fn remove_keeps_the_others_and_deletes_the_secret_with_the_last() {
    let env = Env::new();
    env.apply(&env.license(&claims(1, 10)), &[]).expect(0);
    env.apply(&env.license(&claims(2, 10)), &[]).expect(0);
    let one = LicenseId::from_u128(1).to_string();
    let two = LicenseId::from_u128(2).to_string();

    let out = env.cli(&["remove", &one]).expect(0);
    assert_eq!(
        out.stdout,
        format!("license {one} removed from secret coder/coder-license; 1 license(s) remain\n")
    );
    let data = decode_data(&env.kubectl_secret());
    let keys: Vec<&String> = data.keys().collect();
    // The removal is recorded, so that license sync (checkin) does not install it again.
    assert_eq!(keys, [&key_of(2), "removed-licenses"]);
    assert_eq!(data["removed-licenses"], format!("{one}\n"));

    let again = env.cli(&["remove", &one]).expect(0);
    assert!(
        again
            .stdout
            .contains("is not installed in secret coder/coder-license (already removed)"),
        "{}",
        again.stdout
    );

    let last = env.cli(&["remove", &two, "-o", "json"]).expect(0);
    let report: serde_json::Value = serde_json::from_str(&last.stdout).unwrap();
    assert_eq!(report["action"], "removed");
    assert_eq!(report["store_deleted"], true);
    assert!(env.secret().is_none());
    let gone = env.kubectl(&["get", "secret", SECRET, "-n", NS]).expect(1);
    assert!(gone.stderr.contains("NotFound"), "{}", gone.stderr);

    let nothing = env.cli(&["remove", &two]).expect(0);
    assert!(
        nothing.stdout.contains("already removed"),
        "{}",
        nothing.stdout
    );
}

#[test]
fn the_secret_stays_while_it_holds_the_deployment_id() {
    let env = Env::new();
    env.cli(&["deployment-id"]).expect(0);
    env.apply(&env.license(&claims(3, 10)), &[]).expect(0);
    let out = env
        .cli(&["remove", &LicenseId::from_u128(3).to_string()])
        .expect(0);
    assert!(
        out.stdout.contains("keeps this deployment's id"),
        "{}",
        out.stdout
    );
    assert_eq!(
        env.data().keys().collect::<Vec<_>>(),
        ["deployment-id", "removed-licenses"]
    );
}

#[test]
fn remove_needs_a_license_id() {
    let env = Env::new();
    let out = env.cli(&["remove", "not-a-uuid"]).expect(2);
    assert!(out.stderr.contains("is not a license id"), "{}", out.stderr);
}
