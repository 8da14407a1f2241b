//! Command-line definitions of `license-server` and the dispatch to each command.

use crate::commands;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The vendor's licensor: issues, signs and delivers licenses for self-hosted deployments.
#[derive(Debug, Parser)]
#[command(name = "license-server", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage Ed25519 signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Sign a license from a claims file and print the token.
    Sign(commands::sign::Args),
    /// Run the licensor's HTTP API.
    Serve(Box<commands::serve::Args>),
    /// Apply database migrations and exit.
    Migrate(commands::migrate::Args),
    /// Manage the web console's users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage admin API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an admin token; it is printed once, as the last word of the output.
    Create(commands::token::CreateArgs),
    /// Revoke an admin token by name.
    Revoke(commands::token::RevokeArgs),
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a console user (the first admin, for instance); the password is read from
    /// standard input, or generated and printed once.
    Create(commands::user::CreateArgs),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate a key pair: a private key (mode 0600) and its public key, named by key id.
    Generate(commands::keys::GenerateArgs),
    /// Print the public key the licensor signs with (PEM or JWKS), for verifiers to trust.
    Export(commands::keys::ExportArgs),
}

/// Parses the command line, runs the command, and turns errors into one line and exit 2.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keys {
            command: KeysCommand::Generate(args),
        } => commands::keys::generate(&args),
        Command::Keys {
            command: KeysCommand::Export(args),
        } => commands::keys::export(&args),
        Command::Sign(args) => commands::sign::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Migrate(args) => commands::migrate::run(&args),
        Command::User {
            command: UserCommand::Create(args),
        } => commands::user::create(&args),
        Command::Token {
            command: TokenCommand::Create(args),
        } => commands::token::create(&args),
        Command::Token {
            command: TokenCommand::Revoke(args),
        } => commands::token::revoke(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
