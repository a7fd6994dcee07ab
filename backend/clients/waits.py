"""How long an API call may sleep for its retries in the current context.

Unlimited by default (the CLI, a web request waiting for its answer). A job in a worker sets a
short limit (:func:`short_waits`): a call that would sleep longer raises its retriable error
instead (``RateLimited`` with ``retry_after``), and the job layer puts the run back on the queue
as an RQ scheduled job, so one slow or rate-limited portal cannot occupy every worker.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

_limit: ContextVar[float | None] = ContextVar("hubwerk_call_wait_limit", default=None)


def wait_limit() -> float | None:
    return _limit.get()


def may_wait(already_s: float, more_s: float) -> bool:
    limit = _limit.get()
    return limit is None or already_s + more_s <= limit


@contextmanager
def short_waits(limit_s: float):
    token = _limit.set(limit_s)
    try:
        yield
    finally:
        _limit.reset(token)
