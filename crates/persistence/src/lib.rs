//! Sesame's storage: every repository port of the domain crates, on SQLite or
//! PostgreSQL (chosen by the database URL), through diesel and r2d2, with the
//! migrations of both embedded and run at start.

#[macro_use]
mod database;
mod account_locks;
mod audit;
mod avatars;
mod change_file;
mod email_flows;
mod error;
mod events;
mod identity_keys;
mod import;
mod key_checks;
mod messages;
mod mfa;
mod passkeys;
mod purge;
mod schema;
mod sessions;
mod signing_keys;
pub mod testing;
mod time;
mod users;

pub use avatars::FileAvatarStore;
pub use database::{Backend, Database};
pub use error::PersistenceError;
pub use import::{DjangoRow, ExportedAccount, FastApiUsersRow, Holder, ImportOutcome, SourceTable};
pub use messages::{listen_for_notices, PgMessageNotifier};
pub use purge::{Purged, PURGE_BATCH};
