//! The graph of files and the modules they use.

use crate::source::{self, Use};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Files (paths relative to `src/`) and which files each uses.
#[derive(Debug, Default)]
pub struct Graph {
    /// Module path → file.
    modules: BTreeMap<Vec<String>, String>,
    /// File → its text.
    texts: BTreeMap<String, String>,
    /// File → the `pub use`s it makes (bound name → path as written).
    reexports: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// (from, to) → a path that makes the edge, for the report.
    edges: BTreeMap<(String, String), String>,
}

impl Graph {
    /// Reads every `.rs` file under `src` (but test-only directories) and resolves its uses.
    pub fn of_crate(src: &Path) -> Self {
        let mut graph = Graph::default();
        let mut files = Vec::new();
        collect(src, src, &mut files);
        for file in &files {
            let text = std::fs::read_to_string(src.join(file)).expect("readable source");
            if let Some(module) = module_of(file) {
                graph.modules.insert(module, file.clone());
            }
            graph.texts.insert(file.clone(), text);
        }
        for (file, text) in &graph.texts {
            let code = source::code(text);
            let exports: BTreeMap<String, Vec<String>> = source::uses(&code)
                .into_iter()
                .filter(|u| u.public)
                .map(|u| (u.name, u.path))
                .collect();
            graph.reexports.insert(file.clone(), exports);
        }
        let mut edges = BTreeMap::new();
        for (file, text) in &graph.texts {
            let Some(module) = module_of(file) else {
                continue;
            };
            let code = source::code(text);
            let mut paths: Vec<Vec<String>> = source::uses(&code)
                .into_iter()
                .map(|u: Use| u.path)
                .collect();
            paths.extend(source::inline_paths(&code));
            for path in paths {
                if let Some(target) = graph.resolve(&module, &path, 0)
                    && &target != file
                {
                    edges
                        .entry((file.clone(), target))
                        .or_insert_with(|| path.join("::"));
                }
            }
        }
        graph.edges = edges;
        graph
    }

    /// How many files were read.
    pub fn files(&self) -> usize {
        self.texts.len()
    }

    /// Every file with its text.
    pub fn sources(&self) -> impl Iterator<Item = (&String, &String)> {
        self.texts.iter()
    }

    /// Every (user, used) pair of files.
    pub fn edges(&self) -> Vec<(String, String)> {
        self.edges.keys().cloned().collect()
    }

    /// Whether `from` uses `to`.
    pub fn has_edge(&self, from: &str, to: &str) -> bool {
        self.edges.contains_key(&(from.to_owned(), to.to_owned()))
    }

    /// The file `path`, written in `module`, names: the module's file, or for an item that
    /// module re-exports, the file that defines it.
    fn resolve(&self, module: &[String], path: &[String], depth: usize) -> Option<String> {
        if depth > 8 || path.is_empty() {
            return None;
        }
        let absolute: Vec<String> = match path[0].as_str() {
            "crate" => path[1..].to_vec(),
            "super" | "self" => {
                let mut base = module.to_vec();
                let mut rest = path;
                while let Some(first) = rest.first() {
                    match first.as_str() {
                        "super" => {
                            base.pop()?;
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
                base.extend(rest.iter().cloned());
                base
            }
            first => {
                let mut child = module.to_vec();
                child.push(first.to_owned());
                if self.modules.contains_key(&child) {
                    child.extend(path[1..].iter().cloned());
                    child
                } else {
                    return None;
                }
            }
        };
        let (owner, rest) = (0..=absolute.len())
            .rev()
            .find_map(|n| {
                let prefix = &absolute[..n];
                self.modules
                    .get(prefix)
                    .map(|file| (prefix.to_vec(), file.clone(), &absolute[n..]))
            })
            .map(|(prefix, file, rest)| ((prefix, file), rest))?;
        let (owner_module, owner_file) = owner;
        if let Some(name) = rest.first()
            && let Some(exported) = self.reexports.get(&owner_file).and_then(|e| e.get(name))
        {
            let mut next = exported.clone();
            next.extend(rest[1..].iter().cloned());
            if let Some(file) = self.resolve(&owner_module, &next, depth + 1) {
                return Some(file);
            }
        }
        Some(owner_file)
    }

    /// Each set of files that use each other, with the uses that close the cycle.
    pub fn cycles(&self) -> Vec<String> {
        let nodes: BTreeSet<&String> = self.texts.keys().collect();
        let mut reports = Vec::new();
        for component in strongly_connected(&nodes, &self.edges) {
            if component.len() < 2 {
                continue;
            }
            let uses: Vec<String> = self
                .edges
                .iter()
                .filter(|((a, b), _)| component.contains(a) && component.contains(b))
                .map(|((a, b), how)| format!("    {a} -> {b} ({how})"))
                .collect();
            reports.push(format!(
                "{}\n{}",
                component.iter().cloned().collect::<Vec<_>>().join(" <-> "),
                uses.join("\n")
            ));
        }
        reports
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            // Test-only submodules (`src/x/tests/`) may use anything.
            if path.file_name().is_some_and(|n| n == "tests") {
                continue;
            }
            collect(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && let Ok(relative) = path.strip_prefix(root)
        {
            out.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// `lib.rs` → the root; `a/mod.rs` → `a`; `a/b.rs` → `a::b`; `main.rs` → none (the binary).
fn module_of(file: &str) -> Option<Vec<String>> {
    if file == "main.rs" {
        return None;
    }
    if file == "lib.rs" {
        return Some(Vec::new());
    }
    let mut parts: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    Some(parts)
}

/// Tarjan's algorithm, iteratively.
fn strongly_connected(
    nodes: &BTreeSet<&String>,
    edges: &BTreeMap<(String, String), String>,
) -> Vec<BTreeSet<String>> {
    let mut adjacency: BTreeMap<&String, Vec<&String>> = BTreeMap::new();
    for (a, b) in edges.keys() {
        adjacency.entry(a).or_default().push(b);
    }
    let mut index: BTreeMap<&String, usize> = BTreeMap::new();
    let mut low: BTreeMap<&String, usize> = BTreeMap::new();
    let mut on_stack: BTreeSet<&String> = BTreeSet::new();
    let mut stack: Vec<&String> = Vec::new();
    let mut counter = 0;
    let mut components = Vec::new();
    for &start in nodes {
        if index.contains_key(start) {
            continue;
        }
        let mut work: Vec<(&String, usize)> = vec![(start, 0)];
        while let Some((node, next)) = work.pop() {
            if next == 0 {
                index.insert(node, counter);
                low.insert(node, counter);
                counter += 1;
                stack.push(node);
                on_stack.insert(node);
            }
            let neighbours = adjacency.get(node).cloned().unwrap_or_default();
            if let Some(&child) = neighbours.get(next) {
                work.push((node, next + 1));
                if !index.contains_key(child) {
                    work.push((child, 0));
                } else if on_stack.contains(child) {
                    let l = low[node].min(index[child]);
                    low.insert(node, l);
                }
                continue;
            }
            if low[node] == index[node] {
                let mut component = BTreeSet::new();
                while let Some(top) = stack.pop() {
                    on_stack.remove(top);
                    component.insert(top.clone());
                    if top == node {
                        break;
                    }
                }
                components.push(component);
            }
            if let Some(&(parent, _)) = work.last() {
                let l = low[parent].min(low[node]);
                low.insert(parent, l);
            }
        }
    }
    components
}
