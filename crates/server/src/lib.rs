//! Sesame's configuration, command line and wiring: the one crate that knows
//! every other one.

mod app;
pub mod cli;
mod config;
mod hashing;
mod import;
mod keys;
mod logging;
mod mail;
mod private;
mod purge;
mod secrets;

pub use app::{Application, StartError};
pub use config::{Config, ConfigError, LogFormat};
