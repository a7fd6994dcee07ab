"""pytest support: the ``hubspot_sandbox`` fixture (function scope).

It builds a fresh :class:`HubSpotSandbox`, serves it on loopback with
:class:`sandbox.server.ServerThread`, sets ``base_url``, yields it, then stops the server and
the webhook thread. Fast webhook retries are the default (``webhook_backoff_s=0.05``).
"""
from __future__ import annotations

import threading

import pytest

from sandbox.server import ServerThread

from .core import HubSpotSandbox


def fast_server(app) -> ServerThread:
    """A started :class:`ServerThread` whose shutdown takes milliseconds, not 0.5 s.

    ``serve_forever`` polls for shutdown every 0.5 s by default, which would dominate a suite
    of short tests; this runs it with a 10 ms poll interval.
    """
    server = ServerThread(app)
    server._thread = threading.Thread(target=server._server.serve_forever, kwargs={"poll_interval": 0.01},
                                      name=f"sandbox-{server.port}", daemon=True)
    return server.start()


@pytest.fixture
def hubspot_sandbox():
    hs = HubSpotSandbox()
    server = fast_server(hs.app)
    hs.base_url = server.url
    try:
        yield hs
    finally:
        server.stop()
        hs.close()
