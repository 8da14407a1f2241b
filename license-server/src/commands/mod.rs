//! One module per subcommand: its arguments and its `run`.

pub mod keys;
pub mod sign;
