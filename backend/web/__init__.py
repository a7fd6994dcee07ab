"""HTTP: thin blueprints that verify, parse, call a flow and answer."""
from __future__ import annotations

from flask import Flask


def register_web(app: Flask) -> None:
    from backend.web import errors, health, requests_log

    requests_log.init_app(app)
    errors.init_app(app)
    app.register_blueprint(health.bp)
