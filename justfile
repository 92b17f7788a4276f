# Sesame's everyday commands. `just --list` shows them.

pg_url := env_var_or_default("SESAME_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")

# Serve on SQLite with the defaults.
run:
    cargo run --release

# Every test on SQLite (PostgreSQL tests skip without SESAME_TEST_POSTGRES_URL).
test:
    cargo test --workspace

# Every test, on SQLite and on PostgreSQL.
test-pg:
    SESAME_TEST_POSTGRES_URL={{pg_url}} cargo test --workspace

# The lint gate CI applies.
lint:
    cargo fmt --check
    cargo clippy --workspace --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt
