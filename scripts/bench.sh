#!/usr/bin/env bash
# HTTP benchmark (issue 9): a release build on SQLite, then on PostgreSQL,
# driven by oha; prints one table per backend and appends them to
# BENCHMARKS.md with the date, the core count and the command.
#
#   scripts/bench.sh [SECONDS] [CONNECTIONS]      (just bench)
#
# SECONDS bounds each measure (default 10), CONNECTIONS is oha's -c for the
# throughput rows (default 32). PostgreSQL: SESAME_BENCH_POSTGRES_URL (an
# administrative URL; default postgres://postgres@127.0.0.1:5432/postgres);
# a throwaway database is created and dropped. Unreachable: skipped.
set -euo pipefail

seconds="${1:-10}"
connections="${2:-32}"
cores="$(nproc)"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need oha; then
    echo "bench: installing oha (cargo install oha --locked)" >&2
    cargo install oha --locked
fi
need curl || { echo "bench: curl is needed" >&2; exit 1; }
need python3 || { echo "bench: python3 is needed (to read oha's JSON)" >&2; exit 1; }

cargo build --release --bin sesame --example bcrypt_time
target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
sesame="$target/release/sesame"

work="$(mktemp -d)"
server=""
pg_database=""
pg_admin="${SESAME_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
cleanup() {
    stop_idle_loops
    stop_server
    if [ -n "$pg_database" ]; then
        psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $pg_database WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
stop_server() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server" 2>/dev/null || true
    fi
    server=""
}
trap cleanup EXIT

# Busy loops at idle priority, one per core: what the hashing threads of a
# login storm are to the scheduler, without any of Sesame's login work.
idle_loops=()
start_idle_loops() {
    for _ in $(seq "$cores"); do
        chrt --idle 0 sh -c 'while :; do :; done' &
        idle_loops+=($!)
    done
}
stop_idle_loops() {
    [ "${#idle_loops[@]}" -gt 0 ] && kill "${idle_loops[@]}" 2>/dev/null || true
    idle_loops=()
}

free_port() {
    for _ in $(seq 100); do
        local candidate=$((20000 + RANDOM % 10000))
        if ! (: <>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then echo "$candidate"; return; fi
    done
    echo "bench: no free port" >&2
    exit 1
}

rss_kib() { awk -v key="$2:" '$1 == key {print $2}' "/proc/$1/status"; }
mib() { python3 -c "print(f'{$1 / 1024:.1f}')"; }

# oha JSON -> "requests/s p50_ms p99_ms non2xx"
summary() {
    python3 - "$1" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
summary = report["summary"]
latency = report.get("latencyPercentiles", {})
codes = report.get("statusCodeDistribution", {})
bad = sum(n for code, n in codes.items() if not code.startswith("2"))
bad += sum(report.get("errorDistribution", {}).values())
p50 = (latency.get("p50") or 0) * 1000
p99 = (latency.get("p99") or 0) * 1000
# Unrounded: logins run at a few a second, where a whole number is ±6 %.
print(f"{summary['requestsPerSec']:.3f} {p50:.2f} {p99:.2f} {bad}")
EOF
}

# measure NAME [oha args...] URL: runs oha for $seconds, keeps its summary.
measure() {
    local name="$1"
    shift
    oha --no-tui --output-format json -w -z "${seconds}s" "$@" >"$work/$name.json" 2>"$work/$name.err" || {
        echo "bench: oha failed for $name: $(tail -n 3 "$work/$name.err")" >&2
        exit 1
    }
    summary "$work/$name.json" >"$work/$name.sum"
}

post_json() { # URL BODY [TOKEN]
    local auth=()
    [ -n "${3:-}" ] && auth=(-H "Authorization: Bearer $3")
    curl -sf -X POST "$1" -H 'Content-Type: application/json' "${auth[@]}" -d "$2"
}
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

run_backend() { # BACKEND DATABASE_URL(empty for SQLite)
    local backend="$1" database_url="$2"
    local port data base
    port="$(free_port)"
    data="$work/$backend"
    mkdir -p "$data"
    base="http://127.0.0.1:$port"
    (
        unset DATABASE_URL SESAME__DATABASE__URL
        [ -n "$database_url" ] && export SESAME__DATABASE__URL="$database_url"
        export SESAME__HTTP__BIND="127.0.0.1:$port" SESAME__DATA_DIR="$data" \
            SESAME__RATE_LIMIT__ENABLED=false SESAME__PASSWORDS__BCRYPT_COST=12
        exec "$sesame" >"$data/server.log" 2>&1
    ) &
    server=$!
    for _ in $(seq 200); do
        curl -sf "$base/healthz" >/dev/null 2>&1 && break
        kill -0 "$server" 2>/dev/null || { echo "bench: the server died:" >&2; tail -n 20 "$data/server.log" >&2; exit 1; }
        sleep 0.05
    done
    sleep 1
    local idle_rss
    idle_rss="$(rss_kib "$server" VmRSS)"

    # Two users, a JWT, an opaque token, a page of 100 events.
    local sender receiver_id access opaque
    sender="bench_$RANDOM"
    post_json "$base/auth/users/" "{\"username\":\"$sender\",\"email\":\"$sender@example.com\",\"password\":\"Xk92!dumbo-lamp\",\"re_password\":\"Xk92!dumbo-lamp\"}" >/dev/null
    receiver_id="$(post_json "$base/auth/users/" "{\"username\":\"${sender}_to\",\"email\":\"${sender}_to@example.com\",\"password\":\"Xk92!dumbo-lamp\",\"re_password\":\"Xk92!dumbo-lamp\"}" | field id)"
    access="$(post_json "$base/auth/jwt/create/" "{\"username\":\"$sender\",\"password\":\"Xk92!dumbo-lamp\"}" | field access)"
    opaque="$(post_json "$base/auth/register" "{\"username\":\"${sender}_opaque\",\"password\":\"Xk92!dumbo-lamp\"}" | field token)"
    for n in $(seq 120); do
        post_json "$base/events/" "{\"title\":\"Bench event $n\",\"description\":\"A gathering\",\"date\":\"2031-01-$(printf %02d $((n % 28 + 1)))T18:00:00Z\",\"location\":\"Lyon\"}" "$access" >/dev/null
    done

    local c="$connections" login_c=$((cores * 4))
    oha --no-tui --output-format quiet -z 2s -c "$c" "$base/healthz" >/dev/null 2>&1 || true
    measure healthz -c "$c" "$base/healthz"
    measure me_jwt -c "$c" -H "Authorization: Bearer $access" "$base/auth/users/me/"
    measure me_opaque -c "$c" -H "Authorization: Bearer $opaque" "$base/auth/me"
    measure events -c "$c" "$base/events/?limit=100"
    measure messages -c "$c" -m POST -T application/json -H "Authorization: Bearer $access" \
        -d "{\"content\":\"Hello from the benchmark\",\"receiver_id\":$receiver_id}" "$base/messages/"
    local hash_seconds
    hash_seconds="$("$target/release/examples/bcrypt_time" 12 8)"
    measure logins -c "$login_c" -m POST -T application/json \
        -d "{\"username\":\"$sender\",\"password\":\"Xk92!dumbo-lamp\"}" "$base/auth/jwt/create/"
    # GET me again, with the same settings, while a login storm runs.
    oha --no-tui --output-format json -w -z "${seconds}s" -c "$login_c" -m POST -T application/json \
        -d "{\"username\":\"$sender\",\"password\":\"Xk92!dumbo-lamp\"}" "$base/auth/jwt/create/" \
        >"$work/storm.json" 2>/dev/null &
    local storm=$!
    sleep 0.5
    measure me_during_storm -c "$c" -H "Authorization: Bearer $access" "$base/auth/users/me/"
    wait "$storm" || true
    summary "$work/storm.json" >"$work/storm.sum"
    # The same GET me beside busy loops alone: the floor this machine's
    # scheduler sets for any storm that keeps every core hashing.
    if need chrt; then
        start_idle_loops
        sleep 0.5
        measure me_beside_idle_loops -c "$c" -H "Authorization: Bearer $access" "$base/auth/users/me/"
        stop_idle_loops
    fi
    local peak_rss
    peak_rss="$(rss_kib "$server" VmHWM)"
    stop_server

    python3 - "$work" "$backend" "$cores" "$hash_seconds" "$idle_rss" "$peak_rss" "$c" "$login_c" "$seconds" >"$work/$backend.md" <<'EOF'
import os, sys
work, backend, cores, hash_s, idle, peak, c, login_c, seconds = sys.argv[1:]
cores, hash_s, idle, peak = int(cores), float(hash_s), int(idle), int(peak)
def read(name):
    rps, p50, p99, bad = open(f"{work}/{name}.sum").read().split()
    return float(rps), float(p50), float(p99), int(bad)
rows = [
    ("GET /healthz", "healthz"),
    ("GET /auth/users/me/ (JWT)", "me_jwt"),
    ("GET /auth/me (opaque token)", "me_opaque"),
    ("GET /events/?limit=100", "events"),
    ("POST /messages/", "messages"),
    ("POST /auth/jwt/create/ (bcrypt cost 12)", "logins"),
    ("GET /auth/users/me/ during a login storm", "me_during_storm"),
    ("POST /auth/jwt/create/ during that storm", "storm"),
    ("GET /auth/users/me/ beside idle-priority busy loops, one a core (no logins)", "me_beside_idle_loops"),
]
data = {key: read(key) for _, key in rows if os.path.exists(f"{work}/{key}.sum")}
print(f"### {backend}\n")
print(f"oha -z {seconds}s, -c {c} (logins: -c {login_c}); bcrypt cost 12, rate limits off, default logging.\n")
print("| route | requests/s | p50 ms | p99 ms | non-2xx |")
print("|---|---:|---:|---:|---:|")
for label, key in rows:
    if key not in data:
        continue
    rps, p50, p99, bad = data[key]
    shown = f"{rps:,.0f}" if rps >= 100 else f"{rps:.2f}"
    print(f"| {label} | {shown} | {p50:.2f} | {p99:.2f} | {bad} |")
limit = cores / hash_s
def verdict(ok):
    return "met" if ok else "**missed**"
me_ratio = data["me_jwt"][0] / data["healthz"][0]
opaque_ratio = data["me_opaque"][0] / data["healthz"][0]
login_ratio = data["logins"][0] / limit
storm_ratio = data["me_during_storm"][2] / max(data["me_jwt"][2], 1e-9)
print()
print("| ratio | value | target |")
print("|---|---:|---|")
print(f"| GET me (JWT) ÷ healthz | {me_ratio:.2f} | ≥ 0.8: {verdict(me_ratio >= 0.8)} |")
print(f"| GET /auth/me (opaque) ÷ healthz | {opaque_ratio:.2f} | ≥ 0.8: {verdict(opaque_ratio >= 0.8)} |")
print(f"| logins/s ÷ bcrypt limit ({cores} cores ÷ {hash_s * 1000:.1f} ms a hash = {limit:.1f}/s) | {login_ratio:.2f} | ≥ 0.95: {verdict(login_ratio >= 0.95)} |")
print(f"| p99 GET me during the storm ÷ p99 alone | {storm_ratio:.2f} | ≤ 2: {verdict(storm_ratio <= 2)} |")
if "me_beside_idle_loops" in data:
    floor_ratio = data["me_during_storm"][2] / max(data["me_beside_idle_loops"][2], 1e-9)
    print(f"| p99 GET me during the storm ÷ p99 beside the busy loops (Sesame's own share) | {floor_ratio:.2f} | |")
print(f"| idle RSS after start | {idle / 1024:.1f} MiB | ≤ 20 MB: {verdict(idle * 1024 <= 20e6)} |")
print(f"| peak RSS (VmHWM) under this load | {peak / 1024:.1f} MiB | |")
EOF
    cat "$work/$backend.md"
    echo
}

run_backend sqlite ""
if need psql && psql "$pg_admin" -qtAc 'SELECT 1' >/dev/null 2>&1; then
    pg_database="sesame_bench_$$"
    psql "$pg_admin" -qc "CREATE DATABASE $pg_database" >/dev/null
    run_backend postgresql "${pg_admin%/*}/$pg_database"
else
    echo "bench: PostgreSQL at $pg_admin unreachable (or no psql): skipped" >&2
    echo "PostgreSQL: skipped (unreachable)" >"$work/postgresql.md"
fi

# Read before the append below makes the tree dirty.
revision="$(git describe --always --dirty 2>/dev/null || echo unknown)"
{
    [ -f BENCHMARKS.md ] || printf '# Benchmarks\n'
    echo
    echo "## bench, $(date -u '+%Y-%m-%d %H:%M UTC'), $cores cores, $revision"
    echo
    echo "\`just bench $seconds $connections\` (= \`scripts/bench.sh $seconds $connections\`; oha $(oha --version | awk '{print $2}'), load generator on the same machine)"
    echo
    cat "$work/sqlite.md"
    echo
    cat "$work/postgresql.md"
} >>BENCHMARKS.md
echo "bench: appended to BENCHMARKS.md" >&2
