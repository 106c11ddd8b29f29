//! One module a subcommand: each owns its clap `Args` and a `run` that returns the exit status.

pub mod dump;
pub mod generate;
pub mod guard;
pub mod hunt;
pub mod inspect;
pub mod rules;
pub mod serve;
pub mod token;
