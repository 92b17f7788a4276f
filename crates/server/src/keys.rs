//! `sesame keys`: the JWT signing key set.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use sesame_kernel::audit::Actor;
use sesame_persistence::Database;
use sesame_tokens::Resealed;

use crate::app::{jwt_secret, key_set, sealing_cipher, Services, StartError};
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
    /// Seal the keys again under the JWT secret now configured, after it
    /// was changed; run it with every instance stopped.
    Reseal {
        /// A file holding the JWT secret used until now (the old
        /// `data/jwt_secret`, say).
        #[arg(long)]
        old_secret_file: PathBuf,
    },
}

pub(crate) fn keys(config: &Config, command: KeysCommand) -> Result<(), StartError> {
    if let KeysCommand::Reseal { old_secret_file } = &command {
        return reseal(config, old_secret_file);
    }
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
        // Done above: the services cannot start before it.
        KeysCommand::Reseal { .. } => {}
    }
    Ok(())
}

/// `sesame keys reseal`: the services cannot start while the keys are
/// sealed under another secret, so only the database and the key set are
/// opened.
fn reseal(config: &Config, old_secret_file: &Path) -> Result<(), StartError> {
    let old_secret = std::fs::read_to_string(old_secret_file)
        .map_err(|e| StartError::Keys(format!("cannot read {}: {e}", old_secret_file.display())))?;
    // Read as the data dir's secret file is.
    let old_secret = old_secret.trim();
    let database = Database::connect(&config.database_url(), 1)?;
    database.migrate()?;
    let keys = key_set(config, &database, jwt_secret(config)?.as_bytes())?;
    let old_cipher = sealing_cipher(old_secret.as_bytes())?;
    let report = keys
        .reseal(&old_cipher, old_secret.as_bytes(), &Actor::command_line())
        .map_err(|e| StartError::Keys(e.to_string()))?;
    for kid in &report.resealed {
        println!("{kid} sealed with the new secret");
    }
    if let Some(kid) = &report.rotated_to {
        println!("{kid} is now the active key");
    }
    for kid in &report.retired {
        println!("{kid} retired: it was the old secret itself");
    }
    if report == Resealed::default() {
        println!("every key is sealed with the configured secret already");
    }
    Ok(())
}
