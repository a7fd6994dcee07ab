"""Benchmark: 1,000 linked companies whose address changes at once (a workflow, an import of new
addresses), at the sandboxes' default rate limits (HubSpot: 110 calls per 10 s per portal).

    .venv/bin/python bench/customer_updates.py [--companies 1000]

The companies are linked to billwerk customers first (outside the measurement). Then every
company's ``city`` and ``zip`` change: HubSpot's signed webhooks (100 events a delivery, two
events per company) into the connector, then one worker.

Prints, from the sandboxes' own call logs: HubSpot calls per company (target <= 0.05: batch reads
and batch status writes across the companies that wait together), billwerk calls per company
(target <= 2.05: a read and a write each), 429s (target 0), and how many companies say
``updated``. SQLite and an embedded Redis under a temporary folder unless DATABASE_URL /
REDIS_URL are set.
"""
from __future__ import annotations

import argparse
import collections
import json
import logging
import re
import tempfile
import time
from pathlib import Path

from harness import ROOT_ENTITY, Sandboxes, Window, build_app, install_portal

PORTAL = 100001
WEBHOOK_PATH = "/api/webhook/hubspot/events"
CHANGE = {"city": "Hamburg", "zip": "20095"}
_event_ids = iter(range(1, 10**9))


def linked_companies(app, sandboxes, portal, n: int) -> list[str]:
    """``n`` companies with a contact, each linked to its own billwerk customer (as the import leaves them)."""
    from backend.clients.billwerk import client_for
    from backend.mapping.customer import build_customer
    from backend.models import CustomerLink

    hs = sandboxes.hubspot
    billwerk = client_for(portal.billwerk_account, ROOT_ENTITY[0])
    ids = []
    for i in range(n):
        props = {"name": f"Bench Kunde {i} GmbH", "address": f"Hauptstraße {i % 90 + 1}", "city": "Berlin", "zip": "10117",
                 "country": "DE"}
        person = {"firstname": "Eva", "lastname": f"Bench{i}", "email": f"eva{i}@bench.example"}
        company = hs.user_create("companies", props, portal_id=PORTAL)
        contact = hs.user_create("contacts", person, portal_id=PORTAL)
        customer = billwerk.create_customer(build_customer(props, person, company_id=company["id"]))
        CustomerLink.create(portal.id, ROOT_ENTITY[0], company["id"], customer["Id"], origin="import", contact_id=contact["id"])
        hs.user_update("companies", company["id"], {"billwerk_customer_id": customer["Id"], "billwerk_import_status": "imported"},
                       portal_id=PORTAL)
        ids.append(company["id"])
    hs.flush_webhooks(timeout=1)
    return ids


def deliver(app, sandboxes, company_ids: list[str]) -> int:
    """HubSpot's webhooks for the changed properties: signed v3, up to 100 events a delivery."""
    from sandbox.hubspot.signing import signed_headers

    client = app.test_client()
    uri = app.config["HUBWERK"].public_base_url.rstrip("/") + WEBHOOK_PATH
    events = [{"eventId": next(_event_ids), "subscriptionId": 1, "portalId": PORTAL, "appId": int(app.config["HUBWERK"].hubspot_app_id),
               "occurredAt": int(time.time() * 1000), "subscriptionType": "company.propertyChange", "attemptNumber": 0,
               "objectId": int(c), "propertyName": name, "propertyValue": value, "changeSource": "CRM_UI"}
              for c in company_ids for name, value in CHANGE.items()]
    for start in range(0, len(events), 100):
        body = json.dumps(events[start:start + 100]).encode()
        headers = signed_headers(sandboxes.hubspot.client_secret, versions=("v3",), method="POST", uri=uri, body=body)
        answer = client.post(WEBHOOK_PATH, data=body, headers=headers | {"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
    return (len(events) + 99) // 100


def work(app) -> None:
    from rq import SimpleWorker

    from backend.jobs import QUEUE_NAMES, get_queue

    logging.getLogger("rq.worker").setLevel(logging.WARNING)   # no line per job
    SimpleWorker([get_queue(q) for q in QUEUE_NAMES], connection=app.extensions["hubwerk.redis"]()).work(burst=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=1000)
    args = parser.parse_args()

    sandboxes = Sandboxes()
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(Path(tmp) / "instance", sandboxes.hubspot.base_url)
        with app.app_context():
            portal = install_portal(app, sandboxes, PORTAL)
            work(app)    # what connecting billwerk queued (provisioning of the entity options)
            company_ids = linked_companies(app, sandboxes, portal, args.companies)
            for c in company_ids:   # the change itself, as a rep or a workflow makes it
                sandboxes.hubspot.user_update("companies", c, CHANGE, portal_id=PORTAL)
            sandboxes.hubspot.flush_webhooks(timeout=1)
            with Window(sandboxes, PORTAL) as window:
                deliveries = deliver(app, sandboxes, company_ids)
                work(app)
            billwerk_calls = [c for c in sandboxes.billwerk.calls]
            statuses = collections.Counter(sandboxes.hubspot.get_object("companies", c, portal_id=PORTAL)["properties"]
                                           .get("billwerk_customer_update_status") for c in company_ids)
            moved = sum(1 for c in sandboxes.billwerk.state()["customers"] if (c.get("Address") or {}).get("City") == "Hamburg")
        from backend.redis_store import stop_embedded_server

        stop_embedded_server(Path(tmp) / "instance")
    sandboxes.close()

    n = max(args.companies, 1)
    print(f"customer updates: {args.companies} linked companies changed at once ({deliveries} webhook deliveries), one worker")
    print(f"  {statuses.get('updated', 0)}/{args.companies} companies say updated, {moved} billwerk customers moved, "
          f"in {window.wall_s:.1f} s")
    print(f"  HubSpot calls {window.hubspot_calls} = {window.hubspot_calls / n:.3f} per company "
          f"({window.hubspot_reads} reads, {window.hubspot_writes} writes), 429s {window.hubspot_429}")
    print(f"  billwerk calls {window.billwerk_calls} = {window.billwerk_calls / n:.3f} per company, 429s {window.billwerk_429}")
    kinds = collections.Counter(f"{c['method']} {re.sub('[0-9a-f]{24}', '{id}', c['path'])}" for c in billwerk_calls)
    print("    billwerk by endpoint: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
    hubspot = collections.Counter(f"{c['method']} {c['path']}" for c in window.hubspot)
    print("    HubSpot by endpoint: " + ", ".join(f"{k} {v}" for k, v in hubspot.most_common()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
