"""Benchmark: signup deals validated by billwerk and turned into contracts, at the sandboxes'
default rate limits (HubSpot: 110 calls per 10 s per portal).

    .venv/bin/python bench/deal_flow.py [--deals 500] [--single 20]

1. A burst: ``--deals`` signup deals (plan variant, two components, a discount) whose
   ``billwerk_validation`` a workflow sets to ``request`` all at once — HubSpot's signed webhooks
   (100 events a delivery) into the connector, then one worker. Then the same deals closed-won
   with ``billwerk_apply_changes`` = ``request``: customers and contracts created.
2. One deal alone, ``--single`` times: the time from HubSpot's webhook to ``valid`` with one worker.

Prints, from the sandboxes' own call logs: HubSpot calls per deal in each burst (target ≤ 0.25:
batch reads and write-backs across the deals that wait together), billwerk calls per deal
(target ≤ 3: preview, create, commit — plus the customer's look-up and create for a new customer),
p50/p95 webhook -> valid for one deal (target p50 ≤ 2 s), and 429s (target 0). SQLite and an
embedded Redis under a temporary folder unless DATABASE_URL / REDIS_URL are set.
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

from harness import Sandboxes, Window, build_app, install_portal

PORTAL = 100001
WEBHOOK_PATH = "/api/webhook/hubspot/events"
_event_ids = iter(range(1, 10**9))


def endpoint(path: str) -> str:
    return re.sub(r"/\d+", "/{id}", path)


def make_deals(hs, n: int, catalog: dict, offset: int = 0) -> list[str]:
    """``n`` signup deals, each with its own company and contact, built as a rep builds them."""
    deal_ids = []
    for i in range(offset, offset + n):
        company = hs.user_create("companies", {"name": f"Bench Kunde {i} GmbH", "address": f"Hauptstraße {i % 90 + 1}",
                                               "city": "Berlin", "zip": "10117", "country": "DE"})
        person = hs.user_create("contacts", {"firstname": "Eva", "lastname": f"Bench{i}", "email": f"eva{i}@bench.example"})
        deal = hs.user_create("deals", {"dealname": f"Bench deal {i}", "pipeline": "default",
                                        "dealstage": "appointmentscheduled", "billwerk_deal_type": "signup"})
        hs.user_associate("deals", deal["id"], "companies", company["id"], type_ids=[341, 5])
        hs.user_associate("deals", deal["id"], "contacts", person["id"])
        for product_id, quantity, name in catalog["lines"]:
            item = hs.user_create("line_items", {"name": name, "quantity": str(quantity), "hs_product_id": product_id})
            hs.user_associate("deals", deal["id"], "line_items", item["id"], type_ids=[19])
        deal_ids.append(deal["id"])
    return deal_ids


def shop_catalog(sandboxes) -> dict:
    state = sandboxes.billwerk.state()["catalog"]
    products = {p["properties"]["billwerk_id"]: p["id"] for p in sandboxes.hubspot.objects("products", portal_id=PORTAL)
                if p["properties"].get("billwerk_id")}
    variant = next(v for v in state["plan_variants"] if v["Id"] in products and v.get("AllowWithoutPaymentData")
                   and not v.get("TrialPeriod") and not v.get("Hidden"))
    comps = [c for c in state["components"] if c["PlanGroupId"] == variant["PlanGroupId"] and c["ComponentType"] == "QuantityBased"
             and c["Id"] in products][:2]
    discount = next(d for d in state["discounts"] if d["PlanGroupId"] == variant["PlanGroupId"] and d["Id"] in products)
    return {"lines": [(products[variant["Id"]], 1, variant["InternalName"]), (products[comps[0]["Id"]], 3, comps[0]["InternalName"]),
                      (products[comps[1]["Id"]], 2, comps[1]["InternalName"]), (products[discount["Id"]], 1, discount["InternalName"])]}


def deliver(app, sandboxes, deal_ids: list[str], prop: str, value: str) -> None:
    """HubSpot's webhooks for a property a workflow set: signed v3, up to 100 events a delivery."""
    from sandbox.hubspot.signing import signed_headers

    client = app.test_client()
    uri = app.config["HUBWERK"].public_base_url.rstrip("/") + WEBHOOK_PATH
    for start in range(0, len(deal_ids), 100):
        events = [{"eventId": next(_event_ids), "subscriptionId": 1, "portalId": PORTAL, "appId": int(app.config["HUBWERK"].hubspot_app_id),
                   "occurredAt": int(time.time() * 1000), "subscriptionType": "deal.propertyChange", "attemptNumber": 0,
                   "objectId": int(d), "propertyName": prop, "propertyValue": value, "changeSource": "AUTOMATION"}
                  for d in deal_ids[start:start + 100]]
        body = json.dumps(events).encode()
        headers = signed_headers(sandboxes.hubspot.client_secret, versions=("v3",), method="POST", uri=uri, body=body)
        answer = client.post(WEBHOOK_PATH, data=body, headers=headers | {"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.get_data(as_text=True)


def work(app) -> None:
    from rq import SimpleWorker

    from backend.jobs import QUEUE_NAMES, get_queue

    SimpleWorker([get_queue(q) for q in QUEUE_NAMES], connection=app.extensions["hubwerk.redis"]()).work(burst=True)


def props_of(sandboxes, deal_ids) -> list[dict]:
    return [sandboxes.hubspot.get_object("deals", d, portal_id=PORTAL)["properties"] for d in deal_ids]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=500)
    parser.add_argument("--single", type=int, default=20)
    args = parser.parse_args()

    sandboxes = Sandboxes()
    sandboxes.billwerk.seed(catalog_items=30, customers=0)
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp) / "instance", sandboxes.hubspot.base_url)
        with app.app_context():
            from backend.extensions import db
            from backend.flows.catalog_sync import start_sync
            from backend.models import ContractLink

            portal = install_portal(app, sandboxes, PORTAL)
            start_sync(portal)
            work(app)
            catalog = shop_catalog(sandboxes)
            deal_ids = make_deals(sandboxes.hubspot, args.deals, catalog)
            singles = make_deals(sandboxes.hubspot, args.single, catalog, offset=args.deals)
            sandboxes.hubspot.flush_webhooks(timeout=1)

            _set(sandboxes, deal_ids, {"billwerk_validation": "request"})
            with Window(sandboxes, PORTAL) as validation:
                deliver(app, sandboxes, deal_ids, "billwerk_validation", "request")
                work(app)
            valid = sum(p.get("billwerk_validation") == "valid" for p in props_of(sandboxes, deal_ids))

            _set(sandboxes, deal_ids, {"dealstage": "closedwon", "billwerk_apply_changes": "request"})
            with Window(sandboxes, PORTAL) as applying:
                deliver(app, sandboxes, deal_ids, "billwerk_apply_changes", "request")
                work(app)
            applying_billwerk = list(sandboxes.billwerk.calls)
            applied = db.session.execute(db.select(db.func.count(ContractLink.id))).scalar_one()

            timings = []
            with Window(sandboxes, PORTAL) as single:
                for d in singles:
                    _set(sandboxes, [d], {"billwerk_validation": "request"})
                    started = time.perf_counter()
                    deliver(app, sandboxes, [d], "billwerk_validation", "request")
                    work(app)
                    timings.append(time.perf_counter() - started)
            single_valid = sum(p.get("billwerk_validation") == "valid" for p in props_of(sandboxes, singles))
        from backend.redis_store import stop_embedded_server

        stop_embedded_server(Path(tmp) / "instance")
    sandboxes.close()

    n = max(args.deals, 1)
    timings.sort()
    p95 = timings[min(len(timings) - 1, int(round(0.95 * (len(timings) - 1))))] if timings else 0.0
    print(f"deal flow: {args.deals} signup deals (plan variant, 2 components, a discount), one worker")
    print(f"  validation burst: {valid}/{args.deals} valid in {validation.wall_s:.1f} s")
    print(f"    HubSpot calls {validation.hubspot_calls} = {validation.hubspot_calls / n:.3f} per deal "
          f"({validation.hubspot_reads} reads, {validation.hubspot_writes} writes), 429s {validation.hubspot_429}")
    print(f"    billwerk calls {validation.billwerk_calls} = {validation.billwerk_calls / n:.3f} per deal, 429s {validation.billwerk_429}")
    print(f"  contract burst: {applied}/{args.deals} contracts in {applying.wall_s:.1f} s")
    print(f"    HubSpot calls {applying.hubspot_calls} = {applying.hubspot_calls / n:.3f} per deal "
          f"({applying.hubspot_reads} reads, {applying.hubspot_writes} writes), 429s {applying.hubspot_429}")
    print(f"    billwerk calls {applying.billwerk_calls} = {applying.billwerk_calls / n:.3f} per deal, 429s {applying.billwerk_429}")
    kinds = collections.Counter(f"{c['method']} {endpoint(re.sub('[0-9a-f]{24}', '{id}', c['path']))}" for c in applying_billwerk)
    print("    billwerk by endpoint: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    total = validation.billwerk_calls + applying.billwerk_calls
    print(f"  billwerk calls per deal, validation + contract: {total / n:.3f} (customer look-up and create included)")
    print(f"  one deal alone ({single_valid}/{len(singles)} valid): webhook -> valid p50 {statistics.median(timings):.3f} s, "
          f"p95 {p95:.3f} s; HubSpot calls per deal {single.hubspot_calls / max(len(singles), 1):.1f}, "
          f"billwerk {single.billwerk_calls / max(len(singles), 1):.1f}, 429s {single.hubspot_429 + single.billwerk_429}")
    return 0


def _set(sandboxes, deal_ids, props) -> None:
    """A workflow's property change, straight in the sandbox's store (its own webhooks are not needed)."""
    hs = sandboxes.hubspot
    for d in deal_ids:
        hs.user_update("deals", d, props, portal_id=PORTAL)
    hs.flush_webhooks(timeout=1)


if __name__ == "__main__":
    raise SystemExit(main())
