//! `kube-double [--kubeconfig PATH] [--namespace NS]`: runs the Kubernetes API test double on
//! a loopback port until killed, and writes a kubeconfig for it.

use license_kube_double::KubeDouble;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<()> {
    let mut kubeconfig = PathBuf::from("kube-double.kubeconfig");
    let mut namespace = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--kubeconfig" => {
                kubeconfig = args
                    .next()
                    .map(PathBuf::from)
                    .ok_or_else(|| anyhow::anyhow!("--kubeconfig needs a path"))?;
            }
            "--namespace" | "-n" => {
                namespace = Some(
                    args.next()
                        .ok_or_else(|| anyhow::anyhow!("--namespace needs a name"))?,
                );
            }
            "--help" | "-h" => {
                println!("usage: kube-double [--kubeconfig PATH] [--namespace NS]");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?}; see --help"),
        }
    }
    let double = KubeDouble::start()?;
    if let Some(ns) = &namespace {
        double.create_namespace(ns);
    }
    double.write_kubeconfig(&kubeconfig, namespace.as_deref())?;
    println!(
        "kube-double serving {} (kube-system uid {}); kubeconfig written to {}",
        double.server(),
        double.kube_system_uid(),
        kubeconfig.display()
    );
    loop {
        std::thread::park();
    }
}
