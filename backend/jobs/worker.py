from __future__ import annotations

from rq import Worker


class HubwerkWorker(Worker):
    """RQ's forking worker, with a clean database pool in every work horse."""

    def main_work_horse(self, job, queue):
        from backend.extensions import db

        # The work horse is a fork of this process; pooled connections must not be shared.
        db.engine.dispose(close=False)
        return super().main_work_horse(job, queue)
