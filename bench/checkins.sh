#!/usr/bin/env bash
# Check-in benchmark against Postgres (issue 6):
#  1. check-ins per second and p99 latency: wrk POSTs /api/v1/checkins (bench/checkin.lua) at
#     64 connections to a release build of license-server, public rate limit lifted;
#  2. beside it, in the same run and on the same database, pgbench's TPS for a comparable
#     transaction: an upsert of one row into a scratch copy of `deployments` plus an insert into
#     a scratch copy of `checkins` ("minimal"), and the same plus the license lookup and the
#     `license_deployments` upsert the server also does ("mirror"); the ratio check-ins/s over
#     pgbench TPS is the figure;
#  3. listing latency with 1,000,000 check-ins stored: 10,000 deployments x 100 check-ins
#     bulk-loaded with INSERT ... SELECT generate_series, then GET /api/v1/deployments?limit=50
#     (also ?stale=true, and a page 10,000 deployments deep), GET /api/v1/deployments/{id} and
#     GET /api/v1/deployments/{id}/checkins (pages 1 and 2) timed one request at a time (wrk, 1 connection), with EXPLAIN ANALYZE of the two queries;
#  4. check-ins again with the million rows stored, and pgbench's "minimal" transaction again
#     on scratch copies holding as many rows (10,000 deployments, 1,000,000 check-ins);
#  5. the figures of issue 17: check-ins/s over pgbench "minimal" TPS at 64 connections, and
#     the check-ins' p99, empty and with the million rows ("ratio_*" lines at the end).
# During each check-in load, pg_stat_activity is sampled every 100 ms: the wait events of the
# database's backends, counted ("waits_*" lines; "CPU" is an active backend not waiting).
# wrk, pgbench, Postgres and the server share this machine's cores; figures compare within a run.
#
#   bench/checkins.sh                      # 10 s per load measurement, 64 connections
#   DURATION=30s LIST_DURATION=10s bench/checkins.sh
#   SERVER_FLAGS="--checkin-batch-max 1" bench/checkins.sh   # check-in batching off
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BENCH_DIR="$root/bench"
duration="${DURATION:-10s}"
list_duration="${LIST_DURATION:-5s}"
connections="${CONNECTIONS:-64}"
threads=2
seconds="${duration%s}"

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
"$root/scripts/services" >/dev/null
command -v pgbench >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-contrib >/dev/null; }
(cd "$root" && cargo build --release --locked -q -p license-server)
server_bin="$root/target/release/license-server"

work="$(mktemp -d)"
pg_db="licensor_bench_checkins_$$"
db_url="postgres://postgres@127.0.0.1:5432/$pg_db"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
sql() { psql -h 127.0.0.1 -U postgres -d "$pg_db" -v ON_ERROR_STOP=1 -qAt "$@"; }

start_server() { # sets $base; polls for the "listening on" line, 30 s at most
  : >"$work/server.out"
  LICENSOR_LOG=warn "$server_bin" serve --listen 127.0.0.1:0 --data-dir "$work/data" \
    --database-url "$db_url" \
    --public-rate-limit-per-minute 100000000 --public-rate-limit-burst 100000000 \
    ${SERVER_FLAGS:-} >"$work/server.out" 2>>"$work/server.log" &
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
measure() { # name connections duration url lua -> "name RESULT ..."
  local name="$1" conns="$2" dur="$3" url="$4" script="$5" t="$threads"
  [ "$conns" -lt "$t" ] && t="$conns"
  local result
  result="$(wrk -t"$t" -c"$conns" -d"$dur" --latency -s "$BENCH_DIR/$script" "$url" | grep '^RESULT')"
  echo "$name $result"
  # A figure of refused requests measures nothing.
  if [[ "$result" != *" non2xx_or_errors=0"* ]]; then
    echo "error: $name: some requests were not answered 2xx ($url); the figure is invalid" >&2
    exit 1
  fi
}
api() { # method path [body] -> response body; fails on an HTTP error
  curl -sSf -X "$1" "$base$2" -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' ${3:+-d "$3"}
}
json_field() { sed -E "s/.*\"$1\":\"([^\"]+)\".*/\\1/"; }
sample_waits() { # name: samples pg_stat_activity every 100 ms until killed, then counts
  local out="$work/waits-$1"
  : >"$out"
  trap 'sort "$out" | uniq -c | sort -rn | head -n 12 | sed "s/^ */waits_$1 /"; exit 0' TERM
  while :; do
    psql -h 127.0.0.1 -U postgres -d "$pg_db" -qAt -c "SELECT COALESCE(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()" >>"$out" 2>/dev/null || true
    sleep 0.1
  done
}
measure_checkins() { # name: the check-in load, with wait events sampled
  sample_waits "$1" &
  local sampler=$!
  TOKEN="" measure "$1" "$connections" "$duration" "$base/api/v1/checkins" checkin.lua | tee -a "$work/results"
  kill -TERM "$sampler"; wait "$sampler" || true
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/^Mem/ {print $2}') GiB"
echo "postgres: $(psql -h 127.0.0.1 -U postgres -qAtc 'SHOW server_version'), shared_buffers $(psql -h 127.0.0.1 -U postgres -qAtc 'SHOW shared_buffers'), synchronous_commit $(psql -h 127.0.0.1 -U postgres -qAtc 'SHOW synchronous_commit')"
echo "load: wrk $threads threads / pgbench -j $threads, $connections connections, $duration per measurement; listing: 1 connection, $list_duration each"
echo "server flags: ${SERVER_FLAGS:-(defaults)}; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $pg_db" >/dev/null
TOKEN="$("$server_bin" token create --name bench --data-dir "$work/data" --database-url "$db_url" | tail -n 1)"
export TOKEN
start_server
ACCOUNT="$(api POST /api/v1/accounts '{"name":"Bench","email":"bench@example.com"}' | json_field id)"
LICENSE="$(api POST /api/v1/licenses "{\"account_id\":\"$ACCOUNT\",\"email\":\"bench@example.com\",\"feature_set\":\"enterprise\",\"user_limit\":25,\"starts_at\":\"2026-01-01T00:00:00Z\",\"expires_at\":\"2036-01-01T00:00:00Z\"}" | json_field id)"
export ACCOUNT LICENSE

# 1. Check-ins through the server.
measure_checkins "checkins"
echo "load_average_after_checkins $(cut -d' ' -f1-3 /proc/loadavg)"
served="$(sql -c 'SELECT count(*) FROM checkins')"
echo "checkins_stored $served deployments_stored $(sql -c 'SELECT count(*) FROM deployments')"
stop_server

# 2. pgbench on the same database: scratch copies of the tables, the server stopped.
sql <<'SQL'
CREATE TABLE bench_deployments (LIKE deployments INCLUDING INDEXES);
CREATE TABLE bench_checkins (
    id BIGSERIAL PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES bench_deployments (id),
    at BIGINT NOT NULL, active_users BIGINT NOT NULL, product_version TEXT NOT NULL,
    license_ids TEXT NOT NULL, client_address TEXT);
CREATE INDEX ON bench_checkins (deployment_id, id DESC);
CREATE TABLE bench_license_deployments (LIKE license_deployments INCLUDING INDEXES);
SQL
cat >"$work/minimal.sql" <<SQL
\\set d random(1, 10000)
\\set users random(0, 39)
BEGIN;
INSERT INTO bench_deployments (id, first_seen_at, last_seen_at, product_version, active_users, license_ids, user_limit, over_seat_limit, trial, account_id, checkins) VALUES ('pgb-' || :d, extract(epoch FROM now())::bigint, extract(epoch FROM now())::bigint, '2.16.0', :users, '["$LICENSE"]', 25, :users > 25, false, '$ACCOUNT', 1) ON CONFLICT (id) DO UPDATE SET last_seen_at = GREATEST(excluded.last_seen_at, bench_deployments.last_seen_at), product_version = excluded.product_version, active_users = excluded.active_users, license_ids = excluded.license_ids, user_limit = excluded.user_limit, over_seat_limit = excluded.over_seat_limit, trial = excluded.trial, account_id = COALESCE(excluded.account_id, bench_deployments.account_id), checkins = bench_deployments.checkins + 1;
INSERT INTO bench_checkins (deployment_id, at, active_users, product_version, license_ids, client_address) VALUES ('pgb-' || :d, extract(epoch FROM now())::bigint, :users, '2.16.0', '["$LICENSE"]', '127.0.0.1');
END;
SQL
{
  echo "SELECT id, status, grace_ends_at, deployment_ids FROM licenses WHERE id IN ('$LICENSE');"
  sed '/^END;/i INSERT INTO bench_license_deployments (license_id, deployment_id, first_seen_at, last_seen_at) VALUES ('"'$LICENSE'"', '"'"'pgb-'"'"' || :d, extract(epoch FROM now())::bigint, extract(epoch FROM now())::bigint) ON CONFLICT (license_id, deployment_id) DO UPDATE SET last_seen_at = excluded.last_seen_at;' "$work/minimal.sql"
} >"$work/mirror.sql"
pgbench_tps() { # name script clients
  local out
  out="$(pgbench -h 127.0.0.1 -U postgres -n -M prepared -c "$3" -j "$threads" -T "$seconds" -r -f "$work/$2" "$pg_db" 2>&1)"
  echo "$1 $(echo "$out" | grep -E '^tps' | sed -E 's/ \(.*//') $(echo "$out" | grep -E '^latency average' | sed 's/ //g')"
}
pgbench_tps "pgbench_minimal_c$connections" minimal.sql "$connections" | tee -a "$work/results"
pgbench_tps "pgbench_mirror_c$connections" mirror.sql "$connections"
pgbench_tps "pgbench_mirror_c16" mirror.sql 16
sql -c 'DROP TABLE bench_checkins, bench_deployments, bench_license_deployments'

# 3. A million check-ins: 10,000 deployments x 100 check-ins an hour apart, interleaved in
# insertion order as real check-ins are; last seen spread over the past 10 days.
load_started=$SECONDS
sql <<SQL
\\set now $(date +%s)
INSERT INTO deployments (id, first_seen_at, last_seen_at, product_version, active_users, license_ids, user_limit, over_seat_limit, trial, account_id, checkins)
SELECT 'load-' || lpad(d::text, 5, '0'), :now - 100 * 3600 - (d % 864) * 1000, :now - (d % 864) * 1000, '2.16.0', d % 40, '["$LICENSE"]', 25, d % 40 > 25, d % 10 = 0, '$ACCOUNT', 100
FROM generate_series(1, 10000) AS d;
INSERT INTO checkins (deployment_id, at, active_users, product_version, license_ids, client_address)
SELECT 'load-' || lpad(d::text, 5, '0'), :now - (100 - c) * 3600 - (d % 864) * 1000, (d + c) % 40, '2.16.0', '["$LICENSE"]', '10.0.0.1'
FROM generate_series(1, 100) AS c, generate_series(1, 10000) AS d;
INSERT INTO license_deployments (license_id, deployment_id, first_seen_at, last_seen_at)
SELECT '$LICENSE', 'load-' || lpad(d::text, 5, '0'), :now - 100 * 3600, :now - (d % 864) * 1000
FROM generate_series(1, 10000) AS d;
ANALYZE;
SQL
echo "bulk_load_seconds $((SECONDS - load_started)) checkins_stored $(sql -c 'SELECT count(*) FROM checkins') deployments_stored $(sql -c 'SELECT count(*) FROM deployments') checkins_table $(sql -c "SELECT pg_size_pretty(pg_total_relation_size('checkins'))")"

start_server
one="load-05000"
measure "list_deployments" 1 "$list_duration" "$base/api/v1/deployments?limit=50" get.lua
measure "list_deployments_stale" 1 "$list_duration" "$base/api/v1/deployments?limit=50&stale=true" get.lua
measure "show_deployment" 1 "$list_duration" "$base/api/v1/deployments/$one" get.lua
measure "list_checkins" 1 "$list_duration" "$base/api/v1/deployments/$one/checkins?limit=50" get.lua
cursor="$(api GET "/api/v1/deployments/$one/checkins?limit=50" | json_field next_cursor)"
measure "list_checkins_page2" 1 "$list_duration" "$base/api/v1/deployments/$one/checkins?limit=50&after=$cursor" get.lua
# A page deep in the deployment list: the cursor of the 10,000th deployment (keyset paging).
deep="$(sql -c "SELECT last_seen_at || '|' || id FROM deployments ORDER BY last_seen_at DESC, id DESC OFFSET 9999 LIMIT 1")"
deep_at="${deep%%|*}" deep_id="${deep#*|}"
# A cursor is the position `AT~ID` (openapi.json's `after` parameter).
deep="${deep_at}~${deep_id}"
measure "list_deployments_page201" 1 "$list_duration" "$base/api/v1/deployments?limit=50&after=$deep" get.lua
# Check-ins again, now with the million rows stored.
measure_checkins "checkins_after_load"
echo "load_average_after_checkins_after_load $(cut -d' ' -f1-3 /proc/loadavg)"
stop_server

# pgbench's minimal transaction again, on scratch copies holding a million check-ins.
sql <<'SQL'
CREATE TABLE bench_deployments (LIKE deployments INCLUDING INDEXES);
INSERT INTO bench_deployments SELECT 'pgb-' || (row_number() OVER (ORDER BY id)), first_seen_at, last_seen_at, product_version, active_users, license_ids, user_limit, over_seat_limit, trial, account_id, checkins FROM deployments WHERE id LIKE 'load-%';
CREATE TABLE bench_checkins (
    id BIGSERIAL PRIMARY KEY,
    deployment_id TEXT NOT NULL REFERENCES bench_deployments (id),
    at BIGINT NOT NULL, active_users BIGINT NOT NULL, product_version TEXT NOT NULL,
    license_ids TEXT NOT NULL, client_address TEXT);
INSERT INTO bench_checkins (deployment_id, at, active_users, product_version, license_ids, client_address)
SELECT 'pgb-' || ltrim(substr(deployment_id, 6), '0'), at, active_users, product_version, license_ids, client_address FROM checkins WHERE deployment_id LIKE 'load-%' ORDER BY id;
CREATE INDEX ON bench_checkins (deployment_id, id DESC);
ANALYZE bench_deployments, bench_checkins;
SQL
echo "pgbench_1m_tables bench_checkins $(sql -c 'SELECT count(*) FROM bench_checkins') bench_deployments $(sql -c 'SELECT count(*) FROM bench_deployments')"
pgbench_tps "pgbench_minimal_1m_c$connections" minimal.sql "$connections" | tee -a "$work/results"
sql -c 'DROP TABLE bench_checkins, bench_deployments'
echo "load_average_end $(cut -d' ' -f1-3 /proc/loadavg)"

# The listing queries as the server sends them (prepared, limit 50 + 1): the first page of
# deployments, the first page of one deployment's check-ins, and the deep deployment page;
# planned as the first executions are (custom plan) and as a prepared statement reused more
# than five times may be (generic plan, which cannot use the cursor as an index condition).
explain() { # label plan_cache_mode
  echo "--- EXPLAIN ANALYZE ($1 plan)"
  sql <<SQL
SET plan_cache_mode = $2;
PREPARE list_deployments (bigint, boolean, boolean, text, bigint, text, bigint) AS
SELECT id, first_seen_at, last_seen_at, product_version, active_users, license_ids, user_limit, over_seat_limit, trial, account_id, checkins FROM deployments
WHERE (CAST(\$1 AS BIGINT) IS NULL OR last_seen_at < \$1) AND (CAST(\$2 AS BOOLEAN) IS NULL OR over_seat_limit = \$2)
  AND (CAST(\$3 AS BOOLEAN) IS NULL OR trial = \$3) AND (CAST(\$4 AS TEXT) IS NULL OR account_id = \$4)
  AND (CAST(\$5 AS BIGINT) IS NULL OR last_seen_at < \$5 OR (last_seen_at = \$5 AND id < \$6))
ORDER BY last_seen_at DESC, id DESC LIMIT \$7;
PREPARE list_checkins (text, bigint, bigint) AS
SELECT id, at, active_users, product_version, license_ids, client_address FROM checkins
WHERE deployment_id = \$1 AND (CAST(\$2 AS BIGINT) IS NULL OR id < \$2) ORDER BY id DESC LIMIT \$3;
EXPLAIN (ANALYZE, BUFFERS) EXECUTE list_deployments (NULL, NULL, NULL, NULL, NULL, NULL, 51);
EXPLAIN (ANALYZE, BUFFERS) EXECUTE list_checkins ('$one', NULL, 51);
EXPLAIN (ANALYZE, BUFFERS) EXECUTE list_deployments (NULL, NULL, NULL, NULL, $deep_at, '$deep_id', 51);
SQL
}

explain custom auto
explain generic force_generic_plan

# The figures of issue 17: check-ins/s over pgbench's TPS for the bare upsert + insert, and p99.
figure() { # label checkins-line pgbench-line
  local rps p99 tps
  rps="$(grep "^$2 " "$work/results" | sed -E 's/.* rps=([0-9.]+).*/\1/')"
  p99="$(grep "^$2 " "$work/results" | sed -E 's/.* p99_ms=([0-9.]+).*/\1/')"
  tps="$(grep "^$3 " "$work/results" | sed -E 's/^[^ ]+ tps = ([0-9.]+).*/\1/')"
  echo "$1 checkins_per_s $rps pgbench_tps $tps ratio $(awk -v a="$rps" -v b="$tps" 'BEGIN { printf "%.2f", a / b }') p99_ms $p99"
}
echo "--- issue 17 figures ($connections connections)"
figure "ratio_empty" checkins "pgbench_minimal_c$connections"
figure "ratio_1m" checkins_after_load "pgbench_minimal_1m_c$connections"
