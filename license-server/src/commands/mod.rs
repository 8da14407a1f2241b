//! One module per subcommand: its arguments and its `run`.

pub mod database;
pub mod keys;
pub mod migrate;
pub mod notify_args;
pub mod serve;
pub mod sign;
pub mod token;
pub mod trial_options;
pub mod user;
