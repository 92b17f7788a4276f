//! The repository contract: one set of tests that every backend of
//! [`sesame_persistence::Database`] must pass. Each test runs on a fresh
//! SQLite file (`contract::<area>::sqlite::<name>`) and on a fresh
//! PostgreSQL database (`contract::<area>::postgres::<name>`); the PostgreSQL
//! ones are skipped unless `SESAME_TEST_POSTGRES_URL` names a server, and
//! fail if it names one that cannot be reached.

#[macro_use]
mod support;

mod account_locks;
mod concurrency;
mod email_flows;
mod events;
mod import;
mod key_checks;
mod mfa;
mod passkeys;
mod purge;
mod sessions;
mod source_table;
mod sqlite_wal;
mod users;
