//! `sesame keys`: the JWT signing key set.

use clap::Subcommand;
use sesame_kernel::audit::Actor;

use crate::app::{Services, StartError};
use crate::Config;

/// `sesame keys ...`
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// One line per key: kid, algorithm, state, created.
    List,
    /// Make a new key of the configured algorithm the one that signs.
    Rotate,
    /// Make every token signed with KID fail at once.
    Retire {
        /// The key id.
        kid: String,
    },
}

pub(crate) fn keys(config: &Config, command: KeysCommand) -> Result<(), StartError> {
    let services = Services::build(config)?;
    let keys = &services.signing_keys;
    let failed = |e: sesame_tokens::TokensError| StartError::Keys(e.to_string());
    match command {
        KeysCommand::List => {
            for key in keys.list().map_err(failed)? {
                println!(
                    "{}\t{}\t{}\t{}",
                    key.kid,
                    key.algorithm,
                    key.state.as_str(),
                    key.created_at.format("%Y-%m-%dT%H:%M:%SZ")
                );
            }
        }
        KeysCommand::Rotate => {
            let key = keys.rotate(&Actor::command_line()).map_err(failed)?;
            println!("{} is now the active {} key", key.kid, key.algorithm);
        }
        KeysCommand::Retire { kid } => {
            keys.retire(&kid, &Actor::command_line()).map_err(failed)?;
            println!("{kid} retired");
        }
    }
    Ok(())
}
