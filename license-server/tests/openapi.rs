#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The OpenAPI document served at `/api/v1/openapi.json` matches the router.
//!
//! The routes are read from the router's source: `src/api/mod.rs` says which route groups are
//! nested under `/api/v1` and which are served at the root; each group's `.route("PATH",
//! get(..).post(..))` calls give the paths and methods. Every (method, path) the router serves
//! must be documented, and the document must describe nothing the router lacks.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const API_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
const DOCUMENT: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/openapi.json"));
const API_PREFIX: &str = "/api/v1";
const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("src/api/openapi.json is not valid JSON")
}

fn source(module: &str) -> String {
    let path = format!("{API_DIR}/{module}.rs");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The index of the parenthesis closing the one opened just before `from`.
fn closing_paren(text: &str, from: usize) -> usize {
    let mut depth = 1usize;
    for (i, c) in text[from..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return from + i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced parentheses after byte {from}");
}

/// The body of `fn name(…) … { … }` in `text` (between its braces), if the function exists.
fn function_body<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("fn {name}("))?;
    let open = start + text[start..].find('{')?;
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[open + 1..open + i]);
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced braces in fn {name}");
}

/// Identifiers immediately followed by `(` at the top level of `text`: the method-router calls
/// of `get(list).post(create)` are `get` and `post` (the handlers inside are not looked at).
fn top_level_calls(text: &str) -> Vec<String> {
    let mut calls = Vec::new();
    let mut ident = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => {
                if depth == 0 && !ident.is_empty() {
                    calls.push(std::mem::take(&mut ident));
                }
                ident.clear();
                depth += 1;
            }
            ')' => {
                ident.clear();
                depth = depth.saturating_sub(1);
            }
            c if c.is_alphanumeric() || c == '_' => ident.push(c),
            _ => ident.clear(),
        }
    }
    calls
}

/// The methods of a method router bound earlier in `text` with `let NAME = post(..)…;`.
fn bound_methods(text: &str, name: &str) -> Vec<String> {
    let binding = format!("let {name} =");
    let Some(at) = text.find(&binding) else {
        return Vec::new();
    };
    let rest = &text[at + binding.len()..];
    let statement = &rest[..rest.find(';').unwrap_or(rest.len())];
    top_level_calls(statement)
        .into_iter()
        .filter(|call| METHODS.contains(&call.as_str()))
        .collect()
}

/// The `.route("PATH", METHODS)` calls in `text`, as (path, methods). A method router may be
/// a variable bound in `text` (`limited`), alone or merged (`get(list).merge(limited)`).
fn routes_in(text: &str) -> Vec<(String, Vec<String>)> {
    let mut routes = Vec::new();
    for (at, call) in text.match_indices(".route(") {
        let args_start = at + call.len();
        let args = &text[args_start..closing_paren(text, args_start)];
        let args = args.trim_start();
        let path = args
            .strip_prefix('"')
            .and_then(|rest| rest.split_once('"'))
            .map(|(path, _)| path.to_owned())
            .unwrap_or_else(|| panic!("a .route( call without a literal path: {args}"));
        let (_, handlers) = args
            .split_once(',')
            .unwrap_or_else(|| panic!("route {path}: no method router"));
        let mut methods: Vec<String> = top_level_calls(handlers)
            .into_iter()
            .filter(|call| METHODS.contains(&call.as_str()))
            .collect();
        let bare = handlers.trim();
        if !bare.is_empty() && bare.chars().all(|c| c.is_alphanumeric() || c == '_') {
            methods.extend(bound_methods(text, bare));
        }
        for (merge_at, merge) in handlers.match_indices(".merge(") {
            let start = merge_at + merge.len();
            let name = handlers[start..closing_paren(handlers, start)].trim();
            methods.extend(bound_methods(text, name));
        }
        assert!(
            !methods.is_empty(),
            "route {path}: no get/post/… call found in `{}`; teach this test the new form",
            handlers.trim()
        );
        routes.push((path, methods));
    }
    routes
}

/// The `.merge(module::function())` calls in `text`, as (module, function).
fn merges_in(text: &str) -> Vec<(String, String)> {
    let mut merges = Vec::new();
    for (at, call) in text.match_indices(".merge(") {
        let args_start = at + call.len();
        let args = text[args_start..closing_paren(text, args_start)].trim();
        // `module::function()` or `module::function(state.clone())`.
        let Some(call) = args
            .strip_suffix(')')
            .and_then(|rest| rest.find('(').map(|open| &rest[..open]))
        else {
            panic!("a .merge( call this test does not understand: {args}");
        };
        let (module, function) = call
            .rsplit_once("::")
            .unwrap_or_else(|| panic!("merge `{args}`: expected module::function()"));
        merges.push((module.trim().to_owned(), function.trim().to_owned()));
    }
    merges
}

/// Every (METHOD, path) the router serves, read from the source of `src/api`.
fn router_operations() -> BTreeSet<(String, String)> {
    let routes_rs = source("routes");
    let router = function_body(&routes_rs, "router").expect("src/api/routes.rs has no fn router");
    assert!(
        router.contains(&format!(".nest(\"{API_PREFIX}\", api)")),
        "src/api/routes.rs no longer nests `api` under {API_PREFIX}; update this test"
    );
    let api_start = router
        .find("let api =")
        .expect("src/api/routes.rs: no `let api =` router");
    let api_end = api_start
        + router[api_start..]
            .find(';')
            .expect("`let api` without `;`");
    let nested = merges_in(&router[api_start..api_end]);
    let root = merges_in(&router[api_end..]);
    assert!(
        !nested.is_empty(),
        "no route group is nested under {API_PREFIX}"
    );

    let mut operations = BTreeSet::new();
    let mut groups_seen = BTreeSet::new();
    for (prefix, groups) in [(API_PREFIX, &nested), ("", &root)] {
        for (module, function) in groups {
            let text = source(module);
            let body = function_body(&text, function)
                .unwrap_or_else(|| panic!("src/api/{module}.rs has no fn {function}"));
            let routes = routes_in(body);
            assert!(
                !routes.is_empty(),
                "{module}::{function} registers no route"
            );
            for (path, methods) in routes {
                for method in methods {
                    operations.insert((method.to_uppercase(), format!("{prefix}{path}")));
                }
            }
            groups_seen.insert((module.clone(), function.clone()));
        }
    }

    // Every `.route(` in src/api lies in a route group that mod.rs merges: none is forgotten.
    for entry in std::fs::read_dir(API_DIR).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let module = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let text = source(&module);
        let total = routes_in(&text).len();
        let counted: usize = groups_seen
            .iter()
            .filter(|(m, _)| *m == module)
            .map(|(_, f)| routes_in(function_body(&text, f).unwrap()).len())
            .sum();
        assert_eq!(
            total, counted,
            "src/api/{module}.rs has .route( calls outside the route groups mod.rs merges; \
             this test cannot tell where they are served"
        );
    }
    operations
}

/// Every (METHOD, path) the document describes.
fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("`paths` is not an object");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is not an object");
        for key in item.keys() {
            if METHODS.contains(&key.as_str()) {
                operations.insert((key.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

#[test]
fn the_document_is_openapi_3_1() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("`openapi` is not a string");
    assert!(
        version.starts_with("3.1"),
        "openapi is {version:?}, want 3.1.x"
    );
    assert!(doc["info"]["title"].is_string(), "info.title is missing");
    assert!(
        doc["info"]["version"].is_string(),
        "info.version is missing"
    );
    assert_eq!(doc["servers"][0]["url"], "/", "servers must stay relative");
}

#[test]
fn the_scanner_reads_method_chains() {
    let routes = routes_in(
        r#"Router::new()
            .route("/a", get(list).post(create))
            .route("/a/{id}", axum::routing::get(show))
            .route("/b", post(handler_with(get_thing)))"#,
    );
    assert_eq!(
        routes,
        vec![
            ("/a".to_owned(), vec!["get".to_owned(), "post".to_owned()]),
            ("/a/{id}".to_owned(), vec!["get".to_owned()]),
            ("/b".to_owned(), vec!["post".to_owned()]),
        ]
    );
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    let served = router_operations();
    let documented = documented_operations(&document());
    // The routes this document was written for: a scanner that found nothing would pass below.
    for expected in [
        ("GET", "/healthz"),
        ("GET", "/api/v1/keys"),
        ("POST", "/api/v1/licenses"),
        ("POST", "/api/v1/licenses/{id}/reissue"),
    ] {
        assert!(
            served.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "the source scan missed {expected:?}; found {served:?}"
        );
    }
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from src/api/openapi.json: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "src/api/openapi.json describes routes the router does not serve: {unserved:?}"
    );
}

#[test]
fn admin_operations_declare_bearer_auth_and_401() {
    let doc = document();
    for (method, path) in documented_operations(&doc) {
        let operation = &doc["paths"][&path][method.to_lowercase()];
        let security = operation["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path}: state `security` (`[]` when public)"));
        let bearer = security.iter().any(|s| s.get("bearerAuth").is_some());
        let documents_401 = operation["responses"].get("401").is_some();
        assert_eq!(
            bearer, documents_401,
            "{method} {path}: bearerAuth security and a 401 response go together"
        );
        let public = matches!(
            path.as_str(),
            "/healthz" | "/readyz" | "/metrics" | "/api/v1/keys" | "/api/v1/openapi.json"
        ) || (method == "POST"
            && matches!(path.as_str(), "/api/v1/trials" | "/api/v1/checkins"))
            || (method == "GET" && path == "/api/v1/revocations");
        assert_eq!(
            bearer, !public,
            "{method} {path}: only healthz, readyz, metrics, keys, openapi.json, the trial request, check-ins and the revocation list are public"
        );
    }
}

fn collect_refs<'a>(value: &'a Value, at: &str, out: &mut BTreeMap<String, &'a str>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = format!("{at}/{key}");
                if key == "$ref" {
                    let target = child
                        .as_str()
                        .unwrap_or_else(|| panic!("{here}: $ref is not a string"));
                    out.insert(here, target);
                } else {
                    collect_refs(child, &here, out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_refs(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_ref_resolves_to_a_component() {
    let doc = document();
    let mut refs = BTreeMap::new();
    collect_refs(&doc, "#", &mut refs);
    assert!(!refs.is_empty(), "the document uses no $ref at all");
    for (at, target) in refs {
        let pointer = target
            .strip_prefix('#')
            .filter(|p| p.starts_with("/components/"))
            .unwrap_or_else(|| panic!("{at}: {target:?} is not a local #/components/ reference"));
        assert!(
            doc.pointer(pointer).is_some(),
            "{at}: {target:?} does not resolve"
        );
    }
}
