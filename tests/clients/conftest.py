"""Fixtures for the client tests: a portal with sandbox tokens, and clients whose sleeps are
recorded (and move the sandbox clock) instead of waiting. ``hubspot_sandbox`` and
``billwerk_sandbox`` come from ``sandbox/pytest_plugin.py``."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from backend.clients.billwerk import BillwerkClient
from backend.clients.hubspot import HubSpotClient
from backend.extensions import db
from backend.models import Portal
from sandbox.billwerk import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_ENTITIES

#: Limits high enough that tests which are not about rate limiting never wait.
NO_LIMIT = (100_000, 1.0)


class Sleeps(list):
    """Records every sleep; optionally moves a sandbox clock by the same amount."""

    def __init__(self):
        super().__init__()
        self.advance = None

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        if self.advance is not None:
            self.advance(seconds)


@pytest.fixture
def sleeps():
    return Sleeps()


@pytest.fixture
def hs_settings(settings, hubspot_sandbox):
    return dataclasses.replace(settings, hubspot_api_base_url=hubspot_sandbox.base_url)


def make_portal(hubspot_sandbox, expires_in: float | None = None, portal_id: int | None = None) -> Portal:
    tokens = hubspot_sandbox.issue_tokens(portal_id or hubspot_sandbox.default_portal_id)
    lifetime = tokens["expires_in"] if expires_in is None else expires_in
    portal = Portal(hub_id=tokens["hub_id"], status="active", scopes=tokens["scopes"],
                    access_token=tokens["access_token"], refresh_token=tokens["refresh_token"],
                    access_token_expires_at=datetime.now(timezone.utc) + timedelta(seconds=lifetime))
    db.session.add(portal)
    db.session.commit()
    return portal


@pytest.fixture
def portal(ctx, hubspot_sandbox):
    return make_portal(hubspot_sandbox)


@pytest.fixture
def make_hubspot(hs_settings, redis, sleeps, hubspot_sandbox):
    """``make_hubspot(portal, **kw)``: a HubSpotClient on the sandbox, sleeping into ``sleeps``."""
    sleeps.advance = hubspot_sandbox.advance_time

    def make(portal, **kw):
        kw.setdefault("rate_limit", NO_LIMIT)
        kw.setdefault("search_rate", NO_LIMIT)
        kw.setdefault("sleep", sleeps)
        return HubSpotClient(portal.id if isinstance(portal, Portal) else portal, settings=hs_settings, redis=redis, **kw)

    return make


@pytest.fixture
def hubspot(make_hubspot, portal):
    return make_hubspot(portal)


@pytest.fixture
def make_billwerk(billwerk_sandbox, sleeps):
    sleeps.advance = billwerk_sandbox.advance_clock

    def make(client_id=DEFAULT_CLIENT_ID, client_secret=DEFAULT_CLIENT_SECRET, **kw):
        kw.setdefault("sleep", sleeps)
        return BillwerkClient(billwerk_sandbox.base_url, client_id, client_secret, **kw)

    return make


@pytest.fixture
def billwerk(make_billwerk):
    return make_billwerk()


ROOT_ENTITY = DEFAULT_ENTITIES[0]["id"]
UK_ENTITY = DEFAULT_ENTITIES[1]["id"]


def calls(sandbox, path_prefix: str, method: str | None = None) -> list[dict]:
    """The sandbox's call log entries under ``path_prefix`` (case-insensitive)."""
    prefix = path_prefix.lower()
    return [c for c in sandbox.calls if c["path"].lower().startswith(prefix)
            and (method is None or c["method"] == method.upper())]
