"""``python -m sandbox``: the offline HubSpot and billwerk side by side on loopback, seeded.

The quick start (``make run``) starts this; use it on its own to develop workflows against a
HubSpot and a billwerk that behave like the real ones. Both control APIs live under
``/_sandbox/`` (see sandbox/hubspot/README.md and sandbox/billwerk/README.md).
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from sandbox.billwerk import BillwerkSandbox
from sandbox.hubspot import HubSpotSandbox
from sandbox.server import ServerThread


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    parser.add_argument("--hubspot-port", type=int, default=5001)
    parser.add_argument("--billwerk-port", type=int, default=5002)
    parser.add_argument("--seed-companies", type=int, default=40, help="HubSpot companies to seed (0: none)")
    parser.add_argument("--closed-won-ratio", type=float, default=0.5)
    parser.add_argument("--catalog-items", type=int, default=60, help="billwerk catalog items per entity (0: none)")
    parser.add_argument("--billwerk-customers", type=int, default=5)
    parser.add_argument("--no-demo", dest="demo", action="store_false",
                        help="seed without the quick start's guaranteed problem companies and open demo deal")
    parser.add_argument("--hubspot-webhook-url", help="where HubSpot object events are POSTed (the connector's /api/webhook/hubspot/events)")
    parser.add_argument("--auto-approve", action="store_true", help="skip the consent page of the OAuth install")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the sandboxes only listen on loopback")
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.WARNING)

    hubspot = HubSpotSandbox(auto_approve=args.auto_approve, webhook_target=args.hubspot_webhook_url)
    billwerk = BillwerkSandbox()
    hs_server = ServerThread(hubspot.app, args.host, args.hubspot_port, poll_interval=0.5).start()
    bw_server = ServerThread(billwerk.app, args.host, args.billwerk_port, poll_interval=0.5).start()
    hubspot.base_url, billwerk.base_url = hs_server.url, bw_server.url
    if args.seed_companies:
        report = hubspot.seed(companies=args.seed_companies, closed_won_ratio=args.closed_won_ratio, demo=args.demo)
        print("HubSpot seeded:", json.dumps({k: v for k, v in report.items() if not k.endswith("_ids")}), flush=True)
        if report.get("demo_deal_id"):
            print(f"demo deal {report['demo_deal_id']}: open, its company ready to import (quick start step 5 moves it to closed won)", flush=True)
    if args.catalog_items:
        report = billwerk.seed(catalog_items=args.catalog_items, customers=args.billwerk_customers)
        summary = {entity: {k: len(v) if isinstance(v, list) else v for k, v in counts.items()} for entity, counts in report.items()}
        print("billwerk seeded:", json.dumps(summary), flush=True)
    print(f"HubSpot sandbox  {hubspot.base_url}  app {hubspot.app_id}, client id {hubspot.client_id}, portal {hubspot.default_portal_id}", flush=True)
    print(f"billwerk sandbox {billwerk.base_url}  client id hubwerk-sandbox-billwerk-client, root entity 5f0000000000000000000001", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    hs_server.stop()
    bw_server.stop()
    hubspot.close()
    billwerk.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
