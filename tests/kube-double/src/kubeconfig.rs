//! The kubeconfig a client uses to reach the double: one cluster pinned to the double's CA,
//! one context per user (named after the user), and `current-context: admin`.

use crate::api::User;
use base64::Engine as _;

/// A kubeconfig for `server` trusting `ca_pem`, with a context per user plus `anonymous`
/// (no credentials). `namespace`, when given, is every context's namespace.
pub fn render(server: &str, ca_pem: &str, users: &[User], namespace: Option<&str>) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let mut out = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kube-double\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n"
    );
    for user in users {
        out.push_str(&format!(
            "- name: {}\n  user:\n    token: {}\n",
            user.name, user.token
        ));
    }
    out.push_str("- name: anonymous\n  user: {}\ncontexts:\n");
    let names = users.iter().map(|u| u.name.as_str()).chain(["anonymous"]);
    for name in names {
        out.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: kube-double\n    user: {name}\n"
        ));
        if let Some(ns) = namespace {
            out.push_str(&format!("    namespace: {ns}\n"));
        }
    }
    out.push_str("current-context: admin\npreferences: {}\n");
    out
}
