//! `--file-store DIR`: the same commands on a plain machine, files instead of a Secret.

use crate::support::*;
use license_core::LicenseId;
use std::os::unix::fs::PermissionsExt as _;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_same_commands_on_a_directory() {
    let env = Env::new();
    let store = env.dir.path().join("store");
    let dir = store.to_str().unwrap();
    let cli = |args: &[&str]| {
        let mut full = vec!["--file-store", dir];
        full.extend_from_slice(args);
        run_cli(&full, None, env.dir.path())
    };
    let trust = ["--trust-key", env.public.as_str(), "--now", NOW];
    let first = env.license(&claims(1, 10));
    let out = cli(&[&["apply", "-f", &first][..], &trust].concat()).expect(0);
    assert!(
        out.stdout
            .contains(&format!("installed in directory {dir}")),
        "{}",
        out.stdout
    );
    let path = store.join(key_of(1));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        std::fs::read_to_string(&first).unwrap().trim()
    );
    assert_eq!(mode(&path), 0o644);
    assert_eq!(mode(&store), 0o755);

    let again = cli(&[&["apply", "-f", &first][..], &trust].concat()).expect(0);
    assert!(
        again.stdout.contains("already installed"),
        "{}",
        again.stdout
    );
    cli(&[&["apply", "-f", &env.license(&claims(2, 20))][..], &trust].concat()).expect(0);

    let verify = cli(&[&["verify"][..], &trust].concat()).expect(0);
    assert!(
        verify.stdout.starts_with("valid: license"),
        "{}",
        verify.stdout
    );
    let inspect = cli(&[&["inspect", "-o", "json"][..], &trust].concat()).expect(0);
    let report: serde_json::Value = serde_json::from_str(&inspect.stdout).unwrap();
    assert_eq!(report["licenses"].as_array().unwrap().len(), 2);

    let id = cli(&["deployment-id"]).expect(0);
    assert!(id.stderr.contains("generated and stored"), "{}", id.stderr);
    let stored = std::fs::read_to_string(store.join("deployment-id")).unwrap();
    assert_eq!(id.stdout.trim(), stored);
    assert_eq!(cli(&["deployment-id"]).expect(0).stdout, id.stdout);

    let one = LicenseId::from_u128(1).to_string();
    cli(&["remove", &one]).expect(0);
    assert!(!path.exists());
    let again = cli(&["remove", &one]).expect(0);
    assert!(again.stdout.contains("already removed"), "{}", again.stdout);
    let two = LicenseId::from_u128(2).to_string();
    let last = cli(&["remove", &two, "-o", "json"]).expect(0);
    let report: serde_json::Value = serde_json::from_str(&last.stdout).unwrap();
    assert_eq!(report["store_deleted"], false, "the directory itself stays");
    assert!(store.join("deployment-id").exists());

    let dry = cli(&[
        &["apply", "-f", &first, "--dry-run", "-o", "json"][..],
        &trust,
    ]
    .concat())
    .expect(0);
    assert!(dry.stdout.contains(&key_of(1)), "{}", dry.stdout);
    assert!(!path.exists());

    let names: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temporary files left: {names:?}"
    );

    std::fs::write(store.join("notes.txt"), "hello").unwrap();
    let out = cli(&[&["verify"][..], &trust].concat());
    out.expect_error("holds \"notes.txt\", which is not a license");

    cli(&[&["apply", "-f", &first, "--restart", "coder"][..], &trust].concat())
        .expect_error("--restart restarts a Deployment, and --file-store has no cluster");
    let conflict = cli(&["--kubeconfig", "x", "inspect"]).expect(2);
    assert!(
        conflict.stderr.contains("cannot be used with"),
        "{}",
        conflict.stderr
    );
}

#[test]
fn completions_and_man_page() {
    let home = tempfile::tempdir().unwrap();
    let bash = run_cli(&["completions", "bash"], None, home.path()).expect(0);
    assert!(bash.stdout.contains("coder-license"), "{}", bash.stdout);
    assert!(bash.stdout.contains("deployment-id"));
    let zsh = run_cli(&["completions", "zsh"], None, home.path()).expect(0);
    assert!(
        zsh.stdout.starts_with("#compdef coder-license"),
        "{}",
        zsh.stdout
    );
    let man = run_cli(&["man"], None, home.path()).expect(0);
    assert!(
        man.stdout.starts_with(".ie"),
        "{}",
        &man.stdout[..man.stdout.len().min(200)]
    );
    assert!(
        man.stdout.contains(".TH coder-license 1"),
        "{}",
        &man.stdout[..200]
    );
    let pages = home.path().join("man");
    run_cli(
        &["man", "--out-dir", pages.to_str().unwrap()],
        None,
        home.path(),
    )
    .expect(0);
    assert!(pages.join("coder-license-apply.1").exists());
}
