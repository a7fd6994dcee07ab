"""``worker_probe``: proves the whole path web -> database -> Redis -> worker -> database."""
from __future__ import annotations

import os

from backend.models import SyncRun


def worker_probe(run: SyncRun) -> dict:
    """Idempotent: it only reports which process ran it."""
    return {"pid": os.getpid()}
