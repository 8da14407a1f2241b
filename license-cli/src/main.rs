//! `coder-license`: the cluster admin's and the control plane's license tool.

use std::process::ExitCode;

fn main() -> ExitCode {
    license_cli::cli::main()
}
