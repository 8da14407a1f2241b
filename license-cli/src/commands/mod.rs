//! One module per subcommand: its arguments and its `run`.

pub mod inspect;
pub mod verify;
