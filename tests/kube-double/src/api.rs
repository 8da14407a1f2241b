//! Routing, authentication and authorization of one request, on the double's state. No I/O:
//! the server hands each decoded request to [`Api::handle`].

use crate::discovery;
use crate::objects::{self, Cluster, Kind};
use crate::status::{self, Reply, Target};
use serde_json::{Value, json};

/// What a bearer token may do, as a Role would grant it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Everything, like `cluster-admin`.
    Admin,
    /// Everything on namespaced objects; nothing cluster-scoped (so no `namespaces` get).
    NamespaceAdmin,
    /// `get`, `list` and `watch` only, like the `view` role.
    ReadOnly,
    /// Nothing but discovery.
    Nothing,
}

impl Access {
    fn allows(self, verb: &str, kind: &Kind, in_namespace: bool) -> bool {
        match self {
            Access::Admin => true,
            Access::NamespaceAdmin => kind.namespaced && in_namespace,
            Access::ReadOnly => matches!(verb, "get" | "list" | "watch"),
            Access::Nothing => false,
        }
    }
}

/// A user the double knows by bearer token.
#[derive(Debug, Clone)]
pub struct User {
    /// The user name RBAC messages show.
    pub name: String,
    /// The bearer token.
    pub token: String,
    /// What the user may do.
    pub access: Access,
}

/// A request as the server decoded it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `PATCH`, …
    pub method: String,
    /// The URL path.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The `Authorization` header.
    pub authorization: Option<String>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// A request the double answered, for tests to assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The raw query string.
    pub query: String,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
    /// The user, when the token was known.
    pub user: Option<String>,
    /// The response status code.
    pub code: u16,
    /// The request body as text.
    pub body: String,
}

impl Logged {
    /// Whether the request could have changed something.
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }
}

#[derive(Debug, Clone)]
struct Touch {
    resource: &'static str,
    namespace: String,
    name: String,
    remaining: u32,
}

/// The double's API: state, users, request log and injected interference.
#[derive(Debug)]
pub struct Api {
    /// The objects.
    pub cluster: Cluster,
    users: Vec<User>,
    log: Vec<Logged>,
    touches: Vec<Touch>,
    touched: u64,
    server_address: String,
    denied: Vec<(&'static str, String)>,
}

enum Scope<'a> {
    Cluster,
    Namespace(&'a str),
}

impl Api {
    /// An API over `cluster` for `users`, reachable at `server_address` (`127.0.0.1:PORT`).
    pub fn new(cluster: Cluster, users: Vec<User>, server_address: String) -> Self {
        Self {
            cluster,
            users,
            log: Vec::new(),
            touches: Vec::new(),
            touched: 0,
            server_address,
            denied: Vec::new(),
        }
    }

    /// From now on every user, admins included, gets 403 Forbidden for `verb` on `kind`, as
    /// when RBAC grants no one that permission.
    pub fn deny(&mut self, kind: &'static Kind, verb: &str) {
        self.denied.push((kind.resource, verb.to_owned()));
    }

    /// Every request answered so far.
    pub fn log(&self) -> &[Logged] {
        &self.log
    }

    /// Forgets the request log.
    pub fn clear_log(&mut self) {
        self.log.clear();
    }

    /// After each of the next `times` successful reads of the object, another client changes
    /// it (an annotation, as manager `intruder`), so that a write based on that read is stale.
    pub fn touch_after_reads(
        &mut self,
        kind: &'static Kind,
        namespace: &str,
        name: &str,
        times: u32,
    ) {
        self.touches.push(Touch {
            resource: kind.resource,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            remaining: times,
        });
    }

    /// Answers one request at time `now` (RFC 3339).
    pub fn handle(&mut self, request: &Request, now: &str) -> Reply {
        let user = self.authenticate(request);
        let reply = match &user {
            None => status::unauthorized(),
            Some(user) => self.route(request, user, now),
        };
        self.log.push(Logged {
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            content_type: request.content_type.clone(),
            user: user.map(|u| u.name),
            code: reply.code,
            body: String::from_utf8_lossy(&request.body).into_owned(),
        });
        reply
    }

    fn authenticate(&self, request: &Request) -> Option<User> {
        let token = request.authorization.as_deref()?.strip_prefix("Bearer ")?;
        self.users.iter().find(|u| u.token == token.trim()).cloned()
    }

    fn route(&mut self, request: &Request, user: &User, now: &str) -> Reply {
        let segments: Vec<&str> = request.path.split('/').filter(|s| !s.is_empty()).collect();
        let get = request.method == "GET";
        let registered = self.cluster.registered();
        match segments.as_slice() {
            [] if get => Reply::ok(discovery::root(&registered)),
            ["version"] if get => Reply::ok(discovery::version()),
            ["api"] if get => Reply::ok(discovery::api(&self.server_address, &registered)),
            ["api", version] if get => discovery::resources("", version, &registered),
            ["apis"] if get => Reply::ok(discovery::apis(&registered)),
            ["apis", group] if get => discovery::group(group, &registered),
            ["apis", group, version] if get => discovery::resources(group, version, &registered),
            ["api", version, rest @ ..] => self.resource(request, user, "", version, rest, now),
            ["apis", group, version, rest @ ..] => {
                self.resource(request, user, group, version, rest, now)
            }
            _ => status::not_found(&Target {
                resource: "",
                group: "",
                name: None,
            }),
        }
    }

    fn resource(
        &mut self,
        request: &Request,
        user: &User,
        group: &str,
        version: &str,
        rest: &[&str],
        now: &str,
    ) -> Reply {
        let (scope, resource, name) = match rest {
            [resource] => (Scope::Cluster, *resource, None),
            [resource, name] => (Scope::Cluster, *resource, Some(*name)),
            ["namespaces", ns, resource] => (Scope::Namespace(ns), *resource, None),
            ["namespaces", ns, resource, name] => (Scope::Namespace(ns), *resource, Some(*name)),
            _ => return not_found_path(),
        };
        let Some(kind) = objects::kind_of(group, version, resource) else {
            return not_found_path();
        };
        // `None`: a namespaced kind listed across every namespace.
        let namespace = match (&scope, kind.namespaced, name) {
            (Scope::Namespace(ns), true, _) => Some(*ns),
            (Scope::Cluster, false, _) => Some(""),
            (Scope::Cluster, true, None) if request.method == "GET" => None,
            _ => return not_found_path(),
        };
        let verb = match (request.method.as_str(), name) {
            ("GET", Some(_)) => "get",
            ("GET", None) => "list",
            ("POST", None) => "create",
            ("PUT", Some(_)) => "update",
            ("PATCH", Some(_)) => "patch",
            ("DELETE", Some(_)) => "delete",
            _ => return status::method_not_allowed(),
        };
        let denied = self
            .denied
            .iter()
            .any(|(resource, denied)| *resource == kind.resource && denied == verb);
        if denied
            || !user
                .access
                .allows(verb, kind, namespace.is_some_and(|n| !n.is_empty()))
        {
            let target = Target {
                resource: kind.resource,
                group: kind.group,
                name,
            };
            let ns = namespace.filter(|n| !n.is_empty());
            return status::forbidden(&target, &user.name, verb, ns);
        }
        let Some(namespace) = namespace else {
            return Reply::ok(self.cluster.list(kind, None));
        };
        let query = Query::parse(&request.query);
        let manager = query
            .field_manager
            .clone()
            .or_else(|| {
                request
                    .user_agent
                    .as_deref()
                    .and_then(|ua| ua.split('/').next())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "unknown".to_owned());
        let name = name.unwrap_or_default();
        let media = request
            .content_type
            .as_deref()
            .unwrap_or("application/json");
        let readable = media.contains("json") || media.contains("yaml");
        if !request.body.is_empty() && !readable {
            return status::unsupported_media_type(media);
        }
        let body = if request.body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice::<Value>(&request.body) {
                Ok(body) => body,
                Err(e) => {
                    return status::bad_request(format!(
                        "the request body is not JSON (the double reads JSON bodies only): {e}"
                    ));
                }
            }
        };
        let dry_run = query.dry_run;
        let mut scratch;
        let cluster = if dry_run && verb != "get" && verb != "list" {
            scratch = self.cluster.clone();
            &mut scratch
        } else {
            &mut self.cluster
        };
        let result = match verb {
            "get" => cluster.get(kind, namespace, name).map(Reply::ok),
            "list" => Ok(Reply::ok(cluster.list(kind, Some(namespace)))),
            "create" => cluster
                .create(kind, namespace, body, &manager, now)
                .map(Reply::created),
            "update" => cluster
                .replace(kind, namespace, name, body, &manager, now)
                .map(Reply::ok),
            "delete" => cluster.delete(kind, namespace, name, &body),
            _ => patch(cluster, request, &query, kind, namespace, name, body, now),
        };
        let reply = result.unwrap_or_else(|failure| failure);
        if verb == "get" && reply.code == 200 {
            self.after_read(kind, namespace, name, now);
        }
        reply
    }

    fn after_read(&mut self, kind: &'static Kind, namespace: &str, name: &str, now: &str) {
        let Some(touch) = self.touches.iter_mut().find(|t| {
            t.resource == kind.resource
                && t.namespace == namespace
                && t.name == name
                && t.remaining > 0
        }) else {
            return;
        };
        touch.remaining -= 1;
        self.touched += 1;
        let patch = json!({"metadata": {"annotations": {"kube-double.test/touched": self.touched.to_string()}}});
        // The object was just read, so it exists and the patch is valid.
        let _ = self
            .cluster
            .merge_patch(kind, namespace, name, &patch, "intruder", now);
    }
}

#[allow(clippy::too_many_arguments)]
fn patch(
    cluster: &mut Cluster,
    request: &Request,
    query: &Query,
    kind: &'static Kind,
    namespace: &str,
    name: &str,
    body: Value,
    now: &str,
) -> Result<Reply, Reply> {
    let content_type = request.content_type.as_deref().unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    match media {
        "application/apply-patch+yaml" => {
            let Some(manager) = &query.field_manager else {
                return Err(status::invalid(
                    "PatchOptions.meta.k8s.io",
                    "",
                    &Target {
                        resource: "patchoptions",
                        group: "meta.k8s.io",
                        name: None,
                    },
                    "fieldManager",
                    "Required value: is required for apply patch".to_owned(),
                ));
            };
            let (object, created) =
                cluster.apply(kind, namespace, name, body, manager, query.force, now)?;
            Ok(if created {
                Reply::created(object)
            } else {
                Reply::ok(object)
            })
        }
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            let manager = query.field_manager.as_deref().unwrap_or("unknown");
            cluster
                .merge_patch(kind, namespace, name, &body, manager, now)
                .map(Reply::ok)
        }
        other => Err(status::unsupported_media_type(other)),
    }
}

fn not_found_path() -> Reply {
    status::not_found(&Target {
        resource: "",
        group: "",
        name: None,
    })
}

#[derive(Debug, Default)]
struct Query {
    field_manager: Option<String>,
    force: bool,
    dry_run: bool,
}

impl Query {
    fn parse(query: &str) -> Self {
        let mut out = Self::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match key.as_ref() {
                "fieldManager" => out.field_manager = Some(value.into_owned()),
                "force" => out.force = value == "true",
                "dryRun" => out.dry_run = value == "All",
                _ => {}
            }
        }
        out
    }
}
