"""pytest fixture: a fresh billwerk sandbox served on loopback for each test."""
from __future__ import annotations

import pytest

from sandbox.server import ServerThread

from .sandbox import BillwerkSandbox


@pytest.fixture
def billwerk_sandbox():
    """A ``BillwerkSandbox`` with default settings, served on 127.0.0.1; ``base_url`` is set.

    Webhook retries use a 10 ms base delay and a 2 s timeout so tests never wait for them.
    Teardown stops the server and the webhook sender thread.
    """
    bw = BillwerkSandbox(webhook_retry_base_s=0.01, webhook_timeout_s=2.0)
    server = ServerThread(bw.app).start()
    bw.base_url = server.url
    try:
        yield bw
    finally:
        bw.stop()
        server.stop()
