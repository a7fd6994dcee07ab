"""The connector served on loopback next to the two sandboxes, as in production but in one process.

HubSpot's sandbox delivers signed webhooks and card/workflow calls to the connector over HTTP;
jobs run in an in-process RQ worker (``connector.work()``), on the suite's database and Redis.
"""
from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from rq import SimpleWorker

from backend import create_app
from backend.config import load_settings
from backend.extensions import db
from backend.jobs import QUEUE_NAMES, get_queue
from backend.models import Portal
from sandbox.server import ServerThread
from tests.conftest import app_environ

BILLWERK_CLIENT_ID = "hubwerk-sandbox-billwerk-client"
BILLWERK_CLIENT_SECRET = "hubwerk-sandbox-billwerk-secret"
ROOT_ENTITY = ("5f0000000000000000000001", "5f00000000000000000000a1", "Sandbox GmbH")
SUB_ENTITY = ("5f0000000000000000000002", "5f00000000000000000000a2", "Sandbox Ltd (UK)")


class Connector:
    def __init__(self, app, url, hubspot, billwerk):
        self.app, self.url, self.hubspot, self.billwerk = app, url, hubspot, billwerk
        self.client = app.test_client()

    def work(self) -> None:
        """Run every queued job (webhooks -> inbox -> runs) until the queues are empty."""
        redis = self.app.extensions["hubwerk.redis"]()
        SimpleWorker([get_queue(q) for q in QUEUE_NAMES], connection=redis).work(burst=True)

    def run_scheduled(self) -> int:
        """Fast-forward RQ's scheduler: queue every scheduled job now (retries after a 429 or an
        outage, busy runs coming again), then work. Returns how many there were."""
        from rq.job import Job
        from rq.registry import ScheduledJobRegistry

        redis = self.app.extensions["hubwerk.redis"]()
        moved = 0
        for name in QUEUE_NAMES:
            queue = get_queue(name)
            registry = ScheduledJobRegistry(queue=queue)
            for job_id in registry.get_job_ids():
                job = Job.fetch(job_id, connection=redis)
                registry.remove(job)
                queue.enqueue_job(job)
                moved += 1
        self.work()
        return moved

    def fresh_budget(self) -> None:
        """Forget the connector's own and the HubSpot sandbox's rate-limit windows, so a measured step does not start with
        the budget the set-up spent (a spent budget defers runs, which splits their batches)."""
        redis = self.app.extensions["hubwerk.redis"]()
        for key in redis.scan_iter("hubwerk:ratelimit:*"):
            redis.delete(key)
        self.hubspot.set_limits()   # and HubSpot's own window (same limits, counted afresh)

    def settle(self, timeout: float = 60.0) -> None:
        """Work until no run is waiting: also the runs deferred by a spent HubSpot budget or a busy
        lock, which come back as RQ scheduled jobs (fast-forwarded here, the budget still applies)."""
        import time as _time

        from backend.extensions import db as _db
        from backend.models import SyncRun as _SyncRun

        deadline = _time.monotonic() + timeout
        while True:
            self.run_scheduled()
            _db.session.expire_all()
            waiting = _db.session.execute(_db.select(_db.func.count()).select_from(_SyncRun)
                                          .where(_SyncRun.status.in_(("queued", "running")))).scalar_one()
            if not waiting:
                return
            assert _time.monotonic() < deadline, f"{waiting} runs still waiting after {timeout} s"
            _time.sleep(0.5)

    def deliver(self) -> None:
        """Let the HubSpot sandbox deliver its webhooks, then process them."""
        assert self.hubspot.flush_webhooks(timeout=10)
        self.billwerk.flush_webhooks(timeout=10)
        self.work()

    def install(self, portal_id: int = 100001, password: str = "correct horse battery") -> Portal:
        """The admin's path: install -> HubSpot consent (auto-approved) -> callback -> password."""
        start = self.client.get("/oauth/hubspot/install")
        assert start.status_code == 302, start.get_data(as_text=True)
        authorize = urlsplit(start.headers["Location"])
        # The consent page: choose the portal, "Connect app" (a form POST with the same parameters).
        form = {k: v[0] for k, v in parse_qs(authorize.query).items()} | {"portal_id": str(portal_id)}
        consent = requests.post(f"{authorize.scheme}://{authorize.netloc}{authorize.path}", data=form, allow_redirects=False, timeout=10)
        assert consent.status_code in (302, 303), consent.text
        back = urlsplit(consent.headers["Location"])
        callback = self.client.get(f"{back.path}?{back.query}")
        assert callback.status_code == 302, callback.get_data(as_text=True)
        if "/setup/password" in callback.headers["Location"]:
            done = self.client.post("/setup/password", data={"password": password, "confirm": password})
            assert done.status_code == 302, done.get_data(as_text=True)
        self.work()  # property provisioning
        return db.session.execute(db.select(Portal).where(Portal.hub_id == portal_id)).scalar_one()

    def connect_billwerk(self, portal: Portal, entities=(ROOT_ENTITY, SUB_ENTITY)):
        from backend.setup.billwerk_connection import EntityInput, connect_billwerk

        account = connect_billwerk(portal, base_url=self.billwerk.base_url, client_id=BILLWERK_CLIENT_ID,
                                   client_secret=BILLWERK_CLIENT_SECRET,
                                   entities=[EntityInput(e, k, n) for e, k, n in entities])
        self.billwerk.register_webhook(f"{self.url}/api/webhook/billwerk/events", ["ContractCreated", "ContractChanged"],
                                       username=account.webhook_username, password=account.webhook_password)
        self.work()
        return account


class _Dispatch:
    """A WSGI app whose target is set after the server has its port (PUBLIC_BASE_URL needs it)."""

    target = None

    def __call__(self, environ, start_response):
        return self.target(environ, start_response)


@contextmanager
def serve_connector(settings, hubspot_sandbox, billwerk_sandbox, *, csrf: bool):
    """The connector app served on loopback, wired to both sandboxes, inside its app context."""
    dispatch = _Dispatch()
    server = ServerThread(dispatch).start()
    env = app_environ(
        settings.instance_path,
        DATABASE_URL=settings.database_url, REDIS_URL=settings.redis_url,
        PUBLIC_BASE_URL=server.url,
        HUBSPOT_API_BASE_URL=hubspot_sandbox.base_url,
        HUBSPOT_AUTHORIZE_URL=f"{hubspot_sandbox.base_url}/oauth/authorize",
        HUBSPOT_APP_BASE_URL=hubspot_sandbox.base_url,
        HUBSPOT_RATE_LIMIT="110/10s",
    )
    env["SECRET_KEY"] = settings.secret_key
    env["ENCRYPTION_KEYS"] = ",".join(settings.encryption_keys)
    connector_app = create_app(load_settings(env, instance_path=settings.instance_path), config={"TESTING": True, "WTF_CSRF_ENABLED": csrf})
    dispatch.target = connector_app
    hubspot_sandbox.set_webhook_target(f"{server.url}/api/webhook/hubspot/events")
    try:
        with connector_app.app_context():
            yield Connector(connector_app, server.url, hubspot_sandbox, billwerk_sandbox)
            db.session.remove()
    finally:
        server.stop()


@pytest.fixture
def connector(app, settings, hubspot_sandbox, billwerk_sandbox):
    """Forms are posted by the test client here: CSRF is off (tests/browser proves it on)."""
    with serve_connector(settings, hubspot_sandbox, billwerk_sandbox, csrf=False) as served:
        yield served


def query_of(url: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
