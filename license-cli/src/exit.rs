//! The exit statuses scripts and init containers rely on.

use std::process::ExitCode;

/// Success, or the license is valid (warnings go to standard error).
pub const VALID: u8 = 0;
/// The license is invalid, or the operation was refused.
pub const INVALID: u8 = 1;
/// A usage, configuration or environment error (clap uses 2 for usage errors too).
pub const ERROR: u8 = 2;

/// An error that ends the command with [`ERROR`].
pub fn error() -> ExitCode {
    ExitCode::from(ERROR)
}
