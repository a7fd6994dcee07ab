"""Locks that know their holder: a Redis key that the holding process keeps alive.

A :class:`Lease` lives ``LEASE_S`` seconds unless renewed; one keeper thread per process renews
every lease the process holds every ``RENEW_EVERY_S``. While the job lives its locks live (however
long it takes); when its process dies (``kill -9``, a lost machine) they are gone within
``LEASE_S``. The value names the holder (``run-42:…``), so the cron can tell that a run which says
*running* has lost its holder. A key that vanished (Redis restarted) is taken again by the keeper
if nobody else took it meanwhile.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid

from redis.exceptions import RedisError

from backend.errors import HubwerkError

log = logging.getLogger(__name__)

LEASE_S = 30.0
RENEW_EVERY_S = 10.0

# Renew when still ours; take it again when it vanished (Redis restarted); 0 when another holds it.
_RENEW = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class LockBusy(HubwerkError):
    """Another live process holds the lock: try again in a moment (the run goes back to the queue)."""

    code = "busy"
    status = 409
    retriable = True

    def __init__(self, message: str, retry_after: float = 10.0):
        super().__init__(message, retriable=True)
        self.retry_after = retry_after


class Lease:
    def __init__(self, redis, name: str, *, owner: str = "lock", ttl_s: float = LEASE_S):
        self.redis = redis
        self.name = name
        self.token = f"{owner}:{uuid.uuid4().hex}"
        self.ttl_ms = int(ttl_s * 1000)
        self.held = False

    def acquire(self, wait_s: float = 0.0, poll_s: float = 0.2, blocking: bool | None = None) -> bool:
        """Take the lock, waiting up to ``wait_s`` for its holder to let go (``blocking=False``: no wait)."""
        if blocking is False:
            wait_s = 0.0
        deadline = time.monotonic() + wait_s
        while True:
            if self.redis.set(self.name, self.token, nx=True, px=self.ttl_ms):
                self.held = True
                _keeper().add(self)
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(poll_s, max(0.01, deadline - time.monotonic())))

    def renew(self) -> bool:
        """Keep the lock (take it again if it vanished); False while another holds it. Its loss is
        logged once, not at every renewal; ``held`` says what the last renewal found."""
        ok = bool(self.redis.eval(_RENEW, 1, self.name, self.token, self.ttl_ms))
        if not ok and self.held:
            log.warning("lease.lost", extra={"lock": self.name})
        self.held = ok
        return ok

    def release(self) -> None:
        _keeper().discard(self)
        if self.held:
            self.held = False
            try:
                self.redis.eval(_RELEASE, 1, self.name, self.token)
            except RedisError:  # it expires by itself within LEASE_S
                log.warning("lease.release_failed", extra={"lock": self.name})

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def holder(redis, name: str) -> str | None:
    """Who holds ``name`` now (the owner part of its token), or ``None``."""
    value = redis.get(name)
    if value is None:
        return None
    return (value.decode() if isinstance(value, bytes) else str(value)).split(":", 1)[0]


class _Keeper:
    """One daemon thread per process (a forked work horse starts its own) renewing held leases."""

    def __init__(self):
        self.pid = os.getpid()
        self.leases: set[Lease] = set()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name="hubwerk-lease-keeper", daemon=True)
        self.thread.start()

    def add(self, lease: Lease) -> None:
        with self.lock:
            self.leases.add(lease)

    def discard(self, lease: Lease) -> None:
        with self.lock:
            self.leases.discard(lease)

    def renew_all(self) -> None:
        with self.lock:
            leases = list(self.leases)
        for lease in leases:
            try:
                lease.renew()
            except RedisError as exc:
                log.warning("lease.renew_failed", extra={"lock": lease.name, "error": type(exc).__name__})

    def _loop(self) -> None:
        while True:
            time.sleep(RENEW_EVERY_S)
            self.renew_all()


_keeper_instance: _Keeper | None = None
_keeper_guard = threading.Lock()


def _keeper() -> _Keeper:
    global _keeper_instance
    with _keeper_guard:
        if _keeper_instance is None or _keeper_instance.pid != os.getpid():
            _keeper_instance = _Keeper()
        return _keeper_instance
