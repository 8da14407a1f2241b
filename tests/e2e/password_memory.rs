//! Password hashing under a crowd: each argon2id hash holds 19 MiB while it runs, so the
//! licensor computes two at once and reuses their working memory. Before, 32 user creations
//! sent together raised the server's peak memory by 570 MiB, and glibc kept it; sign-in
//! attempts do the same work, so anyone who can reach the console could do it. Bounding the
//! concurrency alone still left 555 MiB: each fresh 19 MiB block grew the heap.

use license_e2e::{Server, run};
use serde_json::json;

/// argon2id's memory per hash with the crate's default parameters, in KiB.
const HASH_KIB: u64 = 19 * 1024;
/// Requests that each hash a password, sent at once.
const CROWD: usize = 32;

/// The process's peak resident memory (`VmHWM`), in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|line| line.starts_with("VmHWM:"))
        .unwrap_or_else(|| panic!("no VmHWM in /proc/{pid}/status:\n{status}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_crowd_of_password_hashes_does_not_multiply_the_servers_memory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let created = run(
        "license-server",
        &["token", "create", "--name", "desk", "--data-dir", data],
    );
    assert_eq!(created.code, Some(0), "{}", created.stderr);
    let token = created.stdout.split_whitespace().last().unwrap().to_owned();
    let server = Server::start(&["--data-dir", data]);
    let http = reqwest::blocking::Client::new();
    let before = peak_kib(server.pid());
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let sent: Vec<_> = (0..CROWD)
            .map(|n| {
                let (http, server, token) = (&http, &server, &token);
                scope.spawn(move || {
                    http.post(server.url("/api/v1/users"))
                        .bearer_auth(token)
                        .json(&json!({
                            "name": format!("person-{n}"),
                            "role": "viewer",
                            "password": format!("correct horse battery staple {n}"),
                        }))
                        .send()
                        .unwrap()
                        .status()
                        .as_u16()
                })
            })
            .collect();
        sent.into_iter().map(|s| s.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let grown = peak_kib(server.pid()).saturating_sub(before);
    // Two hashes' memory and some change (41 MiB measured), not one per request.
    assert!(
        grown < 4 * HASH_KIB,
        "the peak grew by {grown} KiB while {CROWD} passwords were hashed: the memory of more \
         than 4 hashes of {HASH_KIB} KiB"
    );
    assert_eq!(server.terminate(), Some(0));
}
