from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from backend.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    parts = {"database": _check(lambda: db.session.execute(text("SELECT 1"))), "redis": _check(lambda: current_app.extensions["hubwerk.redis"]().ping())}
    healthy = all(v == "ok" for v in parts.values())
    return jsonify(status="ok" if healthy else "error", **parts), 200 if healthy else 503


def _check(probe) -> str:
    try:
        probe()
        return "ok"
    except Exception as exc:  # the point of a health check: report, never raise
        current_app.logger.warning("health.check_failed", extra={"error_type": type(exc).__name__})
        return f"down: {type(exc).__name__}"
