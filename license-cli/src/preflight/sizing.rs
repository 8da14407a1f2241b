//! The control plane's size: the control services plus each active developer, against what
//! the ready, schedulable nodes can allocate, with the page's headroom guidance.

use super::cluster::{Amounts, Gap, NodeInfo};
use super::report::{Check, Outcome};
use super::spec::{ControlPlane, Resources};

/// The IDE developers use, which sets their share (`--ide`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ide {
    /// JetBrains IDEs (remote development): the larger share.
    Jetbrains,
    /// VS Code over SSH.
    Vscode,
}

impl Ide {
    fn name(self) -> &'static str {
        match self {
            Ide::Jetbrains => "JetBrains",
            Ide::Vscode => "VS Code",
        }
    }
}

/// How many developers, using what.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Active developers.
    pub developers: u32,
    /// Their IDE.
    pub ide: Ide,
}

struct Resource {
    id: &'static str,
    what: &'static str,
    pick: fn(&Amounts) -> f64,
    spec: fn(&Resources) -> f64,
    show: fn(f64) -> String,
    warn_above: Option<f64>,
}

fn cores(n: f64) -> String {
    let rounded = (n * 100.0).round() / 100.0;
    format!("{rounded} CPU")
}

fn gigabytes(n: f64) -> String {
    let gb = (n / 1e9 * 10.0).round() / 10.0;
    format!("{gb} GB")
}

/// The three sizing checks.
pub fn checks(spec: &ControlPlane, plan: Plan, nodes: &Result<Vec<NodeInfo>, Gap>) -> Vec<Check> {
    let per = match plan.ide {
        Ide::Jetbrains => &spec.per_developer.jetbrains,
        Ide::Vscode => &spec.per_developer.vscode,
    };
    let resources = [
        Resource {
            id: "control_plane.cpu",
            what: "CPU",
            pick: |a| a.cpu,
            spec: |r| r.cpu.0,
            show: cores,
            warn_above: Some(spec.warn_above_percent.cpu.0),
        },
        Resource {
            id: "control_plane.memory",
            what: "memory",
            pick: |a| a.memory,
            spec: |r| r.memory.0,
            show: gigabytes,
            warn_above: Some(spec.warn_above_percent.memory.0),
        },
        Resource {
            id: "control_plane.storage",
            what: "storage",
            pick: |a| a.storage,
            spec: |r| r.storage.0,
            show: gigabytes,
            warn_above: None,
        },
    ];
    let developers = f64::from(plan.developers);
    resources
        .iter()
        .map(|r| {
            let base = (r.spec)(&spec.base);
            let share = (r.spec)(per);
            let planned = base + developers * share;
            let required = if plan.developers == 0 {
                format!(
                    "{} for the control services (size for developers with --developers N --ide jetbrains|vscode)",
                    (r.show)(base)
                )
            } else {
                format!(
                    "{} = {} for the control services + {} × {} per {} developer",
                    (r.show)(planned),
                    (r.show)(base),
                    plan.developers,
                    (r.show)(share),
                    plan.ide.name()
                )
            };
            let check = Check::new(r.id, format!("allocatable {}", r.what), &spec.source)
                .required(required);
            judge(r, planned, check, nodes)
        })
        .collect()
}

fn judge(r: &Resource, planned: f64, check: Check, nodes: &Result<Vec<NodeInfo>, Gap>) -> Check {
    let nodes = match nodes {
        Ok(nodes) => nodes,
        Err(Gap::Denied(permission)) => return permission.warning(check),
        Err(Gap::Failed(why)) => {
            return check.outcome(
                Outcome::Warn,
                format!("not checked: cannot list nodes: {why}"),
            );
        }
    };
    let usable: Vec<&NodeInfo> = nodes.iter().filter(|n| n.ready && n.schedulable).collect();
    let allocatable: f64 = usable.iter().map(|n| (r.pick)(&n.allocatable)).sum();
    let capacity: f64 = usable.iter().map(|n| (r.pick)(&n.capacity)).sum();
    let left_out = nodes.len() - usable.len();
    let mut observed = format!(
        "{} allocatable on {} ready, schedulable node{} (capacity {})",
        (r.show)(allocatable),
        usable.len(),
        if usable.len() == 1 { "" } else { "s" },
        (r.show)(capacity)
    );
    if left_out > 0 {
        observed.push_str(&format!("; {left_out} not ready or cordoned, not counted"));
    }
    let check = check.observed(observed);
    if usable.is_empty() {
        return check.outcome(
            Outcome::Fail,
            "no node is ready and schedulable: add nodes, or uncordon them (kubectl uncordon NODE)",
        );
    }
    if planned > allocatable {
        return check.outcome(
            Outcome::Fail,
            format!(
                "the nodes can allocate {} of {}, and the plan needs {}: add nodes or use larger ones (or plan for fewer developers)",
                (r.show)(allocatable),
                r.what,
                (r.show)(planned)
            ),
        );
    }
    let utilization = if allocatable > 0.0 {
        planned / allocatable * 100.0
    } else {
        0.0
    };
    match r.warn_above {
        Some(limit) if utilization > limit => check.outcome(
            Outcome::Warn,
            format!(
                "planned {} utilization is {utilization:.0}%, above the page's guidance of {limit:.0}%: add nodes or use larger ones to keep headroom",
                r.what
            ),
        ),
        Some(_) => check.outcome(
            Outcome::Pass,
            format!("planned {} utilization is {utilization:.0}%", r.what),
        ),
        None => check.outcome(Outcome::Pass, "enough"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::preflight::spec::Spec;

    fn node(name: &str, cpu: f64, memory_gb: f64, storage_gb: f64) -> NodeInfo {
        let amounts = Amounts {
            cpu,
            memory: memory_gb * 1e9,
            storage: storage_gb * 1e9,
        };
        NodeInfo {
            name: name.into(),
            ready: true,
            schedulable: true,
            allocatable: amounts,
            capacity: amounts,
        }
    }

    fn outcomes(developers: u32, ide: Ide, nodes: Vec<NodeInfo>) -> Vec<(String, Outcome)> {
        let spec = Spec::built_in().unwrap();
        checks(&spec.control_plane, Plan { developers, ide }, &Ok(nodes))
            .into_iter()
            .map(|c| (c.message, c.outcome))
            .collect()
    }

    #[test]
    fn sizes_by_developers_and_ide() {
        let small = || vec![node("a", 8.0, 32.0, 100.0)];
        // 2 CPU of 8 (25%), 4 GB of 32 (12.5%), 20 GB of 100.
        let all: Vec<Outcome> = outcomes(0, Ide::Jetbrains, small())
            .into_iter()
            .map(|c| c.1)
            .collect();
        assert_eq!(all, [Outcome::Pass; 3]);
        // One JetBrains developer: 6 CPU of 8 (75% > 70%), 12 GB of 32 (37.5%).
        let one = outcomes(1, Ide::Jetbrains, small());
        assert_eq!(one[0].1, Outcome::Warn, "{one:?}");
        assert!(one[0].0.contains("75%"), "{one:?}");
        assert_eq!(one[1].1, Outcome::Pass);
        // Two: 10 CPU of 8.
        let two = outcomes(2, Ide::Jetbrains, small());
        assert_eq!(two[0].1, Outcome::Fail);
        assert!(two[0].0.contains("add nodes"), "{two:?}");
        // Four VS Code developers: 6 CPU (75%), 8 GB (25%), 20 GB.
        let vscode = outcomes(4, Ide::Vscode, small());
        assert_eq!(vscode[0].1, Outcome::Warn);
        assert_eq!(vscode[1].1, Outcome::Pass);
        assert_eq!(vscode[2].1, Outcome::Pass);
        // Memory above 50%: 2 CPU of 8, 4 GB of 6.
        let tight = outcomes(0, Ide::Vscode, vec![node("a", 8.0, 6.0, 100.0)]);
        assert_eq!(tight[1].1, Outcome::Warn);
    }

    #[test]
    fn only_ready_schedulable_nodes_count() {
        let mut cordoned = node("b", 64.0, 256.0, 1000.0);
        cordoned.schedulable = false;
        let mut not_ready = node("c", 64.0, 256.0, 1000.0);
        not_ready.ready = false;
        let result = outcomes(
            0,
            Ide::Vscode,
            vec![node("a", 1.0, 2.0, 10.0), cordoned, not_ready],
        );
        assert!(result.iter().all(|c| c.1 == Outcome::Fail), "{result:?}");
        let none = outcomes(0, Ide::Vscode, vec![]);
        assert!(none[0].0.starts_with("no node is ready"), "{none:?}");
    }
}
