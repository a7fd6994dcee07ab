"""A request id on every request (taken from ``X-Request-Id`` when sane) and one log line per request."""
from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request

log = logging.getLogger("hubwerk.http")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def init_app(app: Flask) -> None:
    @app.before_request
    def _start():
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        started = g.get("request_started")
        # The path only: query strings can carry e-mail addresses and OAuth codes.
        log.info(
            "http.request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            },
        )
        return response
