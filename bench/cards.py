"""Benchmark: card views as HubSpot sends them — 20 concurrent signed requests (HubSpot's cap of
concurrent hubspot.fetch calls per app and account) against a portal with 100,000 deals and their
contract links stored, served by gunicorn as in production.

    .venv/bin/python bench/cards.py [--deals 100000] [--seconds 60] [--concurrency 20]
                                    [--get-seconds 0] [--postgres]

Set-up: the HubSpot sandbox holds the deals (5 per company) with the billwerk properties the flows
write on an applied deal; the connector's database holds, bulk-inserted, what the flows store for
them: a contract link, the validation with billwerk's priced preview and two runs (validation,
contract creation) per deal; a customer link (with the customer's name) and an import run per
company. The connector runs as the Procfile's ``web`` process: ``gunicorn 'backend:create_app()'``
with ``gunicorn.conf.py`` (2 workers x 4 threads unless WEB_CONCURRENCY / WEB_THREADS say
otherwise), HUBWERK_ENV=production, LOG_LEVEL=INFO (its log goes to a file), a redis-server of its
own, SQLite in a temporary folder — or with ``--postgres`` a throw-away PostgreSQL cluster
(``initdb`` as user postgres) — unless DATABASE_URL / REDIS_URL are set.

Load: ``--concurrency`` threads in a separate process, each sending the next signed request
(signature v3, ``portalId``/``userId``/``userEmail``/``appId`` in the query, as HubSpot's proxy
does) as soon as the last answered, for ``--seconds`` per card: first deal cards of random deals,
then company cards of random companies, each as the card sends it — ``POST`` with the record's
properties as the record page has them. ``--get-seconds`` adds a run of ``GET`` views (the card
could not read the properties; the backend reads the record from HubSpot).

Printed per run, from the clients' clocks, the sandboxes' own call logs and /proc: views, views/s,
p50/p95/p99/max latency (target p99 <= 50 ms), answers other than 200, HubSpot and billwerk calls
per view (HubSpot at its default limit of 110 calls per 10 s per portal), CPU ms per view of the
gunicorn processes, and the machine's load average.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import logging
import multiprocessing
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from harness import ROOT_ENTITY, Sandboxes, Window, build_app, install_portal

ROOT = Path(__file__).resolve().parent.parent
PORTAL = 100001
DEALS_PER_COMPANY = 5
SAMPLE = 5000  # records viewed per card (random ones); views pick among them at random
PREVIEW = {
    "currency": "EUR", "outdated": False,
    "lines": [
        {"kind": "plan_variant", "description": "Pro (monthly)", "quantity": 1, "unitPrice": 49, "total": 49, "period": "P1M"},
        {"kind": "component", "description": "Additional seats", "quantity": 5, "unitPrice": 8.5, "total": 42.5, "period": "P1M"},
        {"kind": "component", "description": "Setup fee", "quantity": 1, "unitPrice": 1250, "total": 1250, "period": None},
        {"kind": "discount", "description": "Launch discount 10 %", "quantity": 1, "unitPrice": -9.15, "total": -9.15, "period": "P1M"},
    ],
    "firstInvoice": {"net": 1332.35, "vat": 253.15, "gross": 1585.5},
    "recurring": [{"period": "P1M", "label": "per month", "net": 82.35, "gross": 98}],
    "nextTotalGross": 98, "nextTotalGrossDate": "2027-01-01", "warnings": [],
}


def endpoint(path: str) -> str:
    return re.sub(r"/\d+", "/{id}", path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"bench: {what} did not come up within {timeout:.0f} s")


@contextmanager
def redis_server(folder: Path):
    """A redis-server of the bench's own on a unix socket (the connector's REDIS_URL)."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    sock = folder / "redis.sock"
    proc = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(sock.exists, "redis-server")
        yield f"unix://{sock}"
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def postgres_cluster(folder: Path):
    """A throw-away PostgreSQL cluster on a unix socket under ``folder`` (initdb as user postgres)."""
    data, run = folder / "pgdata", folder / "pgrun"
    for path in (data, run):
        path.mkdir()
        shutil.chown(path, "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run(as_pg + ["initdb", "-D", str(data), "-A", "trust", "-U", "postgres"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(as_pg + ["pg_ctl", "-D", str(data), "-w", "-l", str(run / "pg.log"), "-o",
                            f"-c listen_addresses='' -c unix_socket_directories={run} -c fsync=off -c max_connections=50",
                            "start"], check=True, stdout=subprocess.DEVNULL)
    try:
        subprocess.run(as_pg + ["createdb", "-h", str(run), "-U", "postgres", "bench"], check=True)
        yield f"postgresql+psycopg://postgres@/bench?host={run}"
    finally:
        subprocess.run(as_pg + ["pg_ctl", "-D", str(data), "-w", "-m", "fast", "stop"], stdout=subprocess.DEVNULL)


def seed_database(app, sandboxes: Sandboxes, portal_store, deal_company: dict[str, str]) -> dict:
    """What the flows store for applied deals, bulk-inserted; the deals' billwerk properties in HubSpot."""
    from backend.extensions import db
    from backend.models import ContractLink, CustomerLink, SyncRun, utcnow
    from backend.models.deals import DealPreview

    entity = ROOT_ENTITY[0]
    with app.app_context():
        portal = install_portal(app, sandboxes, PORTAL)
        portal_id = portal.id
        now = utcnow()
        companies = portal_store.table("companies").records
        deals = portal_store.table("deals").records
        customer = {cid: f"{int(cid):024x}" for cid in companies}
        db.session.execute(db.insert(CustomerLink), [
            {"portal_id": portal_id, "entity_id": entity, "hubspot_company_id": cid, "billwerk_customer_id": customer[cid],
             "billwerk_customer_name": (rec.properties.get("name") or "")[:255] or None, "origin": "import", "created_at": now}
            for cid, rec in companies.items()])
        rows, previews, runs = [], [], []
        for did, rec in deals.items():
            cid = deal_company.get(did)
            contract = f"c{int(did):023x}"
            rows.append({"portal_id": portal_id, "entity_id": entity, "hubspot_deal_id": did, "billwerk_contract_id": contract,
                         "billwerk_customer_id": customer.get(cid, "0" * 24), "billwerk_order_id": f"o{int(did):023x}",
                         "sync_stopped": False, "created_at": now, "updated_at": now})
            previews.append({"portal_id": portal_id, "hubspot_deal_id": did, "entity_id": entity, "deal_type": "signup",
                             "hubspot_company_id": cid, "company_name": companies[cid].properties.get("name") if cid else None,
                             "status": "valid", "cart_hash": "0" * 64, "problems": [], "shown": dict(PREVIEW, at=now.isoformat()),
                             "previewed_at": now, "validated_at": now})
            for flow, minutes in (("validate_deal", 20), ("create_contract", 10)):
                at = now - timedelta(minutes=minutes)
                runs.append({"portal_id": portal_id, "flow": flow, "object_type": "deal", "object_id": did, "params": {},
                             "status": "succeeded", "attempts": 1, "counts": {}, "created_at": at, "started_at": at, "finished_at": at})
            rec.properties.update({  # what validation, contract creation and contract updates wrote on the deal
                "billwerk_deal_type": "signup", "billwerk_entity": entity, "billwerk_validation": "valid",
                "billwerk_apply_changes": "applied", "billwerk_customer_id": customer.get(cid, ""), "billwerk_contract_id": contract,
                "billwerk_order_id": f"o{int(did):023x}", "billwerk_lifecycle_status": "Active", "billwerk_currency": "EUR",
                "billwerk_balance": "-98.00", "billwerk_billed_until": "2027-01-01", "billwerk_payment_provider": "Stripe",
                "billwerk_payment_method": "CreditCard", "billwerk_payment_escalated": "false"})
        for cid in companies:
            runs.append({"portal_id": portal_id, "flow": "import_company", "object_type": "company", "object_id": cid, "params": {},
                         "status": "succeeded", "attempts": 1, "counts": {}, "created_at": now, "started_at": now, "finished_at": now})
        for table, batch in ((ContractLink, rows), (DealPreview, previews), (SyncRun, runs)):
            for i in range(0, len(batch), 20_000):
                db.session.execute(db.insert(table), batch[i:i + 20_000])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as connection:
                connection.execute(db.text("ANALYZE"))
        settings = app.config["HUBWERK"]
        return {"contract_links": db.session.scalar(db.select(db.func.count()).select_from(ContractLink)),
                "previews": len(previews), "runs": len(runs), "settings": settings, "portal_id": portal_id}


def card_properties(portal_store, kind: str, object_id: str, names) -> dict:
    """What ``fetchCrmObjectProperties`` gives the card on the record page."""
    props = portal_store.table(kind).records[object_id].properties
    return {**{name: props.get(name) or None for name in names}, "hs_object_id": object_id}


def _client(host: str, port: int, requests_: list[tuple[str, str, bytes]], secret: str, public_base_url: str,
            seconds: float, concurrency: int, results) -> None:
    """Runs in its own process: ``concurrency`` closed-loop clients for ``seconds``, each on its own
    slice of ``requests_`` (two clients never sign the same request in the same millisecond);
    puts (latencies in ms, status counts) on ``results``."""
    sys.path.insert(0, str(ROOT))
    from backend.security.hubspot_signature import signature_v3

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_at_start = usage.ru_utime + usage.ru_stime
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    statuses: collections.Counter = collections.Counter()
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        mine, counts = [], collections.Counter()
        own = requests_[seed::concurrency] or requests_  # a request list shorter than the clients: all share it
        while time.perf_counter() < deadline:
            method, path, body = rng.choice(own)
            ts = str(int(time.time() * 1000))
            headers = {"X-HubSpot-Signature-v3": signature_v3(secret, method, public_base_url + path, body, ts),
                       "X-HubSpot-Request-Timestamp": ts, "Content-Type": "application/json"}
            started = time.perf_counter()
            connection = http.client.HTTPConnection(host, port, timeout=60)
            try:
                connection.request(method, path, body=body or None, headers=headers)
                response = connection.getresponse()
                response.read()
                counts[response.status] += 1
            except OSError as exc:
                counts[type(exc).__name__] += 1
            finally:
                connection.close()
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)
            statuses.update(counts)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    results.put((latencies, dict(statuses), usage.ru_utime + usage.ru_stime - cpu_at_start))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the processes (and their reaped children), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return total / tick


def gunicorn_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [master] + [int(p) for p in children.read_text().split()] if children.exists() else [master]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="load per card")
    parser.add_argument("--get-seconds", type=float, default=0.0, help="also: deal cards by GET (the backend reads HubSpot)")
    parser.add_argument("--floor-seconds", type=float, default=0.0,
                        help="also: GET /healthz (one database and one Redis round trip), the server's floor on this machine")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL cluster instead of SQLite")
    args = parser.parse_args()
    companies = max(1, args.deals // DEALS_PER_COMPANY)

    started = time.perf_counter()
    logging.getLogger("hubwerk.clients").setLevel(logging.ERROR)
    sandboxes, portal_store, deal_ids, company_ids, deal_company = seeded_sandboxes(companies)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o755)
        with redis_server(folder) as redis_url, (postgres_cluster(folder) if args.postgres and not os.environ.get("DATABASE_URL")
                                                 else _given(os.environ.get("DATABASE_URL"))) as database_url:
            os.environ["REDIS_URL"] = redis_url
            if database_url:
                os.environ["DATABASE_URL"] = database_url
            app = build_app(folder / "instance", sandboxes.hubspot.base_url)
            seeded = seed_database(app, sandboxes, portal_store, deal_company)
            settings = seeded["settings"]
            print(f"card views: {len(deal_ids)} deals of {len(company_ids)} companies in the HubSpot sandbox; stored: "
                  f"{seeded['contract_links']} contract links, {seeded['previews']} validations with their preview, "
                  f"{seeded['runs']} runs, {len(company_ids)} customer links ({settings.database_url.split(':', 1)[0]}, "
                  f"set up in {time.perf_counter() - started:.0f} s)")
            with gunicorn(folder, settings, sandboxes) as (port, master, workers):
                print(f"connector: gunicorn -c gunicorn.conf.py 'backend:create_app()' ({workers}), HUBWERK_ENV=production; "
                      f"{args.concurrency} concurrent signed requests, {args.seconds:g} s per card; "
                      f"HubSpot sandbox limit 110 calls / 10 s per portal")
                rows = []
                query = "?" + urlencode({"portalId": PORTAL, "userId": 7, "userEmail": "rep@example.com",
                                         "appId": settings.hubspot_app_id})
                from backend.flows import company_card, deal_card

                sample = random.Random(1)
                deals = sample.sample(deal_ids, min(len(deal_ids), SAMPLE))
                companies_viewed = sample.sample(company_ids, min(len(company_ids), SAMPLE))

                def posts(kind, ids, names):
                    return [("POST", f"/api/cards/{kind}/{i}{query}",
                             json.dumps({"properties": card_properties(portal_store, kind, i, names)}).encode()) for i in ids]

                runs = [("deal card", posts("deals", deals, deal_card.CARD_PROPERTIES), args.seconds),
                        ("company card", posts("companies", companies_viewed, company_card.CARD_PROPERTIES), args.seconds)]
                if args.floor_seconds:
                    runs.insert(0, ("floor /healthz", [("GET", "/healthz", b"")], args.floor_seconds))
                if args.get_seconds:
                    runs.append(("deal card GET", [("GET", f"/api/cards/deals/{i}{query}", b"") for i in deals], args.get_seconds))
                for card, requests_, seconds in runs:
                    results = multiprocessing.get_context("spawn").Queue()
                    process = multiprocessing.get_context("spawn").Process(
                        target=_client, args=("127.0.0.1", port, requests_, settings.hubspot_client_secret,
                                              settings.public_base_url, seconds, args.concurrency, results))
                    pids = gunicorn_pids(master)
                    cpu_before = cpu_seconds(pids)
                    with Window(sandboxes, PORTAL) as window:
                        process.start()
                        latencies, statuses, client_cpu = results.get()
                        process.join()
                    cpu = cpu_seconds(pids) - cpu_before
                    by_endpoint = collections.Counter(f"{c['method']} {endpoint(c['path'])}" for c in window.hubspot)
                    rows.append((card, seconds, latencies, statuses, window, by_endpoint, cpu, client_cpu, os.getloadavg()))
    sandboxes.close()

    print(f"{'':16}{'views':>8}{'views/s':>9}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}{'not 200':>8}"
          f"{'HubSpot/view':>13}{'billwerk/view':>14}{'CPU ms/view':>12}{'client ms/view':>15}{'load 1/5 min':>14}")
    for card, seconds, latencies, statuses, window, _, cpu, client_cpu, load in rows:
        views = len(latencies)
        failed = sum(n for status, n in statuses.items() if status != 200)
        print(f"  {card:<14}{views:>8}{views / seconds:>9.1f}{statistics.median(latencies):>8.1f}"
              f"{percentile(latencies, 95):>8.1f}{percentile(latencies, 99):>8.1f}{max(latencies):>8.1f}{failed:>8}"
              f"{window.hubspot_calls / max(views, 1):>13.3f}{window.billwerk_calls / max(views, 1):>14.3f}"
              f"{cpu * 1000 / max(views, 1):>12.2f}{client_cpu * 1000 / max(views, 1):>15.2f}{f'{load[0]:.2f} / {load[1]:.2f}':>14}")
    for card, _s, _lat, statuses, _window, by_endpoint, _cpu, _client_cpu, _load in rows:
        calls = "; ".join(f"{n} {name}" for name, n in by_endpoint.most_common()) or "none"
        print(f"  {card}: answers {dict(sorted(statuses.items(), key=str))}; HubSpot calls: {calls}")
    print(f"machine: {os.cpu_count()} cores, load average now {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def seeded_sandboxes(companies: int):
    """Both sandboxes, HubSpot seeded with ``companies`` x DEALS_PER_COMPANY closed-won deals; returns
    (sandboxes, the portal's store, deal ids, company ids, {deal id: its company id})."""
    sandboxes = Sandboxes()
    sandboxes.hubspot.seed(companies=companies, deals_per_company=DEALS_PER_COMPANY, contacts_per_company=1,
                           line_items_per_deal=1, closed_won_ratio=1.0, broken_ratio=0.0)
    portal_store = sandboxes.hubspot.store.portal(PORTAL)
    deal_ids = sorted(portal_store.table("deals").records)
    company_ids = sorted(portal_store.table("companies").records)
    deal_company = {}
    for company_id in company_ids:
        for other, _types in (portal_store.assoc.get(("companies", company_id)) or {}).items():
            if other[0] == "deals":
                deal_company[other[1]] = company_id
    return sandboxes, portal_store, deal_ids, company_ids, deal_company


def production_env(folder: Path, settings, sandboxes: Sandboxes) -> dict[str, str]:
    """The environment of the Procfile's web process against the sandboxes (HUBWERK_ENV=production)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "HUBWERK_"))}
    env.update(HUBWERK_ENV="production", HUBWERK_INSTANCE_PATH=str(folder / "instance"),
               DATABASE_URL=settings.database_url, REDIS_URL=os.environ["REDIS_URL"], SECRET_KEY=settings.secret_key,
               ENCRYPTION_KEYS=",".join(settings.encryption_keys), PUBLIC_BASE_URL=settings.public_base_url,
               HUBSPOT_CLIENT_ID=settings.hubspot_client_id, HUBSPOT_CLIENT_SECRET=settings.hubspot_client_secret,
               HUBSPOT_APP_ID=settings.hubspot_app_id, HUBSPOT_API_BASE_URL=sandboxes.hubspot.base_url,
               HUBSPOT_AUTHORIZE_URL=f"{sandboxes.hubspot.base_url}/oauth/authorize", HUBSPOT_APP_BASE_URL=sandboxes.hubspot.base_url,
               HUBSPOT_RATE_LIMIT="110/10s", LOG_LEVEL="INFO")
    return env


@contextmanager
def _given(url: str | None):
    yield url


@contextmanager
def gunicorn(folder: Path, settings, sandboxes: Sandboxes):
    """The Procfile's web process on a free loopback port; yields (port, master pid, "N workers x M threads")."""
    port = free_port()
    env = production_env(folder, settings, sandboxes) | {"HOST": "127.0.0.1", "PORT": str(port)}
    workers = f"{env.get('WEB_CONCURRENCY', '2')} workers x {env.get('WEB_THREADS', '4')} threads"
    log = open(folder / "gunicorn.log", "wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "backend:create_app()"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def answers() -> bool:
            if proc.poll() is not None:
                raise SystemExit(f"bench: gunicorn ended ({proc.returncode}):\n" + (folder / "gunicorn.log").read_text()[-3000:])
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                connection.request("GET", "/healthz")
                return connection.getresponse().status < 500
            finally:
                connection.close()
        wait_for(answers, "gunicorn")
        yield port, proc.pid, workers
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


if __name__ == "__main__":
    raise SystemExit(main())
