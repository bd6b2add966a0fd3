"""Rapport's fault bench: load, a database restart, a server kill, a drain, hostile clients and
heavy requests, each followed by the check that nothing acknowledged was lost or written twice.

Run by bench/faults.sh (which builds the release server, a PostgreSQL cluster of its own and a
virtualenv with aiohttp): `python3 bench/faults.py --bin BIN --pg-bin DIR --pg-data DIR
--pg-port N --port N [--short]`. Prints one table; exits 1 when a scenario lost or duplicated an
acknowledged write, answered a 5xx other than 503, or missed a bound.

The writers are careful clients: every write carries an Idempotency-Key (imports, which take
none, are idempotent by email), and a write whose outcome is unknown (no answer, 5xx, 429, 409
"in progress") is retried with the same key, after Retry-After or a backoff, until it is
acknowledged (2xx) or the scenario's deadline. A deal move is a merge patch with If-Match: on an
unknown outcome the client reads the deal back and counts the move done when the deal is in the
target stage. Afterwards, the database must hold every acknowledged row exactly once, and the
event log exactly one event per acknowledged change.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid

import aiohttp

SECRET = "fault-bench-secret-0123456789abcdef0123456789"
EMAIL, PASSWORD = "owner@faults.test", "fault-bench-password"


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, file=sys.stderr, flush=True)


# Every deal move acknowledged since the start, by deal: the event log is checked against all
# of them (a scenario's own moves are not the only ones in it).
ALL_MOVES = {}


class Stats:
    """What one scenario saw: answers by class, latencies, what was acknowledged."""

    def __init__(self):
        self.requests = 0
        self.by_class = {"2xx": 0, "4xx": 0, "503": 0, "5xx": 0, "no answer": 0}
        self.latencies = []
        self.bad_503 = 0  # a 503 without Retry-After or not problem+json
        self.slowest = 0.0
        self.customers = {}  # marker name -> id
        self.interactions = {}  # subject -> id
        self.imported = set()  # emails
        self.moves = {}  # deal id -> acknowledged moves
        self.unacknowledged = 0  # writes given up at the deadline
        self.by_route = {}  # "METHOD /api/v1/x" -> latencies
        self.refused = {}  # route -> the first 4xx it got (status and detail)

    def count(self, status, seconds, response_headers=None, route=None):
        if route:
            self.by_route.setdefault(route, []).append(seconds)
        self.requests += 1
        self.latencies.append(seconds)
        self.slowest = max(self.slowest, seconds)
        if status is None:
            self.by_class["no answer"] += 1
        elif status == 503:
            self.by_class["503"] += 1
            h = response_headers or {}
            if "Retry-After" not in h or not h.get("Content-Type", "").startswith("application/problem+json"):
                self.bad_503 += 1
        elif status >= 500:
            self.by_class["5xx"] += 1
        elif status >= 400:
            self.by_class["4xx"] += 1
        else:
            self.by_class["2xx"] += 1

    def p99(self):
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(len(xs) * 0.99))]


def route(method, path):
    """The route of a request, for per-route latencies: ids and queries left out."""
    parts = [p for p in path.split("?")[0].split("/") if p]
    return method + " /" + "/".join("{id}" if len(p) == 36 else p for p in parts)


def route_p99s(stats):
    return ", ".join(f"{r} {sorted(xs)[int(len(xs) * 0.99)] * 1000:.0f}" for r, xs in sorted(stats.by_route.items()))


# The writers' connections are dropped after 3 s idle, before the server's keep-alive (5 s)
# closes them: a request sent on a connection the server is closing at that moment gets no
# answer through no fault of the server's (the API tests' client does the same).
class Api:
    def __init__(self, base, session, token):
        self.base, self.session, self.token = base, session, token

    async def call(self, stats, method, path, body=None, headers=None, data=None, timeout=15):
        """One attempt: (status or None, parsed body or None, headers)."""
        h = {"Authorization": f"Bearer {self.token}"}
        h.update(headers or {})
        started = time.monotonic()
        try:
            async with self.session.request(
                method, self.base + path, json=body, data=data, headers=h,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as res:
                raw = await res.read()
                stats.count(res.status, time.monotonic() - started, res.headers, route(method, path))
                if 400 <= res.status < 500:
                    stats.refused.setdefault(route(method, path), (res.status, raw[:300]))
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = None
                return res.status, parsed, res.headers
        except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError, OSError):
            stats.count(None, time.monotonic() - started)
            return None, None, {}

    async def until_done(self, stats, deadline, method, path, body=None, headers=None, data=None):
        """Retries one write (same key) until it is acknowledged or `deadline` passes."""
        attempt = 0
        while time.monotonic() < deadline:
            status, parsed, h = await self.call(stats, method, path, body, headers, data)
            if status is not None and 200 <= status < 300:
                return parsed
            retryable = status is None or status >= 500 or status == 429 or (
                status == 409 and "progress" in json.dumps(parsed or {}))
            if not retryable:
                raise RuntimeError(f"{method} {path} answered {status}: {parsed}")
            attempt += 1
            wait = float(h.get("Retry-After", 0) or 0) if status else 0
            await asyncio.sleep(max(wait, min(2.0, 0.05 * 2 ** min(attempt, 6))) * random.uniform(0.5, 1.0))
        stats.unacknowledged += 1
        return None


class Server:
    """The release server on the bench's database, as a process of its own."""

    def __init__(self, args):
        self.args, self.proc = args, None

    def env(self):
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.args.pg_port}/rapport",
            "RAPPORT_JWT_SECRET": SECRET, "RAPPORT_PORT": str(self.args.port),
            "RAPPORT_ADMIN_EMAIL": EMAIL, "RAPPORT_ADMIN_PASSWORD": PASSWORD,
            "RAPPORT_LOGIN_MAX_FAILURES": "1000000", "RAPPORT_LOGIN_MAX_FAILURES_PER_IP": "1000000",
            # The limiter on, as in production, with a limit the writers (one user) never reach.
            "RAPPORT_RATE_LIMIT": "1000000000", "RAPPORT_ACCESS_TOKEN_TTL_SECS": "86400",
            "RAPPORT_SHUTDOWN_TIMEOUT_SECS": "10", "RUST_LOG": "warn",
            "RAPPORT_DB_MAX_CONNECTIONS": "32",
        })
        return env

    async def start(self):
        import socket
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", self.args.port)) == 0:
                raise RuntimeError(f"something already listens on port {self.args.port}")
        self.proc = subprocess.Popen([self.args.bin, "serve"], env=self.env(),
                                     stdout=self.args.server_log, stderr=self.args.server_log)
        base = f"http://127.0.0.1:{self.args.port}"
        async with aiohttp.ClientSession() as s:
            for _ in range(300):
                try:
                    async with s.get(base + "/health/ready") as r:
                        if r.status == 200 and self.proc.poll() is None:
                            return
                except aiohttp.ClientError:
                    pass
                if self.proc.poll() is not None:
                    raise RuntimeError("the server exited at start; see the server log")
                await asyncio.sleep(0.1)
        raise RuntimeError("the server did not become ready")

    def rss_mib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def kill(self, sig):
        self.proc.send_signal(sig)


def psql(args, sql):
    out = subprocess.run([f"{args.pg_bin}/psql", "-h", "127.0.0.1", "-p", str(args.pg_port), "-U", "postgres",
                          "-d", "rapport", "-AtqX", "-F", "\t", "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def pg_ctl(args, *what):
    as_user = ["runuser", "-u", args.pg_as, "--"] if args.pg_as else []
    subprocess.run([*as_user, f"{args.pg_bin}/pg_ctl", "-D", args.pg_data, "-w", "-t", "60", "-l", args.pg_log, *what],
                   check=True, stdout=subprocess.DEVNULL)


class World:
    """The workspace the writers write to: a channel, a pipeline's open stages, customers for
    interactions, deals to move."""

    async def make(self, api, stats, writers):
        deadline = time.monotonic() + 120
        channels = await api.until_done(stats, deadline, "GET", "/api/v1/channels?limit=200")
        self.channel = next(c["id"] for c in channels["data"] if c["active"])
        pipelines = await api.until_done(stats, deadline, "GET", "/api/v1/pipelines")
        pipeline = pipelines["data"][0]
        self.pipeline = pipeline["id"]
        self.stages = [s["id"] for s in pipeline["stages"] if s["kind"] == "open"]
        self.customers, self.deals = [], []
        for i in range(writers):
            c = await api.until_done(stats, deadline, "POST", "/api/v1/customers",
                                     {"name": f"Setup {uuid.uuid4()}"}, {"Idempotency-Key": str(uuid.uuid4())})
            self.customers.append(c["id"])
            d = await api.until_done(stats, deadline, "POST", "/api/v1/deals",
                                     {"pipeline_id": self.pipeline, "customer_id": c["id"], "title": f"Deal {i}"},
                                     {"Idempotency-Key": str(uuid.uuid4())})
            self.deals.append(d["id"])


async def writer(n, api, world, stats, stop_at, deadline):
    """One careful client, writing until `stop_at`, each write retried until `deadline`."""
    rng = random.Random(n)
    deal = world.deals[n % len(world.deals)]
    customer = world.customers[n % len(world.customers)]
    while time.monotonic() < stop_at:
        key = str(uuid.uuid4())
        kind = rng.choices(["customer", "interaction", "batch", "move", "import"], [30, 40, 8, 17, 5])[0]
        if kind == "customer":
            name = f"F {key}"
            done = await api.until_done(stats, deadline, "POST", "/api/v1/customers",
                                        {"name": name, "email": f"{key}@f.test"}, {"Idempotency-Key": key})
            if done:
                stats.customers[name] = done["id"]
        elif kind == "interaction":
            done = await api.until_done(stats, deadline, "POST", "/api/v1/interactions",
                                        {"customer_id": customer, "channel_id": world.channel, "direction": "inbound",
                                         "kind": "message", "subject": key}, {"Idempotency-Key": key})
            if done:
                stats.interactions[key] = done["id"]
        elif kind == "batch":
            items = [{"customer_id": customer, "channel_id": world.channel, "direction": "outbound",
                      "kind": "note", "subject": f"{key}-{i}"} for i in range(20)]
            done = await api.until_done(stats, deadline, "POST", "/api/v1/interactions/batch", {"items": items},
                                        {"Idempotency-Key": key})
            if done:
                for i, id_ in enumerate(done["ids"]):
                    stats.interactions[f"{key}-{i}"] = id_
        elif kind == "import":
            rows = "name,email\n" + "".join(f"Imported {key}-{i},{key}-{i}@imp.test\n" for i in range(20))
            done = await api.until_done(stats, deadline, "POST", "/api/v1/customers/import",
                                        headers={"Content-Type": "text/csv"}, data=rows.encode())
            if done:
                stats.imported.update(f"{key}-{i}@imp.test" for i in range(20))
        else:
            if await move(api, stats, world, deal, deadline):
                stats.moves[deal] = stats.moves.get(deal, 0) + 1
                ALL_MOVES[deal] = ALL_MOVES.get(deal, 0) + 1


async def move(api, stats, world, deal, deadline):
    """Moves `deal` to another open stage; True once the move is known to have happened."""
    while time.monotonic() < deadline:
        status, current, _ = await api.call(stats, "GET", f"/api/v1/deals/{deal}")
        if status != 200:
            await asyncio.sleep(0.2)
            continue
        target = next(s for s in world.stages if s != current["stage_id"])
        while time.monotonic() < deadline:
            status, body, _ = await api.call(
                stats, "PATCH", f"/api/v1/deals/{deal}", {"stage_id": target},
                {"If-Match": f'"{current["version"]}"', "Content-Type": "application/merge-patch+json"})
            if status == 200:
                return True
            if status is not None and status < 500 and status not in (409, 412, 429):
                raise RuntimeError(f"deal move answered {status}: {body}")
            # Unknown outcome, or the deal changed: did this move land?
            await asyncio.sleep(0.1)
            s, now, _ = await api.call(stats, "GET", f"/api/v1/deals/{deal}")
            if s == 200:
                if now["stage_id"] == target and now["version"] == current["version"] + 1:
                    return True
                break  # it did not: read again and move from where the deal is
    stats.unacknowledged += 1
    return False


def once(args, ws, table, marker, condition, acknowledged):
    """(lost, duplicated) of the rows of `table` whose `marker` column names an acknowledged
    write (`acknowledged`: marker -> the id the write answered with)."""
    found = {r[0]: (int(r[1]), r[2]) for r in psql(
        args, f"SELECT {marker}, count(*), min(id::text) FROM {table} WHERE workspace_id = '{ws}' "
              f"AND {condition} GROUP BY {marker}")}
    lost = 0
    for key, id_ in acknowledged.items():
        n, row_id = found.get(key, (0, None))
        lost += n == 0 or (n == 1 and row_id != id_)
    return lost, sum(n - 1 for n, _ in found.values() if n > 1)


def verify(args, stats, ws):
    """(lost, duplicated, events missing or extra) over everything `stats` acknowledged."""
    events_off = 0
    lost, dup = once(args, ws, "customers", "name", "name LIKE 'F %'", stats.customers)
    lost_i, dup_i = once(args, ws, "interactions", "subject", "subject IS NOT NULL", stats.interactions)
    lost, dup = lost + lost_i, dup + dup_i
    emails = {r[0]: int(r[1]) for r in psql(
        args, f"SELECT email, count(*) FROM customers WHERE workspace_id = '{ws}' AND email LIKE '%@imp.test' "
              "AND deleted_at IS NULL GROUP BY email")}
    lost += sum(1 for e in stats.imported if emails.get(e, 0) == 0)
    dup += sum(n - 1 for n in emails.values() if n > 1)
    # One customer.created event for each imported customer (the file is sent again on an
    # unknown outcome: the second time it updates what the first created, with no change, so
    # no event).
    imported_events = psql(
        args, f"SELECT c.email, count(e.*) FROM customers c LEFT JOIN events e ON e.workspace_id = c.workspace_id "
              f"AND e.resource_id = c.id AND e.type = 'customer.created' WHERE c.workspace_id = '{ws}' "
              "AND c.email LIKE '%@imp.test' GROUP BY c.email")
    events_off += sum(1 for email, n in imported_events if email in stats.imported and int(n) != 1)
    created = {(r[0], r[1]): int(r[2]) for r in psql(
        args, f"SELECT type, resource_id::text, count(*) FROM events WHERE workspace_id = '{ws}' "
              "AND type IN ('customer.created', 'interaction.created') GROUP BY 1, 2")}
    acknowledged = [("customer.created", i) for i in stats.customers.values()] + \
                   [("interaction.created", i) for i in stats.interactions.values()]
    events_off += sum(1 for k in acknowledged if created.get(k, 0) != 1)
    moved = {r[0]: int(r[1]) for r in psql(
        args, f"SELECT resource_id::text, count(*) FROM events WHERE workspace_id = '{ws}' "
              "AND type = 'deal.stage_changed' GROUP BY 1")}
    events_off += sum(1 for d, n in ALL_MOVES.items() if moved.get(d, 0) != n)
    events_off += sum(1 for d, n in moved.items() if d not in ALL_MOVES)
    return lost, dup, events_off


async def load(args, api, world, seconds, writers, fault=None):
    """`writers` careful clients for `seconds`; `fault(stats)` runs alongside."""
    stats = Stats()
    stop_at = time.monotonic() + seconds
    deadline = stop_at + 60
    tasks = [asyncio.create_task(writer(n, api, world, stats, stop_at, deadline)) for n in range(writers)]
    extra = await fault(stats) if fault else {}
    await asyncio.gather(*tasks)
    return stats, extra or {}


async def ready_watch(base, stop, seen):
    """Polls /health/ready every 100 ms, noting each status seen."""
    async with aiohttp.ClientSession() as s:
        while not stop.is_set():
            try:
                async with s.get(base + "/health/ready", timeout=aiohttp.ClientTimeout(total=4)) as r:
                    seen.append((time.monotonic(), r.status))
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                seen.append((time.monotonic(), None))
            await asyncio.sleep(0.1)


async def first_write_after(api, world, since, stats):
    """Seconds from `since` until a write is acknowledged again (at most 60: then inf)."""
    probe = stats
    while time.monotonic() < since + 60:
        status, _, _ = await api.call(probe, "POST", "/api/v1/interactions",
                                      {"customer_id": world.customers[0], "channel_id": world.channel,
                                       "direction": "inbound", "kind": "note", "subject": None},
                                      {"Idempotency-Key": str(uuid.uuid4())}, timeout=5)
        if status == 201:
            return time.monotonic() - since
        await asyncio.sleep(0.05)
    return float("inf")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--pg-bin", required=True)
    p.add_argument("--pg-data", required=True)
    p.add_argument("--pg-log", required=True)
    p.add_argument("--pg-port", type=int, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--server-log", required=True)
    p.add_argument("--pg-as", help="the user pg_ctl runs as (when this runs as root)")
    p.add_argument("--short", action="store_true", help="the CI version: fewer writers, shorter runs")
    args = p.parse_args()
    args.server_log = open(args.server_log, "ab")
    sys.exit(asyncio.run(run(args)))


async def login(base, email, password):
    async with aiohttp.ClientSession() as s:
        async with s.post(base + "/api/v1/auth/login", json={"email": email, "password": password}) as r:
            return (await r.json())["access_token"]


ROUTES = []


def row(name, stats, lost="", dup="", events="", recovery="", extra=""):
    ROUTES.append((name, stats))
    c = stats.by_class
    return [name, stats.requests, c["2xx"], c["4xx"], c["503"], c["5xx"], c["no answer"], lost, dup, events,
            recovery, f"{stats.p99() * 1000:.1f}", extra]


async def scenario_load(args, api, world, ws, rows, failures):
    writers, seconds = (40, 15) if args.short else (200, 60)
    log(f"load: {writers} writers for {seconds} s")
    stats, _ = await load(args, api, world, seconds, writers)
    lost, dup, ev = verify(args, stats, ws)
    rows.append(row(f"load ({writers} writers, {seconds} s)", stats, lost, dup, ev,
                    extra=f"acked: {len(stats.customers)} customers, {len(stats.interactions)} interactions, "
                          f"{len(stats.imported)} imported, {sum(stats.moves.values())} moves"))
    check(failures, "load", stats, lost, dup, ev)


def check(failures, name, stats, lost, dup, ev, answer_always=True):
    if lost or dup or ev:
        failures.append(f"{name}: lost {lost}, duplicated {dup}, events off {ev}")
    if stats.by_class["5xx"]:
        failures.append(f"{name}: {stats.by_class['5xx']} answers 5xx other than 503")
    if stats.bad_503:
        failures.append(f"{name}: {stats.bad_503} 503s without Retry-After or problem+json")
    if stats.unacknowledged:
        failures.append(f"{name}: {stats.unacknowledged} writes never acknowledged")
    if answer_always and stats.by_class["no answer"]:
        failures.append(f"{name}: {stats.by_class['no answer']} requests got no answer")


async def scenario_db_restart(args, api, world, ws, rows, failures):
    writers, seconds = (30, 24) if args.short else (100, 40)
    base = api.base
    for mode in ("fast", "immediate"):
        log(f"database stop -m {mode} mid-load ({writers} writers)")
        seen, stop = [], asyncio.Event()
        watch = asyncio.create_task(ready_watch(base, stop, seen))

        async def fault(stats):
            await asyncio.sleep(seconds / 3)
            down_at = time.monotonic()
            await asyncio.to_thread(pg_ctl, args, "stop", "-m", mode)
            await asyncio.sleep(3)
            await asyncio.to_thread(pg_ctl, args, "start")
            up_at = time.monotonic()
            recovery = await first_write_after(api, world, up_at, stats)
            return {"down": down_at, "up": up_at, "recovery": recovery}

        stats, extra = await load(args, api, world, seconds, writers, fault)
        stop.set()
        await watch
        during = [st for t, st in seen if extra["down"] + 0.5 < t < extra["up"] - 0.2]
        ready_503 = bool(during) and all(st == 503 for st in during)
        lost, dup, ev = verify(args, stats, ws)
        rows.append(row(f"database stop -m {mode}, 3 s", stats, lost, dup, ev, f"{extra['recovery']:.2f}",
                        f"ready said 503 throughout: {'yes' if ready_503 else 'NO'}; slowest answer "
                        f"{stats.slowest:.1f} s"))
        check(failures, f"db {mode}", stats, lost, dup, ev)
        if extra["recovery"] > 5:
            failures.append(f"db {mode}: recovery took {extra['recovery']:.1f} s (> 5 s)")
        if not ready_503:
            failures.append(f"db {mode}: /health/ready did not say 503 throughout the outage: {during}")
        if stats.slowest > 15:
            failures.append(f"db {mode}: an answer took {stats.slowest:.1f} s")


async def scenario_kill(args, server, api, world, ws, rows, failures):
    writers, seconds = (30, 15) if args.short else (100, 30)
    log(f"server SIGKILL mid-load ({writers} writers)")

    async def fault(stats):
        await asyncio.sleep(seconds / 3)
        server.kill(signal.SIGKILL)
        server.proc.wait()
        await asyncio.sleep(1)
        started = time.monotonic()
        await server.start()
        return {"recovery": await first_write_after(api, world, started, stats)}

    stats, extra = await load(args, api, world, seconds, writers, fault)
    lost, dup, ev = verify(args, stats, ws)
    rows.append(row(f"server SIGKILL, restart", stats, lost, dup, ev, f"{extra['recovery']:.2f}",
                    "recovery: from the new process's start to the first acknowledged write"))
    check(failures, "kill", stats, lost, dup, ev, answer_always=False)


async def scenario_drain(args, server, api, world, ws, rows, failures):
    n = int(os.environ.get("DRAIN_N", 10 if args.short else 30))
    log(f"SIGTERM with {n} batches of 1,000 in flight")
    stats = Stats()
    batches = {}

    # The bodies are made first, and sent on connections of their own: every request is on the
    # wire before the signal.
    keys = [str(uuid.uuid4()) for _ in range(n)]
    bodies = [json.dumps({"items": [{"customer_id": world.customers[i % len(world.customers)],
                                     "channel_id": world.channel, "direction": "inbound", "kind": "note",
                                     "subject": f"{keys[i]}-{j}"} for j in range(1000)]}).encode()
              for i in range(n)]
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=3))
    fresh = Api(api.base, session, api.token)

    async def one(i):
        status, body, _ = await fresh.call(stats, "POST", "/api/v1/interactions/batch", data=bodies[i], timeout=60,
                                           headers={"Idempotency-Key": keys[i], "Content-Type": "application/json"})
        if status == 201 or status == 200:
            for j, id_ in enumerate(body["ids"]):
                stats.interactions[f"{keys[i]}-{j}"] = id_
        batches[i] = status

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    await asyncio.sleep(0.5)
    term_at = time.monotonic()
    server.kill(signal.SIGTERM)
    await asyncio.sleep(0.3)
    refused = False
    try:
        _, w = await asyncio.open_connection("127.0.0.1", args.port)
        w.close()
    except OSError:
        refused = True
    await asyncio.gather(*tasks)
    await session.close()
    exit_s = None
    for _ in range(200):
        if server.proc.poll() is not None:
            exit_s = time.monotonic() - term_at
            break
        await asyncio.sleep(0.1)
    lost, dup, ev = verify(args, stats, ws)
    completed = sum(1 for s in batches.values() if s in (200, 201))
    rows.append(row("SIGTERM drain", stats, lost, dup, ev, "",
                    f"{completed}/{n} in flight completed; new connection refused: {'yes' if refused else 'NO'}; "
                    f"exit after {exit_s if exit_s is None else round(exit_s, 2)} s (timeout 10 s)"))
    if completed != n:
        failures.append(f"drain: {n - completed} in-flight batches did not complete: {batches}")
    if not refused:
        failures.append("drain: a new connection was accepted after SIGTERM")
    if exit_s is None or exit_s > 11:
        failures.append(f"drain: exit after {exit_s} s")
    check(failures, "drain", stats, lost, dup, ev)
    if server.proc.poll() is None:
        server.kill(signal.SIGKILL)
        server.proc.wait()
    await server.start()


def _probe(base, token, path, seconds, conn):
    """In a process of its own (so that the bench's own work does not delay it): sequential
    GETs of `path` for `seconds`; sends back (latencies, statuses)."""
    async def go():
        latencies, statuses = [], []
        async with aiohttp.ClientSession() as s:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                started = time.monotonic()
                try:
                    async with s.get(base + path, headers={"Authorization": f"Bearer {token}"},
                                     timeout=aiohttp.ClientTimeout(total=10)) as r:
                        await r.read()
                        statuses.append(r.status)
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                    statuses.append(None)
                latencies.append(time.monotonic() - started)
        return latencies, statuses
    conn.send(asyncio.run(go()))


async def probe_reads(api, path, seconds):
    """The latency a cheap request sees for `seconds`, measured from another process."""
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe()
    process = ctx.Process(target=_probe, args=(api.base, api.token, path, seconds, theirs))
    process.start()
    latencies, statuses = await asyncio.to_thread(mine.recv)
    process.join()
    stats = Stats()
    for latency, status in zip(latencies, statuses):
        stats.count(status, latency, {"Retry-After": "1", "Content-Type": "application/problem+json"})
    return stats


async def scenario_hostile(args, server, api, world, rows, failures):
    idle_n, slow_n, body_n, seconds = (2000, 100, 20, 12) if args.short else (10000, 300, 50, 30)
    log(f"hostile clients: {idle_n} idle keep-alive, {slow_n} slow headers, {body_n} endless bodies")
    rss_before = server.rss_mib()
    stop = asyncio.Event()
    writers = []
    idle_open = [0]

    async def idle():
        try:
            r, w = await asyncio.open_connection("127.0.0.1", args.port)
            w.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            await w.drain()
            await r.read(200)
            idle_open[0] += 1
            writers.append(w)
            await stop.wait()
        except OSError:
            pass

    async def slow_headers():
        try:
            r, w = await asyncio.open_connection("127.0.0.1", args.port)
            writers.append(w)
            for b in b"GET /api/v1/customers HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10000:
                if stop.is_set():
                    return
                w.write(bytes([b]))
                await w.drain()
                await asyncio.sleep(0.5)
        except OSError:
            pass

    async def endless_body():
        try:
            r, w = await asyncio.open_connection("127.0.0.1", args.port)
            writers.append(w)
            w.write(f"POST /api/v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {api.token}\r\n"
                    "Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{\"name\": \"".encode())
            while not stop.is_set():
                w.write(b"a" * 1000)
                await w.drain()
                await asyncio.sleep(0.2)
        except OSError:
            pass

    path = f"/api/v1/customers/{world.customers[0]}"
    baseline = await probe_reads(api, path, 3)
    tasks = [asyncio.create_task(idle()) for _ in range(idle_n)]
    tasks += [asyncio.create_task(slow_headers()) for _ in range(slow_n)]
    tasks += [asyncio.create_task(endless_body()) for _ in range(body_n)]
    await asyncio.sleep(2)
    probe = asyncio.create_task(probe_reads(api, path, seconds))
    peak = rss_before
    while not probe.done():
        await asyncio.sleep(1)
        peak = max(peak, server.rss_mib())
    stats = await probe
    stop.set()
    for w in writers:
        w.close()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(1)
    rss_after = server.rss_mib()
    rows.append(row("hostile clients", stats, extra=(
        f"idle keep-alive opened {idle_open[0]}/{idle_n}; GET by id p99 {stats.p99() * 1000:.1f} ms under attack vs "
        f"{baseline.p99() * 1000:.1f} ms before; RSS {rss_before:.0f} → peak {peak:.0f} → {rss_after:.0f} MiB")))
    # A cheap read must not wait on the attackers at all: a 503 means they held what it needs
    # (connections of the pool: a handler that waited for a body with a transaction open).
    if stats.by_class["2xx"] == 0 or stats.by_class["5xx"] or stats.by_class["503"] or stats.by_class["no answer"]:
        failures.append(f"hostile: the probe got {stats.by_class}")
    if stats.p99() > 0.05:
        failures.append(f"hostile: GET by id p99 {stats.p99() * 1000:.0f} ms (> 50 ms)")


async def scenario_heavy(args, server, base, rows, failures):
    seconds = 15 if args.short else 40
    log("heavy requests at once, a GET by id beside them")
    token = await login(base, "bench@rapport.local", "bench-password")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=3)) as session:
        api = Api(base, session, token)
        first = Stats()
        _, page, _ = await api.call(first, "GET", "/api/v1/customers?limit=1")
        customer = page["data"][0]["id"]
        _, channels, _ = await api.call(first, "GET", "/api/v1/channels?limit=200")
        channel = next(c["id"] for c in channels["data"] if c["active"])
        _, pipelines, _ = await api.call(first, "GET", "/api/v1/pipelines")
        pipeline = pipelines["data"][0]["id"]
        heavy, stop = Stats(), asyncio.Event()
        done = {"analytics": 0, "export": 0, "pages": 0, "batches": 0, "imported rows": 0}
        since = "from=2000-01-01&to=2030-01-01"
        analytics = [f"/api/v1/analytics/funnel?pipeline_id={pipeline}&{since}",
                     f"/api/v1/analytics/segments?dimension=country&{since}",
                     "/api/v1/analytics/rfm", f"/api/v1/analytics/cohorts?{since}&period=month",
                     f"/api/v1/analytics/interactions?{since}&bucket=week&group_by=channel",
                     f"/api/v1/analytics/basket?{since}"]

        async def loop(kind, body):
            while not stop.is_set():
                await body()
                done[kind] += 1

        async def one_analytics():
            for path in analytics:
                await api.call(heavy, "GET", path, timeout=120)

        async def export():
            await api.call(heavy, "GET", "/api/v1/customers/export", headers={"Accept": "text/csv"}, timeout=300)

        async def pages():
            cursor = None
            for _ in range(50):
                path = "/api/v1/customers?limit=200" + (f"&cursor={cursor}" if cursor else "")
                status, body, _ = await api.call(heavy, "GET", path, timeout=60)
                cursor = body.get("next_cursor") if status == 200 and body else None
                if not cursor or stop.is_set():
                    break

        async def batch():
            items = [{"customer_id": customer, "channel_id": channel, "direction": "inbound", "kind": "note"}
                     for _ in range(1000)]
            await api.call(heavy, "POST", "/api/v1/interactions/batch", {"items": items},
                           {"Idempotency-Key": str(uuid.uuid4())}, timeout=60)

        rows_per_import = 20000 if args.short else 1000000

        async def import_():
            key = uuid.uuid4().hex[:8]
            csv = "name,email\n" + "".join(f"Heavy {key} {i},{key}-{i}@heavy.test\n" for i in range(rows_per_import))
            status, _, _ = await api.call(heavy, "POST", "/api/v1/customers/import", headers={"Content-Type": "text/csv"},
                                          data=csv.encode(), timeout=600)
            if status == 200:
                done["imported rows"] += rows_per_import - 1

        workers = [loop("analytics", one_analytics), loop("analytics", one_analytics), loop("export", export),
                   loop("pages", pages), loop("pages", pages), loop("batches", batch), loop("imported rows", import_)]
        tasks = [asyncio.create_task(w) for w in workers]
        await asyncio.sleep(2)
        probe = await probe_reads(api, f"/api/v1/customers/{customer}", seconds)
        stop.set()
        await asyncio.gather(*tasks)
    rows.append(row("heavy requests at once", probe, extra=(
        f"GET by id p99 {probe.p99() * 1000:.1f} ms over {probe.requests} probes beside {heavy.requests} heavy requests "
        f"({heavy.by_class['2xx']} 2xx, {heavy.by_class['4xx']} 4xx, {heavy.by_class['503']} 503, "
        f"{heavy.by_class['5xx']} 5xx); done: {done}; p99 ms by route: {route_p99s(heavy)}")))
    for r, (status, detail) in heavy.refused.items():
        failures.append(f"heavy: {r} answered {status}: {detail}")
    if probe.p99() > 0.05:
        failures.append(f"heavy: GET by id p99 {probe.p99() * 1000:.0f} ms (> 50 ms)")
    if heavy.by_class["5xx"] or probe.by_class["5xx"]:
        failures.append("heavy: 5xx other than 503")
    if heavy.by_class["no answer"] or probe.by_class["no answer"] or probe.by_class["503"]:
        failures.append(f"heavy: heavy {heavy.by_class}, probe {probe.by_class}")
    for kind, n in done.items():
        if n == 0:
            failures.append(f"heavy: no {kind} completed")


HEADER = ["scenario", "requests", "2xx", "4xx", "503", "other 5xx", "no answer", "lost", "duplicated",
          "events off", "recovery s", "p99 ms", "notes"]


async def run(args):
    server = Server(args)
    base = f"http://127.0.0.1:{args.port}"
    rows, failures = [], []
    try:
        await server.start()
        token = await login(base, EMAIL, PASSWORD)
        ws = psql(args, f"SELECT workspace_id FROM users WHERE email = '{EMAIL}'")[0][0]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=3)) as session:
            api = Api(base, session, token)
            world = World()
            await world.make(api, Stats(), 200 if not args.short else 40)
            only = set(filter(None, os.environ.get("ONLY", "").split(",")))
            want = lambda name: not only or name in only  # noqa: E731
            if want("load"):
                await scenario_load(args, api, world, ws, rows, failures)
            if want("db"):
                await scenario_db_restart(args, api, world, ws, rows, failures)
            if want("kill"):
                await scenario_kill(args, server, api, world, ws, rows, failures)
            if want("drain"):
                await scenario_drain(args, server, api, world, ws, rows, failures)
            if want("hostile"):
                await scenario_hostile(args, server, api, world, rows, failures)
        if want("heavy"):
            await scenario_heavy(args, server, base, rows, failures)
    finally:
        if server.proc and server.proc.poll() is None:
            server.kill(signal.SIGTERM)
            server.proc.wait(timeout=30)
    print("| " + " | ".join(HEADER) + " |")
    print("|" + "---|" * len(HEADER))
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |")
    for f in failures:
        print("FAILED:", f)
    if os.environ.get("ROUTES"):
        for name, stats in ROUTES:
            print(f"p99 ms by route, {name}: {route_p99s(stats)}")
    print("fault bench:", "FAILED" if failures else "passed")
    return 1 if failures else 0


if __name__ == "__main__":
    main()
