"""JSON errors ``{"error", "message"}`` everywhere; never a stack trace."""
from __future__ import annotations

import logging
import re

from flask import Flask, g, jsonify, render_template, request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from werkzeug.exceptions import HTTPException

from backend.errors import HubwerkError

log = logging.getLogger("hubwerk.errors")


def _code(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# Paths of the machine-to-machine endpoints (webhooks, cards, workflow actions, health): always JSON.
_MACHINE_PATHS = ("/api/", "/healthz")


def _for_a_person() -> bool:
    """Admin pages, the install flow and any unknown page a browser asks for answer with HTML;
    the machine endpoints (and clients that do not accept HTML) get JSON."""
    if not request.accept_mimetypes.accept_html or request.accept_mimetypes.best == "application/json":
        return False
    if request.blueprint in ("admin", "oauth"):
        return True
    return request.url_rule is None and not request.path.startswith(_MACHINE_PATHS)


def _show_navigation() -> None:
    """An error page outside the admin views (an unknown path) still shows a logged-in admin the way on."""
    if g.get("portal") is None:
        from backend.setup.account import current_portal

        try:
            g.portal = current_portal()
        except Exception:  # the database may be what failed; the page must render anyway
            g.portal = None


def init_app(app: Flask) -> None:
    @app.errorhandler(HubwerkError)
    def _hubwerk_error(exc: HubwerkError):
        if _for_a_person():
            return render_template("error.html", title="Something needs your attention", message=exc.message), exc.status
        return jsonify(exc.as_json()), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if _for_a_person():
            _show_navigation()
            title, message = exc.name, exc.description or exc.name
            if exc.code == 404 and request.url_rule is None:
                title, message = "Page not found", f"There is no page at {request.path}. The overview links to every page of the connector."
            return render_template("error.html", title=title, message=message), exc.code or 500
        response = jsonify(error=_code(exc.name), message=exc.description or exc.name)
        response.status_code = exc.code or 500
        for header in ("Allow", "WWW-Authenticate", "Retry-After"):
            if exc.get_response().headers.get(header):
                response.headers[header] = exc.get_response().headers[header]
        return response

    @app.errorhandler(RedisConnectionError)
    @app.errorhandler(RedisTimeoutError)
    def _redis_away(exc: Exception):
        # What needs Redis here (locks, the job queue) cannot be done now; what could be stored is.
        log.warning("http.redis_unavailable", extra={"error": type(exc).__name__, "path": request.path}, exc_info=exc)
        message = ("The connector cannot reach its Redis (job queue and locks) right now. Try again in a minute; "
                   f"if it keeps failing, an operator should check Redis (REDIS_URL). Request id {g.get('request_id', 'unknown')}.")
        if _for_a_person():
            _show_navigation()
            return render_template("error.html", title="Temporarily unavailable", message=message), 503, {"Retry-After": "30"}
        return jsonify(error="redis_unavailable", message=message), 503, {"Retry-After": "30"}

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("http.unhandled_error")
        if _for_a_person():
            return render_template("error.html", title="Something went wrong", message=f"Something went wrong on our side. Try again; if it keeps failing, contact support and quote request id {g.get('request_id', 'unknown')}."), 500
        return jsonify(
            error="internal_error",
            message=f"Something went wrong on our side. Try again; if it keeps failing, contact support and quote request id {g.get('request_id', 'unknown')}.",
        ), 500
