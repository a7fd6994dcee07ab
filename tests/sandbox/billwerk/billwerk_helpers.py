"""Helpers for the billwerk sandbox tests: an API client, a webhook receiver, fixtures.

The test directory is not a package, so this module has a unique name (imported as
``billwerk_helpers``) and ``conftest.py`` re-exports its fixtures.
"""
from __future__ import annotations

import json
import pathlib
import threading
import time

import pytest
import requests
from flask import Flask, request

from sandbox.billwerk import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from sandbox.billwerk.testing import billwerk_sandbox  # noqa: F401  (the fixture under test)
from sandbox.server import ServerThread

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
ROOT = "5f0000000000000000000001"
UK = "5f0000000000000000000002"


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


class Api:
    """A thin billwerk client: fetches a token, sends JSON, never raises on HTTP errors."""

    def __init__(self, bw, client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET, entity=None):
        self.bw, self.base = bw, bw.base_url
        self.client_id, self.client_secret, self.entity = client_id, client_secret, entity
        self.session = requests.Session()
        self.token = None

    def fetch_token(self):
        r = self.session.post(f"{self.base}/oauth/token/", data={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret})
        assert r.status_code == 200, r.text
        self.token = r.json()["access_token"]
        return self.token

    def request(self, method, path, json_body=None, *, entity=None, headers=None, params=None, data=None):
        if self.token is None:
            self.fetch_token()
        h = {"Authorization": f"Bearer {self.token}"}
        ent = entity if entity is not None else self.entity
        if ent:
            h["X-SELECTED-LEGAL-ENTITY-ID"] = ent
        h.update(headers or {})
        return self.session.request(method, f"{self.base}/api/v1/{path.lstrip('/')}", json=json_body, data=data,
                                    headers=h, params=params, timeout=10)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class Receiver:
    """A webhook endpoint on loopback that records every POST and answers scripted statuses."""

    def __init__(self):
        self.hits: list[dict] = []
        self.statuses: list[int] = []        # consumed one per request; then 200
        self.decide = None                   # or: callable(payload) -> status
        self._lock = threading.Lock()
        app = Flask("receiver")

        @app.post("/hook")
        @app.post("/moved")
        def hook():
            with self._lock:
                self.hits.append({"json": request.get_json(silent=True), "headers": dict(request.headers),
                                  "t": time.monotonic(), "path": request.path,
                                  "auth": (request.authorization.username, request.authorization.password)
                                  if request.authorization else None})
                if self.decide is not None:
                    status = self.decide(self.hits[-1]["json"])
                else:
                    status = self.statuses.pop(0) if self.statuses else 200
            return "", status

        @app.post("/redirect")
        def redirect():
            return "", 301, {"Location": "/moved"}

        self.server = ServerThread(app).start()
        self.url = f"{self.server.url}/hook"

    def payloads(self, event=None):
        with self._lock:
            return [h["json"] for h in self.hits if event is None or h["json"]["Event"] == event]


@pytest.fixture
def bw(billwerk_sandbox):
    return billwerk_sandbox


@pytest.fixture
def api(bw):
    return Api(bw)


@pytest.fixture
def seeded(bw):
    bw.seed()
    return bw


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.server.stop()


def first(items, **match):
    for it in items:
        if all(it.get(k) == v for k, v in match.items()):
            return it
    raise AssertionError(f"nothing matches {match}")


def signup_variant(api, allow=True):
    """A visible, non-trial plan variant of the selected entity."""
    variants = api.get("planVariants", params={"take": 500}).json()
    return first([v for v in variants if not v["Hidden"] and not v.get("TrialPeriod")],
                 AllowWithoutPaymentData=allow)


def components_of(api, group_id, ctype=None):
    comps = api.get("components", params={"take": 500}).json()
    return [c for c in comps if c["PlanGroupId"] == group_id and (ctype is None or c["ComponentType"] == ctype)]


def new_customer_body(**over):
    body = {"CompanyName": "ACME Inc.", "FirstName": "John", "LastName": "Doe", "EmailAddress": "john.doe@example.com",
            "ExternalCustomerId": "hs-4711",
            "Address": {"Street": "Zschopauer Straße", "HouseNumber": "42", "PostalCode": "10123", "City": "Berlin",
                        "Country": "DE"}}
    body.update(over)
    return body


def signup(api, variant=None, customer=None, cart=None, **extra):
    """Create and commit a signup order; returns (order, contract)."""
    variant = variant or signup_variant(api)
    body = {"Cart": {"PlanVariantId": variant["Id"], **(cart or {})}, **extra}
    if "CustomerId" not in extra:
        body["Customer"] = customer or new_customer_body()
    r = api.post("Orders", body)
    assert r.status_code == 201, r.text
    order = r.json()
    r = api.post(f"Orders/{order['Id']}/commit", {})
    assert r.status_code == 200, r.text
    return order, r.json()
