#!/usr/bin/env bash
# Fuzzes a live release build against its own contract (issue 8): starts
# Sesame on a free port with a throw-away SQLite data dir, creates an admin
# account whose Bearer token goes with every protected operation, and runs
# schemathesis on GET /openapi.json for every operation (the WebSocket
# excepted) for SECONDS seconds (default 300). Fails on any 5xx, on any
# answer whose status, content type or body the document does not allow, and
# on a panic in the server log.
#
#   scripts/fuzz.sh [SECONDS]
#
# schemathesis (pinned) is installed from PyPI into target/fuzz-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-300}"
# Override to look further, e.g. SESAME_FUZZ_CHECKS=all (some of those flag
# documented leniencies, such as the seed contracts' lenient field types).
checks="${SESAME_FUZZ_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance}"
schemathesis_version="4.32.5"

target="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
venv="$target/fuzz-venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -qF "$schemathesis_version"; then
    echo "== fuzz: installing schemathesis $schemathesis_version into $venv"
    python3 -m venv "$venv"
    "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

echo "== fuzz: building the release binary"
cargo build --release --bin sesame
sesame="$target/release/sesame"

port=""
for _ in $(seq 100); do
    candidate=$((20000 + RANDOM % 10000))
    if ! (: <>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[ -n "$port" ] || { echo "fuzz: no free port found" >&2; exit 1; }

data="$(mktemp -d)"
report="$target/fuzz-report"
server=""
stop() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server" 2>/dev/null || true
    fi
    if [ -d "$report" ]; then
        cp "$data/server.log" "$report/server.log" 2>/dev/null || true
        cp "$data/fuzz-account-recreated" "$report/" 2>/dev/null || true
    fi
    rm -rf "$data"
}
trap stop EXIT

unset DATABASE_URL SESAME__DATABASE__URL
export SESAME__HTTP__BIND="127.0.0.1:$port" SESAME__DATA_DIR="$data" \
    SESAME__PASSWORDS__BCRYPT_COST=4 SESAME__RATE_LIMIT__ENABLED=false \
    SESAME__LOG__LEVEL=warn
base="http://127.0.0.1:$port"

# The account the fuzzer acts as: an admin, so that admin-only branches run too.
username="fuzz-$RANDOM$RANDOM"
password="Fz-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$password" | "$sesame" user create --username "$username" \
    --email "$username@example.com" --admin --password-stdin >/dev/null

"$sesame" >"$data/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    if (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    kill -0 "$server" 2>/dev/null || { cat "$data/server.log" >&2; exit 1; }
    sleep 0.1
done

echo "== fuzz: schemathesis $schemathesis_version on $base/openapi.json for ${seconds}s"
rm -rf "$report"
status=0
SESAME_FUZZ_URL="$base" SESAME_FUZZ_BIN="$sesame" \
SESAME_FUZZ_USERNAME="$username" SESAME_FUZZ_PASSWORD="$password" \
PYTHONPATH="$PWD/scripts" SCHEMATHESIS_HOOKS=fuzz_hooks \
    "$venv/bin/schemathesis" run "$base/openapi.json" \
    --checks "$checks" \
    --exclude-path '/ws/{token}' \
    --max-time "$seconds" \
    --workers 1 \
    --request-timeout 10 \
    --suppress-health-check all \
    --report junit,ndjson --report-dir "$report" \
    --no-color || status=$?

if [ -f "$data/fuzz-account-recreated" ]; then
    echo "fuzz: the fuzz account was lost (it may delete itself) and made anew $(wc -l <"$data/fuzz-account-recreated") times"
fi
if grep -q 'panicked' "$data/server.log"; then
    echo "fuzz: the server panicked:" >&2
    grep -B2 -A8 'panicked' "$data/server.log" | head -n 60 >&2
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "fuzz: FAILED (report in $report); last server log lines:" >&2
    tail -n 20 "$data/server.log" >&2
    exit "$status"
fi
echo "== fuzz: passed (report in $report)"
