"""Per-portal rate limits: the rolling ten-second window and the search "secondly" limit.

Both are sliding windows over the sandbox clock. The main window counts every authenticated
API call of a portal (search included); search calls are additionally limited to
``search_rate_per_s`` per second per portal.
"""
from __future__ import annotations

import threading
from collections import defaultdict, deque

from .errors import ApiError


class SlidingWindow:
    def __init__(self) -> None:
        self._hits: dict[int, deque] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: int, now: float, limit: int, window_s: float) -> tuple[bool, int]:
        """Record a call if allowed; returns (allowed, remaining)."""
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - window_s:
                hits.popleft()
            if len(hits) >= limit:
                return False, 0
            hits.append(now)
            return True, limit - len(hits)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


def rate_limit_error(limit: int, window_s: float) -> ApiError:
    return ApiError(429, "You have reached your ten_secondly_rolling limit.", "RATE_LIMITS",
                    errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING",
                    headers={"Retry-After": str(max(1, int(round(window_s)))),
                             "X-HubSpot-RateLimit-Max": str(limit), "X-HubSpot-RateLimit-Remaining": "0",
                             "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(window_s * 1000))})


def search_limit_error() -> ApiError:
    return ApiError(429, "You have reached your secondly limit.", "RATE_LIMITS",
                    errorType="RATE_LIMIT", policyName="SECONDLY", headers={"Retry-After": "1"})
