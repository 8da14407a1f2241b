#!/usr/bin/env python3
"""The helper of bench/faults.sh (standard library only).

  faults.py load    --urls A,B --token T --license L --duration S --concurrency N --out DIR
      A mixed load over the HTTP API against both replicas in turn: check-ins of a paid
      license, trial requests (a few hot domains and mailboxes, so the limits engage, and fresh
      ones), check-ins of granted trials (which confirm them), license issuance and listings.
      Every response is recorded in DIR/responses.csv (start, end, replica, op, status,
      detail) and every acknowledged write in DIR/acks.jsonl.
  faults.py smtp-proxy --listen P --upstream Q --control DIR
      An SMTP relay in front of maildev. Normally transparent; when DIR/arm holds `hold` it
      keeps the next message's final "." from maildev (the delivery never completes), with
      `ackloss` it passes the "." to maildev but keeps maildev's 250 from the client. Either
      way it writes the message's Message-ID to DIR/stalled and waits for the client to die.
  faults.py check   --out DIR --psql-url URL --maildev URL [--expect-duplicate MSGID]
      The assertions, after the run; prints a summary and exits 1 if any fails.
"""

import argparse
import asyncio
import collections
import csv
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

# ---------------------------------------------------------------------------------------------
# load


class Recorder:
    def __init__(self, out):
        self.lock = threading.Lock()
        self.responses = open(os.path.join(out, "responses.csv"), "w", newline="")
        self.acks = open(os.path.join(out, "acks.jsonl"), "w")
        self.writer = csv.writer(self.responses)
        self.writer.writerow(["start", "end", "replica", "op", "status", "detail"])

    def response(self, start, end, replica, op, status, detail=""):
        with self.lock:
            self.writer.writerow([f"{start:.3f}", f"{end:.3f}", replica, op, status, detail])

    def ack(self, record):
        with self.lock:
            self.acks.write(json.dumps(record) + "\n")

    def close(self):
        with self.lock:
            self.responses.close()
            self.acks.close()


HOT_DOMAINS = [f"hot{d}.example" for d in range(8)]
HOT_MAILBOXES = [f"dev{m}" for m in range(6)]


class Worker(threading.Thread):
    def __init__(self, n, args, recorder, deadline, shared):
        super().__init__(daemon=True)
        self.n = n
        self.urls = args.urls
        self.token = args.token
        self.license = args.license
        self.account = args.account
        self.recorder = recorder
        self.deadline = deadline
        self.shared = shared
        self.conns = {}
        self.rng = random.Random(n * 7919 + int(time.time()))
        self.count = 0
        self.deployments = [f"fault-{n}-{d}" for d in range(50)]
        self.checkin_seq = collections.Counter()

    def conn(self, replica):
        c = self.conns.get(replica)
        if c is None:
            host, port = self.urls[replica].split("//", 1)[1].split(":")
            c = http.client.HTTPConnection(host, int(port), timeout=40)
            self.conns[replica] = c
        return c

    def call(self, replica, op, method, path, body=None, auth=False, extra=None):
        """One request; returns (status, parsed body or None). Status is a number, or a
        connection failure's name."""
        headers = {"content-type": "application/json"}
        if auth:
            headers["authorization"] = f"Bearer {self.token}"
        if extra:
            headers.update(extra)
        data = json.dumps(body).encode() if body is not None else None
        start = time.time()
        try:
            c = self.conn(replica)
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            raw = r.read()
            status = r.status
            if r.getheader("connection", "").lower() == "close":
                c.close()
                self.conns.pop(replica, None)
        except (OSError, http.client.HTTPException) as e:
            end = time.time()
            self.conns.pop(replica, None)
            try:
                c.close()
            except Exception:
                pass
            kind = type(e).__name__
            self.recorder.response(start, end, replica, op, kind, str(e)[:80].replace("\n", " "))
            return kind, None
        end = time.time()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        detail = ""
        if status >= 300 and isinstance(parsed, dict):
            detail = (parsed.get("error") or {}).get("code", "")
        elif status >= 300:
            detail = raw[:60].decode("utf-8", "replace").replace("\n", " ")
        self.recorder.response(start, end, replica, op, status, detail)
        return status, parsed

    def wrong(self, replica, op, what):
        self.recorder.response(time.time(), time.time(), replica, op, "WRONG", what[:120])

    def run(self):
        ops = [
            (self.checkin, 45),
            (self.trial, 15),
            (self.trial_checkin, 10),
            (self.issue, 10),
            (self.list_licenses, 10),
            (self.list_trials, 10),
        ]
        population = [op for op, _ in ops]
        weights = [w for _, w in ops]
        while time.time() < self.deadline:
            replica = self.count % len(self.urls)
            self.count += 1
            op = self.rng.choices(population, weights)[0]
            op(replica)

    def checkin(self, replica, deployment=None, license_id=None, op="checkin"):
        deployment = deployment or self.rng.choice(self.deployments)
        self.checkin_seq[deployment] += 1
        # The user count is a per-deployment sequence: (deployment, active_users) names one
        # check-in in the database.
        users = self.checkin_seq[deployment]
        nonce = uuid.uuid4().hex
        body = {
            "deployment_id": deployment,
            "license_ids": [license_id or self.license],
            "active_users": users,
            "product_version": "2.16.0",
            "nonce": nonce,
        }
        status, answer = self.call(replica, op, "POST", "/api/v1/checkins", body)
        if status == 200:
            if not (isinstance(answer, dict) and answer.get("nonce") == nonce
                    and answer.get("deployment_id") == deployment and answer.get("receipt")):
                self.wrong(replica, op, f"check-in answer does not echo {deployment}/{nonce}")
                return
            self.recorder.ack({"kind": "checkin", "deployment": deployment, "users": users})

    def trial(self, replica):
        if self.rng.random() < 0.5:
            domain = self.rng.choice(HOT_DOMAINS)
            email = f"{self.rng.choice(HOT_MAILBOXES)}@{domain}"
        else:
            email = f"ada@fresh-{self.n}-{self.count}-{uuid.uuid4().hex[:6]}.example"
        with self.shared["lock"]:
            reuse = self.shared["trial_deployments"] and self.rng.random() < 0.1
            deployment = (self.rng.choice(self.shared["trial_deployments"]) if reuse
                          else str(uuid.uuid4()))
            if not reuse:
                self.shared["trial_deployments"].append(deployment)
        body = {
            "email": email,
            "first_name": "Ada",
            "last_name": "L",
            "company": "Faults",
            "country": "GB",
            "developers": "11-50",
            "deployment_id": deployment,
            "product_version": "2.16.0",
        }
        status, answer = self.call(replica, "trial", "POST", "/api/v1/trials", body)
        if status == 202:
            if not (isinstance(answer, dict) and answer.get("status") == "granted"
                    and answer.get("trial_id") and answer.get("email") == email):
                self.wrong(replica, "trial", f"trial answer for {email}: {answer}")
                return
            self.recorder.ack({"kind": "trial", "id": answer["trial_id"], "email": email,
                               "deployment": deployment})
            with self.shared["lock"]:
                self.shared["granted"].append((answer["trial_id"], deployment))

    def trial_checkin(self, replica):
        with self.shared["lock"]:
            if not self.shared["granted"]:
                return
            trial_id, deployment = self.rng.choice(self.shared["granted"])
        status, trial = self.call(replica, "trial_get", "GET", f"/api/v1/trials/{trial_id}",
                                  auth=True)
        if status != 200:
            return
        license_id = isinstance(trial, dict) and trial.get("license_id")
        if not license_id:
            self.wrong(replica, "trial_get", f"granted trial {trial_id} without a license")
            return
        self.checkin(replica, deployment, license_id, op="trial_checkin")

    def issue(self, replica):
        key = uuid.uuid4().hex
        email = f"ops{self.rng.randrange(1000)}@customer.example"
        body = {
            "account_id": self.account,
            "email": email,
            "feature_set": "enterprise",
            "user_limit": 25,
            "starts_at": "2026-01-01T00:00:00Z",
            "expires_at": "2036-01-01T00:00:00Z",
        }
        status, answer = self.call(replica, "issue", "POST", "/api/v1/licenses", body, auth=True,
                                   extra={"idempotency-key": key})
        if status == 201:
            if not (isinstance(answer, dict) and answer.get("id") and answer.get("token")
                    and answer.get("email") == email):
                self.wrong(replica, "issue", f"issue answer for {email}: {answer}")
                return
            self.recorder.ack({"kind": "license", "id": answer["id"], "email": email})

    def list_licenses(self, replica):
        status, answer = self.call(replica, "list_licenses", "GET", "/api/v1/licenses?limit=50",
                                   auth=True)
        if status == 200 and not (isinstance(answer, dict) and isinstance(answer.get("items"), list)):
            self.wrong(replica, "list_licenses", f"listing without items: {str(answer)[:80]}")

    def list_trials(self, replica):
        status, answer = self.call(replica, "list_trials", "GET", "/api/v1/trials?limit=50",
                                   auth=True)
        if status == 200 and not (isinstance(answer, dict) and isinstance(answer.get("items"), list)):
            self.wrong(replica, "list_trials", f"listing without items: {str(answer)[:80]}")


def load(args):
    args.urls = args.urls.split(",")
    recorder = Recorder(args.out)
    deadline = time.time() + args.duration
    shared = {"lock": threading.Lock(), "granted": [], "trial_deployments": []}
    workers = [Worker(n, args, recorder, deadline, shared) for n in range(args.concurrency)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    recorder.close()


# ---------------------------------------------------------------------------------------------
# smtp-proxy


async def smtp_session(client_r, client_w, args):
    up_r, up_w = await asyncio.open_connection("127.0.0.1", args.upstream)
    state = {"swallow": False, "stalled": False, "peer": client_w.get_extra_info("peername")[1]}

    async def downstream():
        # maildev -> client, except the reply to a final "." that ackloss keeps back.
        while True:
            line = await up_r.readline()
            if not line:
                break
            if state["swallow"]:
                state["swallow"] = False
                record_stall(args, state)
                continue
            client_w.write(line)
            await client_w.drain()

    relay = asyncio.create_task(downstream())
    in_data = False
    message_id = ""
    try:
        while True:
            line = await client_r.readline()
            if not line:
                break
            if not in_data:
                if line.upper().startswith(b"DATA"):
                    in_data = True
                    message_id = ""
                up_w.write(line)
                await up_w.drain()
                continue
            if line.lower().startswith(b"message-id:") and not message_id:
                message_id = line.split(b":", 1)[1].strip().decode("ascii", "replace")
            if line == b".\r\n":
                in_data = False
                arm = consume_arm(args)
                state["message_id"] = message_id
                if arm == "hold":
                    # The message never completes: maildev drops it with the connection.
                    record_stall(args, state)
                    await client_r.read()  # until the client dies
                    break
                if arm == "ackloss":
                    state["swallow"] = True
            up_w.write(line)
            await up_w.drain()
    finally:
        if state["stalled"]:
            # Keep nothing of a held message: close without QUIT.
            up_w.transport.abort()
        else:
            up_w.close()
        relay.cancel()
        client_w.close()


def consume_arm(args):
    path = os.path.join(args.control, "arm")
    try:
        with open(path) as f:
            arm = f.read().strip()
        os.unlink(path)
        return arm
    except FileNotFoundError:
        return ""


def record_stall(args, state):
    state["stalled"] = True
    tmp = os.path.join(args.control, "stalled.tmp")
    with open(tmp, "w") as f:
        f.write(f"{state.get('message_id', '')} {state['peer']}\n")
    os.rename(tmp, os.path.join(args.control, "stalled"))


async def smtp_proxy_main(args):
    server = await asyncio.start_server(
        lambda r, w: smtp_session(r, w, args), "127.0.0.1", args.listen)
    print("proxy ready", flush=True)
    async with server:
        await server.serve_forever()


# ---------------------------------------------------------------------------------------------
# check


def psql(url, sql):
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAtF", "\t", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def windows(out):
    """Outage windows from DIR/events: per replica (killed -> ready) and Postgres
    (restarting -> ready, plus a settling margin for pools to replace their connections)."""
    replica, database = collections.defaultdict(list), []
    opened = {}
    with open(os.path.join(out, "events")) as f:
        for line in f:
            t, what, who = line.split()
            t = float(t)
            if what in ("kill", "pg_restart"):
                opened[(what, who)] = t
            elif what == "ready" and ("kill", who) in opened:
                replica[int(who)].append((opened.pop(("kill", who)), t + 1.0))
            elif what == "pg_ready":
                database.append((opened.pop(("pg_restart", "db")), t + 15.0))
    return replica, database


def inside(t0, t1, spans):
    return any(t1 >= a and t0 <= b for a, b in spans)


EXPECTED = {
    "checkin": {200},
    "trial_checkin": {200},
    "trial": {202, 409},  # 409: a limit used up (the trial rules, the mail bound)
    "trial_get": {200},
    "issue": {201},
    "list_licenses": {200},
    "list_trials": {200},
}


def check(args):
    failures = []
    summary = []

    def fail(text):
        failures.append(text)

    replica_spans, db_spans = windows(args.out)
    counts = collections.Counter()
    outage = collections.Counter()
    outside = collections.Counter()
    wrong = []
    with open(os.path.join(args.out, "responses.csv")) as f:
        rows = list(csv.DictReader(f))
    first = min(float(r["start"]) for r in rows)
    last = max(float(r["end"]) for r in rows)
    for r in rows:
        t0, t1, rep, op, status = float(r["start"]), float(r["end"]), int(r["replica"]), r["op"], r["status"]
        counts[(op, status)] += 1
        in_replica = inside(t0, t1, replica_spans[rep])
        in_db = inside(t0, t1, db_spans)
        if in_replica or in_db:
            outage[("replica down" if in_replica else "postgres restart", op, status)] += 1
        if status == "WRONG":
            wrong.append(f"{op} on replica {rep}: {r['detail']}")
        elif status.isdigit():
            code = int(status)
            if code == 503:
                if not (in_replica or in_db):
                    outside[(op, status, r["detail"])] += 1
            elif code not in EXPECTED[op]:
                wrong.append(f"{op} on replica {rep} at +{t0 - first:.1f}s: {code} {r['detail']}")
        else:  # a connection failure: only while that replica was down
            if not in_replica:
                wrong.append(f"{op} on replica {rep} at +{t0 - first:.1f}s: {status} {r['detail']} "
                             "(the replica was up)")
    down = []
    with open(os.path.join(args.out, "events")) as f:
        for line in f:
            t, what, _ = line.split()
            if what == "pg_restart":
                began = float(t)
            elif what == "pg_ready":
                down.append((began, float(t)))
    for a, b in down:
        during = [r for r in rows if float(r["end"]) >= a and float(r["start"]) <= b]
        by_status = collections.Counter(r["status"] for r in during)
        slowest = max((float(r["end"]) - float(r["start"]) for r in during), default=0)
        summary.append(f"Postgres down {b - a:.1f} s (restart at +{a - first:.1f}s): {len(during)} "
                       f"requests overlapped it, {dict(by_status)}, slowest {slowest:.1f} s")
    summary.append(f"requests: {len(rows)} in {last - first:.0f} s "
                   f"({len(rows) / max(last - first, 1):.0f}/s)")
    summary.append("responses by operation and status:")
    for (op, status), n in sorted(counts.items()):
        summary.append(f"  {op:14} {status:24} {n}")
    summary.append("responses during outages (window, operation, status):")
    for (window, op, status), n in sorted(outage.items()):
        summary.append(f"  {window:17} {op:14} {status:24} {n}")
    if outside:
        summary.append("503 outside any outage window (overload: acquire timeouts), not failures:")
        for (op, status, detail), n in sorted(outside.items()):
            summary.append(f"  {op:14} {status} {detail} {n}")
    if wrong:
        fail(f"{len(wrong)} wrong answers (500s, unexpected statuses, broken answers, "
             f"connection failures while the replica was up); first ones:\n    "
             + "\n    ".join(wrong[:15]))

    # Acknowledged writes are stored.
    acks = collections.defaultdict(list)
    with open(os.path.join(args.out, "acks.jsonl")) as f:
        for line in f:
            a = json.loads(line)
            acks[a["kind"]].append(a)
    url = args.psql_url
    psql(url, "CREATE TEMP TABLE x (a int); DROP TABLE x")  # the connection works
    checkins = acks["checkin"]
    missing_checkins = missing(
        url, [(a["deployment"], a["users"]) for a in checkins], "deployment_id text, active_users bigint",
        "SELECT a.deployment_id, a.active_users FROM acked a WHERE NOT EXISTS (SELECT 1 FROM "
        "checkins c WHERE c.deployment_id = a.deployment_id AND c.active_users = a.active_users)")
    missing_licenses = missing(
        url, [(a["id"],) for a in acks["license"]], "id text",
        "SELECT a.id FROM acked a WHERE NOT EXISTS (SELECT 1 FROM licenses l WHERE l.id = a.id)")
    missing_trials = missing(
        url, [(a["id"],) for a in acks["trial"]], "id text",
        "SELECT a.id FROM acked a WHERE NOT EXISTS (SELECT 1 FROM trials t WHERE t.id = a.id "
        "AND t.license_id IS NOT NULL)")
    summary.append(f"acknowledged: {len(checkins)} check-ins, {len(acks['license'])} licenses, "
                   f"{len(acks['trial'])} trials")
    for what, lost in [("check-ins", missing_checkins), ("licenses", missing_licenses),
                       ("trials", missing_trials)]:
        if lost:
            fail(f"{len(lost)} acknowledged {what} are not in the database: {lost[:5]}")

    # Trial limits (the whole run is within one day and one year).
    limits = {
        "a deployment granted more than one trial":
            "SELECT deployment_id, count(*) FROM trials WHERE outcome = 'granted' "
            "GROUP BY 1 HAVING count(*) > 1",
        "a mailbox with more than one confirmed trial":
            "SELECT email_key, count(*) FROM trials WHERE outcome = 'granted' AND confirmed_at "
            "IS NOT NULL GROUP BY 1 HAVING count(*) > 1",
        "a domain with more confirmed trials than its limit (3)":
            "SELECT email_domain, count(*) FROM trials WHERE outcome = 'granted' AND confirmed_at "
            "IS NOT NULL GROUP BY 1 HAVING count(*) > 3",
        "a mailbox mailed more than 3 trial licenses in a day":
            "SELECT email_key, count(*) FROM trials WHERE license_id IS NOT NULL "
            "GROUP BY 1 HAVING count(*) > 3",
        "a domain mailed more than 20 trial licenses in a day":
            "SELECT email_domain, count(*) FROM trials WHERE license_id IS NOT NULL "
            "GROUP BY 1 HAVING count(*) > 20",
        "a trial refused at its first check-in whose license is still active":
            "SELECT t.id, l.status FROM trials t JOIN licenses l ON l.id = t.license_id "
            "WHERE t.outcome = 'refused' AND l.status = 'active'",
    }
    for what, sql in limits.items():
        rows_ = psql(url, sql)
        if rows_:
            fail(f"{what}: {rows_[:5]}")
    trial_stats = psql(url, "SELECT outcome, (confirmed_at IS NOT NULL), coalesce(refusal_code, ''), "
                            "count(*) FROM trials GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
    summary.append("trials in the database (outcome, confirmed, refusal, count): "
                   + "; ".join(" ".join(r) for r in trial_stats))
    hot = psql(url, "SELECT count(*) FROM trials WHERE outcome = 'granted' AND confirmed_at IS NOT NULL "
                    "AND email_domain LIKE 'hot%'")[0][0]
    summary.append(f"confirmed trials on the {len(HOT_DOMAINS)} hot domains: {hot} "
                   f"(limit {3 * len(HOT_DOMAINS)})")

    # Every queued message delivered exactly once (by Message-ID).
    outbox = psql(url, "SELECT message_id, state, attempts FROM outbox")
    states = collections.Counter(s for _, s, _ in outbox)
    summary.append("outbox rows by state: " + ", ".join(f"{s} {n}" for s, n in sorted(states.items())))
    not_sent = [(m, s) for m, s, _ in outbox if s != "sent"]
    if not_sent:
        fail(f"{len(not_sent)} outbox messages were not delivered: {not_sent[:5]}")
    with urllib.request.urlopen(f"{args.maildev}/email", timeout=120) as r:
        emails = json.load(r)
    delivered = collections.Counter()
    for e in emails:
        mid = (e.get("headers") or {}).get("message-id") or e.get("messageId") or ""
        delivered[mid.strip().strip("<>")] += 1
    queued = {m.strip().strip("<>"): int(a) for m, _, a in outbox}
    expected_dup = {m.strip().strip("<>") for m in args.expect_duplicate}
    lost = [m for m in queued if delivered[m] == 0]
    dups = {m: n for m, n in delivered.items() if n > 1}
    # At least once: a sender SIGKILLed after maildev accepted a message and before it recorded
    # the delivery leaves its lease to run out, and the message goes again under the same
    # Message-ID. Such a redelivery shows as exactly two copies of a row claimed at least twice;
    # anything else (three copies, or two of a message claimed once) is a failure.
    # The first sender must have been killed between the message's creation and its
    # redelivery, a lease (60 s) before it.
    kills = []
    with open(os.path.join(args.out, "events")) as f:
        for line in f:
            t, what, who = line.split()
            if what == "kill":
                kills.append((float(t), who))
    times = {m.strip().strip("<>"): (int(c), int(s_ or 0))
             for m, c, s_ in psql(url, "SELECT message_id, created_at, coalesce(sent_at, 0) FROM outbox")}

    def killed_sender(m):
        created, sent = times.get(m, (0, 0))
        return next((f"replica {who} SIGKILLed at +{t - first:.1f}s, redelivered at +{sent - first:.0f}s"
                     for t, who in kills if created - 1 <= t <= sent - 50), None)

    redelivered = {m: killed_sender(m) for m, n in dups.items()
                   if m not in expected_dup and n == 2 and queued.get(m, 0) >= 2 and killed_sender(m)}
    unexpected_dups = {m: n for m, n in dups.items()
                       if m not in expected_dup and m not in redelivered}
    strangers = [m for m in delivered if m not in queued]
    summary.append(f"maildev: {len(emails)} messages, {len(delivered)} Message-IDs; "
                   f"outbox: {len(queued)}; duplicates: {len(dups)} "
                   f"({len(expected_dup & set(dups))} induced on purpose, {len(redelivered)} "
                   f"redelivered after a SIGKILL between acceptance and record)")
    for m in redelivered:
        summary.append(f"  redelivered: {m} (2 copies, {queued[m]} claims; {redelivered[m]})")
    if lost:
        fail(f"{len(lost)} queued messages never reached maildev: {lost[:5]}")
    if unexpected_dups:
        detail = [(m, n, queued.get(m)) for m, n in list(unexpected_dups.items())[:5]]
        fail(f"{len(unexpected_dups)} messages delivered more than once (Message-ID, copies, "
             f"outbox attempts): {detail}")
    for m in expected_dup:
        if delivered[m] != 2:
            fail(f"the induced lost-acknowledgement message {m} arrived {delivered[m]} times, not 2")
    if strangers:
        fail(f"{len(strangers)} messages in maildev that no outbox row queued: {strangers[:5]}")

    print("\n".join(summary))
    if failures:
        print(f"\nFAILED ({len(failures)}):")
        for f_ in failures:
            print(f"  - {f_}")
        sys.exit(1)
    print("\nall assertions hold")


def missing(url, rows, columns, query):
    """The rows among `rows` (loaded into a temporary table `acked` with `columns`) that
    `query` reports."""
    if not rows:
        return []
    data = "".join("\t".join(str(v) for v in row) + "\n" for row in rows)
    out = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", f"CREATE TEMP TABLE acked ({columns})",
         "-c", "\\copy acked FROM STDIN", "-c", query],
        input=data, check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line]


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    l = sub.add_parser("load")
    l.add_argument("--urls", required=True)
    l.add_argument("--token", required=True)
    l.add_argument("--account", required=True)
    l.add_argument("--license", required=True)
    l.add_argument("--duration", type=float, required=True)
    l.add_argument("--concurrency", type=int, default=8)
    l.add_argument("--out", required=True)
    s = sub.add_parser("smtp-proxy")
    s.add_argument("--listen", type=int, required=True)
    s.add_argument("--upstream", type=int, required=True)
    s.add_argument("--control", required=True)
    c = sub.add_parser("check")
    c.add_argument("--out", required=True)
    c.add_argument("--psql-url", required=True)
    c.add_argument("--maildev", required=True)
    c.add_argument("--expect-duplicate", action="append", default=[])
    args = p.parse_args()
    if args.cmd == "load":
        load(args)
    elif args.cmd == "smtp-proxy":
        asyncio.run(smtp_proxy_main(args))
    else:
        check(args)


if __name__ == "__main__":
    main()
