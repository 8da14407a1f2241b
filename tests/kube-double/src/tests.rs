//! The double's semantics, request by request, without the network.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::api::{Access, Api, Request, User};
use crate::objects::{Cluster, DEPLOYMENTS, SECRETS};
use crate::status::Reply;
use serde_json::{Value, json};

const NOW: &str = "2026-11-27T00:00:00Z";
const SECRET: &str = "/api/v1/namespaces/default/secrets/coder-license";

fn api() -> Api {
    let users = [("admin", Access::Admin), ("reader", Access::ReadOnly)]
        .into_iter()
        .map(|(name, access)| User {
            name: name.into(),
            token: format!("{name}-token"),
            access,
        })
        .collect();
    Api::new(Cluster::new("ks-uid", NOW), users, "127.0.0.1:1".into())
}

fn call(api: &mut Api, user: &str, method: &str, path_query: &str, ct: &str, body: Value) -> Reply {
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    api.handle(
        &Request {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            content_type: Some(ct.into()),
            authorization: Some(format!("Bearer {user}-token")),
            user_agent: Some("test/1.0".into()),
            body: if body.is_null() {
                Vec::new()
            } else {
                body.to_string().into_bytes()
            },
        },
        NOW,
    )
}

fn apply(api: &mut Api, data: Value, rv: Option<&str>) -> Reply {
    let mut body = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "coder-license", "labels": {"app.kubernetes.io/managed-by": "coder-license"}},
        "data": data,
    });
    if let Some(rv) = rv {
        body["metadata"]["resourceVersion"] = json!(rv);
    }
    call(
        api,
        "admin",
        "PATCH",
        &format!("{SECRET}?fieldManager=coder-license&force=true"),
        "application/apply-patch+yaml",
        body,
    )
}

fn rv(reply: &Reply) -> String {
    reply.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn authentication_and_discovery() {
    let mut api = api();
    let mut anonymous = Request {
        method: "GET".into(),
        path: "/api".into(),
        query: String::new(),
        content_type: None,
        authorization: None,
        user_agent: None,
        body: Vec::new(),
    };
    let reply = api.handle(&anonymous, NOW);
    assert_eq!(reply.code, 401);
    assert_eq!(reply.body["reason"], "Unauthorized");
    anonymous.authorization = Some("Bearer reader-token".into());
    assert_eq!(api.handle(&anonymous, NOW).body["versions"], json!(["v1"]));
    let ns = call(
        &mut api,
        "reader",
        "GET",
        "/api/v1/namespaces/kube-system",
        "",
        Value::Null,
    );
    assert_eq!(ns.body["metadata"]["uid"], "ks-uid");
}

#[test]
fn server_side_apply_owns_removes_and_is_idempotent() {
    let mut api = api();
    let created = apply(&mut api, json!({"a": "YQ==", "b": "Yg=="}), None);
    assert_eq!(created.code, 201);
    let managed = &created.body["metadata"]["managedFields"][0];
    assert_eq!(managed["manager"], "coder-license");
    assert_eq!(managed["operation"], "Apply");
    assert_eq!(
        managed["fieldsV1"]["f:data"],
        json!({".": {}, "f:a": {}, "f:b": {}})
    );
    assert_eq!(created.body["type"], "Opaque");

    let again = apply(&mut api, json!({"a": "YQ==", "b": "Yg=="}), None);
    assert_eq!(again.code, 200);
    assert_eq!(rv(&again), rv(&created), "a no-op apply changes nothing");

    let fewer = apply(&mut api, json!({"a": "YQ=="}), Some(&rv(&created)));
    assert_eq!(
        fewer.body["data"],
        json!({"a": "YQ=="}),
        "fields no longer applied are removed"
    );
    assert_ne!(rv(&fewer), rv(&created));

    let stale = apply(&mut api, json!({"c": "Yw=="}), Some(&rv(&created)));
    assert_eq!(stale.code, 409);
    assert_eq!(
        stale.body,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Operation cannot be fulfilled on secrets \"coder-license\": the object has been modified; please apply your changes to the latest version and try again",
            "reason": "Conflict", "details": {"name": "coder-license", "kind": "secrets"}, "code": 409
        })
    );
}

#[test]
fn apply_conflicts_with_other_managers_unless_forced() {
    let mut api = api();
    apply(&mut api, json!({"a": "YQ=="}), None);
    let edit = call(
        &mut api,
        "admin",
        "PATCH",
        &format!("{SECRET}?fieldManager=kubectl-edit"),
        "application/merge-patch+json",
        json!({"data": {"a": "eA=="}}),
    );
    assert_eq!(edit.code, 200);
    let body = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "coder-license"}, "data": {"a": "YQ=="}});
    let refused = call(
        &mut api,
        "admin",
        "PATCH",
        &format!("{SECRET}?fieldManager=coder-license"),
        "application/apply-patch+yaml",
        body.clone(),
    );
    assert_eq!(refused.code, 409);
    assert_eq!(refused.body["details"]["causes"][0]["field"], ".data.a");
    let forced = call(
        &mut api,
        "admin",
        "PATCH",
        &format!("{SECRET}?fieldManager=coder-license&force=true"),
        "application/apply-patch+yaml",
        body,
    );
    assert_eq!(forced.code, 200);
    assert_eq!(forced.body["data"]["a"], "YQ==");
}

#[test]
fn rbac_not_found_and_preconditions() {
    let mut api = api();
    let created = apply(&mut api, json!({}), None);
    assert_eq!(created.code, 201);
    let reader = call(
        &mut api,
        "reader",
        "DELETE",
        SECRET,
        "application/json",
        Value::Null,
    );
    assert_eq!(reader.code, 403);
    assert_eq!(
        reader.body["message"],
        "secrets \"coder-license\" is forbidden: User \"reader\" cannot delete resource \"secrets\" in API group \"\" in the namespace \"default\""
    );
    assert_eq!(reader.body["reason"], "Forbidden");
    let stale = call(
        &mut api,
        "admin",
        "DELETE",
        SECRET,
        "application/json",
        json!({"preconditions": {"resourceVersion": "1"}}),
    );
    assert_eq!(stale.code, 409);
    let current = rv(&call(&mut api, "admin", "GET", SECRET, "", Value::Null));
    let deleted = call(
        &mut api,
        "admin",
        "DELETE",
        SECRET,
        "application/json",
        json!({"preconditions": {"resourceVersion": current}}),
    );
    assert_eq!(deleted.body["status"], "Success");
    let gone = call(&mut api, "admin", "GET", SECRET, "", Value::Null);
    assert_eq!(gone.code, 404);
    assert_eq!(gone.body["message"], "secrets \"coder-license\" not found");
    let missing_ns = call(
        &mut api,
        "admin",
        "PATCH",
        "/api/v1/namespaces/nope/secrets/x?fieldManager=m",
        "application/apply-patch+yaml",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}),
    );
    assert_eq!(missing_ns.code, 404);
    assert_eq!(missing_ns.body["details"]["kind"], "namespaces");
}

#[test]
fn deployment_restart_patch_bumps_generation_and_reads_can_be_interfered_with() {
    let mut api = api();
    api.cluster
        .create(
            &DEPLOYMENTS,
            "default",
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "coder"},
                   "spec": {"template": {"metadata": {}}}}),
            "setup",
            NOW,
        )
        .unwrap();
    let path = "/apis/apps/v1/namespaces/default/deployments/coder?fieldManager=coder-license";
    let patched = call(
        &mut api,
        "admin",
        "PATCH",
        path,
        "application/strategic-merge-patch+json",
        json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": NOW}}}}}),
    );
    assert_eq!(patched.code, 200, "{}", patched.body);
    assert_eq!(patched.body["metadata"]["generation"], 2);

    apply(&mut api, json!({}), None);
    api.touch_after_reads(&SECRETS, "default", "coder-license", 1);
    let read = call(&mut api, "admin", "GET", SECRET, "", Value::Null);
    let after = call(&mut api, "admin", "GET", SECRET, "", Value::Null);
    assert_ne!(rv(&read), rv(&after));
    assert_eq!(
        rv(&after),
        rv(&call(&mut api, "admin", "GET", SECRET, "", Value::Null))
    );
}

fn get(api: &mut Api, user: &str, path: &str) -> Reply {
    call(api, user, "GET", path, "", Value::Null)
}

fn create(api: &mut Api, path: &str, body: Value) -> Reply {
    call(api, "admin", "POST", path, "application/json", body)
}

#[test]
fn discovery_lists_what_the_api_services_register() {
    let mut api = api();
    let groups = get(&mut api, "reader", "/apis");
    let names: Vec<&str> = groups.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["preferredVersion"]["groupVersion"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "apiregistration.k8s.io/v1",
            "apps/v1",
            "networking.k8s.io/v1",
            "rbac.authorization.k8s.io/v1",
            "storage.k8s.io/v1"
        ]
    );
    let storage = get(&mut api, "reader", "/apis/storage.k8s.io/v1");
    assert_eq!(storage.body["resources"][0]["name"], "storageclasses");
    assert_eq!(storage.body["resources"][0]["namespaced"], false);
    assert_eq!(get(&mut api, "reader", "/apis/metrics.k8s.io").code, 404);

    // metrics-server registers its API; while its server is down, the aggregator says 503.
    let mut metrics = crate::discovery::api_service("metrics.k8s.io", "v1beta1");
    metrics["spec"]["service"] = json!({"name": "metrics-server", "namespace": "kube-system"});
    metrics["status"]["conditions"][0]["status"] = json!("False");
    let created = create(
        &mut api,
        "/apis/apiregistration.k8s.io/v1/apiservices",
        metrics,
    );
    assert_eq!(created.code, 201, "{}", created.body);
    let group = get(&mut api, "reader", "/apis/metrics.k8s.io");
    assert_eq!(group.body["preferredVersion"]["version"], "v1beta1");
    let down = get(&mut api, "reader", "/apis/metrics.k8s.io/v1beta1");
    assert_eq!(down.code, 503);
    assert_eq!(down.body["reason"], "ServiceUnavailable");

    let deleted = call(
        &mut api,
        "admin",
        "DELETE",
        "/apis/apiregistration.k8s.io/v1/apiservices/v1.networking.k8s.io",
        "",
        Value::Null,
    );
    assert_eq!(deleted.code, 200);
    assert_eq!(
        get(&mut api, "reader", "/apis/networking.k8s.io/v1").code,
        404
    );
    let groups = get(&mut api, "reader", "/apis").body.to_string();
    assert!(!groups.contains("networking.k8s.io"), "{groups}");
}

#[test]
fn lists_across_namespaces_and_denied_permissions() {
    let mut api = api();
    let policy = |ns: &str| {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "deny-all", "namespace": ns},
               "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
    };
    for ns in ["default", "kube-system"] {
        let path = format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies");
        assert_eq!(create(&mut api, &path, policy(ns)).code, 201);
    }
    let all = get(
        &mut api,
        "reader",
        "/apis/networking.k8s.io/v1/networkpolicies",
    );
    assert_eq!(all.body["kind"], "NetworkPolicyList");
    assert_eq!(all.body["items"].as_array().unwrap().len(), 2);
    let one = get(
        &mut api,
        "reader",
        "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
    );
    assert_eq!(one.body["items"].as_array().unwrap().len(), 1);

    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
                      "status": {"allocatable": {"cpu": "4", "memory": "16Gi"}}});
    assert_eq!(create(&mut api, "/api/v1/nodes", node).code, 201);
    assert_eq!(
        get(&mut api, "reader", "/api/v1/nodes").body["items"][0]["status"]["allocatable"]["cpu"],
        "4"
    );

    api.deny(&crate::objects::NODES, "list");
    let denied = get(&mut api, "admin", "/api/v1/nodes");
    assert_eq!(denied.code, 403);
    assert_eq!(
        denied.body["message"],
        "nodes is forbidden: User \"admin\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"
    );
    assert_eq!(
        get(&mut api, "admin", "/api/v1/nodes/n1").code,
        200,
        "get is still allowed"
    );
}
