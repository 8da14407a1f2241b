#!/usr/bin/env bash
# Usage report benchmark (issue 18): GET /api/v1/licenses/{id}/usage for a license with 1,000
# deployments and a year of daily check-ins (365,000 rows of the daily rollup
# license_usage_deployments, 365 of license_usage_days), on the embedded SQLite default and on
# Postgres. The rollup is bulk-loaded with SQL (what 365,000 check-ins would have left there),
# (and license_usage_totals), then wrk with 1 connection (so the figures are latencies) times, in the same run:
#   usage      GET /api/v1/licenses/{id}/usage (the whole term: 365 days, 1,000 deployments;
#              each deployment's part from license_usage_totals)
#   range      the same for February to December: a range that does not cover every
#              deployment's days, so its parts are read from the 334,000 deployment-days
#   show       GET /api/v1/licenses/{id} (one row: the baseline; the ratio usage/show is the figure)
# The goal: usage p50 under 50 ms.
#
#   bench/usage.sh                 # 5 s per measurement, release build
#   DURATION=10s bench/usage.sh
#   PROFILE=dev bench/usage.sh     # the debug build (slower: an upper bound)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BENCH_DIR="$root/bench"
duration="${DURATION:-5s}"

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
command -v sqlite3 >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3 >/dev/null; }
"$root/scripts/services" >/dev/null
profile="${PROFILE:-release}"
(cd "$root" && cargo build --profile "$profile" --locked -q -p license-server)
if [ "$profile" = dev ]; then server_bin="$root/target/debug/license-server"; else server_bin="$root/target/$profile/license-server"; fi
echo "profile: $profile"

work="$(mktemp -d)"
pg_db="licensor_bench_usage_$$"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

start_server() { # database args...; sets $base
  : >"$work/server.out"
  LICENSOR_LOG=warn "$server_bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" "$@" \
    >"$work/server.out" 2>>"$work/server.log" &
  server_pid=$!
  local deadline=$((SECONDS + 30))
  until grep -q '^listening on ' "$work/server.out"; do
    if ! kill -0 "$server_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: the server did not start:" >&2; cat "$work/server.log" >&2; exit 1
    fi
    sleep 0.05
  done
  base="$(sed -n 's/^listening on //p' "$work/server.out" | head -n 1)"
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }
measure() { # name url
  echo "$1 $(wrk -t1 -c1 -d"$duration" --latency -s "$BENCH_DIR/get.lua" "$2" | grep '^RESULT')"
}
api() { # method path [body]
  curl -sSf -X "$1" "$base$2" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' ${3:+-d "$3"}
}
json_field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\\1/"; }

# The rollup a year of daily check-ins from 1,000 deployments leaves: deployment d reports
# 1 + (d * 7 + day) % 40 users on each day of 2026, one more for the first (day % 100)
# deployments (the daily sums vary from 20,500 to 20,599).
load_sql() { # license
  cat <<SQL
WITH RECURSIVE days(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM days WHERE n < 364),
     deps(d) AS (SELECT 0 UNION ALL SELECT d + 1 FROM deps WHERE d < 999)
INSERT INTO license_usage_deployments (license_id, day, deployment_id, peak_users)
SELECT '$1', 20454 + n, 'bench-' || d, 1 + (d * 7 + n) % 40 + CASE WHEN d < n % 100 THEN 1 ELSE 0 END FROM days, deps;
INSERT INTO license_usage_days (license_id, day, users, deployments)
SELECT license_id, day, SUM(peak_users), COUNT(*) FROM license_usage_deployments GROUP BY license_id, day;
INSERT INTO license_usage_totals (license_id, deployment_id, first_day, last_day, days, peak_users)
SELECT license_id, deployment_id, MIN(day), MAX(day), COUNT(*), MAX(peak_users)
FROM license_usage_deployments GROUP BY license_id, deployment_id;
SQL
}

run_backend() { # name load-command database-args...
  local name="$1" loader="$2"; shift 2
  rm -rf "$work/data"
  TOKEN="$("$server_bin" token create --name bench --data-dir "$work/data" "$@" | tail -n 1)"
  export TOKEN
  start_server "$@"
  local account license
  account="$(api POST /api/v1/accounts '{"name":"Bench","email":"bench@example.com"}' | json_field id)"
  license="$(api POST /api/v1/licenses "{\"account_id\":\"$account\",\"email\":\"bench@example.com\",\"feature_set\":\"enterprise\",\"user_limit\":20000,\"starts_at\":\"2026-01-01T00:00:00Z\",\"expires_at\":\"2026-12-31T23:59:59Z\"}" | json_field id)"
  local started=$SECONDS
  load_sql "$license" | $loader
  echo "$name loaded $((SECONDS - started)) s"
  local report
  report="$(api GET "/api/v1/licenses/$license/usage")"
  echo "$name report: ${#report} bytes: ${report:0:300}…"
  measure "${name}_usage" "$base/api/v1/licenses/$license/usage"
  measure "${name}_range" "$base/api/v1/licenses/$license/usage?from=2026-02-01&to=2026-12-31"
  measure "${name}_show" "$base/api/v1/licenses/$license"
  stop_server
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
run_backend sqlite "sqlite3 $work/data/licensor.db" 
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $pg_db" >/dev/null
pg_load() { psql -h 127.0.0.1 -U postgres -d "$pg_db" -v ON_ERROR_STOP=1 -qAt && psql -h 127.0.0.1 -U postgres -d "$pg_db" -qc ANALYZE; }
run_backend postgres pg_load --database-url "postgres://postgres@127.0.0.1:5432/$pg_db"
