from __future__ import annotations

import os

from rq import Worker


class HubwerkWorker(Worker):
    """RQ's forking worker, with a clean database pool in every work horse.

    Tuned for recovery: a lost Redis is retried every few seconds at most (RQ's default backs off
    to a minute), and maintenance — restarting the scheduler that moves due scheduled jobs (retries,
    busy runs) to their queues, taking it over from a dead worker, cleaning registries of jobs whose
    worker died — runs every 30 s instead of every 10 min."""

    #: the worker process's pid, inherited by the work horses it forks (jobs can tell who runs them)
    main_pid: int | None = None
    max_connection_wait_time = 5.0
    MAINTENANCE_INTERVAL_S = 30

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", self.MAINTENANCE_INTERVAL_S)
        super().__init__(*args, **kwargs)
        HubwerkWorker.main_pid = os.getpid()

    def main_work_horse(self, job, queue):
        from backend.extensions import db

        # The work horse is a fork of this process; pooled connections must not be shared.
        db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)
