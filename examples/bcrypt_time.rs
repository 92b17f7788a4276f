//! Seconds one password check costs at a bcrypt cost, measured on one
//! thread exactly as Sesame's logins pay it: the "bcrypt limit" of
//! `just bench` is cores ÷ this.
//!
//! `cargo run --release --example bcrypt_time -- [COST] [ROUNDS]` prints the
//! seconds per check (defaults: cost 12, 8 rounds).

use std::time::Instant;

use sesame_users::{BcryptHasher, Password, PasswordHasher};

fn main() {
    let mut args = std::env::args().skip(1);
    let cost: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(12);
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(8).max(1);
    let hasher = match BcryptHasher::new(cost) {
        Ok(hasher) => hasher,
        Err(e) => {
            eprintln!("bcrypt_time: {e}");
            std::process::exit(2);
        }
    };
    let secret = "Xk92!dumbo-lamp";
    let password = Password::new(secret, &[]).expect("a strong password");
    let hash = hasher.hash(&password).expect("a hash");
    let started = Instant::now();
    for _ in 0..rounds {
        assert!(hasher.verify(secret, &hash));
    }
    println!("{:.6}", started.elapsed().as_secs_f64() / f64::from(rounds));
}
