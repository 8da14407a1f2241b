//! Licensor's server crate: the vendor's side. Today it holds the offline tools (key
//! generation, signing); the HTTP licensor builds on the same pieces.

pub mod cli;
pub mod commands;
pub mod keyfile;
