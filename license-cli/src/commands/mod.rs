//! One module per subcommand: its arguments and its `run`.

pub mod admin;
pub mod admit;
pub mod apply;
pub mod checkin;
pub mod completions;
pub mod deployment_id;
pub mod inspect;
pub mod preflight;
pub mod remove;
pub mod sync;
pub mod trial;
pub mod verify;
