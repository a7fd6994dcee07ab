"""Engine options and the startup check that turns an unreachable database into one clear line."""
from __future__ import annotations

import sqlite3

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from backend import sqlite_writes  # noqa: F401 — SQLite writers take turns (listeners on every Engine)
from backend.config import ConfigError


def engine_options(database_url: str) -> dict:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # web, worker and cron share the file: wait for a lock instead of failing at once.
        return {"connect_args": {"timeout": 30}}
    return {"pool_pre_ping": True, "pool_recycle": 1800, "connect_args": {"connect_timeout": 5}}


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # WAL with synchronous=NORMAL: a commit is written to the WAL file before it returns, so no
        # crash of a connector process loses a stored delivery; only a power loss or kernel crash of the
        # machine can lose the last commits before the next checkpoint (SQLite's documented trade-off,
        # also Rails' production default). FULL would fsync every commit while holding the one write
        # lock: 0.36 ms per commit here, which capped a webhook storm at ~300 answers/s. PostgreSQL
        # (production) keeps its own, fully synchronous commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def check_database(engine, database_url: str) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        shown = make_url(database_url).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0][:200]
        raise ConfigError("DATABASE_URL", f"cannot connect to {shown}: {reason}") from None
    finally:
        # Processes fork after startup (gunicorn, RQ): no connection may be inherited.
        engine.dispose()
