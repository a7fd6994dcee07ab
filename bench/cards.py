"""Benchmark: card GETs as HubSpot sends them — 20 concurrent signed requests (HubSpot's cap of
concurrent hubspot.fetch calls per app and account) against a portal with 100,000 deals and their
contract links stored.

    .venv/bin/python bench/cards.py [--deals 100000] [--seconds 60] [--concurrency 20]

The HubSpot sandbox holds the deals (5 per company, every company linked to a billwerk customer);
the connector's database holds a contract link per deal and a customer link per company. The
connector is served on loopback by a threaded WSGI server in this process that admits
``--web-threads`` requests at a time (default 8: gunicorn's 2 workers x 4 threads of
gunicorn.conf.py; the rest wait as they would in gunicorn's queue); the load comes from
``--concurrency`` threads in a separate process, each sending the next signed GET (signature v3,
``portalId``/``userId``/``userEmail``/``appId`` in the query, as HubSpot does) as soon as the last
answered, for ``--seconds`` per card: first deal cards of random deals, then company cards of
random companies. Printed per card, from the clients' clocks and the sandboxes' own call logs:
views, views/s, p50/p95/p99/max latency (target p99 <= 50 ms), answers other than 200, and HubSpot
and billwerk calls per view (HubSpot at its default limit of 110 calls per 10 s per portal).
SQLite and an embedded Redis under a temporary folder unless DATABASE_URL / REDIS_URL are set.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import logging
import multiprocessing
import random
import re
import statistics
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from harness import ROOT_ENTITY, Sandboxes, Window, build_app, install_portal

PORTAL = 100001
DEALS_PER_COMPANY = 5


def endpoint(path: str) -> str:
    return re.sub(r"/\d+", "/{id}", path)


def _client(url: str, paths: list[str], secret: str, public_base_url: str, seconds: float, concurrency: int,
            results) -> None:
    """Runs in its own process: ``concurrency`` closed-loop clients for ``seconds``; puts
    (latencies in ms, status counts) on ``results``."""
    from backend.security.hubspot_signature import signature_v3

    target = urlsplit(url)
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    statuses: collections.Counter = collections.Counter()
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        mine, counts = [], collections.Counter()
        while time.perf_counter() < deadline:
            path = rng.choice(paths)
            ts = str(int(time.time() * 1000))
            signature = signature_v3(secret, "GET", public_base_url + path, b"", ts)
            started = time.perf_counter()
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            try:
                connection.request("GET", path, headers={"X-HubSpot-Signature-v3": signature,
                                                         "X-HubSpot-Request-Timestamp": ts})
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
    results.put((latencies, dict(statuses)))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="load per card type")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--web-threads", type=int, default=8, help="requests the connector serves at once")
    args = parser.parse_args()
    companies = max(1, args.deals // DEALS_PER_COMPANY)

    started = time.perf_counter()
    # The company links name customers the billwerk sandbox does not hold (seeding 20,000 real ones
    # takes minutes); the company card's billwerk read answers 404, one per view like a hit would.
    logging.getLogger("hubwerk.clients").setLevel(logging.ERROR)
    sandboxes = Sandboxes()
    sandboxes.hubspot.seed(companies=companies, deals_per_company=DEALS_PER_COMPANY, contacts_per_company=1,
                           line_items_per_deal=1, closed_won_ratio=1.0, broken_ratio=0.0)
    portal_store = sandboxes.hubspot.store.portal(PORTAL)
    deal_ids = sorted(portal_store.table("deals").records)
    company_ids = sorted(portal_store.table("companies").records)
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp) / "instance", sandboxes.hubspot.base_url)
        with app.app_context():
            from backend.extensions import db
            from backend.models import ContractLink, CustomerLink

            portal = install_portal(app, sandboxes, PORTAL)
            portal_id = portal.id
            entity = ROOT_ENTITY[0]
            deal_company = {}
            for company_id in company_ids:
                for other, _types in (portal_store.assoc.get(("companies", company_id)) or {}).items():
                    if other[0] == "deals":
                        deal_company[other[1]] = company_id
            db.session.execute(db.insert(CustomerLink), [
                {"portal_id": portal_id, "entity_id": entity, "hubspot_company_id": str(cid),
                 "billwerk_customer_id": f"{int(cid):024x}", "origin": "import"} for cid in company_ids])
            db.session.execute(db.insert(ContractLink), [
                {"portal_id": portal_id, "entity_id": entity, "hubspot_deal_id": str(did),
                 "billwerk_contract_id": f"c{int(did):023x}", "billwerk_customer_id": f"{int(deal_company.get(did, 0)):024x}",
                 "billwerk_order_id": f"o{int(did):023x}", "sync_stopped": False} for did in deal_ids])
            db.session.commit()
            stored = db.session.scalar(db.select(db.func.count()).select_from(ContractLink))
            settings = app.config["HUBWERK"]
        print(f"card views: {len(deal_ids)} deals of {len(company_ids)} companies in the HubSpot sandbox, "
              f"{stored} contract links and {len(company_ids)} customer links stored "
              f"(set up in {time.perf_counter() - started:.0f} s); {args.concurrency} concurrent signed GETs, "
              f"{args.seconds:g} s per card, {args.web_threads} served at once; HubSpot sandbox limit 110 calls / 10 s per portal")

        from sandbox.server import ServerThread

        query = urlencode({"portalId": PORTAL, "userId": 7, "userEmail": "rep@example.com", "appId": settings.hubspot_app_id})
        rows = []
        admitted = threading.BoundedSemaphore(args.web_threads)

        def served(environ, start_response):
            with admitted:
                return list(app(environ, start_response))

        with ServerThread(served) as server:
            for card, ids in (("deal card", deal_ids), ("company card", company_ids)):
                kind = "deals" if card == "deal card" else "companies"
                paths = [f"/api/cards/{kind}/{i}?{query}" for i in random.Random(1).sample(ids, min(len(ids), 5000))]
                results = multiprocessing.get_context("spawn").Queue()
                process = multiprocessing.get_context("spawn").Process(
                    target=_client, args=(server.url, paths, settings.hubspot_client_secret, settings.public_base_url,
                                          args.seconds, args.concurrency, results))
                with Window(sandboxes, PORTAL) as window:
                    process.start()
                    latencies, statuses = results.get()
                    process.join()
                views = len(latencies)
                by_endpoint = collections.Counter(f"{c['method']} {endpoint(c['path'])}" for c in window.hubspot)
                rows.append((card, views, latencies, statuses, window, by_endpoint))

        print(f"{'':14}{'views':>8}{'views/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
              f"{'not 200':>9}{'HubSpot/view':>14}{'billwerk/view':>15}{'HubSpot 429s':>14}")
        for card, views, latencies, statuses, window, _ in rows:
            failed = sum(n for status, n in statuses.items() if status != 200)
            print(f"  {card:<12}{views:>8}{views / args.seconds:>9.1f}{statistics.median(latencies):>9.1f}"
                  f"{percentile(latencies, 95):>9.1f}{percentile(latencies, 99):>9.1f}{max(latencies):>9.1f}"
                  f"{failed:>9}{window.hubspot_calls / max(views, 1):>14.3f}{window.billwerk_calls / max(views, 1):>15.3f}"
                  f"{window.hubspot_429:>14}")
        for card, _views, _lat, statuses, _window, by_endpoint in rows:
            print(f"  {card}: answers {dict(sorted(statuses.items(), key=str))}; HubSpot calls by endpoint:")
            for name, count in by_endpoint.most_common():
                print(f"    {count:>8}  {name}")
    sandboxes.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
