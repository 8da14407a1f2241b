//! License sync end to end: the vendor reissues a license with a later expiry, and the
//! deployment's next `coder-license checkin` installs it (nobody runs `apply`); `verify`
//! shows the new expiry. A license the admin removed stays removed; a pushed token tampered
//! with on the way is refused and the installed licenses stay as they were. On the embedded
//! SQLite default with a file store, and on Postgres with a cluster (the Kubernetes API
//! double) and `--restart`.

use license_e2e::{PostgresDb, Server, binary};
use license_kube_double::{DEPLOYMENTS, KubeDouble, SECRETS};
use serde_json::{Value, json};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};

/// `coder-license` with `args`; returns (code, stdout, stderr).
fn coder(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary("coder-license"))
        .args(args)
        // Only the keys the test names are trusted.
        .env_remove("CODER_LICENSE_TRUST_KEY")
        .env("XDG_CONFIG_HOME", "/nonexistent/coder-license-e2e")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(result: (i32, String, String), what: &str) -> String {
    assert_eq!(result.0, 0, "{what}: {}\n{}", result.1, result.2);
    result.1
}

/// Where the deployment keeps its licenses.
enum Place<'a> {
    Files(&'a Path),
    Cluster(&'a Path, &'a KubeDouble),
}

impl Place<'_> {
    fn args(&self) -> Vec<String> {
        match self {
            Place::Files(dir) => vec!["--file-store".into(), dir.display().to_string()],
            Place::Cluster(kubeconfig, _) => {
                vec!["--kubeconfig".into(), kubeconfig.display().to_string()]
            }
        }
    }

    /// The license ids installed, from the store itself.
    fn installed(&self) -> Vec<String> {
        let names: Vec<String> = match self {
            Place::Files(dir) => std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect(),
            Place::Cluster(_, double) => double
                .object(&SECRETS, "coder", "coder-license")
                .map(|s| s["data"].as_object().unwrap().keys().cloned().collect())
                .unwrap_or_default(),
        };
        let mut ids: Vec<String> = names
            .iter()
            .filter_map(|n| n.strip_prefix("license-")?.strip_suffix(".jwt"))
            .map(str::to_owned)
            .collect();
        ids.sort();
        ids
    }
}

/// A man in the middle between the deployment and the licensor that breaks the signature of
/// every license a check-in answer pushes.
fn tampering_proxy(upstream: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            relay(stream, &upstream);
        }
    });
    base
}

fn relay(stream: TcpStream, upstream: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap().to_owned();
    let path = parts.next().unwrap().to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    let client = reqwest::blocking::Client::new();
    let request = match method.as_str() {
        "POST" => client
            .post(format!("{upstream}{path}"))
            .header("content-type", "application/json")
            .body(body),
        _ => client.get(format!("{upstream}{path}")),
    };
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let mut answer: Value = response.json().unwrap();
    if path == "/api/v1/checkins"
        && let Some(renewals) = answer["renewals"].as_array_mut()
    {
        for renewal in renewals {
            let token = renewal["token"].as_str().unwrap();
            let signature_at = token.rfind('.').unwrap() + 5;
            let mut bytes = token.as_bytes().to_vec();
            bytes[signature_at] = if bytes[signature_at] == b'A' {
                b'B'
            } else {
                b'A'
            };
            renewal["token"] = json!(String::from_utf8(bytes).unwrap());
        }
    }
    let text = answer.to_string();
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    )
    .unwrap();
}

fn license_sync(database: &[&str], place: &Place<'_>, dir: &Path) {
    let data = dir.join("licensor").display().to_string();
    let mut token_args = vec!["token", "create", "--name", "desk", "--data-dir", &data];
    token_args.extend_from_slice(database);
    let created = license_e2e::run("license-server", &token_args);
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    let token = created.stdout.split_whitespace().last().unwrap().to_owned();
    let mut serve_args = vec!["--data-dir", data.as_str()];
    serve_args.extend_from_slice(database);
    let server = Server::start(&serve_args);
    let licensor = server.base.clone();
    let http = reqwest::blocking::Client::new();
    let post = |path: &str, body: Value| -> Value {
        let response = http
            .post(server.url(path))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .unwrap();
        assert_eq!(response.status(), 201, "{path}");
        response.json().unwrap()
    };
    let jwks = http
        .get(server.url("/api/v1/keys"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    let keys = dir.join("keys.json");
    std::fs::write(&keys, jwks).unwrap();
    let keys = keys.display().to_string();

    let account = post(
        "/api/v1/accounts",
        json!({ "name": "Acme", "email": "ops@acme.example" }),
    );
    let original = post(
        "/api/v1/licenses",
        json!({
            "account_id": account["id"], "email": "admin@acme.example", "feature_set": "premium",
            "user_limit": 40, "starts_at": "2026-01-01T00:00:00Z",
            "expires_at": "2030-01-01T00:00:00Z", "grace_days": 14
        }),
    );
    let l1 = original["id"].as_str().unwrap().to_owned();
    let file = dir.join("license.jwt");
    std::fs::write(&file, original["token"].as_str().unwrap()).unwrap();

    let store = place.args();
    let with_store = |args: &[&str]| -> Vec<String> {
        args.iter()
            .map(|s| (*s).to_owned())
            .chain(store.iter().cloned())
            .collect()
    };
    let run = |args: &[&str]| -> (i32, String, String) {
        let args = with_store(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        coder(&args)
    };
    let restart: &[&str] = match place {
        Place::Files(_) => &[],
        Place::Cluster(..) => &["--restart", "coder"],
    };
    let checkin_via = |base: &str| -> (i32, String, String) {
        let mut args = vec![
            "checkin",
            "--licensor",
            base,
            "--product-version",
            "2.16.0",
            "--users",
            "7",
            "--trust-key",
            &keys,
        ];
        args.extend_from_slice(restart);
        run(&args)
    };

    // Installed by hand once, when the license first came by email.
    ok(
        run(&["apply", "-f", file.to_str().unwrap(), "--trust-key", &keys]),
        "apply",
    );
    let said = ok(checkin_via(&licensor), "first checkin");
    assert!(!said.contains("renewing"), "nothing to renew yet: {said}");
    assert_eq!(place.installed(), [l1.as_str()]);

    // The vendor extends it: a reissue with a later expiry. The next check-in installs it.
    let renewed = post(
        &format!("/api/v1/licenses/{l1}/reissue"),
        json!({ "expires_at": "2031-01-01T00:00:00Z" }),
    );
    let l2 = renewed["id"].as_str().unwrap().to_owned();
    let said = ok(checkin_via(&licensor), "checkin with a renewal");
    assert!(
        said.contains(&format!(
            "license {l2} (renewing {l1}, expires 2031-01-01) installed"
        )),
        "{said}"
    );
    let mut both = vec![l1.clone(), l2.clone()];
    both.sort();
    assert_eq!(place.installed(), both, "added beside the old one");
    let verified = ok(
        run(&["verify", "--trust-key", &keys, "-o", "table"]),
        "verify",
    );
    assert!(verified.contains(&format!("LICENSE {l2}")), "{verified}");
    assert!(verified.contains("to 2031-01-01"), "{verified}");
    if let Place::Cluster(_, double) = place {
        assert!(said.contains("deployment coder/coder restarted"), "{said}");
        let restarted = double.object(&DEPLOYMENTS, "coder", "coder").unwrap();
        assert!(
            restarted["spec"]["template"]["metadata"]["annotations"]
                ["kubectl.kubernetes.io/restartedAt"]
                .is_string(),
            "{restarted}"
        );
    }
    // Installed already: the next check-in changes nothing.
    let said = ok(checkin_via(&licensor), "checkin again");
    assert!(!said.contains("installed in"), "{said}");

    // The admin removes the renewal on purpose: it is not pushed back.
    ok(run(&["remove", &l2]), "remove");
    let said = ok(checkin_via(&licensor), "checkin after remove");
    assert!(said.contains("removed here on purpose"), "{said}");
    assert_eq!(place.installed(), [l1.as_str()], "stays removed");

    // Reissued once more; on the way, someone breaks the pushed token's signature.
    let newest = post(
        &format!("/api/v1/licenses/{l2}/reissue"),
        json!({ "expires_at": "2032-01-01T00:00:00Z" }),
    );
    let l3 = newest["id"].as_str().unwrap().to_owned();
    let proxy = tampering_proxy(licensor.clone());
    let (code, out, err) = checkin_via(&proxy);
    assert_eq!(
        code, 1,
        "a tampered renewal fails the check-in: {out}\n{err}"
    );
    assert!(
        err.contains(&format!("refused: license {l3} pushed by the licensor")),
        "{err}"
    );
    assert!(err.contains("nothing was installed"), "{err}");
    assert_eq!(
        place.installed(),
        [l1.as_str()],
        "the installed set is unchanged"
    );
    // What stays installed is the original license, which the licensor reports as replaced:
    // a superseded license never grants again (the renewal the desk removed on purpose stays
    // removed, and the tampered one was refused), so the startup gate says so and why.
    let (code, out, err) = run(&["verify", "--trust-key", &keys]);
    assert_eq!(code, 1, "verify after refusal: {out}\n{err}");
    assert!(
        err.contains("was replaced by a newer license"),
        "verify names the reason: {err}"
    );

    // Untampered, it installs.
    let said = ok(checkin_via(&licensor), "checkin with the newest");
    assert!(said.contains(&format!("license {l3}")), "{said}");
    let mut now = vec![l1.clone(), l3];
    now.sort();
    assert_eq!(place.installed(), now);

    // The desk's usage report: every check-in reported the original license with 7 users.
    let usage = |format: &str| {
        let out = Command::new(binary("coder-license"))
            .args(["admin", "--licensor", &licensor, "usage", &l1, "-o", format])
            .env("LICENSOR_TOKEN", &token)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let report: Value = serde_json::from_str(&usage("json")).unwrap();
    assert_eq!(report["peak_users"], 7, "{report}");
    // One day (two, should the test run across midnight UTC).
    assert!(report["days_reported"].as_u64().unwrap() >= 1, "{report}");
    assert_eq!(
        report["deployments"].as_array().unwrap().len(),
        1,
        "{report}"
    );
    let table = usage("table");
    assert!(table.starts_with("LICENSE_ID"), "{table}");
    assert!(table.contains("\nDEPLOYMENTS\n"), "{table}");
    let csv = usage("csv");
    assert!(
        csv.starts_with("license_id,user_limit,from,to,days_reported,peak_users,peak_date,p95_users,days_over_limit\n"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("{l1},40,2026-01-01,2030-01-01,")),
        "{csv}"
    );
}

#[test]
fn a_renewal_arrives_by_checkin_on_the_embedded_default_with_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    license_sync(&[], &Place::Files(&store), dir.path());
}

#[test]
fn a_renewal_arrives_by_checkin_on_postgres_in_a_cluster() {
    let dir = tempfile::tempdir().unwrap();
    let db = PostgresDb::create();
    let double = KubeDouble::start().unwrap();
    double.create_namespace("coder");
    double.create_deployment("coder", "coder").unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    double.write_kubeconfig(&kubeconfig, Some("coder")).unwrap();
    license_sync(
        &["--database-url", &db.url],
        &Place::Cluster(&kubeconfig, &double),
        dir.path(),
    );
}
