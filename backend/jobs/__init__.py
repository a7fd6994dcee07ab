"""Background work on RQ.

Queues, most urgent first: ``high`` (a rep clicked a card button, a workflow waits),
``default`` (webhooks), ``low`` (bulk imports, catalog syncs, housekeeping). Jobs take ids,
never payloads or ORM objects, and re-read the truth when they run.
"""
from __future__ import annotations

from flask import current_app
from rq import Queue

QUEUE_NAMES = ("high", "default", "low")


def redis_connection():
    return current_app.extensions["hubwerk.redis"]()


def get_queue(name: str = "default") -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_connection())
