"""Benchmark: the product sync of N billwerk catalogue items against a naive one-call-per-product
baseline, at the sandboxes' default rate limits (HubSpot: 110 calls per 10 s per portal).

    .venv/bin/python bench/catalog_sync.py [--items 5000] [--baseline-items N]

billwerk gets ``--items`` catalogue items (plan variants, components, discounts; every 23rd
hidden) in one entity. Measured from the sandboxes' own call logs, in one run:

* connector, first sync: the ``sync_products`` flow exactly as ``flask --app backend
  sync-products`` runs it, on an empty HubSpot product library (target: <= 53 HubSpot calls,
  0 429s, <= 8 s);
* connector, re-sync with nothing changed in billwerk (target: 0 HubSpot writes);
* naive baseline, on a second portal: billwerk read with its default page size (100), then one
  ``POST /crm/v3/objects/products`` per visible item, waiting ``Retry-After`` after a 429 as a
  careful simple client would. By default it posts every product, which takes minutes under the
  rate limit (that is the point); ``--baseline-items N`` posts only the first N and the row says
  so (nothing is extrapolated).

SQLite and an embedded Redis under a temporary folder unless DATABASE_URL / REDIS_URL are set.
"""
from __future__ import annotations

import argparse
import collections
import re
import tempfile
import time
from pathlib import Path

import requests

from harness import BILLWERK_CLIENT, ROOT_ENTITY, Sandboxes, Window, build_app, install_portal

CONNECTOR_PORTAL, BASELINE_PORTAL = 100001, 200002
# Setup (provisioning) spends calls of HubSpot's 10-second window; each measurement starts with a full one.
FRESH_WINDOW_S = 10.5


def endpoint(path: str) -> str:
    return re.sub(r"/\d+", "/{id}", path)


def connector_sync(portal):
    from backend.extensions import db
    from backend.flows.catalog_sync import FLOW, run_key
    from backend.jobs.runs import execute_run
    from backend.models import SyncRun

    run = SyncRun(flow=FLOW, status="queued", params={}, **run_key(portal))
    db.session.add(run)
    db.session.commit()
    execute_run(run.id)
    db.session.refresh(run)
    return run


def naive_read(billwerk_url: str) -> list[dict]:
    """The catalogue read the simple way (billwerk's default page size), with the connector's mapping."""
    from backend.mapping.catalog import is_hidden, product_from_component, product_from_discount, product_from_plan_variant

    session = requests.Session()
    token = session.post(f"{billwerk_url}/oauth/token/", data={"grant_type": "client_credentials"},
                         auth=BILLWERK_CLIENT, timeout=30).json()["access_token"]
    session.headers.update({"Authorization": f"Bearer {token}", "X-SELECTED-LEGAL-ENTITY-ID": ROOT_ENTITY[0]})

    def every(path):
        cursor = None
        while True:
            page = session.get(f"{billwerk_url}/api/v1/{path}", params={"from": cursor} if cursor else None, timeout=30).json()
            yield from (page[1:] if cursor else page)
            if len(page) < 100:
                return
            cursor = page[-1]["Id"]

    entity = ROOT_ENTITY[0]
    plans = {p["Id"]: p for p in every("plans")}
    products = [product_from_plan_variant(v, plans.get(v.get("PlanId")), entity_id=entity, language=None)
                for v in every("planVariants") if not is_hidden(v, plans.get(v.get("PlanId")))]
    products += [product_from_component(c, entity_id=entity, language=None) for c in every("components") if not is_hidden(c)]
    products += [product_from_discount(d, entity_id=entity, language=None) for d in every("discounts") if not is_hidden(d)]
    return products


def naive_create(hubspot_url: str, access_token: str, products: list[dict]) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {access_token}"
    for properties in products:
        while True:
            resp = session.post(f"{hubspot_url}/crm/v3/objects/products", json={"properties": properties}, timeout=30)
            if resp.status_code == 429:
                time.sleep(float(resp.headers.get("Retry-After") or 1))
                continue
            resp.raise_for_status()
            break


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=5000, help="billwerk catalogue items (default 5000)")
    parser.add_argument("--baseline-items", type=int, default=None, help="post only this many products in the baseline (default: all)")
    args = parser.parse_args()

    sandboxes = Sandboxes()
    sandboxes.billwerk.seed(catalog_items=args.items, customers=0)
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp) / "instance", sandboxes.hubspot.base_url)
        with app.app_context():
            from backend.clients.hubspot import HubSpotClient

            portal = install_portal(app, sandboxes, CONNECTOR_PORTAL)
            baseline_portal = install_portal(app, sandboxes, BASELINE_PORTAL)
            baseline_token = HubSpotClient(baseline_portal).tokens.access_token()
            time.sleep(FRESH_WINDOW_S)
            with Window(sandboxes, CONNECTOR_PORTAL) as first:
                run = connector_sync(portal)
            first_run = (run.status, run.error, dict(run.counts or {}))
            with Window(sandboxes, CONNECTOR_PORTAL) as again:
                run = connector_sync(portal)
            again_run = (run.status, run.error, dict(run.counts or {}))

            with Window(sandboxes, BASELINE_PORTAL) as naive_reading:
                products = naive_read(sandboxes.billwerk.base_url)
            posted = products if args.baseline_items is None else products[:args.baseline_items]
            with Window(sandboxes, BASELINE_PORTAL) as naive:
                naive_create(sandboxes.hubspot.base_url, baseline_token, posted)
        from backend.redis_store import stop_embedded_server

        stop_embedded_server(Path(tmp) / "instance")
    sandboxes.close()

    counts = first_run[2]
    print(f"product sync: {args.items} billwerk catalogue items in 1 entity ({counts.get('created', 0) + counts.get('failed', 0)} "
          f"visible, {counts.get('hidden', 0)} hidden); HubSpot sandbox limit 110 calls / 10 s per portal")
    print(f"  {'':50}{'HubSpot calls':>14}{'writes':>8}{'billwerk calls':>16}{'429s':>6}{'wall s':>9}")

    def row(label: str, hub: Window, bw: Window, wall_s: float) -> None:
        print(f"  {label:50}{hub.hubspot_calls:>14}{hub.hubspot_writes:>8}{bw.billwerk_calls:>16}{hub.hubspot_429:>6}{wall_s:>9.2f}")

    row("connector, first sync", first, first, first.wall_s)
    row("connector, unchanged re-sync", again, again, again.wall_s)
    partial = f" ({len(posted)} of {len(products)} products)" if len(posted) != len(products) else ""
    row(f"naive baseline, first sync{partial}", naive, naive_reading, naive_reading.wall_s + naive.wall_s)
    print(f"  connector first sync:  run {first_run[0]}, counts {first_run[2]}")
    for name, n in collections.Counter(f"{c['method']} {endpoint(c['path'])}" for c in first.hubspot).most_common():
        print(f"    {n:>5}  {name}")
    print(f"  connector re-sync:     run {again_run[0]}, counts {again_run[2]}")
    if first_run[1] or again_run[1]:
        print(f"  errors: {first_run[1] or ''} {again_run[1] or ''}")
    targets = [("first sync <= 53 HubSpot calls", first.hubspot_calls <= 53),
               ("0 writes on the unchanged re-sync", again.hubspot_writes == 0),
               ("0 429s", first.hubspot_429 == again.hubspot_429 == 0),
               ("first sync <= 8 s", first.wall_s <= 8.0),
               ("runs succeeded", first_run[0] == again_run[0] == "succeeded")]
    ok = all(met for _, met in targets)
    print("  targets: " + ", ".join(f"{name} {'met' if met else 'MISSED'}" for name, met in targets))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
