#!/usr/bin/env bash
# The licensor under load and faults (issue 17), on 127.0.0.1 only.
#
# Two release-built license-server replicas share one Postgres database (a cluster of this
# script's own, so that restarting it disturbs nobody else's tests) and deliver mail over SMTP
# to maildev through a small relay (bench/faults.py smtp-proxy). A mixed load (bench/faults.py
# load: check-ins, trial requests and the check-ins that confirm trials, license issuance,
# listings) runs against both for DURATION seconds, recording every response and every
# acknowledged write. During it: replica 0 is killed with SIGKILL and restarted at 20% of the
# run, Postgres is stopped at 45% and started PG_DOWN (10) seconds later, replica 1 is killed
# and restarted at 70%. After it, with the outbox drained: a replica is SIGKILLed while it waits for the answer to its message's
# final "." (maildev never got the end of the message), then the other replica while it waits
# after maildev accepted its message (the acknowledgement is lost); both are restarted and,
# once the leases ran out, deliver again under the same Message-ID.
#
# Then bench/faults.py check asserts (and this script exits 1 if any fails):
#  - every acknowledged check-in, license and trial is in the database;
#  - no answer was wrong: no 500, no unexpected status, no 2xx whose body does not match the
#    request; 503 or a connection failure only while a replica was down or Postgres restarting
#    (a 503 outside those windows is reported, not failed: overload is allowed to say so);
#  - no deployment got two trials, no mailbox two confirmed trials, no domain more confirmed
#    trials than its limit (3), no mailbox or domain more trial mail than its daily bound, and
#    no trial refused at its first check-in kept an active license;
#  - every outbox row is `sent`, and maildev holds each Message-ID exactly once, except the
#    message whose acknowledgement was lost on purpose, which it holds exactly twice, and a
#    message whose sender was SIGKILLed between maildev's acceptance and recording it (two
#    copies, claimed twice, a kill between its creation and a lease before its redelivery):
#    delivery is at least once, SMTP cannot tell a lost "250" from a lost message; the
#    message held before its final "." arrives exactly once;
# and reports each replica process's peak RSS (VmHWM), read before it is killed or stopped.
#
#   bench/faults.sh                    # 10 minutes of load, 8 client threads
#   DURATION=120 bench/faults.sh       # a quick run
#   CONCURRENCY=16 FAULTS_PG_PORT=55433 PG_DOWN=0 bench/faults.sh
#   SERVER_BIN=/path/to/license-server bench/faults.sh   # another build, no cargo build
# Results (responses.csv, acks.jsonl, events, outbox.csv, server logs, summary) stay in
# target/bench-faults/<time>/; KEEP_DB=1 leaves the Postgres cluster running.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${DURATION:-600}"
concurrency="${CONCURRENCY:-8}"
pg_port="${FAULTS_PG_PORT:-55432}"
# Seconds Postgres stays down (stop, wait, start); 0: a plain `restart -m fast`, which takes
# a few seconds, shorter than the servers' 5 s pool acquire timeout.
pg_down="${PG_DOWN:-10}"
pg_cluster="licensor_faults"
helper="$root/bench/faults.py"

"$root/scripts/services" >/dev/null
[ -x "$root/tests/smtp/node_modules/.bin/maildev" ] || npm ci --prefix "$root/tests/smtp" --silent
# SERVER_BIN: run another build of license-server (say, an older one) instead of building.
server_bin="${SERVER_BIN:-$root/target/release/license-server}"
[ -n "${SERVER_BIN:-}" ] || (cd "$root" && cargo build --release --locked -q -p license-server)
pg_version="$(ls /etc/postgresql | sort -V | tail -n 1)"

out="$root/target/bench-faults/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out/smtp"
events="$out/events"
: >"$events"
event() { echo "$(date +%s.%N) $1 $2" >>"$events"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

pids=()
pg_created=""
cleanup() {
  for p in "${pids[@]}" "${replica_pid[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  # KEEP_DB=1 leaves the cluster running for a look (psql -h 127.0.0.1 -p PORT -U postgres licensor).
  [ -n "$pg_created" ] && [ -z "${KEEP_DB:-}" ] && pg_dropcluster --stop "$pg_version" "$pg_cluster" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Postgres of our own, trust authentication on 127.0.0.1.
pg_dropcluster --stop "$pg_version" "$pg_cluster" >/dev/null 2>&1 || true
pg_createcluster "$pg_version" "$pg_cluster" -p "$pg_port" -- --auth=trust >/dev/null
pg_created=1
pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" start
until pg_isready -h 127.0.0.1 -p "$pg_port" -q; do sleep 0.1; done
psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE licensor" >/dev/null
db_url="postgres://postgres@127.0.0.1:$pg_port/licensor"
sql() { psql "$db_url" -v ON_ERROR_STOP=1 -qAt -c "$1"; }

# maildev, and the relay in front of it.
smtp_port="$(free_port)" web_port="$(free_port)" proxy_port="$(free_port)"
node "$root/tests/smtp/node_modules/.bin/maildev" -s "$smtp_port" -w "$web_port" \
  --ip 127.0.0.1 --web-ip 127.0.0.1 --silent >"$out/maildev.log" 2>&1 &
pids+=($!)
python3 "$helper" smtp-proxy --listen "$proxy_port" --upstream "$smtp_port" --control "$out/smtp" \
  >"$out/proxy.log" 2>&1 &
pids+=($!)
until curl -sf "http://127.0.0.1:$web_port/email" >/dev/null && grep -q ready "$out/proxy.log"; do sleep 0.1; done

data="$out/data"
token="$("$server_bin" token create --name faults --data-dir "$data" --database-url "$db_url" | tail -n 1)"
ports=("$(free_port)" "$(free_port)")
replica_pid=("" "")
: >"$out/rss"

start_replica() { # index
  local i="$1"
  : >"$out/replica$i.out"
  LICENSOR_LOG="${LICENSOR_LOG:-warn}" "$server_bin" serve --listen "127.0.0.1:${ports[$i]}" \
    --data-dir "$data" --database-url "$db_url" \
    --public-rate-limit-per-minute 100000000 --public-rate-limit-burst 100000000 \
    --smtp-url "smtp://127.0.0.1:$proxy_port" --smtp-timeout 5 --outbox-poll-ms 500 \
    --outbox-retry-base 2 >"$out/replica$i.out" 2>>"$out/replica$i.log" &
  replica_pid[$i]=$!
  local deadline=$((SECONDS + 60))
  until grep -q '^listening on ' "$out/replica$i.out"; do
    if ! kill -0 "${replica_pid[$i]}" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: replica $i did not start:" >&2; tail -n 20 "$out/replica$i.log" >&2; exit 1
    fi
    sleep 0.05
  done
  event ready "$i"
}
rss() { # index why: the process's peak and current RSS and its threads, from /proc
  local i="$1" pid="${replica_pid[$1]}"
  echo "replica $i pid $pid ($2): $(grep -E '^(VmHWM|VmRSS|Threads)' "/proc/$pid/status" | tr -s ' \t' ' ' | paste -sd ' ')" >>"$out/rss"
  cp "/proc/$pid/smaps_rollup" "$out/smaps_rollup.$pid" 2>/dev/null || true
}
kill_replica() { # index why
  rss "$1" "$2"
  event kill "$1"
  kill -KILL "${replica_pid[$1]}"
  wait "${replica_pid[$1]}" 2>/dev/null || true
}
at() { # seconds since the load started
  local until=$((load_started + $1))
  while [ "$SECONDS" -lt "$until" ]; do sleep 0.2; done
}

start_replica 0
start_replica 1
base0="http://127.0.0.1:${ports[0]}" base1="http://127.0.0.1:${ports[1]}"
api() { # base method path [body]
  curl -sSf -X "$2" "$1$3" -H "authorization: Bearer $token" -H 'content-type: application/json' ${4:+-d "$4"}
}
json_field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
account="$(api "$base0" POST /api/v1/accounts '{"name":"Faults","email":"faults@customer.example"}' | json_field id)"
issue_body="{\"account_id\":\"$account\",\"email\":\"ops@customer.example\",\"feature_set\":\"enterprise\",\"user_limit\":25,\"starts_at\":\"2026-01-01T00:00:00Z\",\"expires_at\":\"2036-01-01T00:00:00Z\"}"
license="$(api "$base0" POST /api/v1/licenses "$issue_body" | json_field id)"

machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/^Mem/ {print $2}') GiB"
echo "machine: $machine; load average before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out/summary"
echo "load: $duration s, $concurrency client threads, replicas on ${ports[*]}, Postgres $pg_version on $pg_port (down ${pg_down} s; 0: restart), results in $out" | tee -a "$out/summary"

load_started=$SECONDS
python3 "$helper" load --urls "$base0,$base1" --token "$token" --account "$account" \
  --license "$license" --duration "$duration" --concurrency "$concurrency" --out "$out" &
load_pid=$!
pids+=("$load_pid")
down=5
at $((duration * 20 / 100)); kill_replica 0 "SIGKILL under load"; sleep "$down"; start_replica 0
at $((duration * 45 / 100))
event pg_restart db
if [ "$pg_down" = 0 ]; then
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" restart -m fast
else
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" stop -m fast
  sleep "$pg_down"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" start
fi
until pg_isready -h 127.0.0.1 -p "$pg_port" -q; do sleep 0.05; done
event pg_ready db
loadavg_mid="$(cut -d' ' -f1-3 /proc/loadavg)"
at $((duration * 70 / 100)); kill_replica 1 "SIGKILL under load"; sleep "$down"; start_replica 1
wait "$load_pid"
loadavg_end="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "load average: mid-run $loadavg_mid, end $loadavg_end" | tee -a "$out/summary"
rss 0 "end of the load"
rss 1 "end of the load"

# Drain: leases of the killed replicas' messages run out after 60 s (10 x --smtp-timeout).
drain() { # what
  local deadline=$((SECONDS + 240)) left
  while left="$(sql "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')")"; [ "$left" != 0 ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "the outbox did not drain ($1): $left left" | tee -a "$out/summary"; return; fi
    sleep 1
  done
  echo "outbox drained ($1) after $((SECONDS - drain_started)) s" | tee -a "$out/summary"
}
drain_started=$SECONDS
drain "after the load"

# SIGKILL in the middle of an SMTP delivery, twice.
stall() { # mode base -> "message_id pid_of_the_sender"
  local mode="$1" base="$2"
  rm -f "$out/smtp/stalled"
  echo "$mode" >"$out/smtp/arm"
  api "$base" POST /api/v1/licenses "$issue_body" >/dev/null
  local deadline=$((SECONDS + 30))
  until [ -f "$out/smtp/stalled" ]; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "error: no delivery reached the relay ($mode)" >&2; exit 1; }
    sleep 0.02
  done
  cat "$out/smtp/stalled"
}
sender_of() { # client port at the relay -> replica index
  local pid
  pid="$(ss -Htnp "sport = :$1" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)"
  for i in 0 1; do [ "${replica_pid[$i]}" = "$pid" ] && { echo "$i"; return; }; done
  echo "error: no replica owns the relay's client port $1 (pid '$pid')" >&2; exit 1
}
read -r held held_port < <(stall hold "$base0")
held_replica="$(sender_of "$held_port")"
kill_replica "$held_replica" "SIGKILL while its message's final dot is held"
other=$((1 - held_replica))
other_base="http://127.0.0.1:${ports[$other]}"
read -r acked acked_port < <(stall ackloss "$other_base")
acked_replica="$(sender_of "$acked_port")"
kill_replica "$acked_replica" "SIGKILL after maildev accepted its message, before the answer"
echo "mid-delivery kills: held $held (replica $held_replica), acknowledgement lost $acked (replica $acked_replica)" | tee -a "$out/summary"
start_replica 0
start_replica 1
drain_started=$SECONDS
drain "after the mid-delivery kills"
for m in "$held" "$acked"; do
  echo "outbox row of $m: $(sql "SELECT state || ', attempts ' || attempts FROM outbox WHERE message_id = '$m'")" | tee -a "$out/summary"
done
rss 0 "before stopping"
rss 1 "before stopping"
for i in 0 1; do kill -TERM "${replica_pid[$i]}"; wait "${replica_pid[$i]}" 2>/dev/null || true; replica_pid[$i]=""; done
# maildev answers the SMTP transaction before it stores the message.
sleep 2

echo "peak RSS (VmHWM) per replica process:" | tee -a "$out/summary"
sed 's/^/  /' "$out/rss" | tee -a "$out/summary"
echo "server log lines: $(cat "$out"/replica*.log | wc -l); ERROR lines: $(grep -c ' ERROR ' "$out"/replica*.log | paste -sd ' '); panics: $(grep -c 'panicked' "$out"/replica*.log | paste -sd ' ')" | tee -a "$out/summary"
sql "COPY (SELECT id, message_id, state, attempts, created_at, sent_at, last_error FROM outbox ORDER BY created_at) TO STDOUT WITH CSV HEADER" >"$out/outbox.csv"
status=0
python3 "$helper" check --out "$out" --psql-url "$db_url" --maildev "http://127.0.0.1:$web_port" \
  --expect-duplicate "$acked" | tee -a "$out/summary" || status=1
echo "results: $out"
exit "$status"
