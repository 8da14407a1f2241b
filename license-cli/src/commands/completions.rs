//! `coder-license completions SHELL` and `coder-license man`: generated from the clap
//! definitions, so they never drift from the commands.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Prints the completion script of `command` (the whole CLI) on standard output.
pub fn run(args: &Args, mut command: clap::Command) -> anyhow::Result<ExitCode> {
    // Generated into memory first: clap_complete panics when its writer fails, and a closed
    // pipe (`| head`) must end the command quietly, not with a panic.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "coder-license", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write one page per command (coder-license.1, coder-license-apply.1, …) into this
    /// directory instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Prints the man page of `command` (roff), or writes every page into `--out-dir`.
pub fn man(args: &ManArgs, command: clap::Command) -> anyhow::Result<ExitCode> {
    match &args.out_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(command, dir)?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command).render(&mut out)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
