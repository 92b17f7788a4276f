//! Rebuilds the crate when a migration is added: `embed_migrations!` reads
//! the migration folders while compiling, and cargo otherwise notices only
//! the files it read, not a new folder beside them (diesel's advice).

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
