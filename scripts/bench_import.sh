#!/usr/bin/env bash
# `just bench-import` (issue 19): imports N JSONL accounts with a release build
# into a fresh SQLite file, then into a fresh PostgreSQL database, timing each
# with /usr/bin/time (wall clock and peak RSS); appends the figures to
# BENCHMARKS.md. Targets: 100,000 accounts in 30 s or less, peak RSS under 100 MB.
set -euo pipefail
count="${1:-100000}"
pg_url="${SESAME_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
cd "$(dirname "$0")/.."
cargo build --release --bin sesame
target="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
work="$(mktemp -d)"
database="sesame_bench_import_$$"
cleanup() {
    psql "$pg_url" -qc "DROP DATABASE IF EXISTS $database" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
python3 scripts/bench_import_records.py tests/fixtures/import/hashes.json "$count" > "$work/records.jsonl"
unset DATABASE_URL SESAME__DATABASE__URL
rows=""
revision="$(git describe --always --dirty 2>/dev/null || echo unknown)"
run() { # backend url
    local backend="$1" url="$2"
    SESAME__DATA_DIR="$work/data-$backend" DATABASE_URL="$url" \
        /usr/bin/time -f '%e %M' -o "$work/time" \
        "$target/release/sesame" import jsonl "$work/records.jsonl" > "$work/out-$backend"
    local closing seconds rss
    closing="$(tail -n 1 "$work/out-$backend")"
    read -r seconds rss < "$work/time"
    echo "bench-import $backend: $closing in ${seconds} s, peak RSS $((rss / 1024)) MiB" >&2
    rows+="| $backend | $count | $closing | ${seconds} | $(awk "BEGIN{printf \"%.0f\", $count / $seconds}") | $(awk "BEGIN{printf \"%.1f\", $rss / 1024}") |"$'\n'
}
run SQLite "sqlite://$work/sesame.db"
psql "$pg_url" -qc "CREATE DATABASE $database"
run PostgreSQL "${pg_url%/*}/$database"
{
    echo
    echo "## bench-import, $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc), $revision"
    echo
    echo "\`just bench-import $count\`: release \`sesame import jsonl\` of $count records (\`scripts/bench_import_records.py\`), fresh database each, batches of 1,000 per transaction; /usr/bin/time wall clock and peak RSS."
    echo
    echo "| backend | records | report | seconds | accounts/s | peak RSS MiB |"
    echo "|---|---:|---|---:|---:|---:|"
    printf '%s' "$rows"
} >> BENCHMARKS.md
echo "bench-import: appended to BENCHMARKS.md" >&2
