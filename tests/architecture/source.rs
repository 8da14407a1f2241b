//! Reading Rust source as text: what is code, and which paths it uses.

/// The code of a file without comments, string and char literals, and without everything from
/// the first `#[cfg(test)]` on (test modules sit at the end of a file here).
pub fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |e| e + 2);
            i += end;
        } else if let Some(hashes) = raw_string_start(rest) {
            let closing = format!("\"{}", "#".repeat(hashes));
            let body = hashes + 2;
            let end = rest[body..]
                .find(&closing)
                .map_or(rest.len(), |e| body + e + closing.len());
            out.push_str("\"\"");
            i += end;
        } else if rest.starts_with('"') {
            let mut j = 1;
            let rb = rest.as_bytes();
            while j < rb.len() && rb[j] != b'"' {
                j += if rb[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i += (j + 1).min(rest.len());
        } else if rest.starts_with('\'') && is_char_literal(rest) {
            let end = rest[1..].find('\'').map_or(rest.len(), |e| e + 2);
            i += end;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

fn raw_string_start(rest: &str) -> Option<usize> {
    let after = rest.strip_prefix("br").or_else(|| rest.strip_prefix('r'))?;
    let hashes = after.bytes().take_while(|b| *b == b'#').count();
    after[hashes..]
        .starts_with('"')
        .then_some(hashes + rest.len() - after.len() - 1)
}

/// `'a'`, `'\n'`, `'\''`; not a lifetime such as `'a` or `'static`.
fn is_char_literal(rest: &str) -> bool {
    let b = rest.as_bytes();
    (b.len() > 2 && b[1] != b'\\' && rest[1..].chars().nth(1) == Some('\''))
        || (b.len() > 3 && b[1] == b'\\')
}

/// Every `use` tree of `code`, expanded into paths (`a::{b, c::d}` → `a::b`, `a::c::d`), each
/// with whether the `use` is public (a re-export) and the name it binds.
pub fn uses(code: &str) -> Vec<Use> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = find_keyword(rest, "use") {
        let before = rest[..at].trim_end();
        let public = before.ends_with("pub") || before.ends_with(')') && before.contains("pub(");
        let tail = &rest[at + 3..];
        let end = tail.find(';').unwrap_or(tail.len());
        let tree: String = tail[..end].split_whitespace().collect::<Vec<_>>().join(" ");
        for (path, name) in expand(tree.trim()) {
            found.push(Use { path, name, public });
        }
        rest = &tail[end..];
    }
    found
}

/// One path of a `use`.
#[derive(Debug, Clone)]
pub struct Use {
    /// `crate::a::B`, split on `::`.
    pub path: Vec<String>,
    /// The name it binds (the last segment, or the `as` alias).
    pub name: String,
    /// A `pub use`: a re-export.
    pub public: bool,
}

fn expand(tree: &str) -> Vec<(Vec<String>, String)> {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let prefix: Vec<String> = split_path(tree[..open].trim_end_matches("::"));
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut out = Vec::new();
        for part in split_top_level(inner) {
            for (path, name) in expand(part) {
                let mut full = prefix.clone();
                if path != ["self"] {
                    full.extend(path);
                }
                let name = if name == "self" {
                    full.last().cloned().unwrap_or_default()
                } else {
                    name
                };
                out.push((full, name));
            }
        }
        out
    } else if tree.is_empty() {
        Vec::new()
    } else {
        let (path, alias) = match tree.split_once(" as ") {
            Some((path, alias)) => (path.trim(), Some(alias.trim().to_owned())),
            None => (tree, None),
        };
        let path = split_path(path);
        let name = alias.unwrap_or_else(|| path.last().cloned().unwrap_or_default());
        vec![(path, name)]
    }
}

fn split_path(path: &str) -> Vec<String> {
    path.split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn split_top_level(inner: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// Paths written in code (`crate::a::b`, `super::x`, `child::f`): every `name::…` run of
/// identifiers; the graph keeps those whose first segment names a module.
pub fn inline_paths(code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("::") {
        let at = from + at;
        let start = code[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
            .last()
            .map_or(at, |(i, _)| i);
        let before = code[..start].chars().next_back().unwrap_or(' ');
        let path: String = code[start..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        if start < at && before != ':' && !path.ends_with("::") {
            found.push(split_path(&path));
        }
        from = start + path.len().max(at - start + 2);
    }
    found
}

/// Whether `code` names the external crate `name` (`use name::`, `name::x`).
pub fn mentions_crate(text: &str, name: &str) -> bool {
    let code = code(text);
    let needle = format!("{name}::");
    code.match_indices(&needle).any(|(at, _)| {
        at == 0 || {
            let c = code[..at].chars().next_back().unwrap_or(' ');
            !(c.is_alphanumeric() || c == '_' || c == ':')
        }
    })
}

fn find_keyword(text: &str, keyword: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = text[from..].find(keyword) {
        let at = from + at;
        let before = text[..at].chars().next_back().unwrap_or(' ');
        let after = text[at + keyword.len()..].chars().next().unwrap_or(' ');
        if !(before.is_alphanumeric() || before == '_' || before == ':') && after.is_whitespace() {
            return Some(at);
        }
        from = at + keyword.len();
    }
    None
}
