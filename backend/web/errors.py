"""JSON errors ``{"error", "message"}`` everywhere; never a stack trace."""
from __future__ import annotations

import logging
import re

from flask import Flask, g, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from backend.errors import HubwerkError

log = logging.getLogger("hubwerk.errors")


def _code(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _for_a_person() -> bool:
    """Admin pages and the install flow answer browsers with HTML; everything else is JSON."""
    return request.blueprint in ("admin", "oauth") and request.accept_mimetypes.accept_html


def init_app(app: Flask) -> None:
    @app.errorhandler(HubwerkError)
    def _hubwerk_error(exc: HubwerkError):
        if _for_a_person():
            return render_template("error.html", title="Something needs your attention", message=exc.message), exc.status
        return jsonify(exc.as_json()), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if _for_a_person():
            return render_template("error.html", title=exc.name, message=exc.description or exc.name), exc.code or 500
        response = jsonify(error=_code(exc.name), message=exc.description or exc.name)
        response.status_code = exc.code or 500
        for header in ("Allow", "WWW-Authenticate", "Retry-After"):
            if exc.get_response().headers.get(header):
                response.headers[header] = exc.get_response().headers[header]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("http.unhandled_error")
        if _for_a_person():
            return render_template("error.html", title="Something went wrong", message=f"Something went wrong on our side. Try again; if it keeps failing, contact support and quote request id {g.get('request_id', 'unknown')}."), 500
        return jsonify(
            error="internal_error",
            message=f"Something went wrong on our side. Try again; if it keeps failing, contact support and quote request id {g.get('request_id', 'unknown')}.",
        ), 500
