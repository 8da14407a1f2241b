#!/usr/bin/env bash
# The revocation list at scale: REVOCATIONS (100,000) revoked licenses bulk-inserted into the
# licensor's SQLite store, then
#   1. every one still within its grace period: all are listed;
#   2. every grace period ended more than a day ago: all are left off (the list keeps only
#      revoked licenses that could still grant, docs/license-format.md "Revocation lists").
# For each: the list's size in bytes, the licensor's time to sign it (GET /api/v1/revocations,
# curl), the SQLite query plan, and the customer side's cost: `coder-license verify` as a whole
# process on a file store holding one valid license and the list, measured with hyperfine
# beside `coder-license --version` (the process baseline) in the same run, RUNS times each.
# The file store (like a Kubernetes Secret) holds entries of at most 1 MiB: a list of more than
# ~11,000 entries (93 bytes each) is refused there, and its verify is reported as failed.
#
#   bench/revocations.sh
#   REVOCATIONS=20000 ROUNDS=1 bench/revocations.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n="${REVOCATIONS:-100000}"
rounds="${ROUNDS:-3}"
runs="${RUNS:-30}"

need() { command -v "$1" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need hyperfine hyperfine
need sqlite3 sqlite3
need python3 python3
(cd "$root" && cargo build --release --locked -q -p license-server -p license-cli)
server_bin="$root/target/release/license-server"
cli="$root/target/release/coder-license"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -n "${KEEP_WORK:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
data="$work/data"
db="$data/licensor.db"

start_server() {
  local fifo="$work/server.out.$RANDOM"
  mkfifo "$fifo"
  LICENSOR_LOG=warn "$server_bin" serve --listen 127.0.0.1:0 --data-dir "$data" \
    --public-rate-limit-per-minute 100000000 --public-rate-limit-burst 100000000 >"$fifo" 2>>"$work/server.log" &
  server_pid=$!
  base="$(head -n 1 "$fifo" | sed 's/^listening on //')"
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

TOKEN="$("$server_bin" token create --name bench --data-dir "$data" | tail -n 1)"
start_server
"$server_bin" keys export --data-dir "$data" >"$work/licensor.pub.pem"
auth=(-H "authorization: Bearer $TOKEN" -H 'content-type: application/json')
account="$(curl -sf -X POST "$base/api/v1/accounts" "${auth[@]}" \
  -d '{"name":"Bench","email":"bench@example.com"}' | json '["id"]')"
license="$(curl -sf -X POST "$base/api/v1/licenses" "${auth[@]}" -d '{"account_id":"'"$account"'",
  "email":"bench@example.com","feature_set":"enterprise","user_limit":25,
  "starts_at":"2026-01-01T00:00:00Z","expires_at":"2036-01-01T00:00:00Z","grace_days":7}' | json '["id"]')"
curl -sf "$base/api/v1/licenses/$license" "${auth[@]}" | json '["token"]' >"$work/license.jwt"
stop_server

# REVOCATIONS copies of the issued license's row, each revoked, numbered after it.
now="$(date +%s)"
columns="$(sqlite3 "$db" "SELECT group_concat(name, ',') FROM pragma_table_info('licenses')")"
select=""
IFS=',' read -ra names <<<"$columns"
for c in "${names[@]}"; do
  case "$c" in
    id) e="printf('00000000-0000-4000-8000-%012d', n.i)" ;;
    sequence) e="1000 + n.i" ;;
    status) e="'revoked'" ;;
    revoked_at) e="$now" ;;
    revoke_reason) e="'bench'" ;;
    supersedes) e="NULL" ;;
    *) e="l.$c" ;;
  esac
  select="${select:+$select, }$e"
done
sqlite3 "$db" <<SQL
PRAGMA foreign_keys = ON;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $n)
INSERT INTO licenses ($columns) SELECT $select FROM n, licenses l WHERE l.id = '$license';
INSERT INTO revocations (license_id, revoked_at, reason)
  SELECT id, revoked_at, 'bench' FROM licenses WHERE revoke_reason = 'bench' ORDER BY sequence;
UPDATE revocation_counter SET value = (SELECT MAX(sequence) FROM revocations);
COMMIT;
SQL

grace_ends() { # seconds from now: set every bench license's term to end 7 days before it
  sqlite3 "$db" "UPDATE licenses SET grace_ends_at = $now + $1, expires_at = $now + $1 - 604800,
    starts_at = MIN(starts_at, $now + $1 - 604800) WHERE revoke_reason = 'bench'"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "revocations stored: $(sqlite3 "$db" 'SELECT COUNT(*) FROM revocations')"
echo "query plan (SQLite):"
sqlite3 "$db" "EXPLAIN QUERY PLAN SELECT c.value, k.license_id, k.revoked_at FROM revocation_counter c
  LEFT JOIN (SELECT r.sequence, r.license_id, r.revoked_at FROM licenses l
  JOIN revocations r ON r.license_id = l.id WHERE l.status = 'revoked' AND l.grace_ends_at >= $now - 86400) k
  ON TRUE WHERE c.id = 1 ORDER BY k.sequence" | sed 's/^/  /'

declare -A stores
for scenario in in_grace pruned; do
  case "$scenario" in
    in_grace) grace_ends $((30 * 86400)) ;;
    pruned) grace_ends $((-30 * 86400)) ;;
  esac
  start_server
  signed="$(curl -sf -o "$work/$scenario.json" -w '%{time_total}' "$base/api/v1/revocations")"
  stop_server
  store="$work/store-$scenario"
  mkdir -p "$store"
  cp "$work/license.jwt" "$store/license-$license.jwt"
  json '["revocation_list"]' <"$work/$scenario.json" | tr -d '\n' >"$store/revocations.jwt"
  listed="$(python3 - "$store/revocations.jwt" <<'PY'
import base64, json, sys
payload = open(sys.argv[1]).read().split('.')[1]
claims = json.loads(base64.urlsafe_b64decode(payload + '=' * (-len(payload) % 4)))
print(len(claims["revoked"]), claims["sequence"])
PY
)"
  echo "$scenario: list entries and sequence: $listed; token bytes: $(wc -c <"$store/revocations.jwt"); GET /api/v1/revocations: ${signed}s"
  "$cli" --file-store "$store" verify --trust-key "$work/licensor.pub.pem" >"$work/$scenario.verify" 2>&1 \
    || { echo "$scenario: verify failed:"; cat "$work/$scenario.verify"; }
  sed "s/^/  $scenario verify: /" "$work/$scenario.verify"
  stores[$scenario]="$store"
done

for round in $(seq 1 "$rounds"); do
  echo "round $round (load average: $(cut -d' ' -f1-3 /proc/loadavg)):"
  hyperfine -N -i --warmup 3 --runs "$runs" --style none --export-json "$work/round.json" \
    -n version "$cli --version" \
    -n verify_in_grace "$cli --file-store ${stores[in_grace]} verify --trust-key $work/licensor.pub.pem" \
    -n verify_pruned "$cli --file-store ${stores[pruned]} verify --trust-key $work/licensor.pub.pem" \
    >/dev/null 2>&1 || true
  python3 - "$work/round.json" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
base = results["version"]["mean"]
for name, r in results.items():
    print(f"  {name:16} mean {r['mean']*1000:8.2f} ms  sd {r['stddev']*1000:6.2f}  median {r['median']*1000:8.2f}  "
          f"minus --version {(r['mean']-base)*1000:8.2f} ms  ratio {r['mean']/base:6.2f}")
PY
done
