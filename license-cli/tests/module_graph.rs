//! No module of `coder-license` imports from a module that imports it back, directly or
//! through others: the module graph, read from the sources, has no cycle.
//!
//! Each source file is one module (`src/store/mod.rs` is `store`, `src/cluster/secret.rs` is
//! `cluster::secret`). Its dependencies are the paths it names with `crate::`, `super::` or
//! `self::`, and the relative paths that start with a child module's name (`calls::run`),
//! resolved to the longest module they start with.
//! Declaring a child (`mod x;`) is not a dependency, and neither is the test code after a
//! file's first `#[cfg(test)]` (tests sit at the end of a file, by convention).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn module_of(src: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            // `tests` directories inside src hold test modules only.
            if path.file_name().is_some_and(|n| n != "tests") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `::`-separated paths that follow `prefix` in `code`, braces expanded one level
/// (`crate::{a, b::c}` gives `a` and `b::c`).
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(inner) = rest.strip_prefix('{') {
            let end = inner.find('}').unwrap_or(inner.len());
            for item in inner[..end].split(',') {
                found.push(segments(item.trim()));
            }
        } else {
            found.push(segments(rest));
        }
    }
    found
}

fn segments(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        parts.push(rest[..end].to_owned());
        match rest[end..].strip_prefix("::") {
            Some(next) => rest = next,
            None => break,
        }
    }
    parts
}

/// The longest known module `path` starts with.
fn resolve(path: &[String], modules: &BTreeSet<Module>) -> Option<Module> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|m| modules.contains(m))
}

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        // A file's parent: `super` of `a::b` (in a/b.rs or a/b/mod.rs) is `a`.
        let parent: Module = module[..module.len().saturating_sub(1)].to_vec();
        let mut deps = BTreeSet::new();
        let mut add = |base: &Module, path: Vec<String>| {
            let mut full = base.clone();
            full.extend(path);
            if let Some(target) = resolve(&full, &modules)
                && target != module
                && !target.is_empty()
            {
                deps.insert(target);
            }
        };
        for path in paths_after(&code, "crate::") {
            add(&Vec::new(), path);
        }
        for path in paths_after(&code, "super::") {
            add(&parent, path);
        }
        for path in paths_after(&code, "self::") {
            add(&module, path);
        }
        // A child module named by a relative path (`use calls::X`, `calls::run()`).
        let children: Vec<&Module> = modules
            .iter()
            .filter(|m| m.len() == module.len() + 1 && m.starts_with(&module))
            .collect();
        for child in children {
            let Some(name) = child.last() else { continue };
            for path in paths_after(&code, &format!("{name}::")) {
                let mut full = vec![name.clone()];
                full.extend(path);
                add(&module, full);
            }
        }
        graph.insert(module, deps);
    }
    graph
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".to_owned()
    } else {
        module.join("::")
    }
}

#[test]
fn module_graph_has_no_cycle() {
    let graph = graph();
    assert!(graph.len() > 20, "the sources were not found: {graph:?}");
    // Depth-first search; a node met again while on the stack closes a cycle.
    fn visit(
        node: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        stack: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(at) = stack.iter().position(|m| m == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.clone());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut Vec::new(), &mut done) {
            let names: Vec<String> = cycle.iter().map(name).collect();
            panic!("module cycle: {}", names.join(" -> "));
        }
    }
}

#[test]
fn the_storage_abstraction_knows_no_backend() {
    let graph = graph();
    let store = graph
        .get(&vec!["store".to_owned()])
        .expect("src/store/mod.rs");
    let names: Vec<String> = store.iter().map(name).collect();
    assert_eq!(names, ["store::contents"]);
    for backend in [
        vec!["cluster".to_owned(), "secret".to_owned()],
        vec!["files".to_owned()],
    ] {
        assert!(
            graph[&backend].contains(&vec!["store".to_owned()]),
            "{} does not implement the store's Backend",
            name(&backend)
        );
    }
}

#[test]
fn the_reader_finds_cycles() {
    // The reader itself: a fixture with a cycle through `super::` and `crate::{…}`.
    let code = "use super::{a, b::c};\nuse crate::{x::y, z};\nfn f() { crate::q::r(); }";
    assert_eq!(paths_after(code, "super::"), [vec!["a"], vec!["b", "c"]]);
    assert_eq!(
        paths_after(code, "crate::"),
        [vec!["x", "y"], vec!["z"], vec!["q", "r"]]
    );
    // `b::c` after `super::` is not a path starting with `c::`.
    assert!(paths_after("use super::b::c::d;", "c::").is_empty());
    assert_eq!(
        paths_after("fn f() { calls::run(); }", "calls::"),
        [vec!["run"]]
    );
}
