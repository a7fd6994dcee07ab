"""Benchmark: what one card view costs the app itself — CPU per view with no server and no load.

    .venv/bin/python bench/card_cost.py [--deals 100000] [--views 500] [--rounds 8] [--profile deal|company|healthz]

``bench/cards.py`` measures views as HubSpot sends them: 20 at a time through gunicorn, on 2 cores
the load generator shares. Its figures move with the machine by ±20 % between runs minutes apart
(even ``/healthz``), which hides changes of a few percent. This one calls the connector's WSGI app
directly in one thread, as gunicorn would (the production app, its JSON request log going to a
file, signed requests, Redis on a unix socket, the same stored data as ``cards.py``), and prints the
process CPU per view of the fastest and the median of ``--rounds`` rounds, rounds of the three
requests interleaved so a slow phase of the machine hits all three alike. What it leaves out is the
HTTP server, the kernel's TCP work and the contention of 20 requests in flight: compare its
``/healthz`` with the ``floor /healthz`` row of ``cards.py`` to see that share.

``--profile`` runs one more round of that request under cProfile and prints the top functions.
"""
from __future__ import annotations

import argparse
import collections
import cProfile
import io
import json
import logging
import os
import pstats
import random
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import cards as bench_cards
from harness import Sandboxes, build_app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--views", type=int, default=500, help="views per round and request kind")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--profile", choices=("healthz", "deal", "company"))
    args = parser.parse_args()

    started = time.perf_counter()
    logging.getLogger("hubwerk.clients").setLevel(logging.ERROR)
    sandboxes, store, deal_ids, company_ids, deal_company = bench_cards.seeded_sandboxes(
        max(1, args.deals // bench_cards.DEALS_PER_COMPANY))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.chmod(folder, 0o755)
        with bench_cards.redis_server(folder) as redis_url:
            os.environ["REDIS_URL"] = redis_url
            seeded = bench_cards.seed_database(build_app(folder / "instance", sandboxes.hubspot.base_url), sandboxes, store, deal_company)
            settings = seeded["settings"]
            app = production_app(folder, settings, sandboxes)
            print(f"card cost: {len(deal_ids)} deals stored as in bench/cards.py ({settings.database_url.split(':', 1)[0]}, "
                  f"set up in {time.perf_counter() - started:.0f} s); the production app called in-process, one thread")
            measure(app, settings, store, deal_ids, company_ids, args)
    sandboxes.close()
    return 0


def production_app(folder: Path, settings, sandboxes: Sandboxes):
    """The app as ``bench_cards.gunicorn`` configures the web process, its log in a file."""
    from backend import create_app
    from backend.config import load_settings

    env = bench_cards.production_env(folder, settings, sandboxes)
    app = create_app(load_settings(env))
    log_file = open(folder / "app.log", "a")  # closed with the process
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) in (sys.stderr, sys.stdout):
            handler.setStream(log_file)
    return app


def measure(app, settings, store, deal_ids, company_ids, args) -> None:
    from backend.flows import company_card, deal_card
    from backend.security.hubspot_signature import signature_v3

    query = urlencode({"portalId": bench_cards.PORTAL, "userId": 7, "userEmail": "rep@example.com", "appId": settings.hubspot_app_id})
    rng = random.Random(1)

    def posts(kind, ids, names):
        return [(f"/api/cards/{kind}/{i}", json.dumps({"properties": bench_cards.card_properties(store, kind, i, names)}).encode())
                for i in ids]

    kinds = {"healthz": [("/healthz", b"")],
             "deal": posts("deals", rng.sample(deal_ids, min(2000, len(deal_ids))), deal_card.CARD_PROPERTIES),
             "company": posts("companies", rng.sample(company_ids, min(2000, len(company_ids))), company_card.CARD_PROPERTIES)}
    used = set()

    def environ(path: str, body: bytes) -> dict:
        card = path.startswith("/api/")
        method = "POST" if card else "GET"
        environ_ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query if card else "",
                    "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "5000", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
                    "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json",
                    "HTTP_HOST": "127.0.0.1:5000", "REMOTE_ADDR": "127.0.0.1", "wsgi.errors": sys.stderr,
                    "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False}
        if card:
            ts = int(time.time() * 1000)
            while (path, ts) in used:  # a signature is single-use: never sign the same request twice
                ts += 1
            used.add((path, ts))
            environ_["HTTP_X_HUBSPOT_REQUEST_TIMESTAMP"] = str(ts)
            environ_["HTTP_X_HUBSPOT_SIGNATURE_V3"] = signature_v3(settings.hubspot_client_secret, method,
                                                                   f"{settings.public_base_url}{path}?{query}", body, str(ts))
        return environ_

    statuses: collections.Counter = collections.Counter()

    def start_response(status, _headers, _exc_info=None):
        statuses[status.split(" ", 1)[0]] += 1

    def run(kind: str, n: int, profile: cProfile.Profile | None = None) -> float:
        batch = [environ(*rng.choice(kinds[kind])) for _ in range(n)]  # signing is the client's work: not timed
        cpu = time.process_time()
        if profile:
            profile.enable()
        for environ_ in batch:
            b"".join(app(environ_, start_response))
        if profile:
            profile.disable()
        return (time.process_time() - cpu) * 1000 / n

    for kind in kinds:  # warm: compiled statements, the view memo, pooled connections
        run(kind, 200)
    statuses.clear()
    per_kind = collections.defaultdict(list)
    for _ in range(args.rounds):
        for kind in kinds:
            per_kind[kind].append(run(kind, args.views))
    print(f"{'':10}{'min ms':>8}{'median ms':>11}   CPU per view, {args.rounds} rounds of {args.views}")
    for kind, values in per_kind.items():
        values.sort()
        print(f"  {kind:<8}{values[0]:>8.3f}{values[len(values) // 2]:>11.3f}")
    print(f"  answers: {dict(sorted(statuses.items()))}")
    if args.profile:
        profile = cProfile.Profile()
        run(args.profile, args.views, profile)
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    raise SystemExit(main())
