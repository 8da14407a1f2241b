//! The cluster's platform: the API groups it serves, its storage classes, whether its network
//! enforces NetworkPolicy, and the page's information (storage performance, browsers).

use super::cluster::{ApiServiceInfo, ClassInfo, Gap, Observed, PodInfo};
use super::report::{Check, Outcome};
use super::spec::{ApiGroup, ApiGroups, Browsers, Cni, Network, Storage};

/// One check per required API group.
pub fn api_groups(spec: &ApiGroups, observed: &Observed) -> Vec<Check> {
    spec.required
        .iter()
        .map(|group| api_group(spec, group, observed))
        .collect()
}

fn served(name: &str, observed: &Observed) -> Vec<String> {
    observed
        .group_versions
        .iter()
        .filter(|gv| {
            if name.contains('/') {
                *gv == name
            } else {
                gv.split_once('/').is_some_and(|(group, _)| group == name)
            }
        })
        .cloned()
        .collect()
}

fn api_group(spec: &ApiGroups, group: &ApiGroup, observed: &Observed) -> Check {
    let check = Check::new(
        format!("api_groups.{}", group.name),
        format!("API group {}", group.name),
        &spec.source,
    )
    .required("served (kubectl api-versions)");
    let found = served(&group.name, observed);
    if !found.is_empty() {
        let check = check.observed(format!("served: {}", found.join(", ")));
        // An aggregated API can be registered while its server is down.
        let unavailable: Vec<&ApiServiceInfo> = match &observed.api_services {
            Ok(services) => services
                .iter()
                .filter(|s| {
                    found.contains(&format!("{}/{}", s.group, s.version))
                        && s.available == Some(false)
                })
                .collect(),
            Err(Gap::Denied(permission)) => {
                return check.outcome(
                    Outcome::Warn,
                    format!(
                        "served, but its availability was not checked: {}",
                        permission.explain()
                    ),
                );
            }
            Err(Gap::Failed(why)) => {
                return check.outcome(
                    Outcome::Warn,
                    format!("served, but its availability was not checked: the APIServices cannot be listed: {why}"),
                );
            }
        };
        if let Some(service) = unavailable.first() {
            let why = service.message.clone().unwrap_or_default();
            let fix = group.fix.clone().unwrap_or_else(|| {
                format!(
                    "check the service behind it (kubectl describe apiservice {})",
                    service.name
                )
            });
            return check.outcome(
                Outcome::Fail,
                format!("registered but not available ({why}): {fix}"),
            );
        }
        return check.outcome(Outcome::Pass, "served");
    }
    let check = check.observed("not served");
    match (group.removed_in, observed.release) {
        (Some(removed), Some(release)) if release >= removed => {
            let replacements: Vec<String> = group
                .replaced_by
                .iter()
                .map(|r| {
                    let state = if served(r, observed).is_empty() {
                        "not served"
                    } else {
                        "served"
                    };
                    format!("{r} ({state})")
                })
                .collect();
            let moved = if replacements.is_empty() {
                String::new()
            } else {
                format!("; its resources are served by {}", replacements.join(", "))
            };
            check.outcome(
                Outcome::Warn,
                format!(
                    "Kubernetes {}.{} removed {} and this cluster runs {}.{}{moved}: nothing to do unless a manifest you deploy still uses {}, in which case move it to the newer API",
                    removed.0, removed.1, group.name, release.0, release.1, group.name
                ),
            )
        }
        _ => {
            let fix = group.fix.clone().unwrap_or_else(|| {
                format!("enable the API group {} on the API server, or install the add-on that serves it", group.name)
            });
            check.outcome(Outcome::Fail, format!("not served: {fix}"))
        }
    }
}

/// Dynamic provisioning, block volume mode, and the recommended performance.
pub fn storage(spec: &Storage, classes: &Result<Vec<ClassInfo>, Gap>) -> Vec<Check> {
    let dynamic = Check::new(
        "storage.dynamic_provisioning",
        "a storage class that provisions volumes dynamically",
        &spec.source,
    )
    .required("a default storage class with a dynamic provisioner");
    let block = Check::new(
        "storage.block_volume_mode",
        "block volume mode",
        &spec.source,
    )
    .required("the storage class supports volumeMode: Block");
    let performance = Check::new("storage.performance", "storage performance", &spec.source)
        .required(format!(
            "{} IOPS and {} MB/s per volume (recommended)",
            spec.recommended.iops, spec.recommended.throughput_mb_per_second
        ))
        .outcome(
            Outcome::Info,
            "recommended, not measured: choose a storage class (disk type) that provides it",
        );
    let classes = match classes {
        Ok(classes) => classes,
        Err(Gap::Denied(permission)) => {
            return vec![
                permission.warning(dynamic),
                permission.warning(block),
                performance,
            ];
        }
        Err(Gap::Failed(why)) => {
            let message = format!("not checked: cannot list storage classes: {why}");
            return vec![
                dynamic.outcome(Outcome::Warn, message.clone()),
                block.outcome(Outcome::Warn, message),
                performance,
            ];
        }
    };
    let is_dynamic = |c: &&ClassInfo| !spec.static_provisioners.contains(&c.provisioner);
    let describe = |c: &ClassInfo| {
        format!(
            "{} ({}{})",
            c.name,
            c.provisioner,
            if c.default { ", default" } else { "" }
        )
    };
    let observed = if classes.is_empty() {
        "no storage classes".to_owned()
    } else {
        classes.iter().map(describe).collect::<Vec<_>>().join(", ")
    };
    let dynamic = dynamic.observed(observed);
    let default_dynamic = classes.iter().filter(is_dynamic).find(|c| c.default);
    let chosen = default_dynamic.or_else(|| classes.iter().find(is_dynamic));
    let dynamic = match (default_dynamic, chosen) {
        (Some(class), _) => dynamic.outcome(
            Outcome::Pass,
            format!("the default class {} provisions dynamically", class.name),
        ),
        (None, Some(class)) => dynamic.outcome(
            Outcome::Warn,
            format!(
                "{} provisions dynamically but is not the default class: make it the default (kubectl patch storageclass {} -p '{{\"metadata\":{{\"annotations\":{{\"storageclass.kubernetes.io/is-default-class\":\"true\"}}}}}}') or name it in the product's storage settings",
                class.name, class.name
            ),
        ),
        (None, None) => dynamic.outcome(
            Outcome::Fail,
            "no storage class provisions volumes dynamically: install a CSI driver for your storage (your cloud's disk driver, Longhorn, Ceph RBD, …) and a storage class for it, marked default",
        ),
    };
    let block = match chosen {
        None => block.outcome(
            Outcome::Skipped,
            "no dynamic storage class to check: see storage.dynamic_provisioning",
        ),
        Some(class) => {
            let block = block.observed(describe(class));
            let provisioner = &class.provisioner;
            if spec.block_volume_mode.supported.contains(provisioner) {
                block.outcome(
                    Outcome::Pass,
                    format!("{provisioner} supports block volumes"),
                )
            } else if spec.block_volume_mode.unsupported.contains(provisioner) {
                block.outcome(
                    Outcome::Fail,
                    format!(
                        "{provisioner} does not support volumeMode: Block: use a storage class whose CSI driver does (your cloud's disk driver, Longhorn, Ceph RBD, TopoLVM)"
                    ),
                )
            } else {
                block.outcome(
                    Outcome::Warn,
                    format!(
                        "not known whether {provisioner} supports block volumes: test it by creating a PersistentVolumeClaim with volumeMode: Block in class {}",
                        class.name
                    ),
                )
            }
        }
    };
    vec![dynamic, block, performance]
}

fn matches(cni: &Cni, pod: &PodInfo) -> bool {
    cni.pods
        .iter()
        .any(|prefix| pod.name.starts_with(prefix.as_str()))
        || cni
            .images
            .iter()
            .any(|part| pod.images.iter().any(|image| image.contains(part.as_str())))
}

fn detect<'a>(candidates: &'a [Cni], pods: &[PodInfo]) -> Option<(&'a Cni, String)> {
    candidates.iter().find_map(|cni| {
        pods.iter()
            .find(|pod| matches(cni, pod))
            .map(|pod| (cni, pod.name.clone()))
    })
}

/// The NetworkPolicy API, and a CNI plugin that enforces it.
pub fn network(spec: &Network, observed: &Observed) -> Vec<Check> {
    let api = Check::new("network.policy_api", "NetworkPolicy API", &spec.source)
        .required("networking.k8s.io/v1 networkpolicies served");
    let api = match &observed.network_policy_api {
        Ok(false) => api.observed("not served").outcome(
            Outcome::Fail,
            "the cluster does not serve networking.k8s.io/v1 NetworkPolicy: upgrade Kubernetes (1.7 or later serves it) or enable the API group",
        ),
        Ok(true) => match &observed.network_policies {
            Ok(policies) => api
                .observed(format!(
                    "served; {} network polic{}",
                    policies.len(),
                    if policies.len() == 1 { "y" } else { "ies" }
                ))
                .outcome(Outcome::Pass, "served"),
            Err(Gap::Denied(permission)) => api.observed("served").outcome(
                Outcome::Warn,
                format!(
                    "served, but the policies were not listed: {}",
                    permission.explain()
                ),
            ),
            Err(Gap::Failed(why)) => api
                .observed("served")
                .outcome(Outcome::Warn, format!("served, but the policies cannot be listed: {why}")),
        },
        Err(Gap::Denied(permission)) => permission.warning(api),
        Err(Gap::Failed(why)) => api.outcome(Outcome::Warn, format!("not checked: {why}")),
    };
    let known: Vec<&str> = spec.enforcing.iter().map(|c| c.name.as_str()).collect();
    let cni = Check::new(
        "network.cni",
        "a CNI plugin that enforces NetworkPolicy",
        &spec.source,
    )
    .required(format!("one of {}", known.join(", ")));
    let cni = match &observed.kube_system_pods {
        Err(Gap::Denied(permission)) => permission.warning(cni),
        Err(Gap::Failed(why)) => cni.outcome(
            Outcome::Warn,
            format!("not checked: cannot list the pods in kube-system: {why}"),
        ),
        Ok(pods) => match (detect(&spec.enforcing, pods), detect(&spec.not_enforcing, pods)) {
            (Some((found, pod)), _) => cni
                .observed(format!("{} (pod kube-system/{pod})", found.name))
                .outcome(Outcome::Pass, format!("{} enforces NetworkPolicy", found.name)),
            (None, Some((found, pod))) => cni
                .observed(format!("{} (pod kube-system/{pod})", found.name))
                .outcome(
                    Outcome::Fail,
                    format!(
                        "{} does not enforce NetworkPolicy, so workspaces are not isolated from each other: add a policy engine (Calico's policy-only mode with Flannel is Canal) or move to a CNI that enforces it ({})",
                        found.name,
                        known.join(", ")
                    ),
                ),
            (None, None) => cni.observed("not recognised from the pods in kube-system").outcome(
                Outcome::Warn,
                "unknown CNI plugin: test that it enforces NetworkPolicy (apply a deny-all policy to a test namespace and check that traffic to its pods stops)",
            ),
        },
    };
    vec![api, cni]
}

/// The supported browsers: information.
pub fn browsers(spec: &Browsers) -> Check {
    let list: Vec<String> = spec
        .minimum
        .iter()
        .map(|b| format!("{} {}+", b.name, b.version))
        .collect();
    Check::new("browsers", "supported browsers", &spec.source)
        .required(list.join(", "))
        .outcome(
            Outcome::Info,
            "the users' browsers are their concern: they need one of these versions or later",
        )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::preflight::spec::Spec;

    fn observed(release: (u32, u32), group_versions: &[&str]) -> Observed {
        Observed {
            server: "https://cluster".into(),
            release: Some(release),
            git_version: format!("v{}.{}.0", release.0, release.1),
            group_versions: group_versions.iter().map(|g| (*g).to_owned()).collect(),
            network_policy_api: Ok(true),
            api_services: Ok(Vec::new()),
            nodes: Ok(Vec::new()),
            storage_classes: Ok(Vec::new()),
            network_policies: Ok(Vec::new()),
            kube_system_pods: Ok(Vec::new()),
        }
    }

    fn outcome_of(id: &str, observed: &Observed) -> (Outcome, String) {
        let spec = Spec::built_in().unwrap();
        let check = api_groups(&spec.api_groups, observed)
            .into_iter()
            .find(|c| c.id == id)
            .unwrap();
        (check.outcome, check.message)
    }

    #[test]
    fn a_removed_api_group_is_a_failure_only_before_its_removal() {
        let id = "api_groups.extensions/v1beta1";
        let old = observed((1, 21), &["v1", "apps/v1"]);
        let (outcome, message) = outcome_of(id, &old);
        assert_eq!(outcome, Outcome::Fail);
        assert!(
            message.starts_with("not served: enable the API group"),
            "{message}"
        );
        let served = observed((1, 21), &["v1", "extensions/v1beta1"]);
        assert_eq!(outcome_of(id, &served).0, Outcome::Pass);
        let (outcome, message) = outcome_of(id, &observed((1, 22), &["v1", "apps/v1"]));
        assert_eq!(outcome, Outcome::Warn);
        assert!(
            message.contains("served by networking.k8s.io/v1 (not served), apps/v1 (served)"),
            "{message}"
        );
        // A group required in any version matches each of its versions.
        let metrics = observed((1, 32), &["metrics.k8s.io/v1beta1"]);
        assert_eq!(
            outcome_of("api_groups.metrics.k8s.io", &metrics).0,
            Outcome::Pass
        );
        let (outcome, message) = outcome_of("api_groups.metrics.k8s.io", &observed((1, 32), &[]));
        assert_eq!(outcome, Outcome::Fail);
        assert!(message.contains("install metrics-server"), "{message}");
    }
}
