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

# Every example of the domain crates: each wires its crate to storage of its own.
examples:
    #!/usr/bin/env bash
    set -euo pipefail
    for crate in users tokens events messaging; do
        for file in crates/"$crate"/examples/*.rs; do
            example="$(basename "$file" .rs)"
            echo "== sesame-$crate: $example"
            cargo run --quiet -p "sesame-$crate" --example "$example"
            echo
        done
    done

# Schemathesis against a live release build for SECONDS s (CI runs 300); fails on any 5xx or schema violation.
fuzz seconds="1800":
    scripts/fuzz.sh {{seconds}}

# HTTP benchmark (issue 9): release build on SQLite then PostgreSQL, driven by oha
# (installed when missing), SECONDS per measure; appends the tables to BENCHMARKS.md.
bench seconds="10" connections="32":
    scripts/bench.sh {{seconds}} {{connections}}

# WebSocket benchmark (issue 6): SOCKETS sockets, RATE msg/s for SECONDS s against a release server; appends to BENCHMARKS.md.
bench-ws sockets="10000" rate="1000" seconds="10":
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release --bin sesame --example bench_ws
    target="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
    # Each socket is a descriptor in the server and one in the client.
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $(({{sockets}} + 1024)) ]; then
        echo "bench-ws: only $(ulimit -n) file descriptors allowed (hard limit $(ulimit -Hn)); raise it" >&2
        exit 1
    fi
    # A free port below the ephemeral range the client sockets use.
    port=""
    for _ in $(seq 100); do
        candidate=$((20000 + RANDOM % 10000))
        if ! (: <>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
    done
    [ -n "$port" ] || { echo "bench-ws: no free port found" >&2; exit 1; }
    data="$(mktemp -d)"
    server=""
    stop() {
        if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
            kill -TERM "$server" 2>/dev/null || true
            for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$server" 2>/dev/null || true
        fi
        rm -rf "$data"
    }
    trap stop EXIT
    unset DATABASE_URL SESAME__DATABASE__URL
    export SESAME__HTTP__BIND="127.0.0.1:$port" SESAME__DATA_DIR="$data" \
        SESAME__PASSWORDS__BCRYPT_COST=4 SESAME__RATE_LIMIT__ENABLED=false
    "$target/release/sesame" >"$data/server.log" 2>&1 &
    server=$!
    out="$data/bench.md"
    bench=("$target/release/examples/bench_ws" "http://127.0.0.1:$port" "$server" {{sockets}} {{rate}} {{seconds}})
    if ! "${bench[@]}" | tee "$out"; then
        echo "bench-ws: the benchmark failed; last server log lines:" >&2
        tail -n 20 "$data/server.log" >&2
        exit 1
    fi
    echo "bench-ws: $(grep -c 'WARN\|ERROR' "$data/server.log" || true) warning/error lines in the server log" >&2
    # Read before the append below makes the tree dirty.
    revision="$(git describe --always --dirty 2>/dev/null || echo unknown)"
    [ -f BENCHMARKS.md ] || printf '# Benchmarks\n\nFigures appended by `just bench-ws` (WebSocket delivery, issue 6; targets: no more than 250 MiB RSS for 10,000 idle sockets, p99 at 20 ms or less at 1,000 msg/s). Latency runs from the start of `POST /messages/` to the frame read on the receiver'"'"'s socket, on loopback, client and server on the same machine. The row *CPU while sending* tells how calm the machine was: whole-machine use beyond server + bench is other work.\n' > BENCHMARKS.md
    {
        echo
        echo "## bench-ws, $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), $revision"
        echo
        echo "\`just bench-ws {{sockets}} {{rate}} {{seconds}}\`: release server on SQLite in a temp dir, $(env | grep -E '^SESAME__(PASSWORDS__BCRYPT_COST|RATE_LIMIT__ENABLED)=' | sort | tr '\n' ' ')(ulimit -n $(ulimit -n)); client: \`${bench[*]}\`"
        echo
        cat "$out"
    } >> BENCHMARKS.md
    echo "bench-ws: appended to BENCHMARKS.md" >&2

# Import benchmark (issue 19): COUNT JSONL accounts into a fresh SQLite file then a fresh
# PostgreSQL database with a release build; wall clock and peak RSS appended to BENCHMARKS.md.
bench-import count="100000":
    scripts/bench_import.sh {{count}}
