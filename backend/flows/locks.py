"""Locks across processes (Redis leases, renewed while their holder lives) on the objects flows
must never handle twice at once."""
from __future__ import annotations

from contextlib import contextmanager

from flask import current_app

from backend.jobs.leases import Lease, LockBusy

COMPANY_LOCK_WAIT_S = 5.0  # longer than that, the run gives its worker back and comes again


@contextmanager
def company_lock(portal, company_id: str, wait_s: float = COMPANY_LOCK_WAIT_S):
    """One import or link of a company at a time: no second worker gets past it while the first is
    still finding or creating the billwerk customer. The lease outlives any billwerk call with its
    retries because the holder renews it; it is gone within a minute of the holder's death."""
    redis = current_app.extensions["hubwerk.redis"]()
    lease = Lease(redis, f"hubwerk:lock:company:{portal.id}:{company_id}", owner="company")
    if not lease.acquire(wait_s=wait_s):
        raise LockBusy(f"Company {company_id} is being imported or linked by another run right now; this run will come again.")
    try:
        yield lease
    finally:
        lease.release()
