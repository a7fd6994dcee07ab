"""Run a WSGI app on loopback in a background thread (tests, benchmarks, ``python -m sandbox``)."""
from __future__ import annotations

import threading

from werkzeug.serving import make_server


class ServerThread:
    """A threaded werkzeug server bound to 127.0.0.1.

    ``port=0`` asks the OS for a free port; ``url`` tells which one was taken.
    """

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, poll_interval: float = 0.01):
        self._server = make_server(host, port, app, threaded=True)
        self.host = host
        self.port = self._server.server_port
        # serve_forever notices a shutdown request only between polls; werkzeug's default 0.5 s
        # would make every test that serves an app half a second slower.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": poll_interval},
                                        name=f"sandbox-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "ServerThread":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
