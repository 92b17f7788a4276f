#!/usr/bin/env bash
# Write-heavy soak for the background purge (issue 17): a release build on
# SQLite, ROUNDS times log in, log out everywhere and (every tenth round)
# ask for a password reset; once without the purge and once with it (every
# second, one second of retention). Prints the row counts of the tables the
# purge looks after, then and after the server has run a few seconds more.
#
#   scripts/purge_soak.sh [ROUNDS]      (default 1000)
#
# SESAME_BIN=path/to/sesame uses that binary instead of building one.
set -euo pipefail

rounds="${1:-1000}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
for tool in curl sqlite3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "soak: $tool is needed" >&2; exit 1; }
done

if [ -n "${SESAME_BIN:-}" ]; then
    sesame="$SESAME_BIN"
else
    cargo build --release --bin sesame
    target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
    sesame="$target/release/sesame"
fi

work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

counts() {
    sqlite3 "$1/sesame.db" \
        "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM account_tokens),
                (SELECT count(*) FROM outgoing_emails), (SELECT count(*) FROM audit_events);" |
        tr '|' ' '
}

# soak LABEL INTERVAL: one server, ROUNDS rounds, the counts.
soak() {
    local label="$1" interval="$2" data="$work/$1"
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    mkdir -p "$data"
    SESAME__DATA_DIR="$data" SESAME__HTTP__BIND="127.0.0.1:$port" \
    SESAME__PASSWORDS__BCRYPT_COST=4 SESAME__RATE_LIMIT__ENABLED=false \
    SESAME__MAIL__RETRY_INITIAL_MS=100 \
    SESAME__PURGE__INTERVAL_SECONDS="$interval" SESAME__PURGE__RETENTION_SECONDS=1 \
    SESAME__LOG__LEVEL=warn "$sesame" >"$data/server.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    local base="http://127.0.0.1:$port" password="Xk92!dumbo-lamp-$RANDOM"
    curl -fs -o /dev/null -H 'Content-Type: application/json' \
        -d "{\"username\":\"soak\",\"email\":\"soak@example.com\",\"password\":\"$password\",\"re_password\":\"$password\"}" \
        "$base/auth/users/"
    local started=$SECONDS
    for i in $(seq "$rounds"); do
        access="$(curl -fs -H 'Content-Type: application/json' \
            -d "{\"username\":\"soak\",\"password\":\"$password\"}" "$base/auth/jwt/create/" |
            sed 's/.*"access":"\([^"]*\)".*/\1/')"
        curl -fs -o /dev/null -X POST -H "Authorization: Bearer $access" "$base/auth/logout/all/"
        if [ $((i % 10)) -eq 0 ]; then
            curl -fs -o /dev/null -H 'Content-Type: application/json' \
                -d '{"email":"soak@example.com"}' "$base/auth/users/reset_password/"
        fi
    done
    local took=$((SECONDS - started))
    local right_after later
    right_after="$(counts "$data")"
    sleep 4
    later="$(counts "$data")"
    printf '| %s | %s | %s s | %s | %s |\n' "$label" "$rounds" "$took" "$right_after" "$later"
    kill "$server"; wait "$server" 2>/dev/null || true; server=""
}

echo "| run | rounds | took | sessions tokens emails audit, at the end | 4 s later |"
echo "|---|---|---|---|---|"
soak "without purge" 0
soak "with purge (every 1 s, 1 s retention)" 1
