"""The Flask application: routing, the request pipeline and the call log.

Pipeline of every public request (``/api/v1/…``, ``/oauth/token``, ``/download/…``):

1. path normalisation (WSGI middleware): ``/api/…`` and ``/oauth/…`` paths are matched
   case-insensitively and with or without a trailing slash;
2. injected faults (delay and/or status);
3. for ``/api/v1``: bearer token → 401, rate limit → 429 (or 403), ``X-SELECTED-LEGAL-ENTITY-ID``
   → 403;
4. the endpoint;
5. ``X-RateLimit-Limit`` / ``X-RateLimit-Remaining`` headers and one call-log entry
   ``{method, path, query, status, entity_id, ts[, batch_size]}`` (``batch_size`` = length of a
   list response; ``path`` as the client sent it).

The control API under ``/_sandbox`` bypasses all of it (no auth, no log, no faults).
"""
from __future__ import annotations

import time

from flask import Flask, g, request

from . import auth, catalog, contracts, control, custom_fields, customers, invoices, orders, webhooks
from .errors import ApiError, json_response, register_error_handlers


class _NormalizePath:
    """Lower-case and strip the trailing slash of API and OAuth paths before routing."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        environ["billwerk.original_path"] = path
        lower = path.lower()
        if lower.startswith(("/api/", "/oauth/")):
            environ["PATH_INFO"] = lower.rstrip("/") or "/"
        return self.wsgi_app(environ, start_response)


def _kind(path: str) -> str:
    if path.startswith("/_sandbox"):
        return "control"
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/oauth/"):
        return "oauth"
    if path.startswith("/download/"):
        return "download"
    return "other"


def create_app(sb) -> Flask:
    app = Flask("sandbox.billwerk")
    app.json.sort_keys = False
    app.extensions["billwerk_sandbox"] = sb
    app.wsgi_app = _NormalizePath(app.wsgi_app)
    register_error_handlers(app)
    for module in (auth, customers, contracts, orders, catalog, invoices, webhooks, custom_fields, control):
        app.register_blueprint(module.bp)

    @app.before_request
    def _pipeline():
        g.kind = _kind(request.path)
        g.account = None
        g.entity_id = None
        g.batch_size = None
        g.rate = None
        if g.kind in ("control", "other"):
            return None
        fault = sb.faults.take(request.method, request.path)
        if fault:
            if fault["delay_s"]:
                time.sleep(fault["delay_s"])
            if fault["status"]:
                headers = dict(fault["headers"])
                if fault["status"] == 429:
                    headers.setdefault("X-RateLimit-Limit", str(sb.limiter.limit))
                    headers.setdefault("X-RateLimit-Remaining", "0")
                body = fault["body"] if fault["body"] is not None else {"Message": "Injected fault"}
                return json_response(body, fault["status"], headers)
        if g.kind != "api":
            return None
        account = auth.authenticate(sb)
        g.account = account
        decision = sb.limiter.hit(account.client_id)
        g.rate = decision
        if not decision.allowed:
            if sb.limiter.style == "403":
                raise ApiError(403, "rate limit exceeded")
            raise ApiError(429, f"API calls quota exceeded! Maximum admitted {decision.limit} per "
                                f"{int(sb.limiter.window_s)}s.")
        g.entity_id = auth.select_entity(account)
        return None

    @app.after_request
    def _finish(response):
        kind = getattr(g, "kind", _kind(request.path))
        rate = getattr(g, "rate", None)
        if rate is not None:
            response.headers["X-RateLimit-Limit"] = str(rate.limit)
            response.headers["X-RateLimit-Remaining"] = str(rate.remaining)
        if kind in ("api", "oauth", "download"):
            entry = {
                "method": request.method,
                "path": request.environ.get("billwerk.original_path", request.path),
                "query": {k: v for k, v in request.args.items()},
                "status": response.status_code,
                "entity_id": getattr(g, "entity_id", None),
                "ts": sb.clock(),
            }
            if getattr(g, "batch_size", None) is not None:
                entry["batch_size"] = g.batch_size
            sb.log_call(entry)
        return response

    return app
