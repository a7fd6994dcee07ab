from __future__ import annotations

import os

from rq import Worker


class HubwerkWorker(Worker):
    """RQ's forking worker, with a clean database pool in every work horse."""

    #: the worker process's pid, inherited by the work horses it forks (jobs can tell who runs them)
    main_pid: int | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        HubwerkWorker.main_pid = os.getpid()

    def main_work_horse(self, job, queue):
        from backend.extensions import db

        # The work horse is a fork of this process; pooled connections must not be shared.
        db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)
