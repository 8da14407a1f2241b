//! `license-server`: the vendor's licensor and its offline key and signing tools.

use std::process::ExitCode;

fn main() -> ExitCode {
    license_server::cli::main()
}
