//! One module per subcommand: its arguments and its `run`.

pub mod apply;
pub mod completions;
pub mod deployment_id;
pub mod inspect;
pub mod remove;
pub mod verify;
