"""What the benchmarks share: both sandboxes in this process at their default limits, the connector
app on a throw-away instance folder, and call counting from the sandboxes' own call logs."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sandbox.billwerk import BillwerkSandbox  # noqa: E402
from sandbox.hubspot import HubSpotSandbox  # noqa: E402
from sandbox.server import ServerThread  # noqa: E402

BILLWERK_CLIENT = ("hubwerk-sandbox-billwerk-client", "hubwerk-sandbox-billwerk-secret")
ROOT_ENTITY = ("5f0000000000000000000001", "5f00000000000000000000a1", "Sandbox GmbH")
WRITE_METHODS = ("POST", "PATCH", "PUT", "DELETE")


class Sandboxes:
    """HubSpot and billwerk sandboxes with their default settings, served on loopback."""

    def __init__(self, **hubspot_settings):
        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per sandbox request
        self.hubspot = HubSpotSandbox(**hubspot_settings)
        self.billwerk = BillwerkSandbox()
        self._servers = [ServerThread(self.hubspot.app).start(), ServerThread(self.billwerk.app).start()]
        self.hubspot.base_url, self.billwerk.base_url = (s.url for s in self._servers)

    def close(self) -> None:
        for server in self._servers:
            server.stop()
        self.hubspot.close()
        self.billwerk.stop()


class Window:
    """The calls each sandbox logged between ``__enter__`` and ``__exit__`` (one portal on HubSpot)."""

    def __init__(self, sandboxes: Sandboxes, portal_id: int):
        self.sandboxes, self.portal_id = sandboxes, portal_id

    def __enter__(self):
        self.sandboxes.hubspot.reset_calls()
        self.sandboxes.billwerk.reset_calls()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall_s = time.perf_counter() - self.started
        calls = [c for c in self.sandboxes.hubspot.calls if c.get("portal_id") == self.portal_id]
        self.hubspot = calls
        self.hubspot_calls = len(calls)
        self.hubspot_reads = sum(1 for c in calls if c["method"] == "GET" or c["path"].endswith(("/batch/read", "/search")))
        self.hubspot_writes = self.hubspot_calls - self.hubspot_reads
        self.hubspot_429 = sum(1 for c in calls if c["status"] == 429)
        self.billwerk_calls = len(self.sandboxes.billwerk.calls)
        self.billwerk_429 = sum(1 for c in self.sandboxes.billwerk.calls if c["status"] == 429)
        return False


def build_app(instance: Path, hubspot_url: str):
    """The connector on ``instance`` (SQLite + embedded Redis unless DATABASE_URL / REDIS_URL are set), migrated."""
    from flask_migrate import upgrade

    from backend import create_app
    from backend.config import load_settings

    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "HUBWERK_", "PUBLIC_BASE_URL", "SECRET_KEY", "ENCRYPTION_KEYS"))}
    env.update(HUBWERK_ENV="test", HUBWERK_INSTANCE_PATH=str(instance), HUBSPOT_API_BASE_URL=hubspot_url,
               HUBSPOT_AUTHORIZE_URL=f"{hubspot_url}/oauth/authorize", HUBSPOT_APP_BASE_URL=hubspot_url,
               HUBSPOT_RATE_LIMIT="110/10s", LOG_LEVEL="WARNING")
    app = create_app(load_settings(env, instance_path=instance))
    with app.app_context():
        from backend.extensions import db
        from sqlalchemy import text

        if db.engine.dialect.name == "postgresql":  # a benchmark starts from an empty schema
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()
    return app


def install_portal(app, sandboxes: Sandboxes, portal_id: int, *, billwerk: bool = True):
    """An installed portal (tokens straight from the sandbox, as the OAuth callback stores them),
    its properties provisioned, and — with ``billwerk`` — the billwerk account connected."""
    from datetime import timedelta

    from backend.setup.billwerk_connection import EntityInput, connect_billwerk
    from backend.clients.hubspot import HubSpotClient
    from backend.extensions import db
    from backend.setup.provisioning import provision
    from backend.models import Portal, utcnow

    if portal_id not in {p["portalId"] if "portalId" in p else p.get("id") for p in sandboxes.hubspot.portals()}:
        sandboxes.hubspot.create_portal(portal_id)
    tokens = sandboxes.hubspot.issue_tokens(portal_id)
    portal = Portal(hub_id=portal_id, access_token=tokens["access_token"], refresh_token=tokens["refresh_token"],
                    access_token_expires_at=utcnow() + timedelta(seconds=int(tokens["expires_in"])), scopes=[])
    db.session.add(portal)
    db.session.commit()
    if billwerk:
        connect_billwerk(portal, base_url=sandboxes.billwerk.base_url, client_id=BILLWERK_CLIENT[0], client_secret=BILLWERK_CLIENT[1],
                         entities=[EntityInput(*ROOT_ENTITY)])
    provision(portal, HubSpotClient(portal))
    return portal
