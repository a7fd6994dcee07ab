"""The Flask app inside worker processes: created once, inherited by RQ's forked work horses."""
from __future__ import annotations

from contextlib import contextmanager, nullcontext

from flask import Flask, has_app_context

_app: Flask | None = None


def set_app(app: Flask) -> None:
    global _app
    _app = app


def app_context():
    """An app context for a job: the caller's if there is one (tests, ``--foreground``), else the worker's."""
    if has_app_context():
        return nullcontext()
    global _app
    if _app is None:
        from backend import create_app

        _app = create_app()
    return _fresh_connections(_app)


@contextmanager
def _fresh_connections(app: Flask):
    with app.app_context():
        from backend.extensions import db

        # A forked work horse must not reuse database connections opened by its parent.
        db.engine.dispose(close=False)
        try:
            yield
        finally:
            db.session.remove()
