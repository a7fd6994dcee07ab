"""Fault injection for the public endpoints (API, token, downloads) — never the control API.

A fault matches requests by ``path_prefix`` (case-insensitive, e.g. ``/api/v1/orders``) and
``method`` (omit for any) and applies ``times`` times (default 1; ``null`` or ``0`` = until
cleared). It can delay the request (``delay_s``, to provoke client timeouts), answer a status
(``status`` with ``{"Message": "Injected fault"}`` or the given ``body``), or both. A 429 fault
also carries ``X-RateLimit-Limit`` and ``X-RateLimit-Remaining: 0``.
"""
from __future__ import annotations

import itertools
import threading


class FaultInjector:
    def __init__(self):
        self._lock = threading.Lock()
        self._faults: list[dict] = []
        self._ids = itertools.count(1)

    def add(self, path_prefix: str = "/", method: str | None = None, status: int | None = None, times: int | None = 1,
            delay_s: float = 0.0, body=None, headers: dict | None = None) -> dict:
        if status is None and not delay_s:
            raise ValueError("a fault needs a status and/or delay_s")
        fault = {"id": next(self._ids), "path_prefix": path_prefix.lower().rstrip("/") or "/",
                 "method": method.upper() if method else None, "status": int(status) if status else None,
                 "times": int(times) if times else None, "delay_s": float(delay_s or 0), "body": body,
                 "headers": dict(headers or {}), "hits": 0}
        with self._lock:
            self._faults.append(fault)
        return dict(fault)

    def take(self, method: str, path: str) -> dict | None:
        """The first fault matching the request (consuming one of its ``times``)."""
        lpath = path.lower()
        with self._lock:
            for fault in self._faults:
                if fault["method"] and fault["method"] != method.upper():
                    continue
                if not lpath.startswith(fault["path_prefix"]):
                    continue
                fault["hits"] += 1
                if fault["times"] is not None:
                    fault["times"] -= 1
                    if fault["times"] <= 0:
                        self._faults.remove(fault)
                return dict(fault)
        return None

    def list(self) -> list[dict]:
        with self._lock:
            return [dict(f) for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
