"""pytest support: the ``hubspot_sandbox`` fixture (function scope).

It builds a fresh :class:`HubSpotSandbox`, serves it on loopback with
:class:`sandbox.server.ServerThread`, sets ``base_url``, yields it, then stops the server and
the webhook thread. Fast webhook retries are the default (``webhook_backoff_s=0.05``).
"""
from __future__ import annotations

import pytest

from sandbox.server import ServerThread

from .core import HubSpotSandbox


@pytest.fixture
def hubspot_sandbox():
    hs = HubSpotSandbox()
    server = ServerThread(hs.app).start()
    hs.base_url = server.url
    try:
        yield hs
    finally:
        server.stop()
        hs.close()
