"""SQLite writers take turns through a lock file instead of SQLite's busy handler.

On the embedded default every process (gunicorn's workers and their threads, the worker, the
cron) writes the same database file. SQLite lets one writer in at a time and makes the others
wait in its busy handler, which sleeps 1, 2, 5, 10 … up to 100 ms between tries: under a storm of
webhooks a delivery whose insert lost a few times waits hundreds of milliseconds (seen: p99 188 ms,
max 1.7 s for a 3 ms request). Here a connection takes an ``flock`` on ``<database>-writelock``
before its first ``INSERT``/``UPDATE``/``DELETE`` and lets go once its transaction is committed or
rolled back — the same span as SQLite's own write lock — polling at most every millisecond, so
writers follow each other within a millisecond of the commit before them.

SQLite's own locking is untouched (it still guards correctness, and the busy timeout still applies
to anyone not taking turns); a writer that waited ``WAIT_S`` goes on without its turn.
Each connection has its own open file (``flock`` excludes open files, so threads exclude each other
too); closing a connection closes its file and with it any turn it held.
"""
from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

WAIT_S = 30.0                 # as the busy timeout
_POLL_MAX_S = 0.001
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")
_FD, _HELD = "hubwerk_write_fd", "hubwerk_write_held"


def _lock_path(dbapi_connection: sqlite3.Connection) -> str | None:
    rows = dbapi_connection.execute("PRAGMA database_list").fetchall()
    path = next((row[2] for row in rows if row[1] == "main"), "")
    return f"{path}-writelock" if path else None   # an in-memory database has nobody to take turns with


@event.listens_for(Engine, "connect")
def _open_lock(dbapi_connection, record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    path = _lock_path(dbapi_connection)
    if path:
        record.info[_FD] = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


@event.listens_for(Engine, "close")
def _close_lock(dbapi_connection, record) -> None:
    fd = record.info.pop(_FD, None)
    record.info.pop(_HELD, None)
    if fd is not None:
        try:
            os.close(fd)   # lets go of a turn still held
        except OSError:
            pass


@event.listens_for(Engine, "engine_connect")
def _wrap_dialect(connection) -> None:
    """Once per SQLite dialect: release the turn after the driver's commit and rollback (also the
    rollback of a connection returned to the pool)."""
    dialect = connection.dialect
    if dialect.name != "sqlite" or getattr(dialect, "_hubwerk_turns", False):
        return
    commit, rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection):
        try:
            commit(dbapi_connection)
        finally:
            _release(dbapi_connection)

    def do_rollback(dbapi_connection):
        try:
            rollback(dbapi_connection)
        finally:
            _release(dbapi_connection)

    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback
    dialect._hubwerk_turns = True


@event.listens_for(Engine, "before_cursor_execute")
def _take_turn(connection, cursor, statement, parameters, context, executemany) -> None:
    if connection.dialect.name != "sqlite" or statement.lstrip()[:6].upper() not in _WRITES:
        return
    info = connection.connection.info
    fd = info.get(_FD)
    if fd is None or info.get(_HELD):
        return
    deadline = time.monotonic() + WAIT_S
    delay = 0.0001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            info[_HELD] = True
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                # Go on to SQLite's own lock; the rest of this transaction does not wait again.
                log.warning("sqlite.write_turn.timeout", extra={"waited_s": WAIT_S})
                info[_HELD] = True
                return
            time.sleep(delay)
            delay = min(delay * 2, _POLL_MAX_S)


def _release(fairy) -> None:
    info = getattr(fairy, "info", None)
    if info is None or not info.pop(_HELD, False):
        return
    fd = info.get(_FD)
    if fd is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError:
            pass
