//! Every status the API answers is one `openapi.json` documents for that operation (issue 12,
//! finding 12): each documented operation is called the ways a client gets wrong most often
//! (no token, a viewer's token, a body that is not JSON, a body without its content type, an
//! id that is not a UUID), and each answer's status must be among the operation's responses.
//! A status the document leaves out (403 on the desk's routes, 400 and 415 on a body) fails.

use crate::helpers::on_both_backends;
use crate::support::{Kind, TestApp};
use license_server::service::roles::Role;
use reqwest::Method;
use serde_json::Value;

on_both_backends!(every_answer_is_a_documented_response);

fn document() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// How one probe sends its request.
struct Probe {
    what: &'static str,
    token: Option<String>,
    id: &'static str,
    body: Option<(&'static str, Option<&'static str>)>,
}

async fn every_answer_is_a_documented_response(kind: Kind) {
    let app = TestApp::spawn(kind).await;
    let at = app.licensor.now();
    let viewer = license_server::service::tokens::create(&app.store, "test", "v", Role::Viewer, at)
        .await
        .unwrap();
    let admin = license_server::service::tokens::create(&app.store, "test", "a", Role::Admin, at)
        .await
        .unwrap();
    let missing = "00000000-0000-4000-8000-000000000000";
    let json = Some("application/json");
    let probes = [
        Probe {
            what: "no token",
            token: None,
            id: missing,
            body: Some(("{}", json)),
        },
        Probe {
            what: "a viewer's token",
            token: Some(viewer),
            id: missing,
            body: Some(("{}", json)),
        },
        Probe {
            what: "a body that is not JSON",
            token: Some(admin.clone()),
            id: missing,
            body: Some(("\0", json)),
        },
        Probe {
            what: "a body without a content type",
            token: Some(admin.clone()),
            id: missing,
            body: Some(("{}", None)),
        },
        Probe {
            what: "an id that is not a UUID",
            token: Some(admin),
            id: "None",
            body: Some(("{}", json)),
        },
    ];
    let doc = document();
    let mut checked = 0;
    let mut undocumented = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            let has_body = operation.get("requestBody").is_some();
            for probe in &probes {
                if !path.contains("{id}") && probe.id != missing {
                    continue;
                }
                let url = app.url(&path.replace("{id}", probe.id));
                let mut request = app.client.request(method.clone(), url);
                if let Some(token) = &probe.token {
                    request = request.bearer_auth(token);
                }
                if let (true, Some((body, content_type))) = (has_body, probe.body) {
                    request = request.body(body);
                    if let Some(content_type) = content_type {
                        request = request.header("content-type", content_type);
                    }
                }
                let response = request.send().await.unwrap();
                let status = response.status().as_u16().to_string();
                checked += 1;
                if operation["responses"].get(&status).is_none() {
                    let body = response.text().await.unwrap_or_default();
                    undocumented.push(format!(
                        "{method} {path} with {}: {status} {body}",
                        probe.what
                    ));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} requests were checked");
    assert!(
        undocumented.is_empty(),
        "answers openapi.json does not document:\n{}",
        undocumented.join("\n")
    );
}
