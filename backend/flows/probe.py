"""``worker_probe``: proves the whole path web -> database -> Redis -> worker -> database."""
from __future__ import annotations

import os

from rq import get_current_job

from backend.jobs.worker import HubwerkWorker
from backend.models import SyncRun


def worker_probe(run: SyncRun) -> dict:
    """Idempotent: it only reports which worker ran it.

    The worker's own pid, not its work horse's: the horse is forked per job and gone by the time
    an operator reads the answer.
    """
    job = get_current_job()
    return {"pid": HubwerkWorker.main_pid or os.getpid(), "worker_name": job.worker_name if job else None}
