"""Run the HubSpot sandbox on its own: ``python -m sandbox.hubspot [--port 8901] [--seed 40]``.

Prints the base URL, the app credentials and (with ``--tokens``) a ready access token, then
serves until Ctrl-C. Everything else is driven through the control API under ``/_sandbox``.
"""
from __future__ import annotations

import argparse
import json
import logging

from werkzeug.serving import make_server

from .core import HubSpotSandbox


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.hubspot", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8901)
    parser.add_argument("--seed", type=int, default=0, metavar="COMPANIES", help="seed this many companies")
    parser.add_argument("--closed-won-ratio", type=float, default=0.3)
    parser.add_argument("--auto-approve", action="store_true", help="OAuth authorize redirects at once")
    parser.add_argument("--webhook-target", default=None, help="URL webhook events are POSTed to")
    parser.add_argument("--subscriptions", default=None, metavar="HSMETA",
                        help="webhooks-hsmeta.json to subscribe to (default: the connector's own)")
    parser.add_argument("--tokens", action="store_true", help="install the app in the default portal, print tokens")
    parser.add_argument("--quiet", action="store_true", help="no request log")
    args = parser.parse_args(argv)

    hs = HubSpotSandbox(auto_approve=args.auto_approve, webhook_target=args.webhook_target,
                        subscriptions_file=args.subscriptions)
    server = make_server(args.host, args.port, hs.app, threaded=True)
    hs.base_url = f"http://{args.host}:{server.server_port}"
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    if args.seed:
        report = hs.seed(companies=args.seed, closed_won_ratio=args.closed_won_ratio)
        print("seeded:", json.dumps({k: v for k, v in report.items() if not k.endswith("_ids")}))
    print(f"HubSpot sandbox on {hs.base_url}")
    print(f"  client_id={hs.client_id} client_secret={hs.client_secret} app_id={hs.app_id}")
    print(f"  developer_api_key={hs.settings.developer_api_key} (workflow-action definitions, ?hapikey=)")
    print(f"  default portal {hs.default_portal_id}; control API {hs.base_url}/_sandbox/")
    if args.tokens:
        print("  tokens:", json.dumps(hs.issue_tokens()))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        hs.close()


if __name__ == "__main__":
    main()
