#!/usr/bin/env bash
# Load benchmark of the licensor: license issuance (POST /api/v1/licenses), listing
# (GET /api/v1/licenses?limit=50) and trial grants (POST /api/v1/trials, each request a new
# deployment and address) against the embedded SQLite default and against Postgres,
# each beside GET /healthz (no database) measured in the same run as the baseline.
# wrk and the server share this machine's cores; figures are for comparison, run to run.
#
#   bench/server.sh            # 10 s per measurement, 16 connections
#   DURATION=30s CONNECTIONS=64 bench/server.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BENCH_DIR="$root/bench"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-16}"
threads=2

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
"$root/scripts/services" >/dev/null
(cd "$root" && cargo build --release --locked -q -p license-server)
server_bin="$root/target/release/license-server"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "${pg_db:-}" ] && psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

measure() { # name url lua -> prints "name rps p50 p99 errors"
  local name="$1" url="$2" script="$3" line
  line="$(wrk -t"$threads" -c"$connections" -d"$duration" -s "$BENCH_DIR/$script" "$url" | grep '^RESULT')"
  echo "$name $line"
}

run_backend() { # label, then extra args for the server
  local label="$1"; shift
  local data="$work/$label"
  TOKEN="$("$server_bin" token create --name bench --data-dir "$data" "$@" | tail -n 1)"
  export TOKEN
  local fifo="$work/$label.out"
  mkfifo "$fifo"
  LICENSOR_LOG=warn "$server_bin" serve --listen 127.0.0.1:0 --data-dir "$data" \
    --public-rate-limit-per-minute 100000000 --public-rate-limit-burst 100000000 "$@" >"$fifo" 2>"$work/$label.log" &
  server_pid=$!
  local base
  base="$(head -n 1 "$fifo" | sed 's/^listening on //')"
  ACCOUNT="$(curl -sf -X POST "$base/api/v1/accounts" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d '{"name":"Bench","email":"bench@example.com"}' \
    | sed -E 's/.*"id":"([^"]+)".*/\1/')"
  export ACCOUNT
  TOKEN="" measure "$label healthz" "$base/healthz" get.lua
  measure "$label issue" "$base/api/v1/licenses" issue.lua
  measure "$label list" "$base/api/v1/licenses?limit=50" get.lua
  measure "$label trial" "$base/api/v1/trials" trial.lua
  local stored
  stored="$(curl -sf "$base/api/v1/accounts/$ACCOUNT" -H "authorization: Bearer $TOKEN" | sed -E 's/.*"license_sequence":([0-9]+).*/\1/')"
  echo "$label licenses_stored $stored"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "wrk: $threads threads, $connections connections, $duration per measurement"
run_backend sqlite
pg_db="licensor_bench_$$"
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $pg_db" >/dev/null
run_backend postgres --database-url "postgres://postgres@127.0.0.1:5432/$pg_db"
