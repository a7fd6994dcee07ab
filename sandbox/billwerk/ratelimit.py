"""Per-account request budget with billwerk's headers.

billwerk documents ``X-RateLimit-Limit: 10000`` / ``X-RateLimit-Remaining: 9954`` and a 429 with
``X-RateLimit-Remaining: 0`` when exceeded; the window is [NF]. The sandbox uses a fixed window
(default 10,000 requests per hour) counted per OAuth client, so two tenants never share a budget.
``style="403"`` answers the variant billwerk's Ruby client also treats as rate limiting:
403 with ``{"Message": "rate limit exceeded"}``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Decision:
    allowed: bool
    limit: int
    remaining: int


class RateLimiter:
    def __init__(self, limit: int, window_s: float, clock, style: str = "429"):
        self._lock = threading.Lock()
        self._clock = clock
        self.configure(limit=limit, window_s=window_s, style=style)

    def configure(self, limit: int | None = None, window_s: float | None = None, style: str | None = None) -> None:
        with self._lock:
            if limit is not None:
                self.limit = int(limit)
            if window_s is not None:
                self.window_s = float(window_s)
            if style is not None:
                if str(style) not in ("429", "403"):
                    raise ValueError("style must be '429' or '403'")
                self.style = str(style)
            self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> Decision:
        """Count one request for ``key``; refuse it when the window's budget is spent."""
        with self._lock:
            now = self._clock()
            start, used = self._windows.get(key, (now, 0))
            if now - start >= self.window_s:
                start, used = now, 0
            if used >= self.limit:
                self._windows[key] = (start, used)
                return Decision(False, self.limit, 0)
            used += 1
            self._windows[key] = (start, used)
            return Decision(True, self.limit, self.limit - used)
