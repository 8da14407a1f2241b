//! The exact requests of apply, remove and restart, against kube-rs's request mock: method,
//! path, query (field manager, force), content type and body, and how answers (404, 409) are
//! followed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::connect::Connection;
use super::errors::Endpoint;
use super::restart::restart;
use super::secret::SecretStore;
use crate::store::{Backend as _, Contents, Outcome};
use crate::target::Store;
use base64::Engine as _;
use http::{Request, Response};
use kube::client::Body;
use license_core::LicenseId;
use serde_json::{Value, json};
use std::time::Duration;
use tower_test::mock::{self, Handle};

type Mock = Handle<Request<Body>, Response<Body>>;

const SECRET_PATH: &str = "/api/v1/namespaces/coder/secrets/coder-license";

fn connection() -> (Connection, Mock) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let connection = Connection {
        client: kube::Client::new(service, "coder"),
        namespace: "coder".into(),
        endpoint: Endpoint {
            server: "https://mock".into(),
            context: "mock".into(),
        },
    };
    (connection, handle)
}

fn store() -> (Store, Mock) {
    let (connection, handle) = connection();
    let store = Store::Secret(Box::new(SecretStore::new(&connection, "coder-license")));
    (store, handle)
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn key(n: u128) -> String {
    license_core::license_key(LicenseId::from_u128(n))
}

/// The Secret as the server holds it: ours, with `licenses` and resourceVersion `rv`.
fn secret(rv: &str, licenses: &[u128]) -> Value {
    let data: serde_json::Map<String, Value> = licenses
        .iter()
        .map(|n| (key(*n), json!(b64(&format!("token-{n}")))))
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {
            "name": "coder-license", "namespace": "coder", "resourceVersion": rv,
            "labels": {"app.kubernetes.io/managed-by": "coder-license", "app.kubernetes.io/name": "coder-license"},
        },
        "type": "Opaque",
        "data": data,
    })
}

/// The apply configuration coder-license sends for `licenses` at `rv`.
fn applied(rv: &str, licenses: &[u128]) -> Value {
    let mut body = secret(rv, licenses);
    body.as_object_mut().unwrap().remove("kind");
    body.as_object_mut().unwrap().remove("apiVersion");
    let mut out = json!({"apiVersion": "v1", "kind": "Secret"});
    for (k, v) in body.as_object().unwrap() {
        out[k] = v.clone();
    }
    out
}

fn status(code: u16, reason: &str, kind: &str, name: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("{kind} \"{name}\" {reason}"), "reason": reason,
        "details": {"name": name, "kind": kind}, "code": code,
    })
}

/// One expected request and the answer to it.
struct Exchange {
    method: &'static str,
    path: &'static str,
    query: &'static [&'static str],
    content_type: Option<&'static str>,
    body: Option<Value>,
    answer: (u16, Value),
}

async fn serve(mut handle: Mock, exchanges: Vec<Exchange>) {
    for (i, expected) in exchanges.into_iter().enumerate() {
        let (request, respond) = handle
            .next_request()
            .await
            .unwrap_or_else(|| panic!("request {i} was not made"));
        let what = format!("request {i}: {} {}", request.method(), request.uri());
        assert_eq!(request.method().as_str(), expected.method, "{what}");
        assert_eq!(request.uri().path(), expected.path, "{what}");
        let mut query: Vec<&str> = request
            .uri()
            .query()
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
            .collect();
        query.sort_unstable();
        assert_eq!(query, expected.query, "{what}");
        let content_type = request
            .headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(content_type.as_deref(), expected.content_type, "{what}");
        let bytes = request.into_body().collect_bytes().await.unwrap();
        match &expected.body {
            Some(body) => {
                let sent: Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(&sent, body, "{what}");
            }
            None => assert!(bytes.is_empty(), "{what}: unexpected body"),
        }
        let (code, answer) = expected.answer;
        respond.send_response(
            Response::builder()
                .status(code)
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                .unwrap(),
        );
    }
}

fn get(answer: (u16, Value)) -> Exchange {
    Exchange {
        method: "GET",
        path: SECRET_PATH,
        query: &[],
        content_type: None,
        body: None,
        answer,
    }
}

fn apply(body: Value, answer: (u16, Value)) -> Exchange {
    Exchange {
        method: "PATCH",
        path: SECRET_PATH,
        query: &["fieldManager=coder-license", "force=true"],
        content_type: Some("application/apply-patch+yaml"),
        body: Some(body),
        answer,
    }
}

async fn run<T>(
    handle: Mock,
    exchanges: Vec<Exchange>,
    operation: impl std::future::Future<Output = T>,
) -> T {
    let (result, ()) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(operation, serve(handle, exchanges))
    })
    .await
    .expect("the requests were made, no more");
    result
}

fn add(n: u128) -> impl FnMut(&Contents) -> anyhow::Result<(Contents, ())> {
    move |current| {
        let mut new = current.clone();
        new.licenses
            .insert(LicenseId::from_u128(n), format!("token-{n}").into_bytes());
        Ok((new, ()))
    }
}

fn remove(n: u128) -> impl FnMut(&Contents) -> anyhow::Result<(Contents, ())> {
    move |current| {
        let mut new = current.clone();
        new.licenses.remove(&LicenseId::from_u128(n));
        Ok((new, ()))
    }
}

#[tokio::test]
async fn apply_to_an_existing_secret_keeps_the_other_licenses() {
    let (store, handle) = store();
    let exchanges = vec![
        get((200, secret("7", &[1]))),
        apply(applied("7", &[1, 2]), (200, secret("8", &[1, 2]))),
    ];
    let (outcome, ()) = run(handle, exchanges, store.update(add(2))).await.unwrap();
    assert_eq!(outcome, Outcome::Written);
}

#[tokio::test]
async fn apply_creates_the_secret_empty_then_applies_with_its_version() {
    let (store, handle) = store();
    let exchanges = vec![
        get((404, status(404, "NotFound", "secrets", "coder-license"))),
        Exchange {
            method: "GET",
            path: "/api/v1/namespaces/coder",
            query: &[],
            content_type: None,
            body: None,
            answer: (
                200,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "coder"}}),
            ),
        },
        Exchange {
            method: "POST",
            path: "/api/v1/namespaces/coder/secrets",
            query: &["fieldManager=coder-license"],
            content_type: Some("application/json"),
            body: Some(applied("", &[]).tap_remove_data_and_rv()),
            answer: (201, secret("1", &[])),
        },
        apply(applied("1", &[3]), (200, secret("2", &[3]))),
    ];
    let (outcome, ()) = run(handle, exchanges, store.update(add(3))).await.unwrap();
    assert_eq!(outcome, Outcome::Written);
}

#[tokio::test]
async fn a_conflict_is_retried_with_the_fresh_version() {
    let (store, handle) = store();
    let conflict = status(409, "Conflict", "secrets", "coder-license");
    let exchanges = vec![
        get((200, secret("7", &[1]))),
        apply(applied("7", &[1, 2]), (409, conflict)),
        get((200, secret("9", &[1, 5]))),
        apply(applied("9", &[1, 2, 5]), (200, secret("10", &[1, 2, 5]))),
    ];
    let (outcome, ()) = run(handle, exchanges, store.update(add(2))).await.unwrap();
    assert_eq!(outcome, Outcome::Written);
}

#[tokio::test]
async fn remove_applies_the_remaining_licenses() {
    let (store, handle) = store();
    let exchanges = vec![
        get((200, secret("7", &[1, 2]))),
        apply(applied("7", &[2]), (200, secret("8", &[2]))),
    ];
    let (outcome, ()) = run(handle, exchanges, store.update(remove(1)))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Written);
}

#[tokio::test]
async fn removing_the_last_license_deletes_the_secret_at_its_version() {
    let (store, handle) = store();
    let exchanges = vec![
        get((200, secret("7", &[1]))),
        Exchange {
            method: "DELETE",
            path: SECRET_PATH,
            query: &[],
            content_type: Some("application/json"),
            body: Some(json!({"preconditions": {"resourceVersion": "7"}})),
            answer: (
                200,
                json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                                 "details": {"name": "coder-license", "kind": "secrets"}}),
            ),
        },
    ];
    let (outcome, ()) = run(handle, exchanges, store.update(remove(1)))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Deleted);
}

#[tokio::test]
async fn removing_an_absent_license_writes_nothing() {
    let (store, handle) = store();
    let exchanges = vec![get((200, secret("7", &[1])))];
    let (outcome, ()) = run(handle, exchanges, store.update(remove(2)))
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Unchanged);
}

#[tokio::test]
async fn a_forbidden_write_is_one_sentence_naming_the_secret() {
    let (store, handle) = store();
    let mut forbidden = status(403, "Forbidden", "secrets", "coder-license");
    forbidden["message"] = json!(
        "secrets \"coder-license\" is forbidden: User \"reader\" cannot patch resource \"secrets\" in API group \"\" in the namespace \"coder\""
    );
    let exchanges = vec![
        get((200, secret("7", &[1]))),
        apply(applied("7", &[1, 2]), (403, forbidden)),
    ];
    let error = run(handle, exchanges, store.update(add(2)))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "not allowed to patch secret coder/coder-license: secrets \"coder-license\" is forbidden: User \"reader\" cannot patch resource \"secrets\" in API group \"\" in the namespace \"coder\"; ask a cluster admin for a Role granting patch on secrets in namespace coder (check with: kubectl auth can-i patch secrets -n coder)"
    );
}

#[tokio::test]
async fn restart_patches_the_pod_template_annotation() {
    let (connection, handle) = connection();
    let exchanges = vec![Exchange {
        method: "PATCH",
        path: "/apis/apps/v1/namespaces/coder/deployments/coder",
        query: &["fieldManager=coder-license"],
        content_type: Some("application/strategic-merge-patch+json"),
        body: Some(json!({"spec": {"template": {"metadata": {"annotations": {
            "kubectl.kubernetes.io/restartedAt": "2027-01-01T00:00:00Z"
        }}}}})),
        answer: (
            200,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "coder"}}),
        ),
    }];
    let restarted = restart(
        &connection.client,
        "coder",
        "coder",
        "2027-01-01T00:00:00Z",
        &connection.endpoint,
    );
    run(handle, exchanges, restarted).await.unwrap();
}

trait TapRemove {
    fn tap_remove_data_and_rv(self) -> Value;
}

impl TapRemove for Value {
    /// The empty Secret a first install creates: no data, no resourceVersion.
    fn tap_remove_data_and_rv(mut self) -> Value {
        self.as_object_mut().unwrap().remove("data");
        self["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("resourceVersion");
        self
    }
}
