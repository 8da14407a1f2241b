//! `coder-license` as a library: the command-line definitions, the commands, where licenses
//! are installed (a Kubernetes Secret or a directory), and output.
//!
//! Exit status is a contract: 0 success or a valid license, 1 an invalid license or a refused
//! operation, 2 a usage, configuration or environment error.

pub mod cli;
pub mod cluster;
pub mod commands;
pub mod exit;
pub mod files;
pub mod licensor;
pub mod output;
pub mod preflight;
pub mod safe_fs;
pub mod source;
pub mod store;
pub mod target;
pub mod trust;
