"""pytest fixture: a fresh billwerk sandbox served on loopback for each test."""
from __future__ import annotations

import socket
import threading

import pytest

from sandbox.server import ServerThread

from .sandbox import BillwerkSandbox


def stop_server(server: ServerThread) -> None:
    """Stop a ``ServerThread`` without waiting out werkzeug's 0.5 s accept-poll interval.

    ``stop()`` runs in a helper thread while we poke the listening socket, which wakes the
    accept loop so it notices the shutdown request at once.
    """
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    while stopper.is_alive():
        try:
            socket.create_connection((server.host, server.port), timeout=0.1).close()
        except OSError:
            pass
        stopper.join(0.01)


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
        stop_server(server)
