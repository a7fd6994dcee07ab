"""A rate limiter shared by every process through Redis: a sliding-window log in one Lua script.

HubSpot counts calls per installed portal, not per process, so web workers,
RQ workers and cron jobs of one portal must draw from one budget. Each slot is a member of a
sorted set scored with Redis' own clock (``TIME``), so processes with skewed clocks still
agree. ``acquire()`` blocks (through the injectable ``sleep``) until a slot is free.

The window is widened by a little slack: a slot is taken when the request *leaves*, HubSpot
counts it when it *arrives*, and two calls taken exactly one window apart can arrive less than
one window apart.

While Redis does not answer, each process keeps to a share of the budget on its own
(``OUTAGE_SHARE``, a window in memory): calls go on, slower, instead of failing, and however
many processes there are (Procfile: two web workers, a worker, the cron) they stay under the limit.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
import uuid
from typing import Callable

from redis.exceptions import RedisError

from backend.clients.waits import may_wait

log = logging.getLogger("hubwerk.clients.ratelimit")

#: The part of a budget one process takes while Redis is away.
OUTAGE_SHARE = 0.1

# KEYS[1] the sorted set; ARGV: calls, window in microseconds, member id.
# Returns 0 when a slot was taken, else the microseconds to wait until the oldest slot expires.
_SCRIPT = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(oldest[2]) + window - now
if wait < 1 then wait = 1 end
return wait
"""


class RateLimitTimeout(Exception):
    """No slot became free within ``max_wait_s`` (or the context's wait limit); ``retry_after``: when one will."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RedisRateLimiter:
    """At most ``calls`` slots per ``window_s`` for ``key``, across processes.

    >>> limiter = RedisRateLimiter(redis, "hubspot:12345", 110, 10.0)
    >>> limiter.acquire()          # waits when the portal's budget is spent
    """

    prefix = "hubwerk:ratelimit:"

    def __init__(self, redis, key: str, calls: int, window_s: float, *, slack_s: float | None = None,
                 max_wait_s: float = 120.0, sleep: Callable[[float], None] = time.sleep):
        if calls <= 0 or window_s <= 0:
            raise ValueError("calls and window_s must be positive")
        self.redis = redis
        self.key = self.prefix + key
        self.calls = int(calls)
        self.window_s = float(window_s)
        self.slack_s = max(0.25, 0.05 * window_s) if slack_s is None else float(slack_s)
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        self._script = redis.register_script(_SCRIPT)

    @property
    def effective_window_s(self) -> float:
        return self.window_s + self.slack_s

    def try_acquire(self) -> float:
        """Take a slot if one is free: returns 0.0, else the seconds until one frees up."""
        try:
            wait_us = self._script(keys=[self.key], args=[self.calls, int(self.effective_window_s * 1_000_000),
                                                          uuid.uuid4().hex])
        except (RedisError, OSError) as exc:
            return _outage_window(self.key, self.calls, self.effective_window_s, type(exc).__name__)
        if _outage_slots:
            _outage_over(self.key, self.effective_window_s)
        return int(wait_us) / 1_000_000

    def acquire(self) -> float:
        """Block until a slot is taken; returns the seconds waited."""
        waited = 0.0
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                if waited:
                    log.debug("client.ratelimit.waited", extra={"key": self.key, "waited_s": round(waited, 3)})
                return waited
            if waited + wait > self.max_wait_s or not may_wait(waited, wait):
                raise RateLimitTimeout(f"no slot free for {self.key} within the wait allowed here", retry_after=wait)
            # Sleep until the oldest slot expires (plus a hair), then compete for it again.
            wait = wait + 0.002
            self.sleep(wait)
            waited += wait

    def reset(self) -> None:
        self.redis.delete(self.key)


_outage_lock = threading.Lock()
_outage_slots: dict[str, collections.deque] = {}


def _outage_window(key: str, calls: int, window_s: float, error: str) -> float:
    """``try_acquire`` without Redis: this process's share of ``calls`` per ``window_s``, in memory."""
    share = max(1, int(calls * OUTAGE_SHARE))
    now = time.monotonic()
    with _outage_lock:
        slots = _outage_slots.get(key)
        if slots is None:
            slots = _outage_slots[key] = collections.deque()
            log.warning("client.ratelimit.redis_away", extra={"key": key, "calls": share, "window_s": window_s, "error": error})
        while slots and slots[0] <= now - window_s:
            slots.popleft()
        if len(slots) < share:
            slots.append(now)
            return 0.0
        return max(0.001, slots[0] + window_s - now)


def _outage_over(key: str, window_s: float) -> None:
    """Redis answered: the process's own window ends once its last slot is a window old, so a
    Redis that comes and goes does not open a fresh share at every failure."""
    with _outage_lock:
        slots = _outage_slots.get(key)
        if slots is not None and (not slots or slots[-1] <= time.monotonic() - window_s):
            del _outage_slots[key]
            log.warning("client.ratelimit.redis_back", extra={"key": key})


class Limiters:
    """Several limiters acquired in order (HubSpot search: the portal's window, then search's)."""

    def __init__(self, *limiters):
        self.limiters = [lim for lim in limiters if lim is not None]

    def acquire(self) -> float:
        return sum(lim.acquire() for lim in self.limiters)


__all__ = ["RedisRateLimiter", "RateLimitTimeout", "Limiters"]
