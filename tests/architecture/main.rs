//! The shape of the code, checked: no module of `license-server` or `license-cli` uses a
//! module that uses it back, and the server's layers point one way (`api` → `service` →
//! `store`; `service` knows neither axum nor sqlx; `store` knows nothing above it).
//!
//! The check reads the sources as text: it collects every `use` and every `crate::`,
//! `super::` and `self::` path outside comments, strings and `#[cfg(test)]` code, resolves
//! each to the file of the module it names (following `pub use` re-exports to the file that
//! defines the item), and looks for cycles among files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod graph;
mod source;

use graph::Graph;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_owned()
}

fn assert_acyclic(crate_dir: &str) -> Graph {
    let graph = Graph::of_crate(&workspace().join(crate_dir).join("src"));
    assert!(
        graph.files() > 10,
        "{crate_dir}: only {} files read; is the path right?",
        graph.files()
    );
    let cycles = graph.cycles();
    assert!(
        cycles.is_empty(),
        "{crate_dir}: modules that use each other (each line: a cycle, then the uses):\n{}",
        cycles.join("\n")
    );
    graph
}

#[test]
fn no_module_of_the_server_uses_a_module_that_uses_it_back() {
    let graph = assert_acyclic("license-server");
    // The checker must see real edges, or the assertion above proves nothing.
    assert!(graph.has_edge("api/licenses.rs", "service/requests.rs"));
    assert!(graph.has_edge("service/licenses.rs", "store/licenses.rs"));
    assert!(
        graph.has_edge("store/accounts.rs", "store/db.rs"),
        "re-exports resolve"
    );
}

#[test]
fn no_module_of_the_cli_uses_a_module_that_uses_it_back() {
    assert_acyclic("license-cli");
}

#[test]
fn the_server_layers_point_down() {
    let graph = Graph::of_crate(&workspace().join("license-server/src"));
    let rules: &[(&str, &[&str])] = &[
        // (files under, must not use)
        (
            "store/",
            &[
                "api/",
                "service/",
                "app.rs",
                "commands/",
                "mail/",
                "metrics.rs",
            ],
        ),
        ("service/", &["api/", "app.rs", "commands/"]),
        ("api/", &["app.rs", "commands/"]),
        ("mail/", &["api/", "service/", "app.rs", "commands/"]),
        ("metrics.rs", &["api/", "service/", "app.rs", "commands/"]),
    ];
    let mut broken = Vec::new();
    for (from, forbidden) in rules {
        for (source, target) in graph.edges() {
            if source.starts_with(from) && forbidden.iter().any(|f| target.starts_with(f)) {
                broken.push(format!("{source} uses {target}"));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "layers used upwards:\n{}",
        broken.join("\n")
    );
    let mut foreign = Vec::new();
    for (file, text) in graph.sources() {
        let crates: &[&str] = if file.starts_with("service/") {
            &["axum", "sqlx", "hyper", "tower"]
        } else if file.starts_with("store/") {
            &["axum", "hyper", "tower", "lettre"]
        } else {
            &[]
        };
        for name in crates {
            if source::mentions_crate(text, name) {
                foreign.push(format!("{file} uses {name}"));
            }
        }
    }
    assert!(foreign.is_empty(), "{}", foreign.join("\n"));
}

#[test]
fn the_checker_finds_a_cycle_and_follows_re_exports() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub mod b;\n").unwrap();
    std::fs::write(
        src.join("a/mod.rs"),
        "mod inner;\npub use inner::Thing;\n// use crate::b; in a comment is no use\n",
    )
    .unwrap();
    std::fs::write(
        src.join("a/inner.rs"),
        "use crate::b::Other;\npub struct Thing(Other);\nconst S: &str = \"crate::b\";\n",
    )
    .unwrap();
    std::fs::write(
        src.join("b.rs"),
        "use crate::a::Thing;\npub struct Other;\n",
    )
    .unwrap();
    let graph = Graph::of_crate(src);
    assert!(graph.has_edge("b.rs", "a/inner.rs"), "{:?}", graph.edges());
    assert!(!graph.has_edge("a/mod.rs", "b.rs"), "comments are not uses");
    let cycles = graph.cycles();
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(
        cycles[0].contains("a/inner.rs") && cycles[0].contains("b.rs"),
        "{cycles:?}"
    );
}

#[test]
fn the_checker_sees_paths_through_child_modules() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::create_dir_all(src.join("admin")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod admin;\n").unwrap();
    std::fs::write(
        src.join("admin/mod.rs"),
        "mod calls;\npub struct Args;\npub fn run() { calls::send(); }\n",
    )
    .unwrap();
    std::fs::write(
        src.join("admin/calls.rs"),
        "pub fn send() { let _ = std::mem::size_of::<super::Args>(); }\n",
    )
    .unwrap();
    let graph = Graph::of_crate(src);
    assert!(
        graph.has_edge("admin/mod.rs", "admin/calls.rs"),
        "{:?}",
        graph.edges()
    );
    assert_eq!(graph.cycles().len(), 1, "{:?}", graph.edges());
}
