"""Fixtures for the HubSpot sandbox suite."""
from __future__ import annotations

import json
import threading

import pytest
import requests
from flask import Flask, request

from sandbox.hubspot.testing import hubspot_sandbox  # noqa: F401  (the fixture under test)
from sandbox.server import ServerThread


class Api:
    """A tiny bearer-token client for the sandbox (the SDK has its own tests)."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def __call__(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 10)
        return self.session.request(method, self.base_url + path, **kw)

    def get(self, path, **kw):
        return self("GET", path, **kw)

    def post(self, path, **kw):
        return self("POST", path, **kw)

    def patch(self, path, **kw):
        return self("PATCH", path, **kw)

    def put(self, path, **kw):
        return self("PUT", path, **kw)

    def delete(self, path, **kw):
        return self("DELETE", path, **kw)


@pytest.fixture
def tokens(hubspot_sandbox):
    return hubspot_sandbox.issue_tokens(hubspot_sandbox.default_portal_id)


@pytest.fixture
def api(hubspot_sandbox, tokens):
    client = Api(hubspot_sandbox.base_url, tokens["access_token"])
    yield client
    client.session.close()


class Receiver:
    """A webhook/app backend on loopback that records requests and answers as told."""

    def __init__(self):
        self.requests: list[dict] = []
        self.statuses: list[int] = []     # answers to give, in order; then 200
        self.response_body: dict | None = None
        self.lock = threading.Lock()
        app = Flask("receiver")

        @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        def catch(path):
            with self.lock:
                self.requests.append({"method": request.method, "path": "/" + path, "url": request.url,
                                      "query": request.query_string.decode(), "headers": dict(request.headers),
                                      "body": request.get_data()})
                status = self.statuses.pop(0) if self.statuses else 200
            return json.dumps(self.response_body or {}), status, {"Content-Type": "application/json"}

        self.server = ServerThread(app).start()
        self.url = self.server.url

    def events(self) -> list[dict]:
        return [e for r in self.requests if r["path"] == "/webhooks" for e in json.loads(r["body"])]


@pytest.fixture
def receiver():
    rec = Receiver()
    yield rec
    rec.server.stop()
