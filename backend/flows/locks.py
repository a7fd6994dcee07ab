"""Locks across processes (Redis) on the objects flows must never handle twice at once."""
from __future__ import annotations

from flask import current_app

COMPANY_LOCK_S = 10 * 60  # outlasts a billwerk call with all its retries


def company_lock(portal, company_id: str):
    """One import or link of a company at a time: no second worker gets past it while the first is
    still finding or creating the billwerk customer."""
    redis = current_app.extensions["hubwerk.redis"]()
    return redis.lock(f"hubwerk:lock:company:{portal.id}:{company_id}", timeout=COMPANY_LOCK_S, blocking_timeout=COMPANY_LOCK_S)
