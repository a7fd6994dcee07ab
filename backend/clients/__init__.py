"""Outbound API clients: every call to HubSpot or billwerk goes through one of these.

``base`` holds the shared client (timeouts, retries, rate limiting) and the ``ApiError`` tree;
``ratelimit`` the Redis-backed limiter shared across processes; ``hubspot`` and ``billwerk``
the two providers.
"""
from backend.clients.base import (ApiError, AuthError, Conflict, Forbidden, NotFound, PreconditionFailed,  # noqa: F401
                                  RateLimited, ServerError, Unavailable, ValidationFailed)
